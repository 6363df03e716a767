"""Times an earlier version logged, exported as EPCIS takes them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from graph.embedded_store import EmbeddedStore
from graph.epcis import EpcisWriter
from graph.epcis_export import EpcisExporter
from graph.epcis_schema import schema_problems
from ingest.epcis_capture import capture
from ingest.epcis_import import EpcisReader, gtin_parts
from ingest.service import IngestService
from tests.fixtures.events import Events


def test_an_offset_past_14_hours_in_an_old_log_is_exported_in_utc(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    events = Events()
    received = events.receive("L-1", 5, event_id="R")
    cut = events(
        "process",
        event_id="P",
        step="S-1",
        operation="cut",
        started_at="2026-03-02T08:12:00Z",
        inputs=[{"lot": "L-1", "qty": "2"}],
        outputs=[{"lot": "L-2", "part": "BLANK", "qty": "2"}],
    )
    service.ingest([received, cut])
    # As an earlier version, which took any offset of hours and minutes, logged them.
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute(
            "UPDATE events SET payload = json_set(payload, '$.occurred_at', ?) "
            "WHERE event_id = 'R'",
            ("2026-03-02T22:40:00+14:30",),
        )
        conn.execute(
            "UPDATE events SET payload = json_set(payload, '$.started_at', ?) WHERE event_id = 'P'",
            ("2026-03-01T17:42:00-14:30",),
        )
    document = EpcisExporter(store).events_document(["R", "P"])
    assert schema_problems(document) == []
    receipt, process = document["epcisBody"]["eventList"]
    # The same instant, said in UTC: no offset EPCIS writes is the one it happened at.
    assert (receipt["eventID"], receipt["eventTime"], receipt["eventTimeZoneOffset"]) == (
        "urn:tracegraph:event:R",
        "2026-03-02T08:10:00Z",
        "+00:00",
    )
    assert process["tg:startedAt"] == "2026-03-02T08:12:00Z"
    # Captured back, each is the event logged, not a changed one.
    reader = EpcisReader(gtin_parts(store, {}))
    report = capture(document, reader, service.ingest, store.logged)
    assert [(r.event_id, r.status) for r in report.report.results] == [
        ("R", "duplicate"),
        ("P", "duplicate"),
    ]
    store.close()


def test_a_void_logged_at_an_offset_past_14_hours_declares_in_utc() -> None:
    status = {
        "event_id": "S",
        "type": "status",
        "occurred_at": "2026-03-02T08:00:00Z",
        "target": {"lot": "L-1"},
        "status": "quarantined",
        "reason": "checked",
    }
    void = {"event_id": "V", "type": "void", "occurred_at": "2026-03-02T23:00:00+14:30"}
    retraction = EpcisWriter().retraction(status, void | {"voids": "S", "reason": "wrong lot"})
    assert retraction is not None
    assert retraction["errorDeclaration"]["declarationTime"] == "2026-03-02T08:30:00Z"
