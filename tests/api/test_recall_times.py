"""A recall case's suspect windows are instants: a time without its offset is refused by name."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.deps import Services
from tests.api.conftest import login
from tests.api.test_recall import SMALL_PLANT

OPEN = """mutation($s: [SuspectInput!]!) { openRecall(id: "RC-1", title: "Lathe",
    reason: "coolant", suspects: $s) { id } }"""
RESCOPE = """mutation($s: [SuspectInput!]!) { rescopeRecall(id: "RC-1", reason: "the lathe",
    suspects: $s) { added } }"""


def _errors(client: TestClient, headers: dict[str, str], query: str, **variables: Any) -> Any:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json().get("errors")


def _window(start: str, end: str) -> list[dict[str, str]]:
    return [{"id": "lot:L-1"}, {"id": "equipment:LATHE-1", "from": start, "to": end}]


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2026-03-02T06:00:00", "2026-03-02T12:00:00Z", "suspects[1].from"),
        ("2026-03-02T06:00:00Z", "2026-03-02T12:00:00", "suspects[1].to"),
    ],
)
def test_a_window_time_without_an_offset_is_refused_by_name(
    client: TestClient, services: Services, start: str, end: str, field: str
) -> None:
    # Read in the server's zone, the window would cover other hours than the analyst meant.
    services.ingest.ingest(SMALL_PLANT)
    analyst = login(client, "analyst")
    for query in (OPEN, RESCOPE):
        (error,) = _errors(client, analyst, query, s=_window(start, end))
        assert error["message"].startswith(f"{field} needs a UTC offset"), error
        assert error["extensions"] == {"code": "BAD_REQUEST", "status": 400}
    assert services.store.counts()["events"] == len(SMALL_PLANT)
    # Positive control: the same window with its offset opens the case.
    window = _window("2026-03-02T06:00:00Z", "2026-03-02T12:00:00+01:00")
    assert _errors(client, analyst, OPEN, s=window) is None


def test_a_window_time_utc_cannot_write_is_refused_as_other_refusals(
    client: TestClient, services: Services
) -> None:
    services.ingest.ingest(SMALL_PLANT)
    analyst = login(client, "analyst")
    window = _window("0001-01-01T00:00:00+14:00", "2026-03-02T12:00:00Z")
    (error,) = _errors(client, analyst, OPEN, s=window)
    assert error["message"] == (
        "suspects[1].from: 0001-01-01T00:00:00+14:00 is outside the years 1 to 9999 in UTC"
    )
    assert error["extensions"] == {"code": "BAD_REQUEST", "status": 400}
    assert services.store.counts()["events"] == len(SMALL_PLANT)


@pytest.mark.parametrize(
    ("start", "end", "place"),
    [
        ('"2026-03-02"', '"2026-03-02T12:00:00Z"', "[1].from"),
        ('"2026-03-02T06:00:00Z"', "1772438400", "[1].to"),
    ],
)
def test_a_window_time_written_in_the_query_is_refused_by_name(
    client: TestClient, services: Services, start: str, end: str, place: str
) -> None:
    # As a variable the same value is refused `at [1].from`; written in the query, likewise.
    services.ingest.ingest(SMALL_PLANT)
    analyst = login(client, "analyst")
    head = 'mutation { openRecall(id: "RC-1", title: "Lathe", reason: "coolant", suspects: '
    suspects = f'[{{id: "lot:L-1"}}, {{id: "equipment:LATHE-1", from: {start}, to: {end}}}]'
    (error,) = _errors(client, analyst, head + suspects + ") { id } }")
    assert error["message"].startswith(f"Argument 'suspects' has invalid value at {place}: ")
    assert "a time is" in error["message"], error
    # The location is the refused value's own.
    written = start if place.endswith("from") else end
    assert error["locations"] == [{"line": 1, "column": len(head) + 1 + suspects.index(written)}]
    assert services.store.counts()["events"] == len(SMALL_PLANT)


ASK = """mutation($due: DateTime!) { requestSupplierResponse(caseId: "RC-1",
    supplierLot: "supplier_lot:ACME-STEEL/H1", question: "heat records?", dueBy: $due) {
      dueBy } }"""


@pytest.mark.parametrize(
    ("due", "said"),
    [
        ("2026-05-01T12:00:00", "dueBy needs a UTC offset"),
        ("0001-01-01T00:00:00+14:00", "dueBy: 0001-01-01T00:00:00+14:00 is outside the years"),
    ],
)
def test_a_deadline_utc_cannot_read_is_refused_by_name(
    client: TestClient, services: Services, due: str, said: str
) -> None:
    # Read in the server's zone, a deadline would fall hours off what the analyst meant; the
    # refusal names the argument, as a suspect window's does, not a field of an event.
    services.ingest.ingest(SMALL_PLANT)
    analyst = login(client, "analyst")
    assert _errors(client, analyst, OPEN, s=[{"id": "lot:L-1"}]) is None
    written = services.store.counts()["events"]
    (error,) = _errors(client, analyst, ASK, due=due)
    assert error["message"].startswith(said), error
    assert error["extensions"] == {"code": "BAD_REQUEST", "status": 400}
    assert services.store.counts()["events"] == written
    assert _errors(client, analyst, ASK, due="2026-05-01T12:00:00+02:00") is None
