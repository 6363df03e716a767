"""A rebuild on Neo4j keeps its lease (graph.neo4j_store.REBUILD_LEASE) for as long as it runs,
on a server whose operator bounds every transaction's time (db.transaction.timeout)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from graph.neo4j_store import Neo4jStore
from graph.projection import PROJECTION
from graph.store import StoredEvent
from ingest.service import IngestService
from tests.conftest import transaction_timeout
from tests.fixtures.events import Events
from tests.fixtures.neo4j_server import Neo4jTarget

pytestmark = pytest.mark.neo4j

# The server ends a transaction older than this (it looks every couple of seconds): long enough
# for every other transaction of the test on a server just started, on a busy machine.
TIMEOUT = 5.0
# How long the rebuild pauses once it has written its first chunk.
PAUSE = TIMEOUT + 3.0


@pytest.fixture
def short(request: pytest.FixtureRequest) -> Iterator[Neo4jTarget]:
    """A server whose transactions may last TIMEOUT."""
    with transaction_timeout(request, TIMEOUT) as target:
        yield target


def test_a_rebuild_longer_than_the_servers_transaction_timeout_keeps_its_lease(
    short: Neo4jTarget, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Neo4jStore(short.uri, user=short.user, password=short.password)
    try:
        store.wipe()
        IngestService(store).ingest([events.receive("L-1", 10), events.receive("L-2", 5)])
        read = store.events

        def slow(after_seq: int, limit: int) -> list[StoredEvent]:
            if after_seq == 1:  # as the pages of a large plant take their time
                time.sleep(PAUSE)
            return read(after_seq, limit)

        monkeypatch.setattr(store, "events", slow)
        began = time.monotonic()
        assert IngestService(store).rebuild(chunk=1) == 2
        assert time.monotonic() - began > PAUSE
        assert store.projection_version() == PROJECTION
        assert store.node("lot:L-1") is not None and store.node("lot:L-2") is not None
    finally:
        store.close()
