from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import ValidationError

from scheduler.errors import InvalidProblem
from scheduler.flat import flatten
from scheduler.models import (
    MAX_OPERATIONS,
    MAX_ORDERS,
    MAX_WINDOWS_IN_ALL,
    Objective,
    ObjectiveTerm,
    Problem,
    SolveOptions,
    Window,
)
from scheduler.plan import violations
from scheduler.readers import read_jsp
from scheduler.rescheduler import Actual, Downtime, Feedback, apply_feedback, reschedule
from scheduler.solver import solve
from tests.scheduler.conftest import FT06, op, order, problem

QUICK = SolveOptions(time_limit=2, workers=2)
FAST = SolveOptions(time_limit=1, workers=1)


def _check(problem, solution) -> None:  # type: ignore[no-untyped-def]
    from scheduler.rescheduler import _plan_of

    flat = flatten(problem)
    assert violations(flat, _plan_of(flat, solution)) == []


def test_machine_down_keeps_the_plan_feasible() -> None:
    problem = read_jsp(FT06)
    before = solve(problem, QUICK)
    feedback = Feedback(now=10, downtime=[Downtime(machine="m2", start=10, end=30)])
    after = reschedule(problem, before, feedback, QUICK)
    assert after.status in ("feasible", "optimal")
    current = apply_feedback(problem, before, feedback)
    _check(current, after)
    for o in after.operations:
        if o.machine == "m2" and not o.frozen:
            assert o.end <= 10 or o.start >= 30
    assert after.moved is not None and after.moved >= 1


def test_started_work_is_frozen_and_nothing_starts_before_now() -> None:
    problem = read_jsp(FT06)
    before = solve(problem, QUICK)
    first = min(before.operations, key=lambda o: o.start)
    feedback = Feedback(
        now=5, actuals=[Actual(order=first.job, index=first.index, start=2, machine=first.machine)]
    )
    after = reschedule(problem, before, feedback, QUICK)
    ops = {(o.job, o.index): o for o in after.operations}
    assert ops[(first.job, first.index)].start == 2
    assert all(o.frozen or o.start >= 5 for o in after.operations)


def test_nothing_changed_moves_nothing() -> None:
    problem = read_jsp(FT06)
    before = solve(problem, QUICK)
    after = reschedule(problem, before, Feedback(now=0), QUICK)
    assert after.moved == 0
    assert after.makespan == before.makespan


def test_rush_order_is_added() -> None:
    problem = read_jsp(FT06)
    before = solve(problem, QUICK)
    rush = order("rush", op("m0", 3), op("m1", 3), due=20, weight=10)
    after = reschedule(problem, before, Feedback(now=0, rush_orders=[rush]), QUICK)
    assert {o.job for o in after.operations} >= {"rush"}
    _check(apply_feedback(problem, before, Feedback(now=0, rush_orders=[rush])), after)


def _times(solution) -> dict[tuple[str, int], tuple[str, int, int, bool]]:  # type: ignore[no-untyped-def]
    return {(o.job, o.index): (o.machine, o.start, o.end, o.frozen) for o in solution.operations}


def test_a_downtime_interrupts_the_operation_running_into_it() -> None:
    plant = problem([order("o1", op("A", 10), op("B", 10))], ["A", "B"])
    before = solve(plant, FAST)
    feedback = Feedback(
        now=5,
        actuals=[Actual(order="o1", index=0, start=0)],
        downtime=[Downtime(machine="A", start=5, end=30)],
    )
    after = reschedule(plant, before, feedback, FAST)
    assert after.status == "optimal"
    assert _times(after) == {("o1", 0): ("A", 30, 40, False), ("o1", 1): ("B", 40, 50, False)}
    _check(apply_feedback(plant, before, feedback), after)


