"""A customer's `received` and a supplier's `supplierLots` come a page at a time, each page of
the caller's own: a cursor holds a place in the caller's list, never a way into another's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth.models import Role
from api.deps import Services
from api.graphql import cost
from api.graphql.results import key_cursor
from graph.store import Direction, NodeView
from graph.trace import TraceService
from tests.api.conftest import login
from tests.fixtures.events import Events

RECEIVED = """query($first: Int, $after: String) { received(first: $first, after: $after) {
    edges { cursor node { shipment { id } items { id } } } pageInfo { hasNextPage endCursor } } }"""
SHIPMENTS = "{ received { edges { node { shipment { id } } } } }"
LOTS = """query($first: Int, $after: String) { supplierLots(first: $first, after: $after) {
    edges { cursor node { supplierLot { id } shipments } }
    pageInfo { hasNextPage endCursor } } }"""
NORTH = [f"shipment:SH-B{s}" for s in range(5)]
ACME = [f"supplier_lot:ACME-STEEL/A-{i}" for i in range(7)]
POLY = [f"supplier_lot:POLYMED/A-{i}" for i in (0, 3)]


@pytest.fixture
def shipped(services: Services, events: Events) -> Services:
    """ACME-STEEL's seven lots and POLYMED's two (of the same lot codes), each received as one
    lot; HOSP-NORTH has five shipments (SH-B0 holds two lots), HOSP-SOUTH two whose ids fall
    between and around them (SH-A, SH-B2X)."""
    batch = [
        events.receive(f"L-{i}", 1, supplier="ACME-STEEL", supplier_lot=f"A-{i}") for i in range(7)
    ]
    batch += [
        events.receive(f"M-{i}", 1, supplier="POLYMED", supplier_lot=f"A-{i}") for i in (0, 3)
    ]
    for s in range(5):
        items = [{"lot": f"L-{s}", "qty": "1"}] + ([{"lot": "L-5", "qty": "1"}] if s == 0 else [])
        batch.append(events("ship", shipment=f"SH-B{s}", customer="HOSP-NORTH", items=items))
    for shipment, lot in (("SH-A", "M-0"), ("SH-B2X", "M-3")):
        items = [{"lot": lot, "qty": "1"}]
        batch.append(events("ship", shipment=shipment, customer="HOSP-SOUTH", items=items))
    services.ingest.ingest(batch)
    services.auth.put_company("HOSP-SOUTH", "South Hospital", "customer")
    services.auth.add_user("south", "south-customer-pass", Role.CUSTOMER, "HOSP-SOUTH")
    services.auth.add_user("poly", "poly-supplier-pass", Role.SUPPLIER, "POLYMED")
    return services


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The supplier lots traced for their use, in order (a page's at once)."""
    found: list[str] = []
    subgraphs = TraceService.subgraphs

    def counted(traces: TraceService, roots: Sequence[str], direction: Direction) -> Any:
        found.extend(roots)
        return subgraphs(traces, roots, direction)

    monkeypatch.setattr(TraceService, "subgraphs", counted)
    return found


