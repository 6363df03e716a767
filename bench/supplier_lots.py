"""What a page of a supplier's lots costs to trace: one walk per lot against one from many.

    python -m bench.supplier_lots [--sizes 10000,100000] [--seed 7] [--neo4j bolt://...]

`supplierLots` tells a supplier what each of their lots went into. It traced each lot of the page
alone (up to 500); it now reads what all of them reach together, ROOTS_PER_READ lots a store
call (graph.trace.TraceService.subgraphs), and parts it again per lot. The seeded demo plant in
scale mode is ingested into a scratch store at each size; every supplier lot is traced down both
ways, three times each, and the median is printed: CPU ms of this process (the embedded store
runs in it), wall ms (on Neo4j, --neo4j naming a scratch server that is wiped, the server's work
too) and store calls. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.neo4j_target import wiped_neo4j
from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from graph.trace import ROOTS_PER_READ, TraceService
from ingest.demo_plant import DemoPlant
from ingest.service import IngestService

RUNS = 3


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    """Median CPU and wall ms of RUNS runs of `work`."""
    cpu, wall = [], []
    for _ in range(RUNS):
        started, clock = time.process_time(), time.perf_counter()
        work()
        cpu.append((time.process_time() - started) * 1000)
        wall.append((time.perf_counter() - clock) * 1000)
    return statistics.median(cpu), statistics.median(wall)


def _row(store: GraphStore, size: int) -> list[str]:
    lots = [v.gid for v in store.nodes_of_kind("supplier_lot", 500)]
    traces = TraceService(store)  # no cache: each run computes what it answers
    each = {lot: traces.trace(lot, "down") for lot in lots}
    together = traces.subgraphs(lots, "down")
    reached = sum(len(t.nodes) for t in each.values())
    assert {lot: sorted(g.nodes) for lot, g in together.items()} == {
        lot: sorted(n.id for n in t.nodes) for lot, t in each.items()
    }, "the two ways reach the same items"
    one_by_one = _timed(lambda: [traces.trace(lot, "down") for lot in lots])
    at_once = _timed(lambda: traces.subgraphs(lots, "down"))
    calls = -(-len(lots) // ROOTS_PER_READ)
    return [
        f"| {size:,} | {len(lots)} | {reached:,} | a trace per lot (before) | {len(lots)} "
        f"| {one_by_one[0]:.1f} | {one_by_one[1]:.1f} |",
        f"| {size:,} | {len(lots)} | {reached:,} | one walk from many (now) | {calls} "
        f"| {at_once[0]:.1f} | {at_once[1]:.1f} |",
    ]


def run(sizes: list[int], seed: int, neo4j: str | None = None) -> str:
    rows: list[str] = []
    for size in sizes:
        folder = Path(tempfile.mkdtemp(prefix="tracegraph-supplier-lots-"))
        try:
            store = EmbeddedStore(folder / "plant.db") if neo4j is None else wiped_neo4j(neo4j)
            ingest = IngestService(store)
            for batch in DemoPlant(size=size, seed=seed, scale=True).batches(1000):
                ingest.ingest(batch)
            rows += _row(store, size)
            store.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    kind = "the embedded store" if neo4j is None else "Neo4j"
    return "\n".join(
        [
            f"# A page of a supplier's lots traced down on {kind}: demo plant (scale mode), "
            f"seed {seed}",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average "
            f"{os.getloadavg()[0]:.1f} at the end",
            "",
            "| items | lots | nodes reached (sum over lots) | how | store calls | CPU ms "
            "(median of 3) | wall ms |",
            "|---:|---:|---:|---|---:|---:|---:|",
            *rows,
            "",
            "CPU: this process's time (the embedded store runs in it). Every supplier lot of the "
            "plant is one page here (a page holds up to 500).",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--neo4j", default=None)
    args = parser.parse_args()
    print(run([int(s) for s in args.sizes.split(",")], args.seed, args.neo4j))


if __name__ == "__main__":
    main()
