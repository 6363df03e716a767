"""The engines' floor under ingest: the writes of an ingest, replayed with nothing else to do.

Used by bench.ingest_phases. While a plant is ingested, `recorded_writes` keeps every write
statement each store's transactions send, with their rows and parameters as sent. The same
writes are then replayed into an empty store of the same kind, one transaction per batch as
ingest made them:

- embedded, through Python's sqlite3 module: the engine and the binding our store pays for;
- embedded, through SQLite's C API (`bench/csrc/sqlite_replay`, built by `make bench`): the
  engine alone;
- Neo4j, through the driver, each batch's statements sent together after the ingest lock, as
  ingest sends them: what the server and the driver cost for the graph's writes alone.

What an ingest costs beyond these is validation, the canonical form, planning and its reads.
"""

from __future__ import annotations

import gc
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graph.neo4j_store import Neo4jStore, Neo4jTx

REPLAYER = Path(__file__).parent / "csrc" / "sqlite_replay"
COMMIT = "COMMIT"
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@dataclass
class Recording:
    """The writes of an ingest: embedded statements (COMMIT between batches), Neo4j batches."""

    embedded: list[tuple[str, list[Sequence[Any]]]] = field(default_factory=list)
    neo4j: list[list[tuple[str, dict[str, Any]]]] = field(default_factory=list)

    @property
    def embedded_rows(self) -> int:
        return sum(len(rows) for sql, rows in self.embedded if sql != COMMIT)


class _RecordingConnection:
    """Passes every call to a sqlite3 connection and keeps the writes among them."""

    def __init__(self, conn: sqlite3.Connection, into: Recording) -> None:
        self._conn = conn
        self._into = into

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        if sql.lstrip().upper().startswith(_WRITES):
            if isinstance(parameters, dict):
                raise TypeError("the replay writes positional parameters only")
            self._into.embedded.append((sql, [tuple(parameters)]))
        return self._conn.execute(sql, parameters)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        kept = list(rows)
        self._into.embedded.append((sql, kept))
        return self._conn.executemany(sql, kept)


class _RecordingTransaction:
    """Passes every statement to a Neo4j transaction and keeps it with its parameters."""

    def __init__(self, tx: Any, into: list[tuple[str, dict[str, Any]]]) -> None:
        self._tx = tx
        self._into = into

    def run(self, query: str, parameters: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        self._into.append((query, {**(parameters or {}), **kwargs}))
        return self._tx.run(query, parameters, **kwargs)


@contextmanager
def recorded_writes(into: Recording) -> Iterator[None]:
    """Keep the writes that both stores' `apply` send, for the duration."""
    from graph.embedded_store import EmbeddedTx
    from graph.neo4j_store import Neo4jTx

    embedded_apply, neo4j_apply = EmbeddedTx.apply, Neo4jTx.apply

    def embedded(tx: EmbeddedTx, changes: Any) -> None:
        with _swapped(tx, "_conn", _RecordingConnection(tx._conn, into)):
            embedded_apply(tx, changes)
        into.embedded.append((COMMIT, []))  # the store commits when apply returns
        gc.freeze()  # the collector would walk the recording after every batch, in the clocks

    def neo4j(tx: Neo4jTx, changes: Any) -> None:
        batch: list[tuple[str, dict[str, Any]]] = []
        with _swapped(tx, "_tx", _RecordingTransaction(tx._tx, batch)):
            neo4j_apply(tx, changes)
        into.neo4j.append(batch)
        gc.freeze()

    try:
        with _swapped(EmbeddedTx, "apply", embedded), _swapped(Neo4jTx, "apply", neo4j):
            yield
    finally:
        gc.unfreeze()


@contextmanager
def _swapped(owner: Any, name: str, value: Any) -> Iterator[None]:
    """Set an attribute for the duration, and put the old one back."""
    kept = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, kept)


@dataclass(frozen=True)
class Replay:
    cpu_s: float
    wall_s: float
    counts: dict[str, int]  # the replayed store's, to compare with the ingested one's
    server_cpu_s: float | None = None


def _counts(db: Path) -> dict[str, int]:
    from graph.embedded_store import EmbeddedStore

    store = EmbeddedStore(db)
    try:
        return store.counts()
    finally:
        store.close()


def _empty_store(folder: Path) -> Path:
    """Create an embedded store with its schema and nothing else; return its file."""
    from graph.embedded_store import EmbeddedStore

    path = folder / "floor.db"
    EmbeddedStore(path).close()
    return path


