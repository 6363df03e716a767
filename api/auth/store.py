"""The account store port: users, API keys, access tokens and partner companies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from api.auth.models import (
    AccountEvent,
    ApiKeyRecord,
    Company,
    Partner,
    PartnerAnswer,
    TokenRecord,
    UserRecord,
)


class AccountStore(Protocol):
    """Persistence for accounts; lives in the same database as the graph.

    Every change an admin or a user makes may carry `noted`, its entry of the account audit
    trail: it is written in the transaction that makes the change, and only if the change is
    made (a method that returns False or 0 changed nothing and writes no entry).
    """

    def add_user(
        self,
        user: UserRecord,
        *,
        company_kind: str | None = None,
        first_admin: bool = False,
        noted: AccountEvent | None = None,
        copied: bool = False,
    ) -> None:
        """Insert a user; raise Conflict if the username is taken, or one differs from it only
        in case (unless `copied`: carried as another store holds it, which may be both).

        With `company_kind`, BadRequest unless the user's company is registered as that kind;
        with `first_admin`, Conflict if an active admin exists. All are checked in the
        transaction that inserts, so two racing requests cannot both pass: the company first,
        then the admin, then the name, so that both stores refuse a user for the same reason.
        """
        ...

    def user(self, username: str) -> UserRecord | None: ...

    def login_user(self, username: str) -> UserRecord | None:
        """Return the user `username` logs in as (rows.one_login): the one whose name it is
        whatever its case, or, where several are, exactly; None if there is none."""
        ...

    def users(self) -> list[UserRecord]:
        """Return every user, ordered by username."""
        ...

    def set_disabled(
        self, username: str, disabled: bool, *, noted: AccountEvent | None = None
    ) -> bool:
        """Set the flag, and with it set, delete the user's access tokens in the same
        transaction (its sessions end); return False if there is no such user."""
        ...

    def set_password(
        self,
        username: str,
        password_hash: str,
        at: str,
        *,
        must_change: bool = False,
        replacing: str | None = None,
        noted: AccountEvent | None = None,
    ) -> bool:
        """Replace a user's password hash (the replaced one joins the user's previous hashes,
        newest first, at most KEPT_HASHES), note when (`at`) and whether the user must change
        it before logging in, and delete its access tokens, in one transaction.

        With `replacing` (the hash a user's own change was checked against), only while it is
        still the user's password and the account is enabled, checked in the transaction that
        writes: a change checked against a password replaced meanwhile, or made as the account
        was disabled, changes nothing. Return False, writing nothing, when there is no such
        user or it is not.
        """
        ...

    def add_key(self, key: ApiKeyRecord, *, noted: AccountEvent | None = None) -> None: ...

    def key(self, key_id: str) -> ApiKeyRecord | None: ...

    def keys(self, username: str | None) -> list[ApiKeyRecord]:
        """Return keys (of one user, or all), ordered by creation time then id."""
        ...

    def revoke_key(self, key_id: str, at: str, *, noted: AccountEvent | None = None) -> bool:
        """Mark a live key revoked; return False if there is no such live key."""
        ...

    def add_token(
        self,
        token: TokenRecord,
        *,
        password_hash: str | None = None,
        noted: AccountEvent | None = None,
    ) -> bool:
        """Insert an access token; raise Conflict if its hash is already stored.

        With `password_hash`, only while it is still the user's password and the account is
        enabled, checked in the transaction that inserts: a login whose password was replaced
        (or whose account was disabled) after it was checked opens no session. Return False,
        writing nothing, when it is not.
        """
        ...

    def token(self, token_hash: str) -> TokenRecord | None: ...

    def drop_expired_tokens(self, now: str) -> int: ...

    def drop_token(self, token_hash: str, *, noted: AccountEvent | None = None) -> bool:
        """Delete one access token (its session ends); return False if there was none."""
        ...

    def drop_tokens(self, username: str) -> int:
        """Delete every access token of a user (its sessions end); return how many."""
        ...

    def put_company(self, company: Company, *, noted: AccountEvent | None = None) -> None:
        """Insert or replace a company's profile; Conflict if its kind would change while
        accounts are bound to it (checked in the transaction that writes)."""
        ...

    def company(self, company: str) -> Company | None: ...

    def companies(self) -> list[Company]:
        """Return every company, ordered by id."""
        ...

    # -- federation partners and their cached answers

    def put_partner(self, partner: Partner, *, noted: AccountEvent | None = None) -> None:
        """Insert or replace a partner instance; a new address or key forgets cached answers."""
        ...

    def partner(self, company: str) -> Partner | None: ...

    def partners(self) -> list[Partner]:
        """Return every partner, ordered by company id."""
        ...

    def remove_partner(self, company: str, *, noted: AccountEvent | None = None) -> bool:
        """Delete a partner and its cached answers; return False if there was none."""
        ...

    def put_partner_answer(self, answer: PartnerAnswer) -> None:
        """Insert or replace the cached answer to one request of one partner."""
        ...

    def partner_answer(self, partner: str, request: str) -> PartnerAnswer | None: ...

    def drop_partner_answers(self, partner: str, code: str) -> None:
        """Forget every cached answer about `code`, whatever the hops or depth it was asked with."""
        ...

    # -- the account audit trail (append-only)

    def note(self, event: AccountEvent) -> None:
        """Write an entry that goes with no change of the store's (a login, a failed one)."""
        ...

    def account_events(
        self, after: int = 0, limit: int = 100, subject: str | None = None
    ) -> list[AccountEvent]:
        """Return up to `limit` entries after position `after` (of one subject), in order."""
        ...

    def keep_account_events(self, events: Sequence[AccountEvent]) -> None:
        """Write entries as another store kept them, at their positions (a store copy)."""
        ...

    def close(self) -> None: ...
