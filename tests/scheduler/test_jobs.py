"""Background jobs hold their problem only while they may still run."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from typing import Any

import pytest

from scheduler import jobs, solver, tabu_c
from scheduler.errors import SchedulerBusy
from scheduler.jobs import JobManager
from scheduler.models import Conflict, SolveOptions
from scheduler.readers import read_jsp
from tests.scheduler.conftest import FT06, short_shift


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


def test_a_job_cancelled_while_it_explains_infeasibility_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The cancel comes once infeasibility is proven, as the explanation starts: the job ends
    # cancelled, its result stays infeasible (that was proven), and the explanation says the
    # cancel cut it short, not the time limit, of which most is left.
    manager = JobManager()
    submitted: list[str] = []
    ready = threading.Event()
    explain = solver.explain_infeasible

    def cancelled_first(*args: Any) -> list[Conflict]:
        assert ready.wait(20)
        manager.cancel(submitted[0])
        return explain(*args)

    monkeypatch.setattr(solver, "explain_infeasible", cancelled_first)
    try:
        job = manager.submit(short_shift(12), SolveOptions(time_limit=30, workers=1))
        submitted.append(job.id)
        ready.set()
        assert _settled(manager, job.id) == "cancelled"
        result = manager.get(job.id).result
        assert result is not None and result.status == "infeasible"
        assert [(c.order, c.constraint, c.message) for c in result.conflicts] == [
            (
                None,
                "unknown",
                "proven infeasible, but the solve was cancelled before the cause was narrowed down",
            )
        ]
    finally:
        manager.shutdown()


def test_a_running_jobs_progress_follows_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # A plan found early and never bettered: the solve still runs out its limit, and the
    # progress a client polls moves on with it, not held where the last plan was found.
    def found_early(flat: Any, options: SolveOptions, progress: Any, should_stop: Any) -> Any:
        progress(solver.Progress(elapsed=0.01, fraction=0.01, makespan=60, objective=(60,)))
        deadline = time.monotonic() + options.time_limit
        while time.monotonic() < deadline and not should_stop():
            time.sleep(0.01)
        return solver.solve_flat(flat, options.model_copy(update={"time_limit": 0.1}))

    monkeypatch.setattr(jobs, "solve_flat", found_early)
    manager = JobManager()
    try:
        job = manager.submit(read_jsp(FT06, "ft06"), SolveOptions(time_limit=2, workers=1))
        time.sleep(1)
        view = manager.get(job.id)
        assert view.status == "running" and 0.4 <= view.progress < 1, view.progress
        assert view.best_makespan == 60
        assert _settled(manager, job.id) == "done"
        assert manager.get(job.id).progress == 1.0
    finally:
        manager.shutdown()


Held = tuple[threading.Event, threading.Event]


@pytest.fixture
def held_solves(monkeypatch: pytest.MonkeyPatch) -> Held:
    """Solves that, once running (the first event set), wait for their release (the second),
    then search a tenth of a second: the queue stands as a test needs it meanwhile. A test sets
    the release before it shuts its manager down."""
    running, release = threading.Event(), threading.Event()

    def held(flat: Any, options: SolveOptions, progress: Any, should_stop: Any) -> Any:
        running.set()
        assert release.wait(20)
        return solver.solve_flat(flat, options.model_copy(update={"time_limit": 0.1}))

    monkeypatch.setattr(jobs, "solve_flat", held)
    return running, release


def test_a_job_cancelled_while_queued_lets_its_problem_go_at_once(held_solves: Held) -> None:
    # The job ahead of it still runs: the cancelled one ended, and holds nothing till the pool
    # comes to it (a plant's problem is tens of megabytes, behind hours of queued search).
    running, release = held_solves
    manager = JobManager()
    try:
        ahead = manager.submit(read_jsp(FT06, "ft06"), SolveOptions(time_limit=1, workers=1))
        assert running.wait(20)
        second = read_jsp(FT06, "ft06")
        gone = weakref.ref(second)
        queued = manager.submit(second, SolveOptions(time_limit=1, workers=1))
        assert manager.cancel(queued.id).status == "cancelled"
        del second
        gc.collect()
        assert gone() is None
        assert manager.get(ahead.id).status == "running"
    finally:
        release.set()
        manager.shutdown()


def test_a_full_queue_says_when_the_running_job_reaches_its_limit(held_solves: Held) -> None:
    # The job queued behind it cannot free a place first, however short its own limit; a
    # running job asked to stop frees one at once.
    running, release = held_solves
    manager = JobManager(max_open=2)
    try:
        ahead = manager.submit(read_jsp(FT06, "ft06"), SolveOptions(time_limit=60, workers=1))
        assert running.wait(20)
        manager.submit(read_jsp(FT06, "ft06"), SolveOptions(time_limit=1, workers=1))
        with pytest.raises(SchedulerBusy) as busy:
            manager.submit(read_jsp(FT06, "ft06"), SolveOptions(time_limit=1, workers=1))
        assert 50 <= busy.value.retry_after <= 60
        manager.cancel(ahead.id)
        with pytest.raises(SchedulerBusy) as busy:
            manager.submit(read_jsp(FT06, "ft06"), SolveOptions(time_limit=1, workers=1))
        assert busy.value.retry_after == 1
    finally:
        release.set()
        manager.shutdown()
