"""The embedded account store: tables in the embedded graph store's SQLite file.

It keeps its own thread-local connections to the file, set up like the graph store's (WAL,
`busy_timeout`, explicit transactions), so both stores can be used from many threads at once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

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
from graph.embedded_store import SCHEMA as GRAPH_SCHEMA
from graph.errors import Conflict
from graph.sqlite_schema import begin_write, commit, ensure_schema, roll_back

T = TypeVar("T")

PRAGMAS: Final = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA busy_timeout = 30000",
)

SCHEMA: Final = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    company TEXT,
    site TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    password_set_at TEXT,
    previous_hashes TEXT NOT NULL DEFAULT '[]',
    must_change_password INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    secret_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_created ON api_keys (created_at, key_id);
CREATE INDEX IF NOT EXISTS api_keys_user ON api_keys (username, created_at, key_id);
CREATE TABLE IF NOT EXISTS access_tokens (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_tokens_expires ON access_tokens (expires_at);
CREATE TABLE IF NOT EXISTS companies (
    company TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    share_lot_ids INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    share_statuses INTEGER NOT NULL DEFAULT 0,
    share_upstream INTEGER NOT NULL DEFAULT 0,
    share_steps INTEGER NOT NULL DEFAULT 0,
    reshare INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS partners (
    company TEXT PRIMARY KEY,
    base_url TEXT NOT NULL,
    api_key TEXT NOT NULL,
    timeout_s REAL NOT NULL,
    cache_ttl_s INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS partner_answers (
    partner TEXT NOT NULL,
    request TEXT NOT NULL,
    answer TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (partner, request)
);
CREATE TABLE IF NOT EXISTS account_events (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS account_events_subject ON account_events (subject, seq);
-- The trail is kept as written: SQLite itself refuses to change or delete an entry.
CREATE TRIGGER IF NOT EXISTS account_events_kept BEFORE UPDATE ON account_events
BEGIN SELECT RAISE(ABORT, 'the account audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS account_events_not_deleted BEFORE DELETE ON account_events
BEGIN SELECT RAISE(ABORT, 'the account audit trail is append-only'); END;
COMMIT;
"""
# Columns added to a table after its first release, added to older files on open.
TABLE_COLUMNS: Final = "SELECT name FROM pragma_table_info(?)"
ADDED_COLUMNS: Final = {
    "companies": {
        "share_statuses": "ALTER TABLE companies ADD COLUMN share_statuses INTEGER NOT NULL "
        "DEFAULT 0",
        "share_upstream": "ALTER TABLE companies ADD COLUMN share_upstream INTEGER NOT NULL "
        "DEFAULT 0",
        "share_steps": "ALTER TABLE companies ADD COLUMN share_steps INTEGER NOT NULL DEFAULT 0",
        "reshare": "ALTER TABLE companies ADD COLUMN reshare INTEGER NOT NULL DEFAULT 0",
    },
    "users": {
        "password_set_at": "ALTER TABLE users ADD COLUMN password_set_at TEXT",
        "previous_hashes": "ALTER TABLE users ADD COLUMN previous_hashes TEXT NOT NULL "
        "DEFAULT '[]'",
        "must_change_password": "ALTER TABLE users ADD COLUMN must_change_password INTEGER "
        "NOT NULL DEFAULT 0",
    },
}

INSERT_USER: Final = """
INSERT INTO users (username, role, company, site, disabled, created_at, password_hash,
                   password_set_at, previous_hashes, must_change_password)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (username) DO NOTHING
"""
USER_COLUMNS: Final = """
SELECT username, role, company, site, disabled, created_at, password_hash, password_set_at,
       previous_hashes, must_change_password
FROM users"""
SELECT_USER: Final = USER_COLUMNS + " WHERE username = ?"
# lower() folds the letters A-Z alone, unless SQLite was built with ICU, which folds more: what
# it finds is narrowed to rows.login_key's folding, as on Neo4j.
ALIKE_USERS: Final = "SELECT username FROM users WHERE lower(username) = lower(?)"
LOGIN_USERS: Final = USER_COLUMNS + " WHERE lower(username) = lower(?)"
SELECT_USERS: Final = USER_COLUMNS + " ORDER BY username"
UPDATE_DISABLED: Final = "UPDATE users SET disabled = ? WHERE username = ?"
PASSWORD_OF: Final = "SELECT password_hash, previous_hashes, disabled FROM users WHERE username = ?"
LOGIN_OF: Final = "SELECT password_hash, disabled FROM users WHERE username = ?"
UPDATE_PASSWORD: Final = """
UPDATE users SET password_hash = ?, password_set_at = ?, previous_hashes = ?,
                 must_change_password = ?
WHERE username = ?
"""

