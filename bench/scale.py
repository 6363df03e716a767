"""Plant-scale benchmark: ingest rates, query latencies and the baselines they are measured against.

    python -m bench.scale --sizes 10000,100000,1000000 [--neo4j auto|none|bolt://...]
                          [--work DIR] [--out bench/results]

For each size the seeded demo plant in scale mode (ingest.demo_plant, `scale=True`) is generated
once into DIR (events as NDJSON, the embedded store built from them), so later runs reuse it.
Every phase runs in a child process of its own, so each reports its own peak resident memory.

- ingest: events/s through IngestService (validation included) in batches of 1, 100 and 1,000,
  into the embedded store and into Neo4j; wall time and this process's CPU time.
- queries: p50/p95/p99 of `trace up` from a finished kit serial, `trace down` and `impact` from
  supplier lots of small, median and largest fan-out, and a one-day equipment window.
- baselines, on the same data in the same run: a hand-written recursive CTE on the same SQLite
  file, a hand-written variable-length Cypher query on the same Neo4j database, and a breadth-first
  search over a compressed sparse adjacency array in memory (scipy), the practical floor.

Writes scale.md, scale.png and scale.json to --out; results of earlier sizes in scale.json are
kept, so sizes can be run one at a time. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graph.store import Direction
    from graph.trace import TraceService

SEED = 7
FLOW_TYPES = (
    "RECEIVED_AS",
    "SPLIT_INTO",
    "MERGED_INTO",
    "MIXED_INTO",
    "CONSUMED_BY",
    "PRODUCED",
    "SERIALIZED_AS",
    "SHIPPED_IN",
    "SHIPPED_TO",
)
# How many events each batch size is measured over (batches of 1000 take the whole plant).
INGEST_SPANS = {1: 1_000, 100: 20_000}

# -- raw baselines: what an engineer would write by hand against each engine ----------------------

# The same answer as a trace: every reached node with all its columns and its shortest depth,
# and every flow edge between reached nodes with all its fields.
RAW_SQL_NODES = {
    "down": """
WITH RECURSIVE reach (nid, depth) AS (
    SELECT nid, 0 FROM nodes WHERE gid = ?
    UNION
    SELECT e.dst, r.depth + 1 FROM reach r JOIN edges e ON e.src = r.nid WHERE e.flow = 1
)
SELECT n.nid, n.gid, n.kind, n.part, n.unit, n.qty, n.consumed, n.status, n.created_at,
       n.created_by, n.props, MIN(r.depth)
FROM reach r JOIN nodes n ON n.nid = r.nid GROUP BY r.nid
""",
    "up": """
WITH RECURSIVE reach (nid, depth) AS (
    SELECT nid, 0 FROM nodes WHERE gid = ?
    UNION
    SELECT e.src, r.depth + 1 FROM reach r JOIN edges e ON e.dst = r.nid WHERE e.flow = 1
)
SELECT n.nid, n.gid, n.kind, n.part, n.unit, n.qty, n.consumed, n.status, n.created_at,
       n.created_by, n.props, MIN(r.depth)
FROM reach r JOIN nodes n ON n.nid = r.nid GROUP BY r.nid
""",
}
RAW_SQL_EDGES = {
    "down": """
SELECT e.src, e.dst, e.type, e.qty, e.share, e.part, e.at, e.event FROM json_each(?) j
JOIN edges e ON e.src = j.value AND e.flow = 1
""",
    "up": """
