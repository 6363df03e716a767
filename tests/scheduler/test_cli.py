from __future__ import annotations

import argparse
import json
import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

import pytest

from api.cli import main
from scheduler import solver
from scheduler.cli import register
from scheduler.models import Problem, Solution, SolveOptions
from scheduler.readers import read_jsp
from tests.scheduler.conftest import FT06


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tracegraph")
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_json_output_has_makespan_status_and_operations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "ft06.txt"
    f.write_text(FT06)
    assert run(["schedule", str(f), "--format", "jsp", "--time-limit", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["makespan"] == 55 and out["status"] == "optimal"
    first = out["operations"][0]
    assert {"job", "index", "machine", "start", "end"} <= set(first)


def test_text_output_lists_machines_and_writes_gantt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "ft06.txt"
    f.write_text(FT06)
    svg = tmp_path / "g.svg"
    assert run(["schedule", str(f), "--time-limit", "2", "--gantt", str(svg)]) == 0
    text = capsys.readouterr().out
    assert "makespan 55" in text and "m0" in text
    assert svg.read_text().startswith("<svg")


def test_bad_input_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "bad.txt"
    f.write_text("2 2\n0 1\n")
    assert run(["schedule", str(f)]) == 2
    assert "expected 2 job lines" in capsys.readouterr().err


def test_a_rest_request_body_is_told_apart_from_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = read_jsp(FT06, "ft06").model_dump(mode="json")
    f = tmp_path / "request.json"
    f.write_text(json.dumps({"problem": problem, "options": {"time_limit": 1}}))
    assert run(["schedule", str(f)]) == 2
    err = capsys.readouterr().err
    assert "REST request body" in err and '"problem"' in err and "machines" not in err


def test_json_nested_too_deeply_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "deep.json"
    f.write_text("[" * 100_000 + "]" * 100_000)
    assert run(["schedule", str(f)]) == 2
    assert "nested too deeply" in capsys.readouterr().err


def test_bad_option_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "ft06.txt"
    f.write_text(FT06)
    assert main(["schedule", str(f), "--time-limit", "0"]) == 2
    assert "--time-limit" in capsys.readouterr().err
    # Each option out of its range named, in one line as every command says what it refuses.
    assert main(["schedule", str(f), "--time-limit", "0", "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --time-limit: Input should be greater than 0; --workers: "), err
    assert len(err.splitlines()) == 1, err


def test_a_chart_that_cannot_be_drawn_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_large(*_: object) -> bytes:
        raise ValueError("Text too long")  # what Pillow says of a text past its image limit

    monkeypatch.setattr("scheduler.cli.gantt_png", too_large)
    f = tmp_path / "ft06.txt"
    f.write_text(FT06)
    png = tmp_path / "g.png"
    assert run(["schedule", str(f), "--time-limit", "1", "--gantt", str(png)]) == 2
    assert capsys.readouterr().err == f"error: cannot draw {png}: Text too long\n"
    assert not png.exists()


@pytest.mark.parametrize(
    ("chart", "said"),
    [
        (
            "no-such-folder/g.svg",
            "cannot write {tmp}/no-such-folder/g.svg: there is no folder {tmp}/no-such-folder",
        ),
        ("charts.svg", "cannot write {tmp}/charts.svg: it is a folder (name the chart's file)"),
    ],
)
def test_a_chart_that_cannot_be_written_is_said_before_the_solve(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    chart: str,
    said: str,
) -> None:
    def no_solve(*_: object) -> None:
        raise AssertionError("solved for a chart that cannot be written")

    monkeypatch.setattr("scheduler.solver.solve", no_solve)
    (tmp_path / "charts.svg").mkdir()
    f = tmp_path / "ft06.txt"
    f.write_text(FT06)
    assert run(["schedule", str(f), "--gantt", str(tmp_path / chart)]) == 2
    assert capsys.readouterr().err == f"error: {said.format(tmp=tmp_path)}\n"


def test_a_schedule_whose_chart_fails_is_printed_all_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_: object, **__: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    f = tmp_path / "ft06.txt"
    f.write_bytes(FT06.encode())
    svg = tmp_path / "g.svg"
    assert run(["schedule", str(f), "--time-limit", "2", "--gantt", str(svg)]) == 2
    printed = capsys.readouterr()
    assert "makespan 55" in printed.out
    assert printed.err == f"error: cannot write {svg}: No space left on device\n"


def _large_job_shop(path: Path) -> Path:
    """30 jobs on 15 machines: no search proves its best plan within a minute."""
    rng = random.Random(1)
    lines = ["30 15"]
    for _ in range(30):
        machines = list(range(15))
        rng.shuffle(machines)
        lines.append(" ".join(f"{m} {rng.randint(1, 99)}" for m in machines))
    path.write_text("\n".join(lines) + "\n")
    return path


def _ctrl_c(times: int, once: threading.Event, until: threading.Event) -> list[float]:
    """Press Ctrl-C up to `times` times, half a second apart, once `once` is set and while
    `until` is not; return the times pressed, as they come."""
    pressed: list[float] = []

    def press() -> None:
        once.wait(60)
        for _ in range(times):
            time.sleep(0.5)
            if until.is_set():
                return
            pressed.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)  # to the main thread, where the command waits

    threading.Thread(target=press, daemon=True).start()
    return pressed


def test_ctrl_c_stops_the_search_and_prints_the_best_plan_so_far(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _large_job_shop(tmp_path / "big.txt")
    svg = tmp_path / "g.svg"
    planned = threading.Event()
    real = solver.solve

    def solve(problem: Problem, options: SolveOptions, **kw: Any) -> Solution:
        return real(problem, options, progress=lambda _: planned.set(), **kw)

    monkeypatch.setattr(solver, "solve", solve)
    returned = threading.Event()
    _ctrl_c(1, once=planned, until=returned)
    began = time.monotonic()

    try:
        code = run(["schedule", str(f), "--time-limit", "60", "--json", "--gantt", str(svg)])
    except KeyboardInterrupt:
        pytest.fail("the first Ctrl-C dropped the plan")
    finally:
        returned.set()

    assert code == 130 and time.monotonic() - began < 20
    said = capsys.readouterr()
    out = json.loads(said.out)
    assert out["status"] == "cancelled" and out["makespan"] > 0 and len(out["operations"]) == 450
    assert said.err.splitlines()[-1] == "stopped (Ctrl-C): the plan is the best found by then"
    assert svg.read_text().startswith("<svg")


def test_a_second_ctrl_c_stops_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "ft06.txt"
    f.write_text(FT06)
    searching, released = threading.Event(), threading.Event()

    def solve(problem: Problem, options: SolveOptions, **kw: Any) -> Solution:
        searching.set()
        released.wait(60)  # a search slow to stop
        return Solution(status="cancelled")

    class Exited(Exception):
        pass

    def exit_now(code: int) -> NoReturn:
        # The process ends here, without a shutdown that would wait for the search.
        raise Exited(code)

    monkeypatch.setattr(solver, "solve", solve)
    monkeypatch.setattr(os, "_exit", exit_now)
    returned = threading.Event()
    pressed = _ctrl_c(2, once=searching, until=returned)
    try:
        with pytest.raises(Exited) as exited:
            run(["schedule", str(f), "--time-limit", "60"])
    finally:
        returned.set()
        released.set()
    assert exited.value.args == (130,)
    assert len(pressed) == 2  # the first asked the search to stop, and was waited on
    said = capsys.readouterr()
    assert said.out == "" and "Ctrl-C again to stop at once" in said.err
    assert said.err.splitlines()[-1] == "stopped (Ctrl-C)"


@pytest.mark.parametrize("status, code", [("optimal", 0), ("feasible", 0), ("infeasible", 1)])
def test_ctrl_c_after_the_last_look_at_it_exits_as_the_status_says(
    status: str,
    code: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The search looked for a stop for the last time before Ctrl-C came: its answer is whole,
    # and the exit code is that answer's, not Ctrl-C's.
    f = tmp_path / "ft06.txt"
    f.write_text(FT06)

    def solve(problem: Problem, options: SolveOptions, **kw: Any) -> Solution:
        time.sleep(0.5)  # the main thread waits on this one by now
        os.kill(os.getpid(), signal.SIGINT)  # to the main thread, where the command waits
        deadline = time.monotonic() + 30
        while not kw["should_stop"]() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert kw["should_stop"]()
        return Solution(status=status)

    monkeypatch.setattr(solver, "solve", solve)
    assert run(["schedule", str(f), "--json"]) == code
    said = capsys.readouterr()
    assert json.loads(said.out)["status"] == status
    assert "stopped (Ctrl-C)" not in said.err
