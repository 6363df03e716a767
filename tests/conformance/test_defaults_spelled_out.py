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
from graph.quantities import COUNT
from graph.store import GraphStore
from ingest import canonical
from ingest.errors import BatchConflict
from ingest.models import Event
from ingest.parse import EVENT_ADAPTER
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
            conn.execute(
                "UPDATE events SET digest = ? WHERE event_id = ?", ("0" * 64, step["event_id"])
            )
        assert service.ingest([step]).duplicates == 1
        filled = step | {"outputs": [step["outputs"][0] | {"unit": "ea"}]}
        assert service.ingest([filled]).duplicates == 1
        with pytest.raises(BatchConflict):
            service.ingest([step | {"outputs": [step["outputs"][0] | {"unit": "kg"}]}])
    finally:
        store.close()


def _spelled_out(event: dict[str, Any], default: str) -> dict[str, Any]:
    """`event` (the step of `_step`, or a shipment of SN-9) with one default spelled out."""
    at = event["occurred_at"]
    if default == "params":
        return event | {"params": {}}
    if default in ("started_at", "finished_at"):
        return event | {default: at}
    if default == "output lot unit":
        lot, serial = event["outputs"]
        return event | {"outputs": [lot | {"unit": COUNT}, serial]}
    if default == "output serial qty":
        lot, serial = event["outputs"]
        return event | {"outputs": [lot, serial | {"qty": "1"}]}
    if default == "input serial qty":
        lot, serial = event["inputs"]
        return event | {"inputs": [lot, serial | {"qty": "1"}]}
    assert default == "shipped serial qty"
    return event | {"items": [{"serial": "SN-9", "qty": "1"}]}


def _graph(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every node and edge of an embedded store, edges by their nodes' gids."""
    with sqlite3.connect(path) as conn:
        nodes = conn.execute("SELECT * FROM nodes ORDER BY gid").fetchall()
        edges = conn.execute(
            "SELECT s.gid, d.gid, e.type, e.flow, e.at, e.event, e.qty, e.share, e.part, e.until,"
            " e.compartment, e.closed_by FROM edges e JOIN nodes s ON s.nid = e.src"
            " JOIN nodes d ON d.nid = e.dst ORDER BY 1, 2, 3, 6"
        ).fetchall()
    return [node[1:] for node in nodes], edges


@pytest.mark.parametrize(
    "default",
    [
        "params",
        "started_at",
        "finished_at",
        "output lot unit",
        "output serial qty",
        "input serial qty",
        "shipped serial qty",
    ],
)
def test_each_default_compared_is_the_one_the_graph_takes(
    tmp_path: Path, events: Events, default: str
) -> None:
    """A default the comparison of resends fills in (ingest.canonical) is the planner's: the
    event sent with it spelled out and left out projects one graph, and is one event."""
    setup = [
        events.receive("L-1", 10),
        events("process", step="S-0", operation="make", outputs=[{"serial": "SN-1", "part": "P"}]),
    ]
    step = _step(events)
    ship = events("ship", shipment="SH-1", customer="ACME", items=[{"serial": "SN-9"}])
    left_out = [step, ship]
    which = 1 if default == "shipped serial qty" else 0
    spelled = list(left_out)
    spelled[which] = _spelled_out(left_out[which], default)
    assert spelled != left_out
    graphs = []
    for name, batch in (("left_out", left_out), ("spelled", spelled)):
        store = EmbeddedStore(tmp_path / f"{name}.db")
        try:
            service = IngestService(store)
            service.ingest(setup + batch)
            assert service.ingest(left_out + spelled).duplicates == 4
        finally:
            store.close()
        graphs.append(_graph(tmp_path / f"{name}.db"))
    assert graphs[0] == graphs[1]


def test_only_an_event_with_defaults_left_to_fill_is_digested_again(
    monkeypatch: pytest.MonkeyPatch, events: Events
) -> None:
    """Comparing contents costs a digest only for an event that leaves a default out: the
    other's digest is known, and an event of a type with no such defaults differs as sent."""
    digested: list[object] = []
    digest = canonical.payload_and_digest
    monkeypatch.setattr(
        canonical, "payload_and_digest", lambda event: digested.append(event) or digest(event)
    )

    def read(raw: dict[str, Any]) -> tuple[Event, str]:
        event = EVENT_ADAPTER.validate_python(raw)
        return event, digest(event)[1]

    receipt = events.receive("L-1", 10)
    assert not canonical.same_content(*read(receipt), *read(receipt | {"qty": "11"}))
    step = _step(events)
    lot, serial = step["outputs"]
    at = step["occurred_at"]
    # Its one form: times and units stated, params and a serial's qty of one left out.
    settled = step | {
        "started_at": at,
        "finished_at": at,
        "outputs": [lot | {"unit": "ea"}, serial],
    }
    assert not canonical.same_content(*read(settled), *read(settled | {"operation": "cut"}))
    assert digested == []
    assert canonical.same_content(*read(step), *read(settled))
    assert [event.event_id for event in digested] == [step["event_id"]]
