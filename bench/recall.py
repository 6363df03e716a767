"""Recall case timings at plant scale: open and scope a case for one supplier lot, then export.

    python -m bench.recall --db PLANT.db [--out bench/results/recall.md]
    python -m bench.recall --size 1000000            # generates the plant first (slow)

The plant is the demo plant in scale mode (see bench.scale). --db is copied to a scratch file
first, since a case writes events. Prints a Markdown table; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.recall import RecallService
from graph.embedded_store import EmbeddedStore
from graph.recall import scope_csv
from graph.trace import TraceService
from ingest.demo_plant import DemoPlant
from ingest.service import IngestService


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def _plant(size: int, folder: Path) -> Path:
    path = folder / f"plant-{size}.db"
    store = EmbeddedStore(path)
    service = IngestService(store)
    for batch in DemoPlant(size=size, seed=7, scale=True).batches(1000):
        service.ingest(batch)
    store.close()
    return path


def _median_supplier_lot(store: EmbeddedStore) -> tuple[str, int]:
    traces = TraceService(store)
    lots = [n.gid for n in store.nodes_of_kind("supplier_lot", 10_000)]
    sample = lots[:: max(1, len(lots) // 25)]
    sized = sorted((len(traces.trace(lot, "down").nodes), lot) for lot in sample)
    count, lot = sized[len(sized) // 2]
    return lot, count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, help="an embedded store holding a plant (copied first)")
    parser.add_argument(
        "--size", type=int, default=1_000_000, help="items to generate without --db"
    )
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    # The plant is worked on in a scratch copy: a run leaves nothing behind.
    with tempfile.TemporaryDirectory(prefix="tracegraph-recall-bench-") as scratch:
        return _run(args, Path(scratch))


def _run(args: argparse.Namespace, scratch: Path) -> int:
    """Open a case on the plant's median supplier lot in scratch; time each step and report."""
    if args.db is not None:
        source = scratch / "plant.db"
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{args.db}{suffix}").exists():
                shutil.copy(f"{args.db}{suffix}", f"{source}{suffix}")
    else:
        source = _plant(args.size, scratch)
    store = EmbeddedStore(source)
    counts = store.counts()
    items = counts.get("lot", 0) + counts.get("serial", 0)
    lot, reach = _median_supplier_lot(store)
    recalls = RecallService(store, IngestService(store))
    rows: list[tuple[str, float, str]] = []
    suspects = [{"id": lot}]
    seconds, _ = _timed(lambda: recalls.open("BENCH-1", "bench", "bench", suspects, "bench"))
    rows.append(("open the case", seconds, ""))
    seconds, scope = _timed(lambda: recalls.scope("BENCH-1"))
    rows.append(("scope (trace, merge, shipments)", seconds, f"{len(scope.items)} items"))
    seconds, text = _timed(lambda: scope_csv(recalls.scope("BENCH-1")))
    rows.append(("CSV export (scope included)", seconds, f"{len(text) // 1024} KiB"))
    seconds, body = _timed(lambda: recalls.export_json("BENCH-1"))
    rows.append(
        (
            "JSON export (scope, notices, reconciliation)",
            seconds,
            f"{len(body['scope']['items'])} items",
        )
    )
    seconds, document = _timed(lambda: recalls.epcis("BENCH-1"))
    rows.append(("EPCIS export", seconds, f"{len(document['epcisBody']['eventList'])} events"))
    seconds, page = _timed(lambda: recalls.report_html("BENCH-1"))
    rows.append(("HTML report with picture", seconds, f"{len(page) // 1024} KiB"))
    seconds, held = _timed(lambda: recalls.hold("BENCH-1", "bench", "bench"))
    rows.append(("hold (status events for the in-plant scope)", seconds, f"{held} items"))
    first = sum(s for name, s, _ in rows[:6] if name != "hold")
    lines = [
        f"# Recall case at plant scale: {items:,} items, {counts['edges']:,} edges",
        "",
        f"Suspect: `{lot}` (median downstream reach of a sample of supplier lots: "
        f"{reach:,} nodes).",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}; "
        f"load average {os.getloadavg()[0]:.1f} at the end.",
        "",
        "| step | seconds | size |",
        "|---|---|---|",
        *[f"| {name} | {seconds:.3f} | {size} |" for name, seconds, size in rows],
        f"| **open, scope and write all exports** | **{first:.3f}** | |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
