"""A trace as of a time, from a context node it does not touch, reads one link to date it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from graph.embedded_store import EmbeddedStore
from graph.errors import NotFound
from graph.store import Direction, GraphStore
from graph.trace import TraceService
from ingest.service import IngestService
from tests.fixtures.events import Events


def busy_plant(events: Events, uses: int) -> list[dict[str, Any]]:
    """`uses` lots, each turned on LATHE-1, loaded into cart C-1 and shipped to HOSP-A."""
    batch = []
    for i in range(uses):
        batch.append(events.receive(f"L-{i}", 10))
        turn = {"step": f"S-{i}", "operation": "turn", "equipment": "LATHE-1"}
        batch.append(events("process", **turn, inputs=[{"lot": f"L-{i}", "qty": "1"}], outputs=[]))
        batch.append(events("cart_load", cart="C-1", lot=f"L-{i}", qty="1"))
        batch.append(events("cart_unload", cart="C-1", lot=f"L-{i}"))
        items = [{"lot": f"L-{i}", "qty": "1"}]
        batch.append(events("ship", shipment=f"SH-{i}", customer="HOSP-A", items=items))
    return batch


def trace_work(tmp_path: Path, uses: int, root: str, direction: Direction) -> int:
    """What a trace of `root` as of the end costs SQLite, in tens of VM instructions."""
    store = EmbeddedStore(tmp_path / f"busy-{uses}-{root.partition(':')[0]}-{direction}.db")
    events = Events()
    IngestService(store).ingest(busy_plant(events, uses))
    ticks = 0

    def tick() -> int:
        nonlocal ticks
        ticks += 1
        return 0

    store._conn().set_progress_handler(tick, 10)
    trace = TraceService(store).trace(root, direction, as_of=events.clock + timedelta(hours=1))
    assert [node.id for node in trace.nodes] == [root]
    store.close()
    return ticks


@pytest.mark.parametrize(
    ("root", "direction"),
    [
        ("equipment:LATHE-1", "down"),
        ("equipment:LATHE-1", "up"),
        ("cart:C-1", "down"),
        ("cart:C-1", "up"),
        ("company:HOSP-A", "down"),
    ],
)
def test_dating_a_context_node_reads_no_more_for_a_busier_one(
    tmp_path: Path, root: str, direction: Direction
) -> None:
    small, large = (trace_work(tmp_path, uses, root, direction) for uses in (20, 320))
    assert large < 1.5 * small


def test_an_equipment_is_dated_by_the_record_of_its_step_not_its_start(
    store: GraphStore, events: Events
) -> None:
    # Recorded an hour after it started: until then the graph held no LATHE-1, nor a cart C-1
    # loaded later still.
    received = events.receive("L-1", 10)
    started = events.clock + timedelta(minutes=5)
    turn = {"step": "S-1", "operation": "turn", "equipment": "LATHE-1"}
    processed = events(
        "process",
        minutes=65,
        started_at=started.isoformat(),
        inputs=[{"lot": "L-1", "qty": "1"}],
        outputs=[],
        **turn,
    )
    loaded = events("cart_load", cart="C-1", lot="L-1", qty="1")
    IngestService(store).ingest([received, processed, loaded])
    traces = TraceService(store)
    recorded = datetime.fromisoformat(processed["occurred_at"])
    for root in ("equipment:LATHE-1", "cart:C-1"):
        with pytest.raises(NotFound, match=f"no node '{root}' at "):
            traces.trace(root, "down", as_of=recorded - timedelta(microseconds=1))
    assert traces.trace("equipment:LATHE-1", "down", as_of=recorded).root == "equipment:LATHE-1"
    with pytest.raises(NotFound, match="no node 'cart:C-1' at "):
        traces.trace("cart:C-1", "up", as_of=recorded)
    assert traces.trace("cart:C-1", "up", as_of=events.clock).root == "cart:C-1"
