"""Failed files: every file that could not be used, with the reason, to fix at its source."""

from functools import partial

import plotly.express as px
import streamlit as st

from curation.export import csv_text
from curation.ui.context import require_store
from curation.ui.downloads import download
from curation.verify import reason_title

store = require_store()
st.title("Failed files")
failed = store.failed_files()
if failed.empty:
    st.success("Every file was usable.")
    st.stop()

failed.insert(1, "problem", failed["reason"].map(reason_title))
counts = failed.groupby("problem").size().sort_values()
st.caption(f"{len(failed)} files could not be used. They stay recorded here; nothing was deleted.")
fig = px.bar(x=counts.values, y=counts.index, orientation="h", labels={"x": "files", "y": ""})
fig.update_layout(height=60 + 30 * len(counts), margin=dict(l=10, r=10, t=10, b=10))
fig.update_xaxes(tickformat="d", dtick=max(1, int(counts.max()) // 8))
st.plotly_chart(fig, key="failed-chart")
reason = st.selectbox("Reason", ["All", *counts.index[::-1]], key="failed-reason")
shown = failed if reason == "All" else failed[failed["problem"] == reason]
st.dataframe(shown.drop(columns=["reason"]), hide_index=True, width="stretch",
             column_config={"bytes": st.column_config.NumberColumn("bytes", format="%d")})
download(store, "Download as CSV", partial(csv_text, shown), "failed_files.csv", "text/csv", "failed-csv")
