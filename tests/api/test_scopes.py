"""Every role tries to read outside its scope: directly, nested, via traces, by guessing ids."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.deps import Services
from tests.api.conftest import login

OWN_LOT = "supplier_lot:ACME-STEEL/H70001"
OTHER_LOT = "supplier_lot:POLYMED/PM-2"


def gql(
    client: TestClient, headers: dict[str, str], query: str, **variables: Any
) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def all_ids(plant: Services) -> set[str]:
    """Every node id of the demo plant, as an admin sees it."""
    ids: set[str] = set()
    for root in ("company:ACME-STEEL", "company:POLYMED", "company:TITAN-METALS", "company:PACKCO"):
        for link in plant.store.links([root]):
            ids.update(n.id for n in plant.traces.trace(link.src, "down").nodes)
    return ids


def shipped_to(plant: Services, company: str) -> set[str]:
    trace = plant.traces.trace(f"company:{company}", "up", max_depth=2)
    return {n.id for n in trace.nodes}


NODE = "query($id: ID!) { node(id: $id) { id kind properties } }"
IMPACT = "query($id: ID!) { impact(id: $id) { root } }"


@pytest.fixture(autouse=True)
def _loaded(plant: Services) -> None:
    """Every test here runs on the demo plant."""


@pytest.fixture
def ids(plant: Services) -> set[str]:
    found = all_ids(plant)
    assert len(found) > 1000
    return found


def visible_to(plant: Services, username: str, ids: set[str]) -> set[str]:
    """Guess every id through the access layer (where scopes are enforced) and keep the hits."""
    access = plant.access(plant.auth.principal_of(username))
    return set(access.nodes(sorted(ids)))


def sample(ids: set[str], extra: set[str]) -> list[str]:
    """A spread of ids plus the given ones, for checks through the GraphQL endpoint itself."""
    ordered = sorted(ids)
    return sorted(set(ordered[:: max(1, len(ordered) // 20)]) | extra)


def test_analyst_sees_everything(client: TestClient, ids: set[str]) -> None:
    headers = login(client, "analyst")
    for gid in sorted(ids)[:: max(1, len(ids) // 40)]:
        assert gql(client, headers, NODE, id=gid)["data"]["node"]["id"] == gid


def test_supplier_reads_only_their_lots(client: TestClient, plant: Services, ids: set[str]) -> None:
    headers = login(client, "supplier")
    mine = {g for g in ids if g.startswith("supplier_lot:ACME-STEEL/")}
    assert visible_to(plant, "acme", ids) == mine
    for gid in sample(ids, mine):
        node = gql(client, headers, NODE, id=gid)["data"]["node"]
        assert (node is not None) == (gid in mine), gid
    assert client.get(f"/api/v1/nodes/{OTHER_LOT}", headers=headers).status_code == 404
    assert client.get("/api/v1/nodes/lot:L00001-BAR", headers=headers).status_code == 404


def test_supplier_trace_stops_before_plant_internals_and_customers(client: TestClient) -> None:
    headers = login(client, "supplier")
    trace = client.get(
        "/api/v1/trace", params={"id": OWN_LOT, "direction": "down"}, headers=headers
    )
    assert trace.status_code == 200
    body = trace.json()
    assert {n["kind"] for n in body["nodes"]} == {"supplier_lot", "lot", "serial"}
    assert len(body["nodes"]) > 100
    text = json.dumps(body)
    for secret in ("HOSP-", "operator", "equipment", "company:", "shipment:", "step:"):
        assert secret not in text
    assert (
        client.get(
            "/api/v1/trace", params={"id": OWN_LOT, "direction": "up"}, headers=headers
        ).status_code
        == 403
    )
    assert client.get("/api/v1/trace", params={"id": OTHER_LOT}, headers=headers).status_code == 404


def test_supplier_nested_fields_are_filtered(client: TestClient) -> None:
    headers = login(client, "supplier")
    query = """query($id: ID!) {
      node(id: $id) { id outputs { type target { id } } inputs { source { id } } }
    }"""
    node = gql(client, headers, query, id=OWN_LOT)["data"]["node"]
    assert node["id"] == OWN_LOT
    assert node["inputs"] == []
    assert node["outputs"] == [{"type": "FROM", "target": {"id": "company:ACME-STEEL"}}]
    analyst = gql(client, login(client, "analyst"), query, id=OWN_LOT)["data"]["node"]
    assert analyst["outputs"], (
        "the analyst sees the same node's outputs: the filter is what hides them"
    )


def test_supplier_counts_and_no_analyses(client: TestClient) -> None:
    headers = login(client, "supplier")
    query = (
        "{ supplierLots { edges { node { supplierLot { id } receivedQty itemsByKind statuses "
        "stages shipments } } } }"
    )
    uses = [e["node"] for e in gql(client, headers, query)["data"]["supplierLots"]["edges"]]
    assert OWN_LOT in {u["supplierLot"]["id"] for u in uses}
    assert all(u["supplierLot"]["id"].startswith("supplier_lot:ACME-STEEL/") for u in uses)
    assert uses[0]["itemsByKind"]["serial"] > 100 and uses[0]["shipments"] > 0
    assert "HOSP" not in json.dumps(uses)
    denied = gql(client, headers, IMPACT, id=OWN_LOT)
    assert denied["data"] is None or denied["data"]["impact"] is None
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_supplier_without_shared_ids_gets_counts_only(client: TestClient) -> None:
    admin = login(client, "admin")
    user = {
        "username": "poly",
        "password": "poly-supplier-pass",
        "role": "supplier",
        "company": "POLYMED",
        "must_change_password": False,
    }
    assert client.post("/api/v1/admin/users", json=user, headers=admin).status_code == 201
    token = client.post(
        "/api/v1/auth/token", data={"username": "poly", "password": "poly-supplier-pass"}
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    response = client.get("/api/v1/trace", params={"id": OTHER_LOT}, headers=headers)
    assert response.status_code == 403 and "counts and statuses" in response.json()["message"]
    query = "{ supplierLots { edges { node { supplierLot { id } } } } }"
    uses = [e["node"] for e in gql(client, headers, query)["data"]["supplierLots"]["edges"]]
    assert {u["supplierLot"]["id"] for u in uses} >= {OTHER_LOT}
    assert all(u["supplierLot"]["id"].startswith("supplier_lot:POLYMED/") for u in uses)


def test_customer_sees_only_what_was_shipped_to_them(
    client: TestClient, plant: Services, ids: set[str]
) -> None:
    headers = login(client, "customer")
    mine = shipped_to(plant, "HOSP-NORTH")
    assert any(g.startswith("shipment:") for g in mine), "the demo plant ships to HOSP-NORTH"
    assert visible_to(plant, "north", ids) == mine
    for gid in sample(ids, mine):
        node = gql(client, headers, NODE, id=gid)["data"]["node"]
        assert (node is not None) == (gid in mine), gid
    other = next(g for g in shipped_to(plant, "HOSP-SOUTH") if g.startswith("shipment:"))
    assert client.get(f"/api/v1/nodes/{other}", headers=headers).status_code == 404


def test_customer_received_view_has_statuses_and_no_suppliers(
    client: TestClient, plant: Services
) -> None:
    headers = login(client, "customer")
    query = (
        "{ received { edges { node { shipment { id customer } items { id kind properties } } } } }"
    )
    received = [e["node"] for e in gql(client, headers, query)["data"]["received"]["edges"]]
    expected = {g for g in shipped_to(plant, "HOSP-NORTH") if g.startswith("shipment:")}
    assert {r["shipment"]["id"] for r in received} == expected
    assert {r["shipment"]["customer"] for r in received} == {"HOSP-NORTH"}
    text = json.dumps(received)
    assert "supplier" not in text and "ACME" not in text and "operator" not in text
    assert {i["properties"]["status"] for r in received for i in r["items"]} == {"released"}


def test_customer_cannot_trace_or_walk_upstream(client: TestClient, plant: Services) -> None:
    headers = login(client, "customer")
    shipment = next(g for g in shipped_to(plant, "HOSP-NORTH") if g.startswith("shipment:"))
    assert (
        client.get(
            "/api/v1/trace", params={"id": shipment, "direction": "up"}, headers=headers
        ).status_code
        == 403
    )
    query = (
        "query($id: ID!) { node(id: $id) { inputs { source { id inputs { source { id } } } } } }"
    )
    node = gql(client, headers, query, id=shipment)["data"]["node"]
    kits = [link["source"] for link in node["inputs"]]
    assert kits and all(k["id"].startswith(("serial:", "lot:")) for k in kits)
    assert all(k["inputs"] == [] for k in kits), "what went into a kit is not the customer's to see"


def test_operator_sees_their_site_and_no_customers(client: TestClient, plant: Services) -> None:
    other_site = [
        {
            "event_id": "P2-1",
            "type": "receive",
            "occurred_at": "2026-02-01T00:00:00Z",
            "site": "PLANT-2",
            "supplier": "ACME-STEEL",
            "supplier_lot": "H70001",
            "part": "BAR-316L",
            "lot": "P2-LOT",
            "qty": "5",
        }
    ]
    plant.ingest.ingest(other_site)
    headers = login(client, "operator")
    assert client.get("/api/v1/nodes/lot:P2-LOT", headers=headers).status_code == 404
    assert client.get("/api/v1/nodes/lot:L00001-BAR", headers=headers).status_code == 200
    assert client.get("/api/v1/nodes/company:HOSP-NORTH", headers=headers).status_code == 404
    trace = client.get("/api/v1/trace", params={"id": OWN_LOT}, headers=headers).json()
    ids = {n["id"] for n in trace["nodes"]}
    assert "lot:L00001-BAR" in ids and "lot:P2-LOT" not in ids
    assert not any(i.startswith("company:") for i in ids)
    assert "HOSP-" not in json.dumps(trace)
    analyst = client.get(
        "/api/v1/trace", params={"id": OWN_LOT}, headers=login(client, "analyst")
    ).json()
    assert "lot:P2-LOT" in {n["id"] for n in analyst["nodes"]}
    assert (
        client.get("/api/v1/trace", params={"id": "lot:P2-LOT"}, headers=headers).status_code == 404
    )


@pytest.mark.parametrize("role", ["operator", "supplier", "customer"])
def test_analyses_are_for_analysts(client: TestClient, role: str) -> None:
    headers = login(client, role)
    for query in (
        IMPACT,
        "query($id: ID!) { whereFrom(id: $id) { root } }",
        'query($id: ID!) { explain(from: $id, to: "serial:KIT000010000") { truncated } }',
    ):
        body = gql(client, headers, query, id=OWN_LOT)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", query


@pytest.mark.parametrize(
    "hostile",
    [
        "lot:'; DROP TABLE nodes; --",
        'lot:x"}) MATCH (n) DETACH DELETE n //',
        "lot:{{7*7}}",
        "lot:" + "x" * 10_000,
        "serial:\\u0000",
    ],
)
def test_hostile_ids_are_plain_data(client: TestClient, plant: Services, hostile: str) -> None:
    before = plant.store.counts()
    headers = login(client, "analyst")
    assert gql(client, headers, NODE, id=hostile)["data"]["node"] is None
    assert (
        gql(
            client,
            headers,
            "query($id: ID!) { trace(id: $id, direction: DOWN) { root } }",
            id=hostile,
        )["data"]["trace"]
        is None
    )
    assert client.get("/api/v1/trace", params={"id": hostile}, headers=headers).status_code in (
        404,
        422,
    )
    assert plant.store.counts() == before
