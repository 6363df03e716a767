"""Two processes that open a Neo4j store whose graph an older release made at the same moment:
one rebuilds it, the other waits for that rebuild (a bounded time, then StoreBusy saying why)
and starts none of its own; a rebuild that stopped, whose process is gone, is taken over."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, LiteralString

import pytest

from graph import neo4j_driver
from graph.errors import StoreBusy
from graph.neo4j_store import START_REBUILD, Neo4jStore
from graph.projection import PROJECTION
from graph.store import GraphStore
from ingest.service import IngestService, open_store_for_use
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events
from tests.fixtures.neo4j_server import Neo4jTarget


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Neo4jTarget:
    return neo4j_or_skip(request)


@pytest.fixture
def old(target: Neo4jTarget, events: Events) -> Iterator[Neo4jStore]:
    """A store of two lots, its graph made by an older release, whose last rebuild stopped
    part-way (its process died): it left its mark."""
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    store.wipe()
    IngestService(store).ingest([events.receive("L-1", 10), events.receive("L-2", 5)])
    store.stamp_projection(PROJECTION - 1)
    with store._session() as session:
        session.run(START_REBUILD, token="stopped", started="2026-01-05T08:00:00Z").consume()
    yield store
    store.close()


def _opened_meanwhile(
    target: Neo4jTarget, monkeypatch: pytest.MonkeyPatch, wait: float
) -> tuple[list[Any], threading.Thread]:
    """Once the first rebuild has begun (before it clears the graph), another process opens the
    store; the first goes on when that open has ended, or after `wait` s."""
    outcome: list[Any] = []
    clear = Neo4jStore.clear_projection

    def open_for_use() -> None:
        try:
            store: GraphStore = open_store_for_use(
                target.uri, user=target.user, password=target.password
            )
        except StoreBusy as error:
            outcome.append(error)
        else:
            outcome.append(store.projection_version())
            store.close()

    second = threading.Thread(target=open_for_use)

    def clear_once_opened(store: Neo4jStore) -> None:
        if second.ident is None:
            second.start()
            second.join(wait)
        clear(store)

    monkeypatch.setattr(Neo4jStore, "clear_projection", clear_once_opened)
    return outcome, second


def test_a_store_opened_while_another_rebuilds_it_waits_for_that_rebuild(
    old: Neo4jStore, target: Neo4jTarget, monkeypatch: pytest.MonkeyPatch, events: Events
) -> None:
    rebuilds: list[int] = []
    replay = IngestService._replay_log

    def counted(service: IngestService, chunk: int, whole: bool) -> int:
        rebuilds.append(chunk)
        return replay(service, chunk, whole)

    monkeypatch.setattr(IngestService, "_replay_log", counted)
    locked = Neo4jStore._locked
    marks: list[object] = []

    def noted(store: Neo4jStore, lock: LiteralString, *args: Any, **params: Any) -> Any:
        if lock == START_REBUILD:
            marks.append(params["token"])
        return locked(store, lock, *args, **params)

    monkeypatch.setattr(Neo4jStore, "_locked", noted)
    outcome, second = _opened_meanwhile(target, monkeypatch, wait=3.0)
    assert IngestService(old).bring_up_to_date() == 2  # took over the one that stopped
    second.join()
    assert outcome == [PROJECTION]  # opened once the graph was whole, rebuilding nothing
    assert len(rebuilds) == 1
    assert len(marks) == 1  # nor marking it as being rebuilt, which refuses other writes
    assert old.node("lot:L-1") is not None and old.node("lot:L-2") is not None
    IngestService(old).ingest([events.receive("L-3", 1)])  # no rebuild's mark is left


def test_a_store_opened_during_a_long_rebuild_says_one_is_under_way(
    old: Neo4jStore, target: Neo4jTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(neo4j_driver, "LOCK_WAIT", 1.0)
    outcome, second = _opened_meanwhile(target, monkeypatch, wait=10.0)
    assert IngestService(old).bring_up_to_date() == 2
    second.join()
    [busy] = outcome
    assert isinstance(busy, StoreBusy)
    assert "being rebuilt from its log by another" in busy.message
    assert "waited 1 s" in busy.message
    assert "WHERE metaData.tracegraph_rebuild IS NOT NULL" in busy.message  # to find a stuck one
    assert old.projection_version() == PROJECTION
    assert old.node("lot:L-1") is not None and old.node("lot:L-2") is not None


DIES_REBUILDING = """
import sys, time
from graph.neo4j_store import Neo4jStore
store = Neo4jStore(sys.argv[1], user=sys.argv[2], password=sys.argv[3])
with store.atomically():
    store.clear_projection()
    print("cleared", flush=True)
    time.sleep(60)
"""


def test_a_rebuild_whose_process_died_is_taken_over_at_once(
    old: Neo4jStore, target: Neo4jTarget
) -> None:
    died = subprocess.Popen(
        [sys.executable, "-c", DIES_REBUILDING, target.uri, target.user, target.password],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert died.stdout is not None and died.stdout.readline() == "cleared\n"
    finally:
        died.kill()  # as a process is killed, its connections closed by the system
        died.wait()
    assert old.node("lot:L-1") is None  # it left the graph partial, and its mark
    began = time.monotonic()
    assert IngestService(old).bring_up_to_date() == 2
    assert time.monotonic() - began < 10  # the server ended its hold on the rebuild
    assert old.node("lot:L-1") is not None
