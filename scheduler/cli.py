"""The `tracegraph schedule` sub-command."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from api.cli_entry import EXIT_INTERRUPTED, STOPPED
from api.cli_input import as_options, decimal_number, whole_number
from api.cli_output import say
from scheduler.errors import SchedulerError
from scheduler.gantt import gantt_png, gantt_svg
from scheduler.models import Problem, Solution, SolveOptions
from scheduler.readers import load_problem


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `schedule` sub-command."""
    parser = subparsers.add_parser(
        "schedule",
        help="schedule work orders (JSON, job-shop or flexible job-shop file)",
        description="Build a schedule with CP-SAT and print it.",
    )
    parser.add_argument("file", type=Path, help="problem file")
    parser.add_argument(
        "--format", choices=["json", "jsp", "fjsp"], default=None, help="input format"
    )
    parser.add_argument(
        "--time-limit", type=decimal_number, default=10.0, help="seconds (default 10)"
    )
    parser.add_argument(
        "--workers", type=whole_number, default=2, help="search workers (default 2)"
    )
    parser.add_argument("--gantt", type=Path, default=None, help="write a Gantt chart (.svg/.png)")
    parser.add_argument("--json", action="store_true", help="print the solution as JSON")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the sub-command; return the exit code (an option out of its range is raised as
    BadRequest, which the command line says as it says any other)."""
    with as_options():  # the options' own bounds, said by the option's name
        options = SolveOptions(time_limit=args.time_limit, workers=args.workers)
    if args.gantt is not None:
        unwritable = _unwritable(args.gantt)
        if unwritable is not None:
            say(f"error: {unwritable}")
            return 2
    from scheduler.solver import solve  # loads CP-SAT, which only this command needs

    try:
        problem = load_problem(args.file, args.format)
        solution = _until_ctrl_c(
            lambda should_stop: solve(problem, options, should_stop=should_stop)
        )
    except SchedulerError as exc:
        say(f"error: {exc.message}")
        return 2
    # The schedule is printed before the chart is written: one the chart fails is not lost.
    if args.json:
        print(solution.model_dump_json(indent=2))
    else:
        print(render_text(problem, solution))
    if args.gantt is not None and solution.operations:
        try:
            if args.gantt.suffix.lower() == ".png":
                args.gantt.write_bytes(gantt_png(problem, solution))
            else:
                args.gantt.write_text(gantt_svg(problem, solution), encoding="utf-8")
        except OSError as exc:
            say(f"error: cannot write {args.gantt}: {exc.strerror}")
            return 2
        except ValueError as exc:  # an image Pillow will not make: one line, not a traceback
            say(f"error: cannot draw {args.gantt}: {exc}")
            return 2
    # What Ctrl-C stopped is the solution's status: one that came after the search's last look
    # for a stop leaves its answer whole (optimal, infeasible), which is what the exit code says.
    # One that cut an infeasibility's explanation short leaves it infeasible, which was proven,
    # its conflicts saying so.
    if solution.status == "cancelled":
        found = "the plan is the best found by then" if solution.operations else "no plan yet"
        say(f"{STOPPED}: {found}")
        return EXIT_INTERRUPTED
    return 0 if solution.status in ("optimal", "feasible") else 1


def _until_ctrl_c(solving: Callable[[Callable[[], bool]], Solution]) -> Solution:
    """Solve on a thread this one waits on, so that Ctrl-C reaches it at once (a solve in C
    holds it until it returns): the first stops the search, whose best plan so far is the
    answer (as a REST job cancelled keeps its own); a second ends the process at once.
    Return the solution, `cancelled` if Ctrl-C stopped it."""
    # Waited on through an event of its own, not Thread.join: Python 3.11's join, interrupted by
    # Ctrl-C, marks a thread that still runs as ended (bpo-45274's fix releases its lock).
    stop, done = threading.Event(), threading.Event()
    ended: list[Solution | BaseException] = []

    def run() -> None:
        try:
            ended.append(solving(stop.is_set))
        except BaseException as exc:  # handed to this thread, which says it
            ended.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name="schedule", daemon=True).start()
    while not done.is_set():
        try:
            done.wait(0.1)
        except KeyboardInterrupt:
            if stop.is_set():
                _stopped_at_once()
            stop.set()
            say("stopping (Ctrl-C): the best plan so far follows; Ctrl-C again to stop at once")
    outcome = ended[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _stopped_at_once() -> NoReturn:
    """End the process with EXIT_INTERRUPTED now, the search still running: an interpreter's
    shutdown would wait for CP-SAT's workers to stop (seconds), and may abort under them."""
    try:
        say(STOPPED)
        sys.stdout.flush()  # nothing is printed before the solve ends; flushed all the same
    except (OSError, ValueError):
        pass  # a stream that cannot be written: the exit code says it all the same
    finally:
        os._exit(EXIT_INTERRUPTED)


def _unwritable(chart: Path) -> str | None:
    """Why the chart cannot be written at `chart`, said before a solve that may run long."""
    if chart.suffix.lower() not in (".svg", ".png"):
        return "--gantt must name a .svg or .png file"
    if chart.is_dir():
        return f"cannot write {chart}: it is a folder (name the chart's file)"
    folder = chart.parent
    if not folder.is_dir():
        return f"cannot write {chart}: there is no folder {folder}"
    if not os.access(chart if chart.exists() else folder, os.W_OK):
        return f"cannot write {chart}: permission denied"
    return None


def render_text(problem: Problem, solution: Solution) -> str:
    """Render a solution as a short report with per-machine dispatch lists."""
    lines = [f"{problem.name or 'problem'}: {solution.status}"]
    if solution.conflicts:
        lines += [f"  {c.constraint}: {c.message}" for c in solution.conflicts]
        return "\n".join(lines)
    if solution.makespan is None or solution.kpis is None:
        return "\n".join(lines)
    k = solution.kpis
    lines.append(
        f"makespan {solution.makespan}  lower bound {solution.lower_bound}  "
        f"on-time {k.on_time_rate:.0%}  weighted tardiness {k.weighted_tardiness}  "
        f"WIP {k.average_wip:.2f}  time {solution.wall_time:.1f}s ({solution.source})"
    )
    for machine, ops in solution.dispatch_lists().items():
        util = k.utilisation.get(machine, 0.0)
        lines.append(f"{machine} ({util:.0%}):")
        for op in ops:
            setup = f" (set-up {op.setup})" if op.setup else ""
            lines.append(f"  {op.start:>8} {op.end:>8}  {op.operation}{setup}")
    return "\n".join(lines)