def test_work_after_an_operation_a_breakdown_threw_back_waits_for_it() -> None:
    # o1/0 runs on A over [0, 10) and A breaks down at 9: o1/1, planned on B at 10, cannot
    # have started. o2/1 overlaps its predecessor as its transfer lots allow: it runs on.
    plant = problem(
        [
            order("o1", op("A", 10), op("B", 10)),
            order("o2", op("C", 1, transfer_qty=1), op("D", 1), quantity=10),
        ],
        ["A", "B", "C", "D"],
    )
    before = solve(plant, FAST)
    assert _times(before)[("o2", 1)] == ("D", 1, 11, False)
    feedback = Feedback(now=12, downtime=[Downtime(machine="A", start=9, end=30)])
    after = reschedule(plant, before, feedback, FAST)
    assert after.status == "optimal"
    assert _times(after) == {
        ("o1", 0): ("A", 30, 40, False),
        ("o1", 1): ("B", 40, 50, False),
        ("o2", 0): ("C", 0, 10, True),
        ("o2", 1): ("D", 1, 11, True),
    }


def test_work_planned_before_its_predecessor_was_reported_done_waits_for_now() -> None:
    plant = problem([order("o1", op("A", 10), op("B", 10))], ["A", "B"])
    before = solve(plant, FAST)
    feedback = Feedback(now=15, actuals=[Actual(order="o1", index=0, start=0, end=14)])
    after = reschedule(plant, before, feedback, FAST)
    assert after.status == "optimal"
    assert _times(after)[("o1", 1)] == ("B", 15, 25, False)


def test_work_reported_started_keeps_its_predecessor_though_a_downtime_overlaps_it() -> None:
    plant = problem([order("o1", op("A", 10), op("B", 10))], ["A", "B"])
    before = solve(plant, FAST)
    feedback = Feedback(
        now=12,
        actuals=[Actual(order="o1", index=1, start=10)],
        downtime=[Downtime(machine="A", start=9, end=30)],
    )
    after = reschedule(plant, before, feedback, FAST)
    assert after.status == "optimal"
    assert _times(after) == {("o1", 0): ("A", 0, 10, True), ("o1", 1): ("B", 10, 20, True)}


@pytest.mark.parametrize(
    ("actual", "now", "b0", "b1"),
    [
        # a overran its planned end 10 to 13: b could not have started at 10, nor b/1 after it.
        (Actual(order="a", index=0, start=0, end=13), 25, (25, 35), (35, 45)),
        # a started late at 3 and runs on to 13: b waits for it, b/1 for b.
        (Actual(order="a", index=0, start=3), 12, (13, 23), (23, 33)),
    ],
)
def test_work_planned_on_a_machine_reported_work_held_is_planned_again(
    actual: Actual, now: int, b0: tuple[int, int], b1: tuple[int, int]
) -> None:
    plant = problem(
        [
            order("a", op("A", 10)),
            order("b", op("A", 10), op("B", 10), release=10),
            order("c", op("B", 5)),
        ],
        ["A", "B"],
    )
    before = solve(plant, FAST)
    assert _times(before)[("b", 0)] == ("A", 10, 20, False)
    after = reschedule(plant, before, Feedback(now=now, actuals=[actual]), FAST)
    assert after.status == "optimal"
    assert _times(after) == {
        ("a", 0): ("A", actual.start, 13, True),
        ("b", 0): ("A", *b0, False),
        ("b", 1): ("B", *b1, False),
        ("c", 0): ("B", 0, 5, True),
    }


def test_work_whose_set_up_reported_work_held_the_machine_for_is_planned_again() -> None:
    # b was planned to be set up over [10, 13) and run 13-23; a held the machine until 12.
    plant = problem(
        [
            order("a", op("A", 10), family="X"),
            order("b", op("A", 10, setup_default=3), family="Y", release=10),
        ],
        ["A"],
    )
    before = solve(plant, FAST)
    assert [(o.start, o.setup) for o in before.operations if o.job == "b"] == [(13, 3)]
    feedback = Feedback(now=20, actuals=[Actual(order="a", index=0, start=0, end=12)])
    after = reschedule(plant, before, feedback, FAST)
    assert after.status == "optimal"
    assert [(o.start, o.setup, o.frozen) for o in after.operations if o.job == "b"] == [
        (23, 3, False)
    ]


def test_a_negative_now_is_refused_naming_now() -> None:
    with pytest.raises(ValidationError, match=r"now\n  Input should be greater than or equal to 0"):
        Feedback(now=-3)


