"""A supplier's view of their lots: counts always, statuses and lot ids only as the policy says."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

import graph.trace
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
    lots = access.supplier_lot_page(500).lots
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


USES = """query($first: Int, $after: String) { supplierLots(first: $first, after: $after) {
    edges { node { supplierLot { id } received { qty unit } receivedQty itemsByKind
        itemsByStage stages shipments shipped { qty unit } shippedUnits statuses
        underInvestigation } }
    pageInfo { hasNextPage endCursor } } }"""


def _page_of_uses(
    client: TestClient, headers: dict[str, str], first: int
) -> list[dict[str, object]]:
    """Every lot's use, a page of `first` at a time."""
    uses: list[dict[str, object]] = []
    after = None
    while True:
        body = client.post(
            "/graphql",
            json={"query": USES, "variables": {"first": first, "after": after}},
            headers=headers,
        ).json()
        assert "errors" not in body, body
        page = body["data"]["supplierLots"]
        uses += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return uses
        after = page["pageInfo"]["endCursor"]


HEATS = [f"H{n}" for n in range(1, 7)]


def _heats_shared(services: Services) -> None:
    """ACME-STEEL's six heats, received as lots that share much of what they went into."""
    events = Events()
    services.ingest.ingest(
        [events.receive(f"L-{h}", 10, supplier="ACME-STEEL", supplier_lot=h) for h in HEATS]
        + [
            # H1 and H2 merged, H3 mixed into that, H4 split; two assemblies share the merge.
            events(
                "merge",
                from_=[{"lot": "L-H1", "qty": "10"}, {"lot": "L-H2", "qty": "6"}],
                into={"lot": "M-12"},
            ),
            events(
                "mix",
                from_=[{"lot": "M-12", "qty": "8"}, {"lot": "L-H3", "qty": "4"}],
                into={"lot": "X-123", "part": "BLEND"},
            ),
            events(
                "split",
                lot="L-H4",
                into=[{"lot": "L-H4a", "qty": "5"}, {"lot": "L-H4b", "qty": "5"}],
            ),
            events(
                "process",
                step="ST-A",
                operation="assemble",
                inputs=[{"lot": "M-12", "qty": "4"}, {"lot": "L-H4a", "qty": "2"}],
                outputs=[{"lot": "K-1", "part": "KIT", "qty": "2"}],
            ),
            events(
                "process",
                step="ST-B",
                operation="assemble",
                inputs=[{"lot": "X-123", "qty": "4"}, {"lot": "L-H5", "qty": "2"}],
                outputs=[{"lot": "K-2", "part": "KIT", "qty": "2"}],
            ),
            events("serialize", lot="K-1", serials=["SN-1", "SN-2"]),
            events("ship", shipment="SH-1", customer="HOSP-NORTH", items=[{"serial": "SN-1"}]),
            events(
                "ship", shipment="SH-2", customer="HOSP-SOUTH", items=[{"lot": "K-2", "qty": "2"}]
            ),
            events("status", target={"serial": "SN-2"}, status="quarantined", reason="burr"),
        ]
    )


def _counted(
    services: Services, monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...]
) -> list[str]:
    """The store calls among `names`, in order."""
    calls: list[str] = []
    for name in names:
        if hasattr(services.store, name):
            original = getattr(services.store, name)

            def counted(*args: object, original: object = original, name: str = name) -> object:
                calls.append(name)
                return original(*args)  # type: ignore[operator]

            monkeypatch.setattr(services.store, name, counted)
    return calls


def test_a_page_of_lots_sharing_what_they_reach_is_read_at_once_and_answers_as_each_alone(
    services: Services, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _heats_shared(services)
    _set_policy(services, ids=True, statuses=True)
    headers = login(client, "supplier")
    calls = _counted(services, monkeypatch, ("subgraph", "reached", "nodes", "links", "node"))
    together = _page_of_uses(client, headers, 500)
    assert "subgraph" not in calls, "no trace per lot"
    assert calls.count("reached") == 1, calls
    assert len(calls) <= 4, calls
    monkeypatch.undo()
    alone = _page_of_uses(client, headers, 1)  # each page one lot: read apart
    assert len(alone) == len(HEATS)
    assert together == alone
    shared = {u["supplierLot"]["id"]: u["shippedUnits"] for u in alone}  # type: ignore[index]
    assert shared["supplier_lot:ACME-STEEL/H1"] == shared["supplier_lot:ACME-STEEL/H2"] == "3"
    assert shared["supplier_lot:ACME-STEEL/H6"] == "0"


def test_a_page_of_more_lots_than_one_walk_takes_is_read_a_part_at_a_time(
    services: Services, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A walk from each root of a read: one read of a whole page of roots outlasts a store's
    # transaction timeout where a read of a part of it does not.
    _heats_shared(services)
    _set_policy(services, ids=True, statuses=True)
    headers = login(client, "supplier")
    alone = _page_of_uses(client, headers, 1)
    monkeypatch.setattr(graph.trace, "ROOTS_PER_READ", 4, raising=False)
    calls = _counted(services, monkeypatch, ("subgraph", "reached"))
    together = _page_of_uses(client, headers, 500)
    assert calls == ["reached", "reached"], "six lots, four to a read"
    assert together == alone


def test_a_requests_lists_of_a_suppliers_lots_read_them_once_however_many_at_once(
    small_plant: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    access = small_plant.access(small_plant.auth.principal_of("acme2"))
    calls: list[str] = []
    links = small_plant.store.links

    def counted(gids: list[str]) -> Any:
        calls.extend(g for g in gids if g.startswith("company:"))
        return links(gids)

    monkeypatch.setattr(small_plant.store, "links", counted)
    lists = [
        lambda: [lot.gid for lot in access.supplier_lot_page(10).lots],
        lambda: access.my_supplier_cases(10).cases,
        lambda: access.recall_cases_about_me(10).cases,
        access.my_supplier_lots,
    ]
    with ThreadPoolExecutor(4) as pool:  # as a request's aliases run
        found = list(pool.map(lambda read: read(), lists * 3))
    assert found[0] == found[3] == [MINE]
    assert found[1] == found[2] == []
    assert calls == ["company:ACME-STEEL"], "the company's lots, read once for the request"
    # Another request reads them afresh.
    fresh = small_plant.access(small_plant.auth.principal_of("acme2"))
    assert fresh.my_supplier_lots() == [MINE] and len(calls) == 2


def test_a_page_of_none_of_the_suppliers_lots_reads_nothing_more(
    small_plant: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    access = small_plant.access(small_plant.auth.principal_of("acme2"))
    theirs = small_plant.store.nodes(["supplier_lot:POLYMED/P9"])["supplier_lot:POLYMED/P9"]
    calls = _counted(small_plant, monkeypatch, ("reached", "subgraph", "nodes", "links"))
    policy = small_plant.auth.company
    asked: list[str] = []

    def company(name: str) -> Any:
        asked.append(name)
        return policy(name)

    monkeypatch.setattr(small_plant.auth, "company", company)
    assert access.supplier_lot_uses([]) == access.supplier_lot_uses([theirs]) == []
    assert calls == [] and asked == [], "no walk, and no policy read for no lots"
