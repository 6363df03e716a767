"""A failure Neo4j calls transient that the driver's retries did not get past is StoreBusy, to be
tried again shortly (503 `store_busy`, Retry-After), never the driver's error, a 500 with its
text: on a cluster, a member behind the changes the session had seen (BookmarkTimeout), a
leader that changed; anywhere, a deadlock found again, a lock not had in the server's time.

The errors are the driver's own, made as it makes them from a server's failure.
"""

from __future__ import annotations

import neo4j
import pytest

from graph.errors import StoreBusy, StoreUnavailable
from graph.neo4j_driver import Step, reaching

SAID = "as the server said it, naming its host db-2.internal"
BOOKMARK_TIMEOUT = "Neo.TransientError.Transaction.BookmarkTimeout"
REPLICATION_FAILURE = "Neo.TransientError.Cluster.ReplicationFailure"
# Failures that come before a transaction commits: a write so failed wrote nothing.
BEFORE_COMMIT = [
    BOOKMARK_TIMEOUT,
    "Neo.TransientError.Transaction.DeadlockDetected",
    "Neo.TransientError.Transaction.LockAcquisitionTimeout",
    "Neo.TransientError.General.MemoryPoolOutOfMemoryError",
    "Neo.ClientError.Cluster.NotALeader",  # the driver's NotALeader, a TransientError
    "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase",  # likewise
]
# Failures that may come as it commits, or that no rule here names: a write may have been made.
MAYBE_COMMITTED = [
    REPLICATION_FAILURE,
    "Neo.TransientError.General.OutOfMemoryError",
    "Neo.TransientError.Transaction.SomethingNew",
]
TRANSIENT = BEFORE_COMMIT + MAYBE_COMMITTED
STEPS: list[Step] = ["read", "write", "open"]


def server_said(code: str) -> neo4j.exceptions.Neo4jError:
    """The error the driver raises for a failure the server reports under `code`."""
    return neo4j.exceptions.Neo4jError._hydrate_neo4j(code=code, message=SAID)


def _busy(error: BaseException, step: Step) -> StoreBusy:
    with pytest.raises(StoreBusy) as raised, reaching("the graph", step=step):
        raise error
    said = raised.value
    assert type(said) is StoreBusy and said.code == "store_busy" and said.retry_after == 5
    assert said.status_code == 503
    assert SAID not in said.message and "db-2" not in said.message
    return said


@pytest.mark.parametrize("code", TRANSIENT)
@pytest.mark.parametrize("step", STEPS)
def test_a_transient_failure_is_store_busy_to_try_again(code: str, step: Step) -> None:
    error = server_said(code)
    assert isinstance(error, neo4j.exceptions.TransientError)
    said = _busy(error, step)
    ending = {
        "read": "ask again shortly",
        "write": (
            "nothing was written; try again shortly"
            if code in BEFORE_COMMIT
            else "it may or may not have been made; look before doing it again"
        ),
        "open": "the graph was not opened; open it again shortly",
    }[step]
    assert said.message.endswith(ending), said.message


def test_a_write_that_failed_as_it_may_have_committed_is_not_said_unwritten() -> None:
    """A cluster that could not replicate a commit may have made it on some members: the
    write's outcome is not known, and a caller told it was not made would make it twice."""
    said = _busy(server_said(REPLICATION_FAILURE), "write")
    assert said.message == (
        "Neo4j could not finish this write to the graph for now (the cluster could not "
        "replicate its commit to its members): it may or may not have been made; look before "
        "doing it again"
    )


def test_a_member_that_would_not_take_writes_is_said_so_neutrally() -> None:
    """Refused by a member that is read-only: whether the leader changed is not known."""
    said = _busy(server_said("Neo.ClientError.General.ForbiddenOnReadOnlyDatabase"), "write")
    assert said.message == (
        "Neo4j could not do this write to the graph for now (the cluster member it reached "
        "would not take writes): nothing was written; try again shortly"
    )


def test_a_cluster_member_behind_the_bookmarks_is_said_so() -> None:
    said = _busy(server_said(BOOKMARK_TIMEOUT), "read")
    assert said.message == (
        "Neo4j could not do this read of the graph for now (the cluster member it reached had "
        "not caught up in time with the changes this service had seen): ask again shortly"
    )


def test_a_deadlock_found_again_is_said_so() -> None:
    said = _busy(server_said("Neo.TransientError.Transaction.DeadlockDetected"), "write")
    assert "(it deadlocked with another transaction each time it was tried)" in said.message


@pytest.mark.parametrize("code", TRANSIENT)
def test_a_transient_failure_under_a_result_read_after_it_is_store_busy(code: str) -> None:
    failed = neo4j.exceptions.ResultFailedError(None, "the result failed")
    failed.__cause__ = server_said(code)
    _busy(failed, "read")
    # A failed result comes before its transaction's commit, whatever failed it.
    said = _busy(failed, "write")
    assert said.message.endswith("nothing was written; try again shortly"), said.message


@pytest.mark.parametrize(
    "error",
    [
        server_said("Neo.TransientError.General.DatabaseUnavailable"),
        neo4j.exceptions.ServiceUnavailable(SAID),
        neo4j.exceptions.SessionExpired(SAID),
    ],
)
def test_a_server_or_database_gone_is_still_unavailable(error: Exception) -> None:
    with pytest.raises(StoreUnavailable) as raised, reaching("the graph", step="read"):
        raise error
    assert raised.value.message.startswith("Neo4j, which holds the graph, does not answer")