SELECT e.src, e.dst, e.type, e.qty, e.share, e.part, e.at, e.event FROM json_each(?) j
JOIN edges e ON e.dst = j.value AND e.flow = 1
""",
}
RAW_SQL_WINDOW = """
SELECT s.gid, s.props, e.type, n.gid, e.qty
FROM nodes q CROSS JOIN edges o ON o.dst = q.nid AND o.type = 'ON'
CROSS JOIN nodes s ON s.nid = o.src
CROSS JOIN edges e ON e.dst = s.nid AND e.type = 'CONSUMED_BY'
CROSS JOIN nodes n ON n.nid = e.src
WHERE q.gid = ?1 AND o.at <= ?2 AND o.until >= ?3
UNION ALL
SELECT s.gid, s.props, e.type, n.gid, e.qty
FROM nodes q CROSS JOIN edges o ON o.dst = q.nid AND o.type = 'ON'
CROSS JOIN nodes s ON s.nid = o.src
CROSS JOIN edges e ON e.src = s.nid AND e.type = 'PRODUCED'
CROSS JOIN nodes n ON n.nid = e.dst
WHERE q.gid = ?1 AND o.at <= ?2 AND o.until >= ?3
"""
_FLOW = "|".join(FLOW_TYPES)
RAW_CYPHER = {
    "down": "MATCH (s:Node {gid: $gid})-[:" + _FLOW + "*0..]->(n:Node) WITH DISTINCT n "
    "OPTIONAL MATCH (n)-[e:" + _FLOW + "]->(m:Node) "
    "RETURN properties(n), "
    "collect([n.gid, m.gid, type(e), e.qty, e.share, e.part, e.at, e.event])",
    "up": "MATCH (s:Node {gid: $gid})<-[:" + _FLOW + "*0..]-(n:Node) WITH DISTINCT n "
    "OPTIONAL MATCH (n)<-[e:" + _FLOW + "]-(m:Node) "
    "RETURN properties(n), "
    "collect([m.gid, n.gid, type(e), e.qty, e.share, e.part, e.at, e.event])",
}
# Node properties the Neo4j store keeps in columns of their own; the rest are the node's props.
RAW_CORE = ("gid", "kind", "part", "unit", "qty", "consumed", "status", "created_by", "created_at")
RAW_CYPHER_WINDOW = """
MATCH (:Node {gid: $equipment})<-[o:ON]-(s:Node)
WHERE o.at <= $end AND o.until >= $start
CALL (s) {
    MATCH (i:Node)-[e:CONSUMED_BY]->(s) RETURN collect([i.gid, e.qty]) AS inputs
}
CALL (s) {
    MATCH (s)-[e:PRODUCED]->(p:Node) RETURN collect([p.gid, e.qty]) AS outputs
}
RETURN properties(s), inputs, outputs
"""


# -- small helpers ------------------------------------------------------------------------------


def _peak_rss_mib() -> float:
    # VmHWM starts afresh in a spawned child; ru_maxrss would keep the parent's peak at fork.
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentiles(samples: Sequence[float]) -> list[float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return [at(0.50), at(0.95), at(0.99)]


def _timed(work: Callable[[], Any], repeat: int, warmup: int = 3) -> list[float]:
    """Return wall times of `repeat` runs, then this process's mean CPU time per run."""
    for _ in range(warmup):
        work()
    samples = []
    start_cpu = time.process_time()
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return [*samples, (time.process_time() - start_cpu) / repeat]


def _summary(timed: list[float]) -> list[float]:
    """p50, p95, p99 of the wall times and the mean CPU time, in ms."""
    return [*_percentiles(timed[:-1]), timed[-1] * 1000]


def _in_child(function: Callable[..., Any], *args: Any) -> Any:
    """Run one phase in a fresh process, so its peak memory is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_reported, function, *args).result()


def _reported(function: Callable[..., Any], *args: Any) -> Any:
    # Domain errors do not survive pickling back to the parent: send their text instead.
    try:
        return function(*args)
    except Exception as error:
        raise RuntimeError(f"{type(error).__name__}: {error}") from None


def _plant_events(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as handle:
        for line in handle:
            yield json.loads(line)


def _chunks(events: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for event in events:
        batch.append(event)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- phases (each runs in a child process) ------------------------------------------------------


def generate(size: int, path: Path) -> dict[str, Any]:
    """Write the plant's events as NDJSON; return its shape."""
    from ingest.demo_plant import DemoPlant

    plant = DemoPlant(size=size, seed=SEED, scale=True)
    count = 0
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as handle:
        for event in plant.events():
            handle.write(json.dumps(event) + "\n")
            count += 1
    tmp.replace(path)
    return {"events": count, "items": plant.items}


def ingest_run(store_url: str, events_path: Path, batch: int, limit: int | None) -> dict[str, Any]:
    """Ingest the first `limit` events (all when None) in batches; return rates and memory."""
    from ingest.service import IngestService, open_store_for_use

    store = open_store_for_use(store_url)
    if store_url.startswith(("bolt", "neo4j")):
        store.wipe()  # type: ignore[attr-defined]
    service = IngestService(store)
    events = _plant_events(events_path)
    count = 0
    wall = cpu = 0.0
    for chunk in _chunks(events, batch):
        if limit is not None and count >= limit:
            break
        start, start_cpu = time.perf_counter(), time.process_time()
        service.ingest(chunk)
        wall += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
        count += len(chunk)
        if count % 50_000 < batch:
            print(f"  {count:,} events, {count / wall:,.0f}/s", file=sys.stderr, flush=True)
    store.close()
    return {
        "batch": batch,
        "events": count,
        "wall_s": wall,
        "cpu_s": cpu,
        "per_s": count / wall,
        "per_cpu_s": count / cpu,
        "peak_rss_mib": _peak_rss_mib(),
    }


