"""Set-ups in the CP-SAT model, `now` everywhere, and the bounds the solver reports.

Each case has a schedule better than (or different from) what the solver once answered; the
expected values were found by hand and checked with `violations`.
"""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from scheduler.errors import InvalidProblem
from scheduler.flat import flatten
from scheduler.models import (
    Alternative,
    Machine,
    Objective,
    ObjectiveTerm,
    Operation,
    Problem,
    SolveOptions,
    Window,
    WorkOrder,
)
from scheduler.plan import Plan, violations
from scheduler.readers import read_jsp
from scheduler.rescheduler import Actual, Feedback, reschedule
from scheduler.solver import MAX_CIRCUIT, solve
from tests.scheduler.conftest import FT06, one_machine

QUICK = SolveOptions(time_limit=3, workers=1)


def on(machine: str, unit: int, fixed: int = 0) -> list[Alternative]:
    return [Alternative(machine=machine, unit_time=unit, fixed_time=fixed)]


def test_a_machine_with_set_ups_holds_more_than_one_operation() -> None:
    # The set-up never applies (nothing ran before); op 0 must wait out [13, 26).
    problem = Problem(
        machines=[Machine(id="M0", unavailable=[Window(start=13, end=26)])],
        orders=[
            WorkOrder(
                id="O0",
                operations=[
                    Operation(alternatives=on("M0", 8), setup_default=3, max_wait=4),
                    Operation(alternatives=on("M0", 9)),
                ],
            )
        ],
    )
    solution = solve(problem, QUICK)
    assert (solution.status, solution.makespan) == ("optimal", 43)


def test_set_up_families_are_sequenced_to_the_optimum() -> None:
    problem = Problem(
        machines=[Machine(id="M0")],
        orders=[
            WorkOrder(
                id="O0",
                family="F0",
                quantity=2,
                release=5,
                operations=[Operation(alternatives=on("M0", 6, 1), setup_default=1)],
            ),
            WorkOrder(
                id="O1",
                family="F1",
                release=1,
                operations=[
                    Operation(alternatives=on("M0", 1)),
                    Operation(alternatives=on("M0", 4, 2), setup_default=3),
                ],
            ),
            WorkOrder(
                id="O2",
                family="F1",
                release=24,
                operations=[Operation(alternatives=on("M0", 5, 3), setup_default=4)],
            ),
        ],
    )
    solution = solve(problem, SolveOptions(time_limit=5, workers=1))
    assert (solution.status, solution.makespan) == ("optimal", 33)


def test_nothing_runs_outside_the_shifts_after_now() -> None:
    order = WorkOrder(id="A", operations=[Operation(alternatives=on("M", 10))])
    past_shifts = Problem(
        now=1000, machines=[Machine(id="M", shifts=[Window(start=0, end=100)])], orders=[order]
    )
    assert solve(past_shifts, QUICK).status == "infeasible"
    later = Problem(
        now=1000,
        machines=[Machine(id="M", shifts=[Window(start=0, end=100), Window(start=2000, end=2100)])],
        orders=[order],
    )
    solution = solve(later, QUICK)
    assert [(o.start, o.end) for o in solution.operations] == [(2000, 2010)]


def test_after_an_operation_reported_early_the_next_waits_for_now() -> None:
    problem = Problem(
        machines=[Machine(id="M"), Machine(id="N")],
        orders=[
            WorkOrder(
                id="A",
                operations=[
                    Operation(alternatives=on("M", 100)),
                    Operation(alternatives=on("N", 10)),
                ],
            )
        ],
    )
    plan = solve(problem, QUICK)
    actual = Actual(order="A", index=0, start=0, end=20)
    again = reschedule(problem, plan, Feedback(now=50, actuals=[actual]), QUICK)
    second = next(o for o in again.operations if o.index == 1)
    assert (second.start, second.end) == (50, 60)


def test_a_set_up_is_not_planned_in_the_past() -> None:
    problem = Problem(
        now=100,
        machines=[Machine(id="M", initial_family="X")],
        orders=[
            WorkOrder(
                id="A",
                family="Y",
                operations=[Operation(alternatives=on("M", 10), setup_default=30)],
            )
        ],
    )
    (scheduled,) = solve(problem, QUICK).operations
    assert (scheduled.start - scheduled.setup, scheduled.start) == (100, 130)


@pytest.mark.parametrize(("initial", "setup"), [(None, 0), ("", 30), ("Y", 0)])
def test_an_empty_initial_family_is_the_default_family_that_ran_last(
    initial: str | None, setup: int
) -> None:
    # "" is the family of every order that names none: the machine ran such work last.
    problem = Problem(
        machines=[Machine(id="M", initial_family=initial)],
        orders=[
            WorkOrder(
                id="A",
                family="Y",
                operations=[Operation(alternatives=on("M", 10), setup_default=30)],
            )
        ],
    )
    (scheduled,) = solve(problem, QUICK).operations
    assert (scheduled.setup, scheduled.start) == (setup, setup)


