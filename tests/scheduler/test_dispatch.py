from __future__ import annotations

import random
import time
from typing import Any

import pytest

from scheduler.dispatch import RULES, best_dispatch, dispatch, serial_plan
from scheduler.flat import Flat, FlatOp, flatten
from scheduler.models import Machine, Objective, ObjectiveTerm, Problem, Window, overlapping_work
from scheduler.plan import Plan, criteria, violations
from scheduler.readers import read_jsp
from scheduler.timeline import Timeline
from tests.scheduler.conftest import FT06, op, order, problem
from tests.scheduler.reference_dispatch import reference_dispatch


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


def _random_problem(
    rng: random.Random,
    calendars: bool = True,
    downtime: bool = True,
    most_orders: int = 12,
    dues: bool = False,
    setups: bool = True,
) -> Problem:
    """A small problem with a bit of everything the general dispatch handles."""
    machines = []
    for m in range(rng.randint(1, 5)):
        starts = sorted(rng.sample(range(80), rng.randint(0, 3) if downtime else 0))
        machines.append(
            Machine(
                id=f"M{m}",
                unavailable=[Window(start=s, end=s + rng.randint(1, 8)) for s in starts],
                shifts=[Window(start=d * 24, end=d * 24 + 16) for d in range(30)]
                if calendars and rng.random() < 0.2
                else None,
                initial_family=rng.choice(["A", "B", None]),
            )
        )
    orders = []
    started = 0  # the latest start of work started: `now` lies at or after it
    for j in range(rng.randint(1, most_orders)):
        ops = []
        for k in range(rng.randint(1, 4)):
            on = rng.sample([m.id for m in machines], rng.randint(1, len(machines)))
            kw: dict[str, object] = {}
            if rng.random() < 0.3 and setups:
                kw |= {"setup_default": rng.randint(0, 5), "setup": {rng.choice("ABC"): 6}}
            if rng.random() < 0.2:
                kw["min_wait"] = rng.randint(1, 3)
            if rng.random() < 0.15:
                kw["transfer_qty"] = 1
            if k == 0 and rng.random() < 0.15:
                start = rng.randint(0, 10)
                kw |= {"actual_start": start, "actual_machine": on[0]}
                started = max(started, start)
            ops.append(op({m: rng.randint(0, 4) for m in on}, **kw))
        release = rng.choice([0, rng.randint(0, 30)])
        family = rng.choice("ABC")
        terms: dict[str, object] = {}
        if dues:  # edd and slack weigh them; slack divides by the weight
            terms = {"due": rng.choice([None, rng.randint(0, 60)]), "weight": rng.randint(1, 3)}
        orders.append(
            order(
                f"O{j}", *ops, family=family, quantity=rng.randint(1, 3), release=release, **terms
            )
        )
    while (both := overlapping_work(orders)) is not None:
        # Work started on one machine at once is refused as read: the later start is dropped.
        later = orders[both[1].order]
        ops = list(later.operations)
        ops[both[1].operation] = ops[both[1].operation].model_copy(update={"actual_start": None})
        orders[both[1].order] = later.model_copy(update={"operations": ops})
    flow = Objective(terms=[ObjectiveTerm(kind="flow_time")])  # keeps off the job-shop path
    return problem(orders, machines, now=max(rng.choice([0, 5]), started), objective=flow)


@pytest.mark.parametrize("windows", [True, False])
def test_general_dispatch_builds_the_plan_of_the_plain_algorithm(windows: bool) -> None:
    # The dispatch keeps what a placement cannot change; the oracle evaluates everything again
    # after every placement. Calendars, set-ups, waits, transfer lots, frozen work, `now` and
    # a previous plan to keep all change what is evaluated, and the plans must not differ.
    # Without windows every operation that fits starts at once after its set-up: more orders,
    # due dates and weights, to make long queues, ties and set-up classes of several weights.
    rng = random.Random(7)
    for _ in range(250):
        if windows:
            flat = flatten(_random_problem(rng))
        else:
            p = _random_problem(rng, calendars=False, downtime=False, most_orders=25, dues=True)
            flat = flatten(p)
            assert not any(flat.forbidden)
        for rule in RULES:
            ours, oracle = dispatch(flat, rule), reference_dispatch(flat, rule)
            assert (ours.start, ours.end, ours.machine, ours.setup) == (
                oracle.start,
                oracle.end,
                oracle.machine,
                oracle.setup,
            ), rule
        previous = reference_dispatch(flat, "spt")
        keep = {
            key: (previous.start[key] + rng.choice([0, 3]), previous.machine[key])
            for key in range(len(flat.ops))
            if rng.random() < 0.8
        }
        ours, oracle = dispatch(flat, keep=keep), reference_dispatch(flat, keep=keep)
        assert (ours.start, ours.machine, ours.setup) == (
            oracle.start,
            oracle.machine,
            oracle.setup,
        )


