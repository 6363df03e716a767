"""A failure Neo4j calls transient, once the driver's retries are spent, is answered 503
`store_busy` with Retry-After, nothing written, never a 500 with the driver's text.

The failure is a real deadlock: another client holds the lot a split takes from and, once the
split's write waits for it, asks for the graph's write lock, which the split holds. The server
ends the one of the two that holds fewer locks (Neo4j's deadlock resolution): the split, as the
other holds the keys of some ids it made besides. Its driver retries nothing here, as a cluster's
BookmarkTimeout leaves it no time to: each try waits the server's bookmark_ready_timeout (30 s),
past the store's retry time (graph.neo4j_driver.MAX_TRANSACTION_RETRY_TIME).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import pytest

from graph import neo4j_driver
from graph.neo4j_store import LOCK
from tests.api.conftest import login
from tests.api.neo4j_plant import Plant
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events
from tests.fixtures.neo4j_server import Neo4jTarget, open_driver

pytestmark = pytest.mark.neo4j

HOLD_LOT: Final = "MATCH (n:Node {gid: 'lot:L-1'}) SET n.held = true"
# More locks than the split's write holds as it waits: the key of each id, under its constraint.
HOLD_KEYS: Final = "UNWIND range(1, 500) AS i CREATE (:Node {gid: 'held:' + i})"
# The store's writes mark their metadata (graph.neo4j_driver.WAITING).
WRITE_WAITING: Final = (
    "SHOW TRANSACTIONS YIELD metaData, status "
    "WHERE metaData.tracegraph_waiting IS NOT NULL AND status STARTS WITH 'Blocked' RETURN 1"
)
WITHIN: Final = 30.0


@pytest.fixture
def plant(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Plant]:
    monkeypatch.setattr(neo4j_driver, "MAX_TRANSACTION_RETRY_TIME", 0.0)
    built = Plant(neo4j_or_skip(request))
    with built.client:
        yield built
    built.services.close()


def _deadlocking(target: Neo4jTarget, holding: threading.Event) -> None:
    """Hold lot L-1 (and many keys) until a write of the store waits for it, then wait for the
    graph's write lock; roll back once the server has ended the write."""
    with open_driver(target) as driver, driver.session() as session:
        held = session.begin_transaction()
        try:
            held.run(HOLD_LOT).consume()
            held.run(HOLD_KEYS).consume()
            holding.set()
            while not driver.execute_query(WRITE_WAITING).records:
                threading.Event().wait(0.02)
            held.run(LOCK).consume()
        finally:
            held.rollback()


def test_a_write_the_server_found_deadlocked_is_a_503_to_send_again(
    plant: Plant, request: pytest.FixtureRequest
) -> None:
    admin = login(plant.client, "admin")
    split = Events("T")("split", minutes=60, lot="L-1", into=[{"lot": "L-1A", "qty": "2"}])
    holding = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(_deadlocking, neo4j_or_skip(request), holding)
        assert holding.wait(WITHIN)
        answer = plant.client.post("/api/v1/events", json=[split], headers=admin)
        other.result(WITHIN)  # the other client's transaction was not the one ended
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "store_busy"
    assert answer.headers["Retry-After"] == "5"
    assert answer.json()["message"] == (
        "Neo4j could not do this write to the graph for now (it deadlocked with another "
        "transaction each time it was tried): nothing was written; try again shortly"
    )
    assert plant.store.node("lot:L-1A") is None
    again = plant.client.post("/api/v1/events", json=[split], headers=admin)
    assert again.status_code == 201, again.text
