"""Map page parts: lay out a model's vectors (a job), and show them: up to DRAWN_POINTS as a WebGL scatter
coloured by label, cleaning verdict or flag (over a density layer from DENSITY_FROM points); past that, up to a
million of them as one picture (a PNG under the chart, each pixel the mean colour of its points, darker the
more there are) with a random MARKED_POINTS of them drawn on it as SVG markers, which the hover names and a
click selects. A lasso or box selects among all the points (its polygon, in data coordinates, tested here),
and the selection becomes a grid with Review's bulk actions.

Why a picture: CPU-rendered Chromium spends ~0.5 s only to start a WebGL context, and a lasso over 50,000
WebGL points ~0.5 s per mouse move; a 240 x 240 heatmap trace with `zsmooth` costs ~0.2 s more than an
image. A picture and a few thousand SVG markers draw in ~0.2 s (bench/map_scale.py, bench/pages.py).

What goes to the browser stays small per point: coordinates and face (or image) ids as numpy arrays,
which plotly sends as typed arrays, one trace per colour (the TOP_COLOURS largest, the rest as one
"other" trace) whose name the hover shows. A selection's pictures are read from the store on demand.
What depends only on the stored layout file (its points in key order) is read once per file for all
sessions; the picture, once per file and colouring.

Plotly's hover label cannot hold an image, so for maps of up to HOVER_THUMBS points a small script
(st.html with JavaScript) listens to the chart's hover events and shows the point's thumbnail,
carried as a data URI in its customdata, beside the pointer.
"""

from __future__ import annotations

import base64
import hashlib
import io
from functools import partial
from pathlib import Path

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from ..embed import EMBEDDERS
from ..jobs import JobError, start_job
from ..map_run import maps_dir
from ..maps import (DRAWN_POINTS, FIT_SAMPLE, INTERACTIVE_POINTS, coords_in_order, display_sample, layout_path,
                    points_in_regions)
from ..names import chart_text
from ..store import Store
from .jobs import job_status
from .kept import KeptPerStore
from .pictures import picture_image
from .review import action_bar, grid, show_flash
from .text import md_inline

CHART_KEY = "map-chart"
HOVER_THUMBS = 3000
THUMB_SIDE = 72
COLOUR_BY = {"label": "Label", "verdict": "Cleaning verdict", "flags": "Flags"}
TOP_COLOURS = 20
PALETTE = plotly.colors.qualitative.Dark24  # 24 distinct colours: one per value shown on its own
OTHERS_COLOUR = "#9aa0a6"
SELECTION_SHOWN = 96
# From this many points a 2-D histogram (log of the count) is drawn under them, so that where a million
# points overlap the darker ground says how many lie there.
DENSITY_FROM = 20_000
DENSITY_BINS = 240
# Past DRAWN_POINTS: the picture's pixels across and down (the browser stretches it smoothly to the chart's
# ~1,300 x 600), and the random sample drawn as SVG markers on it for hover and click: 2,000 draw in ~0.25 s
# and keep a marker within plotly's 20 px hover reach almost anywhere in the cloud.
PICTURE_SIZE = (760, 340)
MARKED_POINTS = 2_000
HOVER_SCRIPT = """
<script>
(function () {
  if (window.curationMapHover) { return; }
  window.curationMapHover = true;
  const tip = document.createElement("img");
  tip.id = "map-hover-thumb";
  tip.style.cssText = "position:fixed;display:none;pointer-events:none;z-index:100000;width:96px;" +
    "border:2px solid white;border-radius:6px;box-shadow:0 2px 10px rgba(0,0,0,.35);";
  document.body.appendChild(tip);
  function bind() {
    document.querySelectorAll(".st-key-map-chart .js-plotly-plot").forEach(function (chart) {
      if (chart.dataset.hoverThumbs || !chart.on) { return; }
      chart.dataset.hoverThumbs = "1";
      chart.on("plotly_hover", function (event) {
        const point = event.points[0];
        const source = point && point.customdata && point.customdata[1];
        if (!source) { return; }
        tip.src = source;
        tip.style.left = (event.event.clientX + 18) + "px";
        tip.style.top = (event.event.clientY + 18) + "px";
        tip.style.display = "block";
      });
      chart.on("plotly_unhover", function () { tip.style.display = "none"; });
    });
  }
  setInterval(bind, 600);
})();
</script>
"""


#: Each point's key, image and colour for every session, once per revision of the data (a label, a flag, a
#: cleaning run leaves it behind): at a million faces the query is most of the page's script (0.15-0.5 s).
KEPT_COLOURS = KeptPerStore(4)


