"""Team page parts: team mode on or off, the users, adding one, changing a role, deactivating.

Only an admin may press these (in single-user mode everyone is one); the store refuses anyone
else anyway. Messages go through `flash` so they survive the rerun a change causes.
"""

from __future__ import annotations

from typing import Callable

import streamlit as st

from ..accounts import ROLES, PermissionDenied
from ..store import AccountError, Store
from .review import flash
from .signin import refusal


def team_mode_switch(store: Store, who: str) -> None:
    st.subheader("Team mode")
    on = store.team_mode()
    if on:
        st.success("Team mode is on: everyone signs in, and each role may do only its part.", icon=":material/lock:")
    else:
        st.info("Team mode is off: nobody signs in and everyone may do everything. Add an admin below, "
                "then turn it on.", icon=":material/lock_open:")
    why = refusal("settings")
    st.button("Turn team mode off" if on else "Turn team mode on", key="team-mode", disabled=bool(why), help=why,
              on_click=_change, args=(store.set_team_mode, (not on, who),
                                      f"Team mode is {'off' if on else 'on'}."))


def users_table(store: Store) -> None:
    st.subheader("Users")
    users = store.users()
    if users.empty:
        st.caption("No user yet.")
        return
    st.dataframe(users, hide_index=True, width="stretch",
                 column_config={"created_by": "added by", "created_at": "added"})


def add_user_form(store: Store, who: str) -> None:
    why = refusal("manage_users")
    with st.form("add-user", clear_on_submit=True):
        st.markdown("**Add a user**")
        name_col, role_col, password_col = st.columns(3)
        name = name_col.text_input("User name", key="new-user-name", help="Letters, digits, dots, _ and -")
        role = role_col.selectbox("Role", ROLES, key="new-user-role")
        password = password_col.text_input("Initial password", type="password", key="new-user-password",
                                           autocomplete="new-password",
                                           help="At least 8 characters; give it to the user to sign in with.")
        submitted = st.form_submit_button("Add user", type="primary", icon=":material/person_add:",
                                          disabled=bool(why), help=why)
    if submitted and _change(store.add_user, (name, role, password, who), f"Added {name.strip()} as {role}."):
        st.rerun()


def manage_user(store: Store, who: str) -> None:
    """Change an active user's role, or deactivate them (which also ends their sessions)."""
    users = store.users()
    active = list(users.loc[users["active"], "name"]) if not users.empty else []
    if not active:
        return
    why = refusal("manage_users")
    st.markdown("**Change a user**")
    user_col, role_col, role_button, off_button = st.columns([2, 2, 1, 1], vertical_alignment="bottom")
    user_col.selectbox("User", active, key="manage-user")
    role_col.selectbox("New role", ROLES, key="manage-role")
    role_button.button("Change role", key="change-role", disabled=bool(why), help=why, on_click=_set_role,
                       args=(store, who))
    off_button.button("Deactivate", key="deactivate-user", disabled=bool(why),
                      help=why or "They are signed out and cannot sign in; their changes keep their name.",
                      on_click=_deactivate, args=(store, who))


def _set_role(store: Store, who: str) -> None:
    name, role = st.session_state["manage-user"], st.session_state["manage-role"]
    _change(store.set_role, (name, role, who), f"{name} is now {role}.")


def _deactivate(store: Store, who: str) -> None:
    name = st.session_state["manage-user"]
    _change(store.deactivate_user, (name, who), f"Deactivated {name}.")


def _change(action: Callable, args: tuple, done: str) -> bool:
    try:
        action(*args)
    except (AccountError, PermissionDenied) as exc:
        flash(str(exc), "error")
        return False
    flash(done)
    return True
