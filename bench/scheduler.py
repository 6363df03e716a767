"""Benchmark the scheduler against the textbook CP-SAT job-shop model on public instances.

Usage: python -m bench.scheduler [--dir ../shared/jsp] [--time-limit 10] [--workers 2]
                                 [--out bench/results/scheduler.md] [NAME_OR_FAMILY ...]

Instances (JSPLib/FJSPLib, ScheduleOpt/benchmarks, CC BY-SA 4.0) are read from the directory
given, never copied here. For every instance, both solvers get the same time limit and workers;
the textbook model runs in a child process that is stopped at three times the limit (it can
overrun on very large instances), and such a run is reported as such.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import queue
import statistics
import sys
import time
from pathlib import Path

from ortools.sat.python import cp_model

from scheduler.models import Problem, SolveOptions
from scheduler.readers import load_problem
from scheduler.solver import solve

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FAMILIES = ["ft", "la", "abz", "orb", "swv", "mk", "bel"]


def textbook(problem: Problem, time_limit: float, workers: int) -> int | None:
    """Solve with the plain model: intervals, no-overlap per machine, makespan, no hints."""
    model = cp_model.CpModel()
    horizon = sum(
        max(a.unit_time for a in op.alternatives) for o in problem.orders for op in o.operations
    )
    intervals: dict[str, list[cp_model.IntervalVar]] = {}
    ends: list[cp_model.IntVar] = []
    for o in problem.orders:
        previous: cp_model.IntVar | None = None
        for op in o.operations:
            start = model.new_int_var(0, horizon, "")
            end = model.new_int_var(0, horizon, "")
            if len(op.alternatives) == 1:
                alt = op.alternatives[0]
                iv = model.new_interval_var(start, alt.unit_time, end, "")
                intervals.setdefault(alt.machine, []).append(iv)
            else:
                lits = []
                for alt in op.alternatives:
                    lit = model.new_bool_var("")
                    lits.append(lit)
                    iv = model.new_optional_interval_var(start, alt.unit_time, end, lit, "")
                    intervals.setdefault(alt.machine, []).append(iv)
                model.add_exactly_one(lits)
            if previous is not None:
                model.add(start >= previous)
            previous = end
        if previous is not None:
            ends.append(previous)
    for ivs in intervals.values():
        model.add_no_overlap(ivs)
    makespan = model.new_int_var(0, horizon, "makespan")
    model.add_max_equality(makespan, ends)
    model.minimize(makespan)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return int(solver.objective_value)
    return None


def _textbook_child(path: str, time_limit: float, workers: int, out: mp.Queue[object]) -> None:
    out.put(textbook(load_problem(Path(path)), time_limit, workers))


def run_textbook(path: Path, time_limit: float, workers: int) -> tuple[int | None, float, bool]:
    """Run the textbook model in a child process; return makespan, wall time, whether cut off."""
    results: mp.Queue[object] = mp.Queue()
    child = mp.Process(target=_textbook_child, args=(str(path), time_limit, workers, results))
    t0 = time.monotonic()
    child.start()
    try:
        value = results.get(timeout=3 * time_limit + 5)
    except queue.Empty:
        child.terminate()
        child.join()
        return None, time.monotonic() - t0, True
    child.join()
    return (value if isinstance(value, int) else None), time.monotonic() - t0, False


def bounds(root: Path) -> dict[str, tuple[str, int, Path]]:
    """Read best-known upper bounds: name -> (family, ub, path)."""
    out: dict[str, tuple[str, int, Path]] = {}
    for name in ("bounds_jobshop.csv", "bounds_fjsp.csv"):
        with (root / name).open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                out[row["name"]] = (row["family"], int(row["ub"]), root / row["path"])
    return out


def select(known: dict[str, tuple[str, int, Path]], wanted: list[str]) -> list[str]:
    """Pick instances by name or family, in the order asked."""
    names: list[str] = []
    for w in wanted:
        if w in known:
            names.append(w)
            continue
        # Family names repeat across the two files (the Hurink la*_edata sets are FJSP), so a
        # family means the classic set: job-shop instances, or mk01-mk10 for FJSP.
        family = [
            n
            for n, (fam, _, path) in known.items()
            if fam == w and (path.parts[-3] == "jobshop" or w == "mk")
        ]
        if w == "mk":
            family = [n for n in family if int(n[2:]) <= 10]
        names.extend(sorted(family, key=lambda n: (len(n), n)))
    return names


def gap(value: int | None, ub: int) -> float | None:
    """Return the gap in percent to the best-known upper bound."""
    return None if value is None else 100.0 * (value - ub) / ub


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=DEFAULT_FAMILIES)
    parser.add_argument("--dir", type=Path, default=REPO.parent / "shared" / "jsp")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    known = bounds(args.dir)
    names = select(known, args.names)
    lines = [
        f"Time limit {args.time_limit:g} s per instance and solver, {args.workers} workers, on "
        f"{os.cpu_count()} cores. "
        "Gap = (makespan - best known upper bound) / best known upper bound. "
        "Ratio = our makespan / textbook makespan. Wall = seconds including reading the file "
        "and building the model. Status and bound are ours (optimal: proven). Load = the "
        "machine's 1-minute load average when the instance started; other work shares the "
        "cores, so above the core count both solvers get less than their workers.",
        "",
        "| instance | family | best known | ours | gap % | status | bound | wall s | textbook "
        "| gap % | wall s | ratio | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows: list[tuple[str, str, float | None, float | None, bool]] = []

    def emit(line: str) -> None:
        lines.append(line)
        print(line, flush=True)
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")

    for line in lines:
        print(line)
    for name in names:
        family, ub, path = known[name]
        load = os.getloadavg()[0]
        t0 = time.monotonic()
        problem = load_problem(path)
        ours = solve(problem, SolveOptions(time_limit=args.time_limit, workers=args.workers))
        ours_wall = time.monotonic() - t0
        tb, tb_wall, cut = run_textbook(path, args.time_limit, args.workers)
        g_ours, g_tb = gap(ours.makespan, ub), gap(tb, ub)
        ratio = f"{ours.makespan / tb:.4f}" if ours.makespan and tb else "-"
        tb_text = "cut off" if cut else ("none" if tb is None else str(tb))
        bound = "-" if ours.lower_bound is None else str(ours.lower_bound)
        emit(
            f"| {name} | {family} | {ub} | {ours.makespan} | {_fmt(g_ours)} | {ours.status} "
            f"| {bound} | {ours_wall:.1f} | {tb_text} | {_fmt(g_tb)} | {tb_wall:.1f} | {ratio} "
            f"| {load:.1f} |"
        )
        worse = bool(ours.makespan and tb and ours.makespan > 1.005 * tb)
        rows.append((name, family, g_ours, g_tb, worse))

    emit("")
    emit(
        "| family | instances | mean gap ours % | mean gap textbook % | ours worse than "
        "textbook by > 0.5 % |"
    )
    emit("|---|---|---|---|---|")
    for family in dict.fromkeys(r[1] for r in rows):
        mine = [r for r in rows if r[1] == family]
        ours_gaps = [r[2] for r in mine if r[2] is not None]
        tb_gaps = [r[3] for r in mine if r[3] is not None]
        behind = [r[0] for r in mine if r[4]]
        emit(
            f"| {family} | {len(mine)} | {_fmt(_mean(ours_gaps))} | {_fmt(_mean(tb_gaps))} "
            f"({len(tb_gaps)} solved) | {', '.join(behind) or '-'} |"
        )
    return 0


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    sys.exit(main())
