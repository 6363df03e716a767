"""Copy the accounts beside a plant into an empty account store, with the plant (ingest.store_copy).

Users keep their password hashes, API keys their secrets' hashes and revocations, partners the
keys we hold at their instances, and the account audit trail its entries at their positions.
Access tokens are not copied: every session ends with the move, and people log in to the new
store. Partners' cached answers are not copied either: they are a cache, fetched again when
next asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from api.auth.models import ApiKeyRecord, Company, Partner, UserRecord
from api.auth.store import AccountStore
from graph.errors import Conflict
from ingest.store_copy import NOT_A_COPY, CopyMismatch

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AccountsCopy:
    companies: int
    users: int
    keys: int
    partners: int
    trail: int


# Audit entries read and written at once.
TRAIL_CHUNK = 5000


def account_contents(store: AccountStore) -> list[str]:
    """Name what an account store holds, for refusing to copy onto it; empty if nothing."""
    held = []
    for what, found in (
        ("companies", store.companies()),
        ("users", store.users()),
        ("API keys", store.keys(None)),
        ("partners", store.partners()),
        ("an account audit trail", store.account_events(0, 1)),
    ):
        if found:
            held.append(what)
    return held


@dataclass(frozen=True, slots=True)
class _Missing:
    """What the target lacks of the source's accounts."""

    companies: list[Company]
    users: list[UserRecord]
    keys: list[ApiKeyRecord]
    partners: list[Partner]
    trail_held: tuple[int, int]  # (position, entries): how much of the trail the target holds


def accounts_to_copy(source: AccountStore, target: AccountStore, *, resume: bool) -> _Missing:
    """Return what `copy_accounts` would write, and raise the Conflict it would raise, without
    writing anything: a resumed copy checks the accounts before it carries the plant on."""
    if not resume:
        held = account_contents(target)
        if held:
            raise Conflict(f"the target store is not empty: it holds {', '.join(held)}")
    return _Missing(
        _missing("companies", source.companies(), target.companies(), _company),
        _missing("users", source.users(), target.users(), _user),
        _missing("API keys", source.keys(None), target.keys(None), _key),
        _missing("partners", source.partners(), target.partners(), _company),
        _trail_held(source, target),
    )


def copy_accounts(
    source: AccountStore, target: AccountStore, *, resume: bool = False
) -> AccountsCopy:
    """Copy companies, users, API keys, partners and the audit trail; raise Conflict if the
    target holds any, or with `resume`, any that is not the source's as it is there."""
    missing = accounts_to_copy(source, target, resume=resume)
    # Companies first: a supplier's or customer's account is bound to its company.
    for company in missing.companies:
        target.put_company(company)
    for user in missing.users:
        target.add_user(user, copied=True)
    for key in missing.keys:
        target.add_key(key)
    for partner in missing.partners:
        target.put_partner(partner)
    trail = _copy_trail(source, target, *missing.trail_held)
    companies, users = source.companies(), source.users()
    keys, partners = source.keys(None), source.partners()
    copied = (target.companies(), target.users(), target.keys(None), target.partners())
    if copied != (companies, users, keys, partners):
        raise CopyMismatch("the copy's accounts differ from the source's after the copy")
    return AccountsCopy(len(companies), len(users), len(keys), len(partners), trail)


def _missing(what: str, mine: list[T], theirs: list[T], key: Callable[[T], str]) -> list[T]:
    """Return those of `mine` the target lacks; raise Conflict if it holds any other."""
    kept = {key(record): record for record in mine}
    for record in theirs:
        if kept.get(key(record)) != record:
            raise Conflict(f"{NOT_A_COPY}: its {what} differ from this store's ({key(record)!r})")
    held = {key(record) for record in theirs}
    return [record for record in mine if key(record) not in held]


def _company(record: Company | Partner) -> str:
    return record.company


def _user(record: UserRecord) -> str:
    return record.info.username


def _key(record: ApiKeyRecord) -> str:
    return record.info.key_id


def _trail_held(source: AccountStore, target: AccountStore) -> tuple[int, int]:
    """Return the position up to which the target holds the source's audit trail (a copy that
    stopped) and how many entries that is; raise Conflict if what it holds is not the
    beginning of the source's."""
    after = count = 0
    while held := target.account_events(after, TRAIL_CHUNK):
        if source.account_events(after, len(held)) != held:
            raise Conflict(f"{NOT_A_COPY}: its account audit trail differs after position {after}")
        after, count = held[-1].seq, count + len(held)
    return after, count


def _copy_trail(source: AccountStore, target: AccountStore, after: int, copied: int) -> int:
    """Copy the audit trail after position `after`, chunk by chunk, checking each chunk as the
    target reads it back; return the number of entries the target holds."""
    while chunk := source.account_events(after, TRAIL_CHUNK):
        target.keep_account_events(chunk)
        if target.account_events(after, len(chunk)) != chunk:
            raise CopyMismatch(f"the copy's account audit trail differs after position {after}")
        after, copied = chunk[-1].seq, copied + len(chunk)
    return copied
