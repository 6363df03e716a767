"""An operator's trace through another site's items: its items stay linked to the root, by
PROCESSED_INTO links across what is hidden (as a partner's view links them), naming none of it."""

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

OTHER = "PLANT-2"
# What the operator of PLANT-1 may not see: PLANT-2's step and lot, and the event that made them.
HIDDEN = ("step:S-2", "lot:L-2", "E-2")
LINKS = """query($id: ID!, $direction: Direction!, $first: Int!, $after: String) {
  trace(id: $id, direction: $direction) {
    nodes { edges { node { node { id } } } }
    links(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { node { type sourceId targetId event at } } } } }"""


@pytest.fixture
def client(store: GraphStore, tmp_path: Path, events: Events) -> Iterator[TestClient]:
    """On each store, a PLANT-1 serial made of a PLANT-2 lot that was made of a PLANT-1 lot."""
    accounts = EmbeddedAccountStore(tmp_path / "accounts.db")
    services = Services.for_stores(store, accounts, AuthService(accounts, hasher=FAST_HASHER))
    seed_demo_accounts(services.auth)
    services.ingest.ingest(
        [
            events.receive("L-1", 10, site="PLANT-1"),
            events(
                "process",
                step="S-2",
                operation="turn",
                inputs=[{"lot": "L-1", "qty": "4"}],
                outputs=[{"lot": "L-2", "part": "BAR", "qty": "4"}],
                site=OTHER,
            ),
            events("serialize", lot="L-2", serials=["SN-1"], site="PLANT-1"),
        ]
    )
    with TestClient(create_app(Settings(store=store.url), services)) as test_client:
        yield test_client
    accounts.close()


def rest(client: TestClient, gid: str, direction: str) -> dict[str, Any]:
    response = client.get(
        "/api/v1/trace",
        params={"id": gid, "direction": direction},
        headers=login(client, "operator"),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def graphql(client: TestClient, gid: str, direction: str, first: int, after: str | None) -> Any:
    variables = {"id": gid, "direction": direction.upper(), "first": first, "after": after}
    response = client.post(
        "/graphql",
        json={"query": LINKS, "variables": variables},
        headers=login(client, "operator"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["trace"]


@pytest.mark.parametrize(("root", "direction"), [("lot:L-1", "down"), ("serial:SN-1", "up")])
def test_the_rest_trace_bridges_the_other_sites_lot(
    client: TestClient, root: str, direction: str
) -> None:
    trace = rest(client, root, direction)
    assert {n["id"] for n in trace["nodes"]} >= {"lot:L-1", "serial:SN-1"}
    links = [(e["from"], e["to"], e["type"]) for e in trace["edges"]]
    assert ("lot:L-1", "serial:SN-1", PROCESSED_INTO) in links
    (bridge,) = [e for e in trace["edges"] if e["type"] == PROCESSED_INTO]
    # When the serial was made, and by the PLANT-1 event that made it: no hidden step's.
    assert (bridge["event"], bridge["qty"]) == ("E-3", None)
    text = json.dumps(trace)
    assert not [hidden for hidden in HIDDEN if f'"{hidden}"' in text], text


@pytest.mark.parametrize(("root", "direction"), [("lot:L-1", "down"), ("serial:SN-1", "up")])
def test_the_graphql_trace_bridges_the_other_sites_lot_page_by_page(
    client: TestClient, root: str, direction: str
) -> None:
    whole = graphql(client, root, direction, 100, None)
    links = [e["node"] for e in whole["links"]["edges"]]
    bridges = [
        (x["sourceId"], x["targetId"], x["event"]) for x in links if x["type"] == PROCESSED_INTO
    ]
    assert bridges == [("lot:L-1", "serial:SN-1", "E-3")]
    assert whole["links"]["totalCount"] == len(links)
    text = json.dumps(whole)
    assert not [hidden for hidden in HIDDEN if f'"{hidden}"' in text], text
    # One link a page: the same links, in the same order, each page going on from the last.
    paged, after = [], None
    while True:
        page = graphql(client, root, direction, 1, after)["links"]
        paged += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert paged == links


@pytest.mark.parametrize(
    ("root", "direction", "listed"), [("lot:L-1", "down", []), ("serial:SN-1", "up", ["E-1"])]
)
def test_the_epcis_export_lists_the_events_of_stored_links_alone(
    client: TestClient, root: str, direction: str, listed: list[str]
) -> None:
    response = client.get(
        f"/api/v1/trace/{root}/epcis",
        params={"direction": direction},
        headers=login(client, "operator"),
    )
    assert response.status_code == 200, response.text
    events = response.json()["epcisBody"]["eventList"]
    assert [e["eventID"].rpartition(":")[2] for e in events] == listed
    assert not [hidden for hidden in HIDDEN if hidden in response.text], response.text
