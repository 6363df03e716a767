"""The supplier portal on the demo plant: cases naming a supplier's lots, requests, answers.

Every role tries to read and answer what is not theirs; each refusal has a positive control.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api import recall
from api.auth.models import Role
from api.cli import main
from api.deps import Services
from api.graphql.results import key_cursor
from api.recall import RecallService
from api.supplier_portal import ANSWER_EVENT_PREFIX, SupplierPortal
from graph.clock import now_text
from graph.documents import sha256_of
from graph.embedded_store import EmbeddedStore
from graph.store import Changes, EventRow
from ingest.canonical import payload_and_digest
from ingest.errors import BatchConflict
from ingest.parse import EVENT_ADAPTER
from ingest.service import IngestService
from tests.api.conftest import login
from tests.fixtures.events import Events

ACME_LOT = "supplier_lot:ACME-STEEL/H70001"
POLY_LOT = "supplier_lot:POLYMED/PM-2"
PDF = b"%PDF-1.7 mill certificate H70001, tensile 612 MPa"
CSV = b"sample,mpa\n1,612\n2,608\n"

OPEN = """mutation($s: [SuspectInput!]!) { openRecall(id: "RC-1", title: "Bar heat H70001",
    reason: "mill certificate withdrawn", suspects: $s) { id } }"""
ASK = """mutation($lot: ID!, $q: String!) { requestSupplierResponse(caseId: "RC-1",
    supplierLot: $lot, question: $q, dueBy: "2026-05-01T12:00:00+02:00") {
      id supplierLot suspect state question dueBy } }"""
ANSWER = """mutation($case: String!, $lot: ID!, $text: String, $up: [UpstreamLotInput!],
    $docs: [DocumentInput!], $key: String) {
  answerSupplierRequest(caseId: $case, supplierLot: $lot, text: $text, upstream: $up,
      documents: $docs, answerId: $key) {
    __typename
    ... on SupplierRequest { state answers answer { text answeredBy
        upstream { lot heat qty unit madeOn } documents { name mediaType size sha256 url } } }
    ... on AnswerRefused { code message } } }"""
MINE = """{ mySupplierCases { edges { node { id title state lots { supplierLot suspect state
    question dueBy overdue requestedBy answers answer { text documents { sha256 } } } } } } }"""
ANALYST_VIEW = """{ recallCase(id: "RC-1") { supplierRequests { supplier supplierLot suspect
    state question requestedBy answers
    answer { text answeredBy documents { name sha256 url } } } } }"""


def gql(client: TestClient, headers: dict[str, str], query: str, **variables: Any) -> Any:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def data(client: TestClient, headers: dict[str, str], query: str, **variables: Any) -> Any:
    body = gql(client, headers, query, **variables)
    assert "errors" not in body, body
    return body["data"]


def nodes(client: TestClient, headers: dict[str, str], query: str) -> list[Any]:
    """The nodes of the first page of a list of cases (the query's one field)."""
    (page,) = data(client, headers, query).values()
    return [edge["node"] for edge in page["edges"]]


def doc(name: str, content: bytes, media_type: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name, "contentBase64": base64.b64encode(content).decode()}
    if media_type is not None:
        row["mediaType"] = media_type
    return row


@pytest.fixture
def poly(plant: Services, client: TestClient) -> dict[str, str]:
    """Headers of a second supplier, POLYMED."""
    plant.auth.add_user("poly", "poly-supplier-pass", Role.SUPPLIER, "POLYMED")
    token = client.post(
        "/api/v1/auth/token", data={"username": "poly", "password": "poly-supplier-pass"}
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture
def case(plant: Services, client: TestClient) -> dict[str, str]:
    """A case suspecting ACME's heat; returns the analyst's headers."""
    analyst = login(client, "analyst")
    data(client, analyst, OPEN, s=[{"id": ACME_LOT}])
    return analyst


def logged(plant: Services) -> int:
    return plant.store.counts()["events"]


def test_supplier_sees_only_their_lots_in_a_case(
    client: TestClient, case: dict[str, str], poly: dict[str, str]
) -> None:
    analyst = case
    data(client, analyst, ASK, lot=POLY_LOT, q="Send the granule batch records")
    acme = login(client, "supplier")
    (seen,) = nodes(client, acme, MINE)
    assert (seen["id"], seen["state"]) == ("case:RC-1", "open")
    assert [lot["supplierLot"] for lot in seen["lots"]] == [ACME_LOT]
    assert seen["lots"][0]["suspect"] is True and seen["lots"][0]["question"] is None
    text = json.dumps(seen)
    for secret in ("POLYMED", "PM-2", "HOSP", "granule"):
        assert secret not in text
    (theirs,) = nodes(client, poly, MINE)
    assert [lot["supplierLot"] for lot in theirs["lots"]] == [POLY_LOT]
    asked = theirs["lots"][0]
    assert asked["suspect"] is False and asked["state"] == "requested"
    assert asked["question"] == "Send the granule batch records"
    assert asked["dueBy"] == "2026-05-01T10:00:00.000000Z"
    assert asked["overdue"] is True, "the deadline lies in the past and nothing was answered"
    assert seen["lots"][0]["overdue"] is False, "no deadline was set for a suspect lot"
    assert asked["requestedBy"] is None, "the plant's analyst is not named to suppliers"
    # The title is the analyst's words and is shown to every supplier the case names.
    assert "ACME-STEEL" not in json.dumps(theirs)
    about = nodes(client, poly, "{ casesAboutMyLots { edges { node { id suspects { id } } } } }")
    assert about == [{"id": "case:RC-1", "suspects": []}]


def test_suppliers_without_a_named_lot_see_no_case(client: TestClient, plant: Services) -> None:
    analyst = login(client, "analyst")
    data(client, analyst, OPEN, s=[{"id": POLY_LOT}])
    acme = login(client, "supplier")
    assert nodes(client, acme, MINE) == []
    data(client, analyst, ASK, lot=ACME_LOT, q="Was H70001 re-certified?")
    assert [c["id"] for c in nodes(client, acme, MINE)] == ["case:RC-1"]


def test_answer_with_documents_and_who_may_download(
    client: TestClient, plant: Services, case: dict[str, str], poly: dict[str, str]
) -> None:
    acme = login(client, "supplier")
    upstream = [
        {"lot": "BILLET-9", "heat": "H70001", "qty": "2.5", "unit": "t", "madeOn": "2026-01-04"}
    ]
    sent = data(
        client,
        acme,
        ANSWER,
        case="RC-1",
        lot=ACME_LOT,
        text="Re-tested: within spec",
        up=upstream,
        docs=[doc("cert.pdf", PDF), doc("tensile.csv", CSV, "text/csv")],
    )["answerSupplierRequest"]
    assert sent["__typename"] == "SupplierRequest" and sent["state"] == "answered"
    assert sent["answer"]["upstream"] == [
        {"lot": "BILLET-9", "heat": "H70001", "qty": "2.5", "unit": "t", "madeOn": "2026-01-04"}
    ]
    docs = sent["answer"]["documents"]
    assert [(d["name"], d["mediaType"], d["size"]) for d in docs] == [
        ("cert.pdf", "application/pdf", len(PDF)),
        ("tensile.csv", "text/csv", len(CSV)),
    ]
    url = f"/api/v1/recalls/RC-1/documents/{sha256_of(PDF)}?media_type=application%2Fpdf"
    assert docs[0]["url"] == url

    (request,) = data(client, case, ANALYST_VIEW)["recallCase"]["supplierRequests"]
    assert request["answer"]["text"] == "Re-tested: within spec"
    assert request["answer"]["answeredBy"] == "acme" and request["supplier"] == "ACME-STEEL"

    got = client.get(url, headers=case)
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"
    saved = f"{sha256_of(PDF)[:16]}.pdf"
    assert got.headers["content-disposition"] == (
        f"attachment; filename=\"{saved}\"; filename*=UTF-8''{saved}"
    )
    assert client.get(url, headers=acme).content == PDF, "the sender may read their own"
    bare = client.get(url.partition("?")[0], headers=case)
    assert bare.content == PDF and bare.headers["content-type"] == "application/pdf"
    assert client.get(url, headers=poly).status_code == 404
    assert client.get(url, headers=login(client, "customer")).status_code == 403
    assert client.get(url, headers=login(client, "operator")).status_code == 403
    elsewhere = url.replace("RC-1", "RC-2")
    assert client.get(elsewhere, headers=case).status_code == 404
    unknown = f"/api/v1/recalls/RC-1/documents/{'0' * 64}"
    assert client.get(unknown, headers=case).status_code == 404

    html = client.get("/api/v1/recalls/RC-1/export?format=html", headers=case).text
    assert "Supplier answers" in html and "Re-tested: within spec" in html
    assert "cert.pdf" in html and "BILLET-9" in html
    exported = client.get("/api/v1/recalls/RC-1/export?format=json", headers=case).json()
    (listed,) = exported["supplier_requests"]
    assert listed["answer"]["text"] == "Re-tested: within spec"


def test_the_exports_tell_a_deadline_passed_unanswered(
    client: TestClient, case: dict[str, str]
) -> None:
    # ASK's deadline lies in the past: analysts read it as GraphQL's `overdue` reads it.
    data(client, case, ASK, lot=ACME_LOT, q="Send the heat certificate")
    exported = client.get("/api/v1/recalls/RC-1/export?format=json", headers=case).json()
    assert [r["overdue"] for r in exported["supplier_requests"]] == [True]
    html = client.get("/api/v1/recalls/RC-1/export?format=html", headers=case).text
    assert "2026-05-01T10:00:00.000000Z (overdue)" in html
    # Answered, the deadline no longer counts.
    data(client, login(client, "supplier"), ANSWER, case="RC-1", lot=ACME_LOT, text="sent")
    exported = client.get("/api/v1/recalls/RC-1/export?format=json", headers=case).json()
    assert [r["overdue"] for r in exported["supplier_requests"]] == [False]
    html = client.get("/api/v1/recalls/RC-1/export?format=html", headers=case).text
    assert "2026-05-01T10:00:00.000000Z" in html and "overdue" not in html


def test_nothing_of_a_closed_case_is_overdue(client: TestClient, case: dict[str, str]) -> None:
    # ASK's deadline lies in the past, unanswered; closed, the case takes no more answers.
    data(client, case, ASK, lot=ACME_LOT, q="Send the heat certificate")
    data(client, case, 'mutation { closeRecall(id: "RC-1", reason: "done") { state } }')
    view = '{ recallCase(id: "RC-1") { supplierRequests { state dueBy overdue } } }'
    (asked,) = data(client, case, view)["recallCase"]["supplierRequests"]
    assert asked == {"state": "requested", "dueBy": "2026-05-01T10:00:00.000000Z", "overdue": False}
    (seen,) = nodes(client, login(client, "supplier"), MINE)
    assert (seen["state"], seen["lots"][0]["overdue"]) == ("closed", False)
    exported = client.get("/api/v1/recalls/RC-1/export?format=json", headers=case).json()
    assert [r["overdue"] for r in exported["supplier_requests"]] == [False]
    html = client.get("/api/v1/recalls/RC-1/export?format=html", headers=case).text
    assert "2026-05-01T10:00:00.000000Z" in html and "overdue" not in html


def test_a_question_asked_after_an_answer_waits_for_its_own(
    client: TestClient, case: dict[str, str]
) -> None:
    # The supplier answered the first question; the analyst asks another (its deadline passed).
    acme = login(client, "supplier")
    data(client, case, ASK, lot=ACME_LOT, q="Send the heat certificate")
    data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, text="certificate attached")
    data(client, case, ASK, lot=ACME_LOT, q="Send the tensile tests too")
    view = """{ recallCase(id: "RC-1") { supplierRequests { state question overdue
        answer { text } } } }"""
    (asked,) = data(client, case, view)["recallCase"]["supplierRequests"]
    assert asked == {
        "state": "requested",
        "question": "Send the tensile tests too",
        "overdue": True,
        "answer": {"text": "certificate attached"},  # the latest, to the earlier question
    }
    (seen,) = nodes(client, acme, MINE)
    assert (seen["lots"][0]["state"], seen["lots"][0]["overdue"]) == ("requested", True)
    exported = client.get("/api/v1/recalls/RC-1/export?format=json", headers=case).json()
    assert [(r["state"], r["overdue"]) for r in exported["supplier_requests"]] == [
        ("requested", True)
    ]
    # Answered again, the new question is answered.
    data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, text="tensile tests attached")
    (asked,) = data(client, case, view)["recallCase"]["supplierRequests"]
    assert (asked["state"], asked["overdue"]) == ("answered", False)


