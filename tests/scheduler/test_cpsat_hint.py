"""The plan CP-SAT starts from, and a model CP-SAT refuses.

A hint that names one variable twice makes CP-SAT refuse the whole model (MODEL_INVALID): it
then searches nothing, and the constructive plan used to come back as if CP-SAT had found no
better one.
"""

from __future__ import annotations

import pytest
from ortools.sat.python import cp_model

from scheduler import cpsat
from scheduler.cp_solver import ModelInvalid, cp_solver
from scheduler.dispatch import RULES, best_dispatch
from scheduler.flat import Flat, flatten
from scheduler.models import Problem, SolveOptions
from scheduler.plan import Plan, criteria
from scheduler.readers import read_jsp
from scheduler.solver import solve
from tests.scheduler.conftest import FT06, one_machine, op, order, problem

# Per order: its family and, per operation, its time on each machine and its set-up per family.
FLEXIBLE = [
    ("B", [({"M1": 2, "M2": 2}, {"A": 1, "B": 5}), ({"M1": 4, "M2": 2}, {"A": 6, "B": 1})]),
    ("B", [({"M1": 1, "M2": 2}, {"A": 3, "B": 1}), ({"M1": 3, "M2": 5}, {"A": 2, "B": 5})]),
    ("A", [({"M1": 1, "M2": 5}, {"A": 1, "B": 5}), ({"M1": 3, "M2": 3}, {"A": 4, "B": 2})]),
    ("B", [({"M1": 1, "M2": 5}, {"A": 5, "B": 6}), ({"M1": 5, "M2": 1}, {"A": 6, "B": 3})]),
]


def flexible_set_ups() -> Problem:
    """Every operation may run on either machine, and both machines have set-ups."""
    orders = [
        order(f"O{j}", *(op(t, setup=su, setup_default=3) for t, su in ops), family=family)
        for j, (family, ops) in enumerate(FLEXIBLE)
    ]
    return problem(orders, ["M1", "M2"])


def dispatched(flat: Flat) -> Plan:
    return best_dispatch(flat, RULES, should_stop=lambda: False, deadline=float("inf"))


def test_cp_sat_improves_on_the_dispatch_plan_of_flexible_work_with_set_ups() -> None:
    flat = flatten(flexible_set_ups())
    assert criteria(flat, dispatched(flat))["makespan"] == 14
    solution = solve(flexible_set_ups(), SolveOptions(time_limit=10, workers=1))
    assert (solution.status, solution.makespan, solution.lower_bound, solution.source) == (
        "optimal",
        10,
        10,
        "cpsat",
    )


@pytest.mark.parametrize(
    ("given", "lean"),
    [
        (flexible_set_ups(), False),
        (one_machine(9, setup_default=2), False),
        (read_jsp(FT06), False),
        (read_jsp(FT06), True),
    ],
    ids=["flexible set-ups", "one set-up machine", "ft06", "ft06 lean"],
)
def test_the_dispatch_plan_hints_each_variable_once_and_is_a_solution_of_the_model(
    given: Problem, lean: bool
) -> None:
    flat = flatten(given)
    plan = dispatched(flat)
    built = cpsat.build_lean(flat) if lean else cpsat.build(flat, terms=["makespan"])
    built.model.minimize(built.criteria["makespan"])
    cpsat.add_hint(flat, built, plan)
    hinted = list(built.model.proto.solution_hint.vars)
    assert len(hinted) == len(set(hinted))
    assert built.model.validate() == ""
    # Held to its hint, the model still has a solution: the plan itself.
    solver = cp_solver()
    solver.parameters.fix_variables_to_their_hinted_value = True
    solver.parameters.num_workers = 1
    assert solver.solve(built.model) == cp_model.OPTIMAL
    assert solver.objective_value == criteria(flat, plan)["makespan"]


def test_a_model_cp_sat_refuses_raises_instead_of_returning_the_dispatch_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_hint = cpsat.add_hint

    def twice(flat: Flat, built: cpsat.Built, plan: Plan) -> None:
        add_hint(flat, built, plan)
        built.model.add_hint(built.start[0], plan.start[0])

    monkeypatch.setattr(cpsat, "add_hint", twice)
    with pytest.raises(ModelInvalid, match="duplicate variables"):
        solve(flexible_set_ups(), SolveOptions(time_limit=10, workers=1))
