"""The Clusters page under AppTest: clean from the page, decide the next suggestion, all at once, undo."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from curation.store import open_store
from apptest import app, cached

PERSON = "George_W_Bush"
ESCAPED = PERSON.replace("_", "\\_")  # as Markdown shows it


@pytest.fixture
def noisy_root(lfw_project, tmp_path, monkeypatch):
    """lfw10 with four photos of Colin Powell relabelled as George W Bush; the app's project."""
    root = tmp_path / "project"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    powell = [i for i, in store.query("SELECT id FROM images WHERE label = 'Colin_Powell' ORDER BY id LIMIT 4")]
    store.set_label(powell, PERSON, "injector")
    store.close()
    monkeypatch.setenv("CURATION_PROJECT", str(root))
    yield root, powell
    from curation.ui.context import cached_store

    cached_store(str(root)).close()
    cached_store.clear()


def wait_for_job(root: Path, kind: str, timeout: float = 300) -> None:
    store = cached(root)
    deadline = time.monotonic() + timeout
    while store.jobs(kind)[0].active and time.monotonic() < deadline:
        time.sleep(0.2)
    assert store.jobs(kind)[0].status == "done", store.jobs(kind)[0].error


def label_of(root: Path, image_id: int) -> str:
    return cached(root).query("SELECT label FROM images WHERE id = ?", [image_id])[0][0]


def test_clean_then_accept_the_next_suggestion_then_undo(noisy_root):
    root, powell = noisy_root
    at = app("app_pages/clusters.py", "ada")
    assert not at.exception
    assert any("No identity has been cleaned yet" in i.value for i in at.info)
    at.button(key="clean-run").click().run()
    wait_for_job(root, "clean")
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key="clusters-identity").value == PERSON
    assert "relabel → Colin\\_Powell" in at.subheader[0].value
    at.button(key="accept-next").click().run()
    assert sum(label_of(root, i) == "Colin_Powell" for i in powell) == 1
    assert any("Accepted 1 suggestion" in s.value for s in at.success)
    at.button(key="undo-clusters").click().run()
    assert all(label_of(root, i) == PERSON for i in powell)


def test_accept_all_sends_every_impostor_home(noisy_root):
    root, powell = noisy_root
    at = app("app_pages/clusters.py", "ada")
    at.button(key="clean-run").click().run()
    wait_for_job(root, "clean")
    at.run()
    at.button(key="accept-all").click().run()
    assert [label_of(root, i) for i in powell] == ["Colin_Powell"] * 4
    assert any(f"Nothing left to decide for {ESCAPED}" in s.value for s in at.success)


@pytest.fixture
def ambiguous_root(lfw_project, tmp_path, monkeypatch):
    """lfw10 with every photo of Colin Powell filed under George W Bush: ten against ten."""
    root = tmp_path / "ambiguous"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    powell = [i for i, in store.query("SELECT id FROM images WHERE label = 'Colin_Powell' ORDER BY id")]
    bush = [i for i, in store.query("SELECT id FROM images WHERE label = ? ORDER BY id", [PERSON])]
    store.set_label(powell, PERSON, "injector")
    store.close()
    monkeypatch.setenv("CURATION_PROJECT", str(root))
    yield root, bush, powell
    from curation.ui.context import cached_store

    cached_store(str(root)).close()
    cached_store.clear()


def test_an_ambiguous_identity_asks_who_it_is_and_one_click_decides(ambiguous_root):
    root, bush, powell = ambiguous_root
    at = app("app_pages/clusters.py", "ada")
    at.button(key="clean-run").click().run()
    wait_for_job(root, "clean")
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key="clusters-identity").value == PERSON
    assert any(f"Which of these is {ESCAPED}?" in h.value for h in at.subheader)
    assert any("same person under 0.600 (calibrated on" in c.value for c in at.caption)
    readings = cached(root).identity_readings(PERSON)
    members = readings[readings["member"]].groupby("candidate")["image_id"].apply(set)
    bush_reading = next(int(c) for c, images in members.items() if images <= set(bush))
    at.button(key=f"reading-{bush_reading}").click().run()
    assert not at.exception and not at.error
    assert any("Chose reading" in s.value for s in at.success)
    assert not any("Which of these is" in h.value for h in at.subheader)
    assert any(f"not {ESCAPED}" in h.value for h in at.subheader)
    at.button(key="undo-clusters").click().run()
    assert any(f"Which of these is {ESCAPED}?" in h.value for h in at.subheader)
    assert all(label_of(root, i) == PERSON for i in powell)


def test_without_embeddings_the_page_says_where_to_go(project, monkeypatch):
    monkeypatch.setenv("CURATION_PROJECT", str(project.project.root))
    at = app("app_pages/clusters.py", "ada")
    assert not at.exception
    assert any("Faces page" in i.value for i in at.info)


def test_map_lays_out_in_a_job_and_a_selection_becomes_a_grid(noisy_root):
    root, powell = noisy_root
    at = app("app_pages/map.py", "ada")
    assert not at.exception
    assert any("No map of these 115 faces yet" in i.value for i in at.info)
    at.button(key="map-run").click().run()
    wait_for_job(root, "map")
    at.run()
    assert not at.exception and not at.error
    chart = at.get("plotly_chart")
    assert len(chart) == 1
    # A lasso as Streamlit reports it: trace 0 (the first label in order), its first three points.
    at.session_state["map-chart"] = {"selection": {"points": [
        {"curve_number": 0, "point_index": i} for i in range(3)], "point_indices": [0, 1, 2], "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    assert any("3 points selected" in h.value for h in at.subheader)
    assert at.button(key="apply-label") is not None


def test_decided_pictures_are_drawn_only_once_their_expander_is_open(noisy_root):
    root, powell = noisy_root
    at = app("app_pages/clusters.py", "ada")
    at.button(key="clean-run").click().run()
    wait_for_job(root, "clean")
    at.run()
    at.button(key="accept-all").click().run()
    assert any(e.label.startswith(f"Decided ({len(powell)}") for e in at.expander)
    closed = len(at.get("image"))
    at.session_state["clusters-decided"] = True
    at.run()
    assert not at.exception
    assert any(m.value.startswith("**Accepted**") for m in at.markdown)
    assert len(at.get("image")) > closed
