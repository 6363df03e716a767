from __future__ import annotations

import random
import time

import pytest

from scheduler import localsearch
from scheduler.dispatch import dispatch
from scheduler.flat import Flat, flatten
from scheduler.localsearch import _Graph, improve
from scheduler.plan import Plan, criteria, violations
from scheduler.readers import read_jsp
from tests.scheduler.conftest import FT06, op, order, problem


def test_tabu_search_improves_and_stays_feasible() -> None:
    flat = flatten(read_jsp(FT06))
    start = dispatch(flat, "spt")
    better = improve(flat, start, deadline=time.monotonic() + 0.5)
    assert violations(flat, better) == []
    assert criteria(flat, better)["makespan"] < criteria(flat, start)["makespan"]
    assert criteria(flat, better)["makespan"] >= 55


def test_tabu_search_keeps_routings_that_revisit_a_machine_at_once() -> None:
    # Jobs run twice in a row on one machine; swapping such a pair would break the routing.
    rows = ["1 4 0 2 0 5", "0 1 1 1 0 1", "0 4 0 3 0 3", "0 5 0 3 1 1"]
    flat = flatten(read_jsp("4 2\n" + "\n".join(rows)))
    start = dispatch(flat, "spt")
    better = improve(flat, start, deadline=time.monotonic() + 0.5)
    assert violations(flat, better) == []
    assert criteria(flat, better)["makespan"] <= criteria(flat, start)["makespan"]


def _all_on_first_machine(flat: Flat) -> Plan:
    """Run every operation on its first machine, one after another."""
    n = len(flat.ops)
    plan = Plan([0] * n, [0] * n, [0] * n, [0] * n)
    t = 0
    for keys in flat.jobs:
        for k in keys:
            alt = flat.ops[k].alts[0]
            plan.start[k], plan.end[k], plan.machine[k] = t, t + alt.duration, alt.machine
            t += alt.duration
    return plan


def _flexible() -> Flat:
    return flatten(
        problem(
            [
                order("a", op({"m0": 2, "m1": 3}), op({"m1": 2, "m2": 2})),
                order("b", op({"m0": 2, "m2": 1}), op("m1", 3)),
                order("c", op({"m0": 1, "m1": 1, "m2": 4}), op({"m0": 2, "m2": 2})),
                order("d", op("m0", 2), op({"m1": 1, "m2": 3})),
            ],
            ["m0", "m1", "m2"],
        )
    )


def test_reassignment_moves_only_to_eligible_machines_and_keeps_the_plan_feasible() -> None:
    flat = _flexible()
    start = _all_on_first_machine(flat)
    first = _Graph(flat, start)
    first.evaluate()
    moves = first.reassignments()
    assert moves
    for u, m, i, _ in moves:
        # Each move on a fresh copy of the same plan.
        g = _Graph(flat, start)
        g.evaluate()
        eligible = {a.machine for a in flat.ops[u].alts}
        assert m in eligible and m != g.machine[u]
        assert g.reassign(u, m, i)
        assert g.machine[u] == m and g.seq[m][i] == u
        plan = Plan(list(g.r), [g.r[k] + g.d[k] for k in range(g.n)], list(g.machine), [0] * g.n)
        assert violations(flat, plan) == []
        assert max(plan.end) == g.cmax


def test_tabu_search_moves_work_off_an_overloaded_machine() -> None:
    # Four interchangeable operations all start on m0 (makespan 8, its load); the optimum
    # spreads them over both machines. Swaps alone cannot shorten such a plan.
    either = {"m0": 2, "m1": 2}
    flat = flatten(problem([order(o, op(either)) for o in "abcd"], ["m0", "m1"]))
    start = _all_on_first_machine(flat)
    better = improve(flat, start, deadline=time.monotonic() + 5)
    assert violations(flat, better) == []
    assert criteria(flat, start)["makespan"] == 8
    assert criteria(flat, better)["makespan"] == 4


def test_tabu_search_with_reassignments_stays_feasible_on_a_flexible_shop() -> None:
    flat = _flexible()
    start = _all_on_first_machine(flat)
    better = improve(flat, start, deadline=time.monotonic() + 0.5)
    assert violations(flat, better) == []
    assert criteria(flat, better)["makespan"] < criteria(flat, start)["makespan"]


def test_times_past_32_bits_are_searched_as_well_as_small_ones() -> None:
    # Milliseconds over a month: the compiled search counts in C ints and would wrap.
    scale = 10**8
    rows = FT06.splitlines()
    scaled = [rows[0]] + [
        " ".join(str(int(v) * scale) if i % 2 else v for i, v in enumerate(row.split()))
        for row in rows[1:]
    ]
    flat = flatten(read_jsp("\n".join(scaled)))
    start = dispatch(flat, "spt")
    better = improve(flat, start, deadline=time.monotonic() + 1.0)
    assert violations(flat, better) == []
    assert criteria(flat, better)["makespan"] < criteria(flat, start)["makespan"]
    assert criteria(flat, better)["makespan"] % scale == 0


def test_a_swap_that_closes_a_cycle_through_work_that_takes_no_time_is_undone() -> None:
    # All at 0 but the last: m0 runs 0 then 3, m1 runs 1, 2, 4. Swapping 0 and 3 closes
    # 3 -> 0 -> 1 -> 2 -> 3, a cycle of work that takes no time, as long as the arc 0 -> 3.
    flat = flatten(read_jsp("2 2\n0 0 1 0\n1 0 0 0 1 3"))
    start = dispatch(flat, "mwkr")
    g = _Graph(flat, start)
    g.evaluate()
    assert g.seq == [[0, 3], [1, 2, 4]] and (0, 3) in g.moves()
    was = ([list(s) for s in g.seq], list(g.order), list(g.r), list(g.q), list(g.mp), list(g.ms))
    assert not g.swap(0, 3)
    assert ([list(s) for s in g.seq], g.order, g.r, g.q, g.mp, g.ms) == was


@pytest.mark.parametrize("flexible", [False, True], ids=["plain", "flexible"])
def test_tabu_search_over_work_that_takes_no_time_stays_feasible(
    flexible: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(localsearch.tabu_c, "available", lambda: False)  # the Python search
    rng = random.Random(5)
    machines = ["m0", "m1", "m2"]
    for _ in range(60):
        orders = []
        for j in range(rng.randint(2, 6)):
            steps = []
            for m in rng.sample(machines, 3):
                either = {m: rng.choice([0, 0, 2]), rng.choice(machines): rng.choice([0, 3])}
                steps.append(op(either if flexible else m, rng.choice([0, 0, 0, 1, 2, 5])))
            orders.append(order(f"j{j}", *steps))
        flat = flatten(problem(orders, machines))
        start = dispatch(flat, "fifo")
        better = improve(flat, start, deadline=time.monotonic() + 0.02, seed=rng.randrange(99))
        assert violations(flat, better) == []
        assert criteria(flat, better)["makespan"] <= criteria(flat, start)["makespan"]
