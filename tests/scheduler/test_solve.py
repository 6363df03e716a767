from __future__ import annotations

import itertools

import pytest
from ortools.sat.python import cp_model
from pydantic import ValidationError

from scheduler import cpsat
from scheduler.dispatch import RULES, best_dispatch
from scheduler.errors import InvalidProblem
from scheduler.flat import flatten
from scheduler.models import (
    MAX_WINDOWS,
    Machine,
    Objective,
    ObjectiveTerm,
    Solution,
    SolveOptions,
    Window,
)
from scheduler.plan import violations
from scheduler.readers import load_problem, parse_problem, read_jsp
from scheduler.solver import lean, search_share, solve, tune
from tests.scheduler.conftest import FT06, op, order, problem, shared_instances

QUICK = SolveOptions(time_limit=3, workers=2)


def by_job(solution: Solution) -> dict[tuple[str, int], tuple[str, int, int]]:
    return {(o.job, o.index): (o.machine, o.start, o.end) for o in solution.operations}


def test_ft06_reaches_its_optimum() -> None:
    s = solve(read_jsp(FT06, "ft06"), QUICK)
    assert s.status == "optimal"
    assert s.makespan == 55


def test_mk01_reaches_its_optimum() -> None:
    path = shared_instances() / "fjsp" / "Brandimarte1993" / "mk01.txt"
    if not path.exists():
        pytest.skip("public instances not present")
    s = solve(load_problem(path), SolveOptions(time_limit=10, workers=2))
    assert s.makespan == 40


def test_operations_respect_routing_and_machines() -> None:
    s = solve(read_jsp(FT06), QUICK)
    ops = by_job(s)
    for (job, index), (_, start, _) in ops.items():
        if index:
            assert start >= ops[(job, index - 1)][2]
    by_machine: dict[str, list[tuple[int, int]]] = {}
    for machine, start, end in ops.values():
        by_machine.setdefault(machine, []).append((start, end))
    for spans in by_machine.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_maintenance_window_is_never_overlapped() -> None:
    m0 = Machine(id="m0", unavailable=[Window(start=3, end=10, reason="maintenance")])
    p = problem(
        [order("a", op("m0", 4), op("m1", 2)), order("b", op("m1", 3), op("m0", 2))], [m0, "m1"]
    )
    s = solve(p, QUICK)
    for machine, start, end in by_job(s).values():
        if machine == "m0":
            assert end <= 3 or start >= 10
    assert s.makespan == 16


def test_operations_stay_inside_shifts() -> None:
    m = Machine(id="m", shifts=[Window(start=0, end=8), Window(start=16, end=24)])
    p = problem([order("a", op("m", 5)), order("b", op("m", 5))], [m])
    s = solve(p, QUICK)
    spans = sorted((o.start, o.end) for o in s.operations)
    assert spans == [(0, 5), (16, 21)]


def test_setups_appear_between_families() -> None:
    orders = [
        order("a1", op("m", 3, setup_default=5), family="A"),
        order("b1", op("m", 3, setup_default=5), family="B"),
        order("a2", op("m", 3, setup_default=5), family="A"),
    ]
    s = solve(problem(orders, ["m"]), QUICK)
    seq = sorted(s.operations, key=lambda o: o.start)
    assert s.makespan == 14  # both A first, one change-over, then B
    for prev, nxt in itertools.pairwise(seq):
        changes = prev.job[0] != nxt.job[0]
        assert nxt.setup == (5 if changes else 0)
        assert nxt.start - nxt.setup >= prev.end


def test_setup_depends_on_previous_family() -> None:
    orders = [
        order("x", op("m", 2, setup={"B": 1}, setup_default=9), family="A"),
        order("y", op("m", 2, setup={"A": 1}, setup_default=9), family="B"),
    ]
    s = solve(problem(orders, [Machine(id="m", initial_family="A")]), QUICK)
    assert s.makespan == 5  # A first (no set-up from A), then B after a 1-unit set-up


def test_frozen_operations_keep_their_times() -> None:
    p = problem(
        [
            order("a", op("m0", 2, actual_start=7, actual_end=10), op("m1", 2)),
            order("b", op("m0", 4)),
        ],
        ["m0", "m1"],
        now=10,
    )
    s = solve(p, QUICK)
    ops = by_job(s)
    assert ops[("a", 0)] == ("m0", 7, 10)
    assert ops[("a", 1)][1] >= 10
    assert s.operations[0].frozen


