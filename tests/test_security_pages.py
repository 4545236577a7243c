"""Pages under attack (issue 12, items 4, 5 and 7): labels stay text, downloads follow the export
role and travel inside the session in team mode, and a failure is one sentence."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import zipfile

import pytest
from apptest import app
from test_team_pages import PASSWORD, on_page, sign_in

from curation.store import open_store

HOSTILE = "![px](http:evil.example) <img src=http:evil.example>"


@pytest.fixture
def team(project_copy, monkeypatch):
    monkeypatch.setenv("CURATION_PROJECT", str(project_copy))
    store = open_store(project_copy)
    for name, role in (("adm", "admin"), ("rev", "reviewer"), ("ann", "annotator")):
        store.add_user(name, role, PASSWORD, "setup")
    store.define_attribute("pose", ["front", "=cmd|' -C calc'!A0"], "setup")
    circles = [r[0] for r in store.query("SELECT id FROM images WHERE status = 'ok' AND label = 'circle' LIMIT 5")]
    store.tag_images(circles, "pose", "=cmd|' -C calc'!A0", "setup")
    store.set_team_mode(True, "setup")
    store.close()
    return project_copy


def signed_in_on(page: str, name: str):
    return sign_in(on_page(page), name, PASSWORD).switch_page(page).run()


def frames(at) -> list[str]:
    return [node.proto.srcdoc for node in at.get("iframe")]


@pytest.mark.parametrize("page", ["app_pages/failed_files.py", "app_pages/audit.py"])
def test_an_annotator_gets_no_download(team, page):
    at = signed_in_on(page, "ann")
    assert not at.exception
    assert not at.get("download_button") and not [b for b in at.button if b.label.startswith("Prepare")]
    assert any("may not export the dataset" in c.value for c in at.caption)


def test_a_reviewers_download_travels_inside_the_session(team):
    at = signed_in_on("app_pages/failed_files.py", "rev")
    assert not at.exception and not at.get("download_button"), "no /media/ URL in team mode"
    assert not frames(at)
    next(b for b in at.button if b.label == "Prepare download as CSV").click().run()
    (frame,) = frames(at)
    assert "/media/" not in frame
    payload = re.search(r'atob\("([A-Za-z0-9+/=]+)"\)', frame).group(1)
    assert base64.b64decode(payload).decode().startswith('"source","problem"')


def test_single_user_mode_keeps_the_download_button(project_copy, monkeypatch):
    monkeypatch.setenv("CURATION_PROJECT", str(project_copy))
    at = app("app_pages/failed_files.py")
    assert not at.exception and len(at.get("download_button")) == 1


def test_the_audit_zip_arrives_inside_the_session_without_formulas(team):
    at = signed_in_on("app_pages/audit.py", "rev")
    assert not at.exception and not at.get("download_button")
    next(b for b in at.button if b.label == "Prepare tables (CSV, zip)").click().run()
    zipped = next(f for f in frames(at) if "audit-tables.zip" in f)
    payload = re.search(r'atob\("([A-Za-z0-9+/=]+)"\)', zipped).group(1)
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(payload))) as archive:
        texts = [archive.read(name).decode() for name in archive.namelist()]
    assert any("=cmd" in text for text in texts)
    cells = [cell for text in texts for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


def live_markup(text: str) -> bool:
    """Whether markdown source holds an image or a tag that is not escaped."""
    return bool(re.search(r"(?<!\\)!(?<!\\)\[|(?<!\\)<[a-z]", text))


def grid_data(at) -> dict:
    return json.loads(at.get("bidi_component")[0].proto.json)


def test_a_hostile_label_stays_text_in_messages_buttons_and_headings(project_copy, monkeypatch):
    monkeypatch.setenv("CURATION_PROJECT", str(project_copy))
    store = open_store(project_copy)
    store.set_label([int(store.query("SELECT max(id) FROM images WHERE status = 'ok'")[0][0])], HOSTILE, "setup")
    store.close()
    at = app("app_pages/review.py")
    data = grid_data(at)
    assert HOSTILE in data["labels"], "the grid draws labels as text (textContent), never as markup"
    first = data["tiles"][0]["id"]
    at.session_state["detail"] = first
    at.run()
    hostile_key = next(b.key for b in at.button if b.key and b.key.startswith("quick-") and "px" in b.label)
    at.toggle(key="detail-stay").set_value(True)
    at.button(key=hostile_key).click().run()
    assert not at.exception and len(at.success) == 1
    message = at.success[0].value
    assert not live_markup(message) and "\\!\\[px\\]" in message and "\\<img" in message
    shown = [b.label for b in at.button if b.key and b.key.startswith("quick-")] + [m.value for m in at.markdown]
    assert any("px" in text for text in shown)
    assert not [text for text in shown if live_markup(text)]


def test_a_page_failure_is_one_sentence_without_the_traceback(project_copy, monkeypatch, caplog):
    from curation.store import Store

    monkeypatch.setenv("CURATION_PROJECT", str(project_copy))

    def broken(self):
        raise RuntimeError(f"cannot read {project_copy}/secret.duckdb")

    monkeypatch.setattr(Store, "report", broken)
    at = on_page("app_pages/home.py", who="tester")
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("Something went wrong on this page") and error.value.count(".") == 1
    texts = [getattr(node, "value", "") for node in at.main if isinstance(getattr(node, "value", ""), str)]
    assert not [text for text in texts if "secret" in text or "Traceback" in text]
    assert any("secret.duckdb" in record.exc_text or "" for record in caplog.records if record.exc_text)


def _gallery_script():
    import os

    import numpy as np

    from curation.store import open_store
    from curation.ui.pictures import show_gallery, show_picture

    store = open_store(os.environ["GALLERY_PROJECT"])
    try:
        tile = np.zeros((8, 8, 3))
        show_gallery(store, [tile, tile], ["![px](http:evil.example)", "fine"])
        show_picture(store, tile, caption="<img src=http:evil.example>")
    finally:
        store.close()


def test_single_user_picture_captions_are_text(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from curation.store import init_project

    init_project(tmp_path / "p").close()
    monkeypatch.setenv("GALLERY_PROJECT", str(tmp_path / "p"))
    at = AppTest.from_function(_gallery_script).run()
    assert not at.exception
    captions = [i.caption for image in at.get("image") for i in image.proto.imgs]
    assert len(captions) == 3 and "fine" in captions
    assert not [c for c in captions if live_markup(c)]
