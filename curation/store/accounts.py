"""Team mode: user accounts, sign-in, sessions, and the guard every edit and job passes through.

A project starts in single-user mode: nobody signs in and every actor acts as an admin
(`accounts.single_user`). An admin can turn team mode on (the meta key `team_mode`) once there is at
least one active admin; from then on an actor is an active user's name, acting in that user's role.

`OWNER` ("cli") is the command line. It keeps admin rights in team mode: the command line runs only
while it alone holds the project's database, so whoever runs it can open project.duckdb directly,
and refusing them would protect nothing (it is how a team that lost its admin's password gets back
in). No account may take that name, so nobody signed in to the app acts as it.

Sign-in tells nobody whether a name exists: a wrong password, an unknown name and a deactivated
user all get `WRONG`, after the same scrypt work. Every attempt is recorded in `sign_ins` with the
client address it came from ("local" when the app does not know one).

Guessing is slowed per (name, client address) and per client address, never per name alone: a
fixed lock on a name let anyone lock the admin out with five guesses from anywhere. Within
`FAILURE_WINDOW`, after `FREE_FAILURES` failures of a name from one address (or
`CLIENT_FREE_FAILURES` from one address over all names) each further attempt from that address
must wait a delay that doubles from `FIRST_DELAY` up to `MAX_DELAY` after the last failure; an
attempt too soon is refused (`throttled`) without looking at the password. A success from that
address starts the count again. The same name from another address is not slowed at all.
Sessions last `SESSION_LIFETIME`; the database keeps only the token's digest.
"""

from __future__ import annotations

import functools
import math
import secrets
from datetime import timedelta

import pandas as pd

from ..accounts import (MAX_USER_NAME_LENGTH, ROLES, PermissionDenied, Principal, check, hash_password,
                        new_session_token, single_user, token_digest, validate_user_name, verify_password)
from .db import next_id, utcnow

OWNER = "cli"
TEAM_MODE_KEY = "team_mode"
SESSION_LIFETIME = timedelta(hours=12)
FREE_FAILURES = 3
CLIENT_FREE_FAILURES = 20
FIRST_DELAY = timedelta(seconds=2)
MAX_DELAY = timedelta(minutes=10)
FAILURE_WINDOW = timedelta(hours=24)
LOCAL_CLIENT = "local"
WRONG = "Wrong user name or password."


class AccountError(ValueError):
    """A change to the accounts that cannot be made, with a sentence that says why."""


class SignInFailed(AccountError):
    """A refused sign-in; the message never says which of the name or the password was wrong."""