def test_a_plan_that_starts_before_now_is_a_violation() -> None:
    problem = Problem(
        now=5,
        machines=[Machine(id="M")],
        orders=[WorkOrder(id="A", operations=[Operation(alternatives=on("M", 1))])],
    )
    flat = flatten(problem)
    early = Plan(start=[0], end=[1], machine=[0], setup=[0])
    assert any("before now" in v for v in violations(flat, early))


def test_weighted_tardiness_after_now_is_solved_to_its_optimum() -> None:
    orders = [
        WorkOrder(
            id=f"O{i}", due=1000 + d, weight=w, operations=[Operation(alternatives=on("M", u))]
        )
        for i, (d, w, u) in enumerate([(10, 3, 10), (25, 1, 7), (15, 2, 12), (40, 4, 9)])
    ]
    objective = Objective(terms=[ObjectiveTerm(kind="weighted_tardiness")])
    shifted = solve(
        Problem(now=1000, machines=[Machine(id="M")], orders=orders, objective=objective), QUICK
    )
    unshifted = [o.model_copy(update={"due": o.due - 1000}) for o in orders]  # type: ignore[operator]
    at_zero = solve(
        Problem(machines=[Machine(id="M")], orders=unshifted, objective=objective), QUICK
    )
    assert shifted.status == at_zero.status == "optimal"
    assert shifted.objective == at_zero.objective


def test_a_weighted_makespan_reports_its_bound_in_time_units() -> None:
    problem = read_jsp(FT06, "ft06").model_copy(
        update={"objective": Objective(terms=[ObjectiveTerm(kind="makespan", weight=2)])}
    )
    solution = solve(problem, QUICK)
    assert solution.makespan == 55
    assert solution.lower_bound is not None and solution.lower_bound <= 55


def test_a_transfer_lot_bigger_than_the_order_is_refused() -> None:
    with pytest.raises(ValidationError, match="transfer_qty 5 exceeds the order's quantity 2"):
        WorkOrder(
            id="A",
            quantity=2,
            operations=[Operation(alternatives=on("M", 10), transfer_qty=5)],
        )


@pytest.mark.parametrize(
    ("actual", "field"),
    [
        (Actual(order="A", index=7, start=0), "actuals[0].index"),
        (Actual(order="A", index=0, start=0, machine="ZZ"), "actuals[0].machine"),
        (Actual(order="A", index=0, start=10, end=5), "actuals[0].end"),
    ],
)
def test_feedback_that_names_no_operation_of_the_order_is_refused(
    actual: Actual, field: str
) -> None:
    problem = Problem(
        machines=[Machine(id="M")],
        orders=[WorkOrder(id="A", operations=[Operation(alternatives=on("M", 10))])],
    )
    plan = solve(problem, QUICK)
    with pytest.raises(InvalidProblem, match=field.replace("[", r"\[").replace("]", r"\]")):
        reschedule(problem, plan, Feedback(now=10, actuals=[actual]), QUICK)


def test_a_plan_too_big_for_the_rules_still_gets_a_plan() -> None:
    # Every rule weighs all the jobs waiting for a machine at each placement: 4,000 on one
    # machine outlast a 1 s limit, and the serial plan, made first, is the answer.
    solution = solve(one_machine(4000), SolveOptions(time_limit=1, workers=1))
    assert solution.status == "feasible"
    assert len(solution.operations) == 4000
    assert solution.makespan == 1 + sum(1 + i % 7 for i in range(4000))


def test_cancel_stops_a_plan_while_it_is_built() -> None:
    asked = time.monotonic()
    solution = solve(
        one_machine(4000),
        SolveOptions(time_limit=60, workers=1),
        should_stop=lambda: time.monotonic() > asked + 0.5,
    )
    assert solution.status == "cancelled"


def test_many_operations_on_a_set_up_machine_are_planned_without_the_circuit_model() -> None:
    solution = solve(
        one_machine(MAX_CIRCUIT + 1, setup_default=2), SolveOptions(time_limit=2, workers=1)
    )
    assert (solution.status, solution.source) == ("feasible", "dispatch")
    assert len(solution.operations) == MAX_CIRCUIT + 1


def test_an_objective_that_can_pass_64_bits_is_refused_by_name() -> None:
    orders = [
        WorkOrder(
            id=f"O{i}",
            due=-(10**12),
            weight=10**6,
            operations=[Operation(alternatives=on("M", 1 + i))],
        )
        for i in range(12)
    ]
    with pytest.raises(ValidationError, match="objective: weights times times can pass 64 bits"):
        Problem(
            machines=[Machine(id="M")],
            orders=orders,
            objective=Objective(terms=[ObjectiveTerm(kind="weighted_tardiness")]),
        )