def test_asking_about_no_such_case_says_so(client: TestClient, plant: Services) -> None:
    before = logged(plant)
    asked = gql(
        client, login(client, "analyst"), ASK.replace('"RC-1"', '"RC-404"'), lot=ACME_LOT, q="q"
    )
    assert asked["data"] == {"requestSupplierResponse": None}
    (error,) = asked["errors"]
    assert error["message"] == "no recall case 'RC-404'", asked
    assert error["extensions"] == {"code": "NOT_FOUND", "status": 404}
    assert logged(plant) == before


def test_a_later_answer_supersedes_and_both_stay_in_history(
    client: TestClient, case: dict[str, str]
) -> None:
    acme = login(client, "supplier")
    for text in ("first look", "full analysis"):
        data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, text=text)
    (request,) = data(client, case, ANALYST_VIEW)["recallCase"]["supplierRequests"]
    assert request["answers"] == 2 and request["answer"]["text"] == "full analysis"
    history = data(client, case, '{ recallCase(id: "RC-1") { history } }')["recallCase"]
    texts = [e.get("text") for e in history["history"] if e["type"] == "recall_supplier_answer"]
    assert texts == ["first look", "full analysis"]


def test_resending_an_answer_with_its_key_changes_nothing(
    client: TestClient, plant: Services, case: dict[str, str]
) -> None:
    acme = login(client, "supplier")
    args: dict[str, Any] = {
        "case": "RC-1",
        "lot": ACME_LOT,
        "text": "same",
        "docs": [doc("cert.pdf", PDF)],
        "key": "scar-17",
    }
    assert data(client, acme, ANSWER, **args)["answerSupplierRequest"]["answers"] == 1
    before = logged(plant)
    again = data(client, acme, ANSWER, **args)["answerSupplierRequest"]
    assert again["answers"] == 1 and logged(plant) == before
    changed = data(client, acme, ANSWER, **(args | {"text": "other"}))["answerSupplierRequest"]
    assert changed["__typename"] == "AnswerRefused" and changed["code"] == "event_conflict"
    form = {"supplier_lot": ACME_LOT, "text": "other", "answer_id": "scar-17"}
    rest = client.post("/api/v1/recalls/RC-1/answers", data=form, headers=acme)
    assert (rest.status_code, rest.json()["error"]) == (409, "event_conflict"), rest.text
    assert logged(plant) == before


