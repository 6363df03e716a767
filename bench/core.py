"""Ingest throughput and trace latency of the genealogy core, on the embedded store and Neo4j.

    python -m bench.core --size 20000 [--neo4j bolt://127.0.0.1:7687] [--out bench/results/core.md]

Prints Markdown tables (and writes them to --out). Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench.neo4j_target import wiped_neo4j
from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from graph.trace import TraceService
from ingest.demo_plant import DemoPlant
from ingest.service import IngestService


def _percentiles(samples: Sequence[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return at(0.50), at(0.95), at(0.99)


def _timed(work: Callable[[], Any], repeat: int) -> list[float]:
    """Return the wall times of `repeat` runs, then the mean CPU time of one run."""
    samples = []
    start_cpu = time.process_time()
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return [*samples, (time.process_time() - start_cpu) / repeat]


def _summary(timed: list[float]) -> list[str]:
    """p50, p95, p99 of the wall times and the mean CPU time, in ms."""
    return [*_fmt(_percentiles(timed[:-1])), f"{timed[-1] * 1000:.2f}"]


def ingest_rows(make_store: Callable[[], GraphStore], size: int, seed: int) -> list[list[str]]:
    """Measure events/s through the service layer for several batch sizes."""
    rows = []
    events = [event for batch in DemoPlant(size=size, seed=seed).batches(10_000) for event in batch]
    for batch_size, limit in ((1, 500), (100, 20_000), (1000, len(events))):
        store = make_store()
        service = IngestService(store)
        chosen = events[: min(limit, len(events))]
        start, start_cpu = time.perf_counter(), time.process_time()
        for offset in range(0, len(chosen), batch_size):
            service.ingest(chosen[offset : offset + batch_size])
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - start_cpu
        rows.append(
            [
                str(batch_size),
                str(len(chosen)),
                f"{len(chosen) / elapsed:,.0f}",
                f"{len(chosen) / cpu:,.0f}",
            ]
        )
        store.close()
    return rows


def query_rows(store: GraphStore, repeat: int) -> list[list[str]]:
    """Measure trace latencies from sources of small, median and largest fan-out."""
    traces = TraceService(store)
    suppliers = sorted(
        {f"supplier_lot:{e['supplier']}/{e['supplier_lot']}" for e in _receives(store)}
    )
    fanout = sorted((len(traces.trace(s, "down").nodes), s) for s in suppliers[:60])
    picks = {
        "small": fanout[0],
        "median": fanout[len(fanout) // 2],
        "largest": fanout[-1],
    }
    kits = [
        n.id
        for n in traces.trace(picks["median"][1], "down").nodes
        if n.id.startswith("serial:KIT")
    ]
    rows = []
    for label, (count, source) in picks.items():
        samples = _timed(partial(traces.trace, source, "down"), repeat)
        rows.append([f"trace down, {label} fan-out", str(count), *_summary(samples)])
    if kits:
        kit = kits[0]
        samples = _timed(lambda: traces.trace(kit, "up"), repeat)
        rows.append(
            [
                "trace up from a kit serial",
                str(len(traces.trace(kit, "up").nodes)),
                *_summary(samples),
            ]
        )
    day = (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC))
    samples = _timed(lambda: traces.equipment_window("equipment:LATHE-1", *day), repeat)
    rows.append(
        [
            "equipment window, one day",
            str(len(traces.equipment_window("equipment:LATHE-1", *day))),
            *_summary(samples),
        ]
    )
    return rows


def _receives(store: GraphStore) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = 0
    while batch := store.events(after, 5000):
        found.extend(json.loads(e.payload) for e in batch if e.type == "receive")
        after = batch[-1].seq
    return found


def _fmt(values: tuple[float, float, float]) -> list[str]:
    return [f"{value:.2f}" for value in values]


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size", type=int, default=20_000, help="items (lots + serials) in the plant"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=50, help="runs per query")
    parser.add_argument(
        "--neo4j", default=os.environ.get("NEO4J_URI"), help="Bolt URL of a scratch Neo4j (wiped)"
    )
    parser.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="tracegraph-bench-"))
    counter = iter(range(1_000_000))
    stores: dict[str, Callable[[], GraphStore]] = {
        "embedded": lambda: EmbeddedStore(folder / f"bench-{next(counter)}.db"),
    }
    if args.neo4j:
        stores["neo4j"] = partial(wiped_neo4j, args.neo4j)

    out = [
        f"# Core benchmark: demo plant of {args.size:,} items (seed {args.seed})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"load average at the start {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
        "(a shared machine: wall times include waits for a core, CPU columns do not)",
    ]
    try:
        for name, make_store in stores.items():
            out += ["", f"## {name}: ingest through the service layer (validation included)", ""]
            out.append(
                _table(
                    ["batch size", "events", "events/s (wall)", "events/CPU s"],
                    ingest_rows(make_store, args.size, args.seed),
                )
            )
            store = make_store()
            for batch in DemoPlant(size=args.size, seed=args.seed).batches(1000):
                IngestService(store).ingest(batch)
            out += ["", f"## {name}: queries ({args.repeat} runs each, ms)", ""]
            out.append(
                _table(
                    ["query", "nodes", "p50", "p95", "p99", "CPU ms"],
                    query_rows(store, args.repeat),
                )
            )
            counts = store.counts()
            items = counts.get("lot", 0) + counts.get("serial", 0)
            out.append(
                f"\nGraph: {items:,} items, {counts['edges']:,} edges, {counts['events']:,} events."
            )
            store.close()
    finally:
        # The stores are scratch: a run leaves nothing behind.
        shutil.rmtree(folder, ignore_errors=True)
    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
