"""On Neo4j a write waits a bounded time for the write lock another client holds, as the embedded
store waits its busy timeout, then is StoreBusy and writes nothing; the work it does once it
holds the lock has no such bound."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import pytest

from graph import neo4j_driver
from graph.errors import StoreBusy
from graph.neo4j_store import LOCK, Neo4jStore
from graph.store import WriteTx
from ingest.models import Event
from ingest.parse import parse_events
from ingest.service import IngestService
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events
from tests.fixtures.neo4j_server import Neo4jTarget, lock_held


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Neo4jTarget:
    return neo4j_or_skip(request)


@pytest.fixture
def store(target: Neo4jTarget, monkeypatch: pytest.MonkeyPatch) -> Iterator[Neo4jStore]:
    monkeypatch.setattr(neo4j_driver, "LOCK_WAIT", 1.0)
    opened = Neo4jStore(target.uri, user=target.user, password=target.password)
    opened.wipe()
    yield opened
    opened.close()


def test_a_write_gives_up_waiting_for_the_lock_but_not_working_under_it(
    store: Neo4jStore, target: Neo4jTarget, events: Events
) -> None:
    service = IngestService(store)
    with lock_held(target, LOCK, 6.0):
        began = time.monotonic()
        with pytest.raises(StoreBusy) as busy:
            service.ingest([events.receive("L-1", 10)])
        waited = time.monotonic() - began
    assert 1.0 <= waited < 4.0
    assert "held the graph's write lock for 1 s" in busy.value.message
    assert "nothing was written; try again shortly" in busy.value.message
    assert store.node("lot:L-1") is None and store.counts()["events"] == 0

    def slow(tx: WriteTx, batch: Sequence[Event]) -> None:
        time.sleep(2.5)  # as a large batch or a rebuild chunk works, past the wait's bound

    with lock_held(target, LOCK, 0.3):  # taken after a wait within the bound
        service.ingest_events(parse_events([events.receive("L-2", 10)]), guard=slow)
    assert store.node("lot:L-2") is not None and store.counts()["events"] == 1


def test_a_rebuild_gives_up_waiting_to_start(
    store: Neo4jStore, target: Neo4jTarget, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10)])
    with (
        lock_held(target, LOCK, 6.0),
        pytest.raises(StoreBusy, match="held the graph's write lock"),
    ):
        service.rebuild()
    assert store.node("lot:L-1") is not None  # the graph was left as it was, and unmarked
    service.ingest([events.receive("L-2", 10)])
