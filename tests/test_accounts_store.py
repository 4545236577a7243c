"""Team mode in the store: users, sign-in, sessions, lockout, and the role guard on every edit and job."""

from __future__ import annotations

from datetime import timedelta

import pytest

from curation import jobs
from helpers import make_operation
from curation.accounts import PermissionDenied, Principal
from curation.store import AccountError, SignInFailed, open_store
from curation.store import accounts as store_accounts

PASSWORD = "correct horse battery"
WRONG = "Wrong user name or password."


def make_team(store):
    """Team mode with one active user of each role and one deactivated user."""
    for name, role in (("adm", "admin"), ("rev", "reviewer"), ("ann", "annotator"), ("gone", "reviewer")):
        store.add_user(name, role, PASSWORD, "setup")
    store.deactivate_user("gone", "setup")
    store.set_team_mode(True, "setup")
    return store


@pytest.fixture
def team(project):
    """The fresh, empty project in team mode (`make_team`)."""
    return make_team(project)


@pytest.fixture
def clock(monkeypatch):
    """The store's clock for accounts, moved by hand: `clock.now += timedelta(...)`."""
    class Clock:
        now = store_accounts.utcnow()

    monkeypatch.setattr(store_accounts, "utcnow", lambda: Clock.now)
    return Clock


def attempts(store) -> list[tuple]:
    return store.query("SELECT user_name, ok, reason FROM sign_ins ORDER BY id")


def test_single_user_mode_needs_no_setup_and_everyone_is_an_admin(project):
    assert not project.team_mode()
    assert project.principal("ada") == Principal("ada", "admin")
    for action in ("label", "review_suggestion", "train", "ingest", "manage_users", "edit_attributes"):
        assert project.require("cleaning", action).role == "admin"
    project.define_attribute("gender", ["f", "m"], "ada")
    assert project.attributes() == {"gender": ["f", "m"]}


def test_team_mode_needs_an_active_admin_first(project):
    with pytest.raises(AccountError, match="Add an active admin"):
        project.set_team_mode(True, "ada")
    project.add_user("bo", "reviewer", PASSWORD, "ada")
    with pytest.raises(AccountError, match="Add an active admin"):
        project.set_team_mode(True, "ada")
    project.add_user("ada", "admin", PASSWORD, "ada")
    project.set_team_mode(True, "ada")
    assert project.team_mode()
    project.set_team_mode(False, "ada")
    assert not project.team_mode()


@pytest.mark.parametrize("name, role, password, message", [
    ("", "admin", PASSWORD, "cannot be empty"),
    ("a b", "admin", PASSWORD, "only letters"),
    ("cli", "admin", PASSWORD, "command line's name"),
    ("ok", "owner", PASSWORD, "Unknown role 'owner'"),
    ("ok", "admin", "short", "at least 8 characters"),
    ("adm", "admin", PASSWORD, "already a user called adm"),
])
def test_add_user_refuses_bad_input_with_a_sentence(team, name, role, password, message):
    with pytest.raises(AccountError, match=message):
        team.add_user(name, role, password, "adm")


def test_users_lists_no_password_hash(team):
    users = team.users()
    assert list(users.columns) == ["name", "role", "active", "created_by", "created_at"]
    assert dict(zip(users["name"], users["active"])) == {"adm": True, "ann": True, "gone": False, "rev": True}


def test_sign_in_gives_a_token_for_that_user_and_keeps_only_its_digest(team):
    token = team.sign_in(" ann ", PASSWORD)
    assert team.principal_for(token) == Principal("ann", "annotator")
    assert team.query("SELECT count(*) FROM sessions WHERE token_digest = ?", [token]) == [(0,)]
    assert attempts(team) == [("ann", True, None)]


