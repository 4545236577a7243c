"""Team mode in the app: the sign-in gate, who is signed in, and what their role lets them press.

The session token lives in `st.session_state` only (one per project), so a reload of the page,
which starts a new Streamlit session, signs you out. Keeping it in the URL (`?s=`) would survive a
reload, but would also put a live session into browser history, bookmarks, shared links,
screenshots and proxy logs, and Streamlit gives a page no HttpOnly cookie to keep it in instead;
signing in again after a reload is the smaller cost. On the server a session ends after 12 hours,
on sign-out, and when an admin deactivates the user.
"""

from __future__ import annotations

import streamlit as st

from ..accounts import PermissionDenied, Principal, check
from ..store import ProjectError, SignInFailed, Store
from .text import md_inline, md_text

TOKENS_KEY = "session-tokens"
PRINCIPAL_KEY = "principal"


def require_user(store: Store) -> Principal | None:
    """In team mode the signed-in user, shown in the sidebar with Sign out, or else the sign-in form
    and a stop, before the page draws anything; None in single-user mode, where nobody signs in."""
    if not store.team_mode():
        st.session_state.pop(PRINCIPAL_KEY, None)
        return None
    principal = store.principal_for(_tokens().get(str(store.project.root)))
    if principal is None:
        st.session_state.pop(PRINCIPAL_KEY, None)
        sign_in_form(store)
        st.stop()
    st.session_state[PRINCIPAL_KEY] = principal
    signed_in_sidebar(store, principal)
    return principal


def signed_in() -> Principal | None:
    """The user this run acts for in team mode (set by `require_user`); None in single-user mode."""
    return st.session_state.get(PRINCIPAL_KEY)


def refusal(action: str) -> str | None:
    """Why the signed-in user may not do `action` (the sentence the store would raise), or None when
    they may; widgets pass it as `disabled=` and `help=`. Always None in single-user mode."""
    principal = signed_in()
    if principal is None:
        return None
    try:
        check(principal, action)
    except PermissionDenied as exc:
        return str(exc)
    return None


def sign_in_form(store: Store) -> None:
    name, password, submitted = _form("This project is shared by a team")
    if submitted:
        try:
            _tokens()[str(store.project.root)] = store.sign_in(name, password, client_address())
        except (SignInFailed, ProjectError) as exc:  # a full or read-only disk refuses the session's row
            st.error(md_inline(exc))
            return
        st.rerun()


def busy_sign_in_form(why: str) -> None:
    """The sign-in page of a project that cannot be opened now: the same form, which cannot sign
    anyone in until the project opens again, and why."""
    _form("This project may be shared by a team")
    st.error(why)


def _form(shared: str) -> tuple[str, str, bool]:
    st.title("Sign in")
    st.caption(f"{shared}: sign in with the user name and password an admin gave you.")
    with st.form("sign-in", clear_on_submit=True):
        name = st.text_input("User name", key="sign-in-name", autocomplete="username")
        password = st.text_input("Password", type="password", key="sign-in-password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    return name, password, submitted


def client_address() -> str | None:
    """The browser's address as the server sees it (None for this machine); a proxy in front of the
    app makes every visitor one address, so deploy it where the app sees the real one."""
    address = st.context.ip_address
    return address if isinstance(address, str) else None


def signed_in_sidebar(store: Store, principal: Principal) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{md_text(principal.name)}** · {principal.role}")
        st.button("Sign out", key="sign-out", icon=":material/logout:", on_click=_sign_out, args=(store,))


def _sign_out(store: Store) -> None:
    store.sign_out(_tokens().pop(str(store.project.root), None))
    st.session_state.pop(PRINCIPAL_KEY, None)


def _tokens() -> dict[str, str]:
    return st.session_state.setdefault(TOKENS_KEY, {})