def test_the_serial_plan_is_feasible_and_whole() -> None:
    rng = random.Random(11)
    checked = 0
    for _ in range(300):
        # Without shifts: a serial plan is longer than a rule's and may run past a calendar.
        flat = flatten(_random_problem(rng, calendars=False))
        if violations(flat, reference_dispatch(flat)):
            continue  # frozen work that overlaps
        plan = serial_plan(flat)
        assert violations(flat, plan) == []
        assert -1 not in plan.machine
        checked += 1
    assert checked > 100


def test_the_serial_plan_puts_work_in_the_first_gap_that_holds_it() -> None:
    # "b" does not fit before the closure at 10 and goes after it; "c" does, and meets its
    # due date there rather than follow "b".
    m = Machine(id="M", unavailable=[Window(start=10, end=20)])
    p = problem(
        [order("a", op("M", 7)), order("b", op("M", 5)), order("c", op("M", 2), due=10)], [m]
    )
    flat = flatten(p)
    plan = serial_plan(flat)
    assert violations(flat, plan) == []
    assert (plan.start, plan.end) == ([0, 20, 7], [7, 25, 9])


def _shifts_of_a_and_b(orders: int, a_setup: int, b_setup: int) -> Problem:
    """One machine working 16 of every 24 units: orders of family A (5 units) fill each shift
    with three, an hour short of its end; then as many of family B (1 unit)."""
    days = orders // 3 + orders // 16 + 10
    m = Machine(id="M", shifts=[Window(start=d * 24, end=d * 24 + 16) for d in range(days)])
    a = [order(f"A{i}", op("M", 5, setup_default=a_setup), family="A") for i in range(orders)]
    b = [
        order(f"B{i}", op("M", 1, setup_default=b_setup), family="B", release=1)
        for i in range(orders)
    ]
    return problem([*a, *b], [m])


def _gaps_tried(monkeypatch: pytest.MonkeyPatch, p: Problem) -> int:
    """Count the gaps the serial plan tries an operation in, and check its plan."""
    tried = 0
    fit = Timeline._fit

    def counted(self: Timeline, *args: Any) -> tuple[int, int] | None:
        nonlocal tried
        tried += 1
        return fit(self, *args)

    monkeypatch.setattr(Timeline, "_fit", counted)
    flat = flatten(p)
    assert violations(flat, serial_plan(flat)) == []
    return tried


def test_the_serial_plan_skips_the_gaps_too_short_for_the_set_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each shift ends with an hour free, room for a B but not for the set-up it needs after A:
    # a B tried in each of them makes the plan quadratic in the orders.
    assert _gaps_tried(monkeypatch, _shifts_of_a_and_b(300, 0, 2)) <= 2 * 600


def test_the_serial_plan_tries_a_bounded_number_of_gaps_per_operation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each shift's last hour holds a B, but the A of the next morning would need a set-up
    # after it in the night: every gap holds the B and none may take it.
    assert _gaps_tried(monkeypatch, _shifts_of_a_and_b(300, 2, 0)) <= 40 * 600