@pytest.mark.parametrize(
    ("feedback", "message"),
    [
        (
            Feedback(now=1, rush_orders=[order("j0", op("m0", 1))]),
            r"^rush_orders\[0\]\.id: 'j0' is already an order$",
        ),
        (
            Feedback(now=1, rush_orders=[order("r", op("m0", 1)), order("r", op("m1", 1))]),
            r"^rush_orders\[1\]\.id: 'r' is also rush_orders\[0\]$",
        ),
        (
            Feedback(now=1, rush_orders=[order("r", op("zz", 1))]),
            "^feedback makes the problem invalid: order 'r' operation 0 uses unknown machine 'zz'$",
        ),
        (
            Feedback(now=1, actuals=[Actual(order="j0", index=0, start=0)] * 2),
            r"^actuals\[1\]: order 'j0' operation 0 is already reported at actuals\[0\]$",
        ),
        (
            Feedback(now=1, downtime=[Downtime(machine="zz", start=1, end=2)]),
            r"^downtime\[0\]\.machine: unknown machine 'zz'$",
        ),
        # A report from the future is a clock or a typo: frozen, it would hold the plan to it.
        (
            Feedback(now=5, actuals=[Actual(order="j1", index=2, start=6)]),
            r"^actuals\[0\]\.start: order 'j1' operation 2 reported started at 6, after now \(5\)$",
        ),
        (
            Feedback(now=5, actuals=[Actual(order="j1", index=0, start=0, end=9)]),
            r"^actuals\[0\]\.end: order 'j1' operation 0 reported ended at 9, after now \(5\)$",
        ),
    ],
)
def test_bad_feedback_is_refused_naming_the_field(feedback: Feedback, message: str) -> None:
    plant = read_jsp(FT06, "ft06")
    with pytest.raises(InvalidProblem, match=message):
        apply_feedback(plant, solve(plant, FAST), feedback)


def test_work_reported_started_before_its_predecessor_was_planned_to_is_refused() -> None:
    # a/0 was planned at 10, after now: the plan's times for it are not what ran before a/1.
    plant = problem(
        [order("a", op("A", 10), op("B", 10), release=10), order("b", op("A", 10))], ["A", "B"]
    )
    before = solve(plant, FAST)
    assert _times(before)[("a", 0)] == ("A", 10, 20, False)
    feedback = Feedback(now=5, actuals=[Actual(order="a", index=1, start=3)])
    message = (
        r"^actuals\[0\]: order 'a' operation 1 reported started, but operation 0 before it was "
        r"planned to start at 10, after now \(5\): report when it ran$"
    )
    with pytest.raises(InvalidProblem, match=message):
        reschedule(plant, before, feedback, FAST)
    # Reported too, it stands as reported.
    both = [Actual(order="a", index=0, start=0, end=3), *feedback.actuals]
    after = reschedule(plant, before, Feedback(now=5, actuals=both), FAST)
    assert _times(after)[("a", 0)] == ("A", 0, 3, True)


@pytest.mark.parametrize(
    ("actuals", "a0", "a1"),
    [
        # a/1 started at 5, before a/0's planned end 10: a/0 ended by then, whatever the plan said.
        ([Actual(order="a", index=1, start=5)], (0, 5), (5, 15)),
        ([Actual(order="a", index=1, start=5, end=12)], (0, 5), (5, 12)),
        # a/0 reported started and not ended: its end is a guess the start after it overrules.
        (
            [Actual(order="a", index=0, start=1), Actual(order="a", index=1, start=5)],
            (1, 5),
            (5, 15),
        ),
    ],
)
def test_work_reported_started_before_its_predecessor_was_to_end_ends_it_then(
    actuals: list[Actual], a0: tuple[int, int], a1: tuple[int, int]
) -> None:
    plant = problem([order("a", op("A", 10), op("B", 10)), order("b", op("A", 10))], ["A", "B"])
    before = solve(plant, FAST)
    assert _times(before)[("a", 0)] == ("A", 0, 10, False)
    feedback = Feedback(now=30, actuals=actuals)
    after = reschedule(plant, before, feedback, FAST)
    assert after.status == "optimal"
    assert _times(after)[("a", 0)] == ("A", *a0, True)
    assert _times(after)[("a", 1)] == ("B", *a1, True)
    _check(apply_feedback(plant, before, feedback), after)


