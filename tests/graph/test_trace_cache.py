"""The process's kept traces: bounded, found only under the change mark they were computed at."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from graph.embedded_store import EmbeddedStore
from graph.trace import Trace, TraceNode, TraceService
from graph.trace_cache import TraceCache
from ingest.service import IngestService
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


def test_an_event_recorded_or_a_write_under_way_is_another_mark(
    embedded: EmbeddedStore, events: Events
) -> None:
    cache, computed = TraceCache(), list[int]()
    traces = TraceService(embedded, cache)
    ingest = IngestService(embedded)
    ingest.ingest([events.receive("K-0", 10)])
    first = traces.trace("lot:K-0", "down")
    assert traces.trace("lot:K-0", "down") is first
    ingest.ingest([events("split", lot="K-0", into=[{"lot": "K-1", "qty": "2"}])])
    again = traces.trace("lot:K-0", "down")
    assert again is not first and [n.id for n in again.nodes] == ["lot:K-0", "lot:K-1"]
    # Inside a write of its own the store tells no mark: what it wrote may yet be undone.
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


def test_a_rebuild_is_another_mark(embedded: EmbeddedStore, events: Events) -> None:
    ingest = IngestService(embedded)
    ingest.ingest(
        [events.receive("K-0", 10), events("split", lot="K-0", into=[{"lot": "K-1", "qty": "2"}])]
    )
    # The graph out of step with its log (what a rebuild is for): a link lost by hand.
    with closing(sqlite3.connect(embedded.path)) as other, other:
        other.execute("DELETE FROM edges WHERE type = 'SPLIT_INTO'")
    traces = TraceService(embedded, TraceCache())
    assert [n.id for n in traces.trace("lot:K-0", "down").nodes] == ["lot:K-0"]
    ingest.rebuild()  # at the version the graph already has: the same stamp, the same last event
    assert [n.id for n in traces.trace("lot:K-0", "down").nodes] == ["lot:K-0", "lot:K-1"]
