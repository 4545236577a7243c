"""Cleaning in a real browser: run the cleaning, accept a suggestion, undo it with the keyboard."""

from __future__ import annotations

import re
import shutil

import pytest

from curation.store import open_store

from .harness import screenshot, served, wait_for_app

pytestmark = pytest.mark.e2e
PERSON = "George_W_Bush"


@pytest.fixture
def noisy_lfw(lfw_project, tmp_path):
    """lfw10 with three photos of Tony Blair relabelled as George W Bush; and their ids."""
    root = tmp_path / "project"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    blair = [i for i, in store.query("SELECT id FROM images WHERE label = 'Tony_Blair' ORDER BY id LIMIT 3")]
    store.set_label(blair, PERSON, "injector")
    store.close()
    return root, blair


def labels_of(root, ids) -> list[str]:
    store = open_store(root)
    try:
        return [store.query("SELECT label FROM images WHERE id = ?", [i])[0][0] for i in ids]
    finally:
        store.close()


def open_heading(page, n: int):
    return page.get_by_text(f"Suggested for removal or relabelling ({n})")


def test_accept_a_suggestion_and_undo_it(noisy_lfw, page, tmp_path):
    root, blair = noisy_lfw
    with served(root, tmp_path / "serve.log") as url:
        page.goto(f"{url}/clusters?who=e2e-reviewer")
        wait_for_app(page)
        page.locator(".st-key-clean-run button").click()
        page.get_by_text("finished").first.wait_for(timeout=120_000)
        wait_for_app(page)
        assert page.get_by_text("relabel → Tony_Blair").first.is_visible()
        screenshot(page, "clusters-suggestions")
        page.locator(".st-key-accept-next button").click()
        page.get_by_text("Accepted 1 suggestion.").wait_for()
        wait_for_app(page)
        assert open_heading(page, 2).is_visible()
        page.locator("body").press("Control+z")
        page.get_by_text("Undid").first.wait_for()
        wait_for_app(page)
        assert open_heading(page, 3).is_visible()
        screenshot(page, "clusters-after-undo")
    assert labels_of(root, blair) == [PERSON] * 3
    store = open_store(root)
    actions = [a for a, in store.query("SELECT action FROM events WHERE actor = 'e2e-reviewer' ORDER BY id")]
    store.close()
    assert actions == ["suggestion", "label", "undo", "undo"]



@pytest.fixture
def ambiguous_lfw(lfw_project, tmp_path):
    """lfw10 with every photo of Colin Powell filed under George W Bush: ten against ten, and no
    Powell label left to say which is whom."""
    root = tmp_path / "ambiguous"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    powell = [i for i, in store.query("SELECT id FROM images WHERE label = 'Colin_Powell' ORDER BY id")]
    bush = [i for i, in store.query("SELECT id FROM images WHERE label = ? ORDER BY id", [PERSON])]
    store.set_label(powell, PERSON, "injector")
    store.close()
    return root, bush, powell


def reading_showing(page, images: list[int]) -> int:
    """The reading whose column shows only these images (captions "#id")."""
    for candidate in range(3):
        column = page.locator(f"[data-testid='stColumn']:has(.st-key-reading-{candidate})")
        if column.count():
            shown = {int(i) for i in re.findall(r"#(\d+)", column.inner_text())}
            if shown and shown <= set(images):
                return candidate
    raise AssertionError("no reading shows only these images")


def test_choose_who_an_ambiguous_identity_is_with_one_click(ambiguous_lfw, page, tmp_path):
    root, bush, powell = ambiguous_lfw
    with served(root, tmp_path / "serve.log") as url:
        page.goto(f"{url}/clusters?who=e2e-reviewer")
        wait_for_app(page)
        page.locator(".st-key-clean-run button").click()
        page.get_by_text("finished").first.wait_for(timeout=180_000)
        wait_for_app(page)
        page.get_by_text(f"Which of these is {PERSON}?").wait_for()
        page.locator(".st-key-identity-readings").scroll_into_view_if_needed()
        screenshot(page, "clusters-ambiguous-choice")
        choice = reading_showing(page, bush)
        page.locator(f".st-key-reading-{choice} button").click()
        page.get_by_text("Chose reading").first.wait_for()
        wait_for_app(page)
        assert page.get_by_text(f"not {PERSON}").first.is_visible()
        screenshot(page, "clusters-ambiguous-decided")
    store = open_store(root)
    opened = store.query("SELECT DISTINCT image_id FROM suggestions WHERE status = 'open' AND label = ?", [PERSON])
    actions = {a for a, in store.query("SELECT action FROM events WHERE actor = 'e2e-reviewer'")}
    store.close()
    assert {i for i, in opened} == set(powell)
    assert actions == {"suggestion"}