def headers_of(client: TestClient, who: str) -> dict[str, str]:
    if who in ("customer", "supplier", "analyst"):
        return login(client, who)
    password = {"south": "south-customer-pass", "poly": "poly-supplier-pass"}[who]
    token = client.post("/api/v1/auth/token", data={"username": who, "password": password})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def ask(client: TestClient, who: str, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers_of(client, who)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def page(client: TestClient, who: str, query: str, **variables: Any) -> dict[str, Any]:
    answer = ask(client, who, query, **variables)
    assert "errors" not in answer, answer
    found: dict[str, Any] = next(iter(answer["data"].values()))
    return found


def walk(client: TestClient, who: str, query: str, first: int) -> list[list[dict[str, Any]]]:
    """Every page of a list, `first` at a time, following `endCursor`."""
    pages, after = [], None
    while True:
        found = page(client, who, query, first=first, after=after)
        pages.append([e["node"] for e in found["edges"]])
        if not found["pageInfo"]["hasNextPage"]:
            return pages
        after = found["pageInfo"]["endCursor"]
        assert after == found["edges"][-1]["cursor"]


def test_a_customer_reads_what_it_received_a_page_at_a_time(
    client: TestClient, shipped: Services
) -> None:
    pages = walk(client, "customer", RECEIVED, 2)
    assert [[r["shipment"]["id"] for r in p] for p in pages] == [NORTH[:2], NORTH[2:4], NORTH[4:]]
    items = {r["shipment"]["id"]: [i["id"] for i in r["items"]] for p in pages for r in p}
    assert items == {NORTH[0]: ["lot:L-0", "lot:L-5"]} | {
        NORTH[s]: [f"lot:L-{s}"] for s in (1, 2, 3, 4)
    }
    # 100 unless asked; more than 500 is 500.
    whole = page(client, "customer", RECEIVED)
    assert len(whole["edges"]) == 5 and whole["pageInfo"]["hasNextPage"] is False
    assert len(page(client, "customer", RECEIVED, first=10**6)["edges"]) == 5
    # The other customer's own two, in their order.
    assert walk(client, "south", RECEIVED, 1) == [
        [{"shipment": {"id": "shipment:SH-A"}, "items": [{"id": "lot:M-0"}]}],
        [{"shipment": {"id": "shipment:SH-B2X"}, "items": [{"id": "lot:M-3"}]}],
    ]


def test_a_supplier_reads_its_lots_a_page_at_a_time(client: TestClient, shipped: Services) -> None:
    pages = walk(client, "supplier", LOTS, 3)
    assert [[u["supplierLot"]["id"] for u in p] for p in pages] == [ACME[:3], ACME[3:6], ACME[6:]]
    assert [u["shipments"] for p in pages for u in p] == [1, 1, 1, 1, 1, 1, 0]
    assert [[u["supplierLot"]["id"] for u in p] for p in walk(client, "poly", LOTS, 1)] == [
        [POLY[0]],
        [POLY[1]],
    ]


def test_a_cursor_from_another_account_reads_nothing_of_the_others(
    client: TestClient, shipped: Services
) -> None:
    # South's cursors fall before and among North's shipments: North reads its own after them.
    south = page(client, "south", RECEIVED, first=1)
    found = page(client, "customer", RECEIVED, after=south["pageInfo"]["endCursor"])
    assert [e["node"]["shipment"]["id"] for e in found["edges"]] == NORTH
    south = page(client, "south", RECEIVED, first=1, after=south["pageInfo"]["endCursor"])
    found = page(client, "customer", RECEIVED, after=south["pageInfo"]["endCursor"])
    assert [e["node"]["shipment"]["id"] for e in found["edges"]] == NORTH[3:]
    assert "M-" not in str(found)
    # And North's last read by South: nothing more of South's, nothing of North's.
    north = page(client, "customer", RECEIVED)["pageInfo"]["endCursor"]
    assert page(client, "south", RECEIVED, after=north) == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }
    # A supplier's lot ids begin with its own id: after another's, its own or none follow.
    poly = page(client, "poly", LOTS, first=1)["pageInfo"]["endCursor"]
    assert page(client, "supplier", LOTS, after=poly)["edges"] == []
    acme = page(client, "supplier", LOTS, first=1)["pageInfo"]["endCursor"]
    found = page(client, "poly", LOTS, after=acme)
    assert [e["node"]["supplierLot"]["id"] for e in found["edges"]] == POLY


