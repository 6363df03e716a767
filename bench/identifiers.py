"""GS1 parsing, scanned-code resolution, lot code decoding and minting, timed on a real store.

    python -m bench.identifiers [--serials 20000] [--supplier-lots 2000] [--repeat 300] \
        [--neo4j bolt://127.0.0.1:7687] [--out bench/results/identifiers.md]

Parts with GTINs, lots and serials, and supplier lots of one partner are ingested through the
service layer into a scratch embedded store and, with --neo4j (default: NEO4J_URI), into that
Neo4j, which is wiped first; then each operation runs `--repeat` times on random inputs. Prints
Markdown tables (and writes them to --out). Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench.neo4j_target import wiped_neo4j
from graph.lot_codes import LotCodeService, LotSchemeSpec
from graph.store import GraphStore, NodeView
from graph.udi import IdentifierService
from ingest import gs1
from ingest.service import IngestService, open_store_for_use

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
PARTS = 20
BATCH = 2000


def _node(store: GraphStore, node_gid: str) -> NodeView:
    node = store.node(node_gid)
    if node is None:
        raise LookupError(f"the plant has no {node_gid}")
    return node


def _gtin(i: int) -> str:
    return gs1.with_check_digit(f"0950600{i:06d}")


def _events(serials: int, supplier_lots: int) -> Iterator[dict[str, Any]]:
    at = T0
    n = 0

    def event(kind: str, **fields: Any) -> dict[str, Any]:
        nonlocal at, n
        at += timedelta(seconds=30)
        n += 1
        return {"event_id": f"B-{n}", "type": kind, "occurred_at": at.isoformat(), **fields}

    for p in range(PARTS):
        yield event("part_define", part=f"P{p:02d}", gtin=_gtin(p))
    for s in range(supplier_lots):
        yield event(
            "receive",
            supplier="ACME",
            supplier_lot=f"AC7-{s:06d}",
            part="BAR",
            lot=f"R{s:06d}",
            qty="10",
        )
    per_lot = 50
    for lot in range(serials // per_lot):
        part = f"P{lot % PARTS:02d}"
        yield event(
            "receive",
            supplier="X",
            supplier_lot=f"X{lot}",
            part=part,
            lot=f"K{lot:05d}",
            qty=str(per_lot),
            expiry="2030-06-30",
        )
        yield event(
            "serialize",
            lot=f"K{lot:05d}",
            serials=[f"S{lot:05d}{i:02d}" for i in range(per_lot)],
        )


def _timed(repeat: int, work: Callable[[int], object]) -> tuple[float, float]:
    """Return median and 95th percentile milliseconds of `work(i)` over `repeat` runs."""
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        work(i)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def run(store: GraphStore, serials: int, supplier_lots: int, repeat: int) -> list[list[str]]:
    """Load the store, time each operation, and return the table rows."""
    rng = random.Random(5)
    ingest = IngestService(store)
    batch: list[dict[str, Any]] = []
    start = time.perf_counter()
    for raw in _events(serials, supplier_lots):
        batch.append(raw)
        if len(batch) >= BATCH:
            ingest.ingest(batch)
            batch = []
    if batch:
        ingest.ingest(batch)
    load = time.perf_counter() - start
    lots = serials // 50
    codes = LotCodeService(store)
    codes.define(
        LotSchemeSpec(
            name="OURS",
            company="PLANT",
            pattern="{date:YYMMDD}{line:A2}{seq:N4}{link:X3}",
            link_field="link",
            link_code="PL1",
        )
    )
    codes.define(
        LotSchemeSpec(
            name="ACME",
            company="ACME",
            pattern="{link:X3}-{heat:N6}",
            link_field="link",
            link_code="AC7",
        )
    )
    ids = IdentifierService(store)

    def scanned(i: int) -> str:
        lot = rng.randrange(lots)
        serial = f"S{lot:05d}{rng.randrange(50):02d}"
        return gs1.udi(_gtin(lot % PARTS), lot=f"K{lot:05d}", serial=serial).element_string(
            symbology="]d2"
        )

    samples = [scanned(i) for i in range(repeat)]
    links = [gs1.parse(s).digital_link() for s in samples]
    rows = [["load (events through ingest)", f"{load:.1f} s total", ""]]
    for name, work in (
        ("parse element string (]d2 + FNC1)", lambda i: gs1.parse(samples[i])),
        ("parse Digital Link", lambda i: gs1.parse(links[i])),
        ("resolve scanned code to part/lot/serial", lambda i: ids.resolve(samples[i])),
        ("UDI of a serial", lambda i: ids.udi(_node(ids.store, f"serial:S{i % lots:05d}00"))),
        (
            "decode a lot code (partner with supplier lots)",
            lambda i: codes.decode(f"260305LA{i:04d}AC7"),
        ),
        (
            "mint a lot code (one caller)",
            lambda i: codes.mint("OURS", "ACME", {"date": date(2026, 3, 5), "line": "LA"}),
        ),
    ):
        median, p95 = _timed(repeat, work)
        rows.append([name, f"{median:.3f}", f"{p95:.3f}"])
    minted: list[str] = []
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        minted = list(
            pool.map(
                lambda _: codes.mint("OURS", "ACME", {"date": date(2026, 3, 6), "line": "LB"}).code,
                range(repeat),
            )
        )
    elapsed = time.perf_counter() - start
    distinct = "all distinct" if len(set(minted)) == len(minted) else "REPEATS"
    rows.append(["mint, 4 concurrent callers", f"{elapsed * 1000 / repeat:.3f} per code", distinct])
    return rows


def _stores(neo4j: str | None, folder: Path) -> dict[str, Callable[[], GraphStore]]:
    """Return how to open each store to time: an embedded one in folder, and Neo4j if named."""
    stores: dict[str, Callable[[], GraphStore]] = {
        "embedded": lambda: open_store_for_use(f"sqlite:///{folder / 'ids.db'}"),
    }
    if neo4j:
        stores["Neo4j"] = partial(wiped_neo4j, neo4j)
    return stores


def _measured(args: argparse.Namespace) -> dict[str, list[list[str]]]:
    """Time every store; the embedded one is scratch, so a run leaves nothing behind."""
    measured: dict[str, list[list[str]]] = {}
    with tempfile.TemporaryDirectory(prefix="tracegraph-bench-") as scratch:
        for name, make_store in _stores(args.neo4j, Path(scratch)).items():
            store = make_store()
            try:
                measured[name] = run(store, args.serials, args.supplier_lots, args.repeat)
            finally:
                store.close()
    return measured


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark on each store, print the tables and write them to --out."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serials", type=int, default=20_000)
    parser.add_argument("--supplier-lots", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument(
        "--neo4j", default=os.environ.get("NEO4J_URI"), help="Bolt URL of a scratch Neo4j (wiped)"
    )
    parser.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    args = parser.parse_args(argv)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    out = [
        "# Identifiers benchmark",
        "",
        f"{args.serials} serials, {args.supplier_lots} supplier lots of the partner, "
        f"{args.repeat} runs each; {machine}, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
    ]
    for name, rows in _measured(args).items():
        out += [
            "",
            f"## {name} store",
            "",
            "| operation | median ms | p95 ms |",
            "|---|---:|---:|",
            *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        ]
    text = "\n".join(out) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