def test_max_wait_binds_the_next_operation() -> None:
    p = problem(
        [order("a", op("m0", 2, max_wait=1), op("m1", 2)), order("b", op("m1", 6))],
        ["m0", "m1"],
    )
    ops = by_job(solve(p, QUICK))
    assert ops[("a", 1)][1] - ops[("a", 0)][2] <= 1


def test_min_wait_delays_the_next_operation() -> None:
    p = problem([order("a", op("m0", 2, min_wait=5), op("m1", 2))], ["m0", "m1"])
    s = solve(p, QUICK)
    assert s.makespan == 9


def test_transfer_lots_let_operations_overlap() -> None:
    bound = problem([order("a", op("m0", 2), op("m1", 2), quantity=5)], ["m0", "m1"])
    streamed = problem(
        [order("a", op("m0", 2, transfer_qty=1), op("m1", 2), quantity=5)], ["m0", "m1"]
    )
    assert solve(bound, QUICK).makespan == 20  # the whole lot moves on one cart
    assert solve(streamed, QUICK).makespan == 12


def test_release_dates_hold() -> None:
    p = problem([order("a", op("m", 3), release=4), order("b", op("m", 3))], ["m"])
    ops = by_job(solve(p, QUICK))
    assert ops[("a", 0)][1] >= 4


def test_flexible_choice_uses_the_faster_machine() -> None:
    p = problem([order("a", op({"m0": 9, "m1": 2}))], ["m0", "m1"])
    ops = by_job(solve(p, QUICK))
    assert ops[("a", 0)] == ("m1", 0, 2)


def test_weighted_tardiness_puts_heavy_orders_first() -> None:
    p = problem(
        [order("a", op("m", 5), due=5, weight=1), order("b", op("m", 5), due=5, weight=3)],
        ["m"],
        objective=Objective(terms=[ObjectiveTerm(kind="weighted_tardiness")]),
    )
    s = solve(p, QUICK)
    assert by_job(s)[("b", 0)][1] == 0
    assert s.kpis is not None and s.kpis.weighted_tardiness == 5
    assert s.kpis.on_time_rate == 0.5


def test_flow_time_objective_runs_short_jobs_first() -> None:
    p = problem(
        [order("long", op("m", 9)), order("short", op("m", 1))],
        ["m"],
        objective=Objective(terms=[ObjectiveTerm(kind="flow_time")]),
    )
    s = solve(p, QUICK)
    assert by_job(s)[("short", 0)][1] == 0
    assert s.objective == [1 + 10]


def test_weighted_combination_is_one_number() -> None:
    p = problem(
        [order("a", op("m", 2), due=1), order("b", op("m", 2))],
        ["m"],
        objective=Objective(
            mode="weighted",
            terms=[
                ObjectiveTerm(kind="makespan"),
                ObjectiveTerm(kind="weighted_tardiness", weight=10),
            ],
        ),
    )
    s = solve(p, QUICK)
    assert s.objective == [4 + 10 * 1]


