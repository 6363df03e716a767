"""Account records as both account stores read them back: one row shape, one decoding."""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Sequence
from typing import Any, Final

from api.auth.models import (
    AccountEvent,
    ApiKeyInfo,
    ApiKeyRecord,
    Company,
    Partner,
    Role,
    UserInfo,
    UserRecord,
)
from graph.errors import BadRequest, Conflict

# Neo4j cannot index a string much past 8 kB, so ids (and the usernames keys are looked up by)
# are capped well below that; both account stores apply the same cap and give the same answers.
MAX_ID_BYTES: Final = 4096


def check_id(field: str, value: str) -> None:
    """Refuse an id too long to be a key."""
    if len(value.encode()) > MAX_ID_BYTES:
        raise BadRequest(f"{field} is longer than {MAX_ID_BYTES} bytes")


def user_of(row: Sequence[Any]) -> UserRecord:
    """Decode a user row: username, role, company, site, disabled, created_at, hash, the time
    the password was set, the earlier hashes (a list, or its JSON text), and whether the
    password must be changed (None on a Neo4j node from before the flag: no)."""
    username, role, company, site, disabled, created_at, password_hash, set_at, previous, must = row
    if isinstance(previous, str):
        previous = json.loads(previous)
    info = UserInfo(
        username, Role(role), company, site, bool(disabled), created_at, set_at, bool(must)
    )
    return UserRecord(info, password_hash, tuple(previous or ()))


def made_a_change(result: object) -> bool:
    """Whether a store write changed anything: it returns False or 0 when it did not (no such
    user, no live key), and only then is its audit entry left unwritten."""
    return result is not False and result != 0


def detail_text(event: AccountEvent) -> str:
    """An entry's detail as both stores keep it: JSON text (Neo4j has no map properties)."""
    return json.dumps(event.detail, sort_keys=True)


def account_event_of(row: Sequence[Any]) -> AccountEvent:
    """Decode an audit entry: seq, at, actor, action, subject, detail (a map, or JSON text)."""
    seq, at, actor, action, subject, detail = row
    if isinstance(detail, str):
        detail = json.loads(detail)
    return AccountEvent(at, actor, action, subject, dict(detail), seq)


def key_of(row: Sequence[Any]) -> ApiKeyRecord:
    """Decode an API key row: key_id, username, label, created_at, revoked_at, hash."""
    key_id, username, label, created_at, revoked_at, secret_hash = row
    return ApiKeyRecord(ApiKeyInfo(key_id, username, label, created_at, revoked_at), secret_hash)


def company_of(row: Sequence[Any]) -> Company:
    """Decode a company row in the field order of `Company`."""
    company, name, kind, share_lot_ids, created_at, statuses, upstream, steps, reshare = row
    return Company(
        company,
        name,
        kind,
        bool(share_lot_ids),
        created_at,
        bool(statuses),
        bool(upstream),
        bool(steps),
        bool(reshare),
    )


def partner_of(row: Sequence[Any]) -> Partner:
    """Decode a partner row in the field order of `Partner`."""
    company, base_url, api_key, timeout_s, cache_ttl_s, created_at = row
    return Partner(company, base_url, api_key, float(timeout_s), int(cache_ttl_s), created_at)


# -- rules both account stores check inside the transaction that writes, so racing admins
# -- cannot both pass them


def check_company_kind(company: str | None, kind: str | None, wanted: str) -> None:
    """Refuse binding a user of role `wanted` to a company not registered as that kind."""
    if kind is None:
        raise BadRequest(f"no company {company!r}: register it first")
    if kind != wanted:
        raise BadRequest(f"company {company!r} is a {kind}, not a {wanted}")


def check_kind_change(company: Company, kind: str | None, bound: Sequence[str]) -> None:
    """Refuse changing the kind of a company that accounts are bound to."""
    if kind is not None and kind != company.kind and bound:
        # A supplier's account would act as a customer's, or the reverse.
        raise Conflict(
            f"company {company.company!r} is a {kind} with accounts bound to it "
            f"({', '.join(sorted(bound)[:5])}): disable them and register a new company"
        )


# -- login names: one account whatever the case of their letters A-Z (the only ones a username
# -- has; Neo4j's toLower folds more letters than SQLite's lower, so both stores fold these alone)

_ASCII_LOWER: Final = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def login_key(username: str) -> str:
    """`username` with its letters A-Z in lower case: the same for every name of one login."""
    return username.translate(_ASCII_LOWER)


def username_taken(username: str) -> str:
    """The refusal of a new `username` that an account already has: every store says it so."""
    return f"username {username!r} is taken"


def check_not_alike(username: str, names: Iterable[str]) -> None:
    """Refuse a new `username` that one of `names` differs from only in case: both would be
    one login name. The same name is refused as taken, as where it is inserted, first: a store
    from before may hold it beside one alike."""
    found = list(names)
    if username in found:
        raise Conflict(username_taken(username))
    alike = sorted(n for n in found if login_key(n) == login_key(username))
    if alike:
        raise Conflict(
            f"{username_taken(username)}: by {alike[0]!r} (usernames that differ only in "
            "case name one account)"
        )


def one_login(username: str, records: Iterable[UserRecord]) -> UserRecord | None:
    """The account `username` logs in to among `records`: the only one whose name differs from
    it at most in case; where a store from before holds several, the one of exactly that name."""
    alike = [r for r in records if login_key(r.info.username) == login_key(username)]
    if len(alike) == 1:
        return alike[0]
    return next((record for record in alike if record.info.username == username), None)


ADMIN_EXISTS: Final = "an admin exists already: use `tracegraph users add` as that admin"