@pytest.mark.parametrize("name, password, reason", [
    ("ann", "not the password", "wrong_password"),
    ("nobody", PASSWORD, "unknown_user"),
    ("gone", PASSWORD, "inactive"),
    ("", "", "unknown_user"),
])
def test_every_refused_sign_in_says_the_same_and_is_recorded(team, name, password, reason):
    with pytest.raises(SignInFailed) as refused:
        team.sign_in(name, password)
    assert str(refused.value) == WRONG
    assert attempts(team) == [(name, False, reason)]
    assert team.query("SELECT count(*) FROM sessions") == [(0,)]


def throttled(team, name: str, password: str, client: str | None = None) -> str:
    with pytest.raises(SignInFailed, match="Too many failed sign-ins from this address") as refused:
        team.sign_in(name, password, client)
    return str(refused.value)


def test_failures_from_one_address_slow_that_address_with_growing_delays(team, clock):
    for _ in range(store_accounts.FREE_FAILURES):
        with pytest.raises(SignInFailed, match=WRONG):
            team.sign_in("ann", "guess", "203.0.113.9")
    assert throttled(team, "ann", PASSWORD, "203.0.113.9").endswith("wait 2 seconds, then try again.")
    assert attempts(team)[-1] == ("ann", False, "throttled")
    delays = []
    for _ in range(4):
        wait = 1
        while True:
            clock.now += timedelta(seconds=1)
            try:
                team.sign_in("ann", "guess", "203.0.113.9")
            except SignInFailed as exc:
                if str(exc) == WRONG:
                    break
            wait += 1
        delays.append(wait)
    assert delays == [2, 4, 8, 16], "each failure doubles the wait"
    clock.now += timedelta(seconds=32)
    assert team.principal_for(team.sign_in("ann", PASSWORD, "203.0.113.9")).name == "ann"
    with pytest.raises(SignInFailed, match=WRONG):
        team.sign_in("ann", "guess", "203.0.113.9")


def test_a_stranger_cannot_lock_the_admin_out(team, clock):
    for _ in range(30):
        clock.now += timedelta(seconds=1)
        with pytest.raises(SignInFailed):
            team.sign_in("adm", "guess", "198.51.100.7")
    throttled(team, "adm", PASSWORD, "198.51.100.7")
    assert team.principal_for(team.sign_in("adm", PASSWORD, "192.0.2.10")).name == "adm"
    assert team.principal_for(team.sign_in("adm", PASSWORD)).name == "adm", "nor from this machine"


def test_many_names_from_one_address_slow_that_address(team, clock):
    for n in range(store_accounts.CLIENT_FREE_FAILURES):
        with pytest.raises(SignInFailed, match=WRONG):
            team.sign_in(f"guess{n}", "guess", "198.51.100.8")
    throttled(team, "ann", PASSWORD, "198.51.100.8")
    assert team.sign_in("ann", PASSWORD, "198.51.100.9")


def test_the_delay_is_capped(team, clock):
    for _ in range(40):
        clock.now += store_accounts.MAX_DELAY
        with pytest.raises(SignInFailed, match=WRONG):
            team.sign_in("ann", "guess", "203.0.113.1")
    assert "wait 10 minutes" in throttled(team, "ann", "guess", "203.0.113.1")


def test_unknown_names_slow_down_like_real_ones(team):
    for _ in range(store_accounts.FREE_FAILURES):
        with pytest.raises(SignInFailed, match=WRONG):
            team.sign_in("mallory", "guess")
    throttled(team, "mallory", "guess")


def test_a_success_resets_the_count_of_failures(team, clock):
    for _ in range(store_accounts.FREE_FAILURES - 1):
        with pytest.raises(SignInFailed):
            team.sign_in("ann", "guess")
    team.sign_in("ann", PASSWORD)
    for _ in range(store_accounts.FREE_FAILURES - 1):
        with pytest.raises(SignInFailed, match=WRONG):
            team.sign_in("ann", "guess")
    assert team.sign_in("ann", PASSWORD)


def test_sessions_expire_after_twelve_hours(team, clock):
    token = team.sign_in("rev", PASSWORD)
    clock.now += timedelta(hours=12) - timedelta(seconds=1)
    assert team.principal_for(token) == Principal("rev", "reviewer")
    clock.now += timedelta(seconds=2)
    assert team.principal_for(token) is None


