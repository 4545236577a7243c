"""Production on the pages: Home's loop section and Review's "From production" filter, on the
sample project with feedback brought in by `curation ingest DIR FEEDBACK --feedback`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from apptest import app, assert_clean
from curation import synth
from curation.deploy.feedback import FeedbackLog
from curation.deploy.intake import ingest_feedback_folder
from curation.store import ReviewFilter, open_store


def logged_feedback(folder: Path) -> int:
    """A feedback folder as the service writes it: three logged inputs out of five requests."""
    log = FeedbackLog(folder, "bundle", 7, "fp32")
    for i in range(5):
        buf = io.BytesIO()
        synth.photo_like(i, (96, 96), seed=3).save(buf, "JPEG")
        answer = {"label": "circle", "confidence": 0.3 + 0.1 * i, "top": [], "ood": i < 2, "ood_score": 1.0 + i}
        log.record(buf.getvalue(), answer, "ood" if i < 2 else "low_confidence" if i == 2 else None)
    return 3


@pytest.fixture
def project(project_copy, monkeypatch, tmp_path) -> Path:
    logged = logged_feedback(tmp_path / "feedback")
    store = open_store(project_copy)
    _, new = ingest_feedback_folder(store, tmp_path / "feedback", workers=1)
    assert new == logged
    assert store.count_images(ReviewFilter(production=True)) == logged
    store.close()
    monkeypatch.setenv("CURATION_PROJECT", str(project_copy))
    return project_copy


def test_home_shows_the_loop_back_from_production(project):
    at = app("app_pages/home.py")
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Deployed run"] == "#7" and metrics["Logged by production"] == "3"
    assert metrics["Waiting for a label"] == "3"
    assert any("From production" in c.value for c in at.caption)


def test_review_filters_what_production_sent_back(project):
    at = app("app_pages/review.py")
    at.checkbox(key="f_production").check().run()
    assert_clean(at)
    assert any(c.value == "3 images match the filters" for c in at.caption)


def test_ingesting_the_same_feedback_twice_adds_nothing(project, tmp_path):
    store = open_store(project)
    try:
        summary, new = ingest_feedback_folder(store, tmp_path / "feedback", workers=1)
        assert new == 0 and summary.new_images == 0
        assert store.production_loop()["traffic"]["requests"].sum() == 5
    finally:
        store.close()
