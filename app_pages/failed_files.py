"""Failed files: every file that could not be used, with the reason, to fix at its source.

Counted per reason in SQL; the table holds the first SHOWN of the chosen reason (a project of a million
files can hold tens of thousands of failures), the CSV all of them."""

import pandas as pd
import plotly.express as px
import streamlit as st

from curation.export import csv_text
from curation.ui.context import require_store
from curation.ui.downloads import download
from curation.verify import reason_title

SHOWN = 1000


def with_problem(failed: pd.DataFrame) -> pd.DataFrame:
    failed.insert(1, "problem", failed["reason"].map(reason_title))
    return failed


store = require_store()
st.title("Failed files")
by_reason = store.failed_by_reason()
if not by_reason:
    st.success("Every file was usable.")
    st.stop()

reasons = {reason_title(reason): reason for reason in by_reason}
counts = pd.Series({title: by_reason[reason] for title, reason in reasons.items()}).sort_values()
st.caption(f"{counts.sum():,} files could not be used. They stay recorded here; nothing was deleted.")
fig = px.bar(x=counts.values, y=counts.index, orientation="h", labels={"x": "files", "y": ""})
fig.update_layout(height=60 + 30 * len(counts), margin=dict(l=10, r=10, t=10, b=10))
fig.update_xaxes(tickformat="d", dtick=max(1, int(counts.max()) // 8))
st.plotly_chart(fig, key="failed-chart")
title = st.selectbox("Reason", ["All", *counts.index[::-1]], key="failed-reason")
reason = None if title == "All" else reasons[title]
total = int(counts.sum() if reason is None else by_reason[reason])
st.dataframe(with_problem(store.failed_files(reason, SHOWN)).drop(columns=["reason"]), hide_index=True, width="stretch",
             column_config={"bytes": st.column_config.NumberColumn("bytes", format="%d")})
if total > SHOWN:
    st.caption(f"The first {SHOWN:,} of {total:,} are shown; the CSV holds them all.")
download(store, "Download as CSV", lambda: csv_text(with_problem(store.failed_files(reason))), "failed_files.csv",
         "text/csv", "failed-csv")