def test_a_nested_field_refused_to_a_supplier_says_forbidden_and_is_audited_as_denied(
    client: TestClient, case: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    acme = login(client, "supplier")
    with caplog.at_level(logging.INFO, logger="tracegraph.audit"):
        body = gql(client, acme, "{ casesAboutMyLots { edges { node { id notices { id } } } } }")
    [error] = body["errors"]
    assert error["path"][-1] == "notices"
    assert error["extensions"] == {"code": "FORBIDDEN", "status": 403}
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tracegraph.audit"]
    [audited] = [r for r in records if r["path"] == "/graphql"]
    assert audited["outcome"] == "denied"


@pytest.mark.parametrize("role", ["operator", "analyst", "admin"])
def test_no_event_sent_directly_takes_an_answers_event_id(
    client: TestClient, plant: Services, case: dict[str, str], role: str
) -> None:
    squat = {
        "event_id": "recall_supplier_answer/ACME-STEEL/scar-17",
        "type": "status",
        "occurred_at": "2026-03-05T00:00:00Z",
        "target": {"lot": "L00001-BAR"},
        "status": "released",
        "reason": "taken first",
    }
    response = client.post("/api/v1/events", json=[squat], headers=login(client, role))
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert (problem["field"], problem["code"]) == ("event_id", "reserved_id")
    assert plant.store.logged([squat["event_id"]]) == {}
    answer = {"case": "RC-1", "lot": ACME_LOT, "text": "ours", "key": "scar-17"}
    found = data(client, login(client, "supplier"), ANSWER, **answer)["answerSupplierRequest"]
    assert found["answers"] == 1


@pytest.mark.parametrize(
    ("case_id", "lot", "docs", "code", "says"),
    [
        ("RC-9", ACME_LOT, [], "not_found", "RC-9"),
        ("RC-1", POLY_LOT, [], "not_found", "of yours"),
        ("RC-1", "supplier_lot:ACME-STEEL/NOPE", [], "not_found", "of yours"),
        ("RC-1", ACME_LOT, [doc("cert.pdf", b"MZ not a pdf")], "bad_request", "first bytes"),
        ("RC-1", ACME_LOT, [doc("page.html", b"<html/>", "text/html")], "bad_request", "allowed"),
        (
            "RC-1",
            ACME_LOT,
            [doc("x.txt", b"x") | {"contentBase64": "%%%"}],
            "bad_request",
            "base64",
        ),
        ("RC-1", ACME_LOT, [doc(f"{i}.txt", b"x") for i in range(11)], "bad_request", "at most"),
    ],
)
def test_bad_answers_are_refused_and_write_nothing(
    client: TestClient,
    plant: Services,
    case: dict[str, str],
    case_id: str,
    lot: str,
    docs: list[dict[str, Any]],
    code: str,
    says: str,
) -> None:
    acme = login(client, "supplier")
    before = logged(plant)
    refused = data(client, acme, ANSWER, case=case_id, lot=lot, text="t", docs=docs)
    assert refused["answerSupplierRequest"]["__typename"] == "AnswerRefused"
    assert refused["answerSupplierRequest"]["code"] == code
    assert says in refused["answerSupplierRequest"]["message"]
    assert logged(plant) == before
    ok = data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, text="t")
    assert ok["answerSupplierRequest"]["__typename"] == "SupplierRequest", "positive control"


