"""Accounts are copied only into an empty account store, of either kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.auth.copy import copy_accounts
from api.auth.embedded import EmbeddedAccountStore
from api.auth.service import AuthService, PasswordChangeRequired
from api.auth.store import AccountStore
from graph.errors import BadRequest, Conflict, Unauthenticated


def test_a_target_holding_accounts_is_refused_and_left_as_it_was(
    accounts: AccountStore, tmp_path: Path
) -> None:
    source = EmbeddedAccountStore(tmp_path / "source.db")
    AuthService(source).put_company("POLY", "Polymed", "supplier")
    AuthService(accounts).put_company("ACME", "Acme", "supplier")
    with pytest.raises(Conflict, match="not empty: it holds companies"):
        copy_accounts(source, accounts)
    assert [c.company for c in accounts.companies()] == ["ACME"]
    source.close()


def test_users_keep_their_passwords_and_keys_their_revocations(
    accounts: AccountStore, tmp_path: Path
) -> None:
    source = EmbeddedAccountStore(tmp_path / "source.db")
    auth = AuthService(source)
    auth.add_user("ana", "correct horse battery", "analyst")
    auth.change_password("ana", "correct horse battery", "battery staple horse")
    key = auth.create_key("ana", "scanner")
    auth.revoke_key(key.info.key_id)
    auth.add_user("newcomer", "set by the admin", "operator", must_change=True)
    copied = copy_accounts(source, accounts)
    assert (copied.users, copied.keys) == (2, 1)
    # The trail as kept: the five changes above, in order.
    assert copied.trail == 5
    assert accounts.account_events(0, 100) == source.account_events(0, 100)
    with pytest.raises(PasswordChangeRequired):  # still the admin's password, not theirs
        AuthService(accounts).login("newcomer", "set by the admin")
    assert accounts.keys(None) == source.keys(None)
    assert accounts.user("ana") == source.user("ana")  # when set, and the hash it replaced
    assert accounts.keys(None)[0].info.revoked_at is not None
    assert AuthService(accounts).login("ana", "battery staple horse").access_token
    with pytest.raises(BadRequest, match="one of the last 2"):
        AuthService(accounts, password_history=2).change_password(
            "ana", "battery staple horse", "correct horse battery"
        )
    source.close()


def test_a_target_holding_only_an_audit_trail_is_refused(
    accounts: AccountStore, tmp_path: Path
) -> None:
    source = EmbeddedAccountStore(tmp_path / "source.db")
    with pytest.raises(Unauthenticated):
        AuthService(accounts).login("someone", "a guess at it")
    with pytest.raises(Conflict, match="it holds an account audit trail"):
        copy_accounts(source, accounts)
    source.close()
