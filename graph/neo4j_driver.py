"""How the Neo4j stores (the graph's, the accounts') open their driver and say the server is gone,
and how a write gives up waiting for a lock.

A server that goes away while the service runs is a 503 `store_unavailable` (the command line:
exit code 3), said within seconds: each store runs every call to the driver inside `reaching`,
which also says what a transaction the server ended did, at its time limit or by someone's hand,
and what one the server failed for now (a cluster member behind, a deadlock) did: 503
`store_busy`, to try again shortly.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Final, Literal, LiteralString, TypeVar

import neo4j
from neo4j import GraphDatabase

from graph.errors import ReadTerminated, StoreBusy, StoreTimeLimit, StoreUnavailable

T = TypeVar("T")

# The driver retries a transaction that failed for want of a connection as it retries a deadlock,
# for 30 s by default, and waits 30 s for each connection to open: a request to a server that
# had gone held its caller a minute before the failure came. Retries come after about 1 s, then
# 2 s more, so 2 s still retries a transient error (a deadlock) twice and reports a lost server
# after some 3 s; one behind a firewall that drops the packets, after at most two 3 s connects.
# A connection on a working network opens in well under 3 s, TLS included.
MAX_TRANSACTION_RETRY_TIME: Final = 2.0
CONNECTION_TIMEOUT: Final = 3.0

# The driver's errors for a server it cannot reach or lost on the way; DatabaseUnavailable is a
# server that answers without its database (starting, stopping).
UNREACHABLE: Final = (
    neo4j.exceptions.ServiceUnavailable,
    neo4j.exceptions.SessionExpired,
    neo4j.exceptions.DatabaseUnavailable,
)
GONE: Final = (
    "Neo4j, which holds {what}, does not answer: nothing was changed; try again when it is back"
)
# The driver lost the server after sending a commit, before its answer: no one knows.
LOST_IN_COMMIT: Final = (
    "Neo4j, which holds {what}, went away while a write was committing: it may or may not have "
    "been made; look before doing it again (events may be sent again as they are: their ids "
    "make that safe)"
)

# The server ends a transaction older than its time limit (db.transaction.timeout, which
# production servers often set to 30-120 s): a long read (a deep trace), or a write that waited
# past it for a lock another held. The driver raised that as an error of its own, a 500 with its
# text. Neo4j 5 says TimedOutClientConfiguration of the server's limit too, and LockClientStopped
# of a transaction it ended as it waited for a lock (as it says of one an operator ended).
TIMED_OUT: Final = frozenset(
    {
        "Neo.ClientError.Transaction.TransactionTimedOut",
        "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
    }
)
STOPPED_WAITING: Final = "Neo.ClientError.Transaction.LockClientStopped"
WRITE_TIMED_OUT: Final = (
    "Neo4j's time limit on a transaction (its setting db.transaction.timeout) ended this write "
    "to {what} before it was done: nothing was written; try again shortly, and should it recur, "
    "send less at once or have that limit raised"
)
WAIT_STOPPED: Final = (
    "Neo4j ended this write to {what} as it waited for a lock another write held, at its time "
    "limit on a transaction (its setting db.transaction.timeout) or by an operator's hand: "
    "nothing was written; try again shortly"
)
# A transaction someone ended as it ran (TERMINATE TRANSACTIONS: the database's administrator, a
# script of theirs); the server says Neo.TransientError.Transaction.Terminated, which the driver
# raises under this code, so that no one retries it unasked. The driver raised it, a 500 with its
# text. A write so ended rolled back; a read was ended on purpose, so nothing says to repeat it.
TERMINATED: Final = "Neo.ClientError.Transaction.Terminated"
WRITE_TERMINATED: Final = (
    "Neo4j ended this write to {what} on the server before it was done (its administrator, or "
    "another process, terminated the transaction): nothing was written; it can be sent again"
)
READ_TERMINATED: Final = (
    "Neo4j ended this read of {what} on the server before it was done (its administrator, or "
    "another process, terminated the transaction): it can be asked again, unless whoever ended "
    "it meant to stop reads like it (ask them)"
)
READ_TIMED_OUT: Final = (
    "Neo4j's time limit on a transaction (its setting db.transaction.timeout) ended this read "
    "of {what} before it was done: ask for less at once (a trace with a smaller max_depth, a "
    "shorter window, a smaller page) or have that limit raised"
)
# What a statement run on its own (`execute`) does, for what its end on the server says of it: a
# step of opening a store (its schema, a migration, the checks of its version) was said as a
# write the caller had sent, "nothing was written; it can be sent again", when no one sent one.
Step = Literal["read", "write", "open"]
# Each step of an open commits on its own and is done again harmlessly (IF NOT EXISTS, MERGE):
# opening again goes on from the step that was ended.
OPEN_TERMINATED: Final = (
    "Neo4j ended a step of opening {what} (bringing its schema up to date) on the server before "
    "it was done (its administrator, or another process, terminated the transaction): {what} "
    "was not opened; open it again"
)
OPEN_TIMED_OUT: Final = (
    "Neo4j's time limit on a transaction (its setting db.transaction.timeout) ended a step of "
    "opening {what} (bringing its schema up to date) before it was done: {what} was not opened; "
    "open it again, and should it recur, have that limit raised until it opens once"
)
# A failure the server calls transient, which the driver retries for MAX_TRANSACTION_RETRY_TIME
# and then raised as its own error, a 500 with its text: on a cluster a member that had not
# caught up with the session's bookmarks within the server's bookmark_ready_timeout (each try
# waits it, 30 s by default, so none is tried again), a leader that changed as it ran; anywhere,
# a deadlock found again on each try, a lock not had within db.lock.acquisition.timeout, the
# memory all transactions share taken. Asked again shortly, it may well pass: StoreBusy, with
# what it was where the server says, and never the server's text, which names its members.
# (DatabaseUnavailable, transient too, is a database that does not answer: UNREACHABLE.)
# A write so failed wrote nothing only where the failure comes before its commit (BEFORE_COMMIT);
# one a cluster could not replicate may have been made, and one the server failed in a way no
# rule here names may have failed as it committed: it is said unknown, as LOST_IN_COMMIT.
TRANSIENT_CAUSES: Final = {
    "Neo.TransientError.Transaction.BookmarkTimeout": (
        "the cluster member it reached had not caught up in time with the changes this service "
        "had seen"
    ),
    "Neo.TransientError.Transaction.DeadlockDetected": (
        "it deadlocked with another transaction each time it was tried"
    ),
    "Neo.TransientError.Transaction.LockAcquisitionTimeout": (
        "it waited for a lock past the server's limit (its setting db.lock.acquisition.timeout)"
    ),
    "Neo.TransientError.General.MemoryPoolOutOfMemoryError": (
        "the memory the server's transactions share was taken (its setting "
        "dbms.memory.transaction.total.max)"
    ),
    "Neo.TransientError.General.OutOfMemoryError": "the server was out of memory",
    "Neo.TransientError.Cluster.ReplicationFailure": (
        "the cluster could not replicate its commit to its members"
    ),
    "Neo.ClientError.Cluster.NotALeader": "the cluster's leader changed as it ran",
    # A member read-only to all (a follower, a database set so), or just now: no one knows which.
    "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase": (
        "the cluster member it reached would not take writes"
    ),
}
TRANSIENT_CAUSE: Final = "a failure the server calls transient"
# Failed before the transaction committed: a deadlock or a lock waited for, a member behind
# the bookmarks (before the transaction begins), a member that is not the leader or takes no
# writes (its commit refused whole), the memory its transactions share taken as it ran.
BEFORE_COMMIT: Final = frozenset(
    {
        "Neo.TransientError.Transaction.BookmarkTimeout",
        "Neo.TransientError.Transaction.DeadlockDetected",
        "Neo.TransientError.Transaction.LockAcquisitionTimeout",
        "Neo.TransientError.General.MemoryPoolOutOfMemoryError",
        "Neo.ClientError.Cluster.NotALeader",
        "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase",
    }
)
MAYBE_WRITTEN: Final = (
    "Neo4j could not finish this write to {what} for now ({cause}): it may or may not have been "
    "made; look before doing it again"
)
TRANSIENT_AS: Final[dict[Step, str]] = {
    "read": "Neo4j could not do this read of {what} for now ({cause}): ask again shortly",
    "write": (
        "Neo4j could not do this write to {what} for now ({cause}): nothing was written; try "
        "again shortly"
    ),
    "open": (
        "Neo4j could not do a step of opening {what} for now ({cause}): {what} was not opened; "
        "open it again shortly"
    ),
}
# What a transaction the server ended says, by what it was doing.
TIMED_OUT_AS: Final[dict[Step, tuple[type[StoreBusy], str]]] = {
    "read": (StoreTimeLimit, READ_TIMED_OUT),
    "write": (StoreBusy, WRITE_TIMED_OUT),
    "open": (StoreBusy, OPEN_TIMED_OUT),
}
TERMINATED_AS: Final[dict[Step, tuple[type[StoreBusy], str]]] = {
    "read": (ReadTerminated, READ_TERMINATED),
    "write": (StoreBusy, WRITE_TERMINATED),
    "open": (StoreBusy, OPEN_TERMINATED),
}

# A transaction still waiting for a lock after a while is ended, so its caller hears StoreBusy
# rather than wait without end on a writer that hangs. The server bounds lock waits only for all
# transactions at once (db.lock.acquisition.timeout, its operator's to set), and a transaction's
# own timeout bounds all of it, which would cut a long write short too (a rebuild chunk, a large
# batch): so the wait is timed here, and the transaction, found by a mark in its metadata, is
# terminated while the server reports it blocked. Each user may end their own transactions. The
# statement goes to the database's writer, where the waiting transaction runs.
# Seconds a write waits for a lock before it is StoreBusy, as the embedded store waits its busy
# timeout; the work it does once it holds its locks has no bound. Read as each wait begins.
LOCK_WAIT: Final = 30.0
# Past LOCK_WAIT the server is asked again at this interval while the block runs: a write between
# two statements as the bound was reached (an account write's block holds all its statements)
# waited without end on a lock it met after. Only writes past the bound pay for it.
RECHECK: Final = 1.0
WAITING: Final = "tracegraph_waiting"
END_WAIT: Final = (
    "SHOW TRANSACTIONS YIELD transactionId AS id, metaData, status "
    "WHERE metaData.tracegraph_waiting = $mark AND status STARTS WITH 'Blocked' "
    "TERMINATE TRANSACTIONS id YIELD transactionId RETURN transactionId"
)

log = logging.getLogger("tracegraph.store")


@contextmanager
def waiting_at_most(
    driver: neo4j.Driver, database: str | None, mark: str, busy: str, seconds: float | None = None
) -> Iterator[None]:
    """Raise StoreBusy(`busy`, its {seconds} filled in) if the transaction whose metadata holds
    `mark` under WAITING is blocked on a lock `seconds` (LOCK_WAIT) or more into the block: the
    server ends it, so it writes nothing."""
    seconds = LOCK_WAIT if seconds is None else seconds
    done = threading.Event()
    ended = threading.Event()

    def end() -> None:
        wait = seconds
        while not done.wait(wait):
            try:
                found = driver.execute_query(END_WAIT, mark=mark, database_=database).records
            except Exception as error:  # the waiting transaction hears of a lost server itself
                log.warning("could not end a write waiting for a lock: %s", one_line(error))
                return
            if found:
                ended.set()
                return
            wait = RECHECK

    watch = threading.Thread(target=end, daemon=True)
    watch.start()
    try:
        try:
            yield
        finally:
            done.set()
            watch.join()  # an end under way is settled before the outcome is read
    except neo4j.exceptions.Neo4jError as error:
        if ended.is_set():
            raise StoreBusy(busy.format(seconds=seconds)) from error
        raise
    if ended.is_set():  # ended as it took the lock: the transaction can no longer commit
        raise StoreBusy(busy.format(seconds=seconds))


def bounded_write(
    driver: neo4j.Driver,
    database: str | None,
    what: str,
    busy: str,
    work: Callable[[neo4j.ManagedTransaction, AbstractContextManager[None]], T],
    attempts: int = 1,
) -> T:
    """Run `work` in a write transaction as `session` does, with the bound on its lock waits
    (`waiting_at_most`), which it enters around the statements that take its locks; up to
    `attempts` times while it fails on a result the server failed for now (`failed_for_now`)."""
    mark = uuid.uuid4().hex

    def unit(tx: neo4j.ManagedTransaction) -> T:
        return work(tx, waiting_at_most(driver, database, mark, busy))

    with session(driver, database, what) as opened:
        for attempt in range(1, attempts + 1):
            try:
                return opened.execute_write(neo4j.unit_of_work(metadata={WAITING: mark})(unit))
            except neo4j.exceptions.ResultFailedError as error:
                # Run again before `session` says it failed: only one given up on is logged.
                if not failed_for_now(error) or attempt == attempts:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")


def failed_for_now(error: neo4j.exceptions.ResultFailedError) -> bool:
    """Whether `error` is a result read after the server failed its transaction for now (a
    deadlock found again as it rolled back), which escapes the driver's retries: nothing of it
    was committed, and it may be run again whole."""
    return isinstance(error.__cause__, neo4j.exceptions.TransientError)


def unresolved(error: BaseException) -> bool:
    """Whether `error` is the driver's failure to look a host name up (a ValueError it raises
    from the OSError of the lookup): a server that cannot be reached, not a bug."""
    return isinstance(error, ValueError) and isinstance(error.__cause__, OSError)


def one_line(error: BaseException) -> str:
    """The driver's message on one line (it breaks some, such as a refused connection's)."""
    return " ".join(str(error).split())


def connect(url: str, user: str, password: str) -> neo4j.Driver:
    """Open a driver to `url` and check that the server answers, or raise StoreUnavailable."""
    # Notifications off: the server warns about relationship types no event has created yet,
    # and its notes are not for end users.
    driver = GraphDatabase.driver(
        url,
        auth=(user, password),
        notifications_min_severity="OFF",
        max_transaction_retry_time=MAX_TRANSACTION_RETRY_TIME,
        connection_timeout=CONNECTION_TIMEOUT,
    )
    try:
        driver.verify_connectivity()
    except (*UNREACHABLE, neo4j.exceptions.AuthError) as error:
        driver.close()
        raise StoreUnavailable(f"cannot reach Neo4j at {url}: {one_line(error)}") from error
    except ValueError as error:
        driver.close()
        if not unresolved(error):
            raise
        raise StoreUnavailable(
            f"cannot reach Neo4j at {url}: {one_line(error)} ({error.__cause__})"
        ) from error
    return driver


@contextmanager
def reaching(what: str, *, step: Step = "write") -> Iterator[None]:
    """Raise StoreUnavailable for a server that cannot be reached or was lost in the block; for
    a transaction the server ended, at its time limit or by someone's hand, what `_ended` says
    for the `step` the block does (a write so ended wrote nothing; an "open" step ended says
    the store was not opened).

    A failure the server calls transient, which the driver retried as long as it would, is
    StoreBusy, to try again shortly (TRANSIENT_CAUSES).

    Its message names no host and quotes nothing of the driver's: callers of the service read
    it. `what` says what the server holds ("the graph", "the accounts").
    """
    try:
        yield
    except neo4j.exceptions.IncompleteCommit as error:
        raise StoreUnavailable(LOST_IN_COMMIT.format(what=what)) from error
    except UNREACHABLE as error:
        raise StoreUnavailable(GONE.format(what=what)) from error
    except ValueError as error:  # the server's name stopped resolving (its container is gone)
        if not unresolved(error):
            raise
        raise StoreUnavailable(GONE.format(what=what)) from error
    except neo4j.exceptions.TransientError as error:
        raise _transient(error, what, step) from error
    except neo4j.exceptions.ClientError as error:
        if (ended := _ended(error, what, step)) is None:
            raise
        raise ended from error
    except neo4j.exceptions.ResultFailedError as error:
        # A result read after the connection failed under another result of its transaction,
        # or after the server ended the transaction or found it failed for now.
        cause = error.__cause__
        if isinstance(cause, UNREACHABLE):
            raise StoreUnavailable(GONE.format(what=what)) from error
        if isinstance(cause, neo4j.exceptions.TransientError):
            # A failed result comes before its transaction's commit: nothing was written.
            raise _transient(cause, what, step, committing=False) from error
        if isinstance(cause, neo4j.exceptions.ClientError) and (ended := _ended(cause, what, step)):
            raise ended from error
        raise


def _transient(
    error: neo4j.exceptions.TransientError, what: str, doing: Step, *, committing: bool = True
) -> StoreBusy:
    """What to raise for a failure the server calls transient, past the driver's retries, of a
    transaction `doing` what it did (TRANSIENT_CAUSES); without `committing`, it failed before
    its commit whatever its code."""
    log.warning("Neo4j failed a %s of %s for now, past the retries: %s", doing, what, error.code)
    code = error.code or ""
    cause = TRANSIENT_CAUSES.get(code, TRANSIENT_CAUSE)
    said = TRANSIENT_AS[doing]
    if doing == "write" and committing and code not in BEFORE_COMMIT:
        said = MAYBE_WRITTEN
    return StoreBusy(said.format(what=what, cause=cause))


def _ended(error: neo4j.exceptions.ClientError, what: str, doing: Step) -> StoreBusy | None:
    """What to raise for `error` if the server ended its transaction, which was `doing`, at its
    time limit or because someone terminated it."""
    if error.code in TIMED_OUT:
        timed_out, message = TIMED_OUT_AS[doing]
        return timed_out(message.format(what=what))
    if error.code == TERMINATED:
        terminated, message = TERMINATED_AS[doing]
        return terminated(message.format(what=what))
    if error.code == STOPPED_WAITING:
        return StoreBusy(WAIT_STOPPED.format(what=what))
    return None


@contextmanager
def session(
    driver: neo4j.Driver, database: str | None, what: str, *, reading: bool = False
) -> Iterator[neo4j.Session]:
    """A session on `database` whose loss of the server is StoreUnavailable, and whose
    transaction the server ended StoreTimeLimit or ReadTerminated (`reading`) or StoreBusy (see
    `reaching`)."""
    step: Step = "read" if reading else "write"
    # One chain of bookmarks with `execute`'s statements and every other session: on a cluster,
    # a read waits for what this driver wrote and read before it (a trace read on a follower
    # behind the one its change mark was read on would be kept under a mark newer than it:
    # graph.trace_cache).
    bookmarks = driver.execute_query_bookmark_manager
    with (
        reaching(what, step=step),
        driver.session(database=database, bookmark_manager=bookmarks) as opened,
    ):
        yield opened


def execute(
    driver: neo4j.Driver,
    database: str | None,
    what: str,
    statement: LiteralString,
    step: Step,
    /,
    **params: Any,
) -> list[neo4j.Record]:
    """Run one statement, which is `step`, in a transaction of its own, as `session` does its
    work: its end on the server is said as a read's, a write's or an open's."""
    with reaching(what, step=step):
        return driver.execute_query(statement, params, database_=database).records
