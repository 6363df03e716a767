"""On a Neo4j server that bounds every transaction's time (db.transaction.timeout, often 30-120 s in
production) a request the server ends there is answered, never a 500: a write is 503
`store_busy` and wrote nothing, a read 503 `store_time_limit` saying to ask for less (and no
`Retry-After`: asked again as it is, it meets the limit again).

A read cannot be made to wait on a lock in Neo4j, and a trace long enough would take a plant to
build: the trace's statement is replaced by one that runs past the limit, so the server ends it
as it would end a deep trace.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, Final, LiteralString

import pytest

from graph import neo4j_store
from graph.errors import StoreBusy
from graph.neo4j_store import LOCK
from graph.store import WriteTx
from ingest.models import Event
from ingest.parse import parse_events
from tests.api.conftest import login
from tests.api.neo4j_plant import Plant
from tests.conftest import transaction_timeout
from tests.fixtures.events import Events
from tests.fixtures.neo4j_server import Neo4jTarget, lock_held

pytestmark = pytest.mark.neo4j

# The server ends a transaction older than this (it looks every couple of seconds): long enough
# for every other transaction of the tests on a server just started, on a busy machine.
TIMEOUT: Final = 5.0
# Held by a client that set no limit on its own transaction (0: none), so the server ends the
# waiting write, not the holder.
HELD: Final = TIMEOUT + 6.0
# As an audited account write takes it (a login's among them).
TAKE_TRAIL: Final = "MERGE (c:AccountEventCounter {name: 'trail'}) SET c.seq = coalesce(c.seq, 0)"
# Runs far past the limit on any machine, and returns the two columns of a trace's rows.
ENDLESS: Final[LiteralString] = (
    "UNWIND range(1, 4000000000) AS x WITH x WHERE x < 0 RETURN x AS props, [] AS found"
)
LIMIT: Final = "time limit on a transaction (its setting db.transaction.timeout)"


@pytest.fixture(scope="module")
def short(request: pytest.FixtureRequest) -> Iterator[Neo4jTarget]:
    """A server whose transactions may last TIMEOUT, for the whole module."""
    with transaction_timeout(request, TIMEOUT) as target:
        yield target


@pytest.fixture
def plant(short: Neo4jTarget) -> Iterator[Plant]:
    built = Plant(short)
    with built.client:
        yield built
    built.services.close()


def _ended(answer: Any, code: str) -> str:
    """The message of a 503 `code` that names the server's limit."""
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["error"] == code
    message: str = body["message"]
    assert LIMIT in message
    return message


def test_a_write_waiting_on_a_lock_past_the_limit_is_busy_and_writes_nothing(
    plant: Plant, short: Neo4jTarget
) -> None:
    admin = login(plant.client, "admin")
    with lock_held(short, LOCK, HELD, timeout=0):
        began = time.monotonic()
        answer = plant.client.post(
            "/api/v1/events", json=[Events().receive("L-2", 5, event_id="E-9")], headers=admin
        )
        assert time.monotonic() - began < HELD  # ended by the server, not let through
    message = _ended(answer, "store_busy")
    assert answer.headers["Retry-After"] == "5"
    assert message.startswith("Neo4j ended this write to the graph as it waited for a lock")
    assert message.endswith("nothing was written; try again shortly")
    assert plant.store.node("lot:L-2") is None
    assert plant.store.counts()["events"] == 1


def test_a_write_working_past_the_limit_is_busy_and_writes_nothing(plant: Plant) -> None:
    def slow(tx: WriteTx, batch: Sequence[Event]) -> None:
        time.sleep(TIMEOUT + 3.0)  # as a very large batch works

    with pytest.raises(StoreBusy) as busy:
        plant.services.ingest.ingest_events(
            parse_events([Events().receive("L-2", 5, event_id="E-9")]), guard=slow
        )
    assert busy.value.message.startswith(f"Neo4j's {LIMIT} ended this write to the graph")
    assert "nothing was written" in busy.value.message
    assert plant.store.node("lot:L-2") is None
    assert plant.store.counts()["events"] == 1


def test_a_trace_past_the_limit_says_to_ask_for_less(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = login(plant.client, "admin")
    monkeypatch.setattr(neo4j_store, "REACH", {"down": ENDLESS, "up": ENDLESS})
    trace = plant.client.get("/api/v1/trace?id=lot:L-1&direction=down", headers=admin)
    message = _ended(trace, "store_time_limit")
    assert "Retry-After" not in trace.headers  # the same read meets the same limit
    assert message.startswith(f"Neo4j's {LIMIT} ended this read of the graph before it was done")
    assert "ask for less at once (a trace with a smaller max_depth" in message
    query = {"query": '{ trace(id: "lot:L-1", direction: DOWN) { root } }'}
    answer = plant.client.post("/graphql", json=query, headers=admin)
    assert answer.status_code == 200, answer.text
    (error,) = answer.json()["errors"]
    assert error["extensions"] == {"code": "STORE_TIME_LIMIT", "status": 503}
    assert error["message"] == message


def test_a_login_waiting_on_an_account_lock_past_the_limit_is_busy(
    plant: Plant, short: Neo4jTarget
) -> None:
    login(plant.client, "admin")  # the trail exists
    tried = {"username": "ana", "password": "demo-analyst-pass"}
    with lock_held(short, TAKE_TRAIL, HELD, timeout=0):
        answer = plant.client.post("/api/v1/auth/token", data=tried)
    message = _ended(answer, "store_busy")
    assert message.startswith("Neo4j ended this write to the accounts as it waited for a lock")
    assert plant.client.post("/api/v1/auth/token", data=tried).status_code == 200
