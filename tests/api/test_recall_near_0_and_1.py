"""Exposures far below float precision stay above 0, and just short of 1 never read certain:
through the trace, the impact, a recall case's scope, its CSV and its notices."""

from __future__ import annotations

import csv
import io
from typing import Any

from api.recall import RecallService
from graph.analysis import impact
from graph.recall import scope_csv
from graph.store import GraphStore
from graph.trace import TraceService
from ingest.service import IngestService
from tests.fixtures.events import Events


def _ingest(store: GraphStore, plant: list[dict[str, Any]]) -> IngestService:
    ingest = IngestService(store)
    result = ingest.ingest(plant)
    assert not [r for r in result.results if r.status != "created"], result
    return ingest


def _down(store: GraphStore, root: str) -> dict[str, float | None]:
    return {n.id: n.exposure for n in TraceService(store).trace(root, "down").nodes}


def _up(store: GraphStore, root: str) -> dict[str, float | None]:
    return {n.id: n.share for n in TraceService(store).trace(root, "up").nodes}


def _csv(recalls: RecallService) -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO(scope_csv(recalls.scope("RC-1"))))
    return {row["id"]: row for row in rows}


def _case(store: GraphStore, ingest: IngestService, suspect: str) -> RecallService:
    recalls = RecallService(store, ingest)
    recalls.open("RC-1", "t", "r", [{"id": suspect}], "ana")
    return recalls


# A billionth of the suspect in each of two components, each diluted in a billion clean units:
# the kit holds about 2e-18 of it, which a float `1 - (1 - e)(1 - e)` makes 0.
def _tiny_kit(events: Events) -> list[dict[str, Any]]:
    lot_of = [("X1", "0.000000001"), ("G1", "1000000000")]
    mixed = [{"lot": "X2", "qty": "0.000000001"}, {"lot": "G2", "qty": "1000000000"}]
    return [
        events.receive("X", 2, supplier_lot="X"),
        events.receive("G1", 1_000_000_000, supplier="GOOD", supplier_lot="G1"),
        events.receive("G2", 1_000_000_000, part="CAP", supplier="GOOD", supplier_lot="G2"),
        events(
            "split",
            lot="X",
            into=[{"lot": "X1", "qty": "0.000000001"}, {"lot": "X2", "qty": "0.000000001"}],
        ),
        events(
            "merge",
            from_=[{"lot": lot, "qty": qty} for lot, qty in lot_of],
            into={"lot": "BARMIX"},
        ),
        events("mix", from_=mixed, into={"lot": "CAPMIX", "part": "CAP"}),
        events(
            "process",
            step="ASM",
            operation="assemble",
            inputs=[{"lot": "BARMIX", "qty": "1"}, {"lot": "CAPMIX", "qty": "1"}],
            outputs=[{"serial": "KIT", "part": "KIT"}],
        ),
        events("ship", shipment="SH1", customer="HOSP", items=[{"serial": "KIT"}]),
    ]


def test_an_assembly_of_two_tiny_shares_is_listed_and_its_customer_told(
    store: GraphStore, events: Events
) -> None:
    ingest = _ingest(store, _tiny_kit(events))
    suspect = "supplier_lot:ACME/X"
    down = _down(store, suspect)
    for reached in ("step:ASM", "serial:KIT", "shipment:SH1", "company:HOSP"):
        assert down[reached] == 2e-18, (reached, down[reached])
    affected = impact(TraceService(store).trace(suspect, "down"))
    assert [a.node.id for a in affected.serials] == ["serial:KIT"]
    assert [a.node.id for a in affected.customers] == ["company:HOSP"]
    assert not affected.serials[0].certain
    recalls = _case(store, ingest, suspect)
    assert _csv(recalls)["serial:KIT"]["certain"] == "may contain"
    assert [s.customer for s in recalls.scope("RC-1").shipments] == ["HOSP"]
    assert [n.customer for n in recalls.notify("RC-1", "send back", "ana")] == ["HOSP"]


