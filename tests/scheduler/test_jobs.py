"""Background jobs hold their problem only while they may still run."""

from __future__ import annotations

import gc
import time
import weakref

from scheduler import tabu_c
from scheduler.jobs import JobManager
from scheduler.models import SolveOptions
from scheduler.readers import read_jsp
from tests.scheduler.conftest import FT06


def _settled(manager: JobManager, job_id: str) -> str:
    deadline = time.monotonic() + 20
    while (status := manager.get(job_id).status) in ("queued", "running"):
        assert time.monotonic() < deadline, status
        time.sleep(0.02)
    return status


def test_a_finished_or_cancelled_job_lets_its_problem_go() -> None:
    # Where the compiled search was not built, the first look logs its error, and a captured
    # log record holds the traceback, with the frames of the solve that looked: look first.
    tabu_c.available()
    manager = JobManager()
    try:
        first, second = read_jsp(FT06, "ft06"), read_jsp(FT06, "ft06")
        gone = [weakref.ref(first), weakref.ref(second)]
        ran = manager.submit(first, SolveOptions(time_limit=1, workers=1))
        queued = manager.submit(second, SolveOptions(time_limit=1, workers=1))
        manager.cancel(queued.id)
        del first, second
        assert _settled(manager, ran.id) == "done"
        assert _settled(manager, queued.id) == "cancelled"
        manager.shutdown()  # the pool has reached the cancelled job too
        gc.collect()
        assert [ref() for ref in gone] == [None, None]
        assert manager.get(ran.id).result is not None  # what the view shows stays
    finally:
        manager.shutdown()
