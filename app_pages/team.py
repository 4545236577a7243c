"""Team: who may use this project and in which role, and whether they must sign in (team mode)."""

import streamlit as st

from curation.ui.context import require_annotator, require_store
from curation.ui.review import show_flash
from curation.ui.team import add_user_form, manage_user, team_mode_switch, users_table

store = require_store()
who = require_annotator()
st.title("Team")
show_flash()
team_mode_switch(store, who)
users_table(store)
add_user_form(store, who)
manage_user(store, who)
