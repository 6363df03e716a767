"""How long moving a plant between stores takes (`tracegraph copy-store`), phase by phase.

    python -m bench.store_copy [--size 100000] [--neo4j auto|none|bolt://...]
                               [--neo4j-home DIR] [--work DIR]
                               [--out bench/results/store_copy.md]

Copies the seeded scale plant of --size items (its embedded store is built once into DIR from the
plant's events, as bench.scale does) into a new embedded file and into Neo4j (wiped first), and
back from Neo4j into a new embedded file, through ingest.store_copy: the log as stored, then the
graph rebuilt from it, then the check that both stores agree. Prints wall and CPU time per phase.
Not a test.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.scale import (
    _chunks,
    _plant_events,
    _server_cpu_s,
    engines,
    generate,
    log,
    neo4j_server,
    publish,
    size_parser,
)
from graph.store import GraphStore
from ingest.service import IngestService, open_store_for_use
from ingest.store_copy import copy_plant

PHASES = ("code schemes and lot sequences", "documents", "event log", "graph", "check")


class PhaseTimes:
    """Wall and CPU time from each phase a copy announces to the next."""

    def __init__(self, server_home: Path | None) -> None:
        self._server_home = server_home
        self.rows: dict[str, list[float]] = {}
        self._current: str | None = None
        self._marks = (0.0, 0.0, 0.0)

    def __call__(self, phase: str) -> None:
        self._close()
        self._current = next(name for name in PHASES if phase.startswith(name))
        self._marks = (time.perf_counter(), time.process_time(), self._server())

    def done(self) -> dict[str, list[float]]:
        self._close()
        return self.rows

    def _close(self) -> None:
        if self._current is not None:
            wall, cpu, server = self._marks
            self.rows[self._current] = [
                time.perf_counter() - wall,
                time.process_time() - cpu,
                self._server() - server,
            ]
        self._current = None

    def _server(self) -> float:
        if self._server_home is None:
            return 0.0
        return _server_cpu_s(self._server_home) or 0.0


def plant_store(size: int, work: Path) -> Path:
    """The embedded store of the scale plant, built once (with `bench.scale`'s plant file)."""
    path = work / f"plant-{size}.db"
    if path.exists():
        return path
    events_path = work / f"plant-{size}.ndjson"
    if not events_path.exists():
        log(f"generating the {size:,}-item plant")
        generate(size, events_path)
    log(f"building its embedded store at {path}")
    building = path.with_suffix(".building.db")
    store = open_store_for_use(f"sqlite:///{building}")
    for batch in _chunks(_plant_events(events_path), 1000):
        IngestService(store).ingest(batch)
    store.close()
    building.replace(path)
    return path


def timed_copy(source: GraphStore, target: GraphStore, server_home: Path | None) -> dict[str, Any]:
    clock = PhaseTimes(server_home)
    copied = copy_plant(source, target, progress=clock)
    return {"events": copied.events, "phases": clock.done()}


def render(size: int, machine: dict[str, Any], runs: dict[str, dict[str, Any]]) -> str:
    events = next(iter(runs.values()))["events"] if runs else 0
    lines = [
        "# Moving a plant between stores",
        "",
        f"Demo plant in scale mode, {size:,} items, {events:,} events, copied with "
        f"`python -m bench.store_copy --size {size}` (what `tracegraph copy-store` runs). "
        f"{machine['cores']} cores, Python {machine['python']}, SQLite {machine['sqlite']}; "
        f"{machine['date']}, load average at the start {machine['load_average'][0]:.1f}.",
        "",
        "Per phase: wall seconds, this process's CPU seconds, and the local Neo4j server's CPU "
        "seconds where there is one. `graph` is the rebuild from the copied log; `check` reads "
        "both logs entry by entry and compares counts, schemes, sequences and documents.",
        "",
        "| copy | phase | wall s | CPU s | server CPU s |",
        "|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        total = [0.0, 0.0, 0.0]
        for phase in PHASES:
            wall, cpu, server = run["phases"].get(phase, [0.0, 0.0, 0.0])
            total = [total[0] + wall, total[1] + cpu, total[2] + server]
            lines.append(f"| {name} | {phase} | {wall:.2f} | {cpu:.2f} | {_server(server)} |")
        rate = run["events"] / total[0] if total[0] else 0.0
        lines.append(
            f"| {name} | **all** ({rate:,.0f} events/s) | {total[0]:.2f} | {total[1]:.2f} "
            f"| {_server(total[2])} |"
        )
    return "\n".join(lines) + "\n"


def _server(seconds: float) -> str:
    return f"{seconds:.2f}" if seconds else ""


def main(argv: Sequence[str] | None = None) -> int:
    out = Path(__file__).parent / "results" / "store_copy.md"
    args = size_parser(__doc__, out).parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    machine = engines()
    source = open_store_for_use(f"sqlite:///{plant_store(args.size, args.work)}")
    runs: dict[str, dict[str, Any]] = {}
    scratch = Path(tempfile.mkdtemp(prefix="tracegraph-copy-"))
    try:
        log("embedded to embedded")
        target = open_store_for_use(f"sqlite:///{scratch / 'copy.db'}")
        runs["embedded to embedded"] = timed_copy(source, target, None)
        target.close()
        with neo4j_server(args.neo4j, args.neo4j_home) as (neo4j, server_home):
            if neo4j:
                from graph.neo4j_store import Neo4jStore

                server = Neo4jStore(neo4j)
                server.wipe()
                log("embedded to neo4j")
                runs["embedded to neo4j"] = timed_copy(source, server, server_home)
                log("neo4j to embedded")
                back = open_store_for_use(f"sqlite:///{scratch / 'back.db'}")
                runs["neo4j to embedded"] = timed_copy(server, back, server_home)
                back.close()
                server.close()
    finally:
        source.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return publish(render(args.size, machine, runs), args.out)


if __name__ == "__main__":
    raise SystemExit(main())
