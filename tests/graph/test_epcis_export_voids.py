"""An export of a trace reads the voided events of its items, not every void of the plant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graph.embedded_store import EmbeddedStore
from graph.epcis import FULL_VIEW
from graph.epcis_export import EpcisExporter
from graph.trace import TraceService
from ingest.service import IngestService
from ingest.store_copy import copy_plant
from tests.fixtures.events import Events


def plant(events: Events, unrelated: int) -> list[list[dict[str, Any]]]:
    """Lot X split into Y, a quarantine of X voided; `unrelated` other receipts, each voided."""
    batches = [
        [
            events.receive("X", 10, event_id="RX"),
            events("split", lot="X", into=[{"lot": "Y", "qty": "4"}]),
            events(
                "status", target={"lot": "X"}, status="quarantined", reason="check", event_id="Q"
            ),
        ],
        [events("void", voids="Q", reason="wrong lot")],
    ]
    for i in range(unrelated):
        batches.append([events.receive(f"L-{i}", 5, supplier_lot=f"S-{i}", event_id=f"R-{i}")])
        batches.append([events("void", voids=f"R-{i}", reason="typo")])
    return batches


def export_work(tmp_path: Path, unrelated: int) -> tuple[int, dict[str, Any]]:
    """What an export of X's trace costs SQLite, in tens of VM instructions, and the document."""
    store = EmbeddedStore(tmp_path / f"voids-{unrelated}.db")
    events = Events()
    service = IngestService(store)
    for batch in plant(events, unrelated):
        service.ingest(batch)
    trace = TraceService(store).trace("lot:X", "down")
    ticks = 0

    def tick() -> int:
        nonlocal ticks
        ticks += 1
        return 0

    store._conn().set_progress_handler(tick, 10)
    document = EpcisExporter(store).trace_document(trace, FULL_VIEW)
    store.close()
    return ticks, document


def declared(document: dict[str, Any]) -> list[str]:
    """The events the document declares wrong (EPCIS error declarations)."""
    body = document["epcisBody"]["eventList"]
    return [e["eventID"] for e in body if "errorDeclaration" in e]


def test_an_export_reads_no_more_for_a_plant_with_more_unrelated_voids(tmp_path: Path) -> None:
    small_work, small = export_work(tmp_path, 20)
    large_work, large = export_work(tmp_path, 400)
    assert len(declared(small)) == len(declared(large)) == 1  # the void of X's quarantine
    assert large_work < 1.5 * small_work


def test_a_copy_of_the_log_finds_its_voided_events_by_the_nodes_they_named(
    tmp_path: Path,
) -> None:
    source, target = EmbeddedStore(tmp_path / "source.db"), EmbeddedStore(tmp_path / "copy.db")
    service = IngestService(source)
    for batch in plant(Events(), 3):
        service.ingest(batch)
    copy_plant(source, target, chunk=3)  # an event and its void in one batch, and apart
    for gids in (["lot:X"], ["lot:L-1", "lot:L-2"], ["supplier_lot:ACME/S-0"]):
        assert target.voided_naming(gids) == source.voided_naming(gids) != []
    source.close()
    target.close()
