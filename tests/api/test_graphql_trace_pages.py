"""A trace's pages walk one trace: a page after a cursor of a trace that changed is refused."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.deps import Services
from tests.api.conftest import login
from tests.api.test_graphql import gql
from tests.fixtures.events import Events

NODES = """query($first: Int!, $after: String, $asOf: DateTime) {
  trace(id: "lot:K-0", direction: DOWN, asOf: $asOf) {
    nodes(first: $first, after: $after) { pageInfo { hasNextPage endCursor }
      edges { node { node { id } } } } } }"""
LINKS = """query($after: String) {
  trace(id: "lot:K-0", direction: DOWN) {
    links(first: 2, after: $after) { pageInfo { hasNextPage endCursor }
      edges { node { target { id } } } } } }"""
CUSTOMER = "company:HOSP"


@pytest.fixture
def shipped(services: Services, events: Events) -> Services:
    """K-0 split in four; K-B3 split again and shipped: the customer is four steps down."""
    services.ingest.ingest(
        [
            events.receive("K-0", 100),
            events("split", lot="K-0", into=[{"lot": f"K-B{i}", "qty": "10"} for i in range(4)]),
            events("split", lot="K-B3", into=[{"lot": "K-C0", "qty": "10"}]),
            events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "K-C0", "qty": "5"}]),
        ]
    )
    return services


def walk(
    client: TestClient,
    headers: dict[str, str],
    between: Callable[[], Any],
    first: int = 6,
    **variables: Any,
) -> list[str] | dict[str, Any]:
    """Page the nodes of K-0's trace to the end, calling `between()` after the first page: the
    ids read, or the error a page met."""
    seen: list[str] = []
    after = None
    while True:
        body = gql(client, headers, NODES, first=first, after=after, **variables)
        if "errors" in body:
            error: dict[str, Any] = body["errors"][0]
            return error
        page = body["data"]["trace"]["nodes"]
        seen += [edge["node"]["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        if after is None:
            between()
        after = page["pageInfo"]["endCursor"]


def changed(error: list[str] | dict[str, Any]) -> bool:
    """Tell whether a walk met the refusal of a trace that changed since its last page."""
    return (
        isinstance(error, dict)
        and error["extensions"] == {"code": "TRACE_CHANGED", "status": 409}
        and "the trace changed" in error["message"]
        and "start again from the first page" in error["message"]
    )


def test_a_node_that_came_nearer_between_two_pages_is_not_missed(
    client: TestClient, shipped: Services, events: Events
) -> None:
    headers = login(client, "analyst")
    everything = walk(client, headers, lambda: None)
    # A status and a lot elsewhere change no trace of K-0: pages go on (each reads its items'
    # attributes afresh).
    hold = events("status", target={"lot": "K-B1"}, status="quarantined", reason="inspection")
    elsewhere = events.receive("Z-9", 5, supplier_lot="B-2")
    assert walk(client, headers, lambda: shipped.ingest.ingest([hold, elsewhere])) == everything
    # K-0 ships to the customer too: two steps down, before the first page's end in the order
    # (depth, id). A walk that went on from the first page's key would never read it.
    ship = events("ship", shipment="SH-2", customer="HOSP", items=[{"lot": "K-0", "qty": "5"}])
    assert changed(walk(client, headers, lambda: shipped.ingest.ingest([ship])))
    again = walk(client, headers, lambda: None)
    assert isinstance(again, list) and CUSTOMER in again and "shipment:SH-2" in again
    assert len(again) == len(set(again)) == len(everything) + 1 == 9


def test_a_node_that_went_further_between_two_pages_is_not_read_twice(
    client: TestClient, shipped: Services, events: Events
) -> None:
    ship = events("ship", shipment="SH-2", customer="HOSP", items=[{"lot": "K-0", "qty": "5"}])
    shipped.ingest.ingest([ship])
    headers = login(client, "analyst")
    # The first page ends with the customer, two steps down; voided, that shipment leaves it
    # four steps down, after the page's end: read again by a walk that went on.
    void = events("void", voids=ship["event_id"], reason="wrong lot")
    assert changed(walk(client, headers, lambda: shipped.ingest.ingest([void]), first=7))


def test_a_node_and_link_added_before_the_cursor_are_not_missed(
    client: TestClient, shipped: Services, events: Events
) -> None:
    headers = login(client, "analyst")
    nodes = gql(client, headers, NODES, first=2)["data"]["trace"]["nodes"]
    links = gql(client, headers, LINKS)["data"]["trace"]["links"]
    # A new lot, first in both orders among K-0's children, between two pages.
    shipped.ingest.ingest([events("split", lot="K-0", into=[{"lot": "K-A0", "qty": "10"}])])
    after = nodes["pageInfo"]["endCursor"]
    refused = gql(client, headers, NODES, first=2, after=after)
    assert changed(refused["errors"][0]) and refused["data"] == {"trace": None}
    refused = gql(client, headers, LINKS, after=links["pageInfo"]["endCursor"])
    assert changed(refused["errors"][0])


def test_as_of_keeps_later_events_out_but_not_late_ones_nor_voids(
    client: TestClient, shipped: Services, events: Events
) -> None:
    headers = login(client, "analyst")
    as_of = events.clock
    # An event after asOf is no part of the trace as it stood then: pages go on.
    ship = events("ship", shipment="SH-2", customer="HOSP", items=[{"lot": "K-0", "qty": "5"}])
    later = walk(client, headers, lambda: shipped.ingest.ingest([ship]), asOf=as_of.isoformat())
    assert isinstance(later, list) and CUSTOMER in later and "shipment:SH-2" not in later
    # One that happened before asOf but is recorded only now changes it: refused.
    late = events("ship", shipment="SH-3", customer="HOSP", items=[{"lot": "K-0", "qty": "5"}])
    late["occurred_at"] = (as_of - timedelta(minutes=5)).isoformat()
    refused = walk(client, headers, lambda: shipped.ingest.ingest([late]), asOf=as_of.isoformat())
    assert changed(refused)
    # So does a void, of an event of any time: the event is taken out of the graph.
    void = events("void", voids=late["event_id"], reason="wrong lot")
    refused = walk(client, headers, lambda: shipped.ingest.ingest([void]), asOf=as_of.isoformat())
    assert changed(refused)


def test_a_cursor_that_names_no_trace_is_refused(client: TestClient, shipped: Services) -> None:
    headers = login(client, "analyst")
    # As cursors were before they named their trace: a key alone.
    old = base64.urlsafe_b64encode(b'n:[1, "lot:K-B1"]').decode()
    refused = gql(client, headers, NODES, first=2, after=old)["errors"][0]
    assert refused["extensions"]["code"] == "TRACE_CHANGED"
    assert "does not say which trace" in refused["message"]
    for odd in (b"o:1", b"n:[1]", b"n:0123456789abcdef:[1]", b"n:0123456789ABCDEF:[1, 2]"):
        cursor = base64.urlsafe_b64encode(odd).decode()
        refused = gql(client, headers, NODES, first=2, after=cursor)["errors"][0]
        assert refused["message"] == "not a cursor from this API", odd


def test_a_cursor_of_this_trace_with_a_key_of_other_types_is_not_a_cursor(
    client: TestClient, shipped: Services
) -> None:
    headers = login(client, "analyst")
    nodes = gql(client, headers, NODES, first=2)["data"]["trace"]["nodes"]
    kind, mark, _key = base64.urlsafe_b64decode(nodes["pageInfo"]["endCursor"]).split(b":", 2)
    # The trace's own mark, a key whose values sort against none of the trace's (depth, id).
    odd = base64.urlsafe_b64encode(b":".join([kind, mark, b'["lot:K-0", 1]'])).decode()
    refused = gql(client, headers, NODES, first=2, after=odd)["errors"][0]
    assert refused["message"] == "not a cursor from this API"
