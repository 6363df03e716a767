"""A supplier's view of their lots: counts always, statuses and lot ids only as the policy says."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api.auth.models import Role
from api.deps import Services
from graph.errors import Forbidden
from graph.store import NodeView
from tests.api.conftest import login
from tests.fixtures.events import Events

MINE = "supplier_lot:ACME-STEEL/H1"


@pytest.fixture
def small_plant(services: Services) -> Services:
    """Two suppliers' lots assembled into three serials; two shipped, one held."""
    events = Events()
    services.ingest.ingest(
        [
            events.receive("L-BAR", 100, supplier="ACME-STEEL", supplier_lot="H1"),
            events.receive("L-RES", 50, part="RESIN", supplier="POLYMED", supplier_lot="P9"),
            events(
                "process",
                step="ST-TURN",
                operation="turn",
                inputs=[{"lot": "L-BAR", "qty": "30"}],
                outputs=[{"lot": "L-SCREW", "part": "SCREW", "qty": "30"}],
            ),
            events(
                "process",
                step="ST-ASSY",
                operation="assemble",
                inputs=[{"lot": "L-SCREW", "qty": "3"}, {"lot": "L-RES", "qty": "3"}],
                outputs=[{"lot": "L-KIT", "part": "KIT", "qty": "3"}],
            ),
            events("serialize", lot="L-KIT", serials=["SN-1", "SN-2", "SN-3"]),
            events("ship", shipment="SH-1", customer="HOSP-NORTH", items=[{"serial": "SN-1"}]),
            events("ship", shipment="SH-2", customer="HOSP-SOUTH", items=[{"serial": "SN-2"}]),
            events(
                "status",
                target={"serial": "SN-3"},
                status="quarantined",
                reason="dimension check",
            ),
        ]
    )
    services.auth.add_user("acme2", "acme-two-pass", Role.SUPPLIER, "ACME-STEEL", None)
    return services


def _set_policy(services: Services, *, ids: bool, statuses: bool) -> None:
    services.auth.put_company("ACME-STEEL", "Acme Steel", "supplier", ids, share_statuses=statuses)


def _view(services: Services) -> dict[str, object]:
    access = services.access(services.auth.principal_of("acme2"))
    lots = access.supplier_lot_page(access.my_supplier_lots(), 500).lots
    (use,) = [u for u in access.supplier_lot_uses(lots) if u.node.gid == MINE]
    return {
        "items_by_kind": use.items_by_kind,
        "items_by_stage": use.items_by_stage,
        "stages": use.stages,
        "shipments": use.shipments,
        "shipped_units": use.shipped_units,
        "received_qty": use.received_qty,
        "statuses": use.statuses,
        "under_investigation": use.under_investigation,
    }


@pytest.mark.parametrize("ids", [False, True])
def test_counts_are_shared_under_every_policy(small_plant: Services, ids: bool) -> None:
    _set_policy(small_plant, ids=ids, statuses=False)
    view = _view(small_plant)
    assert view["received_qty"] == "100"
    assert view["items_by_kind"] == {"lot": 3, "serial": 3}
    assert view["items_by_stage"] == {"assemble": {"lot": 1}, "turn": {"lot": 1}}
    assert view["stages"] == {"assemble": 1, "turn": 1}
    assert (view["shipments"], view["shipped_units"]) == (2, "2")


def test_statuses_hidden_unless_shared(small_plant: Services) -> None:
    _set_policy(small_plant, ids=True, statuses=False)
    hidden = _view(small_plant)
    assert hidden["statuses"] is None and hidden["under_investigation"] is None
    _set_policy(small_plant, ids=True, statuses=True)
    shared = _view(small_plant)
    assert shared["statuses"] == {"quarantined": 1}
    assert shared["under_investigation"] is True


def test_a_use_shows_its_lot_as_the_supplier_may_see_it_whoever_read_it(
    small_plant: Services,
) -> None:
    _set_policy(small_plant, ids=True, statuses=False)
    access = small_plant.access(small_plant.auth.principal_of("acme2"))
    stored = small_plant.store.nodes([MINE])[MINE]
    # Read unredacted, with what a supplier may not see (a customer, a status not shared).
    lot = NodeView(MINE, stored.kind, {**stored.attrs, "customer": "HOSP-NORTH", "status": "held"})
    (use,) = access.supplier_lot_uses([lot])
    assert use.node == access.redact(lot) == stored


@pytest.mark.parametrize("ids", [False, True])
def test_lot_ids_follow_the_policy(small_plant: Services, ids: bool) -> None:
    _set_policy(small_plant, ids=ids, statuses=True)
    access = small_plant.access(small_plant.auth.principal_of("acme2"))
    if not ids:
        with pytest.raises(Forbidden):
            access.trace(MINE, "down")
        return
    reached = {n.id for n in access.trace(MINE, "down").nodes}
    assert {"lot:L-BAR", "lot:L-SCREW", "serial:SN-1"} <= reached
    assert not any(g.startswith(("shipment:", "company:", "step:")) for g in reached)
    assert "supplier_lot:POLYMED/P9" not in reached


@pytest.mark.parametrize(("ids", "statuses"), [(False, False), (True, True)])
def test_never_customers_or_other_suppliers(
    small_plant: Services, client: TestClient, ids: bool, statuses: bool
) -> None:
    _set_policy(small_plant, ids=ids, statuses=statuses)
    headers = login(client, "supplier")
    query = (
        "{ supplierLots { edges { node { supplierLot { id } receivedQty itemsByKind itemsByStage"
        " stages shipments shippedUnits statuses underInvestigation } } } }"
    )
    response = client.post("/graphql", json={"query": query}, headers=headers)
    text = json.dumps(response.json())
    assert MINE in text, "positive control: the supplier's own lot is listed"
    for secret in ("HOSP", "POLYMED", "P9", "SH-1", "L-RES"):
        assert secret not in text
    uses = [e["node"] for e in response.json()["data"]["supplierLots"]["edges"]]
    (use,) = [u for u in uses if u["supplierLot"]["id"] == MINE]
    assert use["shippedUnits"] == "2"
    assert (use["statuses"] is not None) is statuses


@pytest.mark.parametrize("statuses", [False, True])
def test_trace_statuses_follow_the_policy(small_plant: Services, statuses: bool) -> None:
    _set_policy(small_plant, ids=True, statuses=statuses)
    access = small_plant.access(small_plant.auth.principal_of("acme2"))
    (held,) = [n for n in access.trace(MINE, "down").nodes if n.id == "serial:SN-3"]
    assert held.attrs.get("serial") == "SN-3", "positive control: the held serial is in the trace"
    assert ("status" in held.attrs) is statuses


def test_what_a_lot_received_and_shipped_is_added_up_to_the_last_digit(
    services: Services,
) -> None:
    big = "1234567890123456789012345678"  # 28 digits: a sum past them must not be rounded
    events = Events()
    services.ingest.ingest(
        [
            events.receive("L-1", big, supplier="ACME-STEEL", supplier_lot="H1"),
            events.receive("L-2", "0.5", supplier="ACME-STEEL", supplier_lot="H1"),
            events(
                "ship",
                shipment="SH-1",
                customer="HOSP-NORTH",
                items=[{"lot": "L-1", "qty": big}, {"lot": "L-2", "qty": "0.50"}],
            ),
        ]
    )
    services.auth.add_user("acme2", "acme-two-pass", Role.SUPPLIER, "ACME-STEEL", None)
    view = _view(services)
    whole = "1234567890123456789012345678.5"
    assert (view["received_qty"], view["shipped_units"]) == (whole, whole)
