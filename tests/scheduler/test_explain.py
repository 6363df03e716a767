"""Explaining infeasibility: the groups named admit no schedule, and none of them is spare."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from ortools.sat.python import cp_model

from scheduler import diagnose, solver
from scheduler.flat import Flat, flatten
from scheduler.models import Conflict, Machine, Problem, SolveOptions, Window
from scheduler.solver import solve
from tests.scheduler.conftest import op, order, problem, short_shift

QUICK = SolveOptions(time_limit=5, workers=1)


def test_the_calendar_alone_is_named_when_the_assumption_search_finds_no_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On set-up circuits the solve with assumptions may find no core in seconds where solves
    # with the groups switched on and off prove what they need in a fraction of that.
    solves = diagnose.checked_solve

    def no_core(
        solver: cp_model.CpSolver, model: cp_model.CpModel, *a: object
    ) -> cp_model.CpSolverStatus:
        if model.proto.assumptions:
            return cp_model.UNKNOWN
        return solves(solver, model, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(diagnose, "checked_solve", no_core)
    found = diagnose.explain_infeasible(flatten(short_shift(12)), 5.0)
    assert [(c.order, c.constraint) for c in found] == [(None, "calendar M")]


def test_a_proof_not_narrowed_in_time_says_so() -> None:
    # Called once infeasibility is proven: no time left never reads "none could be ruled out".
    found = diagnose.explain_infeasible(flatten(short_shift(12)), 0.0)
    assert [(c.order, c.constraint) for c in found] == [(None, "unknown")]
    assert found[0].message.startswith("proven infeasible")


def test_no_group_named_is_spare() -> None:
    # W0's release and routing were named with M0's calendar, which alone leaves no room.
    p = Problem.model_validate_json(
        '{"machines":[{"id":"M0","shifts":[{"start":0,"end":46}],"unavailable":[{"start":22,'
        '"end":23}],"initial_family":"A"},{"id":"M1","unavailable":[{"start":19,"end":32}]}],'
        '"orders":[{"id":"W0","family":"A","release":20,"operations":[{"alternatives":[{"machine"'
        ':"M0","unit_time":7}],"setup_default":3},{"alternatives":[{"machine":"M1","unit_time":4}'
        ',{"machine":"M0","unit_time":1}]},{"alternatives":[{"machine":"M0","unit_time":9}],'
        '"setup_default":4}]},{"id":"W1","family":"B","operations":[{"alternatives":[{"machine":'
        '"M1","unit_time":1}],"max_wait":3},{"alternatives":[{"machine":"M0","unit_time":7}],'
        '"setup_default":3}]},{"id":"W2","family":"B","operations":[{"alternatives":[{"machine":'
        '"M0","unit_time":5}]}]},{"id":"W3","family":"B","release":5,"operations":[{"alternatives"'
        ':[{"machine":"M1","unit_time":3}],"max_wait":1},{"alternatives":[{"machine":"M0",'
        '"unit_time":8}]}]},{"id":"W4","family":"A","release":10,"operations":[{"alternatives":'
        '[{"machine":"M1","unit_time":6},{"machine":"M0","unit_time":9}],"max_wait":2},'
        '{"alternatives":[{"machine":"M1","unit_time":6},{"machine":"M0","unit_time":9}],'
        '"setup_default":2}]},{"id":"W5","family":"B","operations":[{"alternatives":[{"machine":'
        '"M1","unit_time":1}]},{"alternatives":[{"machine":"M1","unit_time":9}]}]},{"id":"W6",'
        '"family":"B","release":17,"operations":[{"alternatives":[{"machine":"M1","unit_time":5}]'
        ',"max_wait":1},{"alternatives":[{"machine":"M0","unit_time":9}]},{"alternatives":'
        '[{"machine":"M1","unit_time":3}],"setup_default":3}]}]}'
    )
    s = solve(p, QUICK)
    assert s.status == "infeasible"
    assert [(c.order, c.constraint) for c in s.conflicts] == [(None, "calendar M0")]


def test_the_explanation_has_what_is_left_of_the_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given: list[float] = []
    explain = solver.explain_infeasible

    def spy(flat: Flat, time_limit: float, *rest: Any) -> list[Conflict]:
        given.append(time_limit)
        return explain(flat, time_limit, *rest)

    monkeypatch.setattr(solver, "explain_infeasible", spy)
    s = solver.solve(short_shift(12), SolveOptions(time_limit=0.5, workers=1))
    assert s.status == "infeasible" and len(given) == 1
    assert 0 < given[0] < 0.5


def test_a_cancel_stops_the_explanation(monkeypatch: pytest.MonkeyPatch) -> None:
    # Cancelled as the explanation starts: it builds and solves nothing more.
    stop = threading.Event()
    explain = solver.explain_infeasible
    solves = diagnose.checked_solve
    after: list[object] = []

    def spy(*args: Any) -> list[Conflict]:
        stop.set()
        return explain(*args)

    def counted(*args: Any) -> cp_model.CpSolverStatus:
        after.append(args)
        return solves(*args)

    monkeypatch.setattr(solver, "explain_infeasible", spy)
    monkeypatch.setattr(diagnose, "checked_solve", counted)
    s = solver.solve(short_shift(12), QUICK, should_stop=stop.is_set)
    assert stop.is_set() and after == []
    assert s.status == "infeasible"
    assert [(c.order, c.constraint) for c in s.conflicts] == [(None, "unknown")]
    assert "cancelled before the cause was narrowed down" in s.conflicts[0].message


def test_a_cancel_while_a_core_is_narrowed_names_no_group_not_narrowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Cancelled once the core is found: its groups admit no schedule, but were not narrowed,
    # and a cancelled job's answer must not read as a whole one.
    m1 = Machine(id="m1", shifts=[Window(start=0, end=8)])
    p = problem([order("a", op("m0", 5, max_wait=0), op("m1", 5))], ["m0", m1])
    found = diagnose.explain_infeasible(flatten(p), 5.0)
    assert [(c.order, c.constraint) for c in found] == [("a", "routing"), (None, "calendar m1")]
    stop = threading.Event()
    solves = diagnose.checked_solve

    def core_then_cancel(*args: Any) -> cp_model.CpSolverStatus:
        status = solves(*args)
        stop.set()
        return status

    monkeypatch.setattr(diagnose, "checked_solve", core_then_cancel)
    found = diagnose.explain_infeasible(flatten(p), 5.0, stop.is_set)
    assert [(c.order, c.constraint, c.message) for c in found] == [
        (
            None,
            "unknown",
            "proven infeasible, but the solve was cancelled before the cause was narrowed down",
        )
    ]
