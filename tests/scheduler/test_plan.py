from __future__ import annotations

import random
from typing import Any

from scheduler.flat import Windows, flatten
from scheduler.models import Machine, Window
from scheduler.plan import Plan, earliest_start, overlaps_window, violations
from tests.scheduler.conftest import op, order, problem


def test_earliest_start_jumps_over_windows() -> None:
    windows = [(2, 5), (7, 9)]
    assert earliest_start(windows, 0, 0, 2) == 0
    assert earliest_start(windows, 0, 0, 3) == 9  # [5, 8) would hit (7, 9)
    assert earliest_start(windows, 5, 1, 1) == 6  # set-up [5, 6), work [6, 7)


def test_merged_windows_find_the_same_start_as_a_walk_over_every_window() -> None:
    rnd = random.Random(7)
    for _ in range(300):
        windows, t = [], rnd.randint(-5, 5)
        for _ in range(rnd.randint(1, 30)):
            t += rnd.randint(1, 6)  # merged: a gap of at least 1 between windows
            windows.append((t, t := t + rnd.randint(1, 6)))
        indexed = Windows(windows)
        for _ in range(20):
            at, setup, dur = rnd.randint(-5, t + 5), rnd.randint(0, 3), rnd.randint(0, 8)
            assert earliest_start(indexed, at, setup, dur) == earliest_start(
                windows, at, setup, dur
            ), (windows, at, setup, dur)


def test_many_short_gaps_are_passed_without_walking_them() -> None:
    # 10,000 one-unit closures one unit apart: nothing of 3 units fits until after the last.
    windows = Windows([(2 * i, 2 * i + 1) for i in range(10_000)])
    reads = 0

    class Counted(Windows):
        def __getitem__(self, i: Any) -> Any:
            nonlocal reads
            reads += 1
            return super().__getitem__(i)

    counted = Counted(windows)
    assert earliest_start(counted, 0, 0, 3) == 19_999
    assert earliest_start(counted, 5, 1, 0) == 6  # a set-up of 1 fits the gap [5, 6)
    assert reads < 100


def test_overlap_is_detected() -> None:
    assert overlaps_window([(2, 5)], 4, 6) == (2, 5)
    assert overlaps_window([(2, 5)], 5, 6) is None


def test_checker_reports_a_window_overlap() -> None:
    m = Machine(id="m", unavailable=[Window(start=1, end=3)])
    flat = flatten(problem([order("a", op("m", 2))], [m]))
    plan = Plan(start=[0], end=[2], machine=[0], setup=[0])
    assert any("unavailable" in v for v in violations(flat, plan))


def test_the_set_up_of_work_that_takes_no_time_holds_its_machine() -> None:
    # z takes no time at 4 after a set-up of 2, which would run while x still does.
    x, z = order("x", op("m", 5), family="B"), order("z", op("m", 0, setup_default=2), family="C")
    flat = flatten(problem([x, z], ["m"]))
    plan = Plan(start=[0, 4], end=[5, 4], machine=[0, 0], setup=[0, 2])
    assert violations(flat, plan) == ["z/0: overlaps another operation on m"]
    plan = Plan(start=[0, 7], end=[5, 7], machine=[0, 0], setup=[0, 2])
    assert violations(flat, plan) == []
