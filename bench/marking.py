"""Worn-mark resolution at plant scale on the embedded store, a scheme's use, and issuing.

    python -m bench.marking [--lots 1000000] [--marks 456976] [--repeat 300] \
        [--db marking.db] [--neo4j bolt://127.0.0.1:7687] [--out bench/results/marking.md]

A million lots received (by three sites and, one in four, by no site) and 456,976 of them
marked AAAA..ZZZZ (every code of a four-letter scheme) are ingested in batches through the
service layer into a scratch embedded store (or --db); then each kind of reading is resolved
`--repeat` times from random marked lots, and the scheme's use is read plant-wide and as each
site's operators see it. Given a --db that exists, the loading and issuing are skipped and only
the reads are timed again. With --neo4j the same lots and marks are loaded into that scratch
Neo4j (wiped, signed in as NEO4J_USER) and the scheme's use is timed there too. Prints Markdown
tables (and writes them to --out). Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench.neo4j_target import wiped_neo4j
from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from ingest.models import ItemRef
from ingest.service import IngestService
from marking.models import ResolveQuery, SchemeSpec
from marking.schemes import LOOKALIKES, Scheme
from marking.service import MarkingService

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
BATCH = 5000
ISSUED = 300
# The sites lots are received by, in turn (None: no site, which every site's operators read).
SITES = ("PLANT-1", "PLANT-2", "PLANT-3", None)
# Reads of a scheme's use timed per row of its table.
USAGE_READS = 20
BOLT4 = SchemeSpec(name="BOLT4", kind="sequential", length=4, parts=["BOLT-*"])


def _lot(i: int) -> str:
    return f"L{i:07d}"


def _receives(lots: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, lots, BATCH):
        batch = []
        for i in range(start, min(start + BATCH, lots)):
            batch.append(
                {
                    "event_id": f"R-{i}",
                    "type": "receive",
                    "occurred_at": (T0 + timedelta(seconds=i)).isoformat(),
                    "supplier": "ACME",
                    "supplier_lot": f"X{i}" if i >= lots - ISSUED else f"H{i // 1000:05d}",
                    "part": "ISSUE-1" if i >= lots - ISSUED else f"BOLT-{i // 1000 % 20}",
                    "lot": _lot(i),
                    "qty": "100",
                }
                | ({"site": site} if (site := SITES[i % len(SITES)]) else {})
            )
        yield batch


def _marks(scheme: Scheme, count: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, count, BATCH):
        yield [
            {
                "event_id": f"M-{i}",
                "type": "mark",
                "occurred_at": (T0 + timedelta(days=30, seconds=i)).isoformat(),
                "target": {"lot": _lot(i)},
                "code": scheme.code_for(i),
                "scheme": scheme.name,
            }
            for i in range(start, min(start + BATCH, count))
        ]


def _ingest(service: IngestService, batches: Iterator[list[dict[str, Any]]]) -> tuple[int, float]:
    count, start = 0, time.perf_counter()
    for batch in batches:
        count += service.ingest(batch).created
    return count, time.perf_counter() - start


def _percentiles(samples: Sequence[float]) -> list[str]:
    ordered = sorted(samples)
    picks = [
        ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 for q in (0.5, 0.95, 0.99)
    ]
    return [f"{value:.2f}" for value in picks]


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _readings(scheme: Scheme, marks: int, rng: random.Random) -> dict[str, Callable[[], Any]]:
    """Each kind of reading, as a maker of (query, the lot it must find first or among)."""

    def pick() -> tuple[int, str]:
        i = rng.randrange(marks)
        return i, scheme.code_for(i)

    def exact() -> tuple[ResolveQuery, str]:
        i, code = pick()
        return ResolveQuery(mark=code), _lot(i)

    def one_unknown() -> tuple[ResolveQuery, str]:
        i, code = pick()
        at = rng.randrange(len(code))
        return ResolveQuery(mark=code[:at] + "?" + code[at + 1 :], limit=30), _lot(i)

    def lookalike() -> tuple[ResolveQuery, str]:
        while True:
            i, code = pick()
            spots = [
                (at, c)
                for at, c in enumerate(code)
                if any(o in "0D8" for o in LOOKALIKES.get(c, ""))
            ]
            if spots:
                at, char = rng.choice(spots)
                other = next(o for o in LOOKALIKES[char] if o in "0D8")
                return ResolveQuery(mark=code[:at] + other + code[at + 1 :], limit=30), _lot(i)

    def primary_one() -> tuple[ResolveQuery, str]:
        i, _ = pick()
        lot = _lot(i)
        at = rng.randrange(3, len(lot))
        return ResolveQuery(primary=lot[:at] + "?" + lot[at + 1 :]), _lot(i)

    def primary_two() -> tuple[ResolveQuery, str]:
        i, _ = pick()
        lot = _lot(i)
        first, second = sorted(rng.sample(range(3, len(lot)), 2))
        worn = lot[:first] + "?" + lot[first + 1 : second] + "?" + lot[second + 1 :]
        return ResolveQuery(primary=worn, limit=30), _lot(i)

    def primary_first() -> tuple[ResolveQuery, str]:
        i, _ = pick()
        return ResolveQuery(primary="?" + _lot(i)[1:]), _lot(i)

    def both() -> tuple[ResolveQuery, str]:
        i, code = pick()
        lot = _lot(i)
        at = rng.randrange(3, len(lot))
        return ResolveQuery(mark="?" + code[1:], primary=lot[:at] + "?" + lot[at + 1 :]), lot

    return {
        "exact mark": exact,
        "mark, one unknown character (?)": one_unknown,
        "mark, one look-alike misread": lookalike,
        "primary, one worn character": primary_one,
        "primary, first character worn": primary_first,
        "primary, two worn characters": primary_two,
        "mark and primary, one ? each": both,
    }


def _neo4j_usage(url: str, lots: int, marks: int) -> list[list[str]]:
    """Load the lots and marks into the Neo4j at `url`, wiped first; time the scheme's use."""
    store = wiped_neo4j(url)
    try:
        marking = MarkingService(store)
        marking.define_scheme(BOLT4)
        ingest = IngestService(store)
        _ingest(ingest, _receives(lots))
        _ingest(ingest, _marks(Scheme(BOLT4), marks))
        return _usage_rows(store, marking, "BOLT4")
    finally:
        store.close()


