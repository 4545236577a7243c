"""Map page parts: lay out a model's vectors (a job), draw them as a WebGL scatter coloured by label,
cleaning verdict or flag, show a face's thumbnail on hover, and turn a lasso or box selection into
a grid with Review's bulk actions.

Plotly's hover label cannot hold an image, so a small script (st.html with JavaScript) listens to
the chart's hover events and shows the point's thumbnail, carried as a data URI in its customdata,
beside the pointer. Thumbnails are sent for maps of up to HOVER_THUMBS points: beyond, the payload
would slow every rerun, and the page says so.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ..embed import EMBEDDERS
from ..jobs import JobError, start_job
from ..map_run import maps_dir
from ..maps import INTERACTIVE_POINTS, display_sample, stored_layout
from ..names import chart_text
from ..store import Store
from .jobs import job_status
from .pictures import picture_image
from .review import action_bar, grid, show_flash
from .text import md_inline

CHART_KEY = "map-chart"
HOVER_THUMBS = 3000
THUMB_SIDE = 72
COLOUR_BY = {"label": "Label", "verdict": "Cleaning verdict", "flags": "Flags"}
SELECTION_SHOWN = 96
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


def choose_model(store: Store) -> str | None:
    models = [name for name in store.embedding_counts() if name in EMBEDDERS]
    if not models:
        st.info("No embeddings yet: compute some on the Faces page first (dlib-resnet34 for faces, "
                "hog for images without faces; both work offline).")
        return None
    return st.selectbox("Embedding", models, key="map-model",
                        format_func=lambda m: f"{m} ({EMBEDDERS[m].subject} vectors)")


def layout_or_job(store: Store, model: str, keys: np.ndarray, who: str) -> np.ndarray | None:
    """The cached layout of exactly these points, or the button that computes it (and its progress)."""
    coords = stored_layout(maps_dir(store), model, keys)
    if coords is None:
        st.info(f"No map of these {len(keys):,} {EMBEDDERS[model].subject}s yet. UMAP lays them out in a "
                "background process (about a minute the first time, while it compiles).")
        if st.button("Lay out the map", key="map-run", type="primary", icon=":material/scatter_plot:"):
            try:
                start_job(store, "map", {"model": model}, who)
            except JobError as exc:
                st.error(md_inline(exc))
    job_status(store, "map", unit="layouts")
    return coords


def picture_path(store: Store, row) -> str:
    return str(store.project.root / row.chip) if isinstance(row.chip, str) else str(store.project.thumb_path(row.sha256))


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


def scatter(points: pd.DataFrame, coords: np.ndarray, colour_by: str, thumbs: list[str] | None):
    """One WebGL trace per colour; returns the figure and each trace's row positions in `points`."""
    fig, traces = go.Figure(), []
    for value, rows in points.groupby(colour_by, sort=True).indices.items():
        traces.append(rows)
        text = [chart_text(f"{label} · {verdict} · image #{image}") for label, verdict, image in
                zip(points["label"].iloc[rows], points["verdict"].iloc[rows], points["image_id"].iloc[rows])]
        fig.add_trace(go.Scattergl(
            x=coords[rows, 0], y=coords[rows, 1], mode="markers", name=chart_text(value), text=text,
            customdata=[[int(r), thumbs[r] if thumbs else ""] for r in rows],
            hovertemplate="%{text}<extra></extra>", marker={"size": 7, "opacity": 0.85}))
    fig.update_layout(height=640, dragmode="lasso", margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"title": COLOUR_BY[colour_by]}, xaxis={"visible": False}, yaxis={"visible": False})
    return fig, traces


def selected_rows(event, traces: list[np.ndarray]) -> list[int]:
    """Rows of `points` under the lasso or box (Streamlit reports a trace and an index within it)."""
    selection = (event or {}).get("selection") or {}
    return sorted({int(traces[p["curve_number"]][p["point_index"]]) for p in selection.get("points", [])
                   if p.get("curve_number", 0) < len(traces)})


def map_section(store: Store, model: str, who: str) -> None:
    points, matrix = store.map_points(model, EMBEDDERS[model].subject)
    if points.empty:
        st.info(f"No usable image has a {model} vector yet.")
        return
    coords = layout_or_job(store, model, points["key"].to_numpy(np.int64), who)
    if coords is None:
        return
    shown = display_sample(len(points), INTERACTIVE_POINTS)
    if len(shown) < len(points):
        st.warning(f"Showing a random {len(shown):,} of {len(points):,} points: beyond {INTERACTIVE_POINTS:,} the "
                   "map stops being interactive. Filter by cleaning one identity at a time to see all of one.")
    show_flash()
    colour_by = st.segmented_control("Colour by", list(COLOUR_BY), default="label", key="map-colour",
                                     format_func=COLOUR_BY.get) or "label"
    view = points.iloc[shown].reset_index(drop=True)
    thumbs = None
    if len(view) <= HOVER_THUMBS:
        thumbs = hover_thumbnails(tuple(picture_path(store, row) for row in view.itertuples()))
    else:
        st.caption(f"Hover thumbnails are drawn for maps of up to {HOVER_THUMBS:,} points; lasso a region to see "
                   "its pictures below.")
    fig, traces = scatter(view, coords[shown], colour_by, thumbs)
    st.html(HOVER_SCRIPT, unsafe_allow_javascript=True)
    event = st.plotly_chart(fig, key=CHART_KEY, on_select="rerun", selection_mode=("lasso", "box", "points"))
    selection_grid(store, view.iloc[selected_rows(event, traces)], who)


def selection_grid(store: Store, chosen: pd.DataFrame, who: str) -> None:
    if chosen.empty:
        st.caption("Lasso or box a region (the tools above the chart) to see those pictures here and label, "
                   "flag or tag them together.")
        return
    image_ids = list(dict.fromkeys(int(i) for i in chosen["image_id"]))
    st.subheader(f"{len(chosen)} points selected, {len(image_ids)} images", anchor=False)
    items = store.grid_items(image_ids[:SELECTION_SHOWN])
    if len(image_ids) > SELECTION_SHOWN:
        st.caption(f"The first {SELECTION_SHOWN} images are shown; tick them or use Select page for bulk actions.")
    action_bar(store, items, who)
    grid(store, items)
