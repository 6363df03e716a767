"""A Neo4j rebuild whose hold on the graph was lost, and that another rebuild may have taken
over, stops: it neither records the graph as whole nor touches what the other rebuilds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import pytest

from graph.errors import StoreBusy
from graph.neo4j_store import START_REBUILD, Neo4jStore
from graph.projection import PROJECTION
from graph.store import StoredEvent
from ingest.service import IngestService
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events


@pytest.fixture
def stores(
    request: pytest.FixtureRequest, events: Events
) -> Iterator[tuple[Neo4jStore, Neo4jStore]]:
    """Two store objects on one server, holding two lots; the graph made by an older release."""
    target = neo4j_or_skip(request)
    first, second = (
        Neo4jStore(target.uri, user=target.user, password=target.password) for _ in range(2)
    )
    first.wipe()
    IngestService(first).ingest([events.receive("L-1", 10), events.receive("L-2", 5)])
    first.stamp_projection(PROJECTION - 1)
    yield first, second
    first.close()
    second.close()


# What the end of another rebuild leaves on the graph: no mark.
FINISHED: Final = "MATCH (c:Counter {name: 'ingest'}) REMOVE c.rebuilding, c.rebuild_started"


def _taken_over(store: Neo4jStore) -> None:
    """Another rebuild marks the graph its own, as one does that took over."""
    with store._session() as session:
        session.run(START_REBUILD, token="another", started="2026-01-05T08:00:00Z").consume()


def test_a_rebuild_taken_over_does_not_record_the_graph_as_whole(
    stores: tuple[Neo4jStore, Neo4jStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    rebuilder, other = stores
    replay = IngestService._replay_log

    def then_taken_over(service: IngestService, chunk: int, whole: bool) -> int:
        replayed = replay(service, chunk, whole)
        _taken_over(other)
        return replayed

    monkeypatch.setattr(IngestService, "_replay_log", then_taken_over)
    with pytest.raises(StoreBusy, match="lost its hold on the graph"):
        IngestService(rebuilder).bring_up_to_date()
    assert other.projection_version() == PROJECTION - 1


def test_a_rebuild_whose_mark_is_gone_writes_no_more(
    stores: tuple[Neo4jStore, Neo4jStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    rebuilder, other = stores
    read = rebuilder.events
    pages: list[int] = []

    def events(after_seq: int, limit: int) -> list[StoredEvent]:
        pages.append(after_seq)
        if len(pages) == 2:  # another took over and finished after the first chunk was written
            other._execute(FINISHED, "write")
        return read(after_seq, limit)

    monkeypatch.setattr(rebuilder, "events", events)
    with pytest.raises(StoreBusy, match="lost its hold on the graph"):
        IngestService(rebuilder).rebuild(chunk=1)
    assert other.node("lot:L-1") is not None and other.node("lot:L-2") is None


def test_a_rebuild_taken_over_clears_nothing(stores: tuple[Neo4jStore, Neo4jStore]) -> None:
    rebuilder, other = stores
    with rebuilder.atomically():
        _taken_over(other)  # the other has rebuilt both lots by now
        with pytest.raises(StoreBusy, match="lost its hold on the graph"):
            rebuilder.clear_projection()
    assert other.node("lot:L-1") is not None and other.node("lot:L-2") is not None


# As the server ends the transaction of a client it found gone, or an operator ends it.
END_LEASE: Final = (
    "SHOW TRANSACTIONS YIELD transactionId AS id, metaData "
    "WHERE metaData.tracegraph_rebuild IS NOT NULL "
    "TERMINATE TRANSACTIONS id YIELD transactionId RETURN transactionId"
)


def test_a_rebuild_whose_lease_ended_stops_at_its_next_chunk(
    stores: tuple[Neo4jStore, Neo4jStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    rebuilder, other = stores
    read = rebuilder.events
    pages: list[int] = []

    def events(after_seq: int, limit: int) -> list[StoredEvent]:
        pages.append(after_seq)
        if len(pages) == 2:
            assert len(other._execute(END_LEASE, "write")) == 1
        return read(after_seq, limit)

    monkeypatch.setattr(rebuilder, "events", events)
    with pytest.raises(StoreBusy, match="lost its hold on the graph"):
        IngestService(rebuilder).rebuild(chunk=1)
    assert other.node("lot:L-1") is not None and other.node("lot:L-2") is None
    assert other.projection_version() == PROJECTION - 1
    assert IngestService(other).rebuild() == 2  # the next rebuild takes over at once