INSERT_KEY: Final = """
INSERT INTO api_keys (key_id, username, label, created_at, revoked_at, secret_hash)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (key_id) DO NOTHING
"""
SELECT_KEY: Final = """
SELECT key_id, username, label, created_at, revoked_at, secret_hash
FROM api_keys WHERE key_id = ?
"""
SELECT_KEYS: Final = """
SELECT key_id, username, label, created_at, revoked_at, secret_hash
FROM api_keys ORDER BY created_at, key_id
"""
SELECT_USER_KEYS: Final = """
SELECT key_id, username, label, created_at, revoked_at, secret_hash
FROM api_keys WHERE username = ? ORDER BY created_at, key_id
"""
REVOKE_KEY: Final = "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL"

INSERT_TOKEN: Final = """
INSERT INTO access_tokens (token_hash, username, expires_at) VALUES (?, ?, ?)
ON CONFLICT (token_hash) DO NOTHING
"""
SELECT_TOKEN: Final = """
SELECT token_hash, username, expires_at FROM access_tokens WHERE token_hash = ?
"""
DELETE_EXPIRED_TOKENS: Final = "DELETE FROM access_tokens WHERE expires_at <= ?"
DELETE_USER_TOKENS: Final = "DELETE FROM access_tokens WHERE username = ?"
DELETE_TOKEN: Final = "DELETE FROM access_tokens WHERE token_hash = ?"

UPSERT_COMPANY: Final = """
INSERT INTO companies (
    company, name, kind, share_lot_ids, created_at, share_statuses, share_upstream, share_steps,
    reshare
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (company) DO UPDATE SET
    name = excluded.name,
    kind = excluded.kind,
    share_lot_ids = excluded.share_lot_ids,
    created_at = excluded.created_at,
    share_statuses = excluded.share_statuses,
    share_upstream = excluded.share_upstream,
    share_steps = excluded.share_steps,
    reshare = excluded.reshare
"""
COMPANY_KIND: Final = "SELECT kind FROM companies WHERE company = ?"
BOUND_USERS: Final = "SELECT username FROM users WHERE company = ?"
ACTIVE_ADMINS: Final = "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0"
SELECT_COMPANY: Final = """
SELECT company, name, kind, share_lot_ids, created_at, share_statuses, share_upstream,
    share_steps, reshare
FROM companies WHERE company = ?
"""
SELECT_COMPANIES: Final = """
SELECT company, name, kind, share_lot_ids, created_at, share_statuses, share_upstream,
    share_steps, reshare
FROM companies ORDER BY company
"""

UPSERT_PARTNER: Final = """
INSERT INTO partners (company, base_url, api_key, timeout_s, cache_ttl_s, created_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (company) DO UPDATE SET
    base_url = excluded.base_url,
    api_key = excluded.api_key,
    timeout_s = excluded.timeout_s,
    cache_ttl_s = excluded.cache_ttl_s,
    created_at = excluded.created_at
"""
SELECT_PARTNER: Final = """
SELECT company, base_url, api_key, timeout_s, cache_ttl_s, created_at
FROM partners WHERE company = ?
"""
SELECT_PARTNERS: Final = """
SELECT company, base_url, api_key, timeout_s, cache_ttl_s, created_at
FROM partners ORDER BY company
"""
DELETE_PARTNER: Final = "DELETE FROM partners WHERE company = ?"
DELETE_PARTNER_ANSWERS: Final = "DELETE FROM partner_answers WHERE partner = ?"
# Answers fetched from another address or with another key are not this partner's answers.
DELETE_ANSWERS_IF_MOVED: Final = """
DELETE FROM partner_answers WHERE partner = ? AND EXISTS (
    SELECT 1 FROM partners WHERE company = ? AND (base_url != ? OR api_key != ?)
)
"""
UPSERT_ANSWER: Final = """
INSERT INTO partner_answers (partner, request, answer, fetched_at) VALUES (?, ?, ?, ?)
ON CONFLICT (partner, request) DO UPDATE SET
    answer = excluded.answer,
    fetched_at = excluded.fetched_at
"""
SELECT_ANSWER: Final = """
SELECT partner, request, answer, fetched_at FROM partner_answers WHERE partner = ? AND request = ?
"""
# A request is `<asked>|<hops>|<code>` (PartnerAnswer): what follows its second '|' is the code,
# which may hold '|' itself.
DELETE_ANSWERS_ABOUT: Final = """
DELETE FROM partner_answers WHERE partner = ? AND request GLOB '*|*|*' AND substr(
    request, instr(request, '|') + instr(substr(request, instr(request, '|') + 1), '|') + 1
) = ?
"""

