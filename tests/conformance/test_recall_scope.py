"""A recall case's scope and exports on every store, with hand-computed exposure."""

from __future__ import annotations

from decimal import Decimal

import pytest

from api.recall import RecallService
from graph.recall import Scope, ScopeItem, diff
from graph.store import GraphStore
from ingest.service import IngestService
from tests.fixtures.events import Events
from tests.fixtures.meanwhile import Meanwhile


@pytest.fixture
def recalls(store: GraphStore, events: Events) -> RecallService:
    """A-1 (100) -> L-1 split 60/40; L-1b (40) + L-2 (10 of A-2's 50) merged into M-1 (50);
    M-1 (30) + T-1 (10 of B-1) mixed into X-1 (40); X-1 moulded into 8 housings H-1;
    pin from L-1a; kit = pin + 1 housing; kit and 2 housings shipped to HOSP-A."""
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-1", 100, supplier_lot="A-1"),
            events.receive("L-2", 50, supplier_lot="A-2"),
            events.receive("T-1", 30, part="TUBE", supplier="TUBECO", supplier_lot="B-1"),
            events(
                "split",
                lot="L-1",
                into=[{"lot": "L-1a", "qty": "60"}, {"lot": "L-1b", "qty": "40"}],
            ),
            events(
                "merge",
                from_=[{"lot": "L-1b", "qty": "40"}, {"lot": "L-2", "qty": "10"}],
                into={"lot": "M-1"},
            ),
            events(
                "mix",
                from_=[{"lot": "M-1", "qty": "30"}, {"lot": "T-1", "qty": "10"}],
                into={"lot": "X-1", "part": "BLEND"},
            ),
            events(
                "process",
                step="S-MOLD",
                operation="mould",
                equipment="PRESS-1",
                inputs=[{"lot": "X-1", "qty": "40"}],
                outputs=[{"lot": "H-1", "part": "HOUSING", "qty": "8"}],
            ),
            events(
                "process",
                step="S-PIN",
                operation="turn",
                inputs=[{"lot": "L-1a", "qty": "1"}],
                outputs=[{"serial": "PIN-1", "part": "PIN"}],
            ),
            events(
                "process",
                step="S-KIT",
                operation="assemble",
                inputs=[{"serial": "PIN-1"}, {"lot": "H-1", "qty": "1"}],
                outputs=[{"serial": "KIT-1", "part": "KIT"}],
            ),
            events(
                "ship",
                shipment="SH-1",
                customer="HOSP-A",
                items=[{"serial": "KIT-1"}, {"lot": "H-1", "qty": "2"}],
            ),
        ]
    )
    return RecallService(store, service)


def exposures(recalls: RecallService) -> dict[str, float]:
    return {i.id: i.exposure for i in recalls.scope("RC-1").items}


def test_scope_exposure_by_hand(recalls: RecallService) -> None:
    recalls.open("RC-1", "A-2 bad", "supplier notice", [{"id": "supplier_lot:ACME/A-2"}], "ana")
    assert exposures(recalls) == pytest.approx(
        {
            "lot:L-2": 1.0,
            "lot:M-1": 0.2,  # merge: 10 of 50
            "lot:X-1": 0.15,  # mix: 30 of 40 at 0.2
            "lot:H-1": 0.15,  # one-part process keeps the mean
            "serial:KIT-1": 0.15,  # assembly: 1 - (1 - 0)(1 - 0.15)
        }
    )
    recalls.rescope(
        "RC-1", [{"id": "supplier_lot:ACME/A-2"}, {"id": "lot:L-1a"}], "pin lot too", "ana"
    )
    both = exposures(recalls)
    assert (
        both["serial:PIN-1"] == 1.0 and both["serial:KIT-1"] == 1.0
    )  # the pin is certain: max wins
    scope = recalls.scope("RC-1")
    assert scope.customers == ["HOSP-A"]
    shipment = scope.shipments[0]
    assert (shipment.id, shipment.items) == (
        "shipment:SH-1",
        {"lot:H-1": Decimal(2), "serial:KIT-1": Decimal(1)},
    )


def test_a_rescope_names_a_tiny_exposure_that_changed() -> None:
    def scope(*exposures: float) -> Scope:
        one = Decimal(1)
        items = [
            ScopeItem(f"lot:L-{n}", "lot", None, "ea", one, one, None, exposure, "material")
            for n, exposure in enumerate(exposures)
        ]
        return Scope(items, [])

    assert diff(scope(1e-18, 0.5), scope(2e-18, 0.5)).changed == ["lot:L-0"]
    assert diff(scope(0.999999999998, 1.0), scope(0.999999999999, 1.0)).changed == ["lot:L-0"]
    assert diff(scope(1e-18, 0.5), scope(1e-18, 0.5)).changed == []