class Floor:
    """Flow edges as compressed sparse rows in memory: the practical floor of a traversal."""

    def __init__(self, db: Path) -> None:
        import numpy as np
        from scipy.sparse import csr_matrix

        conn = sqlite3.connect(db)
        nid_rows = conn.execute("SELECT nid, gid FROM nodes ORDER BY nid").fetchall()
        self.gids = [gid for _, gid in nid_rows]
        self.index = {gid: i for i, gid in enumerate(self.gids)}
        position = np.zeros(max(nid for nid, _ in nid_rows) + 1, dtype=np.int64)
        position[[nid for nid, _ in nid_rows]] = np.arange(len(nid_rows))
        src, dst = (
            np.array(column, dtype=np.int64).reshape(-1)
            for column in zip(
                *conn.execute("SELECT src, dst FROM edges WHERE flow = 1"), strict=True
            )
        )
        src, dst = position[src], position[dst]
        n = len(self.gids)
        ones = np.ones(len(src), dtype=np.int8)
        self.down = csr_matrix((ones, (src, dst)), shape=(n, n))
        self.up = self.down.T.tocsr()
        # Equipment windows: ON edges sorted by equipment, with step inputs and outputs as CSR.
        on = conn.execute(
            "SELECT e.dst, e.src, e.at, e.until FROM edges e WHERE e.type = 'ON' ORDER BY e.dst"
        ).fetchall()
        self.on_equipment = np.array([position[r[0]] for r in on], dtype=np.int64)
        self.on_step = np.array([position[r[1]] for r in on], dtype=np.int64)
        self.on_at = np.array([r[2] for r in on])
        self.on_until = np.array([r[3] for r in on])
        conn.close()
        self._np = np
        self._seen = np.zeros(n, dtype=bool)

    def reach(self, gid: str, direction: str) -> tuple[Any, int]:
        """Return the reached node indices and the number of flow edges among them.

        Breadth-first by whole levels in numpy; the visited flags are kept between calls and
        only the reached entries reset, so a query costs what it reaches, not the graph's size.
        """
        np = self._np
        graph = self.down if direction == "down" else self.up
        indptr, indices, seen = graph.indptr, graph.indices, self._seen
        frontier = np.array([self.index[gid]], dtype=np.int64)
        seen[frontier] = True
        levels = [frontier]
        edges = 0
        while frontier.size:
            low, counts = indptr[frontier], indptr[frontier + 1] - indptr[frontier]
            total = int(counts.sum())
            if total == 0:
                break
            edges += total
            offsets = np.repeat(low - np.cumsum(counts) + counts, counts) + np.arange(total)
            ahead = np.unique(indices[offsets])
            frontier = ahead[~seen[ahead]]
            seen[frontier] = True
            levels.append(frontier)
        order = np.concatenate(levels)
        seen[order] = False
        return order, edges

    def window(self, equipment: str, start: str, end: str) -> tuple[Any, Any, Any]:
        np = self._np
        left = np.searchsorted(self.on_equipment, self.index[equipment], side="left")
        right = np.searchsorted(self.on_equipment, self.index[equipment], side="right")
        at, until = self.on_at[left:right], self.on_until[left:right]
        steps = self.on_step[left:right][(at <= end) & (until >= start)]
        inputs = [self.up.indices[self.up.indptr[s] : self.up.indptr[s + 1]] for s in steps]
        outputs = [self.down.indices[self.down.indptr[s] : self.down.indptr[s + 1]] for s in steps]
        return steps, inputs, outputs


