"""The Map page in Chromium at 25,000 faces: every point drawn over the density layer, a hover names
the face under the pointer, a lasso brings up its faces, and they are flagged from the grid."""

from __future__ import annotations

import re

import pytest

from curation.store import open_store
from synthetic_map import map_scale, mapped_faces

from .harness import screenshot, served, wait_for_app

pytestmark = pytest.mark.e2e
FACES = 25_000


@pytest.fixture(scope="module")
def many_faces(tmp_path_factory):
    return mapped_faces(tmp_path_factory.mktemp("map-e2e") / "project", FACES, 200)


def test_hover_and_lasso_work_on_a_map_of_25000_faces(many_faces, page, tmp_path):
    bench = map_scale()
    with served(many_faces, tmp_path / "serve.log") as url:
        open_map(page, url, bench, FACES)
        point = bench.trace_point(page)
        hover = bench.hover_text(page, point, 10_000)
        screenshot(page, "map-25k-hover")
        heading, _, _ = bench.lasso_selection(page, point, 30_000)
        wait_for_app(page)
        screenshot(page, "map-25k-lasso")
        page.locator(".st-key-select-all button").click()
        wait_for_app(page)
        page.locator(".st-key-apply-flag button").click()
        page.get_by_text("Flagged").first.wait_for()
    store = open_store(many_faces)
    flagged = store.query("SELECT count(DISTINCT image_id) FROM flags WHERE active")[0][0]
    store.close()
    assert re.search(r"face #\d+", hover) and "person_" in hover
    selected, images = int(heading.split()[0].replace(",", "")), int(heading.split()[3].replace(",", ""))
    assert selected >= 1 and images == selected  # one face per image
    assert flagged == min(images, 96)


@pytest.fixture(scope="module")
def pictured_faces(tmp_path_factory):
    """Past DRAWN_POINTS: the map is one picture with MARKED_POINTS markers on it."""
    from curation.maps import DRAWN_POINTS

    return mapped_faces(tmp_path_factory.mktemp("map-e2e-picture") / "project", DRAWN_POINTS + 10_000, 200)


def test_hover_names_a_marker_and_a_lasso_selects_among_all_points_of_the_picture(pictured_faces, page, tmp_path):
    bench = map_scale()
    with served(pictured_faces, tmp_path / "serve.log") as url:
        open_map(page, url, bench, 60_000)
        point = bench.trace_point(page)
        hover = bench.hover_text(page, point, 10_000)
        near = markers_near(page, bench.CHART, point, 30)
        heading, _, _ = bench.lasso_selection(page, point, 30_000, radius=30)
        wait_for_app(page)
        screenshot(page, "map-picture-lasso")
    # markers overlap: the hover may name a neighbour of the point aimed at, of another trace
    assert re.search(r"face #\d+", hover) and re.search(r"person_\d+|other values", hover), hover
    selected = int(heading.split()[0].replace(",", ""))
    assert selected > near >= 1, "the lasso selects the pictured points around the markers within it"


def markers_near(page, chart: str, point: list[float], radius: float) -> int:
    """How many markers lie within `radius` pixels of `point` (a lasso inscribed in that circle holds no more)."""
    return page.evaluate(
        """([selector, point, radius]) => {
          const chart = document.querySelector(selector), layout = chart._fullLayout;
          const box = chart.getBoundingClientRect();
          let n = 0;
          for (const trace of chart._fullData.filter(t => t.type === 'scatter')) {
            for (let i = 0; i < trace._length; i++) {
              const x = box.left + layout._size.l + layout.xaxis.l2p(trace.x[i]);
              const y = box.top + layout._size.t + layout.yaxis.l2p(trace.y[i]);
              n += Math.hypot(x - point[0], y - point[1]) <= radius;
            }
          }
          return n;
        }""", [chart, point, radius])


def open_map(page, url: str, bench, points: int) -> None:
    """The Map page as an annotator, scrolled to its chart once `points` are drawn."""
    page.goto(f"{url}/map?who=e2e-annotator")
    wait_for_app(page)
    page.locator(bench.CHART).scroll_into_view_if_needed()
    bench.chart_drawn(page, points, 60_000)