def test_a_refused_answer_names_the_field_it_refuses(
    client: TestClient, plant: Services, case: dict[str, str]
) -> None:
    """A supplier told only "String should have at most 200 characters" cannot tell which of
    the answer's fields to mend."""
    acme = login(client, "supplier")
    before = logged(plant)
    long = [{"lot": "BILLET-9", "certificate": "C" * 201}]
    refused = data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, text="t", up=long)
    message = refused["answerSupplierRequest"]["message"]
    assert message.startswith("upstream[0].certificate: "), message
    assert logged(plant) == before


@pytest.mark.parametrize("made_on", ["20260104", "2026-W01-7", "2026W017"])
def test_a_date_of_another_iso_spelling_is_refused_as_over_rest(
    client: TestClient, plant: Services, case: dict[str, str], made_on: str
) -> None:
    # Python reads these as 2026-01-04; the contract (and REST's upstream field) writes a
    # date YYYY-MM-DD only: one GraphQL took would be a date REST refuses.
    acme = login(client, "supplier")
    before = logged(plant)
    up = [{"lot": "BILLET-9", "madeOn": made_on}]
    (error,) = gql(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, up=up)["errors"]
    assert error["message"] == (
        f"Variable '$up' has invalid value at [0].madeOn: {made_on!r}: "
        'a date is written YYYY-MM-DD, such as "2026-03-02"'
    )
    rest = client.post(
        "/api/v1/recalls/RC-1/answers",
        data={"supplier_lot": ACME_LOT, "upstream": json.dumps([{"lot": "B", "made_on": made_on}])},
        headers=acme,
    )
    assert rest.status_code == 422, rest.text
    assert logged(plant) == before
    up = [{"lot": "BILLET-9", "madeOn": "2026-01-04"}]
    ok = data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, up=up)["answerSupplierRequest"]
    assert ok["answer"]["upstream"][0]["madeOn"] == "2026-01-04", "positive control"


def test_a_date_in_the_query_is_refused_naming_its_place(
    client: TestClient, case: dict[str, str]
) -> None:
    query = ANSWER.replace(" $up: [UpstreamLotInput!],", "").replace(
        "upstream: $up", 'upstream: [{lot: "B", madeOn: "2026-W01-7"}]'
    )
    (error,) = gql(client, login(client, "supplier"), query, case="RC-1", lot=ACME_LOT)["errors"]
    assert error["message"].startswith(
        "Argument 'upstream' has invalid value at [0].madeOn: '2026-W01-7': a date is written"
    ), error


def test_a_closed_case_takes_no_answers(
    client: TestClient, plant: Services, case: dict[str, str]
) -> None:
    acme = login(client, "supplier")
    assert (
        data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, text="open")["answerSupplierRequest"][
            "state"
        ]
        == "answered"
    )
    data(client, case, 'mutation { closeRecall(id: "RC-1", reason: "done") { state } }')
    before = logged(plant)
    late = data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, docs=[doc("c.pdf", PDF)])
    assert late["answerSupplierRequest"]["code"] == "conflict"
    assert "closed" in late["answerSupplierRequest"]["message"]
    assert logged(plant) == before and plant.store.document(sha256_of(PDF)) is None


@pytest.mark.parametrize("role", ["analyst", "operator", "customer", "admin"])
def test_only_suppliers_answer(client: TestClient, case: dict[str, str], role: str) -> None:
    body = gql(client, login(client, role), ANSWER, case="RC-1", lot=ACME_LOT, text="x")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("role", ["supplier", "operator", "customer"])
def test_only_analysts_ask_suppliers(client: TestClient, case: dict[str, str], role: str) -> None:
    body = gql(client, login(client, role), ASK, lot=ACME_LOT, q="q")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    views = gql(client, login(client, role), ANALYST_VIEW)
    assert views["data"]["recallCase"] is None


def test_asking_about_an_unknown_lot_is_refused(client: TestClient, case: dict[str, str]) -> None:
    body = gql(client, case, ASK, lot="supplier_lot:ACME-STEEL/NOPE", q="q")
    assert "does not exist" in body["errors"][0]["message"]
    body = gql(client, case, ASK, lot="lot:L-1", q="q")
    assert "not a supplier lot id" in body["errors"][0]["message"]


SNEAKS = [
    {"type": "recall_supplier_answer", "supplier": "ACME-STEEL", "supplier_lot": "H70001"}
    | {"text": "forged"},
    {"type": "recall_state", "state": "closed", "reason": "closed from the floor"},
]