def test_exports(recalls: RecallService) -> None:
    recalls.open("RC-1", "A-2 bad", "supplier notice", [{"id": "supplier_lot:ACME/A-2"}], "ana")
    recalls.hold("RC-1", "hold", "ana")
    document = recalls.epcis("RC-1")
    assert document["type"] == "EPCISDocument" and document["schemaVersion"] == "2.0"
    kinds = [e["type"] for e in document["epcisBody"]["eventList"]]
    assert kinds.count("TransformationEvent") == 4  # merge, mix, mould, assemble
    assert "ObjectEvent" in kinds  # receive and ship
    ship = next(e for e in document["epcisBody"]["eventList"] if e.get("bizStep") == "shipping")
    assert ship["epcList"] == ["urn:tracegraph:serial:KIT-1"]
    assert ship["destinationList"][0]["destination"] == "urn:tracegraph:company:HOSP-A"
    report = recalls.report_html("RC-1")
    assert "<svg" in report and "lot:M-1" in report and "HOSP-A" in report
    body = recalls.export_json("RC-1")
    assert body["case"]["state"] == "holding"
    assert {i["id"]: i["available"] for i in body["scope"]["items"]}["lot:H-1"] == "5"


def test_shared_carts_are_listed_apart_from_the_scope(
    recalls: RecallService, store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest(
        [
            events.receive("Z-1", 5, supplier="OTHER", supplier_lot="O-1"),
            events("cart_define", cart="C-9", compartments=["A", "B"]),
            events("cart_load", cart="C-9", lot="L-2", compartment="A"),
            events("cart_load", cart="C-9", lot="Z-1", compartment="B"),
        ]
    )
    recalls.open("RC-1", "A-2 bad", "supplier notice", [{"id": "supplier_lot:ACME/A-2"}], "ana")
    assert "lot:Z-1" not in exposures(recalls), "a shared cart is not material flow"
    rode, shared = recalls.shared_carts("RC-1")
    assert [(s.lot, s.cart) for s in rode] == [("lot:L-2", "cart:C-9")]
    assert [(s.lot, s.suspect, s.same_compartment) for s in shared] == [
        ("lot:Z-1", "lot:L-2", False)
    ]
    assert "cart:C-9" in recalls.report_html("RC-1")
    assert recalls.export_json("RC-1")["shared_carts"][0]["lot"] == "lot:Z-1"


def test_a_hold_that_a_notice_overtakes_still_holds(
    recalls: RecallService, store: GraphStore
) -> None:
    recalls.open("RC-1", "A-2 bad", "supplier notice", [{"id": "supplier_lot:ACME/A-2"}], "ana")

    def notified() -> object:
        return recalls.notify("RC-1", "stop using A-2", "ana")

    # The notice lands after the hold has read the case as "open", before it writes.
    raced = RecallService(store, IngestService(Meanwhile(store, notified)))
    held = raced.hold("RC-1", "quarantine A-2", "ana")
    assert held > 0
    assert recalls.case("RC-1").state == "notifying"
    held_lot = store.node("lot:M-1")
    assert held_lot is not None and held_lot.attrs["status"] == "quarantined"
    assert [n.customer for n in recalls.notices("RC-1")] == ["HOSP-A"]


def test_notices_of_two_cases_never_share_a_name(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-1", 10),
            events("ship", shipment="SH-1", customer="A-B", items=[{"lot": "L-1", "qty": "1"}]),
            events("ship", shipment="SH-2", customer="B", items=[{"lot": "L-1", "qty": "1"}]),
        ]
    )
    recalls = RecallService(store, service)
    for case in ("RC-1", "RC-1-A"):  # "RC-1" to "A-B" and "RC-1-A" to "B" read alike
        recalls.open(case, "L-1", "bad", [{"id": "lot:L-1"}], "ana")
        recalls.notify(case, "stop using L-1", "ana")
    first = {n.customer: n.id for n in recalls.notices("RC-1")}
    second = {n.customer: n.id for n in recalls.notices("RC-1-A")}
    assert set(first) == set(second) == {"A-B", "B"}
    assert not set(first.values()) & set(second.values())


def test_an_equipment_window_does_not_overrule_a_material_exposure(
    recalls: RecallService,
) -> None:
    window = {
        "id": "equipment:PRESS-1",
        "from": "2026-01-01T00:00:00Z",
        "to": "2027-01-01T00:00:00Z",
    }
    recalls.open("RC-1", "A-2 bad", "notice", [{"id": "supplier_lot:ACME/A-2"}, window], "ana")
    scope = recalls.scope("RC-1")
    housing = next(i for i in scope.items if i.id == "lot:H-1")
    assert (housing.exposure, housing.basis) == (pytest.approx(0.15), "material")
    (shipment,) = scope.shipments
    assert shipment.exposure == pytest.approx(0.15)


class _Counting:
    """A store that counts the traversals asked of it."""

    def __init__(self, store: GraphStore) -> None:
        self._store, self.traversals = store, 0

    def __getattr__(self, name: str) -> object:
        if name == "subgraph":
            self.traversals += 1
        return getattr(self._store, name)


def test_an_export_traces_the_scope_once(recalls: RecallService, store: GraphStore) -> None:
    recalls.open("RC-1", "A-2 bad", "notice", [{"id": "supplier_lot:ACME/A-2"}], "ana")
    counting = _Counting(store)
    exporter = RecallService(counting, IngestService(store))  # type: ignore[arg-type]
    exporter.export_json("RC-1")
    assert counting.traversals == 1
    counting.traversals = 0
    exporter.report_html("RC-1")
    assert counting.traversals == 1
