"""A supplier's trace through the plant's steps: what their lot went into stays linked to it, by
PROCESSED_INTO links across the steps (as a partner's view links them), naming none of them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.embedded import EmbeddedAccountStore
from api.auth.service import AuthService
from api.demo_accounts import seed_demo_accounts
from api.deps import Services
from api.federation.models import PROCESSED_INTO
from api.settings import Settings
from graph.store import GraphStore
from tests.api.conftest import FAST_HASHER, login
from tests.fixtures.events import Events

ROOT = "supplier_lot:ACME-STEEL/H1"
# What the supplier may not see: the steps, the shipment and its customer, and their events.
HIDDEN = ("step:S-1", "step:S-2", "shipment:SH-1", "company:HOSP-NORTH", "E-2", "E-4", "E-5")
# Each bridge: the item it leaves, the one made of it, and when that one was made.
BRIDGES = [
    ("lot:L-1", "lot:L-2", "2026-03-02T08:20:00.000000Z"),
    ("serial:SN-1", "serial:KIT-1", "2026-03-02T08:40:00.000000Z"),
]
LINKS = """query($id: ID!, $first: Int!, $after: String) {
  trace(id: $id, direction: DOWN) {
    nodes { edges { node { node { id } } } }
    links(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { node { type sourceId targetId qty event at } } } } }"""


@pytest.fixture
def client(store: GraphStore, tmp_path: Path, events: Events) -> Iterator[TestClient]:
    """On each store, ACME-STEEL's lot turned into another, serialized, the serial built into a
    kit and the kit shipped."""
    accounts = EmbeddedAccountStore(tmp_path / "accounts.db")
    services = Services.for_stores(store, accounts, AuthService(accounts, hasher=FAST_HASHER))
    seed_demo_accounts(services.auth)
    services.ingest.ingest(
        [
            events.receive("L-1", 10, supplier="ACME-STEEL", supplier_lot="H1"),
            events(
                "process",
                step="S-1",
                operation="turn",
                inputs=[{"lot": "L-1", "qty": "4"}],
                outputs=[{"lot": "L-2", "part": "SHAFT", "qty": "4"}],
            ),
            events("serialize", lot="L-2", serials=["SN-1"]),
            events(
                "process",
                step="S-2",
                operation="assemble",
                inputs=[{"serial": "SN-1"}],
                outputs=[{"serial": "KIT-1", "part": "KIT"}],
            ),
            events("ship", shipment="SH-1", customer="HOSP-NORTH", items=[{"serial": "KIT-1"}]),
        ]
    )
    with TestClient(create_app(Settings(store=store.url), services)) as test_client:
        yield test_client
    accounts.close()


def get(client: TestClient, path: str, **params: str) -> dict[str, Any]:
    response = client.get(path, params=params, headers=login(client, "supplier"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def graphql(client: TestClient, first: int, after: str | None) -> Any:
    variables = {"id": ROOT, "first": first, "after": after}
    response = client.post(
        "/graphql",
        json={"query": LINKS, "variables": variables},
        headers=login(client, "supplier"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["trace"]


def reached(root: str, links: list[tuple[str, str]]) -> set[str]:
    """The items reached from `root` by `links` (source, target)."""
    found, todo = {root}, [root]
    while todo:
        node = todo.pop()
        for src, dst in links:
            if src == node and dst not in found:
                found.add(dst)
                todo.append(dst)
    return found


def hidden_in(text: str) -> list[str]:
    return [hidden for hidden in HIDDEN if f'"{hidden}"' in text]


def test_the_rest_trace_links_every_item_to_the_supplier_lot(client: TestClient) -> None:
    trace = get(client, "/api/v1/trace", id=ROOT, direction="down")
    ids = {n["id"] for n in trace["nodes"]}
    assert ids == {ROOT, "lot:L-1", "lot:L-2", "serial:SN-1", "serial:KIT-1"}
    assert reached(ROOT, [(e["from"], e["to"]) for e in trace["edges"]]) == ids
    bridges = [e for e in trace["edges"] if e["type"] == PROCESSED_INTO]
    assert [(e["from"], e["to"], e["at"]) for e in bridges] == BRIDGES
    # No quantity, and no event: the steps' events are not the supplier's to read.
    assert {(e["qty"], e["event"]) for e in bridges} == {(None, "")}
    created = {n["id"]: n.get("created_at") for n in trace["nodes"]}
    assert all(created[e["to"]] == e["at"] for e in bridges)  # a time they read already
    assert not hidden_in(json.dumps(trace)), trace


def test_the_graphql_trace_links_every_item_page_by_page(client: TestClient) -> None:
    whole = graphql(client, 100, None)
    links = [e["node"] for e in whole["links"]["edges"]]
    ids = {e["node"]["node"]["id"] for e in whole["nodes"]["edges"]}
    assert reached(ROOT, [(x["sourceId"], x["targetId"]) for x in links]) == ids
    bridges = [
        (x["sourceId"], x["targetId"], x["at"]) for x in links if x["type"] == PROCESSED_INTO
    ]
    assert bridges == BRIDGES
    assert whole["links"]["totalCount"] == len(links)
    assert not hidden_in(json.dumps(whole)), whole
    # One link a page: the same links, in the same order, each page going on from the last.
    paged, after = [], None
    while True:
        page = graphql(client, 1, after)["links"]
        paged += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert paged == links


def test_the_downstream_partner_answer_links_them_alike(client: TestClient) -> None:
    answer = get(client, "/api/v1/federation/trace", code="H1", direction="down")
    ids = {n["id"] for n in answer["nodes"]}
    assert reached(ROOT, [(e["from"], e["to"]) for e in answer["edges"]]) == ids
    bridges = [e for e in answer["edges"] if e["type"] == PROCESSED_INTO]
    assert [(e["from"], e["to"], e["at"]) for e in bridges] == BRIDGES
    # As a partner's bridge: no quantity; and no event named.
    assert {(e["qty"], e["event"]) for e in bridges} == {(None, None)}
    assert not hidden_in(json.dumps(answer)), answer


def test_the_epcis_export_lists_the_events_of_stored_links_alone(client: TestClient) -> None:
    response = client.get(
        f"/api/v1/trace/{ROOT}/epcis",
        params={"direction": "down"},
        headers=login(client, "supplier"),
    )
    assert response.status_code == 200, response.text
    events = response.json()["epcisBody"]["eventList"]
    assert [e["eventID"].rpartition(":")[2] for e in events] == ["E-1", "E-3"]
    assert not [hidden for hidden in HIDDEN if hidden in response.text], response.text
