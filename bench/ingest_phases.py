"""Where ingest time goes, phase by phase, on both stores: the floor under the ingest rates.

    python -m bench.ingest_phases [--size 100000] [--neo4j auto|none|bolt://...]
                                  [--neo4j-home DIR] [--work DIR]
                                  [--out bench/results/ingest_phases.md]

Ingests the seeded scale plant of --size items (generated once into DIR, as bench.scale does)
in batches of 1,000 with a clock around each phase of IngestService: validation against the
contract, canonical payload and digest, planning (with the reads it makes), the store's writes,
and the rest of the transaction (lock, idempotency read, commit). Prints this process's CPU and
the wall time per event for each phase, and the CPU of a local Neo4j server per event. The
clocks cost a few per cent; bench.scale gives the rates without them.

Then the writes each store was sent are replayed into an empty store of its kind with nothing
else to do (bench.ingest_floor): the floor the engines put under any ingest. Not a test.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.ingest_floor import (
    EVENT_LOG,
    ITEMS_AND_LINKS,
    Recording,
    Replay,
    neo4j_parts,
    recorded_writes,
    replay_c,
    replay_neo4j,
    replay_python,
)
from bench.scale import (
    SEED,
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

BATCH = 1000
WARM_UP = 20_000
FLOOR_WAYS = (
    "its writes through Python's sqlite3",
    "its writes through SQLite's C API",
    "its write statements through the driver",
)
# (key, what the row says); "transaction" and "total" are clocked to derive the last two rows.
PHASES = (
    ("validate", "validation against the contract (pydantic)"),
    ("canonical", "canonical payload and digest"),
    ("plan", "planning, with the reads it makes"),
    ("write", "store writes"),
    ("rest", "rest of the transaction: lock, idempotency read, commit"),
    ("other", "outside the transaction: collector pause, report"),
)


class PhaseClock:
    """Process CPU and wall seconds spent in each named phase."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)

    def timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.wall[name] += time.perf_counter() - start
                self.cpu[name] += time.process_time() - start_cpu

        return run

    def derived(self) -> tuple[dict[str, float], dict[str, float]]:
        """Return CPU and wall per phase, the rest of the transaction and other included."""
        results = []
        for clocked in (self.cpu, self.wall):
            phases = {key: clocked[key] for key in ("validate", "canonical", "plan", "write")}
            phases["rest"] = clocked["transaction"] - phases["plan"] - phases["write"]
            before = phases["validate"] + phases["canonical"]
            phases["other"] = clocked["total"] - before - clocked["transaction"]
            phases["total"] = clocked["total"]
            results.append(phases)
        return results[0], results[1]