class AccountQueries:
    def team_mode(self) -> bool:
        return self.query("SELECT value FROM meta WHERE key = ?", [TEAM_MODE_KEY]) == [("on",)]

    def set_team_mode(self, on: bool, actor: str) -> None:
        """Turn team mode on or off; on only with an active admin, who can then manage the team."""
        self.require(actor, "settings")
        with self.transaction() as cur:
            if on and not active_admins(cur):
                raise AccountError("Add an active admin before turning team mode on: nobody could manage users.")
            cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [TEAM_MODE_KEY, "on" if on else "off"])

    def principal(self, actor: str | None) -> Principal:
        """Whom `actor` acts as: an admin in single-user mode (and the command line always), else the
        active user of that name in their role; PermissionDenied for anyone else."""
        if actor == OWNER or not self.team_mode():
            return single_user(actor)
        rows = self.query("SELECT role FROM users WHERE name = ? AND active", [actor])
        if not rows:
            raise PermissionDenied("Only an active user of this project may do this: sign in as one.")
        return Principal(actor, rows[0][0])

    def require(self, actor: str | None, action: str) -> Principal:
        """The actor's principal, or PermissionDenied when their role does not allow `action`."""
        principal = self.principal(actor)
        check(principal, action)
        return principal

    def users(self) -> pd.DataFrame:
        return self.query_df("SELECT name, role, active, created_by, created_at FROM users ORDER BY name")

    def add_user(self, name: str, role: str, password: str, actor: str) -> None:
        self.require(actor, "manage_users")
        name = usable_name(name)
        require_role_name(role)
        try:
            encoded = hash_password(password)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        with self.transaction() as cur:
            if cur.execute("SELECT count(*) FROM users WHERE name = ?", [name]).fetchall()[0][0]:
                raise AccountError(f"There is already a user called {name}.")
            cur.execute("INSERT INTO users VALUES (?, ?, ?, true, ?, ?)", [name, role, encoded, actor, utcnow()])

    def set_role(self, name: str, role: str, actor: str) -> None:
        self.require(actor, "manage_users")
        require_role_name(role)
        with self.transaction() as cur:
            require_user_row(cur, name)
            cur.execute("UPDATE users SET role = ? WHERE name = ?", [role, name])
            self._keep_an_admin(cur)

    def deactivate_user(self, name: str, actor: str) -> None:
        """Deactivate a user and end their sessions; the row stays, so their events keep a name."""
        self.require(actor, "manage_users")
        with self.transaction() as cur:
            require_user_row(cur, name)
            cur.execute("UPDATE users SET active = false WHERE name = ?", [name])
            cur.execute("UPDATE sessions SET revoked = true WHERE user_name = ?", [name])
            self._keep_an_admin(cur)

    def _keep_an_admin(self, cur) -> None:
        """Refuse (rolling the change back) to leave team mode without an active admin."""
        team = cur.execute("SELECT value FROM meta WHERE key = ?", [TEAM_MODE_KEY]).fetchall() == [("on",)]
        if team and not active_admins(cur):
            raise AccountError("Team mode needs at least one active admin: make someone else an admin first.")

    def sign_in(self, name: str, password: str, client: str | None = None) -> str:
        """A new session token for the user, or SignInFailed (`WRONG`, or a sentence saying how long
        to wait); `client` is the address the attempt came from (None: local, or unknown)."""
        name = (name or "").strip()[:MAX_USER_NAME_LENGTH + 1]
        client = (client or LOCAL_CLIENT)[:64]
        now = utcnow()
        wait = self._wait_before_attempt(name, client, now)
        reason = "throttled" if wait else self._password_refusal(name, password or "")
        token = new_session_token() if reason is None else None
        with self.transaction() as cur:
            cur.execute("INSERT INTO sign_ins (id, user_name, ok, reason, happened_at, client) VALUES (?, ?, ?, ?, ?, ?)",
                        [next_id(cur, "sign_ins"), name, token is not None, reason, now, client])
            if token is not None:
                cur.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, false)",
                            [token_digest(token), name, now, now + SESSION_LIFETIME])
        if wait:
            raise SignInFailed(throttled_sentence(wait))
        if token is None:
            raise SignInFailed(WRONG)
        return token

    def _wait_before_attempt(self, name: str, client: str, now) -> timedelta:
        """How long this client must still wait before trying `name` (zero: it may try now)."""
        by_name = self._failures(now, "user_name = ? AND client = ?", [name, client])
        by_client = self._failures(now, "client = ?", [client])
        return max(remaining_delay(*by_name, FREE_FAILURES, now), remaining_delay(*by_client, CLIENT_FREE_FAILURES, now))

    def _failures(self, now, match: str, params: list) -> tuple[int, object]:
        """Failed (not throttled) attempts matching `match` in the window since the last success that
        matches it, and when the last one happened."""
        since = now - FAILURE_WINDOW
        return self.query(
            f"SELECT count(*), max(happened_at) FROM sign_ins WHERE {match} AND NOT ok AND reason <> 'throttled' "
            f"AND happened_at > ? AND happened_at > (SELECT coalesce(max(happened_at), ?) FROM sign_ins "
            f"WHERE {match} AND ok)", [*params, since, since, *params])[0]

    def _password_refusal(self, name: str, password: str) -> str | None:
        """Why the password does not open `name` (recorded, never shown), or None when it does.

        An unknown name is checked against a decoy hash so that it takes as long as a known one."""
        rows = self.query("SELECT password_hash, active FROM users WHERE name = ?", [name])
        encoded, active = rows[0] if rows else (decoy_hash(), False)
        matches = verify_password(password, encoded)
        if not rows:
            return "unknown_user"
        if not matches:
            return "wrong_password"
        return None if active else "inactive"

    def principal_for(self, token: str | None) -> Principal | None:
        """The active user a session token belongs to; None for an unknown, expired or revoked one."""
        if not isinstance(token, str) or not token:
            return None
        rows = self.query(
            "SELECT u.name, u.role FROM sessions s JOIN users u ON u.name = s.user_name "
            "WHERE s.token_digest = ? AND NOT s.revoked AND s.expires_at > ? AND u.active",
            [token_digest(token), utcnow()])
        return Principal(*rows[0]) if rows else None

    def sign_out(self, token: str | None) -> None:
        if isinstance(token, str) and token:
            with self.transaction() as cur:
                cur.execute("UPDATE sessions SET revoked = true WHERE token_digest = ?", [token_digest(token)])

    def create_api_token(self, name: str, note: str, actor: str) -> str:
        """A new API token for the active user `name` (an admin's action); only its digest is kept,
        so the token is shown once, here."""
        self.require(actor, "manage_users")
        token = new_session_token()
        with self.transaction() as cur:
            require_user_row(cur, name)
            cur.execute("INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, ?, NULL)",
                        [token_digest(token), next_id(cur, "api_tokens"), name, (note or "")[:200], actor, utcnow()])
        return token

    def api_tokens(self) -> pd.DataFrame:
        return self.query_df("SELECT id, user_name, note, created_by, created_at, revoked_at FROM api_tokens "
                             "ORDER BY id")

    def revoke_api_token(self, token_id: int, actor: str) -> None:
        self.require(actor, "manage_users")
        with self.transaction() as cur:
            if not cur.execute("SELECT count(*) FROM api_tokens WHERE id = ?", [token_id]).fetchall()[0][0]:
                raise AccountError(f"There is no API token #{token_id}.")
            cur.execute("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
                        [utcnow(), token_id])

    def principal_for_api_token(self, token: str | None) -> Principal | None:
        """The active user an API token belongs to; None for an unknown or revoked one."""
        if not isinstance(token, str) or not token:
            return None
        rows = self.query("SELECT u.name, u.role FROM api_tokens t JOIN users u ON u.name = t.user_name "
                          "WHERE t.token_digest = ? AND t.revoked_at IS NULL AND u.active", [token_digest(token)])
        return Principal(*rows[0]) if rows else None


