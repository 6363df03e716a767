"""Work that takes no time: it changes nothing over on its machine and holds no time there
unless it needs a set-up, in the CP-SAT models as in dispatch and `plan.violations`."""

from __future__ import annotations

import pytest

from scheduler.dispatch import RULES, dispatch, serial_plan
from scheduler.flat import Flat, flatten
from scheduler.models import (
    Machine,
    Objective,
    ObjectiveTerm,
    Problem,
    SolveOptions,
    Window,
    WorkOrder,
)
from scheduler.plan import Plan, violations
from scheduler.rescheduler import Actual, Feedback, _previous_positions, apply_feedback
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


def _changed_over_then_read(first: str | None = None) -> Problem:
    """y (family B) takes no time on A and needs a set-up after A, the machine's first family
    (`first`) or w's; x (family B) takes no time, needs none after B and 4 after A, and is
    released when y can start."""
    w = [WorkOrder(id="w", family="A", operations=[op("A", 3)])] if first is None else []
    return Problem(
        machines=[Machine(id="A", initial_family=first)],
        orders=[
            WorkOrder(
                id="x",
                family="B",
                release=1 if w == [] else 4,
                operations=[op("A", 0, setup_default=4)],
            ),
            *w,
            WorkOrder(id="y", family="B", operations=[op("A", 0, setup_default=1)]),
        ],
    )


def _starts_and_set_ups(flat: Flat, plan: Plan) -> dict[str, tuple[int, int]]:
    return {flat.problem.orders[o.job].id: (plan.start[o.key], plan.setup[o.key]) for o in flat.ops}


@pytest.mark.parametrize("rule", [*RULES, "serial"])
def test_work_that_takes_no_time_is_not_dispatched_into_a_change_over_before_it(
    rule: str,
) -> None:
    # y changes the machine over from A to B at 1. x, at 1 too, would be read before y (the
    # smaller key on a tie) and need 4 after A: it goes at 2, after y, as CP-SAT places it.
    flat = flatten(_changed_over_then_read(first="A"))
    plan = serial_plan(flat) if rule == "serial" else dispatch(flat, rule)
    assert violations(flat, plan) == []
    assert _starts_and_set_ups(flat, plan) == {"y": (1, 1), "x": (2, 0)}
    best = solve(flat.problem, QUICK)
    assert {o.job: (o.start, o.setup) for o in best.operations} == {"y": (1, 1), "x": (2, 0)}


def test_the_serial_repair_keeps_set_ups_at_the_instant_of_a_change_over() -> None:
    # w was planned [0, 3), y at 4 and x at 5; w is reported started at 1. The repair moves y
    # to 5 and keeps x no earlier than 5: x, read before y there, goes on to 6.
    problem = _changed_over_then_read()
    before = solve(problem, QUICK)
    assert {o.job: o.start for o in before.operations} == {"w": 0, "y": 4, "x": 5}
    feedback = Feedback(now=1, actuals=[Actual(order="w", index=0, start=1)])
    flat = flatten(apply_feedback(problem, before, feedback))
    repaired = serial_plan(flat, _previous_positions(flat, before))
    assert violations(flat, repaired) == []
    assert _starts_and_set_ups(flat, repaired) == {"w": (1, 0), "y": (5, 1), "x": (6, 0)}
