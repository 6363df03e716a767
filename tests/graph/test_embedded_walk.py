"""The embedded store's trace walk keeps each node once, however many paths reach it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graph.embedded_store import EmbeddedStore
from graph.store import Direction
from ingest.service import IngestService
from tests.fixtures.events import Events


def ladder(rungs: int) -> list[dict[str, Any]]:
    """A_i splits 1 into B_i; A_i and B_i merge into A_i+1: A_k is reached by 2^k paths."""
    events = Events()
    batch = [events.receive("A0", 1_000_000)]
    for i in range(rungs):
        batch.append(events("split", lot=f"A{i}", into=[{"lot": f"B{i}", "qty": "1"}]))
        merged = [{"lot": f"A{i}", "qty": "1"}, {"lot": f"B{i}", "qty": "1"}]
        batch.append(events("merge", from_=merged, into={"lot": f"A{i + 1}"}))
    return batch


def walk_work(tmp_path: Path, rungs: int, direction: Direction, max_depth: int | None) -> int:
    """What a trace of a ladder costs SQLite, in hundreds of virtual machine instructions."""
    store = EmbeddedStore(tmp_path / f"ladder-{rungs}.db")
    IngestService(store).ingest(ladder(rungs))
    root = "lot:A0" if direction == "down" else f"lot:A{rungs}"
    ticks = 0

    def tick() -> int:
        nonlocal ticks
        ticks += 1
        return 0

    store._conn().set_progress_handler(tick, 100)
    graph = store.subgraph(root, direction, max_depth, None)
    assert graph is not None and len(graph.nodes) == 2 * rungs + 1 + (direction == "up")
    store.close()
    return ticks


@pytest.mark.parametrize("direction", ["down", "up"])
@pytest.mark.parametrize("limited", [False, True])
def test_a_walk_grows_with_the_nodes_not_the_paths(
    tmp_path: Path, direction: Direction, limited: bool
) -> None:
    # A walk keeping a row per (node, depth) does four times the work at twice the rungs.
    small, large = (
        walk_work(tmp_path, rungs, direction, 2 * rungs if limited else None) for rungs in (40, 80)
    )
    assert large < 2.5 * small
