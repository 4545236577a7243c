"""Local accounts and roles: who may do what, password hashes and session tokens. Pure: no database.

Three roles, each allowed everything the one before it is:

- annotator: label, flag and tag images, lay out the map, and undo those edits (undo appends the
  inverse event, so nothing is lost);
- reviewer: also decide on cleaning suggestions and run the steps that spend compute or leave the
  project: detection, embedding, cleaning, training, audits, exports, and gathering from the web
  (which spends provider quotas and keys);
- admin: also ingest files from paths on the server's disk, manage users, change project settings
  and define the audited attributes (what the dataset records about people).

Every action the app guards is in ACTIONS with the least role that may do it; an action missing
from it is a programming error, refused loudly rather than allowed.

In single-user mode (no accounts configured) the app acts as `single_user(name)`, an admin, so a
person working alone meets no sign-in and no refusal.

The database stores only `hash_password` output and `token_digest` output, never a password or a
session token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from .names import check_name

ROLES = ("annotator", "reviewer", "admin")

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_LENGTH = 8
MAX_USER_NAME_LENGTH = 64
# Bounds on what a stored hash may ask for: room for stronger parameters later, yet a tampered
# hash cannot make one sign-in take gigabytes of memory or minutes of CPU.
SCRYPT_MAX_MEMORY = 64 * 1024 * 1024
SCRYPT_MAX_WORK = 16 * SCRYPT_N * SCRYPT_R * SCRYPT_P

_USER_NAME = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Action:
    """An action the app guards: the least role allowed, and the words that finish "may not ..."."""

    name: str
    least_role: str
    phrase: str


ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action("label", "annotator", "label images"),
        Action("flag", "annotator", "flag images"),
        Action("tag", "annotator", "tag images"),
        Action("undo", "annotator", "undo an edit"),
        Action("review_suggestion", "reviewer", "accept or reject cleaning suggestions"),
        Action("detect", "reviewer", "run face detection"),
        Action("embed", "reviewer", "compute embeddings"),
        Action("clean", "reviewer", "run identity cleaning"),
        Action("map", "annotator", "lay out the map of embeddings"),
        Action("train", "reviewer", "train a model"),
        Action("audit", "reviewer", "run a bias audit"),
        Action("export", "reviewer", "export the dataset"),
        Action("gather", "reviewer", "gather images from the web"),
        Action("ingest", "admin", "ingest files from the server"),
        Action("manage_users", "admin", "manage users"),
        Action("settings", "admin", "change project settings"),
        Action("edit_attributes", "admin", "edit the audited attributes"),
        Action("adjudicate", "reviewer", "settle disagreements between annotators"),
        Action("check", "admin", "check the project's files and repair what can be rebuilt"),
        Action("backup", "admin", "back the project up"),
        Action("quality", "reviewer", "run the image quality checks"),
        Action("discover", "reviewer", "discover people among unlabelled faces"),
        Action("propose", "reviewer", "propose attribute values from the tags"),
    )
}


class PermissionDenied(PermissionError):
    """Raised by `check`; its message is one plain sentence that says whom to ask."""


@dataclass(frozen=True)
class Principal:
    """The person the app acts for: a user name and one of ROLES."""

    name: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"Unknown role {self.role!r}; a role is one of {', '.join(ROLES)}.")


def single_user(name: str) -> Principal:
    """The principal of single-user mode: the person at the keyboard, as an admin."""
    return Principal(name, "admin")


def allowed(role: str, action: str) -> bool:
    """Whether `role` may do `action`; ValueError for an action or role nobody registered."""
    return _rank(role) >= _rank(_action(action).least_role)


def check(user: Principal, action: str) -> None:
    """Raise PermissionDenied unless `user` may do `action`."""
    if allowed(user.role, action):
        return
    entry = _action(action)
    askable = " or ".join(_with_article(role) for role in ROLES[_rank(entry.least_role):])
    raise PermissionDenied(
        f"Signed in as {_with_article(user.role)}, {user.name} may not {entry.phrase}; ask {askable}."
    )


def validate_user_name(name: str) -> str:
    """Return `name` if it can name an account, else raise ValueError with the reason."""
    if not name:
        raise ValueError("A user name cannot be empty.")
    if len(name) > MAX_USER_NAME_LENGTH:
        raise ValueError(f"A user name has at most {MAX_USER_NAME_LENGTH} characters.")
    if not _USER_NAME.fullmatch(name):
        raise ValueError("A user name may use only letters A-Z, digits, dots, underscores and hyphens.")
    return check_name(name, "user name", MAX_USER_NAME_LENGTH)


def hash_password(password: str) -> str:
    """A salted scrypt hash, `scrypt$n$r$p$salt_b64$hash_b64`; ValueError for an empty or short password."""
    _require_strong_enough(password)
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches the stored hash; False (never an exception) for a malformed hash."""
    try:
        n, r, p, salt, expected = _parse(encoded)
        actual = _scrypt(password, salt, n, r, p, length=len(expected))
    except (ValueError, TypeError, AttributeError, binascii.Error, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def new_session_token() -> str:
    """A fresh session token for the browser's cookie (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest of a token: what the database keeps, so a leaked table opens no session."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _action(name: str) -> Action:
    if name not in ACTIONS:
        raise ValueError(f"Unknown action {name!r}; register it in curation.accounts.ACTIONS.")
    return ACTIONS[name]


def _rank(role: str) -> int:
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; a role is one of {', '.join(ROLES)}.")
    return ROLES.index(role)


def _with_article(role: str) -> str:
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"


def _require_strong_enough(password: str) -> None:
    if not password:
        raise ValueError("A password cannot be empty.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int = HASH_BYTES) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAX_MEMORY, dklen=length
    )


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """The parameters, salt and hash of a stored hash; ValueError (or binascii.Error) when malformed."""
    scheme, n, r, p, salt, digest = encoded.split("$")
    if scheme != "scrypt":
        raise ValueError(f"not an scrypt hash: {scheme!r}")
    cost, salt_bytes, digest_bytes = (int(n), int(r), int(p)), _unb64(salt), _unb64(digest)
    if cost[0] * cost[1] * cost[2] > SCRYPT_MAX_WORK:
        raise ValueError("scrypt parameters beyond the allowed work")
    if not salt_bytes or not digest_bytes:
        raise ValueError("empty salt or hash")
    return *cost, salt_bytes, digest_bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