@pytest.mark.parametrize(
    ("actuals", "message"),
    [
        (
            [Actual(order="a", index=1, start=0)],
            r"^actuals\[0\]: order 'a' operation 1 reported started at 0, but operation 0 "
            r"before it was planned to start at 0 and run until 10: report when it ran$",
        ),
        (
            [Actual(order="a", index=1, start=3), Actual(order="a", index=0, start=3)],
            r"^actuals\[0\]: order 'a' operation 1 reported started at 3, but operation 0 "
            r"before it was reported started at 3 \(actuals\[1\]\): operation 1 can start only "
            r"after operation 0 started$",
        ),
        (
            [Actual(order="a", index=0, start=0, end=8), Actual(order="a", index=1, start=5)],
            r"^actuals\[1\]: order 'a' operation 1 reported started at 5, but operation 0 "
            r"before it was reported ended at 8 \(actuals\[0\]\)$",
        ),
    ],
)
def test_work_reported_started_where_its_predecessor_leaves_no_room_is_refused(
    actuals: list[Actual], message: str
) -> None:
    plant = problem([order("a", op("A", 10), op("B", 10)), order("b", op("A", 10))], ["A", "B"])
    before = solve(plant, FAST)
    assert _times(before)[("a", 0)] == ("A", 0, 10, False)
    with pytest.raises(InvalidProblem, match=message):
        reschedule(plant, before, Feedback(now=30, actuals=actuals), FAST)


@pytest.mark.parametrize(
    ("given", "again", "message"),
    [
        ({"actual_start": 0, "actual_end": 8}, False, r"ended at 8 \(its actual_end\)$"),
        # Reported again without an end, it keeps the end the problem gave it.
        ({"actual_start": 0, "actual_end": 8}, True, r"ended at 8 \(its actual_end\)$"),
        (
            {"actual_start": 5},
            False,
            r"started at 5 \(its actual_start\): operation 1 can start only after operation 0 "
            r"started$",
        ),
    ],
)
def test_work_reported_started_before_its_predecessor_ended_in_the_problem_is_refused(
    given: dict[str, int], again: bool, message: str
) -> None:
    plant = problem([order("a", op("A", 10, **given), op("B", 10))], ["A", "B"], now=8)
    before = solve(plant, FAST)
    actuals = [Actual(order="a", index=0, start=given["actual_start"])] if again else []
    actuals.append(Actual(order="a", index=1, start=5))
    feedback = Feedback(now=30, actuals=actuals)
    at = len(actuals) - 1
    with pytest.raises(
        InvalidProblem, match=rf"^actuals\[{at}\]: order 'a' operation 1 .*{message}"
    ):
        reschedule(plant, before, feedback, FAST)


@pytest.mark.parametrize(
    ("actuals", "a1"),
    [
        ([Actual(order="a", index=0, start=0)], ("B", 8, 18, True)),
        (
            [Actual(order="a", index=0, start=0), Actual(order="a", index=1, start=9)],
            ("B", 9, 19, True),
        ),
    ],
)
def test_work_reported_again_without_an_end_keeps_the_end_the_problem_gave_it(
    actuals: list[Actual], a1: tuple[str, int, int, bool]
) -> None:
    plant = problem(
        [order("a", op("A", 10, actual_start=0, actual_end=8), op("B", 10))], ["A", "B"], now=8
    )
    before = solve(plant, FAST)
    feedback = Feedback(now=10, actuals=actuals)
    after = reschedule(plant, before, feedback, FAST)
    assert _times(after)[("a", 0)] == ("A", 0, 8, True)
    assert _times(after)[("a", 1)] == a1
    _check(apply_feedback(plant, before, feedback), after)


