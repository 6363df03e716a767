"""The events that set an item's statuses are found from the item, on every store."""

from __future__ import annotations

from graph.store import GraphStore
from ingest.service import IngestService
from tests.fixtures.events import Events


def _status(events: Events, lot: str, status: str, event_id: str) -> dict[str, object]:
    return events("status", target={"lot": lot}, status=status, reason="check", event_id=event_id)


def test_status_setters_are_the_live_status_events_of_the_items(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 5), events.receive("L-2", 5, supplier_lot="A-2")])
    service.ingest(
        [
            _status(events, "L-1", "quarantined", "S-1"),
            _status(events, "L-2", "quarantined", "S-2"),
            _status(events, "L-1", "released", "S-3"),
        ]
    )
    assert store.status_setters(["lot:L-1"]) == ["S-1", "S-3"]
    assert store.status_setters(["lot:L-1", "lot:L-2", "lot:NOPE"]) == ["S-1", "S-2", "S-3"]
    assert store.status_setters(["lot:NOPE"]) == []
    service.ingest([events("void", voids="S-3", reason="released too early")])
    assert store.status_setters(["lot:L-1"]) == ["S-1"]
    assert store.nodes(["lot:L-1"])["lot:L-1"].attrs["status"] == "quarantined"
