from __future__ import annotations

from xml.etree import ElementTree

from scheduler.gantt import LABEL, MOST, ROW, WIDTH, gantt_png, gantt_svg
from scheduler.models import Machine, Problem, Solution, SolveOptions, Window
from scheduler.readers import read_jsp
from scheduler.solver import solve
from tests.scheduler.conftest import FT06, op, order, problem


def test_svg_has_one_bar_per_operation_and_titles() -> None:
    p = read_jsp(FT06, "ft06")
    s = solve(p, SolveOptions(time_limit=2))
    svg = gantt_svg(p, s)
    assert svg.count("<title>") == 36
    assert "makespan 55" in svg


def test_png_is_a_png() -> None:
    p = read_jsp(FT06, "ft06")
    s = solve(p, SolveOptions(time_limit=2))
    assert gantt_png(p, s)[:8] == b"\x89PNG\r\n\x1a\n"


def test_fifty_machines_get_a_readable_row_each() -> None:
    machines = [Machine(id=f"m{i}", unavailable=[Window(start=0, end=1)]) for i in range(50)]
    orders = [order(f"o{i}", op(f"m{i}", 5)) for i in range(50)]
    p = problem(orders, machines)
    s = solve(p, SolveOptions(time_limit=2))
    svg = gantt_svg(p, s)
    assert f'height="{28 + 50 * ROW + 10}"' in svg
    assert ROW >= 14
    assert "m49" in svg


def _one_operation(machine: str, *windows: Window) -> tuple[Problem, Solution]:
    p = problem([order("o\x00", op(machine, 10))], [Machine(id=machine, unavailable=list(windows))])
    return p, solve(p, SolveOptions(time_limit=1, workers=1))


def test_characters_xml_refuses_are_written_as_escapes() -> None:
    p, s = _one_operation("m\x01\x1b", Window(start=2, end=3, reason="bell\x07"))
    root = ElementTree.fromstring(gantt_svg(p, s))  # well-formed
    texts = ["".join(e.itertext()) for e in root.iter() if e.tag.endswith("}text")]
    assert "m\\x01\\x1b" in texts
    assert any("bell\\x07" in "".join(e.itertext()) for e in root.iter() if "title" in e.tag)
    assert gantt_png(p, s)[:4] == b"\x89PNG"


def test_a_very_long_name_is_cut_to_draw() -> None:
    p, s = _one_operation("m")
    long = p.model_copy(update={"name": "N" * 1_000_000})  # past what validation lets in
    assert gantt_png(long, s)[:4] == b"\x89PNG"
    assert f">{'N' * (MOST - 1)}… makespan" in gantt_svg(long, s)


def test_a_window_wholly_before_0_is_not_drawn() -> None:
    p, s = _one_operation("m", Window(start=-100, end=-50), Window(start=-5, end=5))
    svg = gantt_svg(p, s)
    assert "unavailable -100--50" not in svg
    assert "unavailable -5-5" in svg
    assert 'width="-' not in svg


def test_work_started_before_0_is_drawn_inside_the_chart() -> None:
    # Started work may be reported before the plan's origin: its bar, and the time axis, start
    # there, rather than off the chart's left edge (under the machines' names).
    started = op("m", 5, actual_start=-7, actual_end=-2)
    p = problem([order("o", started, op("m", 3))], ["m"], now=5)
    s = solve(p, SolveOptions(time_limit=1, workers=1))
    root = ElementTree.fromstring(gantt_svg(p, s))
    bars = [e for e in root.iter() if e.tag.endswith("}rect") and e.get("fill") != "white"]
    assert len(bars) == 2
    assert min(float(bar.get("x", "0")) for bar in bars) >= LABEL
    assert max(float(b.get("x", "0")) + float(b.get("width", "0")) for b in bars) <= WIDTH
    ticks = ["".join(e.itertext()) for e in root.iter() if e.get("text-anchor") == "middle"]
    assert ticks[0] == "-6" and "0" in ticks


def test_a_plan_made_late_in_a_long_horizon_fills_the_chart() -> None:
    # The axis ran from 0: a plan rescheduled at 100,000 was drawn as a sliver at the right edge.
    p = problem([order("o", op("m", 30), op("m", 70))], ["m"], now=100_000)
    s = solve(p, SolveOptions(time_limit=1, workers=1))
    root = ElementTree.fromstring(gantt_svg(p, s))
    bars = [e for e in root.iter() if e.tag.endswith("}rect") and e.get("fill") != "white"]
    assert min(float(bar.get("x", "0")) for bar in bars) == LABEL
    assert sum(float(bar.get("width", "0")) for bar in bars) > (WIDTH - LABEL) * 0.9
    ticks = ["".join(e.itertext()) for e in root.iter() if e.get("text-anchor") == "middle"]
    assert ticks[0] == "100000" and "0" not in ticks and len(ticks) >= 5