def map_colours(store: Store, model: str, subject: str, colour_by: str) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                list[str]]:
    """`store.map_colours`, read once per revision of the data and shared (read-only) by every session."""
    return KEPT_COLOURS.get(store, (store.revision, model, subject, colour_by),
                            partial(read_only_colours, store, model, subject, colour_by))


def read_only_colours(store: Store, model: str, subject: str, colour_by: str) -> tuple:
    found = store.map_colours(model, subject, colour_by)
    for array in found[:3]:
        array.flags.writeable = False
    return found


def map_models(store: Store) -> list[str]:
    """The embedders whose vectors can be mapped; the first is shown by default."""
    return [name for name in store.embedding_counts() if name in EMBEDDERS]


def warm_map(store: Store) -> None:
    """Read the colours the Map page first shows (the first model, by label), as a first visit would,
    so that it finds them kept."""
    models = map_models(store)
    if models:
        map_colours(store, models[0], EMBEDDERS[models[0]].subject, "label")


def choose_model(store: Store) -> str | None:
    models = map_models(store)
    if not models:
        st.info("No embeddings yet: compute some on the Faces page first (dlib-resnet34 for faces, "
                "hog for images without faces; both work offline).")
        return None
    return st.selectbox("Embedding", models, key="map-model",
                        format_func=lambda m: f"{m} ({EMBEDDERS[m].subject} vectors)")


def layout_or_job(store: Store, model: str, keys: np.ndarray, who: str) -> tuple[np.ndarray | None, tuple]:
    """The stored layout of exactly these points and its file's `layout_version`, taken before reading it (a
    layout written meanwhile is then read under the older version, never the reverse); or the
    button that computes it (and its progress)."""
    path = layout_path(maps_dir(store), model, keys, seed=0)
    version = layout_version(path)
    coords = coords_of(keys, *stored_points(*version)) if version else None
    if coords is None:
        st.info(f"No map of these {len(keys):,} {EMBEDDERS[model].subject}s yet. UMAP lays them out in a "
                f"background process (about a minute the first time, while it compiles); past {FIT_SAMPLE:,} it is "
                "fitted on a sample and places the others by its transform.")
        if st.button("Lay out the map", key="map-run", type="primary", icon=":material/scatter_plot:"):
            try:
                start_job(store, "map", {"model": model}, who)
            except JobError as exc:
                st.error(md_inline(exc))
    job_status(store, "map", unit="points")
    return coords, version


def layout_version(path: Path) -> tuple:
    """(path, inode, change time, size) of a layout file; () when there is none. A layout file is never
    overwritten (its name is the digest of its points); one removed and computed again (minutes) is a new
    file with a new change time."""
    if not path.exists():
        return ()
    stat = path.stat()
    return str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size


@st.cache_resource(max_entries=4, show_spinner=False)
def stored_points(path: str, inode: int, modified_ns: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A layout file's keys, sorted, and their coordinates in that order, read once per file (see
    `layout_version`) and shared by every session and rerun, hence read-only."""
    with np.load(path) as stored:
        keys, coords = stored["keys"], stored["coords"]
    order = np.argsort(keys, kind="stable")
    keys, coords = keys[order], coords[order]
    keys.flags.writeable = coords.flags.writeable = False
    return keys, coords


def coords_of(keys: np.ndarray, stored_keys: np.ndarray, stored_coords: np.ndarray) -> np.ndarray:
    """The stored coordinates of `keys`, in their order; the stored array itself when they are the stored
    keys in the same order (the page's keys come sorted, and the file's name is the digest of its keys)."""
    if np.array_equal(keys, stored_keys):
        return stored_coords
    return coords_in_order(stored_keys, stored_coords, keys)


def picture_paths(store: Store, subject: str, keys: np.ndarray) -> tuple[str, ...]:
    """Each point's picture: its face chip, or its image's thumbnail."""
    return tuple(str(store.project.root / chip) if chip else str(store.project.thumb_path(sha256))
                 for chip, sha256 in store.map_pictures(subject, keys.tolist()))


@st.cache_data(max_entries=4, show_spinner="Making the hover thumbnails…")
def hover_thumbnails(paths: tuple[str, ...]) -> list[str]:
    """Small JPEG data URIs of the pictures, for the hover script."""
    uris = []
    for path in paths:
        small = picture_image(Path(path), THUMB_SIDE)
        buffer = io.BytesIO()
        small.save(buffer, "JPEG", quality=75)
        uris.append("data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode())
    return uris


def colour_slots(codes: np.ndarray, names: list[str],
                 top: int = TOP_COLOURS) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(name, colour) of each trace: one for all but the `top` most common values (when there are more),
    first, so that it is drawn under the others; then the `top` in name order. And each value's trace (a
    lookup table by code)."""
    counts = np.bincount(codes, minlength=len(names))
    ranked = [c for c in np.argsort(-counts, kind="stable") if counts[c]]
    kept = sorted(ranked[:top], key=lambda c: names[c])
    slots, lookup = [], np.zeros(len(names), dtype=np.uint8)
    if len(ranked) > top:
        slots.append((f"{len(ranked) - top:,} other values", OTHERS_COLOUR))
    for colour, code in zip(PALETTE, kept):
        lookup[code] = len(slots)
        slots.append((names[code], colour))
    return slots, lookup


