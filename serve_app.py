"""`curation serve`'s app: the pages of streamlit_app.py and the project API (/api/v1) in one process."""

import streamlit as st

from curation.api import api_mount
from curation.server import lifespan

app = st.App("streamlit_app.py", routes=[api_mount()], lifespan=lifespan)
