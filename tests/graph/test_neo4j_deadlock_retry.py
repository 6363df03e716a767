"""A Neo4j write whose deadlock escaped the driver's retry, found again on another result as the
transaction rolled back (a failed result, which the driver does not retry), is run again whole
(graph.neo4j_store.DEADLOCK_ATTEMPTS): nothing of it was committed. A transient failure the
driver raised itself, past its own retries, is not run again here. Only a failure given up on is
logged as one.

The failures are the driver's own errors, raised from the write's work as the driver raises them
from its results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from decimal import Decimal

import neo4j
import pytest

from graph import neo4j_driver
from graph.errors import StoreBusy
from graph.neo4j_store import DEADLOCK_ATTEMPTS, Neo4jStore, Neo4jTx
from graph.store import Changes, NodeRow
from tests.conftest import neo4j_or_skip
from tests.graph.test_neo4j_transient import server_said

pytestmark = pytest.mark.neo4j

DEADLOCK = "Neo.TransientError.Transaction.DeadlockDetected"
LOT = NodeRow("lot:RETRIED", "lot", part="BAR", unit="ea", qty=Decimal(1))


@pytest.fixture
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Neo4jStore]:
    target = neo4j_or_skip(request)
    monkeypatch.setattr(neo4j_driver, "MAX_TRANSACTION_RETRY_TIME", 0.0)  # the driver's spent
    opened = Neo4jStore(target.uri, user=target.user, password=target.password)
    opened.wipe()
    yield opened
    opened.close()


def _deadlocked_result() -> neo4j.exceptions.ResultFailedError:
    failed = neo4j.exceptions.ResultFailedError(None, "a result of a failed transaction")
    failed.__cause__ = server_said(DEADLOCK)
    return failed


def _failing(times: int, error: BaseException, tries: list[int]) -> Callable[[Neo4jTx], None]:
    """Work that raises `error` its first `times` runs, then writes LOT; each run noted."""

    def work(tx: Neo4jTx) -> None:
        tries.append(len(tries) + 1)
        if len(tries) <= times:
            raise error
        tx.apply(Changes(nodes=[LOT]))

    return work


def test_a_deadlock_found_on_a_failed_result_is_run_again_and_logged_as_no_failure(
    store: Neo4jStore, caplog: pytest.LogCaptureFixture
) -> None:
    tries: list[int] = []
    with caplog.at_level(logging.INFO):
        store.write(_failing(DEADLOCK_ATTEMPTS - 1, _deadlocked_result(), tries))
    assert tries == list(range(1, DEADLOCK_ATTEMPTS + 1))
    assert store.node(LOT.gid) is not None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []


def test_a_deadlock_found_on_each_attempt_is_store_busy_logged_once(
    store: Neo4jStore, caplog: pytest.LogCaptureFixture
) -> None:
    tries: list[int] = []
    with caplog.at_level(logging.INFO), pytest.raises(StoreBusy) as busy:
        store.write(_failing(DEADLOCK_ATTEMPTS, _deadlocked_result(), tries))
    assert tries == list(range(1, DEADLOCK_ATTEMPTS + 1))
    assert "(it deadlocked with another transaction each time it was tried)" in busy.value.message
    assert store.node(LOT.gid) is None
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert logged == [f"Neo4j failed a write of the graph for now, past the retries: {DEADLOCK}"]


def test_a_transient_failure_the_driver_raised_is_not_run_again(store: Neo4jStore) -> None:
    """The driver retried it as long as it would (here: not at all)."""
    tries: list[int] = []
    with pytest.raises(StoreBusy):
        store.write(_failing(1, server_said(DEADLOCK), tries))
    assert tries == [1]
    assert store.node(LOT.gid) is None