@contextmanager
def clocked(clock: PhaseClock) -> Iterator[None]:
    """Put the clock around each phase of ingest, on both stores, for the duration."""
    from graph.embedded_store import EmbeddedStore, EmbeddedTx
    from graph.neo4j_store import Neo4jStore, Neo4jTx
    from ingest import service
    from ingest.planner import Planner

    targets: list[tuple[Any, str, str]] = [
        (service, "parse_events", "validate"),
        (service, "payload_and_digest", "canonical"),
        (Planner, "plan", "plan"),
        (EmbeddedTx, "apply", "write"),
        (Neo4jTx, "apply", "write"),
        (EmbeddedStore, "write", "transaction"),
        (Neo4jStore, "write", "transaction"),
        (service.IngestService, "ingest", "total"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]
    for (owner, name, phase), (_, _, original) in zip(targets, originals, strict=True):
        setattr(owner, name, clock.timed(phase, original))
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def run_store(
    store_url: str, warm_up_url: str, events_path: Path, server_home: Path | None
) -> dict[str, Any]:
    """Ingest the whole plant into one store under the clock; return its phases per event.

    The first WARM_UP events go first into the store at `warm_up_url` (the same server, wiped
    afterwards, for Neo4j), so compilers and plan caches are warm, as in a plant that runs.
    """
    from ingest.service import IngestService, open_store_for_use

    warm = open_store_for_use(warm_up_url)
    neo4j = warm_up_url.startswith(("bolt", "neo4j"))
    if neo4j:
        warm.wipe()  # type: ignore[attr-defined]
    for chunk in itertools.islice(_chunks(_plant_events(events_path), BATCH), WARM_UP // BATCH):
        IngestService(warm).ingest(chunk)
    if neo4j:
        warm.wipe()  # type: ignore[attr-defined]
    warm.close()
    store = open_store_for_use(store_url)
    service = IngestService(store)
    clock = PhaseClock()
    recording = Recording()
    count = 0
    server_before = None if server_home is None else _server_cpu_s(server_home)
    with recorded_writes(recording), clocked(clock):
        for chunk in _chunks(_plant_events(events_path), BATCH):
            service.ingest(chunk)
            count += len(chunk)
    server_after = None if server_home is None else _server_cpu_s(server_home)
    ingested = store.counts()
    store.close()
    cpu, phase_wall = clock.derived()
    result: dict[str, Any] = {
        "events": count,
        "per_s": count / clock.wall["total"],
        "cpu_us": {key: value / count * 1e6 for key, value in cpu.items()},
        "wall_us": {key: value / count * 1e6 for key, value in phase_wall.items()},
    }
    if server_before is not None and server_after is not None:
        result["server_cpu_us"] = (server_after - server_before) / count * 1e6
    result["floor"], result["parts"] = _floor(store_url, recording, server_home, count, ingested)
    return result


def _floor(
    store_url: str,
    recording: Recording,
    server_home: Path | None,
    count: int,
    ingested: dict[str, int],
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Replay the recorded writes with nothing else to do; return per-event figures by way,
    and for Neo4j by part of the writes (neo4j_parts)."""
    parts: dict[str, Replay] = {}
    if store_url.startswith("sqlite"):
        log("replaying its writes: Python's sqlite3, then SQLite's C API")
        replays = {FLOOR_WAYS[0]: replay_python(recording), FLOOR_WAYS[1]: replay_c(recording)}
    else:
        log("replaying its writes to Neo4j")

        def server_cpu() -> float | None:
            return None if server_home is None else _server_cpu_s(server_home)

        from graph.neo4j_store import Neo4jStore
        from ingest.service import open_store_for_use

        store = open_store_for_use(store_url)
        assert isinstance(store, Neo4jStore)
        try:
            replays = {FLOOR_WAYS[2]: replay_neo4j(store, recording, server_cpu)}
            log("replaying parts of its writes to Neo4j")
            parts = {
                part: replay_neo4j(store, cut, server_cpu)
                for part, cut in neo4j_parts(recording).items()
            }
        finally:
            store.close()
    for way, replay in replays.items():
        # A floor that wrote another graph would measure nothing.
        if replay is not None and replay.counts != ingested:
            raise RuntimeError(f"{way} wrote {replay.counts}, the ingest {ingested}")
    return _per_event(replays, count), _per_event(parts, count)


def _per_event(replays: Mapping[str, Replay | None], count: int) -> dict[str, dict[str, float]]:
    figures: dict[str, dict[str, float]] = {}
    for way, replay in replays.items():
        if replay is None:
            continue
        figures[way] = {
            "cpu_us": replay.cpu_s / count * 1e6,
            "wall_us": replay.wall_s / count * 1e6,
        }
        if replay.server_cpu_s is not None:
            figures[way]["server_cpu_us"] = replay.server_cpu_s / count * 1e6
    return figures


def render(size: int, machine: dict[str, Any], runs: dict[str, dict[str, Any]]) -> str:
    stores = list(runs)
    kinds = ("CPU", "wall")
    header = ["phase"] + [f"{store} {kind} us/event" for store in stores for kind in kinds]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def row(label: str, key: str) -> str:
        cells = [f"{runs[s][kind][key]:.1f}" for s in stores for kind in ("cpu_us", "wall_us")]
        return f"| {label} | " + " | ".join(cells) + " |"

    lines += [row(label, key) for key, label in PHASES]
    lines.append(row("**total**", "total"))
    rates = [f"{runs[s]['per_s']:,.0f} events/s" for s in stores for _ in (0, 1)]
    lines.append("| rate (wall), clocks included | " + " | ".join(rates) + " |")
    events = next(iter(runs.values()))["events"]
    text = [
        "# Ingest by phase",
        "",
        f"Demo plant in scale mode, {size:,} items (seed {SEED}), {events:,} events in batches "
        f"of {BATCH:,}, `python -m bench.ingest_phases --size {size}`. {machine['cores']} cores, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average at the start "
        f"{machine['load_average'][0]:.1f}.",
        "",
        "CPU is this process's; wall includes waiting for a server. The clocks themselves cost "
        "a few per cent: `bench.scale` gives the rates without them.",
        "",
        *lines,
    ]
    for store, run in runs.items():
        if "server_cpu_us" in run:
            text += ["", f"{store} server CPU: {run['server_cpu_us']:.1f} us/event."]
    return "\n".join(text + _floor_table(runs) + _parts_table(runs)) + "\n"


def _floor_table(runs: dict[str, dict[str, Any]]) -> list[str]:
    """The ingest beside the same writes replayed alone, with the rate each would allow."""
    rows = []
    for store, run in runs.items():
        server = run.get("server_cpu_us")
        ways = [
            (
                "the ingest above, every phase",
                run["cpu_us"]["total"],
                run["wall_us"]["total"],
                server,
            )
        ]
        ways += [
            (way, figures["cpu_us"], figures["wall_us"], figures.get("server_cpu_us"))
            for way, figures in run["floor"].items()
        ]
        for way, cpu, wall, server_cpu in ways:
            server_cell = "" if server_cpu is None else f"{server_cpu:.1f}"
            rows.append(
                f"| {store} | {way} | {cpu:.1f} | {wall:.1f} | {server_cell} | {1e6 / wall:,.0f} |"
            )
    if not any(run["floor"] for run in runs.values()):
        return []
    return [
        "",
        "## Under the ingest: the engines alone",
        "",
        "The writes each ingest above sent, replayed into an empty store of its kind with nothing "
        "else to do, one transaction per batch as ingest made them (`bench/ingest_floor.py`). "
        "The last column is the rate each would allow: what validation, the canonical form and "
        "planning may add before a target is out of reach. The C replay needs `make bench` to "
        "build `bench/csrc/sqlite_replay`.",
        "",
        "| store | what runs | CPU us/event | wall us/event | server CPU us/event | events/s |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def _parts_table(runs: dict[str, dict[str, Any]]) -> list[str]:
    """The Neo4j writes replayed part by part: the server's CPU for each, against the whole."""
    run = runs.get("neo4j")
    whole = None if run is None else run["floor"].get(FLOOR_WAYS[2], {}).get("server_cpu_us")
    if run is None or whole is None or not run["parts"]:
        return []
    server = {part: f["server_cpu_us"] for part, f in run["parts"].items() if "server_cpu_us" in f}
    rest = "the rest: statuses, consumption, cart closes (the whole less those two)"
    server[rest] = whole - server[EVENT_LOG] - server[ITEMS_AND_LINKS]
    rows = [f"| {part} | {cpu:.1f} | {cpu / whole:.0%} |" for part, cpu in server.items()]
    return [
        "",
        "## Where the server's time goes",
        "",
        "Parts of the same Neo4j writes, each replayed alone into an empty database "
        f"(`neo4j_parts` in `bench/ingest_floor.py`); the share is of the {whole:.1f} us/event "
        "of server CPU the whole replay took. The event log, items and their links, and the "
        "rest make up the whole; items alone, with every property or with their gid alone, "
        "are parts of items and their links (one statement).",
        "",
        "| part of the writes | server CPU us/event | share |",
        "|---|---|---|",
        *rows,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    out = Path(__file__).parent / "results" / "ingest_phases.md"
    args = size_parser(__doc__, out).parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    machine = engines()
    events_path = args.work / f"plant-{args.size}.ndjson"
    if not events_path.exists():
        log(f"generating the {args.size:,}-item plant")
        generate(args.size, events_path)
    runs: dict[str, dict[str, Any]] = {}
    scratch = Path(tempfile.mkdtemp(prefix="tracegraph-phases-"))
    try:
        with neo4j_server(args.neo4j, args.neo4j_home) as (neo4j, server_home):
            log("embedded store")
            embedded = f"sqlite:///{scratch / 'phases.db'}"
            warm_up = f"sqlite:///{scratch / 'warm-up.db'}"
            runs["embedded"] = run_store(embedded, warm_up, events_path, None)
            if neo4j:
                log("neo4j")
                runs["neo4j"] = run_store(neo4j, neo4j, events_path, server_home)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return publish(render(args.size, machine, runs), args.out)


if __name__ == "__main__":
    raise SystemExit(main())
