"""A recall case's history among many cases, and what its indexes cost ingest.

    python -m bench.recall_history [--cases 100 1000 10000] [--events 20000]
        [--neo4j bolt://127.0.0.1:7687]

History: a store holds N cases (each opened, a customer told, the answer, a state change); one
case's history is read from all the recall events of the log, a page at a time ("scan", as it
was read before the stores indexed recall events by case), and through the index
(`recall_events_of`), on the embedded store and, with --neo4j (default: NEO4J_URI), on that
scratch Neo4j (wiped). Ingest: the same receive events into a fresh embedded store, with and
without the two partial indexes of recall events by case and by notice (other events pay only
their test). Prints Markdown tables; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench.neo4j_target import wiped_neo4j
from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore, StoredEvent
from ingest.service import IngestService

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
BATCH = 1000
REPEATS = 5


def _best(work: Callable[[], Any]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def _event(n: int, kind: str, **fields: Any) -> dict[str, Any]:
    at = (T0 + timedelta(seconds=n)).isoformat()
    return {"event_id": f"{kind}-{n}", "type": kind, "occurred_at": at, **fields}


def _case_events(index: int) -> list[dict[str, Any]]:
    case, notice, n = f"RC-{index}", f"RC-{index}-HOSP", 10 * index + 10
    suspects = [{"id": "lot:L-1"}]
    return [
        _event(n, "recall_open", case=case, title="t", reason="r", suspects=suspects),
        _event(n + 1, "recall_notice", case=case, notice=notice, customer="HOSP", message="m"),
        _event(n + 2, "recall_ack", notice=notice, found_qty="1", returned_qty="0"),
        _event(n + 3, "recall_state", case=case, state="holding", reason="r"),
    ]


def _scan(store: GraphStore, case: str, notices: set[str]) -> list[StoredEvent]:
    """The history as read before: every recall event of the log, filtered here."""
    found, after = [], 0
    while batch := store.recall_events(after, 5000):
        after = batch[-1].seq
        for stored in batch:
            body = json.loads(stored.payload)
            if body.get("case") == case or body.get("notice") in notices:
                found.append(stored)
    return found


def history(counts: Sequence[int], open_store: Callable[[int], GraphStore]) -> list[str]:
    """Time a case's history among each count of cases, in a fresh store `open_store` opens."""
    rows = [
        "| cases | recall events | scan (ms) | by case (ms) | events read |",
        "|---|---|---|---|---|",
    ]
    for count in counts:
        store = open_store(count)
        service = IngestService(store)
        receive = _event(0, "receive", supplier="ACME", supplier_lot="A-1", part="BAR", lot="L-1")
        receive["qty"] = "10"
        ship = _event(
            1, "ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "1"}]
        )
        service.ingest([receive, ship])
        events = [e for i in range(count) for e in _case_events(i)]
        # An answer finding something comes in a batch after its case's suspects.
        opened = [e for e in events if e["type"] != "recall_ack"]
        answers = [e for e in events if e["type"] == "recall_ack"]
        for sent in (opened, answers):
            for start in range(0, len(sent), BATCH):
                service.ingest(sent[start : start + BATCH])
        case, notices = f"RC-{count // 2}", [f"RC-{count // 2}-HOSP"]
        scanned = _scan(store, case, set(notices))
        indexed = store.recall_events_of(case, notices)
        assert [e.event_id for e in scanned] == [e.event_id for e in indexed]
        scan = _best(partial(_scan, store, case, set(notices)))
        by_case = _best(partial(store.recall_events_of, case, notices))
        rows.append(
            f"| {count} | {len(events)} | {scan * 1000:.2f} | {by_case * 1000:.3f} "
            f"| {len(indexed)} |"
        )
        store.close()
    return rows


def _neo4j(url: str, _count: int) -> GraphStore:
    return wiped_neo4j(url)


def ingest(total: int, folder: Path) -> list[str]:
    """Receive events ingested with and without the two indexes of recall events."""
    events = [
        _event(n, "receive", supplier="ACME", supplier_lot=f"A-{n}", part="BAR", lot=f"L-{n}")
        | {"qty": "10"}
        for n in range(total)
    ]
    rows = [
        "| indexes of recall events by case | events | ingest (s) | per event (us) |",
        "|---|---|---|---|",
    ]
    for indexed in (False, True, False, True):
        path = folder / f"ingest-{indexed}-{time.monotonic_ns()}.db"
        store = EmbeddedStore(path)  # makes the schema, then no more
        if not indexed:  # the store as it was before them
            conn = sqlite3.connect(path)
            conn.execute("DROP INDEX events_recall_case")
            conn.execute("DROP INDEX events_recall_notice")
            conn.close()
        service = IngestService(store)
        start = time.perf_counter()
        for first in range(0, total, BATCH):
            service.ingest(events[first : first + BATCH])
        took = time.perf_counter() - start
        rows.append(
            f"| {'yes' if indexed else 'no'} | {total} | {took:.2f} | {took / total * 1e6:.1f} |"
        )
        store.close()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument(
        "--neo4j", default=os.environ.get("NEO4J_URI"), help="Bolt URL of a scratch Neo4j (wiped)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        print("Embedded store\n")
        print("\n".join(history(args.cases, lambda n: EmbeddedStore(folder / f"cases-{n}.db"))))
        if args.neo4j:
            print("\nNeo4j store\n")
            print("\n".join(history(args.cases, partial(_neo4j, args.neo4j))))
        print()
        print("\n".join(ingest(args.events, Path(scratch))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
