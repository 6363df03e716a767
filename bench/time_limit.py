"""Do `solve` and `reschedule` keep to their time limit? Wall time against the limit, by size.

    python -m bench.time_limit [--orders 50,100,250,1000] [--limits 1,3]
                               [--out bench/results/time_limit.md]

The plant of bench.dispatch (three lathes and one laser with set-ups between five families):
each size is planned with `solve`, then the laser goes down for a while and the plan is
repaired with `reschedule`, each given the same limit and 2 workers. Wall is measured around
the call; a ratio above 1 is time the planner was not given. Seeded; not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.dispatch import shared_station, stream_table
from scheduler.models import SolveOptions
from scheduler.rescheduler import Downtime, Feedback, reschedule
from scheduler.solver import solve

COLUMNS = (
    "orders",
    "limit s",
    "solve wall s",
    "solve / limit",
    "solve status",
    "reschedule wall s",
    "reschedule / limit",
    "moved",
    "peak RSS MiB",
)


def measure(orders: int, limit: float) -> list[str]:
    """Return the table row of one size and limit."""
    problem = shared_station(orders)
    options = SolveOptions(time_limit=limit, workers=2)
    start = time.perf_counter()
    planned = solve(problem, options)
    solved = time.perf_counter() - start
    down = Feedback(now=100, downtime=[Downtime(machine="LASER", start=200, end=400)])
    start = time.perf_counter()
    repaired = reschedule(problem, planned, down, options)
    rescheduled = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return [
        f"{orders:,}",
        f"{limit:g}",
        f"{solved:.2f}",
        f"{solved / limit:.2f}",
        planned.status,
        f"{rescheduled:.2f}",
        f"{rescheduled / limit:.2f}",
        "-" if repaired.moved is None else f"{repaired.moved:,}",
        f"{peak:,}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="50,100,250,1000")
    parser.add_argument("--limits", default="1,3")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Planning within the time limit",
        "",
        f"`python -m bench.time_limit --orders {args.orders} --limits {args.limits}`: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; {stamp}, load average "
        f"at the start {os.getloadavg()[0]:.1f}. Peak RSS is the process's so far.",
        "",
    ]
    sizes = [int(size) for size in args.orders.split(",")]
    limits = [float(value) for value in args.limits.split(",")]
    rows = (measure(orders, limit) for orders in sizes for limit in limits)
    stream_table(lines, COLUMNS, rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