def marker_style(points: int) -> dict:
    """Smaller, more transparent points the more there are, so that overlaps read as density."""
    crowd = max(0.0, np.log10(max(points, 1) / 3000))
    return {"size": round(max(2.0, 7 - 2.0 * crowd), 1), "opacity": round(max(0.3, 0.85 - 0.22 * crowd), 2)}


def density(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin centres across, down, and the log counts of the points on a DENSITY_BINS square grid."""
    counts, x_edges, y_edges = np.histogram2d(coords[:, 0], coords[:, 1], bins=DENSITY_BINS)
    return (((x_edges[:-1] + x_edges[1:]) / 2).astype(np.float32), ((y_edges[:-1] + y_edges[1:]) / 2).astype(np.float32),
            np.log1p(counts.T).astype(np.float32))


@st.cache_data(max_entries=4, show_spinner=False)
def layout_density(path: str, inode: int, modified_ns: int, size: int, _coords: np.ndarray):
    """`density` of a stored layout's points (`_coords`), once per layout file for all sessions: the file
    holds the layout of one set of points (its name is their digest), and is only ever replaced by removing
    it and laying the points out again (see `layout_version`)."""
    return density(_coords)


def density_layer(grid: tuple[np.ndarray, np.ndarray, np.ndarray]) -> go.Heatmap:
    """The `density` grid smoothed: transparent where there are no points, darker the more there are."""
    x, y, z = grid
    return go.Heatmap(x=x, y=y, z=z, colorscale=[[0, "rgba(60,64,67,0)"], [1, "rgba(60,64,67,0.75)"]], zmin=0, zsmooth="best",
                      showscale=False, hoverinfo="skip", name="density")


def scatter(coords: np.ndarray, keys: np.ndarray, codes: np.ndarray, names: list[str], colour_by: str,
            subject: str, thumbs: list[str] | None,
            grid: tuple | None = None) -> tuple[go.Figure, dict[int, np.ndarray]]:
    """The figure of a map of at most DRAWN_POINTS: the density of all points (`grid`, else computed) from
    DENSITY_FROM, every point as WebGL; and for each point trace (by its number) the row positions of its
    points."""
    fig = go.Figure()
    if len(keys) >= DENSITY_FROM:
        fig.add_trace(density_layer(grid if grid is not None else density(coords)))
    slots, lookup = colour_slots(codes, names)
    traces = add_point_traces(fig, go.Scattergl, coords, point_ids(keys), lookup[codes], np.arange(len(keys)), slots,
                              subject, thumbs, marker_style(len(keys)))
    map_layout(fig, subject, colour_by)
    return fig, traces


def picture_figure(coords: np.ndarray, keys: np.ndarray, codes: np.ndarray, names: list[str], colour_by: str,
                   subject: str, version: tuple) -> tuple[go.Figure, dict[int, np.ndarray]]:
    """The figure of a map of more than DRAWN_POINTS: every point in one picture under the chart (see
    `points_picture`), a random MARKED_POINTS of them as SVG markers to hover and click; and for each
    marker trace (by its number) the row positions of its points."""
    slots, lookup = colour_slots(codes, names)
    slot_of = lookup[codes]
    source, (x0, x1, y0, y1) = points_picture(*version, len(keys), hashlib.md5(slot_of.tobytes()).hexdigest(),
                                              tuple(colour for _, colour in slots), coords, slot_of)
    fig = go.Figure()
    fig.add_layout_image(source=source, xref="x", yref="y", x=x0, y=y1, sizex=x1 - x0, sizey=y1 - y0,
                         sizing="stretch", layer="below")
    marked = display_sample(len(keys), MARKED_POINTS)
    traces = add_point_traces(fig, go.Scatter, coords, point_ids(keys), slot_of, marked, slots, subject, None,
                              {"size": 5, "opacity": 0.9, "line": {"width": 0.5, "color": "white"}})
    map_layout(fig, subject, colour_by)
    # the picture shows every point of a value whatever its legend entry says: hiding its markers would mislead
    fig.update_layout(xaxis_range=[x0, x1], yaxis_range=[y0, y1], legend={"itemclick": False, "itemdoubleclick": False})
    return fig, traces


def point_ids(keys: np.ndarray) -> np.ndarray:
    """Face (or image) ids as int32 where they fit: a typed array half the size of int64's."""
    return keys.astype(np.int32) if keys.max(initial=0) < 2 ** 31 else keys.astype(np.float64)


def add_point_traces(fig: go.Figure, kind, coords: np.ndarray, ids: np.ndarray, slot_of: np.ndarray, drawn: np.ndarray,
                     slots: list[tuple[str, str]], subject: str, thumbs: list[str] | None,
                     marker: dict) -> dict[int, np.ndarray]:
    """One trace of `kind` per colour slot with the `drawn` rows of that slot; the row positions per trace."""
    traces = {}
    drawn_slots = slot_of[drawn]
    for slot, (name, colour) in enumerate(slots):
        rows = drawn[drawn_slots == slot]
        traces[len(fig.data)] = rows
        customdata = np.column_stack([ids[rows].astype(object), np.asarray(thumbs, dtype=object)[rows]]) \
            if thumbs else ids[rows]
        others = colour == OTHERS_COLOUR
        fig.add_trace(kind(
            x=coords[rows, 0], y=coords[rows, 1], mode="markers", name=chart_text(name), customdata=customdata,
            hovertemplate=f"{subject} #%{{customdata{'[0]' if thumbs else ''}}}<extra>%{{fullData.name}}</extra>",
            marker={**marker, "color": colour}, legendrank=2000 if others else 1000))
    return traces


def map_layout(fig: go.Figure, subject: str, colour_by: str) -> None:
    fig.update_layout(height=640, dragmode="lasso", margin={"l": 10, "r": 10, "t": 30, "b": 10}, uirevision=subject,
                      legend={"title": COLOUR_BY[colour_by], "itemsizing": "constant"}, xaxis={"visible": False},
                      yaxis={"visible": False})


@st.cache_data(max_entries=8, show_spinner=False)
def points_picture(path: str, inode: int, modified_ns: int, size: int, points: int, slots_digest: str,
                   colours: tuple[str, ...], _coords: np.ndarray, _slot_of: np.ndarray) -> tuple[str, tuple]:
    """`picture` of a stored layout's points (`_coords`) coloured by their slots (`_slot_of`, whose digest
    is given), once per layout file and colouring for all sessions (see `layout_version`)."""
    return picture(_coords, _slot_of, colours)


def picture(coords: np.ndarray, slot_of: np.ndarray, colours: tuple[str, ...],
            size: tuple[int, int] = PICTURE_SIZE) -> tuple[str, tuple[float, float, float, float]]:
    """Every point drawn into one PNG (a data URI) of `size` pixels, and the (x0, x1, y0, y1) it spans: each
    pixel is the mean colour of its points (`colours[slot]`), more opaque the more points it holds (log
    scale), transparent where there are none."""
    (x0, y0), (x1, y1) = coords.min(axis=0).astype(np.float64), coords.max(axis=0).astype(np.float64)
    pad_x, pad_y = max((x1 - x0) * 0.01, 1e-6), max((y1 - y0) * 0.01, 1e-6)
    x0, x1, y0, y1 = x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y
    width, height = size
    across = ((coords[:, 0] - x0) * (width / (x1 - x0))).astype(np.int64).clip(0, width - 1)
    down = ((y1 - coords[:, 1]) * (height / (y1 - y0))).astype(np.int64).clip(0, height - 1)
    pixel = down * width + across
    counts = np.bincount(pixel, minlength=width * height)
    rgb = np.array([plotly.colors.hex_to_rgb(c) for c in colours], dtype=np.float64).reshape(-1, 3)[slot_of]
    filled = np.maximum(counts, 1)
    image = np.zeros((width * height, 4), dtype=np.uint8)
    for channel in range(3):
        image[:, channel] = np.bincount(pixel, weights=rgb[:, channel], minlength=width * height) / filled
    strength = np.log1p(counts) / np.log1p(max(int(counts.max()), 1))
    image[:, 3] = np.where(counts > 0, 100 + 155 * strength, 0)
    buffer = io.BytesIO()
    Image.fromarray(image.reshape(height, width, 4), "RGBA").save(buffer, "PNG", compress_level=3)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), (x0, x1, y0, y1)


