"""Neo4j refuses a graph a newer release made, before writing anything to the database."""

from __future__ import annotations

import pytest

from graph.errors import StoreUnavailable
from graph.neo4j_store import Neo4jStore
from graph.projection import PROJECTION
from ingest.service import IngestService
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events


def test_neo4j_refuses_a_graph_of_a_newer_release(
    request: pytest.FixtureRequest, events: Events
) -> None:
    target = neo4j_or_skip(request)
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    try:
        store.wipe()
        IngestService(store).ingest([events.receive("L-1", 10)])
        store.stamp_projection(PROJECTION + 1)
        with pytest.raises(StoreUnavailable, match="made by a newer release of tracegraph"):
            Neo4jStore(target.uri, user=target.user, password=target.password)
        assert store.projection_version() == PROJECTION + 1
        assert store.node("lot:L-1") is not None
    finally:
        store.wipe()  # an empty graph: the next test's store is current
        store.close()