def remaining_delay(failures: int, last, free: int, now) -> timedelta:
    """What is left of the delay owed after `failures` failures, the last at `last`: none for the
    first `free`, then FIRST_DELAY, doubling with each further failure, at most MAX_DELAY."""
    if failures < free or last is None:
        return timedelta(0)
    delay = min(FIRST_DELAY * 2 ** min(failures - free, 20), MAX_DELAY)
    return max(last + delay - now, timedelta(0))


def throttled_sentence(wait: timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    span = f"{seconds} second{'s' * (seconds != 1)}" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    return f"Too many failed sign-ins from this address: wait {span}, then try again."


def active_admins(cur) -> int:
    return cur.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active").fetchall()[0][0]


def usable_name(name: str) -> str:
    try:
        name = validate_user_name((name or "").strip())
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    if name == OWNER:
        raise AccountError(f"'{OWNER}' is the command line's name; choose another user name.")
    return name


def require_role_name(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"Unknown role '{role}'; a role is one of {', '.join(ROLES)}.")


def require_user_row(cur, name: str) -> None:
    if not cur.execute("SELECT count(*) FROM users WHERE name = ?", [name]).fetchall()[0][0]:
        raise AccountError(f"There is no user called {name}.")


@functools.cache
def decoy_hash() -> str:
    """A hash of a random password, checked for unknown names so that they cost what known ones do."""
    return hash_password(secrets.token_urlsafe(16))