def selected_rows(event, traces: dict[int, np.ndarray], coords: np.ndarray) -> np.ndarray:
    """Row positions of all the points under the lasso(s) or box(es), drawn or not (Streamlit reports their
    corners in data coordinates), else of the clicked points (a trace and an index within it)."""
    selection = (event or {}).get("selection") or {}
    boxes = [(b["x"], b["y"]) for b in selection.get("box", []) if len(b.get("x", ())) == 2]
    lassos = [(p["x"], p["y"]) for p in selection.get("lasso", []) if len(p.get("x", ())) >= 3]
    if boxes or lassos:
        return np.flatnonzero(points_in_regions(coords, boxes, lassos))
    rows = {int(traces[p["curve_number"]][p["point_index"]]) for p in selection.get("points", [])
            if p.get("curve_number", 0) in traces and "point_index" in p}
    return np.array(sorted(rows), dtype=np.int64)


def map_section(store: Store, model: str, who: str) -> None:
    subject = EMBEDDERS[model].subject
    colour_by = st.segmented_control("Colour by", list(COLOUR_BY), default="label", key="map-colour",
                                     format_func=COLOUR_BY.get) or "label"
    keys, image_ids, codes, names = map_colours(store, model, subject, colour_by)
    if not len(keys):
        st.info(f"No usable image has a {model} vector yet.")
        return
    coords, version = layout_or_job(store, model, keys, who)
    if coords is None:
        return
    shown = display_sample(len(keys), INTERACTIVE_POINTS)
    if len(shown) < len(keys):
        st.warning(f"Showing a random {len(shown):,} of {len(keys):,} points: the map draws at most "
                   f"{INTERACTIVE_POINTS:,}.")
        keys, image_ids, codes, coords = keys[shown], image_ids[shown], codes[shown], coords[shown]
    show_flash()
    if len(keys) > DRAWN_POINTS:
        st.caption(map_caption(MARKED_POINTS, len(keys), subject, COLOUR_BY[colour_by].lower()))
        fig, traces = picture_figure(coords, keys, codes, names, colour_by, subject, version)
    else:
        thumbs = None
        if len(keys) <= HOVER_THUMBS:
            thumbs = hover_thumbnails(picture_paths(store, subject, keys))
        else:
            st.caption(map_caption(len(keys), len(keys), subject, COLOUR_BY[colour_by].lower()))
        grid = layout_density(*version, coords) if len(keys) >= DENSITY_FROM else None
        fig, traces = scatter(coords, keys, codes, names, colour_by, subject, thumbs, grid)
    st.html(HOVER_SCRIPT, unsafe_allow_javascript=True)
    event = st.plotly_chart(fig, key=CHART_KEY, on_select="rerun", selection_mode=("lasso", "box", "points"))
    selection_grid(store, image_ids[selected_rows(event, traces, coords)], who)