@pytest.mark.parametrize("sneak", SNEAKS, ids=lambda s: s["type"])
def test_operators_cannot_send_case_events_raw(
    client: TestClient, plant: Services, case: dict[str, str], sneak: dict[str, str]
) -> None:
    operator = login(client, "operator")
    raw = {"event_id": "SNEAK-1", "occurred_at": "2026-04-01T00:00:00Z", "case": "RC-1"} | sneak
    response = client.post("/api/v1/events", json=[raw], headers=operator)
    assert response.status_code == 403 and "run by analysts" in response.json()["message"]
    assert plant.store.logged(["SNEAK-1"]) == {}
    receive = {
        "event_id": "OK-1",
        "type": "receive",
        "occurred_at": "2026-04-01T00:00:00Z",
        "supplier": "ACME-STEEL",
        "supplier_lot": "H70099",
        "part": "BAR-STOCK",
        "lot": "L-OK-1",
        "qty": "5",
    }
    assert client.post("/api/v1/events", json=[receive], headers=operator).status_code == 201


def test_multipart_answer_and_its_limits(
    client: TestClient, plant: Services, case: dict[str, str]
) -> None:
    acme = login(client, "supplier")
    url = "/api/v1/recalls/RC-1/answers"
    form = {
        "supplier_lot": ACME_LOT,
        "text": "certificate attached",
        "upstream": json.dumps([{"lot": "BILLET-9", "certificate": "MC-881"}]),
    }
    files = [("documents", ("cert.pdf", PDF, "application/octet-stream"))]
    sent = client.post(url, data=form, files=files, headers=acme)
    assert sent.status_code == 201, sent.text
    assert sent.json()["answer"]["documents"][0]["media_type"] == "application/pdf"
    assert sent.json()["answer"]["upstream"] == [{"lot": "BILLET-9", "certificate": "MC-881"}]
    assert sent.json()["requested_by"] is None
    download = f"/api/v1/recalls/RC-1/documents/{sha256_of(PDF)}"
    assert client.get(download, headers=case).content == PDF

    before = logged(plant)
    big = b"%PDF-" + b"0" * (10 * 1024 * 1024)
    too_big = client.post(
        url, data=form, files=[("documents", ("big.pdf", big, "application/pdf"))], headers=acme
    )
    assert too_big.status_code == 413 and "limit" in too_big.json()["message"]
    disguised = client.post(
        url, data=form, files=[("documents", ("x.png", PDF, "image/png"))], headers=acme
    )
    assert disguised.status_code == 400 and "image/png" in disguised.json()["message"]
    bad_upstream = client.post(url, data=form | {"upstream": "{"}, headers=acme)
    assert bad_upstream.status_code == 400 and "upstream" in bad_upstream.json()["message"]
    typo = client.post(url, data=form | {"upstream": '[{"lott": "X"}]'}, headers=acme)
    assert typo.status_code == 422 and "lott" in typo.text
    # The supplier sent a form: told what was wrong by field, not as an event of a batch.
    assert "upstream[0].lott: is not a field" in typo.json()["message"], typo.json()
    assert "event 0" not in typo.json()["message"]
    assert logged(plant) == before
    analyst_upload = client.post(url, data=form, headers=case)
    assert analyst_upload.status_code == 403


def test_an_answer_form_field_given_twice_is_refused_by_name(
    client: TestClient, plant: Services, case: dict[str, str]
) -> None:
    acme = login(client, "supplier")
    url = "/api/v1/recalls/RC-1/answers"
    before = logged(plant)
    for name, values in (("text", ["tested", "not tested"]), ("supplier_lot", [ACME_LOT] * 2)):
        form = {"supplier_lot": ACME_LOT} | {name: values}
        refused = client.post(url, data=form, files=[("documents", ("a.pdf", PDF))], headers=acme)
        assert refused.status_code == 422, refused.text
        [problem] = refused.json()["errors"]
        assert problem["field"] == f"body.{name}" and problem["code"] == "duplicate_field"
    assert logged(plant) == before
    # Documents are a list: several are sent under one name.
    files = [("documents", ("a.pdf", PDF)), ("documents", ("b.csv", CSV, "text/csv"))]
    sent = client.post(url, data={"supplier_lot": ACME_LOT}, files=files, headers=acme)
    assert sent.status_code == 201, sent.text
    assert len(sent.json()["answer"]["documents"]) == 2


def test_a_missing_case_and_a_case_about_others_read_alike(
    client: TestClient, case: dict[str, str], poly: dict[str, str]
) -> None:
    data(client, case, OPEN.replace("RC-1", "RC-2"), s=[{"id": POLY_LOT}])
    acme = login(client, "supplier")
    said = []
    for case_id in ("RC-2", "RC-404"):
        refused = data(client, acme, ANSWER, case=case_id, lot=ACME_LOT, text="t")
        assert refused["answerSupplierRequest"]["code"] == "not_found"
        said.append(refused["answerSupplierRequest"]["message"].replace(case_id, "X"))
    assert said[0] == said[1], "the refusal does not tell which case exists"
    ok = data(client, poly, ANSWER, case="RC-2", lot=POLY_LOT, text="t")
    assert ok["answerSupplierRequest"]["__typename"] == "SupplierRequest", "positive control"


@pytest.mark.parametrize("key", ["k" * 101, "a\nb", ""])
def test_a_bad_answer_key_is_refused_by_name(
    client: TestClient, plant: Services, case: dict[str, str], key: str
) -> None:
    acme = login(client, "supplier")
    before = logged(plant)
    refused = data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, text="t", key=key)
    assert refused["answerSupplierRequest"]["code"] == "bad_request"
    assert "answer id" in refused["answerSupplierRequest"]["message"]
    assert logged(plant) == before
    ok = data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, text="t", key="k" * 100)
    assert ok["answerSupplierRequest"]["__typename"] == "SupplierRequest", "positive control"


