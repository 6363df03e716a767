"""The constructive plans keep max_wait: work bound to the step before it starts in time."""

from __future__ import annotations

import random

import pytest

from scheduler.dispatch import RULES, _General, _Queued, dispatch, serial_plan
from scheduler.flat import flatten
from scheduler.models import (
    Machine,
    Objective,
    ObjectiveTerm,
    Problem,
    SolveOptions,
    Window,
    WorkOrder,
)
from scheduler.plan import violations
from scheduler.solver import solve, too_large
from tests.scheduler.conftest import op, order, problem

FLOW = Objective(terms=[ObjectiveTerm(kind="flow_time")])


def _bound_shop(orders: int, seed: int = 0, waits: bool = True, **kw: object) -> Problem:
    """Orders of four steps on six machines, some steps bound to the next by max_wait (none
    without `waits`)."""
    rng = random.Random(seed)
    machines = [f"M{i}" for i in range(6)]
    out = []
    for j in range(orders):
        steps = []
        for k in range(4):
            wait: dict[str, object] = {}
            if k < 3 and rng.random() < 0.4 and waits:
                wait["max_wait"] = rng.choice([0, 2, 5])
            on = rng.sample(machines, rng.randint(1, 2))
            steps.append(op({m: rng.randint(1, 9) for m in on}, **wait))
        out.append(order(f"O{j}", *steps, release=rng.randint(0, 50)))
    return problem(out, machines, **kw)


def _random_bound(rng: random.Random, shifts: bool = True) -> Problem:
    """A small problem with a bit of everything, and max_wait on many steps (with shifts,
    some have no plan: a wait too short to bridge the night)."""
    machines = []
    for m in range(rng.randint(1, 4)):
        starts = sorted(rng.sample(range(80), rng.randint(0, 3)))
        machines.append(
            Machine(
                id=f"M{m}",
                unavailable=[Window(start=s, end=s + rng.randint(1, 8)) for s in starts],
                shifts=[Window(start=d * 24, end=d * 24 + 16) for d in range(30)]
                if shifts and rng.random() < 0.2
                else None,
                initial_family=rng.choice(["A", "B", None]),
            )
        )
    orders = []
    for j in range(rng.randint(1, 12)):
        steps = []
        for _k in range(rng.randint(1, 4)):
            on = rng.sample([m.id for m in machines], rng.randint(1, len(machines)))
            kw: dict[str, object] = {}
            if rng.random() < 0.3:
                kw |= {"setup_default": rng.randint(0, 5), "setup": {rng.choice("ABC"): 6}}
            if rng.random() < 0.2:
                kw["min_wait"] = rng.randint(1, 3)
            if rng.random() < 0.5:
                kw["max_wait"] = int(kw.get("min_wait", 0)) + rng.choice([0, 0, 1, 4])  # type: ignore[call-overload]
            if rng.random() < 0.15:
                kw["transfer_qty"] = 1
            steps.append(op({m: rng.randint(1, 4) for m in on}, **kw))
        orders.append(
            order(
                f"O{j}",
                *steps,
                family=rng.choice("ABC"),
                quantity=rng.randint(1, 3),
                release=rng.choice([0, rng.randint(0, 30)]),
            )
        )
    return problem(orders, machines, now=rng.choice([0, 5]), objective=FLOW)


def test_every_rule_keeps_max_wait_on_a_plant() -> None:
    flat = flatten(_bound_shop(300))
    for rule in [*RULES, "random"]:
        assert violations(flat, dispatch(flat, rule)) == [], rule
    assert violations(flat, serial_plan(flat)) == []


def test_rules_keep_max_wait_with_calendars_set_ups_and_waits() -> None:
    # Both general dispatchers place the blocks of bound work alike. With shifts, some
    # problems have no plan (a wait too short to bridge the night): those are not checked.
    rng = random.Random(5)
    for shifts in [False, True] * 120:
        flat = flatten(_random_bound(rng, shifts=shifts))
        previous = dispatch(flat, "spt")
        keep = {
            key: (previous.start[key] + rng.choice([0, 3]), previous.machine[key])
            for key in range(len(flat.ops))
            if rng.random() < 0.8
        }
        plans = [serial_plan(flat), serial_plan(flat, keep)]
        for rule, kept in [*((r, None) for r in RULES), ("fifo", keep)]:
            queued = _Queued(flat, rule, 0, kept).run(None, None)
            general = _General(flat, rule, 0, kept).run(None, None)
            assert (queued.start, queued.machine, queued.setup) == (
                general.start,
                general.machine,
                general.setup,
            ), rule
            plans.append(queued)
        if not shifts:
            assert all(violations(flat, plan) == [] for plan in plans)


def test_a_plant_too_large_for_the_model_gets_a_plan_that_keeps_max_wait() -> None:
    p = _bound_shop(700)
    flat = flatten(p)
    assert too_large(flat)
    solution = solve(p, SolveOptions(time_limit=10))
    assert solution.status == "feasible"
    assert solution.source == "dispatch"  # the incumbent takes no plan that breaks a rule


