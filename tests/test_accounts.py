"""Roles and permissions against a table written out here by hand, password hashes, session tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from curation import accounts
from curation.accounts import PermissionDenied, Principal

# The least role for each action, restated independently of the module so that a change there fails here.
LEAST_ROLE = {
    "label": "annotator", "flag": "annotator", "tag": "annotator", "undo": "annotator",
    "review_suggestion": "reviewer", "detect": "reviewer", "embed": "reviewer", "clean": "reviewer", "map": "annotator",
    "train": "reviewer", "audit": "reviewer", "export": "reviewer", "gather": "reviewer",
    "ingest": "admin", "manage_users": "admin", "settings": "admin", "edit_attributes": "admin",
    "adjudicate": "reviewer", "check": "admin", "backup": "admin",
    "quality": "reviewer", "discover": "reviewer", "propose": "reviewer",
}
RANK = {"annotator": 0, "reviewer": 1, "admin": 2}
PASSWORD = "correct horse battery"


def test_registry_is_the_table():
    assert {name: action.least_role for name, action in accounts.ACTIONS.items()} == LEAST_ROLE
    assert accounts.ROLES == ("annotator", "reviewer", "admin")


@pytest.mark.parametrize("action", sorted(LEAST_ROLE))
@pytest.mark.parametrize("role", ["annotator", "reviewer", "admin"])
def test_every_role_against_every_action(role, action):
    user = Principal("ada", role)
    if RANK[role] >= RANK[LEAST_ROLE[action]]:
        assert accounts.allowed(role, action)
        accounts.check(user, action)
    else:
        assert not accounts.allowed(role, action)
        with pytest.raises(PermissionDenied):
            accounts.check(user, action)


def test_refusal_is_one_plain_sentence():
    with pytest.raises(PermissionDenied) as refused:
        accounts.check(Principal("Ada", "annotator"), "train")
    assert str(refused.value) == "Signed in as an annotator, Ada may not train a model; ask a reviewer or an admin."
    with pytest.raises(PermissionDenied) as refused:
        accounts.check(Principal("Bo", "reviewer"), "manage_users")
    assert str(refused.value) == "Signed in as a reviewer, Bo may not manage users; ask an admin."
    assert isinstance(refused.value, PermissionError)


def test_unknown_action_and_role_are_refused_loudly():
    with pytest.raises(ValueError, match="Unknown action 'delete_everything'"):
        accounts.check(Principal("ada", "admin"), "delete_everything")
    with pytest.raises(ValueError, match="Unknown role 'owner'"):
        Principal("ada", "owner")


def test_single_user_is_an_admin_who_may_do_everything():
    user = accounts.single_user("ada")
    assert user == Principal("ada", "admin")
    for action in LEAST_ROLE:
        accounts.check(user, action)


def test_principal_is_frozen():
    with pytest.raises(AttributeError):
        Principal("ada", "annotator").role = "admin"


@pytest.mark.parametrize("name", ["ada", "Ada.Lovelace", "a_b-c.9", "x" * 64])
def test_valid_user_names(name):
    assert accounts.validate_user_name(name) == name


@pytest.mark.parametrize(
    "name, reason",
    [("", "cannot be empty"), ("x" * 65, "at most 64"), ("ada lovelace", "only letters"),
     ("ada/..", "only letters"), ("Zoë", "only letters"), ("ada\n", "only letters")],
)
def test_invalid_user_names(name, reason):
    with pytest.raises(ValueError, match=reason):
        accounts.validate_user_name(name)


def test_hash_round_trip_and_format():
    encoded = accounts.hash_password(PASSWORD)
    scheme, n, r, p, salt, digest = encoded.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert len(base64.b64decode(salt)) == 16
    expected = hashlib.scrypt(PASSWORD.encode(), salt=base64.b64decode(salt), n=2**14, r=8, p=1, dklen=32)
    assert base64.b64decode(digest) == expected
    assert accounts.verify_password(PASSWORD, encoded)


def test_wrong_password_is_refused():
    encoded = accounts.hash_password(PASSWORD)
    assert not accounts.verify_password(PASSWORD + "!", encoded)
    assert not accounts.verify_password("", encoded)


def test_two_hashes_of_one_password_differ():
    first, second = accounts.hash_password(PASSWORD), accounts.hash_password(PASSWORD)
    assert first != second
    assert first.split("$")[4] != second.split("$")[4]
    assert accounts.verify_password(PASSWORD, first) and accounts.verify_password(PASSWORD, second)


@pytest.mark.parametrize("password, reason", [("", "cannot be empty"), ("seven77", "at least 8")])
def test_short_passwords_are_rejected(password, reason):
    with pytest.raises(ValueError, match=reason):
        accounts.hash_password(password)


def tamper(encoded: str, field: int, value: str) -> str:
    parts = encoded.split("$")
    parts[field] = value
    return "$".join(parts)


def test_tampered_or_malformed_hashes_are_false_not_errors():
    encoded = accounts.hash_password(PASSWORD)
    digest = bytearray(base64.b64decode(encoded.split("$")[5]))
    digest[0] ^= 1
    malformed = [
        tamper(encoded, 5, base64.b64encode(bytes(digest)).decode()),
        tamper(encoded, 4, base64.b64encode(b"another salt 16b").decode()),
        tamper(encoded, 0, "bcrypt"),
        tamper(encoded, 1, "1000"),
        tamper(encoded, 1, "lots"),
        tamper(encoded, 1, str(2**30)),
        tamper(encoded, 3, "100000"),
        tamper(encoded, 5, "not base64!"),
        tamper(encoded, 5, ""),
        encoded + "$extra",
        encoded.rsplit("$", 1)[0],
        "",
        "plain text password",
        None,
    ]
    for stored in malformed:
        assert accounts.verify_password(PASSWORD, stored) is False, stored


def test_verify_uses_a_timing_safe_compare(monkeypatch):
    encoded = accounts.hash_password(PASSWORD)
    calls = []
    real_compare = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert accounts.verify_password(PASSWORD, encoded)
    assert not accounts.verify_password("wrong password", encoded)
    assert len(calls) == 2
    assert calls[0][1] == base64.b64decode(encoded.split("$")[5])


def test_hashing_is_slow_but_not_too_slow():
    started = time.perf_counter()
    accounts.hash_password(PASSWORD)
    elapsed = time.perf_counter() - started
    assert 0.010 < elapsed < 1.0, elapsed


def test_session_tokens_are_unique_and_stored_as_digests():
    tokens = {accounts.new_session_token() for _ in range(1000)}
    assert len(tokens) == 1000
    token = next(iter(tokens))
    assert len(token) >= 43 and set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    digest = accounts.token_digest(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert len(digest) == 64 and token not in digest
    assert accounts.token_digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
