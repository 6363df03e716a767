"""The events that set an item's statuses are found from the item, on every store."""

from __future__ import annotations

from graph.store import GraphStore
from ingest.service import IngestService
from tests.fixtures.events import Events


def _status(
    events: Events, lot: str, status: str, event_id: str, minutes: int = 10
) -> dict[str, object]:
    return events(
        "status",
        minutes=minutes,
        target={"lot": lot},
        status=status,
        reason="check",
        event_id=event_id,
    )


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


def test_an_item_made_and_judged_in_one_batch_has_its_latest_status_and_what_was_used(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-1", 10),
            events("split", lot="L-1", into=[{"lot": "L-1a", "qty": "4"}]),
            _status(events, "L-1", "quarantined", "S-1"),
            # Reported late: it happened before the quarantine, which therefore stands.
            events("status", minutes=-5, target={"lot": "L-1"}, status="released", reason="check"),
            _status(events, "L-1a", "released", "S-2"),
            _status(events, "L-1a", "scrapped", "S-3", minutes=0),  # same instant, later event
        ]
    )
    made = store.nodes(["lot:L-1", "lot:L-1a"])
    assert made["lot:L-1"].attrs["status"] == "quarantined"
    assert made["lot:L-1"].attrs["available"] == "6"
    assert made["lot:L-1a"].attrs["status"] == "scrapped"
    # A later batch that links an existing item and judges it updates its status.
    service.ingest(
        [
            events("split", lot="L-1", into=[{"lot": "L-1b", "qty": "1"}]),
            _status(events, "L-1", "released", "S-4"),
        ]
    )
    assert store.nodes(["lot:L-1"])["lot:L-1"].attrs["status"] == "released"
    assert store.nodes(["lot:L-1"])["lot:L-1"].attrs["available"] == "5"