def _used_by(marking: MarkingService, scheme: str, site: str) -> int:
    return marking.scheme_usage(scheme, site).used


def _usage_rows(store: GraphStore, marking: MarkingService, scheme: str) -> list[list[str]]:
    """Time each read of a scheme's use, plant-wide and by site, USAGE_READS times."""
    sites = [site for site in SITES if site is not None]
    reads: dict[str, Callable[[], object]] = {
        "scheme_usage, plant-wide": lambda: marking.scheme_usage(scheme).used,
        **{f"scheme_usage, {site}": partial(_used_by, marking, scheme, site) for site in sites},
        f"marks_seen_by, {sites[0]}": lambda: store.marks_seen_by(scheme, sites[0]),
        "last_mark_index": lambda: store.last_mark_index(scheme),
    }
    rows = []
    for label, read in reads.items():
        samples, cpu = [], []
        for _ in range(USAGE_READS):
            start, start_cpu = time.perf_counter(), time.thread_time()
            answer = read()
            samples.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - start_cpu)
        rows.append([label, *_percentiles(samples)[:2], _percentiles(cpu)[0], f"{answer:,}"])
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lots", type=int, default=1_000_000)
    parser.add_argument("--marks", type=int, default=456_976, help="at most 456,976")
    parser.add_argument("--repeat", type=int, default=300, help="resolutions per kind of reading")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    parser.add_argument(
        "--db", type=Path, help="keep the store in this file; if it exists, only time resolution"
    )
    parser.add_argument(
        "--neo4j", help="also time the scheme's use on this scratch Neo4j (it is wiped first)"
    )
    args = parser.parse_args(argv)
    if not 0 < args.marks <= min(456_976, args.lots - ISSUED):
        parser.error("--marks must be between 1 and 456,976 and leave 300 lots unmarked")

    if args.db is not None:
        return _run(args, args.db)
    # Without --db the store is scratch: a run leaves nothing behind.
    with tempfile.TemporaryDirectory(prefix="tracegraph-bench-marking-") as scratch:
        return _run(args, Path(scratch) / "marking.db")


