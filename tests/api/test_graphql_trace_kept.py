"""A trace's later pages read the trace its first page computed, while nothing is recorded; each
caller's view is cut from it afresh."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.deps import Services
from graph.embedded_store import EmbeddedStore
from graph.trace_cache import TRACES
from tests.api.conftest import login
from tests.api.test_graphql import gql
from tests.api.test_graphql_trace_pages import CUSTOMER, shipped, walk
from tests.fixtures.events import Events

__all__ = ["shipped"]  # the fixture, used by name

VIEW = """{ trace(id: "lot:K-0", direction: DOWN) { nodes(first: 100) { totalCount
  edges { node { node { id ... on Shipment { customer } ... on Lot { status } } } } } } }"""


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The roots of the traces the store computes, in order (each a walk of its graph)."""
    TRACES.clear()
    roots: list[str] = []
    subgraph = EmbeddedStore.subgraph

    def counted(self: EmbeddedStore, root: str, *args: Any) -> Any:
        roots.append(root)
        return subgraph(self, root, *args)

    monkeypatch.setattr(EmbeddedStore, "subgraph", counted)
    yield roots
    TRACES.clear()


def view(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    """Each node of K-0's trace down as the caller reads it, by id."""
    edges = gql(client, headers, VIEW)["data"]["trace"]["nodes"]["edges"]
    return {edge["node"]["node"]["id"]: edge["node"]["node"] for edge in edges}


def test_later_pages_read_the_trace_the_first_computed(
    client: TestClient, shipped: Services, events: Events, traced: list[str]
) -> None:
    headers = login(client, "analyst")
    everything = walk(client, headers, lambda: None, first=2)
    assert isinstance(everything, list) and len(everything) == 8
    assert traced == ["lot:K-0"]  # four pages, one trace
    # An event recorded (a status change too) is another trace: computed again, and read as
    # it stands now.
    hold = events("status", target={"lot": "K-B1"}, status="quarantined", reason="inspection")
    shipped.ingest.ingest([hold])
    assert view(client, headers)["lot:K-B1"]["status"] == "quarantined"
    assert traced == ["lot:K-0"] * 2
    assert view(client, headers)["lot:K-B1"]["status"] == "quarantined"
    assert traced == ["lot:K-0"] * 2


def test_each_caller_reads_their_own_view_of_one_trace(
    client: TestClient, shipped: Services, traced: list[str]
) -> None:
    analyst, operator = login(client, "analyst"), login(client, "operator")
    # The operator first, the analyst next, the operator again: one trace, three views.
    seen = view(client, operator)
    full = view(client, analyst)
    assert view(client, operator) == seen
    assert traced == ["lot:K-0"]
    # The analyst reads the customer and the shipment's customer; the operator neither.
    assert CUSTOMER in full and full["shipment:SH-1"]["customer"] == "HOSP"
    assert CUSTOMER not in seen and seen["shipment:SH-1"]["customer"] is None
    assert set(seen) == set(full) - {CUSTOMER}


def test_traces_of_other_depths_and_times_are_other_traces(
    client: TestClient, shipped: Services, events: Events, traced: list[str]
) -> None:
    headers = login(client, "analyst")
    query = """query($depth: Int, $asOf: DateTime) {
      trace(id: "lot:K-0", direction: DOWN, maxDepth: $depth, asOf: $asOf) {
        nodes(first: 100) { totalCount } } }"""

    def count(**variables: Any) -> int:
        found: int = gql(client, headers, query, **variables)["data"]["trace"]["nodes"][
            "totalCount"
        ]
        return found

    before = events.clock.isoformat()
    shipped.ingest.ingest([events("split", lot="K-B0", into=[{"lot": "K-D0", "qty": "1"}])])
    assert [count(), count(depth=1), count(asOf=before), count(depth=1)] == [9, 5, 8, 5]
    assert len(traced) == 3
