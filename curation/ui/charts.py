"""Charts shared by pages: images per label, readable at five labels or five thousand."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ..names import chart_text

TOP_LABELS = 20


def label_counts_chart(counts: pd.Series, key: str, unit: str = "images", side_by_side: bool = True) -> None:
    """Counts per label (a Series indexed by label): one bar each up to `TOP_LABELS` labels; beyond,
    the largest `TOP_LABELS` as bars and a histogram of how many labels hold how many (side by
    side, or one above the other where the caller is itself a column)."""
    if counts.empty:
        return
    if len(counts) <= TOP_LABELS:
        bars = counts.sort_index()
        st.plotly_chart(_bars(bars, f"{unit.capitalize()} per label", unit), key=key)
        return
    top, spread = st.columns(2) if side_by_side else (st.container(), st.container())
    top.plotly_chart(_bars(counts.nlargest(TOP_LABELS), f"The {TOP_LABELS} largest of {len(counts):,} labels", unit),
                     key=f"{key}-top")
    fig = go.Figure(go.Histogram(x=counts.to_numpy(), nbinsx=40))
    fig.update_layout(title=f"{unit.capitalize()} per label, all {len(counts):,} labels", height=_height(TOP_LABELS),
                      margin=dict(l=10, r=10, t=40, b=10), xaxis_title=f"{unit} in the label", yaxis_title="labels")
    spread.plotly_chart(fig, key=f"{key}-spread")


def _bars(counts: pd.Series, title: str, unit: str) -> go.Figure:
    ordered = counts.sort_values()
    fig = go.Figure(go.Bar(x=ordered.to_numpy(), y=[chart_text(label) for label in ordered.index], orientation="h"))
    fig.update_layout(title=title, height=_height(len(ordered)), margin=dict(l=10, r=10, t=40, b=10), xaxis_title=unit)
    return fig


def _height(bars: int) -> int:
    return min(120 + 22 * bars, 560)