def _run(args: argparse.Namespace, path: Path) -> int:
    """Load the store at path unless it holds an earlier run's lots, then time and report."""
    again = path.exists()
    store = EmbeddedStore(path)
    ingest = IngestService(store)
    marking = MarkingService(store, ingest)
    marking.define_scheme(BOLT4)
    marking.define_scheme(
        SchemeSpec(
            name="ISSUE", kind="hashids", salt="bench", capacity=100_000, check=True,
            parts=["ISSUE-*"],
        )
    )  # fmt: skip
    scheme = Scheme(BOLT4)

    if again:
        received, receive_time = store.counts().get("lot", 0), 0.0
        marked, mark_time = marking.scheme_usage("BOLT4").used, 0.0
    else:
        received, receive_time = _ingest(ingest, _receives(args.lots))
        marked, mark_time = _ingest(ingest, _marks(scheme, args.marks))
        with sqlite3.connect(store.path) as conn:
            conn.execute("ANALYZE")

    rng = random.Random(args.seed)
    rows = []
    for label, make in _readings(scheme, args.marks, rng).items():
        samples, cpu, hits, firsts, sizes = [], [], 0, 0, 0
        for _ in range(args.repeat):
            query, lot = make()
            start, start_cpu = time.perf_counter(), time.thread_time()
            found = marking.resolve(query).candidates
            samples.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - start_cpu)
            ids = [c.id for c in found]
            hits += f"lot:{lot}" in ids
            firsts += bool(ids) and ids[0] == f"lot:{lot}"
            sizes += len(found)
        rows.append(
            [
                label,
                *_percentiles(samples),
                *_percentiles(cpu)[:2],
                f"{sizes / args.repeat:.1f}",
                f"{firsts / args.repeat:.0%}",
                f"{hits / args.repeat:.0%}",
            ]
        )

    usage_rows = _usage_rows(store, marking, "BOLT4")
    neo4j_usage = [] if args.neo4j is None else _neo4j_usage(args.neo4j, args.lots, args.marks)

    issue_samples = []
    for i in range(args.lots - ISSUED, args.lots if not again else args.lots - ISSUED):
        start = time.perf_counter()
        marking.issue_mark(ItemRef(lot=_lot(i)))
        issue_samples.append(time.perf_counter() - start)
    usage = marking.scheme_usage("BOLT4")

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    out = [
        f"# Secondary marks: {received:,} lots, {marked:,} marks (embedded store)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{datetime.now(UTC):%Y-%m-%d}; load average {load} (1, 5, 15 min) at the end",
        "",
        "## Loading through the service layer (validation included)",
        "",
        "Not timed: the store was loaded by an earlier run."
        if again
        else _table(
            ["events", "count", "seconds", "events/s"],
            [
                [
                    "receive",
                    f"{received:,}",
                    f"{receive_time:.0f}",
                    f"{received / receive_time:,.0f}",
                ],
                ["mark", f"{marked:,}", f"{mark_time:.0f}", f"{marked / mark_time:,.0f}"],
            ],
        ),
        "",
        f"## Resolution ({args.repeat} random readings each, ms)",
        "",
        _table(
            [
                "reading",
                "p50",
                "p95",
                "p99",
                "CPU p50",
                "CPU p95",
                "candidates",
                "right lot first",
                "right lot listed",
            ],
            rows,
        ),
        "",
        "p50/p95/p99: wall-clock time. CPU: time the resolving thread spent on the processor"
        " (SQLite runs in it), which other work on the machine does not inflate.",
        "",
        f"## A scheme's use ({USAGE_READS} reads each, ms)",
        "",
        _table(["read", "p50", "p95", "CPU p50", "answer"], usage_rows),
        "",
        "scheme_usage with a site is what a site's operator is shown: the codes on what that site"
        " may read (marks_seen_by) and the scheme's next index (last_mark_index).",
        "",
        *(
            [
                f"## A scheme's use on Neo4j, the same plant ({USAGE_READS} reads each, ms)",
                "",
                _table(["read", "p50", "p95", "CPU p50", "answer"], neo4j_usage),
                "",
                "CPU: of this process, the driver's; the server's work shows in the wall time.",
                "",
            ]
            if neo4j_usage
            else []
        ),
        f"## Issuing ({ISSUED} marks, hashids with check character, one at a time, ms)",
        "",
        "Not timed: the lots were marked by an earlier run."
        if again
        else _table(
            ["operation", "p50", "p95", "p99"], [["issue_mark", *_percentiles(issue_samples)]]
        ),
        "",
        f"Scheme BOLT4: {usage.used:,} of {usage.capacity:,} codes used, "
        f"{usage.remaining:,} remaining. Database: {store.path.stat().st_size / 1e6:,.0f} MB.",
    ]
    store.close()
    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
