"""The Neo4j account store: users, keys, tokens and company profiles as nodes beside the graph.

Account nodes carry none of the graph's labels (`Node`, `Event`), so graph queries and the graph
store's `wipe` never see them. Every statement is a constant with parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Final, LiteralString, TypeVar

import neo4j
from neo4j import ManagedTransaction

from api.auth.models import (
    KEPT_HASHES,
    AccountEvent,
    ApiKeyRecord,
    Company,
    Partner,
    PartnerAnswer,
    TokenRecord,
    UserRecord,
)
from api.auth.rows import (
    ADMIN_EXISTS,
    account_event_of,
    check_company_kind,
    check_id,
    check_kind_change,
    check_not_alike,
    company_of,
    detail_text,
    key_of,
    made_a_change,
    one_login,
    partner_of,
    user_of,
    username_taken,
)
from graph.errors import Conflict
from graph.neo4j_driver import bounded_write, connect, execute, session

T = TypeVar("T")

# Every audited write takes the trail's counter (NOTE), and checked ones ACCOUNT_LOCK or a user's
# node: a client whose transaction hung open holding one held every login waiting without end.
# A write blocked on a lock LOCK_WAIT or more after it began is ended, as the graph's writes
# are (graph.neo4j_driver); an account write's own work takes milliseconds, so one still
# running then waits for a lock, or is about to. BUSY says no more than that: one that met the
# lock only past the bound is ended within a second of it (graph.neo4j_driver.RECHECK).
BUSY: Final = (
    "another client held a lock of the accounts (a write that has not ended) that this write "
    "still waited on {seconds:g} s or more after it began: nothing was changed; try again shortly"
)

SCHEMA: Final[tuple[LiteralString, ...]] = (
    "CREATE CONSTRAINT account_user IF NOT EXISTS FOR (u:User) REQUIRE u.username IS UNIQUE",
    "CREATE CONSTRAINT account_api_key IF NOT EXISTS FOR (k:ApiKey) REQUIRE k.key_id IS UNIQUE",
    "CREATE CONSTRAINT account_token IF NOT EXISTS "
    "FOR (t:AccessToken) REQUIRE t.token_hash IS UNIQUE",
    "CREATE CONSTRAINT account_company IF NOT EXISTS "
    "FOR (c:CompanyProfile) REQUIRE c.company IS UNIQUE",
    "CREATE CONSTRAINT account_partner IF NOT EXISTS "
    "FOR (p:PartnerInstance) REQUIRE p.company IS UNIQUE",
    "CREATE CONSTRAINT account_partner_answer IF NOT EXISTS "
    "FOR (a:PartnerAnswer) REQUIRE (a.partner, a.request) IS UNIQUE",
    "CREATE CONSTRAINT account_lock IF NOT EXISTS FOR (l:AccountLock) REQUIRE l.name IS UNIQUE",
    "CREATE INDEX account_api_key_user IF NOT EXISTS FOR (k:ApiKey) ON (k.username)",
    "CREATE INDEX account_token_expires IF NOT EXISTS FOR (t:AccessToken) ON (t.expires_at)",
    "CREATE INDEX account_token_user IF NOT EXISTS FOR (t:AccessToken) ON (t.username)",
    "CREATE CONSTRAINT account_event_seq IF NOT EXISTS "
    "FOR (e:AccountEvent) REQUIRE e.seq IS UNIQUE",
    "CREATE INDEX account_event_subject IF NOT EXISTS FOR (e:AccountEvent) ON (e.subject)",
    "CREATE CONSTRAINT account_event_counter IF NOT EXISTS "
    "FOR (c:AccountEventCounter) REQUIRE c.name IS UNIQUE",
)
UNIQUE_VIOLATION: Final = "Neo.ClientError.Schema.ConstraintValidationFailed"

CREATE_USER: Final = "CREATE (u:User) SET u = $props"
# Writes whose checks read other nodes (a company's kind, its users, the admins, the users whose
# names are alike in case: every user added but one copy-store carries) take this lock first, so
# two of them run one after the other; every other write goes on without it.
ACCOUNT_LOCK: Final = "MERGE (l:AccountLock {name: 'accounts'}) SET l.at = timestamp()"
COMPANY_KIND: Final = "MATCH (c:CompanyProfile {company: $company}) RETURN c.kind"
BOUND_USERS: Final = "MATCH (u:User {company: $company}) RETURN u.username"
ACTIVE_ADMINS: Final = "MATCH (u:User {role: 'admin'}) WHERE NOT u.disabled RETURN count(u)"
USER_FIELDS: Final = (
    "u.username, u.role, u.company, u.site, u.disabled, u.created_at, u.password_hash, "
    "u.password_set_at, u.previous_hashes, u.must_change_password"
)
USER: Final = "MATCH (u:User {username: $username}) RETURN " + USER_FIELDS
USERS: Final = "MATCH (u:User) RETURN " + USER_FIELDS + " ORDER BY u.username"
# toLower folds more letters than A-Z: what it finds is narrowed to rows.login_key's folding.
ALIKE: Final = "MATCH (u:User) WHERE toLower(u.username) = toLower($username) "
ALIKE_USERS: Final = ALIKE + "RETURN u.username"
LOGIN_USERS: Final = ALIKE + "RETURN " + USER_FIELDS
# Disabling ends the user's sessions in the same transaction (its tokens go with it).
SET_DISABLED: Final = """
MATCH (u:User {username: $username})
SET u.disabled = $disabled
WITH u
OPTIONAL MATCH (t:AccessToken {username: $username}) WHERE $disabled
DELETE t
RETURN count(DISTINCT u)
"""
# As a login's token (CREATE_LOGIN_TOKEN): the node's write lock, taken first, makes a change
# checked against the password it replaces see any other change or disable that landed meanwhile.
SET_PASSWORD: Final = """
MATCH (u:User {username: $username})
SET u._lock = true
REMOVE u._lock
WITH u
WHERE $replacing IS NULL OR (u.password_hash = $replacing AND NOT u.disabled)
SET u.previous_hashes = ([u.password_hash] + coalesce(u.previous_hashes, []))[0..$kept],
    u.password_hash = $password_hash,
    u.password_set_at = $at,
    u.must_change_password = $must_change
