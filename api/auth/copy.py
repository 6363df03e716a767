"""Copy the accounts beside a plant into an empty account store, with the plant (ingest.store_copy).

Users keep their password hashes, API keys their secrets' hashes and revocations, partners the
keys we hold at their instances, and the account audit trail its entries at their positions.
Access tokens are not copied: every session ends with the move, and people log in to the new
store. Partners' cached answers are not copied either: they are a cache, fetched again when
next asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.auth.store import AccountStore
from graph.errors import Conflict
from ingest.store_copy import CopyMismatch


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


def copy_accounts(source: AccountStore, target: AccountStore) -> AccountsCopy:
    """Copy companies, users, API keys, partners and the audit trail; raise Conflict if the
    target holds any."""
    held = account_contents(target)
    if held:
        raise Conflict(f"the target store is not empty: it holds {', '.join(held)}")
    companies, users = source.companies(), source.users()
    keys, partners = source.keys(None), source.partners()
    # Companies first: a supplier's or customer's account is bound to its company.
    for company in companies:
        target.put_company(company)
    for user in users:
        target.add_user(user)
    for key in keys:
        target.add_key(key)
    for partner in partners:
        target.put_partner(partner)
    trail = _copy_trail(source, target)
    copied = (target.companies(), target.users(), target.keys(None), target.partners())
    if copied != (companies, users, keys, partners):
        raise CopyMismatch("the copy's accounts differ from the source's after the copy")
    return AccountsCopy(len(companies), len(users), len(keys), len(partners), trail)


def _copy_trail(source: AccountStore, target: AccountStore) -> int:
    """Copy the audit trail chunk by chunk, checking each chunk as the target reads it back."""
    after = copied = 0
    while chunk := source.account_events(after, TRAIL_CHUNK):
        target.keep_account_events(chunk)
        if target.account_events(after, len(chunk)) != chunk:
            raise CopyMismatch(f"the copy's account audit trail differs after position {after}")
        after, copied = chunk[-1].seq, copied + len(chunk)
    return copied
