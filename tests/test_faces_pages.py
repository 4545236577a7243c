"""The Faces page under Streamlit's AppTest (detection and embedding as jobs, with their outcome)
and an image's faces in Review's detail view."""

from __future__ import annotations

import json

import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from curation import synth
from curation.ingest import ingest
from curation.store import init_project
from curation.ui.face_boxes import BOX_COLOUR, with_faces
from curation.verify import load_rgb
from apptest import app, assert_clean, cached



def wait_for(root: Path, kind: str, timeout: float = 120):
    store = cached(root)
    deadline = time.monotonic() + timeout
    while store.jobs(kind)[0].active and time.monotonic() < deadline:
        time.sleep(0.2)
    return store.jobs(kind)[0]


def project_of(folder: Path, root: Path, monkeypatch) -> Path:
    store = init_project(root)
    ingest(store, [folder], workers=1)
    store.close()
    monkeypatch.setenv("CURATION_PROJECT", str(root))
    return root


def shapes(folder: Path) -> Path:
    folder.mkdir()
    for n, shape in enumerate(synth.SHAPES[:2]):
        synth.class_image(shape, n).save(folder / f"{shape}.jpg", "JPEG", quality=90)
    return folder


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def review_caption(at: AppTest, image_id: int) -> str:
    at.session_state["detail"] = image_id
    at.run()
    assert_clean(at)
    return " ".join(c.value for c in at.caption)


def test_faces_page_finds_no_face_in_shapes(tmp_path, monkeypatch):
    root = project_of(shapes(tmp_path / "in"), tmp_path / "project", monkeypatch)
    at = app("app_pages/faces.py")
    assert_clean(at)
    assert metrics(at)["Images searched, of 2"] == "0"
    assert at.button(key="compute-embeddings").disabled
    at.button(key="detect-faces").click().run()
    job = wait_for(root, "detect")
    assert (job.status, job.error, job.done, job.total) == ("done", None, 2, 2)
    at.run()
    assert_clean(at)
    assert any("2 images searched, 0 faces found, 2 with no face" in s.value for s in at.success)
    assert metrics(at)["No face"] == "2" and metrics(at)["Faces"] == "0"
    assert "detect faces first" in at.info[0].value
    review = app("app_pages/review.py")
    first = json.loads(review.get("bidi_component")[0].proto.json)["tiles"][0]["id"]
    assert "No face" in review_caption(review, first)


def test_faces_page_detects_embeds_and_review_draws_boxes(shared_data, tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(shared_data / "lfw10" / "Tony_Blair" / "Tony_Blair_0001.jpg", folder)
    root = project_of(folder, tmp_path / "project", monkeypatch)
    at = app("app_pages/faces.py")
    at.selectbox(key="detect-device").set_value("cpu")
    at.button(key="detect-faces").click().run()
    assert wait_for(root, "detect").status == "done"
    at.run()
    assert not at.button(key="compute-embeddings").disabled
    at.button(key="compute-embeddings").click().run()
    job = wait_for(root, "embed")
    assert (job.status, job.error, job.params["model"]) == ("done", None, "dlib-resnet34")
    at.run()
    assert_clean(at)
    faces = int(metrics(at)["Faces"])
    assert faces >= 1 and any(f"{faces} faces embedded" in s.value for s in at.success)
    assert at.dataframe[0].value.to_dict("records") == [{"model": "dlib-resnet34", "vectors": faces}]
    caption = review_caption(app("app_pages/review.py"), 1)
    assert f"**{faces} face" in caption and "#0 (p " in caption
    store = cached(root)
    image = store.image(1)
    drawn, _ = with_faces(store, image, load_rgb(store.project.original_path(image["sha256"], image["ext"])))
    x1, y1, x2, y2 = store.query("SELECT x1, y1, x2, y2 FROM faces WHERE image_id = 1 AND face = 0")[0]
    assert drawn.getpixel((round(x1), round((y1 + y2) / 2))) == BOX_COLOUR


@pytest.mark.parametrize("page", ["app_pages/faces.py"])
def test_faces_page_without_a_project_points_home(page, monkeypatch):
    monkeypatch.delenv("CURATION_PROJECT", raising=False)
    assert "No project is open" in app(page).info[0].value
