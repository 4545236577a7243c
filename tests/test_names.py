"""The name rule (issue 12, item 2): every label, attribute value, tag and user name is checked where
it is created, by one rule, and labels of older projects are renamed through events."""

from __future__ import annotations

import json
import unicodedata

import duckdb
import pytest

from curation import synth
from curation.gather.run import GatherError, GatherRequest, QuerySpec, check_request
from curation.ingest import ingest
from curation.names import NameRefused, check_name, is_usable, repair_name
from curation.store import AccountError, EditError, open_store, schema
from curation.store.db import utcnow

HOSTILE = {
    "../../../../tmp/x": "read as a path",
    "/tmp/y": "read as a path",
    "..\\..\\win": "read as a path",
    "..": "dots alone",
    ".": "dots alone",
    "nul\x00byte": "control characters",
    "line\nbreak": "control characters",
    "bell\x07": "control characters",
    "c1\x85c1": "control characters",
    "flip\u202etxt.exe": "override",
    "iso\u2066late": "override",
    "x" * 101: "too long",
    "   ": "cannot be empty",
}


@pytest.mark.parametrize("name, why", HOSTILE.items())
def test_check_name_refuses_each_hostile_name_with_a_sentence(name, why):
    with pytest.raises(NameRefused, match=why) as refused:
        check_name(name, "label")
    assert str(refused.value).startswith("The label ") and str(refused.value).endswith(".")


def test_check_name_normalises_to_nfc_and_strips():
    decomposed = unicodedata.normalize("NFD", " José ")
    assert check_name(decomposed) == "José" and check_name("=SUM(A1)") == "=SUM(A1)"
    assert check_name("a.b") == "a.b" and check_name("…") == "…"


@pytest.mark.parametrize("name", HOSTILE)
def test_repair_name_always_gives_a_usable_name(name):
    assert is_usable(repair_name(name))


def test_repair_keeps_what_it_can():
    assert repair_name("../../x") == ".._.._x" and repair_name("..") == "_.." and repair_name("a\x00b") == "ab"


@pytest.mark.parametrize("name", [n for n in HOSTILE if n.strip()])
def test_the_store_refuses_hostile_labels_attributes_and_tags(project, tmp_path, name):
    synth.class_image("circle", 0).save(tmp_path / "a.jpg", "JPEG")
    ingest(project, [tmp_path / "a.jpg"], workers=1)
    with pytest.raises(EditError):
        project.set_label([1], name, "ada")
    with pytest.raises(EditError):
        project.define_attribute(name, ["one"], "ada")
    with pytest.raises(EditError):
        project.define_attribute("pose", ["front", name], "ada")
    with pytest.raises(EditError):
        project.set_label([1], "fine", name)
    assert project.query("SELECT count(*) FROM labels")[0][0] == 0
    assert project.query("SELECT count(*) FROM events")[0][0] == 0


@pytest.mark.parametrize("name", ["..", ".", "a\x00b", "rtl\u202e"])
def test_the_store_refuses_hostile_user_names(project, name):
    with pytest.raises(AccountError):
        project.add_user(name, "admin", "long enough password", "cli")


def test_a_gather_label_must_be_a_usable_name(monkeypatch):
    request = GatherRequest("openverse", (QuerySpec("../etc", "cats"),), 5)
    with pytest.raises(GatherError, match="path"):
        check_request(request)


def test_folder_labels_at_ingest_are_made_usable(project, tmp_path):
    folder = tmp_path / "src" / "bad\u202efolder\x07"
    folder.mkdir(parents=True)
    synth.class_image("circle", 0).save(folder / "a.jpg", "JPEG")
    ingest(project, [tmp_path / "src"], labels_from_folders=True, workers=1)
    assert project.query("SELECT label FROM images") == [("badfolder",)]
    assert project.query("SELECT name FROM labels") == [("badfolder",)]


def old_project(root) -> None:
    """A project as written before the name rule, holding labels the rule now refuses."""
    position = [name for name, _ in schema.MIGRATIONS].index("rename labels that break the name rule")
    root.mkdir()
    con = duckdb.connect(str(root / "project.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                "applied_at TIMESTAMP NOT NULL)")
    for number, (name, step) in enumerate(schema.MIGRATIONS[:position], start=1):
        schema.run_migration(con, step, utcnow())
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [number, name])
    for image_id, label in ((1, "../../x"), (2, "ok\x00"), (3, "ok"), (4, None)):
        con.execute("INSERT INTO images (id, sha256, status, label, added_at) VALUES (?, ?, 'ok', ?, now())",
                    [image_id, f"{image_id:064d}", label])
    con.execute("INSERT INTO labels VALUES ('../../x', now()), ('ok\x00', now()), ('ok', now()), ('..', now())")
    con.close()


def test_the_migration_renames_bad_labels_through_events(tmp_path):
    old_project(tmp_path / "old")
    store = open_store(tmp_path / "old")
    try:
        assert sorted(store.query("SELECT id, label FROM images WHERE label IS NOT NULL")) == [
            (1, ".._.._x"), (2, "ok (2)"), (3, "ok")]
        assert sorted(r[0] for r in store.query("SELECT name FROM labels")) == sorted(["_..", ".._.._x", "ok", "ok (2)"])
        renames = store.query("SELECT actor, image_id, before, after FROM events WHERE action = 'rename_label' "
                              "ORDER BY id")
        assert sorted((a, i, json.loads(b)["label"], json.loads(c)["label"]) for a, i, b, c in renames) == [
            ("name-rule", None, "..", "_.."), ("name-rule", None, "../../x", ".._.._x"),
            ("name-rule", None, "ok\x00", "ok (2)")]
        moved = store.query("SELECT image_id, after FROM events WHERE action = 'label' ORDER BY image_id")
        assert [(i, json.loads(a)["label"]) for i, a in moved] == [(1, ".._.._x"), (2, "ok (2)")]
        assert "rename_label" in set(store.recent_events(10)["action"])
    finally:
        store.close()


def test_home_tells_the_team_which_labels_were_renamed(tmp_path, monkeypatch):
    from apptest import app

    old_project(tmp_path / "old")
    open_store(tmp_path / "old").close()
    monkeypatch.setenv("CURATION_PROJECT", str(tmp_path / "old"))
    at = app("app_pages/home.py")
    assert not at.exception
    (warning,) = [w.value for w in at.warning if "renamed" in w.value]
    assert "is now" in warning and ".._.._x" in warning.replace("\\", "") and "ok (2)" in warning.replace("\\", "")
    assert "\x00" not in warning and "ok\\\\u0000" in warning
