"""The full CP-SAT model is built only when it fits the time limit; else the plan at hand stands.

Set-ups make a circuit per machine, quadratic in its operations: a few hundred take seconds
to build and more to load, which used to run solves and reschedules past their limits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from scheduler import cpsat, rescheduler, solver
from scheduler.dispatch import DispatchStopped, serial_plan
from scheduler.flat import Flat, flatten
from scheduler.models import SolveOptions
from scheduler.plan import Plan, violations
from scheduler.rescheduler import (
    Downtime,
    Feedback,
    _plan_of,
    _previous_positions,
    apply_feedback,
    count_moved,
    reschedule,
)
from scheduler.solver import solve
from tests.scheduler.conftest import one_machine

QUICK = SolveOptions(time_limit=3, workers=1)


def test_a_build_past_its_deadline_stops_at_the_set_up_circuit() -> None:
    flat = flatten(one_machine(12, setup_default=2))
    with pytest.raises(cpsat.BuildTimeout, match="set-ups of machine M: 12 operations"):
        cpsat.build(flat, deadline=time.monotonic() - 1)
    assert cpsat.build(flat, deadline=time.monotonic() + 60).arcs  # in time: built whole


def test_a_model_without_set_ups_has_no_circuit_to_wait_for() -> None:
    flat = flatten(one_machine(12))
    assert cpsat.build(flat, deadline=time.monotonic() - 1).arcs == {}


def test_a_model_not_built_in_time_leaves_the_dispatch_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = one_machine(12, setup_default=2)
    assert solve(problem, QUICK).status == "optimal"  # CP-SAT proves it, given its model
    monkeypatch.setattr(solver, "BUILD_SHARE", 0.0)  # no time at all to build it
    solution = solve(problem, QUICK)
    assert (solution.status, solution.source) == ("feasible", "dispatch")
    assert len(solution.operations) == 12
    flat = flatten(problem)
    assert violations(flat, _plan_of(flat, solution)) == []


def test_a_reschedule_too_large_for_the_model_never_builds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = one_machine(30, setup_default=2)
    before = solve(problem, QUICK)

    def refuse(*args: object, **kwargs: object) -> cpsat.Built:
        raise AssertionError("the full model was built for a problem out of its reach")

    monkeypatch.setattr(solver, "MAX_CIRCUIT", 10)
    monkeypatch.setattr(cpsat, "build", refuse)
    feedback = Feedback(now=5, downtime=[Downtime(machine="M", start=20, end=40)])
    after = reschedule(problem, before, feedback, QUICK)
    assert after.status == "feasible"
    assert len(after.operations) == 30 and after.moved is not None
    assert all(o.end <= 20 or o.start >= 40 for o in after.operations if not o.frozen)


def test_a_reschedule_whose_model_is_not_built_in_time_keeps_the_repaired_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = one_machine(12, setup_default=2)
    before = solve(problem, QUICK)
    monkeypatch.setattr(solver, "BUILD_SHARE", 0.0)
    after = reschedule(problem, before, Feedback(now=0), QUICK)
    assert after.status == "feasible"  # not proven: neither stage had its model
    assert after.moved == 0 and after.makespan == before.makespan


def test_a_build_stops_at_the_set_up_circuit_once_cancelled() -> None:
    flat = flatten(one_machine(12, setup_default=2))
    assert solver.build_in_time(flat, 60, should_stop=lambda: True) is None
    assert solver.build_in_time(flat, 60, should_stop=lambda: False) is not None


def test_a_reschedule_cancelled_during_its_first_stage_builds_no_second_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = one_machine(12, setup_default=2)
    before = solve(problem, QUICK)
    stop = threading.Event()
    first_stage = rescheduler.search
    build = cpsat.build
    built_after: list[object] = []

    def cancelled_at_its_end(*args: Any, **kwargs: Any) -> solver.Outcome:
        answer = first_stage(*args, **kwargs)
        stop.set()
        return answer

    def spied(*args: Any, **kwargs: Any) -> cpsat.Built:
        if stop.is_set():
            built_after.append(args)
        return build(*args, **kwargs)

    monkeypatch.setattr(rescheduler, "search", cancelled_at_its_end)
    monkeypatch.setattr(cpsat, "build", spied)
    feedback = Feedback(now=5, downtime=[Downtime(machine="M", start=20, end=40)])
    after = reschedule(problem, before, feedback, QUICK, should_stop=stop.is_set)
    assert built_after == []
    assert after.status == "cancelled" and len(after.operations) == 12  # the best plan found
    assert after.moved is not None


def test_a_repair_that_cannot_finish_in_time_gives_way_to_the_serial_repair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = one_machine(12, setup_default=2)
    before = solve(problem, QUICK)
    deadlines: list[float | None] = []
    serial: list[Plan] = []

    def out_of_time(*args: object, deadline: float | None = None, **kwargs: object) -> Plan:
        deadlines.append(deadline)
        raise DispatchStopped

    def spied(
        flat: Flat,
        keep: dict[int, tuple[int, int]] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Plan:
        assert keep  # on the previous machines, no earlier than before
        serial.append(serial_plan(flat, keep, should_stop))
        return serial[-1]

    monkeypatch.setattr(rescheduler, "dispatch", out_of_time)
    monkeypatch.setattr(rescheduler, "serial_plan", spied)
    asked = time.monotonic()
    feedback = Feedback(now=5, downtime=[Downtime(machine="M", start=20, end=40)])
    after = reschedule(problem, before, feedback, QUICK)
    assert after.status in ("feasible", "optimal") and len(after.operations) == 12
    assert all(o.end <= 20 or o.start >= 40 for o in after.operations if not o.frozen)
    # The repair was given half the limit, and the serial repair stood in.
    assert deadlines and deadlines[0] is not None
    assert deadlines[0] - asked == pytest.approx(QUICK.time_limit / 2, abs=0.25)
    assert len(serial) == 1


def test_the_serial_repair_of_an_unchanged_plan_moves_nothing() -> None:
    problem = one_machine(12, setup_default=2)
    before = solve(problem, QUICK)
    flat = flatten(problem)
    keep = _previous_positions(flat, before)
    repaired = serial_plan(flat, keep)
    assert violations(flat, repaired) == [] and count_moved(flat, repaired, keep) == 0


def test_the_serial_repair_keeps_machines_and_starts_no_earlier() -> None:
    problem = one_machine(12, setup_default=2)
    before = solve(problem, QUICK)
    feedback = Feedback(now=5, downtime=[Downtime(machine="M", start=20, end=40)])
    flat = flatten(apply_feedback(problem, before, feedback))
    keep = _previous_positions(flat, before)
    repaired = serial_plan(flat, keep)
    assert violations(flat, repaired) == []
    for key, (start, machine) in keep.items():
        assert repaired.machine[key] == machine and repaired.start[key] >= start
    assert count_moved(flat, repaired, keep) > 0  # the downtime pushed some of them on