@pytest.mark.parametrize("supplier", ["ACME", "S" * 76, "S" * 77, "S" * 200])
def test_an_answer_key_fits_an_event_id_whatever_the_supplier(
    tmp_path: Path, supplier: str
) -> None:
    # A company id may be 200 characters: its answer ids still make an event id of at most 200,
    # the same every time (a resend is a duplicate), and the one it always was where it fits.
    graph = EmbeddedStore(tmp_path / "portal.db")
    ingest = IngestService(graph)
    recalls = RecallService(graph, ingest)
    portal = SupplierPortal(graph, ingest, recalls)
    ingest.ingest([Events().receive("L-1", 5, supplier=supplier, supplier_lot="H1")])
    lot = f"supplier_lot:{supplier}/H1"
    recalls.open("RC-1", "t", "r", [{"id": lot}], "ana")
    key = "A/" + "k" * 98

    def send(text: str) -> int:
        answer = {"upstream": [], "uploads": [], "actor": "sup", "answer_id": key}
        return portal.answer("RC-1", lot, text=text, **answer).answers

    assert [send("all fine"), send("all fine")] == [1, 1]
    with pytest.raises(BatchConflict):
        send("something else")
    (event,) = [e for e in graph.events(0, 100) if e.type == "recall_supplier_answer"]
    assert len(event.event_id) <= 200 and event.event_id.startswith(ANSWER_EVENT_PREFIX)
    if len(supplier) <= 76:
        assert event.event_id == f"recall_supplier_answer/{supplier}/{key}"
    graph.close()


@pytest.mark.parametrize("case_id", ["RC/2", ".", ".."])
def test_a_case_id_that_cannot_be_part_of_a_url_is_refused(
    client: TestClient, plant: Services, case_id: str
) -> None:
    analyst = login(client, "analyst")
    before = logged(plant)
    opened = OPEN.replace('"RC-1"', "$id").replace("($s:", "($id: String!, $s:")
    refused = gql(client, analyst, opened, id=case_id, s=[{"id": ACME_LOT}])
    assert refused["data"] == {"openRecall": None}
    message = refused["errors"][0]["message"]
    assert 'holds no "/" and is not "." or ".."' in message and case_id in message, refused
    assert logged(plant) == before
    ok = gql(client, analyst, opened, id="RC.2", s=[{"id": ACME_LOT}])
    assert ok["data"] == {"openRecall": {"id": "case:RC.2"}}, "positive control"


def test_a_case_whose_id_holds_a_slash_is_still_served(client: TestClient, plant: Services) -> None:
    # Opened before such ids were refused: its event is in the log, and rebuilds keep it.
    opened = {
        "event_id": "OLD-OPEN",
        "type": "recall_open",
        "occurred_at": "2026-03-02T08:00:00Z",
        "case": "RC/OLD",
        "title": "t",
        "reason": "r",
        "suspects": [{"id": ACME_LOT}],
    }
    plant.ingest.ingest_events([EVENT_ADAPTER.validate_python(opened)])  # as a log replays it
    plant.ingest.rebuild()
    analyst, acme = login(client, "analyst"), login(client, "supplier")
    answered = data(client, acme, ANSWER, case="RC/OLD", lot=ACME_LOT, docs=[doc("c.pdf", PDF)])
    (document,) = answered["answerSupplierRequest"]["answer"]["documents"]
    assert client.get(document["url"], headers=analyst).content == PDF
    case = quote("RC/OLD", safe="")
    exported = client.get(f"/api/v1/recalls/{case}/export?format=csv", headers=analyst)
    assert exported.status_code == 200 and "\nlot:" in exported.text, exported.text
    form = {"supplier_lot": ACME_LOT, "text": "again"}
    sent = client.post(f"/api/v1/recalls/{case}/answers", data=form, headers=acme)
    assert sent.status_code == 201, sent.text


@pytest.mark.parametrize("name", ["", " "])
def test_a_file_without_a_name_is_refused_by_name(
    client: TestClient, plant: Services, case: dict[str, str], name: str
) -> None:
    acme = login(client, "supplier")
    before = logged(plant)
    url = "/api/v1/recalls/RC-1/answers"
    form = {"supplier_lot": ACME_LOT, "text": "t"}
    cert = ("documents", ("cert.pdf", PDF, "application/pdf"))
    files = [cert, ("documents", (name, b"mill cert", "text/plain"))]
    refused = client.post(url, data=form, files=files, headers=acme)
    assert refused.status_code == 400, refused.text
    said = "documents[1]: a document name is 1-255 printable characters"
    assert refused.json() == {"error": "bad_request", "message": said}
    assert logged(plant) == before
    graphql = data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, docs=[doc(name, PDF)])
    assert graphql["answerSupplierRequest"]["message"] == said.replace("[1]", "[0]")
    assert logged(plant) == before
    ok = client.post(url, data=form, files=[cert], headers=acme)
    assert ok.status_code == 201, "positive control"


@pytest.mark.parametrize(
    ("name", "char"),
    [
        ("cert\u2028.txt", "U+2028 (LINE SEPARATOR)"),
        ("cert\u202etxt.pdf", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("cert\x85.txt", "U+0085 (unnamed)"),
    ],
)
def test_a_name_that_is_not_printable_is_refused_naming_the_character(
    client: TestClient, plant: Services, case: dict[str, str], name: str, char: str
) -> None:
    acme = login(client, "supplier")
    before = logged(plant)
    files = [("documents", (name, b"mill cert", "text/plain"))]
    form = {"supplier_lot": ACME_LOT, "text": "t"}
    refused = client.post("/api/v1/recalls/RC-1/answers", data=form, files=files, headers=acme)
    said = f"documents[0]: a document name is 1-255 printable characters: {char} is not"
    assert refused.status_code == 400, refused.text
    assert refused.json() == {"error": "bad_request", "message": said}
    graphql = data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, docs=[doc(name, b"x")])
    assert graphql["answerSupplierRequest"]["message"] == said
    assert logged(plant) == before


