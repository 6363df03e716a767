"""The embedded account store: tables in the embedded graph store's SQLite file.

It keeps its own thread-local connections to the file, set up like the graph store's (WAL,
`busy_timeout`, explicit transactions), so both stores can be used from many threads at once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from api.auth.models import (
    ApiKeyInfo,
    ApiKeyRecord,
    Company,
    Role,
    TokenRecord,
    UserInfo,
    UserRecord,
)
from graph.errors import BadRequest, Conflict

T = TypeVar("T")

# Neo4j cannot index a string much past 8 kB, so ids (and the usernames keys are looked up by)
# are capped well below that; both account stores apply the same cap and give the same answers.
MAX_ID_BYTES: Final = 4096

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
    password_hash TEXT NOT NULL
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
    share_statuses INTEGER NOT NULL DEFAULT 0
);
COMMIT;
"""

INSERT_USER: Final = """
INSERT INTO users (username, role, company, site, disabled, created_at, password_hash)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (username) DO NOTHING
"""
SELECT_USER: Final = """
SELECT username, role, company, site, disabled, created_at, password_hash
FROM users WHERE username = ?
"""
SELECT_USERS: Final = """
SELECT username, role, company, site, disabled, created_at, password_hash
FROM users ORDER BY username
"""
UPDATE_DISABLED: Final = "UPDATE users SET disabled = ? WHERE username = ?"

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

COMPANY_COLUMNS: Final = "PRAGMA table_info(companies)"
ADD_SHARE_STATUSES: Final = (
    "ALTER TABLE companies ADD COLUMN share_statuses INTEGER NOT NULL DEFAULT 0"
)
UPSERT_COMPANY: Final = """
INSERT INTO companies (company, name, kind, share_lot_ids, created_at, share_statuses)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (company) DO UPDATE SET
    name = excluded.name,
    kind = excluded.kind,
    share_lot_ids = excluded.share_lot_ids,
    created_at = excluded.created_at,
    share_statuses = excluded.share_statuses
"""
SELECT_COMPANY: Final = """
SELECT company, name, kind, share_lot_ids, created_at, share_statuses
FROM companies WHERE company = ?
"""
SELECT_COMPANIES: Final = """
SELECT company, name, kind, share_lot_ids, created_at, share_statuses
FROM companies ORDER BY company
"""


def _check_id(field: str, value: str) -> None:
    if len(value.encode()) > MAX_ID_BYTES:
        raise BadRequest(f"{field} is longer than {MAX_ID_BYTES} bytes")


def _user(row: tuple[Any, ...]) -> UserRecord:
    username, role, company, site, disabled, created_at, password_hash = row
    info = UserInfo(username, Role(role), company, site, bool(disabled), created_at)
    return UserRecord(info, password_hash)


def _key(row: tuple[Any, ...]) -> ApiKeyRecord:
    key_id, username, label, created_at, revoked_at, secret_hash = row
    return ApiKeyRecord(ApiKeyInfo(key_id, username, label, created_at, revoked_at), secret_hash)


def _company(row: tuple[Any, ...]) -> Company:
    company, name, kind, share_lot_ids, created_at, share_statuses = row
    return Company(company, name, kind, bool(share_lot_ids), created_at, bool(share_statuses))


class EmbeddedAccountStore:
    """Accounts in the embedded store's SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        conn = self._conn()
        conn.executescript(SCHEMA)
        # Files made before the status-sharing policy existed gain its column (not shared).
        if "share_statuses" not in {row[1] for row in conn.execute(COMPANY_COLUMNS)}:
            conn.execute(ADD_SHARE_STATUSES)

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

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def _changed(self, statement: str, params: tuple[Any, ...]) -> int:
        return self._write(lambda conn: conn.execute(statement, params).rowcount)

    def add_user(self, user: UserRecord) -> None:
        """Insert a user; raise Conflict if the username is taken."""
        info = user.info
        _check_id("username", info.username)
        params = (
            info.username,
            info.role.value,
            info.company,
            info.site,
            int(info.disabled),
            info.created_at,
            user.password_hash,
        )
        if not self._changed(INSERT_USER, params):
            raise Conflict(f"username {info.username!r} is taken")

    def user(self, username: str) -> UserRecord | None:
        """Return the user, or None."""
        row = self._conn().execute(SELECT_USER, (username,)).fetchone()
        return None if row is None else _user(row)

    def users(self) -> list[UserRecord]:
        """Return every user, ordered by username."""
        return [_user(row) for row in self._conn().execute(SELECT_USERS)]

    def set_disabled(self, username: str, disabled: bool) -> bool:
        """Set the flag; return False if there is no such user."""
        return self._changed(UPDATE_DISABLED, (int(disabled), username)) > 0

    def add_key(self, key: ApiKeyRecord) -> None:
        """Insert an API key; raise Conflict if the key id is taken."""
        info = key.info
        _check_id("key_id", info.key_id)
        _check_id("username", info.username)
        params = (
            info.key_id,
            info.username,
            info.label,
            info.created_at,
            info.revoked_at,
            key.secret_hash,
        )
        if not self._changed(INSERT_KEY, params):
            raise Conflict(f"API key id {info.key_id!r} is taken")

    def key(self, key_id: str) -> ApiKeyRecord | None:
        """Return the key, revoked or not, or None."""
        row = self._conn().execute(SELECT_KEY, (key_id,)).fetchone()
        return None if row is None else _key(row)

    def keys(self, username: str | None) -> list[ApiKeyRecord]:
        """Return keys (of one user, or all), ordered by creation time then id."""
        conn = self._conn()
        rows = (
            conn.execute(SELECT_KEYS)
            if username is None
            else conn.execute(SELECT_USER_KEYS, (username,))
        )
        return [_key(row) for row in rows]

    def revoke_key(self, key_id: str, at: str) -> bool:
        """Mark a live key revoked; return False if there is no such live key."""
        return self._changed(REVOKE_KEY, (at, key_id)) > 0

    def add_token(self, token: TokenRecord) -> None:
        """Insert an access token; raise Conflict if its hash is already stored."""
        _check_id("token_hash", token.token_hash)
        _check_id("username", token.username)
        params = (token.token_hash, token.username, token.expires_at)
        if not self._changed(INSERT_TOKEN, params):
            raise Conflict("access token is already stored")

    def token(self, token_hash: str) -> TokenRecord | None:
        """Return the token, expired or not, or None."""
        row = self._conn().execute(SELECT_TOKEN, (token_hash,)).fetchone()
        return None if row is None else TokenRecord(*row)

    def drop_expired_tokens(self, now: str) -> int:
        """Delete tokens that expire at or before `now`; return how many."""
        return self._changed(DELETE_EXPIRED_TOKENS, (now,))

    def put_company(self, company: Company) -> None:
        """Insert or replace a company's profile."""
        _check_id("company", company.company)
        params = (
            company.company,
            company.name,
            company.kind,
            int(company.share_lot_ids),
            company.created_at,
            int(company.share_statuses),
        )
        self._changed(UPSERT_COMPANY, params)

    def company(self, company: str) -> Company | None:
        """Return the company's profile, or None."""
        row = self._conn().execute(SELECT_COMPANY, (company,)).fetchone()
        return None if row is None else _company(row)

    def companies(self) -> list[Company]:
        """Return every company, ordered by id."""
        return [_company(row) for row in self._conn().execute(SELECT_COMPANIES)]

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._guard:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
