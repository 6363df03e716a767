"""Work that takes no time: it changes nothing over on its machine and holds no time there
unless it needs a set-up, in the CP-SAT models as in dispatch and `plan.violations`."""

from __future__ import annotations

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


def test_started_work_that_took_no_time_changes_nothing_over() -> None:
    # z (family C) was reported started and ended at 0 on A; b runs there from 0 with no set-up.
    problem = Problem(
        machines=[Machine(id="A")],
        objective=Objective(
            terms=[ObjectiveTerm(kind="makespan"), ObjectiveTerm(kind="weighted_tardiness")],
            mode="weighted",
        ),
        orders=[
            WorkOrder(
                id="z",
                family="C",
                operations=[op("A", 1, actual_start=0, actual_end=0)],
            ),
            WorkOrder(
                id="b",
                family="B",
                due=0,
                operations=[op("A", 5, setup={"C": 5})],
            ),
        ],
    )
    solution = solve(problem, QUICK)
    assert solution.status == "optimal"
    assert solution.objective == [10]
    assert solution.lower_bound == 10


def test_started_work_that_took_no_time_may_lie_in_a_closed_window() -> None:
    problem = Problem(
        now=5,
        machines=[Machine(id="A", unavailable=[Window(start=2, end=4)])],
        orders=[
            WorkOrder(
                id="z",
                operations=[op("A", 1, actual_start=3, actual_end=3)],
            ),
            WorkOrder(id="b", release=5, operations=[op("A", 2)]),
        ],
    )
    solution = solve(problem, QUICK)
    assert solution.status == "optimal"
    assert solution.makespan == 7


def test_started_work_that_took_no_time_may_lie_inside_other_started_work() -> None:
    problem = Problem(
        now=5,
        machines=[Machine(id="A")],
        orders=[
            WorkOrder(id="o", operations=[op("A", 10, actual_start=0)]),
            WorkOrder(
                id="z",
                operations=[op("A", 1, actual_start=5, actual_end=5)],
            ),
        ],
    )
    solution = solve(problem, QUICK)
    assert (solution.status, solution.makespan, solution.conflicts) == ("optimal", 10, [])


def test_planned_work_that_takes_no_time_and_needs_no_set_up_changes_nothing_over() -> None:
    # z (family C, needs no set-up after B) takes no time on A between x and y, both family B:
    # the second of them needs no set-up after it, where one after C would cost 5.
    problem = Problem(
        machines=[Machine(id="A", initial_family="B"), Machine(id="D")],
        objective=Objective(terms=[ObjectiveTerm(kind="flow_time")]),
        orders=[
            WorkOrder(
                id="x",
                family="B",
                operations=[op("A", 4, setup_default=5)],
            ),
            WorkOrder(
                id="z",
                family="C",
                operations=[
                    op("D", 4),
                    op("A", 0, setup={"B": 0}, setup_default=3),
                ],
            ),
            WorkOrder(
                id="y",
                family="B",
                operations=[op("A", 4, setup_default=5)],
            ),
        ],
    )
    solution = solve(problem, QUICK)
    assert solution.status == "optimal"
    assert solution.objective == [16]  # x [0, 4), z at 4, y [4, 8) (or y first)
    assert solution.lower_bound == 16


def test_work_that_takes_no_time_may_lie_inside_other_work() -> None:
    # A classic job shop: z's step on M1 takes no time, at 5, while j runs there [0, 10).
    problem = Problem(
        machines=[Machine(id=m) for m in ("M1", "M2", "M3", "M4")],
        orders=[
            WorkOrder(
                id="j",
                operations=[
                    op("M1", 10),
                    op("M4", 10),
                ],
            ),
            WorkOrder(
                id="z",
                operations=[
                    op("M2", 5),
                    op("M1", 0),
                    op("M3", 15),
                ],
            ),
        ],
    )
    solution = solve(problem, QUICK)
    assert solution.status == "optimal"
    assert solution.makespan == 20
