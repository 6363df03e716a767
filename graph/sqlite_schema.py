"""SQLite files: schemas applied once per version of their text, and the write lock.

Opening a store must not wait for the write lock, which a long write (a rebuild is one
transaction) may hold for minutes: a file already at the current text of a schema is left
alone, and only a new or older file takes the lock to be brought up to date. A write that
cannot get the lock within the busy timeout is StoreBusy (503), not a crash.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from graph.errors import StoreBusy

BUSY = "another write has held the store past the busy timeout (a rebuild?): try again shortly"
STAMPS = "CREATE TABLE IF NOT EXISTS schema_stamps (name TEXT PRIMARY KEY, digest TEXT NOT NULL)"
READ_STAMP = "SELECT digest FROM schema_stamps WHERE name = ?"
WRITE_STAMP = "INSERT OR REPLACE INTO schema_stamps (name, digest) VALUES (?, ?)"


@contextmanager
def busy_is_store_busy() -> Iterator[None]:
    """Raise StoreBusy for SQLite's "database is locked" (the busy timeout has passed)."""
    try:
        yield
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise StoreBusy(BUSY) from error
        raise


def begin_write(conn: sqlite3.Connection, statement: str = "BEGIN IMMEDIATE") -> None:
    """Take the write lock, or raise StoreBusy."""
    with busy_is_store_busy():
        conn.execute(statement)


def ensure_schema(
    conn: sqlite3.Connection,
    name: str,
    script: str,
    migrate: Callable[[sqlite3.Connection], None] | None = None,
) -> None:
    """Run `script` (then `migrate`, in a write transaction) unless the file is at its text."""
    digest = hashlib.sha256(script.encode()).hexdigest()
    try:
        row = conn.execute(READ_STAMP, (name,)).fetchone()
    except sqlite3.OperationalError:  # no stamps yet: a new file, or one from before them
        row = None
    if row is not None and row[0] == digest:
        return
    with busy_is_store_busy():
        conn.executescript(script)
    begin_write(conn)
    try:
        if migrate is not None:
            migrate(conn)
        conn.execute(STAMPS)
        conn.execute(WRITE_STAMP, (name, digest))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
