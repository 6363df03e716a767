"""A void's checks on a lot with a long history, on the embedded store and Neo4j.

    python -m bench.voids [--history 1000 5000 20000] [--neo4j bolt://127.0.0.1:7687]

One lot is received, then cut `--history` times, a stated amount each (a supplier lot's lot used
by thousands of events), then once more by the event to void, and last by a cut of all it still
holds. The void of that event is refused, naming the last cut (what it took followed from what
the voided one left), and writes nothing, so it is timed again and again: the best of a few
rounds, through IngestService, on a fresh embedded store per history and, with --neo4j
(default: NEO4J_URI), on that scratch Neo4j (wiped). Prints a Markdown table; nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.neo4j_target import wiped_neo4j
from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from ingest.errors import BatchRejected
from ingest.service import IngestService

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
BATCH = 1000
ROUNDS = 5


def _event(n: int, kind: str, **fields: Any) -> dict[str, Any]:
    at = (T0 + timedelta(seconds=n)).isoformat()
    return {"event_id": f"{kind}-{n}", "type": kind, "occurred_at": at, **fields}


def _cut(n: int, qty: str | None) -> dict[str, Any]:
    """A process taking `qty` of the lot (all it holds when None) into a lot of its own."""
    taken = {"lot": "L-1"} | ({} if qty is None else {"qty": qty})
    made = {"lot": f"OUT-{n}", "part": "BLANK", "qty": qty or "1"}
    return _event(n, "process", step=f"S-{n}", operation="cut", inputs=[taken], outputs=[made])


def _plant(history: int) -> Iterator[list[dict[str, Any]]]:
    """The receipt and the cuts, in batches; the cut to void is `process-{history + 1}`."""
    receive = _event(0, "receive", supplier="ACME", supplier_lot="A-1", part="BAR", lot="L-1")
    cuts = [_cut(n, "1") for n in range(1, history + 2)] + [_cut(history + 2, None)]
    events = [receive | {"qty": str(history + 100)}, *cuts]
    for start in range(0, len(events), BATCH):
        yield events[start : start + BATCH]


def _refused_void(service: IngestService, history: int) -> None:
    void = _event(history + 3, "void", voids=f"process-{history + 1}", reason="wrong lot")
    try:
        service.ingest([void])
    except BatchRejected as refused:
        assert [p.code for p in refused.problems] == ["void_has_dependents"]
        return
    raise AssertionError("the void was not refused")


def _timed(store: GraphStore, history: int) -> tuple[float, float]:
    """Load the plant into `store`; return the best wall and CPU seconds of the refused void."""
    service = IngestService(store)
    for batch in _plant(history):
        service.ingest(batch)
    wall, cpu = [], []
    for _ in range(ROUNDS):
        start, start_cpu = time.perf_counter(), time.process_time()
        _refused_void(service, history)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    store.close()
    return min(wall), min(cpu)


def rows(histories: Sequence[int], stores: dict[str, Callable[[int], GraphStore]]) -> list[str]:
    """One row per history: the refused void's best time on each store."""
    header = ["events on the lot before the voided one"] + [
        f"{name} {what}" for name in stores for what in ("wall ms", "CPU ms")
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for history in histories:
        cells = [f"{history:,}"]
        for open_store in stores.values():
            wall, cpu = _timed(open_store(history), history)
            cells += [f"{wall * 1000:.1f}", f"{cpu * 1000:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--history", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument(
        "--neo4j", default=os.environ.get("NEO4J_URI"), help="Bolt URL of a scratch Neo4j (wiped)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tracegraph-bench-voids-") as scratch:
        stores: dict[str, Callable[[int], GraphStore]] = {
            "embedded": lambda n: EmbeddedStore(Path(scratch) / f"voids-{n}.db")
        }
        if args.neo4j:
            stores["Neo4j"] = lambda _: wiped_neo4j(args.neo4j)
        print(f"# A refused void of a lot's event, best of {ROUNDS}\n")
        print("\n".join(rows(args.history, stores)))
        print("\nCPU: of this process (the embedded store runs in it; on Neo4j, the driver's).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
