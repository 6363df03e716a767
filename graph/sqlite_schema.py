"""SQLite files: schemas applied once per version of their text, and write transactions.

Opening a store must not wait for the write lock, which a long write (a rebuild is one
transaction) may hold for minutes: a file already at the current text of a schema is left
alone, and only a new or older file takes the lock to be brought up to date. A write that
cannot get the lock within the busy timeout is StoreBusy (503), not a crash.

Nor may opening take over another application's SQLite file: a file is ours, empty (new), or
foreign, and a foreign one is refused before anything is written to it (tables, WAL mode).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from graph.errors import StoreBusy, StoreUnavailable
from graph.sqlite_files import make_store_file

BUSY = "another write has held the store past the busy timeout (a rebuild?): try again shortly"
STAMPS = "CREATE TABLE IF NOT EXISTS schema_stamps (name TEXT PRIMARY KEY, digest TEXT NOT NULL)"
READ_STAMP = "SELECT digest FROM schema_stamps WHERE name = ?"
WRITE_STAMP = "INSERT OR REPLACE INTO schema_stamps (name, digest) VALUES (?, ?)"
# SQLite's own tables (sqlite_sequence, sqlite_stat1) are in every file that uses the features.
TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT GLOB 'sqlite_*'"
COLUMNS = "SELECT name FROM pragma_table_info(?)"
# How many of a foreign file's tables a refusal names.
NAMED = 5

log = logging.getLogger("tracegraph.store")


# SQLite's answers for a file it cannot read or write (a full or failing disk, a file made
# read-only or damaged), as opposed to a statement it refuses, which is a bug: a 500.
FILE_FAULTS = frozenset(
    {
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_NOLFS,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOTADB,
    }
)


def store_fault(error: sqlite3.Error) -> StoreUnavailable | None:
    """The StoreUnavailable (503, exit 3) an error of the store's file is; None for others."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None or code & 0xFF not in FILE_FAULTS:  # extended codes name the step
        return None
    return StoreUnavailable(
        f"the embedded store cannot read or write its file ({error}): free space on its disk, "
        "or check the disk and the file, then try again"
    )


def file_fault(error: BaseException | None) -> StoreUnavailable | None:
    """`store_fault` of any error: None for one that is no SQLite error of the store's file."""
    return store_fault(error) if isinstance(error, sqlite3.Error) else None


def logged_fault(error: BaseException | None) -> StoreUnavailable | None:
    """`file_fault` of an error a server answers: a full or failing disk is the operator's to
    fix, so it is logged as well as said to the caller."""
    fault = file_fault(error)
    if fault is not None:
        log.error("the embedded store failed: %s", error)
    return fault


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


def roll_back(conn: sqlite3.Connection, *undo: str) -> None:
    """Undo a failed write (`undo`, ROLLBACK by default) unless SQLite already has: after a full
    disk or an I/O error it rolls the transaction back itself, and a second rollback would fail
    and hide why the write failed."""
    if conn.in_transaction:
        for statement in undo or ("ROLLBACK",):
            conn.execute(statement)


def commit(conn: sqlite3.Connection, statement: str = "COMMIT") -> None:
    """End a write; one that cannot be committed is rolled back, not left open to fail the
    connection's next write."""
    try:
        conn.execute(statement)
    except BaseException:
        roll_back(conn)
        raise


def ensure_schema(
    path: Path,
    connect: Callable[[], sqlite3.Connection],
    name: str,
    script: str,
    migrate: Callable[[sqlite3.Connection], None] | None = None,
    beside: Sequence[str] = (),
) -> None:
    """Run `script` (then `migrate`, in a write transaction) on the file at `path`, through
    `connect`, unless the file is at its text; raise StoreUnavailable, having written nothing,
    if the file is another application's database. `beside` holds the scripts of the other
    stores that keep their tables in the same file: a file of theirs is ours too. A new file is
    made its owner's alone (graph.sqlite_files.make_store_file)."""
    refuse_foreign(path, [script, *beside])
    make_store_file(path)
    conn = connect()
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
        roll_back(conn)
        raise
    commit(conn)


def read_stamp(path: Path, name: str) -> str | None:
    """The stamp `name` of the file at `path`, None if it has none (or there is no file yet).
    Only reads, as `refuse_foreign` does: for refusing a file before anything is written."""
    if not path.is_file():
        return None
    probe = sqlite3.connect(path, isolation_level=None)
    try:
        with busy_is_store_busy():
            row = probe.execute(READ_STAMP, (name,)).fetchone()
    except sqlite3.OperationalError as error:
        if "no such table" not in str(error):  # a file from before the stamps has none
            raise
        row = None
    finally:
        probe.close()
    return None if row is None else str(row[0])


def refuse_foreign(path: Path, scripts: Iterable[str]) -> None:
    """Raise StoreUnavailable if `path` is another application's SQLite database. Only reads:
    the connection that opens a store switches the file to WAL mode before it writes."""
    if not path.is_file():  # nothing there yet (a folder fails as it is opened)
        return
    probe = sqlite3.connect(path, isolation_level=None)
    try:
        with busy_is_store_busy():
            tables = foreign_tables(probe, scripts)
    finally:
        probe.close()
    if tables:
        raise StoreUnavailable(not_ours(path, tables))


def foreign_tables(conn: sqlite3.Connection, scripts: Iterable[str]) -> list[str]:
    """The tables of the file `conn` has open if it is another application's database; none
    if it holds no table or is a store of ours: stamped, or from before the stamps (some of
    the tables `scripts` make, with their columns or fewer: columns are only ever added)."""
    tables = sorted(table for (table,) in conn.execute(TABLES))
    if not tables or "schema_stamps" in tables:
        return []
    ours = {table: columns for script in scripts for table, columns in _tables_of(script).items()}
    shared = [table for table in tables if table in ours]
    if shared and all(_columns(conn, table) <= ours[table] for table in shared):
        return []
    return tables


def not_ours(path: Path, tables: list[str]) -> str:
    """Say that `path` holds another application's tables."""
    more = f" (and {len(tables) - NAMED} more)" if len(tables) > NAMED else ""
    return (
        f"{path} is a SQLite database of another application, not a tracegraph store: "
        f"tables {', '.join(tables[:NAMED])}{more}"
    )


@cache
def _tables_of(script: str) -> dict[str, frozenset[str]]:
    """The tables `script` makes and their columns, as it makes them in a new file."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.executescript(script)
        return {table: _columns(conn, table) for (table,) in conn.execute(TABLES).fetchall()}
    finally:
        conn.close()


def _columns(conn: sqlite3.Connection, table: str) -> frozenset[str]:
    return frozenset(column for (column,) in conn.execute(COLUMNS, (table,)))
