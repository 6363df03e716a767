from __future__ import annotations

from scheduler.gantt import ROW, gantt_png, gantt_svg
from scheduler.models import Machine, SolveOptions, Window
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