def test_the_same_bytes_under_two_media_types_are_served_as_each_and_rebuild(
    client: TestClient, plant: Services, case: dict[str, str], poly: dict[str, str], tmp_path: Path
) -> None:
    acme = login(client, "supplier")
    table = b"a,b\n1,2\n"
    for name, media_type in (("notes.txt", "text/plain"), ("tensile.csv", "text/csv")):
        sent = data(
            client, acme, ANSWER, case="RC-1", lot=ACME_LOT, docs=[doc(name, table, media_type)]
        )["answerSupplierRequest"]
        assert sent["__typename"] == "SupplierRequest", sent
    (request,) = data(client, case, ANALYST_VIEW)["recallCase"]["supplierRequests"]
    (latest,) = request["answer"]["documents"]
    assert latest["name"] == "tensile.csv"

    def served(url: str, headers: dict[str, str]) -> tuple[int, str, str]:
        got = client.get(url, headers=headers)
        if got.status_code != 200:
            return got.status_code, "", ""
        assert got.content == table
        return 200, got.headers["content-type"], got.headers["content-disposition"]

    bare = f"/api/v1/recalls/RC-1/documents/{sha256_of(table)}"
    assert latest["url"] == f"{bare}?media_type=text%2Fcsv"
    for headers in (case, acme):
        status, media_type, saved = served(latest["url"], headers)
        assert status == 200 and media_type.startswith("text/csv") and ".csv" in saved
        status, media_type, saved = served(f"{bare}?media_type=text/plain", headers)
        assert status == 200 and media_type.startswith("text/plain") and ".txt" in saved
        # Never a type no answer gave these bytes.
        assert served(f"{bare}?media_type=application/json", headers)[0] == 404
    assert served(latest["url"], poly)[0] == 404

    # The log holding both answers replays, on a rebuild and into a copy.
    store = plant.store.url
    assert main(["rebuild", "--store", store]) == 0
    assert main(["copy-store", "--store", store, "--to", f"sqlite:///{tmp_path / 'copy.db'}"]) == 0
    assert served(latest["url"], case)[1].startswith("text/csv")


def test_stored_bytes_are_not_given_another_type_without_being_sent(
    client: TestClient, plant: Services, case: dict[str, str]
) -> None:
    acme = login(client, "supplier")
    data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, docs=[doc("cert.pdf", PDF)])
    before = logged(plant)
    ref = {"name": "cert.txt", "media_type": "text/plain", "size": len(PDF)}
    raw = {
        "event_id": "ANSWER-RAW-1",
        "type": "recall_supplier_answer",
        "occurred_at": now_text(),
        "case": "RC-1",
        "supplier": "ACME-STEEL",
        "supplier_lot": "H70001",
        "documents": [ref | {"sha256": sha256_of(PDF)}],
    }
    response = client.post("/api/v1/events", json=[raw], headers=login(client, "admin"))
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert problem["code"] == "document_mismatch"
    assert problem["message"] == (
        f'document "cert.txt" is described as text/plain, {len(PDF)} bytes, '
        f"but is stored as application/pdf, {len(PDF)} bytes"
    )
    assert logged(plant) == before


def test_two_sends_of_one_answer_at_once_are_one_answer_and_a_duplicate(
    client: TestClient, plant: Services, case: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both sends look for the answer in the log before either writes it: the race, every time.
    both_looked = threading.Barrier(2, timeout=30)
    first_looks = iter(range(2))
    read = plant.store.logged

    def looking(event_ids: Any) -> Any:
        found = read(event_ids)
        if next(first_looks, None) is not None:
            both_looked.wait()
        return found

    monkeypatch.setattr(plant.store, "logged", looking)
    acme = login(client, "supplier")
    args = {"case": "RC-1", "lot": ACME_LOT, "text": "same", "docs": [doc("c.pdf", PDF)]}
    before = logged(plant)
    sent: list[Any] = [None, None]

    def send(i: int) -> None:
        sent[i] = gql(client, acme, ANSWER, **args, key="scar-9")["data"]["answerSupplierRequest"]

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [s["__typename"] for s in sent] == ["SupplierRequest"] * 2, sent
    assert [s["answers"] for s in sent] == [1, 1] and logged(plant) == before + 1


RESCOPE = """mutation($s: [SuspectInput!]!) { rescopeRecall(id: "RC-1", reason: "narrowed",
    suspects: $s) { removed } }"""


def test_a_lot_rescoped_out_after_its_answer_is_no_longer_the_suppliers(
    client: TestClient, plant: Services, case: dict[str, str]
) -> None:
    acme = login(client, "supplier")
    for key in ("first", "second"):
        data(
            client, acme, ANSWER, case="RC-1", lot=ACME_LOT, docs=[doc(f"{key}.pdf", PDF)], key=key
        )
    data(client, case, RESCOPE, s=[{"id": POLY_LOT}])
    # The case names the lot no longer: the supplier sees it as a case that never named it.
    assert nodes(client, acme, MINE) == []
    assert nodes(client, acme, "{ casesAboutMyLots { edges { node { id } } } }") == []
    url = f"/api/v1/recalls/RC-1/documents/{sha256_of(PDF)}"
    assert client.get(url, headers=acme).status_code == 404
    assert client.get(url, headers=case).content == PDF
    before = logged(plant)
    late = data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, text="late")
    refused = late["answerSupplierRequest"]
    assert (refused["__typename"], refused["code"]) == ("AnswerRefused", "not_found"), refused
    raw = {
        "event_id": "LATE-1",
        "type": "recall_supplier_answer",
        "occurred_at": now_text(),
        "case": "RC-1",
        "supplier": "ACME-STEEL",
        "supplier_lot": "H70001",
        "text": "late",
    }
    response = client.post("/api/v1/events", json=[raw], headers=login(client, "admin"))
    assert response.status_code == 422, response.text
    assert [p["code"] for p in response.json()["errors"]] == ["not_in_case"]
    assert logged(plant) == before
    # The plant keeps what the supplier said.
    requests = data(client, case, ANALYST_VIEW)["recallCase"]["supplierRequests"]
    answered = {r["supplierLot"]: (r["answers"], r["answer"]) for r in requests if r["answer"]}
    assert answered[ACME_LOT][0] == 2
    assert [d["name"] for d in answered[ACME_LOT][1]["documents"]] == ["second.pdf"]
    # Asked about again, the lot is the supplier's to answer once more.
    data(client, case, ASK, lot=ACME_LOT, q="Any later heats?")
    (seen,) = nodes(client, acme, MINE)
    assert [(lot["supplierLot"], lot["suspect"]) for lot in seen["lots"]] == [(ACME_LOT, False)]
    again = data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, text="none")
    assert again["answerSupplierRequest"]["answers"] == 3


