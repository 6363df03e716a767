"""Account rules that read other records hold when another admin acts at the same moment.

Each race is made to happen every time: the other admin's change lands just before this
request's write, after any check a service could make first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, NoReturn

import pytest
from argon2 import PasswordHasher

from api.auth import service
from api.auth.models import Company, Role
from api.auth.service import AuthService
from api.auth.store import AccountStore
from graph.errors import BadRequest, Conflict, Unauthenticated

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "a-long-enough-password"


class _Meanwhile:
    """An account store on which `action` runs, on the real store, before `method` writes."""

    def __init__(self, store: AccountStore, method: str, action: Callable[[], object]) -> None:
        self._store, self._method, self._action = store, method, action

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if name != self._method:
            return found

        def raced(*args: Any, **kwargs: Any) -> Any:
            self._action()
            return found(*args, **kwargs)

        return raced


def _auth(store: AccountStore, method: str, action: Callable[[], object]) -> AuthService:
    return AuthService(_Meanwhile(store, method, action), hasher=FAST)  # type: ignore[arg-type]


def test_a_supplier_account_is_not_bound_to_a_company_turned_customer(
    accounts: AccountStore,
) -> None:
    plain = AuthService(accounts, hasher=FAST)
    plain.put_company("ACME", "Acme", "supplier")
    turned = _auth(accounts, "add_user", lambda: plain.put_company("ACME", "Acme", "customer"))
    with pytest.raises(BadRequest, match="is a customer, not a supplier"):
        turned.add_user("acme-1", PASSWORD, Role.SUPPLIER, "ACME")
    assert accounts.user("acme-1") is None


def test_a_company_does_not_change_kind_under_an_account_bound_meanwhile(
    accounts: AccountStore,
) -> None:
    plain = AuthService(accounts, hasher=FAST)
    plain.put_company("ACME", "Acme", "supplier")
    bound = _auth(
        accounts, "put_company", lambda: plain.add_user("acme-1", PASSWORD, "supplier", "ACME")
    )
    with pytest.raises(Conflict, match="accounts bound to it \\(acme-1\\)"):
        bound.put_company("ACME", "Acme", "customer")
    assert accounts.company("ACME") == Company(
        "ACME", "Acme", "supplier", created_at=plain.company("ACME").created_at
    )


def test_two_first_admins_at_once_make_one(accounts: AccountStore) -> None:
    plain = AuthService(accounts, hasher=FAST)
    second = _auth(accounts, "add_user", lambda: plain.add_first_admin("alice", PASSWORD))
    with pytest.raises(Conflict, match="an admin exists already"):
        second.add_first_admin("bob", PASSWORD)
    assert [u.username for u in plain.users()] == ["alice"]


@pytest.mark.parametrize("flag", ["share_lot_ids", "share_statuses"])
def test_supplier_sharing_flags_are_refused_for_a_customer(
    accounts: AccountStore, flag: str
) -> None:
    with pytest.raises(BadRequest, match="are for suppliers"):
        AuthService(accounts, hasher=FAST).put_company(
            "HOSP", "Hospital", "customer", **{flag: True}
        )
    assert accounts.company("HOSP") is None


@pytest.mark.parametrize("change", ["password", "disable"])
def test_a_login_checked_before_a_change_opens_no_session(
    accounts: AccountStore, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.secrets, "token_urlsafe", lambda size: "the-one-token")
    token = hashlib.sha256(b"tga_the-one-token").hexdigest()
    plain = AuthService(accounts, hasher=FAST)
    plain.add_user("alice", PASSWORD, Role.ANALYST)
    act: dict[str, Callable[[], object]] = {
        "password": lambda: plain.change_password("alice", PASSWORD, "another-long-password"),
        "disable": lambda: plain.set_disabled("alice", True),
    }
    raced = _auth(accounts, "add_token", act[change])
    with pytest.raises(Unauthenticated) as refused:
        raced.login("alice", PASSWORD)
    why = {"password": "wrong username or password", "disable": "this account is disabled"}
    assert str(refused.value) == why[change]
    trail = plain.account_events(subject="alice")
    assert trail[-1].action == "login_refused"
    reason = {"password": "password_changed", "disable": "disabled"}[change]
    assert trail[-1].detail["reason"] == reason
    assert "logged_in" not in [e.action for e in trail]
    if change == "disable":
        plain.set_disabled("alice", False)  # enabling it brings back no session either
    assert accounts.token(token) is None


def test_a_disable_ends_the_sessions_in_the_write_that_disables(accounts: AccountStore) -> None:
    plain = AuthService(accounts, hasher=FAST)
    plain.add_user("alice", PASSWORD, Role.ANALYST)
    token = plain.login("alice", PASSWORD).access_token

    def apart() -> NoReturn:
        raise AssertionError("the sessions ended in a write of their own")

    # Ended in a second write, they outlived a failure of it (another client holding a lock)
    # and worked again once the account was enabled.
    one_write = _auth(accounts, "drop_tokens", apart)
    one_write.set_disabled("alice", True)
    found = accounts.user("alice")
    assert found is not None and found.info.disabled
    plain.set_disabled("alice", False)  # enabling it again brings back no session
    with pytest.raises(Unauthenticated):
        plain.principal_from_token(token)


@pytest.mark.parametrize("change", ["reset", "disable", "own change"])
def test_a_password_change_checked_before_a_change_changes_nothing(
    accounts: AccountStore, change: str
) -> None:
    plain = AuthService(accounts, hasher=FAST)
    plain.add_user("alice", PASSWORD, Role.ANALYST)
    act: dict[str, Callable[[], object]] = {
        "reset": lambda: plain.reset_password("alice", "the-admins-password"),
        "disable": lambda: plain.set_disabled("alice", True),
        "own change": lambda: plain.change_password("alice", PASSWORD, "alices-new-password"),
    }
    raced = _auth(accounts, "set_password", act[change])
    with pytest.raises(Unauthenticated) as refused:
        raced.change_password("alice", PASSWORD, "someone-elses-password")
    why = "this account is disabled" if change == "disable" else "wrong username or password"
    assert str(refused.value) == why
    trail = plain.account_events(subject="alice")
    assert trail[-1].action == "password_change_refused"
    reason = "disabled" if change == "disable" else "password_changed"
    assert trail[-1].detail["reason"] == reason
    assert [e.action for e in trail].count("password_changed") == (change == "own change")
    # The password that landed first is the account's; the one checked against it opens nothing.
    if change == "disable":
        plain.set_disabled("alice", False)
    kept = {"reset": "the-admins-password", "disable": PASSWORD}
    plain.login("alice", kept.get(change, "alices-new-password"))
    with pytest.raises(Unauthenticated):
        plain.login("alice", "someone-elses-password")
