"""An event sent again with an optional field spelled out at its default is a duplicate.

A client that retries may fill in what it left out the first time (a process output's unit,
a step's start at its `occurred_at`): the event means the same, so it is the same event, as a
receipt's `unit: "ea"` always was. A value other than the default is still a conflict.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from ingest.errors import BatchConflict
from ingest.service import IngestService
from tests.conformance.helpers import state
from tests.fixtures.events import Events


def _step(events: Events) -> dict[str, Any]:
    return events(
        "process",
        step="S-1",
        operation="weld",
        inputs=[{"lot": "L-1", "qty": "2"}, {"serial": "SN-1"}],
        outputs=[{"lot": "W-1", "part": "W", "qty": "2"}, {"serial": "SN-9", "part": "W"}],
    )


def _filled(step: dict[str, Any]) -> dict[str, Any]:
    """`step` with every default it leaves out spelled out, the times in another offset."""
    lot_out, serial_out = step["outputs"]
    lot_in, serial_in = step["inputs"]
    at = step["occurred_at"].replace("08:", "09:").replace("+00:00", "+01:00")
    return step | {
        "params": {},
        "started_at": at,
        "finished_at": step["occurred_at"],
        "inputs": [lot_in, serial_in | {"qty": "1"}],
        "outputs": [lot_out | {"unit": "ea"}, serial_out | {"qty": 1}],
    }


@pytest.fixture
def plant(store: GraphStore, events: Events) -> IngestService:
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-1", 10),
            events(
                "process", step="S-0", operation="make", outputs=[{"serial": "SN-1", "part": "P"}]
            ),
        ]
    )
    return service


def test_a_resend_with_the_defaults_spelled_out_is_a_duplicate(
    store: GraphStore, events: Events, plant: IngestService
) -> None:
    first = _step(events)
    plant.ingest([first])
    before = state(store)
    report = plant.ingest([_filled(first)])
    assert report.to_dict()["results"] == [{"event_id": first["event_id"], "status": "duplicate"}]
    assert state(store) == before
    # And the other way round: sent first with the defaults, then without them.
    second = events(
        "process", step="S-2", operation="cut", outputs=[{"lot": "C-1", "part": "C", "qty": "1"}]
    )
    plant.ingest(
        [
            second
            | {
                "started_at": second["occurred_at"],
                "outputs": [second["outputs"][0] | {"unit": "ea"}],
            }
        ]
    )
    assert plant.ingest([second]).duplicates == 1
    assert plant.ingest([first, _filled(first)]).duplicates == 2


def test_a_shipped_serial_resent_with_its_qty_of_one_is_a_duplicate(
    store: GraphStore, events: Events, plant: IngestService
) -> None:
    ship = events("ship", shipment="SH-1", customer="ACME", items=[{"serial": "SN-1"}])
    plant.ingest([ship])
    before = state(store)
    resent = ship | {"items": [{"serial": "SN-1", "qty": "1.0"}]}
    assert plant.ingest([resent]).duplicates == 1
    assert state(store) == before
    with pytest.raises(BatchConflict):
        plant.ingest([resent | {"customer": "OTHER"}])


def test_both_spellings_in_one_batch_are_one_event(
    store: GraphStore, events: Events, plant: IngestService
) -> None:
    first = _step(events)
    report = plant.ingest([first, _filled(first)])
    assert [r.status for r in report.results] == ["created", "duplicate"]


@pytest.mark.parametrize(
    "changed",
    [
        {"started_at": "2026-03-02T08:29:00Z"},
        {"outputs": [{"lot": "W-1", "part": "W", "qty": "2", "unit": "kg"}]},
        {"outputs": [{"lot": "W-1", "part": "W", "qty": "2"}, {"serial": "SN-9", "part": "X"}]},
    ],
    ids=["another start", "another unit", "another part"],
)
def test_another_value_than_the_default_is_still_a_conflict(
    store: GraphStore, events: Events, plant: IngestService, changed: dict[str, Any]
) -> None:
    first = _step(events)
    plant.ingest([first])
    before = state(store)
    with pytest.raises(BatchConflict):
        plant.ingest([first | changed])
    with pytest.raises(BatchConflict):
        plant.ingest([_filled(first), first | changed])
    assert state(store) == before


def test_an_event_logged_with_another_digest_resent_as_logged_is_a_duplicate(
    tmp_path: Path, events: Events
) -> None:
    """The log keeps the digest it was written with: an exact resend matches it, whatever this
    release would digest; one with the defaults spelled out matches the logged content."""
    store = EmbeddedStore(tmp_path / "plant.db")
    try:
        service = IngestService(store)
        step = events(
            "process",
            step="S-1",
            operation="cut",
            outputs=[{"lot": "C-1", "part": "C", "qty": "1"}],
        )
        service.ingest([step])
        with sqlite3.connect(tmp_path / "plant.db") as conn:  # a digest no release makes now
            conn.execute("UPDATE events SET digest = ? WHERE event_id = ?", ("0" * 64, "E-1"))
        assert service.ingest([step]).duplicates == 1
        filled = step | {"outputs": [step["outputs"][0] | {"unit": "ea"}]}
        assert service.ingest([filled]).duplicates == 1
        with pytest.raises(BatchConflict):
            service.ingest([step | {"outputs": [step["outputs"][0] | {"unit": "kg"}]}])
    finally:
        store.close()