def test_a_tiny_share_upstream_is_the_exposure_downstream(
    store: GraphStore, events: Events
) -> None:
    _ingest(store, _tiny_kit(events))
    up = _up(store, "serial:KIT")
    assert up["lot:X"] == up["supplier_lot:ACME/X"] == 2e-18
    assert up["lot:X1"] == up["lot:X2"] == 1e-18
    assert up["lot:X1"] == _down(store, "lot:X1")["serial:KIT"] == 1e-18


def test_a_share_of_1e_16_through_an_assembly_keeps_its_digits(
    store: GraphStore, events: Events
) -> None:
    plant = [
        events.receive("BAD", "0.00000001", supplier_lot="BAD"),
        events.receive("OK", 100_000_000, supplier="GOOD", supplier_lot="OK"),
        events.receive("CAPS", 10, part="CAP", supplier="CAPCO", supplier_lot="C1"),
        events(
            "merge",
            from_=[{"lot": "BAD", "qty": "0.00000001"}, {"lot": "OK", "qty": "100000000"}],
            into={"lot": "M"},
        ),
        events(
            "process",
            step="ASM",
            operation="assemble",
            inputs=[{"lot": "M", "qty": "1"}, {"lot": "CAPS", "qty": "1"}],
            outputs=[{"serial": "KIT", "part": "KIT"}],
        ),
    ]
    _ingest(store, plant)
    assert _up(store, "serial:KIT")["lot:BAD"] == 1e-16
    assert _down(store, "lot:BAD")["serial:KIT"] == 1e-16


# 1e12 of a suspect lot merged with 0.15 of a clean one: 0.99999999999985 of the merge is the
# suspect, which twelve digits would round to 1; 1e10 with 1 is 0.9999999999.
def _nearly_all(events: Events) -> list[dict[str, Any]]:
    return [
        events.receive("A", 1_000_000_000_000, supplier_lot="A"),
        events.receive("B", "0.15", supplier="GOOD", supplier_lot="B"),
        events(
            "merge",
            from_=[{"lot": "A", "qty": "1000000000000"}, {"lot": "B", "qty": "0.15"}],
            into={"lot": "M"},
        ),
        events("ship", shipment="SH1", customer="HOSP", items=[{"lot": "M", "qty": "5"}]),
        events.receive("C", 10_000_000_000, supplier_lot="C"),
        events.receive("D", 1, supplier="GOOD", supplier_lot="D"),
        events(
            "merge",
            from_=[{"lot": "C", "qty": "10000000000"}, {"lot": "D", "qty": "1"}],
            into={"lot": "N"},
        ),
    ]


def test_a_merge_just_short_of_1_may_contain_everywhere(store: GraphStore, events: Events) -> None:
    ingest = _ingest(store, _nearly_all(events))
    down = _down(store, "supplier_lot:ACME/A")
    assert down["lot:A"] == 1.0
    assert down["lot:M"] == down["shipment:SH1"] == down["company:HOSP"] == 0.999999999999
    assert _down(store, "supplier_lot:ACME/C")["lot:N"] == 0.9999999999
    assert _up(store, "lot:M")["supplier_lot:ACME/A"] == 0.999999999999
    for suspect, merged in (("supplier_lot:ACME/A", "lot:M"), ("supplier_lot:ACME/C", "lot:N")):
        affected = impact(TraceService(store).trace(suspect, "down"))
        assert {a.node.id: a.certain for a in affected.lots} == {
            suspect.replace("supplier_lot:ACME/", "lot:"): True,
            merged: False,
        }
        assert (affected.totals.certain, affected.totals.may_contain) == (1, 1)
    recalls = RecallService(store, ingest)
    suspects = [{"id": "supplier_lot:ACME/A"}, {"id": "supplier_lot:ACME/C"}]
    recalls.open("RC-1", "t", "r", suspects, "ana")
    scope = recalls.scope("RC-1")
    assert {i.id: i.certain for i in scope.items} == {
        "lot:A": True,
        "lot:C": True,
        "lot:M": False,
        "lot:N": False,
    }
    rows = _csv(recalls)
    assert (rows["lot:M"]["exposure"], rows["lot:M"]["certain"]) == (
        "0.999999999999",
        "may contain",
    )
    assert (rows["lot:N"]["exposure"], rows["lot:N"]["certain"]) == ("0.9999999999", "may contain")
    assert rows["lot:A"]["certain"] == "yes"
