"""Missing, unreadable and altered project files: every page draws a placeholder and goes on."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from PIL import Image

from apptest import app, assert_clean, cached
from curation.store import ReviewFilter
from curation.files import Unreadable, file_problem, load_original, read_bytes
from curation.ui.pictures import data_uri, displayable, file_bytes, picture_image
from curation.ui.review import GRID_HANDLERS
from test_pages import grid_data, grid_ids


@pytest.fixture
def project(project_copy, monkeypatch) -> Path:
    monkeypatch.setenv("CURATION_PROJECT", str(project_copy))
    return project_copy


def image_row(root: Path, image_id: int) -> tuple[str, str]:
    return tuple(cached(root).query("SELECT sha256, ext FROM images WHERE id = ?", [image_id])[0])


def test_read_bytes_names_what_is_wrong(tmp_path):
    good = tmp_path / "ab.jpg"
    Image.new("RGB", (8, 8)).save(good)
    sha = hashlib.sha256(good.read_bytes()).hexdigest()
    assert read_bytes(good, sha) == good.read_bytes()
    assert read_bytes(tmp_path / "gone.jpg").problem == "missing"
    assert read_bytes(good, "0" * 64).problem == "altered"
    assert file_problem(good, sha) is None and file_problem(good, "0" * 64).problem == "altered"
    assert load_original(tmp_path / "gone.jpg", sha).sentence("original") == "The original gone.jpg is missing."
    (tmp_path / "junk.jpg").write_bytes(b"not a picture")
    assert file_bytes(tmp_path / "junk.jpg").problem == "undecodable"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_unreadable(tmp_path):
    path = tmp_path / "locked.jpg"
    path.write_bytes(b"x")
    path.chmod(0)
    assert read_bytes(path).problem == "unreadable"


def test_every_way_of_drawing_a_bad_path_gives_a_placeholder(tmp_path):
    gone = tmp_path / "thumbs" / "ab" / "abcdef.jpg"
    assert isinstance(displayable(gone), Image.Image)
    assert data_uri(gone).startswith("data:image/jpeg;base64,")
    assert picture_image(gone, 72).size == (72, 72)
    assert isinstance(file_bytes(gone), Unreadable)


def test_review_grid_with_missing_and_corrupt_thumbnails(project):
    at = app("app_pages/review.py")
    first, second, third = grid_ids(at)[:3]
    cached(project).project.thumb_path(image_row(project, first)[0]).unlink()
    cached(project).project.thumb_path(image_row(project, second)[0]).write_bytes(b"\x00" * 100)
    at = app("app_pages/review.py")
    assert_clean(at)
    tiles = {t["id"]: t for t in grid_data(at)["tiles"]}
    assert tiles[first]["missing"] == "Thumbnail missing" and "src" not in tiles[first]
    assert tiles[second]["missing"].startswith("Thumbnail ") and "src" not in tiles[second]
    assert "src" in tiles[third] and "missing" not in tiles[third]
    label = {"kind": "label", "seq": 1, "ids": [first], "label": "star"}
    assert GRID_HANDLERS["label"](cached(project), "tester", label) == ("Labelled 1 image 'star'.", True)


@pytest.mark.parametrize("damage", ["delete", "alter"])
def test_review_detail_with_a_bad_original_says_so_and_still_labels(project, damage):
    at = app("app_pages/review.py")
    first = grid_ids(at)[0]
    sha, ext = image_row(project, first)
    original = cached(project).project.original_path(sha, ext)
    if damage == "delete":
        original.unlink()
    else:
        original.write_bytes(original.read_bytes()[:-10] + b"0123456789")
    at.session_state["detail"] = first
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    word = "missing" if damage == "delete" else "altered"
    assert any(f"is {word}" in w.value for w in at.warning)
    at.button(key="quick-2").click().run()
    assert any(f"Labelled #{first}" in s.value for s in at.success)


def test_train_preview_with_missing_originals(project):
    store = cached(project)
    rows, _ = store.training_rows()
    for sha, ext in zip(rows["sha256"], rows["ext"]):
        store.project.original_path(sha, ext).unlink(missing_ok=True)
    at = app("app_pages/train.py")
    assert_clean(at)
    assert at.metric[0].label == "Images to train on"
    at.session_state["train-preview"] = True
    at.run()
    assert_clean(at)
    captions = [img.caption for element in at.get("image") for img in element.proto.imgs]
    assert captions and all("original missing" in c for c in captions)


def test_team_mode_draws_placeholders_inline(project):
    store = cached(project)
    items = store.page_images(ReviewFilter(), 0, 5)
    store.project.thumb_path(items[0].sha256).unlink()
    html_uri = data_uri(store.project.thumb_path(items[0].sha256))
    assert html_uri.startswith("data:image/jpeg;base64,") and len(html_uri) > 1000


def test_chip_galleries_and_map_thumbnails_take_missing_files(project):
    """Clusters draws chips with show_gallery / show_picture, Map its hover thumbnails from paths."""
    from curation.ui.map import hover_thumbnails
    from curation.ui.pictures import show_gallery, show_picture

    store = cached(project)
    item = store.page_images(ReviewFilter(), 0, 1)[0]
    good = store.project.thumb_path(item.sha256)
    gone = store.project.root / "faces" / "ab" / "gone-0.jpg"
    show_gallery(store, [str(gone), str(good)], ["gone", "good"], 96)
    show_picture(store, str(gone), width=160)
    uris = hover_thumbnails((str(gone), str(good)))
    assert len(uris) == 2 and all(u.startswith("data:image/jpeg;base64,") for u in uris)