def map_caption(marked: int, points: int, subject: str, colour: str) -> str:
    if marked == points:
        return (f"{points:,} points. Hover one for its {subject} number and {colour}; click it, or lasso a region, "
                "to see the pictures below.")
    return (f"{points:,} points, all drawn as one picture, darker where more lie; a random {marked:,} of them are "
            f"marked on it. Hover a marked point for its {subject} number and {colour}; a lasso or box selects "
            f"among all {points:,} (a click, a marked point), and the pictures show below.")


def selection_grid(store: Store, chosen: np.ndarray, who: str) -> None:
    """The selected points' images (each once, in map order), the first SELECTION_SHOWN as a grid."""
    if not len(chosen):
        st.caption("Lasso or box a region (the tools above the chart), or click a point, to see those pictures "
                   "here and label, flag or tag them together.")
        return
    image_ids = list(dict.fromkeys(chosen.tolist()))
    st.subheader(f"{len(chosen):,} points selected, {len(image_ids):,} images", anchor=False)
    items = store.grid_items(image_ids[:SELECTION_SHOWN])
    if len(image_ids) > SELECTION_SHOWN:
        st.caption(f"The first {SELECTION_SHOWN} images are shown; tick them or use Select page for bulk actions.")
    action_bar(store, items, who)
    grid(store, items)