INSERT_EVENT: Final = """
INSERT INTO account_events (seq, at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?, ?)
"""
EVENT_COLUMNS: Final = "SELECT seq, at, actor, action, subject, detail FROM account_events"
SELECT_EVENTS: Final = EVENT_COLUMNS + " WHERE seq > ? ORDER BY seq LIMIT ?"
SELECT_SUBJECT_EVENTS: Final = (
    EVENT_COLUMNS + " WHERE subject = ? AND seq > ? ORDER BY subject, seq LIMIT ?"
)


def _event_row(event: AccountEvent, seq: int | None) -> tuple[Any, ...]:
    """The row of an entry: at a given position, or (None) the next one."""
    return (seq, event.at, event.actor, event.action, event.subject, detail_text(event))


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, added in ADDED_COLUMNS.items():
        present = {row[0] for row in conn.execute(TABLE_COLUMNS, (table,))}
        for column, statement in added.items():
            if column not in present:
                conn.execute(statement)


class EmbeddedAccountStore:
    """Accounts in the embedded store's SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        # Files made before a policy flag existed gain its column (not shared). The accounts
        # share the graph's file: one from before the stamps may hold only the graph's tables.
        ensure_schema(
            self.path, self._conn, "accounts", SCHEMA, _add_missing_columns, [GRAPH_SCHEMA]
        )

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            for pragma in PRAGMAS:
                conn.execute(pragma)
            self._local.conn = conn
            with self._guard:
                self._all.append(conn)
        return conn

    def _write(
        self, work: Callable[[sqlite3.Connection], T], noted: AccountEvent | None = None
    ) -> T:
        """Run `work` in a write transaction, with its audit entry unless it changed nothing."""
        conn = self._conn()
        begin_write(conn)
        try:
            result = work(conn)
            if noted is not None and made_a_change(result):
                conn.execute(INSERT_EVENT, _event_row(noted, None))
        except BaseException:
            roll_back(conn)
            raise
        commit(conn)
        return result

    def _changed(
        self, statement: str, params: tuple[Any, ...], noted: AccountEvent | None = None
    ) -> int:
        return self._write(lambda conn: conn.execute(statement, params).rowcount, noted)

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
        params = (
            info.username,
            info.role.value,
            info.company,
            info.site,
            int(info.disabled),
            info.created_at,
            user.password_hash,
            info.password_set_at,
            json.dumps(list(user.previous_hashes)),
            int(info.must_change_password),
        )

        def work(conn: sqlite3.Connection) -> int:
            if company_kind is not None:
                row = conn.execute(COMPANY_KIND, (info.company,)).fetchone()
                check_company_kind(info.company, None if row is None else row[0], company_kind)
            if first_admin and conn.execute(ACTIVE_ADMINS).fetchone()[0]:
                raise Conflict(ADMIN_EXISTS)
            if not copied:
                alike = conn.execute(ALIKE_USERS, (info.username,))
                check_not_alike(info.username, (name for (name,) in alike))
            return conn.execute(INSERT_USER, params).rowcount

        if not self._write(work, noted):
            raise Conflict(username_taken(info.username))

    def user(self, username: str) -> UserRecord | None:
        """Return the user, or None."""
        row = self._conn().execute(SELECT_USER, (username,)).fetchone()
        return None if row is None else user_of(row)

    def login_user(self, username: str) -> UserRecord | None:
        """Return the user `username` logs in as (see AccountStore)."""
        rows = self._conn().execute(LOGIN_USERS, (username,))
        return one_login(username, map(user_of, rows))

    def users(self) -> list[UserRecord]:
        """Return every user, ordered by username."""
        return [user_of(row) for row in self._conn().execute(SELECT_USERS)]

    def set_disabled(
        self, username: str, disabled: bool, *, noted: AccountEvent | None = None
    ) -> bool:
        """Set the flag, ending the user's sessions if it is set; return False if there is
        no such user."""

        def work(conn: sqlite3.Connection) -> int:
            changed: int = conn.execute(UPDATE_DISABLED, (int(disabled), username)).rowcount
            if disabled and changed:
                conn.execute(DELETE_USER_TOKENS, (username,))
            return changed

        return self._write(work, noted) > 0

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

        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(PASSWORD_OF, (username,)).fetchone()
            if row is None:
                return False
            if replacing is not None and (row[0] != replacing or row[2]):
                return False
            previous = json.dumps([row[0], *json.loads(row[1])][:KEPT_HASHES])
            params = (password_hash, at, previous, int(must_change), username)
            conn.execute(UPDATE_PASSWORD, params)
            conn.execute(DELETE_USER_TOKENS, (username,))
            return True

        return self._write(work, noted)

    def add_key(self, key: ApiKeyRecord, *, noted: AccountEvent | None = None) -> None:
        """Insert an API key; raise Conflict if the key id is taken."""
        info = key.info
        check_id("key_id", info.key_id)
        check_id("username", info.username)
        params = (
            info.key_id,
            info.username,
            info.label,
            info.created_at,
            info.revoked_at,
            key.secret_hash,
        )
        if not self._changed(INSERT_KEY, params, noted):
            raise Conflict(f"API key id {info.key_id!r} is taken")

    def key(self, key_id: str) -> ApiKeyRecord | None:
        """Return the key, revoked or not, or None."""
        row = self._conn().execute(SELECT_KEY, (key_id,)).fetchone()
        return None if row is None else key_of(row)

    def keys(self, username: str | None) -> list[ApiKeyRecord]:
        """Return keys (of one user, or all), ordered by creation time then id."""
        conn = self._conn()
        rows = (
            conn.execute(SELECT_KEYS)
            if username is None
            else conn.execute(SELECT_USER_KEYS, (username,))
        )
        return [key_of(row) for row in rows]

    def revoke_key(self, key_id: str, at: str, *, noted: AccountEvent | None = None) -> bool:
        """Mark a live key revoked; return False if there is no such live key."""
        return self._changed(REVOKE_KEY, (at, key_id), noted) > 0

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
        params = (token.token_hash, token.username, token.expires_at)

        def work(conn: sqlite3.Connection) -> bool:
            if password_hash is not None:
                row = conn.execute(LOGIN_OF, (token.username,)).fetchone()
                if row is None or row[0] != password_hash or row[1]:
                    return False
            if not conn.execute(INSERT_TOKEN, params).rowcount:
                raise Conflict("access token is already stored")
            return True

        return self._write(work, noted)

    def token(self, token_hash: str) -> TokenRecord | None:
        """Return the token, expired or not, or None."""
        row = self._conn().execute(SELECT_TOKEN, (token_hash,)).fetchone()
        return None if row is None else TokenRecord(*row)

    def drop_expired_tokens(self, now: str) -> int:
        """Delete tokens that expire at or before `now`; return how many."""
        return self._changed(DELETE_EXPIRED_TOKENS, (now,))

    def drop_token(self, token_hash: str, *, noted: AccountEvent | None = None) -> bool:
        """Delete one access token; return False if there was none."""
        return self._changed(DELETE_TOKEN, (token_hash,), noted) > 0

    def drop_tokens(self, username: str) -> int:
        """Delete every access token of a user; return how many."""
        return self._changed(DELETE_USER_TOKENS, (username,))

    def put_company(self, company: Company, *, noted: AccountEvent | None = None) -> None:
        """Insert or replace a company's profile."""
        check_id("company", company.company)
        params = (
            company.company,
            company.name,
            company.kind,
            int(company.share_lot_ids),
            company.created_at,
            int(company.share_statuses),
            int(company.share_upstream),
            int(company.share_steps),
            int(company.reshare),
        )

        def work(conn: sqlite3.Connection) -> None:
            row = conn.execute(COMPANY_KIND, (company.company,)).fetchone()
            if row is not None and row[0] != company.kind:
                bound = [name for (name,) in conn.execute(BOUND_USERS, (company.company,))]
                check_kind_change(company, row[0], bound)
            conn.execute(UPSERT_COMPANY, params)

        self._write(work, noted)

    def company(self, company: str) -> Company | None:
        """Return the company's profile, or None."""
        row = self._conn().execute(SELECT_COMPANY, (company,)).fetchone()
        return None if row is None else company_of(row)

    def companies(self) -> list[Company]:
        """Return every company, ordered by id."""
        return [company_of(row) for row in self._conn().execute(SELECT_COMPANIES)]

    def put_partner(self, partner: Partner, *, noted: AccountEvent | None = None) -> None:
        """Insert or replace a partner instance; a new address or key forgets cached answers."""
        check_id("company", partner.company)
        params = (
            partner.company,
            partner.base_url,
            partner.api_key,
            partner.timeout_s,
            partner.cache_ttl_s,
            partner.created_at,
        )
        moved = (partner.company, partner.company, partner.base_url, partner.api_key)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(DELETE_ANSWERS_IF_MOVED, moved)
            conn.execute(UPSERT_PARTNER, params)

        self._write(work, noted)

    def partner(self, company: str) -> Partner | None:
        """Return the partner, or None."""
        row = self._conn().execute(SELECT_PARTNER, (company,)).fetchone()
        return None if row is None else partner_of(row)

    def partners(self) -> list[Partner]:
        """Return every partner, ordered by company id."""
        return [partner_of(row) for row in self._conn().execute(SELECT_PARTNERS)]

    def remove_partner(self, company: str, *, noted: AccountEvent | None = None) -> bool:
        """Delete a partner and its cached answers; return False if there was none."""

        def work(conn: sqlite3.Connection) -> int:
            conn.execute(DELETE_PARTNER_ANSWERS, (company,))
            return conn.execute(DELETE_PARTNER, (company,)).rowcount

        return self._write(work, noted) > 0

    def put_partner_answer(self, answer: PartnerAnswer) -> None:
        """Insert or replace the cached answer to one request of one partner."""
        check_id("request", answer.request)
        params = (answer.partner, answer.request, answer.answer, answer.fetched_at)
        self._changed(UPSERT_ANSWER, params)

    def partner_answer(self, partner: str, request: str) -> PartnerAnswer | None:
        """Return the cached answer, or None."""
        row = self._conn().execute(SELECT_ANSWER, (partner, request)).fetchone()
        return None if row is None else PartnerAnswer(*row)

    def drop_partner_answers(self, partner: str, code: str) -> None:
        """Forget every cached answer about `code`, whatever its hops or depth (may be none)."""
        self._changed(DELETE_ANSWERS_ABOUT, (partner, code))

    def note(self, event: AccountEvent) -> None:
        """Write an audit entry that goes with no other change."""
        self._changed(INSERT_EVENT, _event_row(event, None))

    def account_events(
        self, after: int = 0, limit: int = 100, subject: str | None = None
    ) -> list[AccountEvent]:
        """Return up to `limit` audit entries after position `after`, in order."""
        conn = self._conn()
        rows = (
            conn.execute(SELECT_EVENTS, (after, limit))
            if subject is None
            else conn.execute(SELECT_SUBJECT_EVENTS, (subject, after, limit))
        )
        return [account_event_of(row) for row in rows]

    def keep_account_events(self, events: Sequence[AccountEvent]) -> None:
        """Write entries at the positions another store gave them."""
        rows = [_event_row(event, event.seq) for event in events]
        self._write(lambda conn: conn.executemany(INSERT_EVENT, rows))

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._guard:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
