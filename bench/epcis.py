"""EPCIS 2.0 timings on the demo plant: export a trace, check it against GS1's schema, capture it.

    python -m bench.epcis [--size 3000] [--seed 7] [--out bench/results/epcis.md]

Each row is one trace: the events behind it exported (with the closure for downstream traces,
so the document imports on its own), the document validated, then captured into an empty
embedded store (schema check, reading, ingest). Prints a Markdown table; asserts no time.
The schema check is timed in CPU seconds: on a shared machine wall time says more about the
neighbours than about the check.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graph.embedded_store import EmbeddedStore
from graph.epcis import FULL_VIEW
from graph.epcis_export import EpcisExporter
from graph.epcis_schema import schema_problems
from graph.store import Direction
from graph.trace import TraceService
from ingest.demo_plant import DemoPlant
from ingest.epcis_capture import capture
from ingest.epcis_import import EpcisReader
from ingest.service import IngestService


def _timed(
    work: Callable[[], Any], clock: Callable[[], float] = time.perf_counter
) -> tuple[float, Any]:
    start = clock()
    result = work()
    return clock() - start, result


def run(size: int, seed: int, folder: Path) -> list[str]:
    """Return the Markdown lines of the table."""
    store = EmbeddedStore(folder / "plant.db")
    for batch in DemoPlant(size=size, seed=seed).batches(1000):
        IngestService(store).ingest(batch)
    traces, exporter = TraceService(store), EpcisExporter(store)
    roots: list[tuple[str, Direction]] = [
        ("supplier_lot:ACME-STEEL/H70001", "down"),
        ("supplier_lot:POLYMED/PM-2", "down"),
        ("serial:KIT000010000", "up"),
        ("lot:L00001-BLEND", "up"),
    ]
    lines = [
        "| trace | events | export s | validate CPU s | ms/event | capture s | same nodes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for n, (root, direction) in enumerate(roots):
        trace = traces.trace(root, direction)
        closure = direction == "down"
        export_s, document = _timed(
            lambda: exporter.trace_document(trace, FULL_VIEW, closure=closure)  # noqa: B023
        )
        events = len(document["epcisBody"]["eventList"])
        validate_s, problems = _timed(
            lambda: schema_problems(document),  # noqa: B023
            time.process_time,
        )
        fresh = EmbeddedStore(folder / f"fresh-{n}.db")
        capture_s, _ = _timed(
            lambda: capture(document, EpcisReader(), IngestService(fresh).ingest, fresh.logged)  # noqa: B023
        )
        copy = TraceService(fresh).trace(root, direction)
        same = {x.id for x in copy.nodes} == {x.id for x in trace.nodes} and not problems
        fresh.close()
        lines.append(
            f"| {root} {direction} | {events} | {export_s:.3f} | {validate_s:.3f} | "
            f"{1000 * validate_s / max(events, 1):.1f} | {capture_s:.2f} | {same} |"
        )
    store.close()
    return lines


def main() -> None:
    """Run the benchmark and print (or write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        table = run(args.size, args.seed, Path(scratch))
    header = [
        f"# EPCIS exchange, demo plant of {args.size} items (seed {args.seed})",
        "",
        f"{datetime.now(UTC):%Y-%m-%d}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, embedded store.",
        "",
    ]
    text = "\n".join(header + table) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
