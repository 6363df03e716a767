from __future__ import annotations

import pytest

from scheduler.dispatch import RULES, best_dispatch, dispatch
from scheduler.flat import flatten
from scheduler.models import Machine, Objective, ObjectiveTerm, Window
from scheduler.plan import criteria, violations
from scheduler.readers import read_jsp
from tests.scheduler.conftest import FT06, op, order, problem


@pytest.mark.parametrize("rule", [*RULES, "random"])
def test_every_rule_gives_a_feasible_plan(rule: str) -> None:
    flat = flatten(read_jsp(FT06))
    assert violations(flat, dispatch(flat, rule)) == []


@pytest.mark.parametrize("rule", RULES)
def test_job_shop_shortcut_builds_the_general_schedule(rule: str) -> None:
    rows = (
        " ".join(f"{(j + 3 * k) % 7} {1 + (j * 13 + k * 5) % 11}" for k in range(7))
        for j in range(9)
    )
    plain = read_jsp("9 7\n" + "\n".join(rows))
    # Any objective but makespan alone takes the general path; dispatching ignores it.
    flow = Objective(terms=[ObjectiveTerm(kind="flow_time")])
    other = plain.model_copy(update={"objective": flow})
    fast, general = dispatch(flatten(plain), rule), dispatch(flatten(other), rule)
    assert (fast.start, fast.machine) == (general.start, general.machine)


@pytest.mark.parametrize("flow", [False, True])
def test_operations_that_take_no_time_are_dispatched(flow: bool) -> None:
    p = read_jsp("2 2\n0 0 1 3\n1 0 0 2\n")
    if flow:
        p = p.model_copy(update={"objective": Objective(terms=[ObjectiveTerm(kind="flow_time")])})
    flat = flatten(p)
    plan = dispatch(flat)
    assert violations(flat, plan) == []
    assert criteria(flat, plan)["makespan"] == 3


def test_best_dispatch_is_no_worse_than_each_rule() -> None:
    flat = flatten(read_jsp(FT06))
    best = criteria(flat, best_dispatch(flat))["makespan"]
    assert all(best <= criteria(flat, dispatch(flat, r))["makespan"] for r in RULES)


def test_dispatch_skips_unavailable_windows_and_adds_setups() -> None:
    m = Machine(id="m", unavailable=[Window(start=2, end=6)])
    p = problem(
        [
            order("a", op("m", 3, setup_default=2), family="A"),
            order("b", op("m", 3, setup_default=2), family="B"),
        ],
        [m],
    )
    flat = flatten(p)
    plan = dispatch(flat)
    assert violations(flat, plan) == []
    assert sorted(plan.setup) == [0, 2]