WITH u
OPTIONAL MATCH (t:AccessToken {username: $username})
DELETE t
RETURN count(DISTINCT u)
"""

CREATE_KEY: Final = "CREATE (k:ApiKey) SET k = $props"
KEY_FIELDS: Final = "k.key_id, k.username, k.label, k.created_at, k.revoked_at, k.secret_hash"
KEY: Final = "MATCH (k:ApiKey {key_id: $key_id}) RETURN " + KEY_FIELDS
KEYS: Final = "MATCH (k:ApiKey) RETURN " + KEY_FIELDS + " ORDER BY k.created_at, k.key_id"
USER_KEYS: Final = (
    "MATCH (k:ApiKey {username: $username}) RETURN "
    + KEY_FIELDS
    + " ORDER BY k.created_at, k.key_id"
)
# Taking the node's write lock (the throwaway `_lock`) before reading `revoked_at` makes two
# concurrent revokes of one key see each other: exactly one of them finds the key live.
REVOKE_KEY: Final = """
MATCH (k:ApiKey {key_id: $key_id})
SET k._lock = true
REMOVE k._lock
WITH k, k.revoked_at IS NULL AS live
SET k.revoked_at = CASE WHEN live THEN $at ELSE k.revoked_at END
RETURN live
"""

CREATE_TOKEN: Final = "CREATE (t:AccessToken) SET t = $props"
# A login's token, made only while the password it checked is the user's. Taking the user's write
# lock (the throwaway `_lock`) before reading the password puts this wholly before or after a
# change of password, which writes the user, then deletes its tokens: the token is either made
# first and deleted by the change, or not made at all. The same holds for disabling the account.
CREATE_LOGIN_TOKEN: Final = """
MATCH (u:User {username: $username})
SET u._lock = true
REMOVE u._lock
WITH u
WHERE u.password_hash = $password_hash AND NOT u.disabled
CREATE (t:AccessToken)
SET t = $props
RETURN count(t)
"""
TOKEN: Final = (
    "MATCH (t:AccessToken {token_hash: $token_hash}) RETURN t.token_hash, t.username, t.expires_at"
)
DROP_EXPIRED_TOKENS: Final = (
    "MATCH (t:AccessToken) WHERE t.expires_at <= $now DELETE t RETURN count(*)"
)
DROP_USER_TOKENS: Final = (
    "MATCH (t:AccessToken) WHERE t.username = $username DELETE t RETURN count(*)"
)
DROP_TOKEN: Final = "MATCH (t:AccessToken {token_hash: $token_hash}) DELETE t RETURN count(*)"

PUT_COMPANY: Final = "MERGE (c:CompanyProfile {company: $props.company}) SET c = $props"
# Profiles stored before a policy flag existed lack it: coalesce to "not shared".
COMPANY_FIELDS: Final = (
    "c.company, c.name, c.kind, c.share_lot_ids, c.created_at, "
    "coalesce(c.share_statuses, false), coalesce(c.share_upstream, false), "
    "coalesce(c.share_steps, false), coalesce(c.reshare, false)"
)
COMPANY: Final = "MATCH (c:CompanyProfile {company: $company}) RETURN " + COMPANY_FIELDS
COMPANIES: Final = "MATCH (c:CompanyProfile) RETURN " + COMPANY_FIELDS + " ORDER BY c.company"

# Answers fetched from another address or with another key are not this partner's answers.
PUT_PARTNER: Final = """
OPTIONAL MATCH (old:PartnerInstance {company: $props.company})
WHERE old.base_url <> $props.base_url OR old.api_key <> $props.api_key
OPTIONAL MATCH (a:PartnerAnswer {partner: $props.company}) WHERE old IS NOT NULL
DELETE a
WITH count(*) AS dropped
MERGE (p:PartnerInstance {company: $props.company}) SET p = $props
"""
PARTNER_FIELDS: Final = "p.company, p.base_url, p.api_key, p.timeout_s, p.cache_ttl_s, p.created_at"
PARTNER: Final = "MATCH (p:PartnerInstance {company: $company}) RETURN " + PARTNER_FIELDS
PARTNERS: Final = "MATCH (p:PartnerInstance) RETURN " + PARTNER_FIELDS + " ORDER BY p.company"
REMOVE_PARTNER: Final = """
OPTIONAL MATCH (a:PartnerAnswer {partner: $company})
DELETE a
WITH count(*) AS dropped
OPTIONAL MATCH (p:PartnerInstance {company: $company})
DELETE p
RETURN count(p)
"""
PUT_ANSWER: Final = """
MERGE (a:PartnerAnswer {partner: $props.partner, request: $props.request})
SET a = $props
"""
ANSWER: Final = """
MATCH (a:PartnerAnswer {partner: $partner, request: $request})
RETURN a.partner, a.request, a.answer, a.fetched_at
"""
# A request is `<asked>|<hops>|<code>` (PartnerAnswer): what follows its second '|' is the code,
# which may hold '|' itself.
DROP_ANSWERS_ABOUT: Final = """
MATCH (a:PartnerAnswer {partner: $partner})
WITH a, split(a.request, '|') AS parts
WHERE size(parts) >= 3 AND substring(a.request, size(parts[0]) + size(parts[1]) + 2) = $code
DELETE a
"""

# The trail's positions come from one counter node: writers of entries take its lock in turn.
NOTE: Final = """
MERGE (c:AccountEventCounter {name: 'trail'})
SET c.seq = coalesce(c.seq, 0) + 1
CREATE (:AccountEvent {
    seq: c.seq, at: $at, actor: $actor, action: $action, subject: $subject, detail: $detail
})
"""
KEEP_EVENTS: Final = """
UNWIND $rows AS row
CREATE (e:AccountEvent) SET e = row
WITH max(row.seq) AS last
MERGE (c:AccountEventCounter {name: 'trail'})
SET c.seq = CASE WHEN coalesce(c.seq, 0) > last THEN c.seq ELSE last END
"""
EVENT_FIELDS: Final = "e.seq, e.at, e.actor, e.action, e.subject, e.detail"
EVENTS: Final = (
    "MATCH (e:AccountEvent) WHERE e.seq > $after "
    "AND ($subject IS NULL OR e.subject = $subject) "
    "RETURN " + EVENT_FIELDS + " ORDER BY e.seq LIMIT $limit"
)

# Tests empty the account nodes between runs; the trail is never emptied otherwise.
WIPE: Final = (
    "MATCH (n:User|ApiKey|AccessToken|CompanyProfile|PartnerInstance|PartnerAnswer|AccountLock"
    "|AccountEvent|AccountEventCounter) DETACH DELETE n"
)


def _event_params(event: AccountEvent) -> dict[str, Any]:
    return {
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "detail": detail_text(event),
    }


class Neo4jAccountStore:
    """Accounts on the Neo4j server that holds the graph."""

    def __init__(
        self, url: str, *, user: str = "neo4j", password: str = "", database: str | None = None
    ) -> None:
        self.url = url
        self._database = database
        self._driver = connect(url, user, password)
        try:
            self._create_schema()
        except BaseException:
            self._driver.close()
            raise

    def _create_schema(self) -> None:
        for statement in SCHEMA:
            execute(self._driver, self._database, "the accounts", statement, "open")

    def _read(self, work: Callable[[ManagedTransaction], T]) -> T:
        with session(self._driver, self._database, "the accounts", reading=True) as opened:
            return opened.execute_read(work)

    def _write(
        self, work: Callable[[ManagedTransaction], T], noted: AccountEvent | None = None
    ) -> T:
        """Run `work` in a write transaction, with its audit entry unless it changed nothing."""

        def audited(tx: ManagedTransaction, waiting: AbstractContextManager[None]) -> T:
            with waiting:
                result = work(tx)
                if noted is not None and made_a_change(result):
                    tx.run(NOTE, _event_params(noted)).consume()
            return result

        return bounded_write(self._driver, self._database, "the accounts", BUSY, audited)

    def _rows(self, query: LiteralString, **params: Any) -> list[list[Any]]:
        def run(tx: ManagedTransaction) -> list[list[Any]]:
            return tx.run(query, params).values()

        return self._read(run)

    def _count(self, query: LiteralString, noted: AccountEvent | None = None, **params: Any) -> int:
        def run(tx: ManagedTransaction) -> int:
            count: int = tx.run(query, params).single(strict=True)[0]
            return count

        return self._write(run, noted)

    def _create(
        self,
        query: LiteralString,
        props: dict[str, Any],
        taken: str,
        noted: AccountEvent | None = None,
    ) -> None:
        def run(tx: ManagedTransaction) -> None:
            tx.run(query, props=props).consume()

        self._create_with(run, taken, noted)

    def _create_with(
        self,
        work: Callable[[ManagedTransaction], T],
        taken: str,
        noted: AccountEvent | None = None,
    ) -> T:
        try:
            return self._write(work, noted)
        except neo4j.exceptions.ConstraintError as error:
            if error.code == UNIQUE_VIOLATION:
                raise Conflict(taken) from error
            raise

    def add_user(
        self,
        user: UserRecord,
        *,
        company_kind: str | None = None,
        first_admin: bool = False,
        noted: AccountEvent | None = None,
        copied: bool = False,
    ) -> None:
        """Insert a user; raise Conflict if the username is taken (see AccountStore)."""
        info = user.info
        check_id("username", info.username)
        props = {
            "username": info.username,
            "role": info.role.value,
            "company": info.company,
            "site": info.site,
            "disabled": info.disabled,
            "created_at": info.created_at,
            "password_hash": user.password_hash,
            "password_set_at": info.password_set_at,
            "previous_hashes": list(user.previous_hashes),
            "must_change_password": info.must_change_password,
        }
        if copied and company_kind is None and not first_admin:
            self._create(CREATE_USER, props, username_taken(info.username), noted)
            return

        def checked(tx: ManagedTransaction) -> None:
            tx.run(ACCOUNT_LOCK).consume()  # two names alike in case, added at once, one by one
            if company_kind is not None:
                found = tx.run(COMPANY_KIND, company=info.company).values()
                check_company_kind(info.company, found[0][0] if found else None, company_kind)
            if first_admin and tx.run(ACTIVE_ADMINS).single(strict=True)[0]:
                raise Conflict(ADMIN_EXISTS)
            if not copied:
                check_not_alike(info.username, tx.run(ALIKE_USERS, username=info.username).value())
            tx.run(CREATE_USER, props=props).consume()

        self._create_with(checked, username_taken(info.username), noted)

    def user(self, username: str) -> UserRecord | None:
        """Return the user, or None."""
        rows = self._rows(USER, username=username)
        return user_of(rows[0]) if rows else None

    def login_user(self, username: str) -> UserRecord | None:
        """Return the user `username` logs in as (see AccountStore)."""
        return one_login(username, map(user_of, self._rows(LOGIN_USERS, username=username)))

    def users(self) -> list[UserRecord]:
        """Return every user, ordered by username."""
        return [user_of(row) for row in self._rows(USERS)]

    def set_disabled(
        self, username: str, disabled: bool, *, noted: AccountEvent | None = None
    ) -> bool:
        """Set the flag, ending the user's sessions if it is set; return False if there is
        no such user."""
        return self._count(SET_DISABLED, noted, username=username, disabled=disabled) > 0

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
        """Replace the password hash, keeping the one it replaces among the previous, and end
        the user's sessions; False if there is no user, or (with `replacing`) if that is no
        longer its password or the account is disabled (see AccountStore)."""
        changed = self._count(
            SET_PASSWORD,
            noted,
            username=username,
            password_hash=password_hash,
            at=at,
            kept=KEPT_HASHES,
            must_change=must_change,
            replacing=replacing,
        )
        return changed > 0

    def add_key(self, key: ApiKeyRecord, *, noted: AccountEvent | None = None) -> None:
        """Insert an API key; raise Conflict if the key id is taken."""
        info = key.info
        check_id("key_id", info.key_id)
        check_id("username", info.username)
        props = {
            "key_id": info.key_id,
            "username": info.username,
            "label": info.label,
            "created_at": info.created_at,
            "revoked_at": info.revoked_at,
            "secret_hash": key.secret_hash,
        }
        self._create(CREATE_KEY, props, f"API key id {info.key_id!r} is taken", noted)

    def key(self, key_id: str) -> ApiKeyRecord | None:
        """Return the key, revoked or not, or None."""
        rows = self._rows(KEY, key_id=key_id)
        return key_of(rows[0]) if rows else None

    def keys(self, username: str | None) -> list[ApiKeyRecord]:
        """Return keys (of one user, or all), ordered by creation time then id."""
        rows = self._rows(KEYS) if username is None else self._rows(USER_KEYS, username=username)
        return [key_of(row) for row in rows]

    def revoke_key(self, key_id: str, at: str, *, noted: AccountEvent | None = None) -> bool:
        """Mark a live key revoked; return False if there is no such live key."""

        def run(tx: ManagedTransaction) -> bool:
            record = tx.run(REVOKE_KEY, key_id=key_id, at=at).single()
            return record is not None and bool(record[0])

        return self._write(run, noted)

    def add_token(
        self,
        token: TokenRecord,
        *,
        password_hash: str | None = None,
        noted: AccountEvent | None = None,
    ) -> bool:
        """Insert an access token, with `password_hash` only while it is the user's and the
        account is enabled; raise Conflict if its hash is already stored (see AccountStore)."""
        check_id("token_hash", token.token_hash)
        check_id("username", token.username)
        props = {
            "token_hash": token.token_hash,
            "username": token.username,
            "expires_at": token.expires_at,
        }

        def run(tx: ManagedTransaction) -> bool:
            if password_hash is None:
                tx.run(CREATE_TOKEN, props=props).consume()
                return True
            made = tx.run(
                CREATE_LOGIN_TOKEN,
                props=props,
                username=token.username,
                password_hash=password_hash,
            )
            return bool(made.single(strict=True)[0])

        return self._create_with(run, "access token is already stored", noted)

    def token(self, token_hash: str) -> TokenRecord | None:
        """Return the token, expired or not, or None."""
        rows = self._rows(TOKEN, token_hash=token_hash)
        return TokenRecord(*rows[0]) if rows else None

    def drop_expired_tokens(self, now: str) -> int:
        """Delete tokens that expire at or before `now`; return how many."""
        return self._count(DROP_EXPIRED_TOKENS, now=now)

    def drop_token(self, token_hash: str, *, noted: AccountEvent | None = None) -> bool:
        """Delete one access token; return False if there was none."""
        return self._count(DROP_TOKEN, noted, token_hash=token_hash) > 0

    def drop_tokens(self, username: str) -> int:
        """Delete every access token of a user; return how many."""
        return self._count(DROP_USER_TOKENS, username=username)

    def put_company(self, company: Company, *, noted: AccountEvent | None = None) -> None:
        """Insert or replace a company's profile."""
        check_id("company", company.company)
        props = {
            "company": company.company,
            "name": company.name,
            "kind": company.kind,
            "share_lot_ids": company.share_lot_ids,
            "created_at": company.created_at,
            "share_statuses": company.share_statuses,
            "share_upstream": company.share_upstream,
            "share_steps": company.share_steps,
            "reshare": company.reshare,
        }

        def run(tx: ManagedTransaction) -> None:
            tx.run(ACCOUNT_LOCK).consume()
            found = tx.run(COMPANY_KIND, company=company.company).values()
            if found and found[0][0] != company.kind:
                bound = [row[0] for row in tx.run(BOUND_USERS, company=company.company).values()]
                check_kind_change(company, found[0][0], bound)
            tx.run(PUT_COMPANY, props=props).consume()

        self._write(run, noted)

    def company(self, company: str) -> Company | None:
        """Return the company's profile, or None."""
        rows = self._rows(COMPANY, company=company)
        return company_of(rows[0]) if rows else None

    def companies(self) -> list[Company]:
        """Return every company, ordered by id."""
        return [company_of(row) for row in self._rows(COMPANIES)]

    def put_partner(self, partner: Partner, *, noted: AccountEvent | None = None) -> None:
        """Insert or replace a partner instance; a new address or key forgets cached answers."""
        check_id("company", partner.company)
        props = {
            "company": partner.company,
            "base_url": partner.base_url,
            "api_key": partner.api_key,
            "timeout_s": partner.timeout_s,
            "cache_ttl_s": partner.cache_ttl_s,
            "created_at": partner.created_at,
        }
        self._run_write(PUT_PARTNER, noted, props=props)

    def partner(self, company: str) -> Partner | None:
        """Return the partner, or None."""
        rows = self._rows(PARTNER, company=company)
        return partner_of(rows[0]) if rows else None

    def partners(self) -> list[Partner]:
        """Return every partner, ordered by company id."""
        return [partner_of(row) for row in self._rows(PARTNERS)]

    def remove_partner(self, company: str, *, noted: AccountEvent | None = None) -> bool:
        """Delete a partner and its cached answers; return False if there was none."""
        return self._count(REMOVE_PARTNER, noted, company=company) > 0

    def put_partner_answer(self, answer: PartnerAnswer) -> None:
        """Insert or replace the cached answer to one request of one partner."""
        check_id("request", answer.request)
        props = {
            "partner": answer.partner,
            "request": answer.request,
            "answer": answer.answer,
            "fetched_at": answer.fetched_at,
        }
        self._run_write(PUT_ANSWER, props=props)

    def partner_answer(self, partner: str, request: str) -> PartnerAnswer | None:
        """Return the cached answer, or None."""
        rows = self._rows(ANSWER, partner=partner, request=request)
        return PartnerAnswer(*rows[0]) if rows else None

    def drop_partner_answers(self, partner: str, code: str) -> None:
        """Forget every cached answer about `code`, whatever its hops or depth (may be none)."""
        self._run_write(DROP_ANSWERS_ABOUT, partner=partner, code=code)

    def _run_write(
        self, query: LiteralString, noted: AccountEvent | None = None, **params: Any
    ) -> None:
        def run(tx: ManagedTransaction) -> None:
            tx.run(query, params).consume()

        self._write(run, noted)

    def note(self, event: AccountEvent) -> None:
        """Write an audit entry that goes with no other change."""
        self._run_write(NOTE, **_event_params(event))

    def account_events(
        self, after: int = 0, limit: int = 100, subject: str | None = None
    ) -> list[AccountEvent]:
        """Return up to `limit` audit entries after position `after`, in order."""
        rows = self._rows(EVENTS, after=after, limit=limit, subject=subject)
        return [account_event_of(row) for row in rows]

    def keep_account_events(self, events: Sequence[AccountEvent]) -> None:
        """Write entries at the positions another store gave them."""
        if events:
            rows = [_event_params(event) | {"seq": event.seq} for event in events]
            self._run_write(KEEP_EVENTS, rows=rows)

    def wipe(self) -> None:
        """Delete every account node (for tests on a scratch server)."""

        def run(tx: ManagedTransaction) -> None:
            tx.run(WIPE).consume()

        self._write(run)

    def close(self) -> None:
        """Close the driver."""
        self._driver.close()