def test_the_serial_plan_skips_a_block_of_gaps_at_once_whatever_its_families(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every order of a family of its own, each needing a set-up after any other: a block of
    # gaps too short for any of them was looked through family by family, quadratic again.
    orders = 600
    days = orders * 7 // 14 + 10
    m = Machine(id="M", shifts=[Window(start=d * 24, end=d * 24 + 16) for d in range(days)])
    p = problem(
        [order(f"O{i}", op("M", 5, setup_default=2), family=f"F{i}") for i in range(orders)], [m]
    )
    asked = 0
    setup = Flat.setup

    def counted(self: Flat, work: FlatOp, family: int) -> int:
        nonlocal asked
        asked += 1
        return setup(self, work, family)

    monkeypatch.setattr(Flat, "setup", counted)
    flat = flatten(p)
    plan = serial_plan(flat)
    assert violations(flat, plan) == []
    assert asked <= 4 * orders, asked


def _sooner_on_its_machine(flat: Flat, plan: Plan) -> list[str]:
    """Name the operations that could start sooner on their machine, everything else where it
    is (for plans without set-ups or max_wait): after the work before them in their order, in
    a gap the machine's windows and other work leave."""
    out = []
    for work in flat.ops:
        if work.frozen:
            continue
        m, start, end = plan.machine[work.key], plan.start[work.key], plan.end[work.key]
        ready = max(flat.release[work.job], flat.problem.now)
        if work.index > 0:
            prev = flat.ops[flat.jobs[work.job][work.index - 1]]
            ready = max(ready, plan.end[prev.key] + prev.min_wait)
            if prev.transfer_qty:  # its first transfer lot, and no end before the last's
                pa, wa = prev.alt_on(plan.machine[prev.key]), work.alt_on(m)
                assert pa is not None and wa is not None
                first = plan.start[prev.key] + pa.fixed_time + prev.transfer_qty * pa.unit_time
                last = plan.end[prev.key] + prev.transfer_qty * wa.unit_time - (end - start)
                ready = max(flat.problem.now, first + prev.min_wait, last)
        if end == start:  # it may lie anywhere
            if ready < start:
                out.append(work.name)
            continue
        held = [
            (plan.start[k], plan.end[k])
            for k in range(len(flat.ops))
            if plan.machine[k] == m and k != work.key and plan.end[k] > plan.start[k]
        ]
        at = ready
        for busy_from, busy_to in sorted([*held, *flat.forbidden[m]]):
            if busy_from >= at + end - start:
                break
            at = max(at, busy_to)
        if at < start:
            out.append(work.name)
    return out


def test_no_operation_of_the_serial_plan_could_start_sooner_on_its_machine() -> None:
    rng = random.Random(3)
    for _ in range(300):
        flat = flatten(_random_problem(rng, setups=False))
        if violations(flat, reference_dispatch(flat)):
            continue  # frozen work that overlaps
        plan = serial_plan(flat)
        assert violations(flat, plan) == []
        assert _sooner_on_its_machine(flat, plan) == []


def test_best_dispatch_answers_with_the_serial_plan_when_no_rule_ends_in_time() -> None:
    orders = [order(f"O{i}", op("M", 1 + i % 5), release=1) for i in range(100)]
    flat = flatten(problem(orders, ["M"]))
    plan, serial = best_dispatch(flat, give_up=time.monotonic() - 1), serial_plan(flat)
    assert (plan.start, plan.machine) == (serial.start, serial.machine)
    assert violations(flat, plan) == []
    # Given the time, a rule's plan is taken, and wins a tie with the serial plan.
    assert best_dispatch(flat, ["spt"]).start == dispatch(flat, "spt").start


@pytest.mark.parametrize("frozen", [False, True])
def test_an_operation_that_takes_no_time_changes_nothing_over(frozen: bool) -> None:
    # As plan.violations reads a machine: the set-up before "b" is from family A, the last
    # that ran, not from B, whose operation took no time.
    started = {"actual_start": 0, "actual_end": 0} if frozen else {}
    m = Machine(id="M", initial_family="A")
    p = problem(
        [
            order("nothing", op("M", 0, **started), family="B"),
            order("b", op("M", 3, setup={"A": 4}), family="B", release=1),
        ],
        [m],
        objective=Objective(terms=[ObjectiveTerm(kind="flow_time")]),
    )
    flat = flatten(p)
    plan = dispatch(flat)
    assert violations(flat, plan) == []
    assert plan.setup[1] == 4
