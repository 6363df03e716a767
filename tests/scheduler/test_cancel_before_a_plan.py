"""A cancel stops the work before any plan is whole: the index of each machine's gaps and the
serial plan, which at the largest size took a second or more after the cancel."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from scheduler import dispatch, solver
from scheduler.dispatch import DispatchStopped, serial_plan
from scheduler.flat import Flat, flatten, index_gaps
from scheduler.jobs import JobManager
from scheduler.models import Machine, Problem, SolveOptions, Window
from scheduler.rescheduler import Downtime, Feedback, reschedule
from tests.scheduler.conftest import op, order, problem

LONG = SolveOptions(time_limit=30, workers=1)


def _closed_plant(orders: int = 100) -> Problem:
    """Orders on three machines, each closed one unit in three: gaps to index on each."""
    closed = [Window(start=3 * i, end=3 * i + 1) for i in range(200)]
    machines = [Machine(id=m, unavailable=closed) for m in ("A", "B", "C")]
    return problem(
        [order(f"o{k}", op({"A": 1 + k % 3, "B": 2}), op("C", 1)) for k in range(orders)],
        machines,
    )


def _stop_after(calls: int) -> Iterator[bool]:
    """Say go `calls` times, then stop."""
    yield from [False] * calls
    while True:
        yield True


def test_the_gap_index_stops_between_machines_once_cancelled() -> None:
    flat = flatten(_closed_plant())
    answers = _stop_after(1)
    assert not index_gaps(flat, lambda: next(answers))
    assert [w.indexed for w in flat.forbidden] == [True, False, False]
    assert index_gaps(flat) and all(w.indexed for w in flat.forbidden)


def test_the_serial_plan_stops_once_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    flat = flatten(_closed_plant())
    index_gaps(flat)
    placed: list[int] = []
    put = dispatch._Serial._write_block

    def counted(self: dispatch._Serial, j: int, m: int, start: int, end: int) -> list[int]:
        placed.append(j)
        return put(self, j, m, start, end)

    monkeypatch.setattr(dispatch._Serial, "_write_block", counted)
    with pytest.raises(DispatchStopped):
        serial_plan(flat, should_stop=lambda: True)
    assert 0 < len(placed) < dispatch._CHECK_EVERY  # of 200 operations
    assert len(serial_plan(flat, should_stop=lambda: False).start) == 200


def test_a_solve_cancelled_before_any_plan_is_whole_indexes_and_plans_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[Flat] = []

    def kept(p: Problem) -> Flat:
        made.append(flatten(p))
        return made[-1]

    monkeypatch.setattr(solver, "flatten", kept)
    solution = solver.solve(_closed_plant(), LONG, should_stop=lambda: True)
    assert (solution.status, solution.operations) == ("cancelled", [])
    assert not any(w.indexed for w in made[0].forbidden)


def test_a_job_cancelled_during_its_serial_plan_ends_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entered, cancelled = threading.Event(), threading.Event()
    placed: list[int] = []
    put = dispatch._Serial._write_block

    def held(self: dispatch._Serial, j: int, m: int, start: int, end: int) -> list[int]:
        # The first placement waits for the cancel: it comes while the serial plan is made.
        entered.set()
        assert cancelled.wait(10)
        placed.append(j)
        return put(self, j, m, start, end)

    monkeypatch.setattr(dispatch._Serial, "_write_block", held)
    manager = JobManager()
    try:
        job = manager.submit(_closed_plant(), LONG)
        assert entered.wait(10)
        manager.cancel(job.id)
        cancelled.set()
        deadline = time.monotonic() + 20
        while (view := manager.get(job.id)).status == "running":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert view.status == "cancelled" and view.result is not None
        assert view.result.operations == []
        assert len(placed) < dispatch._CHECK_EVERY  # of the 200 operations
    finally:
        manager.shutdown()


def test_a_reschedule_cancelled_during_its_serial_repair_ends_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plant = _closed_plant(20)
    before = solver.solve(plant, SolveOptions(time_limit=1, workers=1))
    stop = threading.Event()
    from scheduler import rescheduler

    def out_of_time(*args: object, **kwargs: object) -> object:
        stop.set()  # the cancel comes as the repair gives way to the serial repair
        raise DispatchStopped

    monkeypatch.setattr(rescheduler, "dispatch", out_of_time)
    feedback = Feedback(now=5, downtime=[Downtime(machine="A", start=20, end=40)])
    after = reschedule(plant, before, feedback, LONG, should_stop=stop.is_set)
    assert (after.status, after.operations) == ("cancelled", [])