def test_work_reported_again_without_an_end_after_the_end_the_problem_gave_it_is_refused() -> None:
    plant = problem(
        [order("a", op("A", 10, actual_start=0, actual_end=8), op("B", 10))], ["A", "B"], now=8
    )
    before = solve(plant, FAST)
    feedback = Feedback(now=30, actuals=[Actual(order="a", index=0, start=9)])
    message = r"^actuals\[0\]\.start: 9 is after the operation's actual_end 8$"
    with pytest.raises(InvalidProblem, match=message):
        reschedule(plant, before, feedback, FAST)


@pytest.mark.parametrize(
    ("field", "item", "most"),
    [
        # One report for each operation a problem may have, one window for each it may hold,
        # one order for each it may take: more would be read and held before any is checked.
        ("actuals", {"order": "j0", "index": 0, "start": 0}, MAX_OPERATIONS),
        ("downtime", {"machine": "m0", "start": 0, "end": 1}, MAX_WINDOWS_IN_ALL),
        (
            "rush_orders",
            {"id": "r", "operations": [{"alternatives": [{"machine": "m0", "unit_time": 1}]}]},
            MAX_ORDERS,
        ),
    ],
)
def test_feedback_lists_past_their_limit_are_refused_naming_it(
    field: str, item: dict[str, Any], most: int
) -> None:
    with pytest.raises(ValidationError) as refused:
        Feedback.model_validate({"now": 0, field: [item] * (most + 1)})
    [error] = refused.value.errors()
    assert error["loc"] == (field,)
    assert f"at most {most} items" in error["msg"]
    assert len(getattr(Feedback.model_validate({"now": 0, field: [item] * most}), field)) == most


def test_work_reported_done_before_its_release_flows_from_its_start() -> None:
    # "o" is released at 50 and planned 50-60 on A; it was in fact run 20-30, so it was in the
    # shop from 20 to 30: flow 10, not 30 - 50 = -20. "p" (released 0) ran as planned, 0-5:
    # flow 5. The span runs from 0 to 30, so the mean WIP is (10 + 5) / 30.
    base = problem(
        [order("o", op("A", 10), release=50), order("p", op("A", 5))],
        ["A"],
        objective=Objective(terms=[ObjectiveTerm(kind="flow_time")]),
    )
    before = solve(base, FAST)
    feedback = Feedback(now=40, actuals=[Actual(order="o", index=0, start=20, end=30)])
    after = reschedule(base, before, feedback, FAST)
    ops = {o.job: o for o in after.operations}
    assert (ops["o"].start, ops["o"].end, ops["p"].start, ops["p"].end) == (20, 30, 0, 5)
    assert after.kpis is not None
    assert after.kpis.total_flow_time == 10 + 5
    assert after.kpis.average_wip == 0.5
    assert after.objective == [15]


def test_a_downtime_reason_longer_than_a_window_takes_is_refused_as_feedback() -> None:
    # The reason becomes the window's: past its length, it failed inside the rescheduler.
    down = {"machine": "m0", "start": 0, "end": 1, "reason": "x" * 2001}
    with pytest.raises(ValidationError, match=r"downtime\.0\.reason"):
        Feedback.model_validate({"now": 0, "downtime": [down]})
    Feedback.model_validate({"now": 0, "downtime": [down | {"reason": "x" * 2000}]})


def test_feedback_leaves_what_it_does_not_touch_as_it_was() -> None:
    # Validated already: neither copied nor validated again, which at plant size took most
    # of a repair's time.
    problem = read_jsp(FT06)
    before = solve(problem, QUICK)
    first = min(before.operations, key=lambda o: o.start)
    feedback = Feedback(now=0, actuals=[Actual(order=first.job, index=first.index, start=0)])
    current = apply_feedback(problem, before, feedback)
    touched = [o for o, was in zip(current.orders, problem.orders, strict=True) if o is not was]
    assert [o.id for o in touched] == [first.job]
    assert all(m is was for m, was in zip(current.machines, problem.machines, strict=True))


