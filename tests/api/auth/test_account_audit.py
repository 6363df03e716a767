"""The account audit trail on both account stores: who changed which account, and logins."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from api.auth.embedded import EmbeddedAccountStore
from api.auth.models import AccountEvent
from api.auth.service import AuthService, PasswordChangeRequired
from api.auth.store import AccountStore
from api.auth.throttle import LoginThrottle, TooManyAttempts
from api.federation.client import HttpPartnerClient
from api.federation.service import FederationService
from graph.errors import BadRequest, Conflict, NotFound, Unauthenticated
from tests.api.auth.test_account_store import T0, T1, user
from tests.api.conftest import FAST_HASHER

BOSS = "boss"
SECRETS = ("given-by-boss-1", "anas-own-pass-2", "wrong-guess-333", "partner-key-xyz")


def entry(action: str, subject: str, **detail: object) -> AccountEvent:
    return AccountEvent(T0, BOSS, action, subject, dict(detail))


def trail(accounts: AccountStore) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.subject) for e in accounts.account_events(0, 1000)]


def test_an_entry_is_written_with_its_change_and_only_if_the_change_is_made(
    accounts: AccountStore,
) -> None:
    accounts.add_user(user("ana"), noted=entry("user_added", "ana", role="analyst", site=None))
    with pytest.raises(Conflict):
        accounts.add_user(user("ana"), noted=entry("user_added", "ana"))
    assert accounts.set_disabled("ghost", True, noted=entry("user_disabled", "ghost")) is False
    assert accounts.set_password("ghost", "h", T1, noted=entry("password_reset", "ghost")) is False
    assert accounts.revoke_key("nokey", T1, noted=entry("key_revoked", "nokey")) is False
    assert accounts.remove_partner("NOBODY", noted=entry("partner_removed", "NOBODY")) is False
    assert accounts.set_disabled("ana", True, noted=entry("user_disabled", "ana")) is True
    events = accounts.account_events()
    assert [(e.seq, e.action, e.subject) for e in events] == [
        (1, "user_added", "ana"),
        (2, "user_disabled", "ana"),
    ]
    assert events[0] == AccountEvent(
        T0, BOSS, "user_added", "ana", {"role": "analyst", "site": None}, 1
    )


def test_a_refused_change_writes_no_entry(accounts: AccountStore) -> None:
    supplier = user("acme", company="ACME")
    with pytest.raises(BadRequest):  # no such company: the insert is refused in its transaction
        accounts.add_user(supplier, company_kind="supplier", noted=entry("user_added", "acme"))
    assert accounts.account_events() == []


def test_the_trail_is_read_in_pages_and_by_subject(accounts: AccountStore) -> None:
    for number in range(7):
        accounts.note(entry("logged_in", f"user-{number % 2}", client="10.0.0.1", n=number))
    assert [e.seq for e in accounts.account_events(after=2, limit=3)] == [3, 4, 5]
    assert [e.detail["n"] for e in accounts.account_events(subject="user-1")] == [1, 3, 5]
    assert [e.seq for e in accounts.account_events(after=4, subject="user-1")] == [6]
    assert accounts.account_events(after=7) == []


def test_a_copied_trail_keeps_its_positions_and_the_next_entry_follows_it(
    accounts: AccountStore,
) -> None:
    kept = [
        AccountEvent(T0, "x", "user_added", "ana", {"role": "admin", "first_admin": True}, 4),
        AccountEvent(T1, "y", "logged_in", "ana", {"client": None}, 9),
    ]
    accounts.keep_account_events(kept)
    accounts.note(entry("user_disabled", "ana"))
    events = accounts.account_events()
    assert events[:2] == kept
    assert [e.seq for e in events] == [4, 9, 10]


def test_the_embedded_trail_cannot_be_changed_or_emptied(tmp_path: Path) -> None:
    store = EmbeddedAccountStore(tmp_path / "trail.db")
    store.note(entry("logged_in", "ana"))
    store.close()
    with sqlite3.connect(tmp_path / "trail.db") as conn:
        for statement in (
            "UPDATE account_events SET actor = 'someone else'",
            "DELETE FROM account_events",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
    reopened = EmbeddedAccountStore(tmp_path / "trail.db")
    assert [e.actor for e in reopened.account_events()] == [BOSS]
    reopened.close()


def test_a_lockout_is_kept_once_and_the_refusals_after_it_are_not(
    accounts: AccountStore,
) -> None:
    throttle = LoginThrottle(per_account=2, per_client=3)
    auth = AuthService(accounts, hasher=FAST_HASHER, throttle=throttle)
    auth.acting_for(BOSS).add_user("ana", "given-by-boss-1", "analyst")
    for guess in ("wrong-guess-333", "wrong-guess-444", "given-by-boss-1"):
        with pytest.raises((Unauthenticated, TooManyAttempts)):
            auth.login("ana", guess, client="10.0.0.7")
    for name in ("bob", "carl"):  # the client's third failure, then its lockout
        with pytest.raises((Unauthenticated, TooManyAttempts)):
            auth.login(name, "wrong-guess-333", client="10.0.0.7")
    assert trail(accounts)[1:] == [
        ("ana", "login_failed", "ana"),
        ("ana", "login_failed", "ana"),
        ("ana", "login_throttled", "ana"),
        ("bob", "login_failed", "bob"),
        ("bob", "login_throttled", "bob"),
    ]
    entries = accounts.account_events()
    by_account, by_client = entries[3].detail, entries[5].detail
    assert by_account["by"] == "account" and by_client["by"] == "client"
    assert (by_account["failures"], by_client["failures"]) == (2, 3)
    assert by_account["window_s"] == 600 and 0 < by_account["retry_after_s"] <= 600
    assert by_client["client"] == "10.0.0.7"


def test_an_admins_changes_and_the_users_logins_are_kept_in_order(
    accounts: AccountStore,
) -> None:
    auth = AuthService(accounts, hasher=FAST_HASHER)
    boss = auth.acting_for(BOSS)
    boss.put_company("ACME", "Acme Steel", "supplier", share_lot_ids=True)
    boss.add_user("ana", "given-by-boss-1", "analyst", must_change=True)
    with pytest.raises(Unauthenticated):
        auth.login("ana", "wrong-guess-333", client="10.0.0.7")
    with pytest.raises(Unauthenticated):
        auth.login("nobody", "wrong-guess-333", client="10.0.0.7")
    with pytest.raises(PasswordChangeRequired):
        auth.login("ana", "given-by-boss-1", client="10.0.0.7")
    auth.change_password("ana", "given-by-boss-1", "anas-own-pass-2", client="10.0.0.7")
    session = auth.login("ana", "anas-own-pass-2", client="10.0.0.7")
    auth.logout(session.access_token, client="10.0.0.8")
    with pytest.raises(Unauthenticated):  # ended already: no entry
        auth.logout(session.access_token, client="10.0.0.8")
    key = boss.create_key("ana", "scanner")
    boss.revoke_key(key.info.key_id)
    boss.set_disabled("ana", True)
    boss.set_disabled("ana", False)
    with pytest.raises(NotFound):  # refused: no entry
        boss.set_disabled("ghost", True)
    assert trail(accounts) == [
        (BOSS, "company_set", "ACME"),
        (BOSS, "user_added", "ana"),
        ("ana", "login_failed", "ana"),
        ("nobody", "login_failed", "nobody"),
        ("ana", "login_refused", "ana"),
        ("ana", "password_changed", "ana"),
        ("ana", "logged_in", "ana"),
        ("ana", "logged_out", "ana"),
        (BOSS, "key_created", key.info.key_id),
        (BOSS, "key_revoked", key.info.key_id),
        (BOSS, "user_disabled", "ana"),
        (BOSS, "user_enabled", "ana"),
    ]
    events = accounts.account_events()
    assert events[0].detail == {
        "name": "Acme Steel",
        "kind": "supplier",
        "share_lot_ids": True,
        "share_statuses": False,
        "share_upstream": False,
        "share_steps": False,
        "reshare": False,
    }
    assert events[1].detail == {
        "role": "analyst",
        "company": None,
        "site": None,
        "must_change_password": True,
    }
    assert [e.detail["known"] for e in events[2:4]] == [True, False]
    assert events[2].detail["client"] == "10.0.0.7"
    assert events[4].detail["reason"] == "password_change_required"
    assert events[7].detail == {"client": "10.0.0.8"}
    assert events[8].detail == {"username": "ana", "label": "scanner"}
    written = json.dumps([e.detail for e in events])
    assert not any(secret in written for secret in (*SECRETS, session.access_token))
    assert "$argon2" not in written


def test_a_reset_names_the_admin_and_whether_the_user_must_change_it(
    accounts: AccountStore,
) -> None:
    auth = AuthService(accounts, hasher=FAST_HASHER)
    auth.add_user("ana", "given-by-boss-1", "analyst")
    auth.acting_for(BOSS).reset_password("ana", "anas-own-pass-2", must_change=True)
    with pytest.raises(NotFound):
        auth.acting_for(BOSS).reset_password("ghost", "anas-own-pass-2")
    last = accounts.account_events()[-1]
    assert (last.actor, last.action, last.subject) == (BOSS, "password_reset", "ana")
    assert last.detail == {"must_change_password": True}
    # Without an actor, the service acts as the system (the demo's setup).
    assert accounts.account_events()[0].actor == "system"


def test_a_partner_entry_says_whether_the_key_changed_never_what_it_is(
    accounts: AccountStore,
) -> None:
    AuthService(accounts, hasher=FAST_HASHER).put_company("ACME", "Acme", "customer")
    federation = FederationService(accounts, HttpPartnerClient(), instance="plant").acting_for(BOSS)
    federation.put_partner("ACME", "https://acme.example", "partner-key-xyz")
    federation.put_partner("ACME", "https://acme.example", "partner-key-xyz", timeout_s=2)
    federation.put_partner("ACME", "https://acme.example", "partner-key-new")
    federation.remove_partner("ACME")
    with pytest.raises(NotFound):
        federation.remove_partner("ACME")
    events = accounts.account_events()[1:]
    assert [(e.actor, e.action) for e in events] == [
        (BOSS, "partner_set"),
        (BOSS, "partner_set"),
        (BOSS, "partner_set"),
        (BOSS, "partner_removed"),
    ]
    assert [e.detail["key_changed"] for e in events[:3]] == [True, False, True]
    assert events[1].detail["timeout_s"] == 2.0
    assert "partner-key" not in json.dumps([e.detail for e in events])


def test_a_page_of_the_trail_is_bounded(accounts: AccountStore) -> None:
    auth = AuthService(accounts, hasher=FAST_HASHER)
    for limit in (0, 1001):
        with pytest.raises(BadRequest, match="limit must be between 1 and 1000"):
            auth.account_events(0, limit)
    with pytest.raises(BadRequest, match="after"):
        auth.account_events(-1, 10)
