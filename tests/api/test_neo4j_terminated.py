"""A transaction that Neo4j's administrator (or another process) ends on the server as it runs
(`TERMINATE TRANSACTIONS`) is answered, never a 500 with the driver's text: a write is 503
`store_busy`, nothing written, to send again; a read 503 `read_terminated`, with no
`Retry-After`, as whoever ended it may have meant it; a step of opening the store says the store
was not opened, not that a write was.

The transaction is found as an operator finds it, with `SHOW TRANSACTIONS` from another session:
a read by its statement (a trace's, replaced by one that runs until it is ended), a write by the
mark the store puts in its metadata, while it holds the graph's write lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, LiteralString

import pytest

from graph import neo4j_store
from graph.errors import ReadTerminated, StoreBusy
from graph.neo4j_store import Neo4jStore
from ingest import service
from tests.api.conftest import login
from tests.api.neo4j_plant import Plant
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events
from tests.fixtures.neo4j_server import Neo4jTarget, open_driver

pytestmark = pytest.mark.neo4j

# Runs until it is ended, and returns the two columns of a trace's rows.
ENDLESS: Final[LiteralString] = (
    "UNWIND range(1, 4000000000) AS x WITH x WHERE x < 0 RETURN x AS props, [] AS found"
)
# The text comes as a parameter: written in, it would find this statement too.
RUNNING_READ: Final = (
    "SHOW TRANSACTIONS YIELD transactionId AS id, currentQuery "
    "WHERE currentQuery = $endless RETURN id"
)
# A write of the store's marks its metadata (graph.neo4j_driver.WAITING).
RUNNING_WRITE: Final = (
    "SHOW TRANSACTIONS YIELD transactionId AS id, metaData "
    "WHERE metaData.tracegraph_waiting IS NOT NULL RETURN id"
)
FOUND_WITHIN: Final = 30.0


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Neo4jTarget:
    return neo4j_or_skip(request)


@pytest.fixture
def plant(target: Neo4jTarget) -> Iterator[Plant]:
    built = Plant(target)
    with built.client:
        yield built
    built.services.close()


def terminate(target: Neo4jTarget, finding: LiteralString) -> None:
    """End, as an operator does, the one transaction `finding` names once it runs."""
    deadline = time.monotonic() + FOUND_WITHIN
    with open_driver(target) as driver:
        while not (found := driver.execute_query(finding, endless=ENDLESS).records):
            assert time.monotonic() < deadline, "the transaction never showed"
            time.sleep(0.05)
        (only,) = found
        driver.execute_query("TERMINATE TRANSACTIONS $id", id=only["id"])


def ended_by_hand(target: Neo4jTarget, finding: LiteralString, request: Callable[[], Any]) -> Any:
    """The answer to `request`, whose transaction is terminated as it runs."""
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(request)
        terminate(target, finding)
        return answer.result(timeout=FOUND_WITHIN)


def test_a_read_ended_on_the_server_says_so_with_no_retry_after(
    plant: Plant, target: Neo4jTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = login(plant.client, "admin")
    monkeypatch.setattr(neo4j_store, "REACH", {"down": ENDLESS, "up": ENDLESS})
    trace = ended_by_hand(
        target,
        RUNNING_READ,
        lambda: plant.client.get("/api/v1/trace?id=lot:L-1&direction=down", headers=admin),
    )
    assert trace.status_code == 503, trace.text
    assert trace.json()["error"] == "read_terminated"
    assert "Retry-After" not in trace.headers
    message = trace.json()["message"]
    assert message.startswith("Neo4j ended this read of the graph on the server")
    assert "its administrator, or another process, terminated the transaction" in message
    assert "Neo.ClientError" not in message
    query = {"query": '{ trace(id: "lot:L-1", direction: DOWN) { root } }'}
    answer = ended_by_hand(
        target, RUNNING_READ, lambda: plant.client.post("/graphql", json=query, headers=admin)
    )
    assert answer.status_code == 200, answer.text
    (error,) = answer.json()["errors"]
    assert error["extensions"] == {"code": "READ_TERMINATED", "status": 503}
    assert error["message"] == message


def test_a_write_ended_on_the_server_wrote_nothing_and_may_be_sent_again(
    plant: Plant, target: Neo4jTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = login(plant.client, "admin")
    inside, ended = threading.Event(), threading.Event()
    apply_batch = service._apply_batch

    def held(*args: Any, **kwargs: Any) -> Any:  # holds the write lock until it is ended
        inside.set()
        ended.wait(FOUND_WITHIN)
        return apply_batch(*args, **kwargs)

    def terminated() -> None:
        assert inside.wait(FOUND_WITHIN), "the write never began"
        terminate(target, RUNNING_WRITE)
        ended.set()

    monkeypatch.setattr(service, "_apply_batch", held)
    batch = [Events().receive("L-2", 5, event_id="E-9")]
    with ThreadPoolExecutor(1) as pool:
        ending = pool.submit(terminated)
        answer = plant.client.post("/api/v1/events", json=batch, headers=admin)
        ending.result()
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "store_busy"
    assert answer.headers["Retry-After"] == "5"
    assert answer.json()["message"] == (
        "Neo4j ended this write to the graph on the server before it was done (its "
        "administrator, or another process, terminated the transaction): nothing was written; "
        "it can be sent again"
    )
    assert plant.store.node("lot:L-2") is None
    assert plant.store.counts()["events"] == 1
    monkeypatch.setattr(service, "_apply_batch", apply_batch)
    again = plant.client.post("/api/v1/events", json=batch, headers=admin)
    assert again.status_code == 201, again.text
    assert plant.store.node("lot:L-2") is not None


def test_a_step_of_opening_the_store_ended_on_the_server_says_the_store_was_not_opened(
    target: Neo4jTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(neo4j_store, "SCHEMA", (*neo4j_store.SCHEMA[:1], ENDLESS))

    def opening() -> Neo4jStore:
        return Neo4jStore(target.uri, user=target.user, password=target.password)

    with pytest.raises(StoreBusy) as ended:
        ended_by_hand(target, RUNNING_READ, opening)
    assert ended.value.message == (
        "Neo4j ended a step of opening the graph (bringing its schema up to date) on the server "
        "before it was done (its administrator, or another process, terminated the "
        "transaction): the graph was not opened; open it again"
    )


def test_a_read_run_on_its_own_ended_on_the_server_is_said_as_a_read(
    target: Neo4jTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    monkeypatch.setattr(neo4j_store, "PROJECTION_VERSION", ENDLESS)
    try:
        with pytest.raises(ReadTerminated, match="Neo4j ended this read of the graph"):
            ended_by_hand(target, RUNNING_READ, store.projection_version)
    finally:
        store.close()