def test_a_reschedule_makes_the_index_form_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from scheduler import rescheduler, solver

    problem = read_jsp(FT06)
    before = solve(problem, QUICK)
    made: list[object] = []

    def counted(p: object) -> object:
        made.append(p)
        return flatten(p)  # type: ignore[arg-type]

    monkeypatch.setattr(rescheduler, "flatten", counted)
    monkeypatch.setattr(solver, "flatten", counted)
    feedback = Feedback(now=10, downtime=[Downtime(machine="m2", start=10, end=30)])
    after = reschedule(problem, before, feedback, FAST)
    assert after.status in ("feasible", "optimal") and len(made) == 1


def test_an_infeasible_repair_is_timed_from_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    from scheduler import rescheduler

    problem = read_jsp(FT06)
    shift = problem.machines[0].model_copy(update={"shifts": [Window(start=0, end=1_000)]})
    problem = problem.model_copy(update={"machines": [shift, *problem.machines[1:]]})
    before = solve(problem, QUICK)
    # A rush order longer than m0's shift: a clash found before any search.
    feedback = Feedback(now=1, rush_orders=[order("rush", op("m0", 2_000))])
    applied = rescheduler.apply_feedback

    def slow(*args: Any) -> Problem:
        time.sleep(0.3)  # stands in for feedback on a large plant
        return applied(*args)

    monkeypatch.setattr(rescheduler, "apply_feedback", slow)
    after = reschedule(problem, before, feedback, FAST)
    assert after.status == "infeasible" and after.wall_time >= 0.3


def test_reports_of_work_on_one_machine_at_once_are_refused_naming_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scheduler import rescheduler

    problem = read_jsp(FT06)
    before = solve(problem, QUICK)
    a, b = sorted((o for o in before.operations if o.machine == "m0"), key=lambda o: o.start)[:2]
    # The floor says both ran on m0 at once: a wrong report, not a plan without a schedule.
    feedback = Feedback(
        now=b.end,
        actuals=[
            Actual(order=b.job, index=b.index, start=b.start, end=b.end),
            Actual(order=a.job, index=a.index, start=a.start, end=b.end),
        ],
    )
    searched: list[object] = []
    monkeypatch.setattr(rescheduler, "search", lambda *args, **kw: searched.append(args))
    with pytest.raises(InvalidProblem) as refused:
        reschedule(problem, before, feedback, FAST)
    assert refused.value.message == (
        f"actuals[0]: reported running on machine 'm0' from {b.start} to {b.end}, "
        f"overlapping actuals[1] there from {a.start} to {b.end}"
    )
    assert searched == []


def test_a_report_overlapping_work_the_problem_says_started_is_refused_naming_both() -> None:
    base = problem([order("a", op("m", 5)), order("b", op("m", 5))], ["m"], now=4)
    started = base.orders[0].operations[0].model_copy(update={"actual_start": 0})
    given = base.model_copy(
        update={
            "orders": [base.orders[0].model_copy(update={"operations": [started]}), base.orders[1]]
        }
    )
    before = solve(given, FAST)
    feedback = Feedback(now=4, actuals=[Actual(order="b", index=0, start=3)])
    with pytest.raises(InvalidProblem) as refused:
        reschedule(given, before, feedback, FAST)
    assert refused.value.message == (
        "actuals[0]: reported running on machine 'm' from 3 to 8, "
        "overlapping orders.0.operations.0 there from 0 to 5"
    )


def test_work_kept_as_planned_that_a_report_contradicts_is_refused_as_read() -> None:
    # a/1 ran as planned (a/2 after it was reported), but a/0 was reported ending after a/1's
    # planned start: solved, the repair ended infeasible; read, the problem says why.
    plant = problem([order("a", op("A", 10), op("B", 10), op("C", 10))], ["A", "B", "C"])
    before = solve(plant, FAST)
    assert _times(before)[("a", 1)] == ("B", 10, 20, False)
    actuals = [Actual(order="a", index=0, start=0, end=15), Actual(order="a", index=2, start=25)]
    with pytest.raises(
        InvalidProblem,
        match=r"^feedback makes the problem invalid: orders\.0\.operations\.1: order 'a' "
        r"operation 1 started at 10, but operation 0 before it ended at 15 \(its actual_end\)$",
    ):
        reschedule(plant, before, Feedback(now=40, actuals=actuals), FAST)
