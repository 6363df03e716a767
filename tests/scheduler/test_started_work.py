"""Started (frozen) work in the CP-SAT model: the same rules as for planned work, and bounds
that never pass the plan found."""

from __future__ import annotations

import pytest

from scheduler.models import (
    Alternative,
    Machine,
    Objective,
    ObjectiveTerm,
    Operation,
    Problem,
    SolveOptions,
    WorkOrder,
)
from scheduler.solver import solve

QUICK = SolveOptions(time_limit=1, workers=1)


def on(machine: str, unit: int) -> list[Alternative]:
    return [Alternative(machine=machine, unit_time=unit)]


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
                    Operation(alternatives=on("A", 1), transfer_qty=1, actual_start=0),
                    Operation(alternatives=on("B", 1)),
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
                    Operation(alternatives=on("A", 5), actual_start=-100, actual_end=-50),
                ],
            )
        ],
    )
    solution = solve(problem, QUICK)
    assert solution.status == "optimal"
    assert solution.objective == [-50, 50]
    assert solution.lower_bound == -50
