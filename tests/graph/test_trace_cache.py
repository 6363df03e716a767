"""The process's kept traces: bounded, found only under the change mark they were computed at."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from graph.embedded_store import EmbeddedStore
from graph.neo4j_store import Neo4jStore
from graph.store import GraphStore
from graph.trace import Trace, TraceNode, TraceService
from graph.trace_cache import TraceCache
from ingest.service import IngestService
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path / "kept.db")
    yield store
    store.close()


def made(size: int, computed: list[int]) -> Trace:
    computed.append(size)
    nodes = [TraceNode(f"lot:N-{i}", "lot", i, {}) for i in range(size)]
    return Trace("lot:N-0", "down", nodes, [])


def test_kept_traces_are_bounded_by_entries_and_by_nodes(embedded: EmbeddedStore) -> None:
    computed: list[int] = []
    by_entries = TraceCache(entries=3, items=1000)
    for key in (0, 1, 2, 3, 2, 0):  # 0 dropped for 3; 2 kept; 0 again pushes out 1
        by_entries.trace(embedded, key, lambda: made(10, computed))
    assert len(computed) == 5
    by_entries.trace(embedded, 1, lambda: made(10, computed))
    assert len(computed) == 6
    computed.clear()
    by_nodes = TraceCache(entries=100, items=100)
    for key in (0, 1, 2, 3, 4, 0, 5, 0, 1):  # five of 20 fit; a sixth pushes out the oldest
        by_nodes.trace(embedded, key, lambda: made(20, computed))
    assert len(computed) == 7
    # One over a quarter of the bound is never kept: it would push out every other.
    by_nodes.trace(embedded, "big", lambda: made(26, computed))
    by_nodes.trace(embedded, "big", lambda: made(26, computed))
    assert computed[-2:] == [26, 26] and len(computed) == 9


def test_an_event_recorded_is_another_mark(store: GraphStore, events: Events) -> None:
    traces = TraceService(store, TraceCache())
    ingest = IngestService(store)
    ingest.ingest([events.receive("K-0", 10)])
    first = traces.trace("lot:K-0", "down")
    assert traces.trace("lot:K-0", "down") is first
    ingest.ingest([events("split", lot="K-0", into=[{"lot": "K-1", "qty": "2"}])])
    again = traces.trace("lot:K-0", "down")
    assert again is not first and [n.id for n in again.nodes] == ["lot:K-0", "lot:K-1"]
    assert traces.trace("lot:K-0", "down") is again


def test_a_write_under_way_tells_no_mark(embedded: EmbeddedStore) -> None:
    # Inside a write of its own the store tells no mark: what it wrote may yet be undone.
    cache, computed = TraceCache(), list[int]()
    with embedded.atomically():
        assert embedded.change_mark() is None
        cache.trace(embedded, "k", lambda: made(1, computed))
        cache.trace(embedded, "k", lambda: made(1, computed))
    assert computed == [1, 1]


def test_another_store_finds_none_of_a_stores_traces(tmp_path: Path, events: Events) -> None:
    cache = TraceCache()
    one, other = EmbeddedStore(tmp_path / "one.db"), EmbeddedStore(tmp_path / "other.db")
    IngestService(one).ingest([events.receive("K-0", 10)])
    IngestService(other).ingest([events.receive("K-0", 10)])
    assert one.change_mark() == other.change_mark()  # the same mark: the store tells them apart
    kept = TraceService(one, cache).trace("lot:K-0", "down")
    assert TraceService(other, cache).trace("lot:K-0", "down") is not kept
    one.close()
    other.close()


def _lose_split_links(store: GraphStore) -> None:
    """Put the graph out of step with its log (what a rebuild is for): links lost by hand."""
    if isinstance(store, EmbeddedStore):
        with closing(sqlite3.connect(store.path)) as other, other:
            other.execute("DELETE FROM edges WHERE type = 'SPLIT_INTO'")
        return
    with store._driver.session() as session:  # type: ignore[attr-defined]
        session.run("MATCH ()-[r:SPLIT_INTO]->() DELETE r").consume()


def test_a_rebuild_is_another_mark(store: GraphStore, events: Events) -> None:
    ingest = IngestService(store)
    ingest.ingest(
        [events.receive("K-0", 10), events("split", lot="K-0", into=[{"lot": "K-1", "qty": "2"}])]
    )
    _lose_split_links(store)
    traces = TraceService(store, TraceCache())
    assert [n.id for n in traces.trace("lot:K-0", "down").nodes] == ["lot:K-0"]
    ingest.rebuild()  # at the version the graph already has: the same stamp, the same last event
    assert [n.id for n in traces.trace("lot:K-0", "down").nodes] == ["lot:K-0", "lot:K-1"]


@pytest.fixture
def neo4j(request: pytest.FixtureRequest) -> Iterator[Neo4jStore]:
    """The session's Neo4j, wiped."""
    target = neo4j_or_skip(request)
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    store.wipe()
    yield store
    store.close()


@pytest.mark.neo4j
def test_a_graph_being_rebuilt_on_neo4j_tells_no_mark(neo4j: Neo4jStore, events: Events) -> None:
    """A rebuild on Neo4j commits chunk by chunk (the embedded store's is one write, which
    tells none: above): the graph is partial meanwhile."""
    IngestService(neo4j).ingest([events.receive("K-0", 10)])
    assert neo4j.change_mark() is not None
    with neo4j.atomically():
        assert neo4j.change_mark() is None
    assert neo4j.change_mark() is not None


@pytest.mark.neo4j
def test_a_wiped_and_refilled_neo4j_graph_is_another_mark(
    neo4j: Neo4jStore, events: Events
) -> None:
    """As many events again after a wipe (a scratch database's) are not the graph the kept
    trace was of, though the store is the same object."""
    cache = TraceCache()
    IngestService(neo4j).ingest([events.receive("K-0", 10)])
    kept = TraceService(neo4j, cache).trace("lot:K-0", "down")
    neo4j.wipe()
    IngestService(neo4j).ingest([events.receive("K-0", 4)])
    again = TraceService(neo4j, cache).trace("lot:K-0", "down")
    assert again is not kept and again.nodes[0].attrs["qty"] != kept.nodes[0].attrs["qty"]


@pytest.mark.neo4j
def test_neo4j_reads_wait_for_the_state_their_mark_was_read_at(
    neo4j: Neo4jStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a cluster a trace's reads may go to another member than its mark's: every session
    keeps one chain of bookmarks with the driver's own statements, so none reads a state
    older than one read or written before it."""
    driver = neo4j._driver
    opened: list[object] = []
    session = driver.session

    def recorded(**config: Any) -> Any:
        opened.append(config.get("bookmark_manager"))
        return session(**config)

    monkeypatch.setattr(driver, "session", recorded)
    neo4j.change_mark()
    neo4j.node("lot:K-0")
    neo4j.write(lambda tx: None)
    assert len(opened) == 3
    assert all(chain is driver.execute_query_bookmark_manager for chain in opened)
