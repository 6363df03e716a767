"""The material paths that explain how one item reaches another."""

from __future__ import annotations

import sys

from graph.analysis import paths
from graph.store import GraphStore
from graph.trace import TraceService
from ingest.service import IngestService
from tests.fixtures.events import Events


def test_a_path_longer_than_the_recursion_limit_is_explained(
    store: GraphStore, events: Events
) -> None:
    splits = sys.getrecursionlimit() + 100
    chain = [events.receive("L-0", 100_000)] + [
        events("split", lot=f"L-{i}", into=[{"lot": f"L-{i + 1}", "qty": str(100_000 - i - 1)}])
        for i in range(splits)
    ]
    IngestService(store).ingest(chain)
    trace = TraceService(store).trace("lot:L-0", "down")
    (path,) = paths(trace, f"lot:L-{splits}")
    assert path.nodes == [f"lot:L-{i}" for i in range(splits + 1)]
    assert [(e.src, e.dst, e.type) for e in path.edges] == [
        (f"lot:L-{i}", f"lot:L-{i + 1}", "SPLIT_INTO") for i in range(splits)
    ]
