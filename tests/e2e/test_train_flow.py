"""Train from the page, wait for the run, click a confusion-matrix cell, relabel an image from it."""

from __future__ import annotations

import pytest

from curation.store import open_store

from .harness import screenshot, served, wait_for_app

pytestmark = pytest.mark.e2e


def start_training(page, url: str) -> None:
    page.goto(f"{url}/train?who=e2e-lead")
    wait_for_app(page)
    page.locator(".st-key-train-epochs input").fill("2")
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Train #1 finished").wait_for(timeout=240_000)
    wait_for_app(page)
    screenshot(page, "train")


def click_cell(page, row: int, col: int, n: int) -> None:
    """Click the centre of a heatmap cell (row = true label, col = predicted) of an n x n matrix."""
    chart = page.locator(".st-key-eval-matrix .nsewdrag").first
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    box = chart.bounding_box()
    page.mouse.click(box["x"] + (col + 0.5) * box["width"] / n, box["y"] + (row + 0.5) * box["height"] / n)
    wait_for_app(page)


def first_image_of_a_circle_cell(page):
    """Click the cells of the true-circle row until one shows images (a short run predicts few classes)."""
    labels = ["circle", "square", "star", "triangle"]
    for col, predicted in enumerate(labels):
        click_cell(page, 0, col, 4)
        page.get_by_role("heading", name=f"True circle, predicted {predicted}").wait_for()
        cells = page.locator("[class*='st-key-sel-']")
        if cells.count():
            return cells.first
    raise AssertionError("no cell of the circle row shows an image")


def test_train_click_a_cell_and_relabel_from_it(project_copy, page, tmp_path):
    with served(project_copy, tmp_path / "serve.log") as url:
        start_training(page, url)
        page.goto(f"{url}/evaluate?who=e2e-lead")
        wait_for_app(page)
        page.locator(".st-key-eval-split button", has_text="All").click()
        wait_for_app(page)
        screenshot(page, "evaluate")
        first = first_image_of_a_circle_cell(page)
        image_id = int(first.get_attribute("class").split("st-key-sel-")[1].split()[0])
        first.locator("label").click()
        wait_for_app(page)
        page.locator(".st-key-bulk-label input").fill("oval")
        page.keyboard.press("Enter")
        wait_for_app(page)
        page.locator(".st-key-apply-label button").click()
        wait_for_app(page)
        assert page.get_by_text("Labelled 1 image 'oval'.").is_visible()
        screenshot(page, "evaluate-cell")
    store = open_store(project_copy)
    label = store.query("SELECT label FROM images WHERE id = ?", [image_id])[0][0]
    events = store.query("SELECT actor, action FROM events")
    runs = store.runs()
    store.close()
    assert label == "oval" and events == [("e2e-lead", "label")]
    assert [(r["status"], r["params"]["epochs"]) for r in runs] == [("done", 2)]
