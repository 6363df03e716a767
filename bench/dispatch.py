"""Constructive plans at plant size: many work orders through one shared station.

    python -m bench.dispatch [--orders 250,500,1000,2000,4000] [--time-limit 10] [--shifts]
                             [--out bench/results/dispatch.md]

Each order is cut on one of three lathes, marked on the one laser (a set-up of 10 between
families, five families), and finished on whichever of the three lathes ends it first: every
order queues at the laser, where the dispatch rules weigh all the waiting orders at each
placement. With --shifts every machine works 160 of every 240 time units and is down twenty
times (the same orders). Prints, per size, the time of each rule's dispatch and of the serial
plan, their makespans, and what `solve` answers within the time limit. Seeded; not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from scheduler.dispatch import dispatch, serial_plan
from scheduler.flat import flatten
from scheduler.models import Problem, SolveOptions
from scheduler.plan import criteria, violations
from scheduler.solver import solve

RULES = ("mwkr", "fifo", "spt")
LATHES = 3
COLUMNS = (
    "orders",
    "operations",
    *(f"{rule} s" for rule in RULES),
    "serial s",
    "best rule makespan",
    "serial makespan",
    "solve status",
    "solve makespan",
    "solve wall s",
)


def shared_station(orders: int, seed: int = 1, shifts: bool = False) -> Problem:
    """Return the plant above with `orders` work orders, all released at once."""
    rng = random.Random(seed)
    lathes = [f"LATHE-{i}" for i in range(LATHES)]
    work = []
    for j in range(orders):
        cut = {"machine": rng.choice(lathes), "unit_time": rng.randint(1, 5)}
        mark = {"machine": "LASER", "unit_time": 1}
        finish = [{"machine": lathe, "unit_time": rng.randint(1, 5)} for lathe in lathes]
        work.append(
            {
                "id": f"WO-{j}",
                "family": f"F{rng.randrange(5)}",
                "quantity": rng.randint(1, 20),
                "operations": [
                    {"alternatives": [cut]},
                    {"alternatives": [mark], "setup_default": 10},
                    {"alternatives": finish},
                ],
            }
        )
    machines: list[dict[str, object]] = [{"id": name} for name in ["LASER", *lathes]]
    if shifts:
        days = orders // 5 + 10  # past the makespan: up to 36 time units an order
        calendar = random.Random(seed + 1)
        for machine in machines:
            machine["shifts"] = [{"start": d * 240, "end": d * 240 + 160} for d in range(days)]
            down = sorted(calendar.sample(range(days * 240), 20))
            machine["unavailable"] = [
                {"start": t, "end": t + calendar.randint(5, 50)} for t in down
            ]
    return Problem.model_validate({"machines": machines, "orders": work})


def measure(orders: int, time_limit: float, shifts: bool = False) -> list[str]:
    """Return the table row of one size."""
    problem = shared_station(orders, shifts=shifts)
    flat = flatten(problem)
    cells = [f"{orders:,}", f"{len(flat.ops):,}"]
    spans = []
    for rule in RULES:
        start = time.perf_counter()
        plan = dispatch(flat, rule)
        cells.append(f"{time.perf_counter() - start:.2f}")
        assert not violations(flat, plan), rule
        spans.append(criteria(flat, plan)["makespan"])
    start = time.perf_counter()
    plan = serial_plan(flat)
    cells.append(f"{time.perf_counter() - start:.3f}")
    assert not violations(flat, plan)
    cells += [f"{min(spans):,}", f"{criteria(flat, plan)['makespan']:,}"]
    start = time.perf_counter()
    solution = solve(problem, SolveOptions(time_limit=time_limit, workers=2))
    wall = time.perf_counter() - start
    span = "-" if solution.makespan is None else f"{solution.makespan:,}"
    cells += [solution.status, span, f"{wall:.1f}"]
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="250,500,1000,2000,4000")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--shifts", action="store_true", help="shifts and downtime everywhere")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.orders.split(",")]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Constructive plans at plant size",
        "",
        f"`python -m bench.dispatch --orders {args.orders} --time-limit {args.time_limit:g}"
        f"{' --shifts' if args.shifts else ''}`: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; {stamp}, load average "
        f"at the start {os.getloadavg()[0]:.1f}.",
        "",
        "Dispatch and serial columns are seconds for one plan; makespans in time units; "
        f"`solve` is given {args.time_limit:g} s and 2 workers.",
        "",
    ]
    rows = (measure(orders, args.time_limit, args.shifts) for orders in sizes)
    stream_table(lines, COLUMNS, rows, args.out)
    return 0


def stream_table(
    lines: list[str], columns: Sequence[str], rows: Iterable[list[str]], out: Path | None
) -> None:
    """Print the lines and a table's head, then each row as it is measured; write all to out."""
    lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    print("\n".join(lines), flush=True)
    for cells in rows:
        row = "| " + " | ".join(cells) + " |"
        lines.append(row)
        print(row, flush=True)
    if out is not None:
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