@pytest.mark.parametrize("forged", [None, "", "x" * 43, 12345])
def test_forged_tokens_open_nothing(team, forged):
    team.sign_in("adm", PASSWORD)
    assert team.principal_for(forged) is None


def test_a_digest_from_the_database_is_no_token(team):
    token = team.sign_in("adm", PASSWORD)
    digest = team.query("SELECT token_digest FROM sessions")[0][0]
    assert team.principal_for(token) is not None and team.principal_for(digest) is None


def test_sign_out_and_deactivation_end_sessions(team):
    mine, theirs = team.sign_in("adm", PASSWORD), team.sign_in("ann", PASSWORD)
    team.sign_out(mine)
    assert team.principal_for(mine) is None
    team.deactivate_user("ann", "adm")
    assert team.principal_for(theirs) is None
    with pytest.raises(SignInFailed, match=WRONG):
        team.sign_in("ann", PASSWORD)


def test_a_role_change_takes_effect_at_once(team):
    token = team.sign_in("ann", PASSWORD)
    team.set_role("ann", "reviewer", "adm")
    assert team.principal_for(token) == Principal("ann", "reviewer")
    assert team.require("ann", "review_suggestion").role == "reviewer"


def test_the_last_admin_cannot_be_demoted_or_deactivated(team):
    for change in (lambda: team.set_role("adm", "reviewer", "adm"), lambda: team.deactivate_user("adm", "adm")):
        with pytest.raises(AccountError, match="at least one active admin"):
            change()
    assert team.principal("adm").role == "admin"
    team.set_role("rev", "admin", "adm")
    team.set_role("adm", "annotator", "rev")
    assert team.principal("adm").role == "annotator"


def test_unknown_and_deactivated_actors_are_refused_but_the_command_line_is_the_owner(team):
    for actor in ("mallory", "gone", None):
        with pytest.raises(PermissionDenied, match="sign in"):
            team.principal(actor)
    assert team.principal("cli") == Principal("cli", "admin")


def test_only_admins_manage_users_and_settings(team):
    for actor in ("rev", "ann"):
        with pytest.raises(PermissionDenied, match="may not manage users"):
            team.add_user("newbie", "annotator", PASSWORD, actor)
        with pytest.raises(PermissionDenied, match="may not manage users"):
            team.set_role("ann", "admin", actor)
        with pytest.raises(PermissionDenied, match="may not manage users"):
            team.deactivate_user("adm", actor)
        with pytest.raises(PermissionDenied, match="may not change project settings"):
            team.set_team_mode(False, actor)
    assert team.team_mode() and team.principal("ann").role == "annotator"


# Each guarded store method, called on nothing so that an allowed call changes nothing; the least role.
GUARDED = {
    "set_label": (lambda s, actor: s.set_label([], "cat", actor), "annotator"),
    "add_flag": (lambda s, actor: s.add_flag([], "other", "", actor), "annotator"),
    "clear_flags": (lambda s, actor: s.clear_flags([], None, actor), "annotator"),
    "undo_last": (lambda s, actor: s.undo_last(actor), "annotator"),
    "tag_images": (lambda s, actor: s.tag_images([], "gender", "f", actor), "annotator"),
    "decide_suggestions": (lambda s, actor: s.decide_suggestions([], True, actor), "reviewer"),
    "define_attribute": (lambda s, actor: s.define_attribute("gender", ["f", "m"], actor), "admin"),
}
ACTORS = {"annotator": "ann", "reviewer": "rev", "admin": "adm"}
RANK = ["annotator", "reviewer", "admin"]


@pytest.mark.parametrize("method", sorted(GUARDED))
def test_each_guarded_method_refuses_roles_below_its_own(team, method):
    call, least = GUARDED[method]
    team.define_attribute("gender", ["f", "m"], "adm")
    events_before = team.query("SELECT count(*) FROM events")
    for role, actor in ACTORS.items():
        if RANK.index(role) < RANK.index(least):
            with pytest.raises(PermissionDenied, match=f"Signed in as an? {role}, {actor} may not"):
                call(team, actor)
        else:
            call(team, actor)
    for outsider in ("mallory", "gone"):
        with pytest.raises(PermissionDenied, match="sign in"):
            call(team, outsider)
    assert team.query("SELECT count(*) FROM events") == events_before