@pytest.mark.parametrize("query", [RECEIVED, LOTS])
def test_a_bad_cursor_or_size_is_refused_and_says_why(
    client: TestClient, shipped: Services, query: str
) -> None:
    who = "customer" if query == RECEIVED else "supplier"
    other = LOTS if query == RECEIVED else RECEIVED
    theirs = page(client, "poly" if who == "customer" else "south", other, first=1)
    case = key_cursor("c", "case:RC-1")  # a cursor of mySupplierCases and recallCases
    kind = "s" if query == RECEIVED else "u"
    # A cursor of no key (it would read from the start) or of a node of another kind (one of
    # the list's would follow it, or none) was never one of this list's.
    odd = [key_cursor(kind, ""), key_cursor(kind, "lot:L-1"), key_cursor(kind, "shipment:")]
    for after in ("nonsense", case, theirs["pageInfo"]["endCursor"], *odd):
        (error,) = ask(client, who, query, after=after)["errors"]
        assert error["message"] == "not a cursor from this API", after
        assert error["extensions"]["code"] == "BAD_REQUEST"
    (error,) = ask(client, who, query, first=0)["errors"]
    assert error["message"] == "first: ask for at least 1 (it was 0)"
    # Another role hears of its role, not of the arguments it sent.
    (error,) = ask(client, "analyst", query, after="nonsense")["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"


def test_a_page_reads_and_traces_only_its_own_shipments_and_lots(
    client: TestClient, shipped: Services, monkeypatch: pytest.MonkeyPatch, traced: list[str]
) -> None:
    read: list[str] = []
    nodes = type(shipped.store).nodes

    def spy(store: Any, gids: Sequence[str]) -> dict[str, NodeView]:
        read.extend(gids)
        return nodes(store, gids)

    after = page(client, "customer", RECEIVED, first=1)["pageInfo"]["endCursor"]
    monkeypatch.setattr(type(shipped.store), "nodes", spy)
    found = page(client, "customer", RECEIVED, first=2, after=after)
    assert [e["node"]["shipment"]["id"] for e in found["edges"]] == NORTH[1:3]
    shipments = {g for g in read if g.startswith("shipment:")}
    assert shipments == set(NORTH[1:3]), "the page's shipments, not every one of the customer's"
    page(client, "supplier", LOTS, first=2)
    assert traced == ACME[:2], "the page's lots are walked, none of the lots after it"


def test_items_are_read_once_asked_and_counted(
    client: TestClient, shipped: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[list[str]] = []
    nodes = type(shipped.store).nodes

    def spy(store: Any, gids: Sequence[str]) -> dict[str, NodeView]:
        read.append([g for g in gids if not g.startswith("shipment:")])
        return nodes(store, gids)

    monkeypatch.setattr(type(shipped.store), "nodes", spy)
    found = page(client, "customer", SHIPMENTS)
    assert [e["node"]["shipment"]["id"] for e in found["edges"]] == NORTH
    assert not any(read), "no item is read where no one asks for items"
    # Asked, the items of every shipment of the page are one read.
    read.clear()
    page(client, "customer", RECEIVED)
    assert [sorted(r) for r in read if r] == [[f"lot:L-{i}" for i in range(6)]]
    # 5 shipments and SH-B0's 2 items are more than 6: refused, none read.
    monkeypatch.setattr(cost, "MAX_LISTED", 6)
    read.clear()
    assert "lists more than 6" in ask(client, "customer", RECEIVED)["errors"][0]["message"]
    assert not any(read), "items over the budget are refused before they are read"


def test_past_the_budget_a_list_is_read_a_page_at_a_time(
    client: TestClient, shipped: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # North's 5 shipments and their 6 items, ACME's 7 lots: more than 4 at once, not per page.
    monkeypatch.setattr(cost, "MAX_LISTED", 4)
    for who, query in (("customer", RECEIVED), ("supplier", LOTS)):
        assert "lists more than 4" in ask(client, who, query)["errors"][0]["message"]
    assert [len(p) for p in walk(client, "customer", RECEIVED, 1)] == [1] * 5
    assert [len(p) for p in walk(client, "supplier", LOTS, 4)] == [4, 3]


def test_lots_past_the_budget_are_refused_before_any_is_traced(
    client: TestClient, shipped: Services, monkeypatch: pytest.MonkeyPatch, traced: list[str]
) -> None:
    monkeypatch.setattr(cost, "MAX_LISTED", 6)
    assert "lists more than 6" in ask(client, "supplier", LOTS)["errors"][0]["message"]
    assert traced == [], "ACME's 7 lots are counted, then refused, not traced first"
    assert len(page(client, "supplier", LOTS, first=6)["edges"]) == 6
    assert traced == ACME[:6]


@pytest.mark.parametrize("limit", [18, 19])
def test_items_refused_under_one_alias_leave_the_others_an_answer(
    client: TestClient, shipped: Services, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    # Both aliases ask the same items: one batch serves both, and the refusal of one's items,
    # which cancels the other's, must end the request with its error, not without an answer.
    items = "received { edges { node { items { id } } } }"
    query = f"{{ a: {items} b: {items} }}"
    monkeypatch.setattr(cost, "MAX_LISTED", limit)
    answer = ask(client, "customer", query)
    assert answer["data"] is None, "refused whole, not cut short"
    assert [e["message"] for e in answer["errors"]] == [
        f"this query lists more than {limit} links and nodes: ask received for fewer shipments "
        "with `first`, or fewer aliases"
    ]