@pytest.fixture
def mapped_lfw(lfw_project, tmp_path):
    """lfw10 with its dlib-resnet34 map laid out (by the map job's own function)."""
    from curation.map_run import lay_out

    root = tmp_path / "mapped"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    lay_out(store, "dlib-resnet34")
    store.close()
    return root


def trace_pixels(page, name: str) -> list[tuple[float, float]]:
    """Screen positions of the points of the chart's trace called `name` (plotly's own axes maths)."""
    return page.evaluate(
        """(name) => {
          const chart = document.querySelector('.st-key-map-chart .js-plotly-plot');
          const box = chart.getBoundingClientRect(), layout = chart._fullLayout;
          const trace = chart._fullData.find(t => t.name === name);
          return Array.from(trace.x, (x, i) => [box.left + layout._size.l + layout.xaxis.l2p(x),
                                        box.top + layout._size.t + layout.yaxis.l2p(trace.y[i])]);
        }""", name)


def dense_core(points: list[tuple[float, float]], radius: float = 40) -> list[tuple[float, float]]:
    """The points within `radius` px of the trace's median: the person's own faces, not the
    bystanders in their photos, who sit elsewhere on the map."""
    mx = sorted(p[0] for p in points)[len(points) // 2]
    my = sorted(p[1] for p in points)[len(points) // 2]
    return [p for p in points if (p[0] - mx) ** 2 + (p[1] - my) ** 2 <= radius ** 2]


def lasso(page, points: list[tuple[float, float]], margin: float = 25) -> None:
    """Draw a lasso (an octagon) around the points, in small mouse steps as a hand would."""
    import math

    xs, ys = [p[0] for p in points], [p[1] for p in points]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    radius = max(max(xs) - min(xs), max(ys) - min(ys)) / 2 + margin
    corners = [(cx + radius * math.cos(a * math.pi / 4), cy + radius * math.sin(a * math.pi / 4)) for a in range(9)]
    page.mouse.move(*corners[0])
    page.mouse.down()
    for x, y in corners[1:]:
        page.mouse.move(x, y, steps=6)
    page.mouse.up()


def test_hover_shows_the_face_and_a_lasso_gives_a_grid_to_relabel(mapped_lfw, page, tmp_path):
    with served(mapped_lfw, tmp_path / "serve.log") as url:
        page.goto(f"{url}/map?who=e2e-annotator")
        wait_for_app(page)
        chart = page.locator(".st-key-map-chart .js-plotly-plot")
        chart.scroll_into_view_if_needed()
        page.wait_for_timeout(1500)
        powell = dense_core(trace_pixels(page, "Colin_Powell"))
        page.mouse.move(*powell[0], steps=4)
        thumb = page.locator("#map-hover-thumb")
        thumb.wait_for(state="visible", timeout=10_000)
        assert thumb.get_attribute("src").startswith("data:image/jpeg;base64,")
        screenshot(page, "map-hover")
        lasso(page, powell)
        page.get_by_text("points selected").wait_for(timeout=20_000)
        wait_for_app(page)
        heading = page.get_by_text("points selected").inner_text()
        screenshot(page, "map-lasso-grid")
        page.locator(".st-key-select-all button").click()
        wait_for_app(page)
        page.locator(".st-key-bulk-label input").fill("Colin_Powell_checked")
        page.keyboard.press("Enter")
        wait_for_app(page)
        page.locator(".st-key-apply-label button").click()
        page.get_by_text("Labelled").first.wait_for()
    store = open_store(mapped_lfw)
    relabelled = store.query("SELECT count(*) FROM images WHERE label = 'Colin_Powell_checked'")[0][0]
    store.close()
    assert int(heading.split()[0]) >= len(powell) >= 8
    assert relabelled >= 8
