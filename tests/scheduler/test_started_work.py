"""Started (frozen) work in the CP-SAT model: the same rules as for planned work, and bounds
that never pass the plan found."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler import cpsat
from scheduler.flat import Flat
from scheduler.models import (
    Machine,
    Objective,
    ObjectiveTerm,
    Problem,
    SolveOptions,
    Window,
    WorkOrder,
)
from scheduler.solver import solve
from tests.scheduler.conftest import op

QUICK = SolveOptions(time_limit=1, workers=1)


def objective(kind: str) -> Objective:
    return Objective(terms=[ObjectiveTerm(kind=kind)])


@pytest.mark.parametrize("kind", ["flow_time", "makespan"])
def test_a_started_operation_passes_its_transfer_lots_on(kind: str) -> None:
    # 10 units started at 0, one unit a lot: B may start at 1 and ends at 11, one unit after A.
    problem = Problem(
        now=1,
        machines=[Machine(id="A"), Machine(id="B")],
        objective=objective(kind),
        orders=[
            WorkOrder(
                id="o",
                quantity=10,
                operations=[
                    op("A", 1, transfer_qty=1, actual_start=0),
                    op("B", 1),
                ],
            )
        ],
    )
    solution = solve(problem, QUICK)
    assert solution.status == "optimal"
    assert solution.objective == [11]
    assert solution.lower_bound == 11


def test_work_all_done_before_time_0_has_its_makespan_as_bound() -> None:
    problem = Problem(
        machines=[Machine(id="A")],
        objective=Objective(
            terms=[ObjectiveTerm(kind="makespan"), ObjectiveTerm(kind="flow_time")]
        ),
        orders=[
            WorkOrder(
                id="o",
                release=-100,
                operations=[
                    op("A", 5, actual_start=-100, actual_end=-50),
                ],
            )
        ],
    )
    solution = solve(problem, QUICK)
    assert solution.status == "optimal"
    assert solution.objective == [-50, 50]
    assert solution.lower_bound == -50


@pytest.mark.parametrize(
    "machine",
    [
        Machine(id="A", unavailable=[Window(start=3, end=8)]),
        Machine(id="A", shifts=[Window(start=0, end=8), Window(start=10, end=100)]),
    ],
)
def test_started_work_that_runs_into_a_closed_window_is_kept_and_proven(machine: Machine) -> None:
    # o has run on A since 0 and ends at 10, across a time A is closed; p fits after it.
    problem = Problem(
        now=5,
        machines=[machine],
        orders=[
            WorkOrder(id="o", operations=[op("A", 10, actual_start=0)]),
            WorkOrder(id="p", operations=[op("A", 3)]),
        ],
    )
    solution = solve(problem, QUICK)
    assert solution.status == "optimal"
    assert solution.makespan == 13
    assert solution.lower_bound == 13


def test_a_model_without_room_for_the_plan_at_hand_proves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build = cpsat.build

    def stricter(flat: Flat, *args: Any, **kwargs: Any) -> cpsat.Built:
        built = build(flat, *args, **kwargs)
        built.model.add(built.start[0] < 0)  # no plan keeps this
        return built

    monkeypatch.setattr(cpsat, "build", stricter)
    problem = Problem(
        machines=[Machine(id="A"), Machine(id="B")],
        orders=[
            WorkOrder(
                id="o",
                release=1,  # not a classic job shop: the full model is built
                operations=[op("A", 2), op("B", 2)],
            ),
        ],
    )
    solution = solve(problem, QUICK)
    assert solution.status == "feasible"
    assert solution.makespan == 5


def test_started_work_before_its_release_is_counted_from_its_start() -> None:
    # Started at -30, 20 units long, released at 0: in the shop from -30 to -10, flow 20.
    started = Problem(
        machines=[Machine(id="A")],
        objective=objective("flow_time"),
        orders=[WorkOrder(id="o", operations=[op("A", 20, actual_start=-30)])],
    )
    solution = solve(started, QUICK)
    assert solution.kpis is not None
    assert solution.kpis.total_flow_time == 20
    assert solution.objective == [20]
    assert solution.lower_bound == 20


def test_the_wait_after_started_work_leaves_the_model_room_to_plan_what_follows() -> None:
    # Each order's first step ran an instant long and must be followed 124 units later by its
    # step on A: p (6 units) is ready first, r (1 unit) last. The best flow waits for the
    # shorter ones: q, r, then p. A horizon that left out the waits pinned each step at its
    # earliest start, so no plan fit the model, and a worse one was answered, unproven.
    def waiting(oid: str, started: int, time: int) -> WorkOrder:
        return WorkOrder(
            id=oid,
            operations=[
                op("F", 0, actual_start=started, actual_end=started + 1, min_wait=124),
                op("A", time),
            ],
        )

    problem = Problem(
        now=10,
        machines=[Machine(id="F"), Machine(id="A")],
        objective=objective("flow_time"),
        orders=[waiting("p", 0, 6), waiting("q", 1, 3), waiting("r", 2, 1)],
    )
    solution = solve(problem, QUICK)
    assert solution.status == "optimal"
    assert solution.objective == [395]
    assert solution.lower_bound == 395
