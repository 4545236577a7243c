"""Quality checks: each check on constructed pictures, the job on a project with planted defects,
the outlier check on lfw10 with a misfiled photo, and the Quality page."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from apptest import app, assert_clean, cached
from curation.flags import FLAG_KINDS
from curation.ingest import ingest
from curation.quality import CHECKS
from curation.quality.outliers import label_outlier_scores
from curation.quality.run import check_project
from curation.store import open_store

RNG = np.random.default_rng(0)


def photo_like(side: int = 160) -> np.ndarray:
    """Smooth colour gradients with texture: sharp, well exposed, rich in grey levels."""
    y, x = np.mgrid[0:side, 0:side] / side
    noise = RNG.integers(0, 60, (side, side, 1))
    base = np.stack([x * 180, y * 180, (1 - x) * 150], axis=2) + noise + 30
    return base.clip(0, 255).astype(np.uint8)


def as_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def suspect(name: str, rgb: np.ndarray) -> bool:
    check = CHECKS[name]
    return bool(check.suspects(pd.Series([check.score(rgb)])).iloc[0])


def test_every_check_has_a_registered_flag_kind():
    assert {"blurry", "dark", "bright", "low_information", "greyscale", "odd_aspect_ratio", "odd_size",
            "outlier"} <= set(CHECKS)
    assert all(check.flag_kind in FLAG_KINDS for check in CHECKS.values())


@pytest.mark.parametrize("name, degrade", [
    ("blurry", lambda im: im.filter(ImageFilter.GaussianBlur(4))),
    ("dark", lambda im: ImageEnhance.Brightness(im).enhance(0.3)),
    ("bright", lambda im: Image.blend(im, Image.new("RGB", im.size, "white"), 0.7)),
    ("low_information", lambda im: ImageEnhance.Contrast(im).enhance(0.05)),
])
def test_pixel_check_tells_a_degraded_picture_from_a_good_one(name, degrade):
    good = Image.fromarray(photo_like())
    assert not suspect(name, as_array(good))
    assert suspect(name, as_array(degrade(good)))


def test_greyscale_is_suspect_only_in_a_colour_set():
    check = CHECKS["greyscale"]
    colour, grey = check.score(photo_like()), check.score(as_array(Image.fromarray(photo_like()).convert("L")))
    assert check.suspects(pd.Series([colour] * 9 + [grey])).tolist() == [False] * 9 + [True]
    assert not check.suspects(pd.Series([grey] * 9 + [colour])).any()


def test_size_checks_compare_with_the_set():
    width, height = pd.Series([200] * 9 + [600, 200]), pd.Series([200] * 9 + [200, 20])
    assert CHECKS["odd_aspect_ratio"].suspects(CHECKS["odd_aspect_ratio"].scores(width, height)).tolist() == \
        [False] * 9 + [True, True]
    assert CHECKS["odd_size"].suspects(CHECKS["odd_size"].scores(width, height)).tolist() == [False] * 10 + [True]
    same = CHECKS["odd_aspect_ratio"].scores(pd.Series([300] * 5), pd.Series([100] * 5))
    assert not CHECKS["odd_aspect_ratio"].suspects(same).any(), "a set of wide images makes wide images normal"


def test_outlier_score_finds_the_stranger_of_each_label():
    centres = {"a": np.zeros(8), "b": np.full(8, 5.0)}
    units, vectors = [], []
    for label, centre in centres.items():
        for i in range(8):
            units.append((len(units), label))
            vectors.append(centre + RNG.normal(0, 0.3, 8))
    units.append((len(units), "a"))
    vectors.append(centres["b"] + RNG.normal(0, 0.3, 8))
    frame = pd.DataFrame(units, columns=["image_id", "label"])
    scores = label_outlier_scores(frame, np.array(vectors, dtype=np.float32))
    assert CHECKS["outlier"].suspects(scores).loc[lambda s: s].index.tolist() == [16]
    small = label_outlier_scores(frame.iloc[:3], np.array(vectors[:3], dtype=np.float32))
    assert small.empty, "a label of three images is too small to say what is typical"


@pytest.fixture
def degraded_project(project_copy, tmp_path):
    """The sample project with blurred, darkened and strip-cropped copies of photo-like pictures added."""
    folder = tmp_path / "degraded" / "circle"
    folder.mkdir(parents=True)
    good = Image.fromarray(photo_like(200))
    good.save(folder / "good.jpg", quality=95)
    good.filter(ImageFilter.GaussianBlur(4)).save(folder / "blurred.jpg", quality=95)
    ImageEnhance.Brightness(good).enhance(0.3).save(folder / "dark.jpg", quality=95)
    good.crop((0, 0, 200, 50)).save(folder / "strip.jpg", quality=95)
    store = open_store(project_copy)
    ingest(store, [folder.parent], labels_from_folders=True, workers=1)
    ids = dict(store.query("SELECT regexp_extract(s.source, '([a-z]+)\\.jpg$', 1), s.image_id FROM sources s "
                           "WHERE s.source LIKE '%degraded%'"))
    yield store, ids
    store.close()


def test_quality_job_suggests_the_degraded_pictures_and_flags_nothing(degraded_project):
    store, ids = degraded_project
    summary = check_project(store)
    assert summary.images == store.query("SELECT count(*) FROM images WHERE status = 'ok'")[0][0]
    suspects = {check: set(store.quality_suspects(check, CHECKS[check].flag_kind, CHECKS[check].direction)["image_id"])
                for check in CHECKS}
    assert ids["blurred"] in suspects["blurry"] and ids["good"] not in suspects["blurry"]
    assert ids["dark"] in suspects["dark"] and ids["good"] not in suspects["dark"]
    assert ids["strip"] in suspects["odd_aspect_ratio"]
    assert "outlier" not in set(store.quality_overview()["check"]), "no embeddings, no outlier scores"
    assert store.query("SELECT count(*) FROM flags WHERE kind IN (SELECT unnest(?))",
                       [[c.flag_kind for c in CHECKS.values()]])[0][0] == 0


def test_outlier_check_finds_a_misfiled_lfw_photo(lfw_project, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    try:
        powell = store.query("SELECT id FROM images WHERE label = 'Colin_Powell' ORDER BY id LIMIT 1")[0][0]
        store.set_label([powell], "George_W_Bush", "injector")
        check_project(store)
        outliers = store.quality_suspects("outlier", "outlier", "above")
        assert powell in set(outliers["image_id"])
        assert len(outliers) <= 3, outliers
    finally:
        store.close()


def test_quality_page_runs_the_job_and_flags_the_suggested(degraded_project, monkeypatch):
    store, ids = degraded_project
    root = store.project.root
    store.close()
    monkeypatch.setenv("CURATION_PROJECT", str(root))
    try:
        at = app("app_pages/quality.py")
        assert_clean(at)
        at.button(key="quality-run").click().run()
        shared = cached(root)
        job = shared.jobs("quality")[0]
        while shared.job(job.id).active:
            time.sleep(0.2)
        at.run()
        assert_clean(at)
        assert any("Blurry" in s.value for s in at.subheader)
        at.button(key="quality-flag-blurry").click().run()
        assert_clean(at)
        flagged = {i for i, in shared.query("SELECT image_id FROM flags WHERE kind = 'blurry' AND active")}
        assert ids["blurred"] in flagged
        assert shared.query("SELECT count(*) FROM events WHERE action = 'flag' AND actor = 'tester'")[0][0] == len(flagged)
    finally:
        from curation.ui.context import cached_store

        cached_store(str(root)).close()
        cached_store.clear()