def replay_python(recording: Recording) -> Replay:
    """Write the embedded recording through Python's sqlite3, as our store does."""
    from graph.embedded_store import PRAGMAS

    folder = Path(tempfile.mkdtemp(prefix="tracegraph-floor-"))
    try:
        conn = sqlite3.connect(_empty_store(folder), isolation_level=None)
        for pragma in PRAGMAS:
            conn.execute(pragma)
        cpu, wall = time.process_time(), time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for sql, rows in recording.embedded:
            if sql == COMMIT:
                conn.execute("COMMIT")
                conn.execute("BEGIN IMMEDIATE")
            else:
                conn.executemany(sql, rows)
        conn.execute("COMMIT")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        conn.close()
        return Replay(cpu, wall, _counts(folder / "floor.db"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def replay_c(recording: Recording) -> Replay | None:
    """Write the embedded recording through SQLite's C API; None where it is not built."""
    from graph.embedded_store import PRAGMAS

    if not REPLAYER.exists():
        return None
    folder = Path(tempfile.mkdtemp(prefix="tracegraph-floor-"))
    try:
        dump = folder / "writes.bin"
        with dump.open("wb") as out:
            write_dump(out.write, PRAGMAS, recording.embedded)
        db = _empty_store(folder)
        done = subprocess.run(
            [str(REPLAYER), str(db), str(dump)], check=True, capture_output=True, text=True
        )
        figures = dict(item.split("=") for item in done.stdout.split())
        return Replay(float(figures["cpu_s"]), float(figures["wall_s"]), _counts(db))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_dump(
    write: Callable[[bytes], Any],
    pragmas: Sequence[str],
    statements: Sequence[tuple[str, Sequence[Sequence[Any]]]],
) -> None:
    """Write what sqlite_replay reads (its header comment gives the format)."""
    write(b"TGREPLAY1" + struct.pack("<I", len(pragmas)))
    for pragma in pragmas:
        write(_sized(pragma.encode()))
    for sql, rows in statements:
        if sql == COMMIT:
            write(b"C")
            continue
        write(b"S" + _sized(sql.encode()) + struct.pack("<I", len(rows)))
        for row in rows:
            write(struct.pack("<I", len(row)) + b"".join(_value(v) for v in row))
    write(b"E")


def _sized(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def _value(value: Any) -> bytes:
    if value is None:
        return b"N"
    if isinstance(value, int):  # bool too: SQLite stores it as 0 or 1
        return b"I" + struct.pack("<q", value)
    if isinstance(value, float):
        return b"R" + struct.pack("<d", value)
    if isinstance(value, str):
        return b"T" + _sized(value.encode())
    if isinstance(value, bytes):
        return b"B" + _sized(value)
    raise TypeError(f"no replay encoding for {type(value).__name__}")


Statement = tuple[str, dict[str, Any]]
EVENT_LOG = "the event log (Event nodes)"
ITEMS_AND_LINKS = "items and their links (nodes and relationships)"


def neo4j_parts(recording: Recording) -> dict[str, Recording]:
    """The Neo4j writes cut into parts, each to be replayed alone: where the server's time goes.

    Items are replayed once with every property and once with their gid alone (the one the
    unique index needs), which tells what the properties cost. The other writes (statuses,
    consumption, cart closes) find the events and items they update only after these, so they
    are not replayed alone: they cost what the whole costs beyond the event log and the graph.
    """
    from graph.neo4j_store import CREATE_EVENTS, CREATE_GRAPH

    def log(query: str, params: dict[str, Any]) -> Statement | None:
        return (query, params) if CREATE_EVENTS in query else None

    def items(query: str, params: dict[str, Any]) -> Statement | None:
        return (query, {**params, "edges": []}) if CREATE_GRAPH in query else None

    def bare_items(query: str, params: dict[str, Any]) -> Statement | None:
        if CREATE_GRAPH not in query:
            return None
        bare = [[label, {"gid": props["gid"]}] for label, props in params["nodes"]]
        return (query, {**params, "nodes": bare, "edges": []})

    def graph(query: str, params: dict[str, Any]) -> Statement | None:
        return (query, params) if CREATE_GRAPH in query else None

    def cut(keep: Callable[[str, dict[str, Any]], Statement | None]) -> Recording:
        batches = [[kept for q, p in batch if (kept := keep(q, p))] for batch in recording.neo4j]
        return Recording(neo4j=batches)

    return {
        EVENT_LOG: cut(log),
        "items (nodes) with every property": cut(items),
        "items (nodes) with their gid alone": cut(bare_items),
        ITEMS_AND_LINKS: cut(graph),
    }


def replay_neo4j(
    store: Neo4jStore, recording: Recording, server_cpu: Callable[[], float | None]
) -> Replay:
    """Send the Neo4j recording to the store, wiped, one transaction per batch, after the lock.

    The store is wiped again afterwards.
    """
    store.wipe()

    def send(statements: list[tuple[str, dict[str, Any]]]) -> Callable[[Neo4jTx], None]:
        def work(tx: Neo4jTx) -> None:
            sent = [tx._tx.run(query, parameters) for query, parameters in statements]
            for result in sent:
                result.consume()

        return work

    server_before = server_cpu()
    cpu, wall = time.process_time(), time.perf_counter()
    for batch in recording.neo4j:
        store.write(send(batch))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    server_after = server_cpu()
    counts = store.counts()
    store.wipe()
    server = None if server_before is None or server_after is None else server_after - server_before
    return Replay(cpu, wall, counts, server)
