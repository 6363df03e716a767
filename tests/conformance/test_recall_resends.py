"""A recall event sent again is compared by value: its times as instants, its counts as numbers."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from graph.clock import utc_text
from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from ingest.errors import BatchConflict
from ingest.service import IngestService
from tests.fixtures.events import Events

WINDOW = {"id": "equipment:LATHE-1", "from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z"}


def _recall(events: Events) -> list[dict[str, Any]]:
    """A case about a lathe's window and a supplier lot, with a notice to a customer."""
    return [
        events.receive("L-1", 10),
        events(
            "process",
            step="S-1",
            operation="turn",
            equipment="LATHE-1",
            inputs=[{"lot": "L-1", "qty": 1}],
            outputs=[{"lot": "P-1", "part": "SCREW", "qty": 1}],
        ),
        events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "P-1", "qty": 1}]),
        events(
            "recall_open",
            case="RC-1",
            title="lathe",
            reason="drift",
            suspects=[WINDOW, {"id": "supplier_lot:ACME/A-1"}],
            event_id="OPEN",
        ),
        events("recall_notice", case="RC-1", notice="N-1", customer="HOSP", message="return"),
    ]


SENT = {
    "OPEN": {"suspects": [WINDOW, {"id": "supplier_lot:ACME/A-1"}]},
    "ASK": {"due_by": "2026-04-01T00:00:00Z"},
    "ACK": {"found_qty": "1.0", "returned_qty": "0"},
}
# The same values, spelled otherwise.
RESENT = {
    "OPEN": {
        "suspects": [
            WINDOW | {"from": "2026-03-01T01:00:00+01:00", "to": "2026-03-02T19:00:00-05:00"},
            {"id": "supplier_lot:ACME/A-1"},
        ]
    },
    "ASK": {"due_by": "2026-04-01T02:00:00+02:00"},
    "ACK": {"found_qty": 1, "returned_qty": "-0.00"},
}


def _sent(events: Events, history: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The recall events whose fields are compared by value, as first sent after `history`."""
    ask = {"case": "RC-1", "supplier": "ACME", "supplier_lot": "A-1", "question": "which heat?"}
    return {
        "OPEN": next(e for e in history if e["event_id"] == "OPEN"),
        "ASK": events("recall_supplier_request", event_id="ASK", **ask, **SENT["ASK"]),
        "ACK": events("recall_ack", notice="N-1", event_id="ACK", **SENT["ACK"]),
    }


@pytest.mark.parametrize("event_id", ["OPEN", "ASK", "ACK"])
def test_the_same_values_spelled_otherwise_are_a_duplicate(
    store: GraphStore, events: Events, event_id: str
) -> None:
    service = IngestService(store)
    history = _recall(events)
    service.ingest(history)
    sent = _sent(events, history)[event_id]
    if event_id != "OPEN":
        service.ingest([sent])
    report = service.ingest([sent | RESENT[event_id]])
    assert [r.status for r in report.results] == ["duplicate"]
    with pytest.raises(BatchConflict):
        service.ingest([sent | {"occurred_at": "2026-06-01T00:00:00Z"}])


def _as_logged_before(payload: str) -> str:
    """The digest an earlier version stored: only the envelope's and a step's times in UTC."""
    body = json.loads(payload)
    body["occurred_at"] = utc_text(datetime.fromisoformat(body["occurred_at"]))
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("event_id", ["OPEN", "ASK", "ACK"])
def test_an_event_logged_by_an_earlier_version_is_still_a_duplicate(
    tmp_path: Path, events: Events, event_id: str
) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    history = _recall(events)
    service.ingest(history)
    sent = _sent(events, history)[event_id]
    if event_id != "OPEN":
        service.ingest([sent])
    (logged,) = [e for e in store.events(0, 100) if e.event_id == event_id]
    old = _as_logged_before(logged.payload)
    assert old != logged.digest  # the digest these fields get now
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute("UPDATE events SET digest = ? WHERE event_id = ?", (old, event_id))
    for resend in (sent, sent | RESENT[event_id]):
        assert [r.status for r in service.ingest([resend]).results] == ["duplicate"]
    with pytest.raises(BatchConflict):
        service.ingest([sent | {"occurred_at": "2026-06-01T00:00:00Z"}])
    store.close()
