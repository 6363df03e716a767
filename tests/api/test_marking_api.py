"""Secondary marks over GraphQL: operators issue and resolve, analysts read, partners nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth.models import Role
from api.deps import Services
from marking.models import SchemeSpec
from marking.schemes import Scheme
from tests.api.conftest import login
from tests.fixtures.events import Events

ISSUE = """mutation($serial: String) { issueMark(target: {serial: $serial}) {
    code scheme target created } }"""
RESOLVE = """query($mark: String) { resolveMark(mark: $mark) {
    candidates { id confidence reason matches location } } }"""
DECIDE = """{ markDecision(inputs: {wearRate: 0.2, failureRate: 0.05, life: 10, claim: 50000,
    count: 20000, setupCost: 150000, runningCost: 50000}) { phi mark breakEvenCount } }"""


def gql(client: TestClient, role: str, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=login(client, role)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def kits(services: Services, events: Events) -> Services:
    services.marking.define_scheme(
        SchemeSpec(name="KIT3", kind="sequential", length=3, check=False, parts=["KIT"])
    )
    services.ingest.ingest(
        [
            events.receive("L-1", 2, part="KIT", site="PLANT-1"),
            events("serialize", lot="L-1", serials=["K-1", "K-2"], site="PLANT-1"),
        ]
    )
    return services


def test_operator_issues_and_resolves(client: TestClient, kits: Services) -> None:
    issued = gql(client, "operator", ISSUE, serial="K-1")["data"]["issueMark"]
    assert issued == {"code": "AAA", "scheme": "KIT3", "target": "serial:K-1", "created": True}
    again = gql(client, "operator", ISSUE, serial="K-1")["data"]["issueMark"]
    assert again["code"] == "AAA" and again["created"] is False
    assert gql(client, "operator", ISSUE, serial="K-2")["data"]["issueMark"]["code"] == "AAB"
    exact = gql(client, "operator", RESOLVE, mark="AAA")["data"]["resolveMark"]["candidates"]
    assert [(c["id"], c["confidence"]) for c in exact] == [("serial:K-1", 1.0)]
    worn = gql(client, "analyst", RESOLVE, mark="AA?")["data"]["resolveMark"]["candidates"]
    assert {c["id"] for c in worn} == {"serial:K-1", "serial:K-2"}


def test_a_reading_of_nothing_visible_is_refused(client: TestClient, kits: Services) -> None:
    for reading in ("", "\u200b\u00ad"):
        body = gql(client, "operator", RESOLVE, mark=reading)
        assert body["data"] == {"resolveMark": None}, body
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_REQUEST", body
        assert error["message"] == "mark: the reading holds no character that can be seen"


def test_roles_for_marks(client: TestClient, kits: Services) -> None:
    for role in ("supplier", "customer"):
        for query, variables in (
            (RESOLVE, {"mark": "AAA"}),
            (ISSUE, {"serial": "K-1"}),
            (DECIDE, {}),
        ):
            body = gql(client, role, query, **variables)
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (role, query)
    assert (
        gql(client, "analyst", ISSUE, serial="K-1")["errors"][0]["extensions"]["code"]
        == "FORBIDDEN"
    )
    decision = gql(client, "analyst", DECIDE)["data"]["markDecision"]
    assert decision["mark"] is (decision["phi"] < 0)


def test_a_decision_with_no_break_even_count_reads_null(client: TestClient) -> None:
    never = """{ markDecision(inputs: {wearRate: 1e-300, failureRate: 1e-10, life: 1,
        claim: 1, count: 1, setupCost: 1e15, runningCost: 0}) { mark breakEvenCount } }"""
    body = gql(client, "analyst", never)
    assert "errors" not in body, body["errors"]
    assert body["data"]["markDecision"] == {"mark": False, "breakEvenCount": None}


def test_a_refused_marking_action_reads_as_a_sentence(client: TestClient, kits: Services) -> None:
    said = {
        query: gql(client, "supplier", query, **variables)["errors"][0]["message"]
        for query, variables in (
            (RESOLVE, {"mark": "AAA"}),
            ("{ markSchemes { name } }", {}),
            (DECIDE, {}),
        )
    }
    assert list(said.values()) == [
        "the supplier role may not resolve marks",
        "the supplier role may not read mark code schemes",
        "the supplier role may not decide which parts to mark",
    ]
    issue = gql(client, "analyst", ISSUE, serial="K-1")["errors"][0]["message"]
    assert issue == "the analyst role may not issue marks"


def test_issue_outside_the_operators_site_is_not_found(
    client: TestClient, kits: Services, events: Events
) -> None:
    kits.ingest.ingest(
        [
            events.receive("L-2", 1, part="KIT", site="PLANT-2", supplier_lot="A-2"),
            events("serialize", lot="L-2", serials=["K-9"], site="PLANT-2"),
        ]
    )
    # Refused as a serial that does not exist: the operator cannot tell one from the other.
    for serial in ("K-9", "K-404"):
        refused = gql(client, "operator", ISSUE, serial=serial)
        assert refused["data"] == {"issueMark": None}
        (error,) = refused["errors"]
        assert error["message"] == f"no node 'serial:{serial}'", refused
        assert error["extensions"] == {"code": "NOT_FOUND", "status": 404}
    assert gql(client, "admin", ISSUE, serial="K-9")["data"]["issueMark"]["code"] == "AAA"
    hidden = gql(client, "operator", RESOLVE, mark="AAA")["data"]["resolveMark"]["candidates"]
    assert hidden == []


def test_a_mark_an_operator_issues_is_their_sites_and_no_other_site_voids_it(
    client: TestClient, kits: Services
) -> None:
    issued = gql(client, "operator", ISSUE.replace("created", "created eventId"), serial="K-1")
    event_id = issued["data"]["issueMark"]["eventId"]
    (stored,) = kits.store.logged([event_id]).values()
    assert json.loads(stored.payload)["site"] == "PLANT-1"
    kits.auth.add_user("olga", "olga-operator-pass", Role.OPERATOR, site="PLANT-2")
    token = client.post(
        "/api/v1/auth/token", data={"username": "olga", "password": "olga-operator-pass"}
    )
    olga = {"Authorization": f"Bearer {token.json()['access_token']}"}
    void = {
        "event_id": "V-1",
        "type": "void",
        "occurred_at": "2026-12-01T00:00:00Z",
        "voids": event_id,
        "reason": "not ours",
    }
    refused = client.post("/api/v1/events", json=[void], headers=olga)
    assert refused.status_code == 422, refused.text
    assert [(e["code"], e["message"]) for e in refused.json()["errors"]] == [
        ("unknown_event", f'event "{event_id}" does not exist')
    ]
    marked = gql(client, "operator", RESOLVE, mark="AAA")["data"]["resolveMark"]["candidates"]
    assert [c["id"] for c in marked] == ["serial:K-1"]


def test_indexes_and_counts_past_32_bits_read_exactly(
    client: TestClient, services: Services, events: Events
) -> None:
    # 26**10 codes: GraphQL's Int (32-bit) failed the scheme list and, after striking, the issue.
    spec = SchemeSpec(name="ROD10", kind="sequential", length=10, check=False, parts=["ROD"])
    services.marking.define_scheme(spec)
    high = 2**33 + 1
    services.ingest.ingest(
        [
            events.receive("L-R", 2, part="ROD", site="PLANT-1"),
            events("serialize", lot="L-R", serials=["R-1", "R-2"], site="PLANT-1"),
            events("mark", target={"serial": "R-1"}, code=Scheme(spec).code_for(high)),
        ]
    )
    issue = """mutation { issueMark(target: {serial: "R-2"}) { index created } }"""
    body = gql(client, "operator", issue)
    assert body["data"] == {"issueMark": {"index": str(high + 1), "created": True}}, body
    schemes = gql(client, "analyst", "{ markSchemes { capacity used nextIndex remaining } }")
    assert schemes["data"]["markSchemes"] == [
        {
            "capacity": str(26**10),
            "used": "2",
            "nextIndex": str(high + 2),
            "remaining": str(26**10 - high - 2),
        }
    ]


def test_an_operator_counts_the_codes_of_what_they_may_read(
    client: TestClient, kits: Services, events: Events
) -> None:
    kits.ingest.ingest(
        [
            events.receive("L-2", 2, part="KIT", site="PLANT-2", supplier_lot="A-2"),
            events("serialize", lot="L-2", serials=["K-8", "K-9"], site="PLANT-2"),
            events.receive("L-3", 1, part="KIT", supplier_lot="A-3"),  # of no site: every site's
            events("serialize", lot="L-3", serials=["K-0"]),
        ]
    )
    for serial in ("K-1", "K-8", "K-9", "K-0"):
        assert gql(client, "admin", ISSUE, serial=serial)["data"]["issueMark"]["created"]
    read = "{ markSchemes { name used nextIndex } }"
    for role, used in (("admin", "4"), ("analyst", "4"), ("operator", "2")):
        assert gql(client, role, read)["data"]["markSchemes"] == [
            {"name": "KIT3", "used": used, "nextIndex": "4"}
        ], role


def test_the_use_of_every_scheme_is_read_in_one_store_call(
    client: TestClient, kits: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(5):
        spec = SchemeSpec(name=f"SET{n}", kind="sequential", length=3, check=False, parts=[f"S{n}"])
        kits.marking.define_scheme(spec)
    assert gql(client, "operator", ISSUE, serial="K-1")["data"]["issueMark"]["created"]
    counts = ("mark_usage", "marks_seen_by", "last_mark_index", "marks_used")
    calls: list[str] = []
    for name in counts:
        if hasattr(kits.store, name):
            original = getattr(kits.store, name)

            def counted(*args: Any, original: Any = original, name: str = name) -> Any:
                calls.append(name)
                return original(*args)

            monkeypatch.setattr(kits.store, name, counted)
    read = "{ a: markSchemes { name used nextIndex } b: markSchemes { name remaining } }"
    for role, used in (("analyst", "1"), ("operator", "1")):
        calls.clear()
        body = gql(client, role, read)["data"]
        assert [(s["name"], s["used"]) for s in body["a"]][:2] == [("KIT3", used), ("SET0", "0")]
        assert len(body["a"]) == len(body["b"]) == 6
        assert calls == ["marks_used"], (role, calls)