@pytest.mark.parametrize(
    ("kind", "order_weight", "term_weight"),
    [("weighted_tardiness", 10**6, 1), ("weighted_tardiness", 1, 10**6), ("flow_time", 1, 10**6)],
)
def test_a_bound_past_what_a_double_holds_exactly_stays_below_the_plan(
    kind: str, order_weight: int, term_weight: int
) -> None:
    # CP-SAT's bound is a double: past 2^53 it was rounded up to the next one it holds, and an
    # optimal plan of 2,499,999,999,996,000,000 read a lower bound 256 above it.
    orders = [
        order(o, op("m", 10**12 // 6), release=10**12 // 2, due=0, weight=order_weight)
        for o in "abc"
    ]
    objective = Objective(terms=[ObjectiveTerm(kind=kind, weight=term_weight)])  # type: ignore[arg-type]
    s = solve(problem(orders, ["m"], objective=objective), SolveOptions(time_limit=2, workers=1))
    assert s.status == "optimal"
    assert s.lower_bound == s.objective[0]


def test_kpis_report_utilisation_and_wip() -> None:
    s = solve(problem([order("a", op("m0", 4)), order("b", op("m1", 2))], ["m0", "m1"]), QUICK)
    assert s.kpis is not None
    assert s.kpis.utilisation == {"m0": 1.0, "m1": 0.5}
    assert s.kpis.total_flow_time == 6
    assert s.kpis.average_wip == 1.5


@pytest.mark.parametrize("started", [0, -4])
def test_kpis_span_covers_work_started_before_every_release(started: int) -> None:
    # Released at 5, but 10 units of it started at `started`: the machine is busy all along,
    # and the order is in the shop all along, its flow counted from its start.
    s = solve(problem([order("a", op("m0", 10, actual_start=started), release=5)], ["m0"]), QUICK)
    assert s.kpis is not None
    assert s.kpis.utilisation == {"m0": 1.0}
    assert s.kpis.total_flow_time == 10
    assert s.kpis.average_wip == 1.0


def test_infeasibility_names_order_and_constraint() -> None:
    m1 = Machine(id="m1", shifts=[Window(start=0, end=8)])
    p = problem([order("a", op("m0", 5, max_wait=0), op("m1", 5))], ["m0", m1])
    s = solve(p, QUICK)
    assert s.status == "infeasible"
    assert any(c.order == "a" and c.constraint == "routing" for c in s.conflicts)


def test_operation_longer_than_every_shift_is_reported() -> None:
    m = Machine(id="m", shifts=[Window(start=0, end=4)])
    s = solve(problem([order("a", op("m", 5))], [m]), QUICK)
    assert s.status == "infeasible"
    assert s.conflicts[0].order == "a" and s.conflicts[0].constraint == "calendar"


def test_clashing_frozen_operations_are_refused_as_read() -> None:
    # Solved, they made the answer infeasible: the reports are wrong, not the plan.
    orders = [order("a", op("m", 5, actual_start=0)), order("b", op("m", 5, actual_start=2))]
    with pytest.raises(ValidationError, match=r"orders\.1\.operations\.0: reported running"):
        problem(orders, ["m"], now=2)
    # Only a problem model_copy'd past validation reaches the solve with them: it names the clash.
    p = problem(orders[:1], ["m"], now=2)
    p = p.model_copy(update={"orders": orders})
    s = solve(p, QUICK)
    assert s.status == "infeasible" and s.conflicts[0].constraint == "frozen"


def test_a_short_time_limit_still_returns_a_plan() -> None:
    # 15 x 15 random-ish instance: not solved to optimality in 1 s.
    rows = []
    for j in range(15):
        rows.append(
            " ".join(f"{(j * 7 + k * 11) % 15} {1 + (j * 31 + k * 17) % 97}" for k in range(15))
        )
    text = "15 15\n" + "\n".join(rows)
    p = read_jsp(text)
    if len({int(t) for t in rows[0].split()[::2]}) != 15:
        pytest.skip("generator produced repeated machines")
    s = solve(p, SolveOptions(time_limit=1.0, workers=2))
    assert s.status in ("feasible", "optimal") and s.makespan is not None
    assert len(s.operations) == 225


def test_the_most_windows_a_machine_may_have_keep_to_the_time_limit() -> None:
    # Each look for room on m0 met every one of its windows: 300 orders took 4 s for 1 s.
    closed = [Window(start=2 * i, end=2 * i + 1) for i in range(MAX_WINDOWS)]
    machines = [Machine(id="m0", unavailable=closed), Machine(id="m1")]
    orders = [order(f"o{k}", op({"m0": 3, "m1": 4})) for k in range(300)]
    s = solve(problem(orders, machines), SolveOptions(time_limit=1, workers=1))
    assert s.status in ("feasible", "optimal") and s.wall_time < 2, s.wall_time


def test_a_bottleneck_machine_proves_the_plan_optimal() -> None:
    # m0 carries 9 units, so a plan of makespan 9 is optimal without search.
    p = problem(
        [
            order("a", op("m0", 3), op("m1", 1)),
            order("b", op("m1", 1), op("m0", 3)),
            order("c", op("m0", 3)),
        ],
        ["m0", "m1"],
    )
    s = solve(p, QUICK)
    assert (s.status, s.makespan, s.lower_bound) == ("optimal", 9, 9)


def test_work_spread_over_interchangeable_machines_is_optimal() -> None:
    either = {"m0": 2, "m1": 2}
    p = problem([order(o, op(either)) for o in "abcd"], ["m0", "m1"])
    s = solve(p, QUICK)
    assert (s.status, s.makespan, s.lower_bound) == ("optimal", 4, 4)


@pytest.mark.parametrize(("jobs", "lns_only"), [(6, False), (11, True), (41, False)])
def test_mid_sized_job_shops_search_neighbourhoods_only(jobs: int, lns_only: bool) -> None:
    rows = " ".join(f"{m} 5" for m in range(10))
    flat = flatten(read_jsp(f"{jobs} 10\n" + "\n".join([rows] * jobs)))
    params = cp_model.CpSolver().parameters
    tune(params, flat)
    assert params.use_lns_only == lns_only


@pytest.mark.parametrize(("jobs", "share"), [(6, 0.1), (11, 0.5), (40, 0.5), (41, 0.9)])
def test_large_job_shops_give_the_tabu_search_most_of_the_time(jobs: int, share: float) -> None:
    rows = " ".join(f"{m} 5" for m in range(10))
    flat = flatten(read_jsp(f"{jobs} 10\n" + "\n".join([rows] * jobs)))
    assert search_share(flat) == share


@pytest.mark.parametrize(
    ("jobs", "plain", "expected"), [(10, True, True), (11, True, False), (6, False, False)]
)
def test_small_plain_job_shops_get_the_lean_model(jobs: int, plain: bool, expected: bool) -> None:
    rows = " ".join(f"{m} 5" for m in range(10))
    p = read_jsp(f"{jobs} 10\n" + "\n".join([rows] * jobs))
    if not plain:
        p.machines[0].unavailable.append(Window(start=3, end=10, reason="maintenance"))
    assert lean(flatten(p)) == expected


def test_lean_model_with_a_hint_proves_ft06_and_reads_back_a_valid_plan() -> None:
    flat = flatten(read_jsp(FT06))
    hint = best_dispatch(flat, RULES, should_stop=lambda: False, deadline=float("inf"))
    built = cpsat.build_lean(flat)
    built.model.minimize(built.criteria["makespan"])
    cpsat.add_hint(flat, built, hint)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 2
    solver.parameters.max_time_in_seconds = 30
    assert solver.solve(built.model) == cp_model.OPTIMAL
    plan = cpsat.read_plan(flat, built, solver.value)
    assert violations(flat, plan) == []
    assert max(plan.end) == 55


def test_lean_model_keeps_flexible_choices_on_eligible_machines() -> None:
    either = {"m0": 3, "m1": 2}
    p = problem([order(o, op(either), op("m2", 1)) for o in "abc"], ["m0", "m1", "m2"])
    flat = flatten(p)
    built = cpsat.build_lean(flat)
    built.model.minimize(built.criteria["makespan"])
    solver = cp_model.CpSolver()
    assert solver.solve(built.model) == cp_model.OPTIMAL
    plan = cpsat.read_plan(flat, built, solver.value)
    assert violations(flat, plan) == []
    assert max(plan.end) == 5


def test_cancellation_keeps_the_best_plan() -> None:
    p = read_jsp(FT06)
    s = solve(p, SolveOptions(time_limit=30), should_stop=lambda: True)
    assert s.status == "cancelled"
    assert s.makespan is not None and len(s.operations) == 36


def test_progress_reports_improvements() -> None:
    seen: list[int | None] = []
    solve(read_jsp(FT06), QUICK, progress=lambda p: seen.append(p.makespan))
    assert seen and seen[-1] == 55
    assert all(a is not None and b is not None and a >= b for a, b in itertools.pairwise(seen))


def test_started_operation_with_choices_needs_a_machine() -> None:
    from scheduler.errors import InvalidProblem

    p = problem([order("a", op({"m0": 1, "m1": 1}, actual_start=0))], ["m0", "m1"])
    with pytest.raises(InvalidProblem, match="actual_machine"):
        flatten(p)


def test_the_package_exports_its_functions_even_after_their_modules_load() -> None:
    import scheduler
    import scheduler.rescheduler
    import scheduler.solver

    assert scheduler.solve is scheduler.solver.solve
    assert scheduler.reschedule is scheduler.rescheduler.reschedule
    for name in scheduler.__all__:
        assert getattr(scheduler, name) is not None, name
    with pytest.raises(AttributeError):
        _ = scheduler.no_such_name


@pytest.mark.parametrize(
    ("started", "message"),
    [
        (
            {"actual_start": 6},
            r"^orders\.1\.operations\.0\.actual_start: order 'b' operation 0 reported started "
            r"at 6, after now \(5\)$",
        ),
        (
            {"actual_start": 2, "actual_end": 9},
            r"^orders\.1\.operations\.0\.actual_end: order 'b' operation 0 reported ended at 9, "
            r"after now \(5\)$",
        ),
    ],
)
def test_work_started_or_ended_after_now_is_refused_naming_it(
    started: dict[str, int], message: str
) -> None:
    # A report from the future is a clock or a typo: frozen, it would hold the plan to it.
    orders = [order("a", op("m0", 2)), order("b", op("m0", 4, **started))]
    data = problem(orders, ["m0"], now=10).model_dump()
    with pytest.raises(InvalidProblem, match=message):
        parse_problem(data | {"now": 5})