def choose_sources(db: Path) -> dict[str, Any]:
    """Pick supplier lots of small, median and largest fan-out, a finished kit, a window."""
    floor = Floor(db)
    fanout = sorted(
        (len(floor.reach(gid, "down")[0]), gid)
        for gid in floor.gids
        if gid.startswith("supplier_lot:")
    )
    median = fanout[len(fanout) // 2]
    order, _ = floor.reach(median[1], "down")
    kits = sorted(floor.gids[i] for i in order if floor.gids[i].startswith("serial:KIT"))
    conn = sqlite3.connect(db)
    ats = [
        row[0]
        for row in conn.execute(
            "SELECT e.at FROM edges e JOIN nodes q ON q.nid = e.dst "
            "WHERE e.type = 'ON' AND q.gid = 'equipment:LATHE-1' ORDER BY e.at"
        )
    ]
    depth_rows = conn.execute("SELECT COUNT(*) FROM nodes WHERE kind IN ('lot', 'serial')")
    items = depth_rows.fetchone()[0]
    conn.close()
    middle = datetime.fromisoformat(ats[len(ats) // 2].replace("Z", "+00:00"))
    day = middle.replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "sources": {"small": fanout[0], "median": median, "largest": fanout[-1]},
        "supplier_lots": len(fanout),
        "fanout_quartiles": [fanout[len(fanout) * q // 4][0] for q in (1, 2, 3)],
        "kit": kits[len(kits) // 2] if kits else None,
        "window": ("equipment:LATHE-1", day.isoformat(), (day + timedelta(days=1)).isoformat()),
        "items": items,
    }


def _queries(picked: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, kind, root) of every measured query."""
    queries: list[tuple[str, str, str]] = []
    if picked["kit"]:
        queries.append(("trace up, finished kit serial", "up", picked["kit"]))
    for label in ("small", "median", "largest"):
        queries.append((f"trace down, {label} supplier lot", "down", picked["sources"][label][1]))
    for label in ("small", "median", "largest"):
        queries.append((f"impact, {label} supplier lot", "impact", picked["sources"][label][1]))
    queries.append(("equipment window, one day", "window", picked["window"][0]))
    return queries


def _direction(kind: str) -> Direction:
    """The direction a measured query walks: impact walks down, as trace down does."""
    return "up" if kind == "up" else "down"


def _impact(traces: TraceService, root: str) -> Any:
    from graph.analysis import impact

    return impact(traces.trace(root, "down"))


def query_run(
    store_url: str, db: Path, picked: dict[str, Any], repeat: int, floor: bool
) -> dict[str, Any]:
    """Time our queries, then the raw query on the same engine, then (optionally) the floor."""
    from graph.trace import TraceService
    from ingest.service import open_store_for_use

    store = open_store_for_use(store_url)
    traces = TraceService(store)
    _, start, end = picked["window"]
    day = (datetime.fromisoformat(start), datetime.fromisoformat(end))
    ours: dict[str, Callable[[], Any]] = {}
    sizes: dict[str, int] = {}
    for label, kind, root in _queries(picked):
        if kind == "window":
            ours[label] = partial(traces.equipment_window, root, *day)
            sizes[label] = len(ours[label]())
        elif kind == "impact":
            ours[label] = partial(_impact, traces, root)
            sizes[label] = len(traces.trace(root, "down").nodes)
        else:
            ours[label] = partial(traces.trace, root, _direction(kind))
            sizes[label] = len(ours[label]().nodes)
    results: dict[str, Any] = {"queries": {}}
    for label, work in ours.items():
        results["queries"][label] = {
            "nodes": sizes[label],
            "ours": _summary(_timed(work, repeat)),
        }
    results["service_peak_rss_mib"] = _peak_rss_mib()

    neo4j = store_url.startswith(("bolt", "neo4j"))
    raw = _raw_neo4j(store) if neo4j else _raw_sqlite(db)
    for label, kind, root in _queries(picked):
        direction = _direction(kind)
        work = (
            partial(raw["window"], *picked["window"])
            if kind == "window"
            else partial(raw[direction], root)
        )
        if kind != "window":
            # The raw query must give the answer we give, or the ratio compares unlike work.
            same = work() == traces.trace(root, direction).to_dict()
            results["queries"][label]["same_answer"] = same
            if not same:
                print(f"  {label}: the raw answer differs from ours", file=sys.stderr)
        results["queries"][label]["raw"] = _summary(_timed(work, repeat))
    store.close()
    if floor:
        index = Floor(db)
        for label, kind, root in _queries(picked):
            if kind == "window":
                work = partial(index.window, *picked["window"])
            else:
                work = partial(index.reach, root, _direction(kind))
            results["queries"][label]["floor"] = _summary(_timed(work, repeat))
    return results


def _raw_attrs(row: Sequence[Any], props: dict[str, Any]) -> dict[str, Any]:
    """A node's attributes as a trace shows them, from (gid, kind, part, unit, qty, consumed,
    status, created_at, created_by)."""
    gid, kind, part, unit, qty, consumed, status, created_at, created_by = row
    attrs = {"key": gid.partition(":")[2], **props}
    if part is not None:
        attrs["part"] = part
    if qty is not None:
        attrs["qty"] = qty
        if kind in ("lot", "serial"):
            attrs["available"] = format(Decimal(qty) - Decimal(consumed or 0), "f")
    for name, value in (
        ("unit", unit),
        ("status", status),
        ("created_at", created_at),
        ("created_by", created_by),
    ):
        if value is not None:
            attrs[name] = value
    return attrs


def _raw_answer(
    root: str,
    direction: str,
    nodes: list[tuple[str, str, int, dict[str, Any]]],
    edges: list[tuple[Any, ...]],
) -> dict[str, Any]:
    """The trace answer from raw rows: nodes by depth with exposure (down) or share (up), edges.

    The exposure math is graph.exposure's, the one definition of the answer; everything else is
    the plain decoding anyone would write by hand.
    """
    from graph.exposure import downstream_exposure, upstream_shares
    from graph.store import EdgeView

    kinds = {gid: kind for gid, kind, _, _ in nodes}
    views = [
        EdgeView(s, d, t, None, share, part, at, ev) for s, d, t, _, share, part, at, ev in edges
    ]
    weights = (
        downstream_exposure(root, kinds, views)
        if direction == "down"
        else upstream_shares(root, kinds, views)
    )
    key = "exposure" if direction == "down" else "share"
    body = [
        {"id": gid, "kind": kind, "depth": depth, key: weights.get(gid, 0.0), **attrs}
        for gid, kind, depth, attrs in sorted(nodes, key=lambda n: (n[2], n[0]))
    ]
    links = [
        {"from": s, "to": d, "type": t, "qty": qty, "event": ev, "at": at}
        for s, d, t, qty, _, _, at, ev in sorted(edges, key=lambda e: (e[0], e[1], e[2], e[7]))
    ]
    return {"root": root, "direction": direction, "nodes": body, "edges": links}


def _depths(root: str, direction: str, edges: list[tuple[Any, ...]]) -> dict[str, int]:
    """Shortest depth of every node an edge list reaches from `root`, breadth-first."""
    ahead: dict[str, list[str]] = {}
    for edge in edges:
        near, far = (edge[0], edge[1]) if direction == "down" else (edge[1], edge[0])
        ahead.setdefault(near, []).append(far)
    depths = {root: 0}
    frontier = [root]
    while frontier:
        reached = []
        for near in frontier:
            for far in ahead.get(near, ()):
                if far not in depths:
                    depths[far] = depths[near] + 1
                    reached.append(far)
        frontier = reached
    return depths


def _raw_sqlite(db: Path) -> dict[str, Callable[..., Any]]:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA cache_size = -65536")
    conn.execute("PRAGMA mmap_size = 268435456")

    def walk(direction: str) -> Callable[[str], Any]:
        def run(root: str) -> Any:
            conn.execute("BEGIN")
            rows = conn.execute(RAW_SQL_NODES[direction], (root,)).fetchall()
            gids = {row[0]: row[1] for row in rows}
            edges = [
                (gids[src], gids[dst], *rest)
                for src, dst, *rest in conn.execute(
                    RAW_SQL_EDGES[direction], (json.dumps(list(gids)),)
                )
            ]
            conn.execute("COMMIT")
            props = json.loads("[" + ",".join(row[10] for row in rows) + "]")
            nodes = [
                (row[1], row[2], row[11], _raw_attrs(row[1:10], extra))
                for row, extra in zip(rows, props, strict=True)
            ]
            return _raw_answer(root, direction, nodes, edges)

        return run

    def window(equipment: str, start: str, end: str) -> Any:
        return conn.execute(RAW_SQL_WINDOW, (equipment, _utc(end), _utc(start))).fetchall()

    return {"down": walk("down"), "up": walk("up"), "window": window}


def _raw_neo4j(store: Any) -> dict[str, Callable[..., Any]]:
    driver = store._driver  # the same connection pool the store uses

    def walk(direction: str) -> Callable[[str], Any]:
        def run(root: str) -> Any:
            records = driver.execute_query(RAW_CYPHER[direction], gid=root).records
            edges = [tuple(edge) for record in records for edge in record[1] if edge[2]]
            depths = _depths(root, direction, edges)
            nodes = []
            for record in records:
                props = record[0]
                core = [props.get(name) for name in RAW_CORE]
                extra = {k: v for k, v in props.items() if k not in RAW_CORE}
                row = (*core[:7], core[8], core[7])  # ... created_at before created_by
                nodes.append((core[0], core[1], depths[core[0]], _raw_attrs(row, extra)))
            return _raw_answer(root, direction, nodes, edges)

        return run

    def window(equipment: str, start: str, end: str) -> Any:
        return driver.execute_query(
            RAW_CYPHER_WINDOW, equipment=equipment, start=_utc(start), end=_utc(end)
        ).records

    return {"down": walk("down"), "up": walk("up"), "window": window}


def _utc(text: str) -> str:
    from graph.clock import utc_text

    return utc_text(datetime.fromisoformat(text))


# -- the run ------------------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    import neo4j
    import numpy
    import pydantic
    import scipy

    memory = 0
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) // 1024
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_mib": memory,
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "pydantic": pydantic.VERSION,
        "neo4j_driver": neo4j.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
    }


def _neo4j_version(url: str) -> str:
    from neo4j import GraphDatabase

    with GraphDatabase.driver(url, auth=("neo4j", "")) as driver:
        record = driver.execute_query(
            "CALL dbms.components() YIELD versions, edition RETURN versions[0], edition"
        ).records[0]
        return f"{record[0]} {record[1]}"


def run_size(
    size: int,
    work: Path,
    neo4j: str | None,
    repeat: int,
    log: Callable[[str], None],
    neo4j_home: Path | None = None,
) -> dict[str, Any]:
    events_path = work / f"plant-{size}.ndjson"
    db = work / f"plant-{size}.db"
    built = work / f"plant-{size}.json"
    if not events_path.exists():
        log(f"{size}: generating the plant")
        _in_child(generate, size, events_path)
    result: dict[str, Any] = {
        "size": size,
        "ingest": {},
        "queries": {},
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "load_average": os.getloadavg(),
    }
    if built.exists() and db.exists():
        full = json.loads(built.read_text())
        log(f"{size}: reusing {db.name} (built at {full['per_s']:,.0f} events/s)")
    else:
        db.unlink(missing_ok=True)
        log(f"{size}: building the embedded store, batches of 1,000")
        full = _in_child(ingest_run, f"sqlite:///{db}", events_path, 1000, None)
        built.write_text(json.dumps(full))
    stores = {"embedded": None} | ({"neo4j": neo4j} if neo4j else {})
    for name, url in stores.items():
        rows = []
        for batch, span in INGEST_SPANS.items():
            scratch = Path(tempfile.mkdtemp(prefix="tracegraph-ingest-"))
            target = url or f"sqlite:///{scratch / 'ingest.db'}"
            log(f"{size}: {name} ingest, batches of {batch}")
            rows.append(
                _server_timed(
                    neo4j_home if url else None, ingest_run, target, events_path, batch, span
                )
            )
            shutil.rmtree(scratch)
        if url is None:
            rows.append(full)
        else:
            log(f"{size}: {name} ingest of the whole plant, batches of 1,000")
            rows.append(_server_timed(neo4j_home, ingest_run, url, events_path, 1000, None))
        result["ingest"][name] = rows
    chosen = work / f"plant-{size}.sources.json"
    if chosen.exists():
        picked = json.loads(chosen.read_text())
    else:
        log(f"{size}: choosing sources")
        picked = _in_child(choose_sources, db)
        chosen.write_text(json.dumps(picked))
    result["picked"] = picked
    for name, url in stores.items():
        log(f"{size}: {name} queries")
        result["queries"][name] = _in_child(
            query_run, url or f"sqlite:///{db}", db, picked, repeat, name == "embedded"
        )
    result["db_mib"] = db.stat().st_size / 2**20
    return result


# -- report -------------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def render(report: dict[str, Any]) -> str:
    machine = report["machine"]
    out = [
        "# Plant-scale benchmark",
        "",
        f"Demo plant in scale mode (seed {SEED}), `python -m bench.scale`. "
        f"{machine['cores']} cores ({machine['cpu']}), {machine['memory_mib']:,} MiB memory; "
        f"load average at the start {', '.join(f'{x:.1f}' for x in machine['load_average'])} "
        "(other benchmarks share the machine, so wall times include waiting for a core; "
        "ingest also shows the rate per CPU second of the ingesting process). "
        f"Python {machine['python']}, SQLite {machine['sqlite']}, pydantic {machine['pydantic']}, "
        f"neo4j driver {machine['neo4j_driver']}, Neo4j {report.get('neo4j_version', 'not run')}"
        f"{' (' + report['neo4j_memory'] + ')' if report.get('neo4j_memory') else ''}, "
        f"numpy {machine['numpy']}, scipy {machine['scipy']}; {machine['date']}.",
        *(f"\n{note}" for note in report.get("notes", [])),
    ]
    sizes = sorted(report["sizes"].values(), key=lambda r: r["size"])
    out += ["", "## Plants", ""]
    rows = []
    for r in sizes:
        p = r["picked"]
        full = r["ingest"]["embedded"][-1]
        rows.append(
            [
                f"{r['size']:,}",
                f"{p['items']:,}",
                f"{full['events']:,}",
                f"{p['supplier_lots']:,}",
                " / ".join(str(x) for x in p["fanout_quartiles"]),
                f"{p['sources']['small'][0]:,} / {p['sources']['median'][0]:,} / "
                f"{p['sources']['largest'][0]:,}",
                f"{r['db_mib']:,.0f}",
            ]
        )
    out += _table(
        [
            "size",
            "items",
            "events",
            "supplier lots",
            "fan-out quartiles (nodes)",
            "chosen: small / median / largest",
            "SQLite MiB",
        ],
        rows,
    )
    out += ["", "## Ingest through IngestService (validation included)", ""]
    rows = []
    for r in sizes:
        for store, runs in r["ingest"].items():
            for run in runs:
                rows.append(
                    [
                        f"{r['size']:,}",
                        store,
                        f"{run['batch']:,}",
                        f"{run['events']:,}",
                        f"{run['per_s']:,.0f}",
                        f"{run['per_cpu_s']:,.0f}",
                        f"{run['server_cpu_s']:,.1f}" if "server_cpu_s" in run else "",
                        f"{run['peak_rss_mib']:,.0f}",
                    ]
                )
    out += _table(
        [
            "size",
            "store",
            "batch",
            "events",
            "events/s (wall)",
            "events/CPU s",
            "server CPU s",
            "peak RSS MiB",
        ],
        rows,
    )
    out += [
        "",
        "## Queries (ms; ours vs the raw query on the same engine and the in-memory floor)",
        "",
        "`raw` is a hand-written recursive CTE (SQLite) or variable-length Cypher (Neo4j) that "
        "gives the answer a trace gives: every reached node with all its attributes and its "
        "depth, every flow edge with its quantity, share, time and event, decoded by hand, and "
        "the exposure (down) or shares (up) from graph.exposure, the one definition of that math; "
        "`same` says the raw answer equalled ours before timing. For `impact` the raw query is the "
        "trace down, so that ratio also counts the summary. `floor` is a breadth-first search by "
        "whole levels in numpy over a scipy CSR adjacency array already in memory (the edge count "
        "is gathered too): it reaches the nodes, no attributes. `CPU ms` is the mean CPU time of "
        "the querying process per run (the Neo4j server's time not included). Ratios compare "
        "medians, and CPU times: on a shared machine a wait for a core moves a wall time, and "
        "for the embedded store, where all the work is in the process, the CPU ratio is the "
        "steadier one.",
        "",
    ]
    rows = []
    for r in sizes:
        for store, q in r["queries"].items():
            for label, m in q["queries"].items():
                ours, raw = m["ours"], m["raw"]
                floor = m.get("floor") or r["queries"]["embedded"]["queries"][label].get("floor")
                rows.append(
                    [
                        f"{r['size']:,}",
                        store,
                        label,
                        f"{m['nodes']:,}",
                        *(_ms(v) for v in ours[:3]),
                        _ms(ours[3]) if len(ours) > 3 else "",
                        _ms(raw[0]),
                        _ms(raw[1]),
                        _ms(raw[3]) if len(raw) > 3 else "",
                        {True: "yes", False: "NO"}.get(m.get("same_answer"), ""),
                        _ms(floor[0]) if floor else "",
                        f"{ours[0] / raw[0]:.2f}",
                        f"{ours[3] / raw[3]:.2f}" if len(ours) > 3 and len(raw) > 3 else "",
                        f"{ours[0] / floor[0]:,.0f}" if floor else "",
                    ]
                )
    out += _table(
        [
            "size",
            "store",
            "query",
            "nodes",
            "p50",
            "p95",
            "p99",
            "CPU ms",
            "raw p50",
            "raw p95",
            "raw CPU ms",
            "same",
            "floor p50",
            "ours/raw (p50)",
            "ours/raw (CPU)",
            "ours/floor (p50)",
        ],
        rows,
    )
    out += [
        "",
        "Peak resident memory of the process answering the queries (ours only; runs before the "
        "VmHWM reading counted the parent's memory at fork too, so they are upper bounds):",
        "",
    ]
    out += _table(
        ["size", "store", "peak RSS MiB"],
        [
            [f"{r['size']:,}", store, f"{q['service_peak_rss_mib']:,.0f}"]
            for r in sizes
            for store, q in r["queries"].items()
        ],
    )
    out += ["", "## Targets", ""]
    # Each size against the targets, the largest first: sizes are run one at a time, so a smaller
    # plant may have been measured on newer code than a larger one.
    for top in reversed(sizes):
        when = (
            f"measured {top['date']}, load average at the start "
            f"{', '.join(f'{x:.1f}' for x in top['load_average'])}"
            if "date" in top
            else "an earlier run"
        )
        out += ["", f"At {top['size']:,} items ({when}):", ""]
        out += _table(["target", "where it stands", "met"], _targets(top))
    out += ["", "![latency vs graph size](scale.png)", ""]
    return "\n".join(out)


def _targets(top: dict[str, Any]) -> list[list[str]]:
    """Each target of the plant-scale issue against one plant's results."""
    rows = []
    where = f"{top['size']:,} items"
    for store, goal in (("embedded", 20_000), ("neo4j", 5_000)):
        runs = [run for run in top["ingest"].get(store, []) if run["batch"] == 1000]
        if runs:
            run = runs[0]
            rows.append(
                [
                    f"ingest, batches of 1,000, {store}: >= {goal:,} events/s",
                    f"{run['per_s']:,.0f}/s wall, {run['per_cpu_s']:,.0f} per CPU second ({where})",
                    "yes" if run["per_s"] >= goal else "no",
                ]
            )
    for store, p95_goal in (("embedded", 50.0), ("neo4j", 150.0)):
        q = top["queries"].get(store, {}).get("queries", {}).get("impact, median supplier lot")
        if q:
            rows.append(
                [
                    f"impact, median supplier lot, {store}: p95 <= {p95_goal:.0f} ms",
                    f"p95 {_ms(q['ours'][1])} ms, CPU {_ms(q['ours'][3])} ms ({where})",
                    "yes" if q["ours"][1] <= p95_goal else "no",
                ]
            )
    for store, q in top["queries"].items():
        traces = [(label, m) for label, m in q["queries"].items() if label.startswith("trace")]
        ratios = [(m["ours"][0] / m["raw"][0], label) for label, m in traces]
        cpu = [m["ours"][3] / m["raw"][3] for _, m in traces if len(m["raw"]) > 3]
        fair = all(m.get("same_answer") for _, m in traces)
        worst = max(ratios)
        rows.append(
            [
                f"trace at most 1.3x the raw query, {store}",
                f"ratios of medians {', '.join(f'{r:.2f}' for r, _ in ratios)}; worst: {worst[1]}"
                + (f"; CPU ratios {', '.join(f'{r:.2f}' for r in cpu)}" if cpu else "")
                + ("" if fair else "; the raw query did not give our answer"),
                "yes" if worst[0] <= 1.3 and fair else "no",
            ]
        )
    peak = max(q["service_peak_rss_mib"] for q in top["queries"].values())
    rows.append(
        [
            "service answers in under 2 GiB resident (the target is at 10^6 items)",
            f"peak {peak:,.0f} MiB ({where})",
            "yes" if peak < 2048 else "no",
        ]
    )
    return rows


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(report["sizes"].values(), key=lambda r: r["size"])
    labels = [
        "trace up, finished kit serial",
        "trace down, median supplier lot",
        "impact, median supplier lot",
        "equipment window, one day",
    ]
    figure, axes = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4.2))
    for axis, label in zip(axes, labels, strict=True):
        lines: dict[str, tuple[list[int], list[float]]] = {}
        for r in sizes:
            for store, q in r["queries"].items():
                m = q["queries"].get(label)
                if m is None:
                    continue
                for series, values in (
                    (f"{store} (ours)", m["ours"]),
                    (f"{store} raw", m["raw"]),
                    ("in-memory floor", m.get("floor")),
                ):
                    if values:
                        xs, ys = lines.setdefault(series, ([], []))
                        xs.append(r["picked"]["items"])
                        ys.append(values[1])
        for series, (xs, ys) in lines.items():
            axis.plot(xs, ys, marker="o", label=series)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(label, fontsize=10)
        axis.set_xlabel("items (lots + serials)")
        axis.set_ylabel("p95 latency, ms")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _start_neo4j(home: Path, log: Callable[[str], None]) -> str | None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "neo4j-local" / "neo4j-local"
    command = [sys.executable, str(script), "start", "--home", str(home)]
    command += ["--heap", "3g", "--heap-initial", "1g", "--pagecache", "2g"]
    command += ["--owner", str(os.getpid())]  # an interrupted run leaves no server behind
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        log(f"no local Neo4j ({done.stderr.strip() or done.stdout.strip()}): embedded only")
        return None
    return done.stdout.strip().splitlines()[-1]


def _stop_neo4j(home: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "neo4j-local" / "neo4j-local"
    subprocess.run([sys.executable, str(script), "stop", "--home", str(home)], check=False)


def _server_cpu_s(home: Path) -> float | None:
    """CPU seconds the local Neo4j server has used so far (user and system), if it runs here."""
    try:
        pid = (home / "run" / "neo4j.pid").read_text().strip()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_timed(home: Path | None, phase: Callable[..., dict[str, Any]], *args: Any) -> Any:
    """Run an ingest phase in a child; add the server's CPU seconds when the server runs here."""
    before = None if home is None else _server_cpu_s(home)
    result = _in_child(phase, *args)
    after = None if home is None else _server_cpu_s(home)
    if before is not None and after is not None:
        result["server_cpu_s"] = after - before
    return result


def _neo4j_rss(home: Path | None) -> str:
    if home is None:
        return ""
    try:
        pid = (home / "run" / "neo4j.pid").read_text().strip()
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return f"server peak RSS {int(line.split()[1]) // 1024:,} MiB"
    except OSError:
        pass
    return ""


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every plant benchmark takes: which Neo4j, and where plants are kept."""
    parser.add_argument(
        "--neo4j",
        default=os.environ.get("NEO4J_URI", "auto"),
        help="Bolt URL of a scratch Neo4j (wiped!), 'auto' to start a local one, or 'none'",
    )
    parser.add_argument(
        "--neo4j-home",
        type=Path,
        help="home of the local server --neo4j names (scripts/neo4j-local), to report its CPU time",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "tracegraph-bench",
        help="where generated plants and stores are kept between runs",
    )


def size_parser(doc: str | None, out: Path) -> argparse.ArgumentParser:
    """The options of a benchmark of one plant: its size, the stores, where the table goes."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000)
    add_store_arguments(parser)
    parser.add_argument("--out", type=Path, default=out)
    return parser


def publish(text: str, out: Path) -> int:
    """Write a benchmark's table to `out` and print it; return the exit code."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


def engines() -> dict[str, Any]:
    """The machine and engine facts a one-plant benchmark prints above its table."""
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average": os.getloadavg(),
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
    }


@contextmanager
def neo4j_server(choice: str, home: Path | None) -> Iterator[tuple[str | None, Path | None]]:
    """Yield the Bolt URL to measure (None: embedded only) and the home of a local server.

    'auto' starts a local server for the duration; 'none' measures the embedded store only.
    """
    if choice == "none":
        yield None, None
        return
    if choice != "auto":
        yield choice, home
        return
    started = Path(tempfile.mkdtemp(prefix="tracegraph-bench-neo4j-"))
    try:
        yield _start_neo4j(started, log), started
    finally:
        _stop_neo4j(started)
        shutil.rmtree(started, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=50, help="timed runs per query")
    add_store_arguments(parser)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument(
        "--render", action="store_true", help="only rewrite scale.md and scale.png from scale.json"
    )
    args = parser.parse_args(argv)
    if args.render:
        kept = json.loads((args.out / "scale.json").read_text())
        (args.out / "scale.md").write_text(render(kept))
        plot(kept, args.out / "scale.png")
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "scale.json"
    report: dict[str, Any] = json.loads(json_path.read_text()) if json_path.exists() else {}
    report.setdefault("sizes", {})
    report["machine"] = _machine()
    with neo4j_server(args.neo4j, args.neo4j_home) as (neo4j, server_home):
        if neo4j:
            report["neo4j_version"] = _neo4j_version(neo4j)
        for size in (int(s) for s in args.sizes.split(",")):
            report["sizes"][str(size)] = run_size(
                size, args.work, neo4j, args.repeat, log, server_home
            )
            report["machine"]["load_average_end"] = os.getloadavg()
            if neo4j and args.neo4j == "auto":
                report["neo4j_memory"] = "heap 3g, page cache 2g; " + _neo4j_rss(server_home)
            json_path.write_text(json.dumps(report, indent=1))
            (args.out / "scale.md").write_text(render(report))
            plot(report, args.out / "scale.png")
    print(render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