def test_a_log_holding_an_answer_given_after_its_lot_left_the_case_still_rebuilds(
    client: TestClient, plant: Services, case: dict[str, str]
) -> None:
    acme = login(client, "supplier")
    for key in ("first", "second"):
        data(client, acme, ANSWER, case="RC-1", lot=ACME_LOT, text=f"{key} look", key=key)
    data(client, case, RESCOPE, s=[{"id": POLY_LOT}])
    # Earlier versions took such an answer: the log holds it as they wrote it.
    second = f"{ANSWER_EVENT_PREFIX}ACME-STEEL/second"
    stored = plant.store.logged([second])[second]
    body = json.loads(stored.payload) | {"event_id": "LATE-1", "occurred_at": now_text()}
    payload, digest = payload_and_digest(EVENT_ADAPTER.validate_python(body))
    late = EventRow("LATE-1", stored.type, body["occurred_at"], payload, digest, None, "{}")
    plant.store.write(lambda tx: tx.apply(Changes(events=[late])))
    assert plant.ingest.rebuild() > 0
    (request,) = [
        r
        for r in data(client, case, ANALYST_VIEW)["recallCase"]["supplierRequests"]
        if r["supplierLot"] == ACME_LOT
    ]
    assert request["answers"] == 3


MY_PAGE = """query($first: Int!, $after: String) { mySupplierCases(first: $first, after: $after) {
    edges { cursor node { id lots { supplierLot } } } pageInfo { hasNextPage endCursor } } }"""
ABOUT_PAGE = """query($first: Int!, $after: String) {
  casesAboutMyLots(first: $first, after: $after) {
    edges { cursor node { id suspects { id } } } pageInfo { hasNextPage endCursor } } }"""


def pages(client: TestClient, who: dict[str, str], query: str, first: int) -> list[list[str]]:
    """The case ids of each page, walked to the end."""
    seen: list[list[str]] = []
    after = None
    while True:
        (page,) = data(client, who, query, first=first, after=after).values()
        seen.append([edge["node"]["id"] for edge in page["edges"]])
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]


def test_a_supplier_reads_their_cases_a_page_at_a_time(
    client: TestClient, plant: Services, poly: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recall, "MAX_CASES", 3)
    recalls = RecallService(plant.store, plant.ingest)
    portal = SupplierPortal(plant.store, plant.ingest, recalls)
    for n in range(1, 10):  # ACME's heat in the odd ones, POLYMED's lot in the even ones
        recalls.open(f"RC-{n}", "case", "bad", [{"id": (ACME_LOT, POLY_LOT)[n % 2 == 0]}], "ana")
    # One of POLYMED's cases asks ACME too: it is theirs as well, showing only their lot.
    portal.ask("RC-4", ACME_LOT, "re-certified?", datetime(2026, 5, 1, tzinfo=UTC), "ana")
    acme = login(client, "supplier")
    mine = ["case:RC-1", "case:RC-3", "case:RC-4", "case:RC-5", "case:RC-7", "case:RC-9"]
    assert pages(client, acme, MY_PAGE, 2) == [mine[0:2], mine[2:4], mine[4:6]]
    assert pages(client, acme, ABOUT_PAGE, 4) == [mine[0:3], mine[3:6]], "at most 3 a page"
    theirs = [["case:RC-2", "case:RC-4", "case:RC-6"], ["case:RC-8"]]
    assert pages(client, poly, MY_PAGE, 3) == theirs
    (page,) = data(client, acme, MY_PAGE, first=100).values()
    assert {lot["supplierLot"] for e in page["edges"] for lot in e["node"]["lots"]} == {ACME_LOT}
    (page,) = data(client, acme, ABOUT_PAGE, first=3, after=page["edges"][1]["cursor"]).values()
    assert [(e["node"]["id"], e["node"]["suspects"]) for e in page["edges"]] == [
        ("case:RC-4", []),
        ("case:RC-5", [{"id": ACME_LOT}]),
        ("case:RC-7", [{"id": ACME_LOT}]),
    ]
    # Unasked, a page holds 100 cases (here the page's most, 3): the default answer is bounded.
    default = "{ mySupplierCases { edges { node { id } } pageInfo { hasNextPage } } }"
    assert data(client, acme, default)["mySupplierCases"]["pageInfo"] == {"hasNextPage": True}
    for query in (MY_PAGE, ABOUT_PAGE):
        refused = [(2, "bm90IGEgY2FzZQ==", "not a cursor"), (0, None, "first")]
        # A cursor of no case would read from the first: it is none this list made.
        refused += [(2, key_cursor("c", key), "not a cursor") for key in ("", "lot:L-1")]
        for first, after, why in refused:
            body = gql(client, acme, query, first=first, after=after)
            assert body["data"] is None, "refused whole"
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "BAD_REQUEST" and why in error["message"]
        # Another role hears of its role, not of its arguments.
        body = gql(client, login(client, "analyst"), query, first=0, after="x")
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