def test_a_refused_edit_changes_nothing(project_copy):
    store = make_team(open_store(project_copy))
    try:
        image, = store.query("SELECT id FROM images WHERE status = 'ok' ORDER BY id LIMIT 1")[0]
        with pytest.raises(PermissionDenied):
            store.set_label([image], "stolen", "mallory")
        assert store.set_label([image], "renamed", "ann") == 1
        assert store.query("SELECT label FROM images WHERE id = ?", [image]) == [("renamed",)]
        assert store.query("SELECT actor FROM events") == [("ann",)]
    finally:
        store.close()


JOB_ROLES = {"clean": "reviewer", "train": "reviewer", "detect": "reviewer", "embed": "reviewer",
             "gather": "reviewer", "ingest": "admin"}


@pytest.mark.parametrize("kind", sorted(JOB_ROLES))
def test_jobs_are_refused_by_their_kind(team, monkeypatch, kind):
    monkeypatch.setitem(jobs.OPERATIONS, kind, make_operation(kind, lambda ctx: ("ran", False)))
    for role, actor in ACTORS.items():
        if RANK.index(role) < RANK.index(JOB_ROLES[kind]):
            with pytest.raises(PermissionDenied, match=f"{actor} may not"):
                jobs.start_job(team, kind, {}, actor, wait=True)
        else:
            assert team.job(jobs.start_job(team, kind, {}, actor, wait=True)).status == "done"
    with pytest.raises(PermissionDenied, match="sign in"):
        jobs.start_job(team, kind, {}, wait=True)
    assert {job.created_by for job in team.jobs(kind)} == {ACTORS[r] for r in RANK[RANK.index(JOB_ROLES[kind]):]}


def test_only_who_may_start_a_kind_may_cancel_it(team):
    job_id = team.create_job("train", {}, "rev")
    with pytest.raises(PermissionDenied, match="ann may not train"):
        team.request_cancel(job_id, "ann")
    with pytest.raises(PermissionDenied, match="sign in"):
        team.request_cancel(job_id)
    assert team.job(job_id).status == "running"
    team.request_cancel(job_id, "rev")
    assert team.job(job_id).status == "cancelling"


def test_single_user_mode_starts_jobs_with_or_without_an_actor(project, monkeypatch):
    monkeypatch.setitem(jobs.OPERATIONS, "ingest", make_operation("ingest", lambda ctx: ("ran", False)))
    assert project.job(jobs.start_job(project, "ingest", {}, "ada", wait=True)).status == "done"
    assert project.job(jobs.start_job(project, "ingest", {}, wait=True)).status == "done"


def test_the_command_line_adds_users_and_switches_team_mode(tmp_path, monkeypatch, capsys):
    from curation.cli import main

    root = str(tmp_path / "cli-project")
    assert main(["init", root]) == 0
    assert main(["team", root, "on"]) == 1
    monkeypatch.setenv("CURATION_PASSWORD", PASSWORD)
    assert main(["user", "add", root, "ada", "--role", "admin"]) == 0
    assert main(["team", root, "on"]) == 0
    assert main(["user", "add", root, "bo", "--role", "annotator"]) == 0, "the command line stays the owner"
    monkeypatch.setenv("CURATION_PASSWORD", "short")
    assert main(["user", "add", root, "cy", "--role", "reviewer"]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert errors == ["curation team: Add an active admin before turning team mode on: nobody could manage users.",
                      "curation user: A password needs at least 8 characters."]
    store = open_store(root)
    try:
        assert store.team_mode() and list(store.users()["name"]) == ["ada", "bo"]
        assert store.principal_for(store.sign_in("bo", PASSWORD)) == Principal("bo", "annotator")
    finally:
        store.close()
