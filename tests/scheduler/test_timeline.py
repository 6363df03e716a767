from __future__ import annotations

from scheduler.flat import Flat, flatten
from scheduler.plan import Plan, violations
from scheduler.timeline import Timeline
from tests.scheduler.conftest import op, order, problem


def _timeline(flat: Flat) -> Timeline:
    n = len(flat.ops)
    return Timeline(flat, Plan([0] * n, [0] * n, [-1] * n, [0] * n))


def _place_last(flat: Flat, timeline: Timeline) -> tuple[int, int]:
    """Place the last operation where the timeline finds it a start, from 3, and return it."""
    last = flat.ops[-1]
    start, setup = timeline.slot(last, last.alts[0], 3)
    timeline.place(last, 0, start, start + last.alts[0].duration)
    assert violations(flat, timeline.plan) == []
    return start, setup


def test_work_is_not_put_before_work_taking_no_time_that_would_then_need_a_set_up() -> None:
    # "z" takes no time in the gap between "a" and "b" and needs no set-up after X; after
    # "y", of family Y, it would need 3: "y" goes after "b", not at 3 before "z".
    flat = flatten(
        problem(
            [
                order("a", op("M", 2), family="X"),
                order("b", op("M", 2), family="X"),
                order("z", op("M", 0, setup={"Y": 3}), family="X"),
                order("y", op("M", 1), family="Y"),
            ],
            ["M"],
        )
    )
    timeline = _timeline(flat)
    a, b, z, _y = flat.ops
    timeline.place(a, 0, 0, 2)
    timeline.place(b, 0, 10, 12)
    timeline.place(z, 0, 5, 5)
    assert _place_last(flat, timeline) == (12, 0)


def test_work_is_not_put_before_a_set_up_taking_no_time_that_it_would_make_needless() -> None:
    # "d" takes no time and holds the machine only by its set-up of 3 after X; after F it
    # would need none, change nothing over, and "e" after it would need its set-up of 2 after
    # X: "f", of family F, goes after "e", not at 3 before "d".
    flat = flatten(
        problem(
            [
                order("a", op("M", 2), family="X"),
                order("d", op("M", 0, setup_default=3, setup={"F": 0}), family="W"),
                order("e", op("M", 2, setup_default=2), family="W"),
                order("f", op("M", 1), family="F"),
            ],
            ["M"],
        )
    )
    timeline = _timeline(flat)
    a, d, e, _f = flat.ops
    timeline.place(a, 0, 0, 2)
    timeline.place(d, 0, 10, 10)
    timeline.place(e, 0, 10, 12)
    assert timeline.plan.setup[d.key] == 3
    assert _place_last(flat, timeline) == (12, 0)
