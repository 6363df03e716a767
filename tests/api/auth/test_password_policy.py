"""Password aging and reuse, on both account stores: off unless a plant's procedures set them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.auth import service
from api.auth.embedded import EmbeddedAccountStore
from api.auth.models import KEPT_HASHES
from api.auth.service import (
    AuthService,
    PasswordChangeRequired,
    PasswordExpired,
    TemporaryPasswordExpired,
)
from api.auth.store import AccountStore
from graph.errors import BadRequest, Unauthenticated
from tests.api.conftest import FAST_HASHER
from tests.conftest import neo4j_or_skip

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
A, B, C, D = ("password-aaaa", "password-bbbb", "password-cccc", "password-dddd")


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = START
        monkeypatch.setattr(service, "_now", lambda: self.now)

    def advance(self, days: int = 0, hours: int = 0) -> None:
        self.now += timedelta(days=days, hours=hours)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def _auth(accounts: AccountStore, **policy: int) -> AuthService:
    return AuthService(accounts, hasher=FAST_HASHER, **policy)


def test_an_aged_password_must_be_changed_before_the_next_login(
    accounts: AccountStore, clock: Clock
) -> None:
    auth = _auth(accounts, password_max_days=90)
    auth.add_user("ana", A, "analyst")
    clock.advance(90)
    assert auth.login("ana", A).access_token  # 90 days old: still good
    clock.advance(1)
    with pytest.raises(PasswordExpired, match=r"expired on 2026-05-30: .*POST /api/v1/auth/pass"):
        auth.login("ana", A)
    with pytest.raises(Unauthenticated):  # the expired password is still checked first
        auth.change_password("ana", B, C)
    auth.change_password("ana", A, B)
    assert auth.login("ana", B).access_token
    changed = accounts.user("ana")
    assert changed is not None and changed.info.password_set_at == "2026-05-31T08:00:00.000000Z"
    # Without a policy, passwords do not age.
    clock.advance(1000)
    assert _auth(accounts).login("ana", B).access_token


def test_a_change_may_not_bring_back_one_of_the_last_passwords(
    accounts: AccountStore, clock: Clock
) -> None:
    auth = _auth(accounts, password_history=3)
    auth.add_user("ana", A, "analyst")
    auth.change_password("ana", A, B)
    auth.change_password("ana", B, C)
    with pytest.raises(BadRequest, match="one of the last 3 of this account"):
        auth.change_password("ana", C, A)
    with pytest.raises(BadRequest, match="the new password is the current one"):
        auth.change_password("ana", C, C)
    _auth(accounts, password_history=2).change_password("ana", C, A)  # A is third from last
    assert auth.login("ana", A).access_token
    auth.change_password("ana", A, D)
    record = accounts.user("ana")
    assert record is not None and len(record.previous_hashes) == 4  # A, C, B, A: newest first


def test_a_disabled_account_cannot_change_its_password_without_a_session(
    accounts: AccountStore, clock: Clock
) -> None:
    auth = _auth(accounts)
    auth.add_user("ana", A, "analyst")
    auth.set_disabled("ana", True)
    with pytest.raises(Unauthenticated, match="disabled"):
        auth.change_password("ana", A, B)
    auth.set_disabled("ana", False)
    assert auth.login("ana", A).access_token


def test_a_password_an_admin_sets_is_replaced_by_the_user_before_logging_in(
    accounts: AccountStore, clock: Clock
) -> None:
    # Passwords an admin sets do not lapse here (they do by default: the next test).
    auth = _auth(accounts, password_max_days=30, temporary_password_hours=0)
    auth.add_user("ana", A, "analyst", must_change=True)
    with pytest.raises(PasswordChangeRequired, match=r"set by an admin: .*POST /api/v1/auth/pass"):
        auth.login("ana", A)
    with pytest.raises(Unauthenticated):  # the wrong password is refused as ever, first
        auth.login("ana", B)
    auth.change_password("ana", A, B)
    assert auth.login("ana", B).access_token
    # A reset for a forgotten password: the user's own again before the next login.
    auth.reset_password("ana", C, must_change=True)
    record = accounts.user("ana")
    assert record is not None and record.info.must_change_password
    clock.advance(31)  # set by an admin and aged: changing it is what both ask
    with pytest.raises(PasswordChangeRequired):
        auth.login("ana", C)
    auth.change_password("ana", C, D)
    assert auth.login("ana", D).access_token
    record = accounts.user("ana")
    assert record is not None and not record.info.must_change_password
    auth.reset_password("ana", A)  # one the admin means the user to keep
    assert auth.login("ana", A).access_token


def test_a_password_an_admin_sets_lapses_unless_the_user_replaces_it_in_time(
    accounts: AccountStore, clock: Clock
) -> None:
    auth = _auth(accounts)  # by default, within 72 hours
    auth.add_user("ana", A, "analyst", must_change=True)
    clock.advance(hours=72)
    with pytest.raises(PasswordChangeRequired):  # still the user's to replace
        auth.login("ana", A)
    clock.advance(hours=1)
    lapsed = r"set for 'ana' expired at 2026-03-04T08:00:00.000000Z, unused: ask an admin"
    with pytest.raises(TemporaryPasswordExpired, match=lapsed):
        auth.login("ana", A)
    with pytest.raises(TemporaryPasswordExpired, match=lapsed):
        auth.change_password("ana", A, B)
    with pytest.raises(Unauthenticated):  # a wrong password is refused as ever, first
        auth.change_password("ana", B, C)
    refusals = [
        (e.action, e.detail["reason"])
        for e in accounts.account_events(subject="ana")
        if e.action.endswith("_refused")
    ]
    assert refusals == [
        ("login_refused", "password_change_required"),
        ("login_refused", "temporary_password_expired"),
        ("password_change_refused", "temporary_password_expired"),
    ]
    # A new one from an admin opens the account again, for as long.
    auth.reset_password("ana", C, must_change=True)
    clock.advance(hours=71)
    auth.change_password("ana", C, D)
    assert auth.login("ana", D).access_token
    # One the user keeps does not lapse; nor, where a plant so decides, one to be replaced.
    auth.reset_password("ana", A)
    clock.advance(days=30)
    assert auth.login("ana", A).access_token
    auth.reset_password("ana", B, must_change=True)
    clock.advance(days=400)
    _auth(accounts, temporary_password_hours=0).change_password("ana", B, C)
    assert auth.login("ana", C).access_token


def test_the_store_keeps_the_newest_replaced_hashes_only(accounts: AccountStore) -> None:
    _auth(accounts).add_user("ana", A, "analyst")
    first = accounts.user("ana")
    assert first is not None and first.previous_hashes == ()
    for number in range(KEPT_HASHES + 2):
        assert accounts.set_password("ana", f"hash-{number}", f"2026-03-0{1 + number % 9}")
    record = accounts.user("ana")
    assert record is not None
    assert record.password_hash == f"hash-{KEPT_HASHES + 1}"
    assert record.previous_hashes == tuple(f"hash-{n}" for n in range(KEPT_HASHES, 0, -1))
    assert accounts.set_password("ghost", "h", "2026-03-01") is False


def test_an_older_file_gains_the_policy_columns(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "old.db"
    old = EmbeddedAccountStore(path)
    _auth(old).add_user("ana", A, "analyst")
    old.close()
    with sqlite3.connect(path) as conn:  # as a file from before the policy was kept
        conn.execute("ALTER TABLE users DROP COLUMN password_set_at")
        conn.execute("ALTER TABLE users DROP COLUMN previous_hashes")
        conn.execute("ALTER TABLE users DROP COLUMN must_change_password")
        conn.execute("DELETE FROM schema_stamps WHERE name = 'accounts'")
    reopened = EmbeddedAccountStore(path)
    record = reopened.user("ana")
    assert record is not None
    assert (record.info.password_set_at, record.previous_hashes) == (None, ())
    assert not record.info.must_change_password
    # A password of unknown age counts from the account's creation.
    clock.advance(31)
    with pytest.raises(PasswordExpired):
        _auth(reopened, password_max_days=30).login("ana", A)
    _auth(reopened, password_history=5).change_password("ana", A, B)
    changed = reopened.user("ana")
    assert changed is not None and changed.previous_hashes == (record.password_hash,)
    reopened.close()


def test_an_older_neo4j_user_need_not_change_its_password(request: pytest.FixtureRequest) -> None:
    target = neo4j_or_skip(request)
    from api.auth.neo4j import Neo4jAccountStore

    store = Neo4jAccountStore(target.uri, user=target.user, password=target.password)
    try:
        store.wipe()
        _auth(store).add_user("ana", A, "analyst")
        # A user as stored before the flag existed.
        store._driver.execute_query("MATCH (u:User) REMOVE u.must_change_password")
        record = store.user("ana")
        assert record is not None and not record.info.must_change_password
        assert _auth(store).login("ana", A).access_token
    finally:
        store.wipe()
        store.close()