def test_bound_work_waits_for_its_machine_before_its_block_starts() -> None:
    # "b" holds m1 until 10; "a" may wait at most 1 after m0: it starts at 8 at the earliest.
    p = problem(
        [
            order("a", op("m0", 2, max_wait=1), op("m1", 2)),
            order("b", op("m1", 10)),
        ],
        ["m0", "m1"],
        objective=FLOW,
    )
    flat = flatten(p)
    for rule in RULES:
        plan = dispatch(flat, rule)
        assert violations(flat, plan) == [], rule
        assert plan.start[1] <= plan.end[0] + 1


def test_work_bound_to_started_work_goes_first() -> None:
    # "a" ended on m0 at 2 and may wait 1: the rules that prefer "b" would hold m1 till 12.
    p = problem(
        [
            order("a", op("m0", 2, max_wait=1, actual_start=0, actual_end=2), op("m1", 2)),
            order("b", op("m1", 10)),
        ],
        ["m0", "m1"],
        now=2,
    )
    flat = flatten(p)
    for rule in RULES:
        assert violations(flat, dispatch(flat, rule)) == [], rule


@pytest.mark.parametrize(
    ("now", "closed", "says"),
    [
        (10, [], "which has passed (now is 10)"),
        (
            2,
            [Window(start=0, end=50)],
            "none of its machines can start it by then "
            "(m1: 50 at the earliest, its windows leave no room to start by 3)",
        ),
    ],
)
def test_a_wait_that_started_work_cannot_keep_is_a_conflict(
    now: int, closed: list[Window], says: str
) -> None:
    # Large plants get no model that could prove it: the conflict is seen without one.
    p = problem(
        [order("a", op("m0", 2, max_wait=1, actual_start=0, actual_end=2), op("m1", 2))],
        ["m0", Machine(id="m1", unavailable=closed)],
        now=now,
    )
    solution = solve(p, SolveOptions(time_limit=5))
    assert solution.status == "infeasible"
    [conflict] = solution.conflicts
    assert (conflict.order, conflict.constraint) == ("a", "routing")
    assert "a/1 must start by 3, within max_wait 1 of the end of a/0" in conflict.message
    assert says in conflict.message


@pytest.mark.parametrize(
    ("machine", "other", "says"),
    [
        # Started work holds the only machine past the deadline.
        (Machine(id="m1"), [order("b", op("m1", 30, actual_start=0))], "m1: 30 at the earliest"),
        # The machine ran another family: the set-up alone outlasts the wait.
        (Machine(id="m1", initial_family="B"), [], "m1: 12 at the earliest"),
    ],
)
def test_a_wait_that_started_work_cannot_keep_is_named_on_a_plant_too_large_for_the_model(
    machine: Machine, other: list[WorkOrder], says: str
) -> None:
    # Without a model to prove it, the plant would end without a plan and without a cause.
    step = op("m1", 2, setup_default=10)
    late = order("a", op("m0", 2, max_wait=1, actual_start=0, actual_end=2), step, family="A")
    plant = _bound_shop(700)
    p = plant.model_copy(
        update={
            "orders": [late, *other, *plant.orders],
            "machines": [*plant.machines, Machine(id="m0"), machine],
            "now": 2,
        }
    )
    assert too_large(flatten(p))
    solution = solve(p, SolveOptions(time_limit=5))
    assert solution.status == "infeasible"
    [conflict] = solution.conflicts
    assert (conflict.order, conflict.constraint) == ("a", "routing")
    assert "a/1 must start by 3, within max_wait 1 of the end of a/0" in conflict.message
    assert "none of its machines can start it by then" in conflict.message
    assert says in conflict.message


def test_work_taking_no_time_after_started_work_may_lie_in_a_closed_window() -> None:
    # As where the step before has not started: it needs no set-up, and changes nothing over.
    first = {"actual_start": 0, "actual_end": 5}
    p = problem(
        [order("a", op("m0", 5, max_wait=2, **first), op("m1", 0))],
        ["m0", Machine(id="m1", unavailable=[Window(start=0, end=100)])],
        now=5,
    )
    solution = solve(p, SolveOptions(time_limit=5))
    assert solution.status in ("optimal", "feasible"), solution.conflicts
    assert [(o.start, o.end) for o in solution.operations] == [(0, 5), (5, 5)]


@pytest.mark.parametrize("waits", [True, False])
def test_a_rules_plan_hints_the_model_unless_work_is_bound(
    waits: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Block plans led CP-SAT to longer plans than no hint at all; other rules' plans help it.
    import scheduler.solver as solver_module

    hinted: list[object] = []
    monkeypatch.setattr(solver_module.cpsat, "add_hint", lambda *args: hinted.append(args))
    solution = solve(_bound_shop(20, seed=3, waits=waits), SolveOptions(time_limit=2.0))
    assert solution.status in ("feasible", "optimal")
    assert bool(hinted) is not waits
