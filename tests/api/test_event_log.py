"""The event log over REST: who sent each event and when, for analysts and admins only."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.demo_accounts import DEMO_ACCOUNTS
from api.deps import Services
from marking.models import SchemeSpec
from tests.api.conftest import login
from tests.api.test_epcis_api import export
from tests.api.test_marking_api import ISSUE, gql
from tests.fixtures.events import Events

USERNAMES = {account.role.value: account.username for account in DEMO_ACCOUNTS}


def read_log(client: TestClient, role: str, **params: Any) -> Any:
    return client.get("/api/v1/events", params=params, headers=login(client, role))


def test_the_log_names_the_account_that_sent_each_event_not_its_actor(
    client: TestClient, events: Events
) -> None:
    receipt = events.receive("L-1", 10, actor="someone-else", site="PLANT-1")
    assert client.post(
        "/api/v1/events", json=[receipt], headers=login(client, "operator")
    ).is_success
    status = events("status", target={"lot": "L-1"}, status="quarantined", reason="check")
    assert client.post("/api/v1/events", json=[status], headers=login(client, "analyst")).is_success

    response = read_log(client, "analyst")

    assert response.status_code == 200
    logged = response.json()["events"]
    assert [(e["event_id"], e["recorded_by"]) for e in logged] == [
        ("E-1", USERNAMES["operator"]),
        ("E-2", USERNAMES["analyst"]),
    ]
    # The event as sent (as stored: the contract's spelling, its unit filled in).
    assert logged[0]["event"] == receipt | {"occurred_at": "2026-03-02T08:10:00Z", "unit": "ea"}
    assert logged[0]["occurred_at"] == "2026-03-02T08:10:00.000000Z"
    assert all(e["recorded_at"] and e["voided_by"] is None and e["digest"] for e in logged)
    assert [e["seq"] for e in logged] == [1, 2]


def test_marks_issued_through_the_api_name_the_operator(
    client: TestClient, services: Services, events: Events
) -> None:
    services.marking.define_scheme(
        SchemeSpec(name="KIT3", kind="sequential", length=3, check=False, parts=["KIT"])
    )
    services.ingest.ingest(
        [
            events.receive("L-1", 1, part="KIT", site="PLANT-1"),
            events("serialize", lot="L-1", serials=["K-1"], site="PLANT-1"),
        ]
    )
    assert gql(client, "operator", ISSUE, serial="K-1")["data"]["issueMark"]["code"] == "AAA"

    logged = read_log(client, "admin").json()["events"]

    assert [(e["type"], e["recorded_by"]) for e in logged] == [
        ("receive", "system"),
        ("serialize", "system"),
        ("mark", USERNAMES["operator"]),
    ]


def test_the_log_pages_on(client: TestClient, services: Services, events: Events) -> None:
    services.ingest.ingest([events.receive(f"L-{n}", 1, supplier_lot=f"A-{n}") for n in range(5)])

    first = read_log(client, "analyst", limit=2).json()
    second = read_log(client, "analyst", limit=2, after=first["next_after"]).json()
    last = read_log(client, "analyst", limit=2, after=second["next_after"]).json()

    pages = [[e["event_id"] for e in page["events"]] for page in (first, second, last)]
    assert pages == [["E-1", "E-2"], ["E-3", "E-4"], ["E-5"]]
    assert last["next_after"] is None


def test_a_voided_event_stays_in_the_log_naming_its_void(
    client: TestClient, services: Services, events: Events
) -> None:
    services.ingest.ingest([events.receive("L-1", 10)])
    void = events("void", voids="E-1", reason="wrong lot")
    assert client.post("/api/v1/events", json=[void], headers=login(client, "admin")).is_success

    logged = read_log(client, "analyst").json()["events"]

    assert [(e["event_id"], e["voided_by"], e["recorded_by"]) for e in logged] == [
        ("E-1", "E-2", "system"),
        ("E-2", None, USERNAMES["admin"]),
    ]


@pytest.mark.parametrize("role", ["operator", "supplier", "customer"])
def test_only_analysts_and_admins_read_the_log(client: TestClient, role: str) -> None:
    assert read_log(client, role).status_code == 403


def test_the_log_needs_a_login(client: TestClient) -> None:
    assert client.get("/api/v1/events").status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"after": -1}, "after"),
        ({"after": 2**63}, "after"),  # past any position a store can hold
    ],
)
def test_a_bad_page_is_422_naming_it(
    client: TestClient, params: dict[str, int], field: str
) -> None:
    response = read_log(client, "analyst", **params)

    assert response.status_code == 422
    assert field in response.text


def test_the_last_position_there_can_be_reads_an_empty_page(client: TestClient) -> None:
    response = read_log(client, "analyst", after=2**63 - 1)

    assert response.status_code == 200
    assert response.json() == {"events": [], "next_after": None}


def test_exports_say_when_each_event_was_recorded_and_readers_learn_by_whom(
    client: TestClient, plant: Services
) -> None:
    node = "supplier_lot:ACME-STEEL/H70001"
    ours = export(client, "analyst", node).json()["epcisBody"]["eventList"]
    theirs = export(client, "supplier", node).json()["epcisBody"]["eventList"]

    assert ours and theirs
    assert all(e["recordTime"].endswith("Z") and e["tg:recordedBy"] == "system" for e in ours)
    assert all("recordTime" in e and "tg:recordedBy" not in e for e in theirs)
