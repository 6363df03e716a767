"""The ingest floor replays exactly what an ingest wrote: the same graph, on each store."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.ingest_floor import (
    EVENT_LOG,
    ITEMS_AND_LINKS,
    REPLAYER,
    Recording,
    neo4j_parts,
    recorded_writes,
    replay_c,
    replay_neo4j,
    replay_python,
)
from bench.scale import _chunks, _plant_events, generate
from graph.embedded_store import EmbeddedStore, EmbeddedTx
from graph.neo4j_store import Neo4jStore, Neo4jTx
from graph.store import GraphStore
from ingest.service import IngestService
from tests.conftest import neo4j_or_skip


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("floor") / "plant.ndjson"
    generate(1000, path)
    return path


def _ingest_recorded(store: GraphStore, plant: Path) -> Recording:
    recording = Recording()
    with recorded_writes(recording):
        for chunk in itertools.islice(_chunks(_plant_events(plant), 100), 4):
            IngestService(store).ingest(chunk)
    return recording


def test_recording_leaves_both_stores_as_they_were(store: GraphStore, plant: Path) -> None:
    applies = (EmbeddedTx.apply, Neo4jTx.apply)
    recording = _ingest_recorded(store, plant)
    assert (EmbeddedTx.apply, Neo4jTx.apply) == applies
    if isinstance(store, EmbeddedStore):
        assert recording.embedded_rows > 400 and not recording.neo4j
        assert sum(sql == "COMMIT" for sql, _ in recording.embedded) == 4
    else:
        assert len(recording.neo4j) == 4 and not recording.embedded


def test_python_replay_writes_the_graph_the_ingest_wrote(tmp_path: Path, plant: Path) -> None:
    store = EmbeddedStore(tmp_path / "ingested.db")
    recording = _ingest_recorded(store, plant)
    replay = replay_python(recording)
    assert replay.counts == store.counts()
    assert replay.counts["events"] == 400 and replay.cpu_s > 0


def test_c_replay_writes_the_graph_the_ingest_wrote(tmp_path: Path, plant: Path) -> None:
    if not REPLAYER.exists():
        pytest.skip(f"{REPLAYER} is not built (make builds it where SQLite's headers are)")
    store = EmbeddedStore(tmp_path / "ingested.db")
    recording = _ingest_recorded(store, plant)
    replay = replay_c(recording)
    assert replay is not None
    assert replay.counts == store.counts()
    assert replay.counts["edges"] > 0 and replay.wall_s > 0


@contextmanager
def _recorded_on_neo4j(
    request: pytest.FixtureRequest, plant: Path
) -> Iterator[tuple[Neo4jStore, Recording, dict[str, int]]]:
    """A wiped Neo4j store, the recording of an ingest into it, and what the ingest wrote."""
    target = neo4j_or_skip(request)
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    try:
        store.wipe()
        recording = _ingest_recorded(store, plant)
        yield store, recording, store.counts()
    finally:
        store.close()


def test_neo4j_replay_writes_the_graph_the_ingest_wrote(
    request: pytest.FixtureRequest, plant: Path
) -> None:
    with _recorded_on_neo4j(request, plant) as (store, recording, ingested):
        replay = replay_neo4j(store, recording, lambda: None)
        assert replay.counts == ingested and ingested["events"] == 400
        assert store.counts().get("events", 0) == 0  # wiped afterwards


def test_neo4j_parts_replay_what_they_name(request: pytest.FixtureRequest, plant: Path) -> None:
    with _recorded_on_neo4j(request, plant) as (store, recording, ingested):
        parts = {
            part: replay_neo4j(store, cut, lambda: None).counts
            for part, cut in neo4j_parts(recording).items()
        }
    items = {kind: n for kind, n in ingested.items() if kind not in ("edges", "events")}
    none = {"edges": 0, "events": 0}
    assert list(parts) == [
        EVENT_LOG,
        "items (nodes) with every property",
        "items (nodes) with their gid alone",
        ITEMS_AND_LINKS,
    ]
    assert parts[EVENT_LOG] == none | {"events": 400}
    assert parts["items (nodes) with every property"] == items | none
    # The same nodes, without even their kind.
    assert parts["items (nodes) with their gid alone"] == {None: sum(items.values())} | none
    assert parts[ITEMS_AND_LINKS] == ingested | {"events": 0}
