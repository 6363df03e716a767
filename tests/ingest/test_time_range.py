"""Times that UTC cannot write, or EPCIS cannot give the offset of, are refused by name."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from graph.embedded_store import EmbeddedStore
from ingest.errors import BatchRejected
from ingest.service import IngestService
from tests.fixtures.events import Events


@pytest.mark.parametrize(
    ("field", "value"),
    [("occurred_at", "0001-01-01T00:00:00+14:00"), ("finished_at", "9999-12-31T23:59:59-14:00")],
)
def test_a_time_utc_cannot_write_is_refused_by_name(tmp_path: Path, field: str, value: str) -> None:
    event = {
        "event_id": "E-1",
        "type": "process",
        "occurred_at": "2026-01-05T08:00:00Z",
        "step": "S-1",
        "operation": "turn",
        "outputs": [{"lot": "L-1", "part": "P", "qty": "1"}],
    }
    store = EmbeddedStore(tmp_path / "plant.db")
    try:
        with pytest.raises(BatchRejected) as refused:
            IngestService(store).ingest([event | {field: value}])
        (problem,) = refused.value.problems
        assert problem.field == field and "years 1 to 9999 in UTC" in problem.message
        assert store.counts()["events"] == 0
    finally:
        store.close()


@pytest.mark.parametrize(
    ("field", "event"),
    [
        (
            "suspects[1].from",
            {
                "type": "recall_open",
                "case": "C-2",
                "title": "lathe",
                "reason": "drift",
                "suspects": [
                    {"id": "lot:L-1"},
                    {
                        "id": "equipment:LATHE-1",
                        "from": "0001-01-01T00:00:00+14:00",
                        "to": "2026-01-01T00:00:00Z",
                    },
                ],
            },
        ),
        (
            "due_by",
            {
                "type": "recall_supplier_request",
                "case": "C-1",
                "supplier": "ACME",
                "supplier_lot": "A-1",
                "question": "which heat?",
                "due_by": "9999-12-31T23:00:00-14:00",
            },
        ),
    ],
)
def test_a_recall_time_utc_cannot_write_is_refused_by_name(
    tmp_path: Path, events: Events, field: str, event: dict[str, Any]
) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    try:
        service.ingest(
            [
                events.receive("L-1", 5),
                events(
                    "process",
                    step="S-1",
                    operation="turn",
                    equipment="LATHE-1",
                    inputs=[{"lot": "L-1", "qty": 1}],
                    outputs=[{"lot": "P-1", "part": "P", "qty": 1}],
                ),
                events(
                    "recall_open",
                    case="C-1",
                    title="bar",
                    reason="cracks",
                    suspects=[{"id": "lot:L-1"}],
                ),
            ]
        )
        before = store.counts()
        with pytest.raises(BatchRejected) as refused:
            service.ingest([events.receive("L-2", 5), events(event.pop("type"), **event)])
        (problem,) = refused.value.problems
        assert (problem.index, problem.event_id) == (1, "E-5")
        assert (problem.field, problem.code) == (field, "out_of_range")
        assert "years 1 to 9999 in UTC" in problem.message
        assert store.counts() == before
    finally:
        store.close()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occurred_at", "2026-03-02T08:00:00+14:30"),
        ("started_at", "2026-03-02T08:00:00+23:59"),
        ("finished_at", "2026-03-02T08:00:00-14:01"),
    ],
)
def test_an_offset_past_14_hours_is_refused_by_name(tmp_path: Path, field: str, value: str) -> None:
    # No zone is further from UTC; EPCIS writes no such eventTimeZoneOffset, so an export of
    # the event could not be read back.
    event = {
        "event_id": "E-1",
        "type": "process",
        "occurred_at": "2026-03-02T08:00:00Z",
        "step": "S-1",
        "operation": "turn",
        "outputs": [{"lot": "L-1", "part": "P", "qty": "1"}],
    }
    store = EmbeddedStore(tmp_path / "plant.db")
    try:
        service = IngestService(store)
        with pytest.raises(BatchRejected) as refused:
            service.ingest([event | {field: value}])
        (problem,) = refused.value.problems
        assert (problem.field, problem.code) == (field, "out_of_range")
        assert problem.message == f"{value}: an offset is at most 14:00 from UTC either way"
        assert store.counts()["events"] == 0
        # The furthest offsets there are (Kiribati, Baker Island) are taken: here one instant.
        furthest = {"occurred_at": "2026-03-02T22:00:00+14:00", field: "2026-03-01T20:00:00-12:00"}
        assert service.ingest([event | furthest]).created == 1
    finally:
        store.close()


def test_a_log_holding_an_offset_past_14_hours_still_rebuilds(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest([Events().receive("L-1", 5, event_id="R")])
    # As an earlier version, which took any offset of hours and minutes, let it through.
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute(
            "UPDATE events SET payload = json_set(payload, '$.occurred_at', ?) "
            "WHERE event_id = 'R'",
            ("2026-03-02T22:30:00+14:30",),
        )
    service.rebuild()
    lot = store.node("lot:L-1")
    assert lot is not None and lot.attrs["created_at"] == "2026-03-02T08:00:00.000000Z"
    store.close()
