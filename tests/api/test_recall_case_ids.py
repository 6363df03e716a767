"""Which case an id names: answers give a case's id (case:RC-1), and it names the case again.

Every entry that names an existing case reads it first as that id, then as the case's key
(RC-1); the events written carry the key. A case key may hold ":" (logged before keys beginning
"case:" were refused), so one id can name two cases: the id reading wins.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.cli import main
from api.deps import Services
from api.recall import RecallService
from ingest.errors import BatchRejected
from ingest.parse import EVENT_ADAPTER
from tests.api.conftest import login
from tests.fixtures.events import Events

LOT = "supplier_lot:ACME-STEEL/H70001"
OPEN = """mutation($id: String!) { openRecall(id: $id, title: "t", reason: "r",
    suspects: [{id: "supplier_lot:ACME-STEEL/H70001"}]) { id } }"""
CASE = "query($id: String!) { recallCase(id: $id) { id title state } }"
RESCOPE = """mutation($id: String!) { rescopeRecall(id: $id, reason: "wider",
    suspects: [{id: "supplier_lot:ACME-STEEL/H70001"}, {id: "lot:P-2"}]) { added } }"""
HOLD = 'mutation($id: String!) { holdRecall(id: $id, reason: "hold") }'
NOTIFY = 'mutation($id: String!) { notifyRecall(id: $id, message: "m") { id case } }'
CLOSE = 'mutation($id: String!) { closeRecall(id: $id, reason: "done") { id state } }'
ASK = """mutation($id: String!) { requestSupplierResponse(caseId: $id,
    supplierLot: "supplier_lot:ACME-STEEL/H70001", question: "certs?",
    dueBy: "2026-05-01T12:00:00Z") { case state } }"""
MINE = "{ mySupplierCases { edges { node { id title } } } }"
ANSWER = """mutation($id: String!) { answerSupplierRequest(caseId: $id,
    supplierLot: "supplier_lot:ACME-STEEL/H70001", text: "fine") {
    __typename ... on SupplierRequest { case answers } ... on AnswerRefused { code message } } }"""
ANSWER_WITH_DOCUMENT = """mutation($id: String!, $pdf: String!) { answerSupplierRequest(
    caseId: $id, supplierLot: "supplier_lot:ACME-STEEL/H70001",
    documents: [{name: "cert.pdf", contentBase64: $pdf, mediaType: "application/pdf"}]) {
    ... on SupplierRequest { case answers answer { documents { url } } }
    ... on AnswerRefused { code message } } }"""


def _post(client: TestClient, headers: dict[str, str], query: str, **variables: Any) -> Any:
    return client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    ).json()


def _data(client: TestClient, headers: dict[str, str], query: str, **variables: Any) -> Any:
    body = _post(client, headers, query, **variables)
    assert "errors" not in body, body
    return body["data"]


def _plant(services: Services) -> None:
    """ACME-STEEL's heat became P-1, shipped to HOSP-NORTH; P-2 is another supplier's."""
    events = Events()
    services.ingest.ingest(
        [
            events.receive("P-1", 10, supplier="ACME-STEEL", supplier_lot="H70001"),
            events.receive("P-2", 5, supplier="POLYMED", supplier_lot="PM-2"),
            events(
                "ship", shipment="SH-1", customer="HOSP-NORTH", items=[{"lot": "P-1", "qty": "2"}]
            ),
        ]
    )


def _logged_before(services: Services, case: str) -> None:
    """Open a case keyed `case` as a release before keys beginning "case:" were refused did."""
    raw = Events("OLD")(
        "recall_open", case=case, title=f"old {case}", reason="r", suspects=[{"id": LOT}]
    )
    services.ingest.ingest_events([EVENT_ADAPTER.validate_python(raw)])


def _cases_in_events(services: Services) -> set[str]:
    """The `case` of every recall event in the log."""
    rows = services.store.recall_events(0, 1000)
    return {json.loads(row.payload)["case"] for row in rows if "case" in json.loads(row.payload)}


def test_the_id_an_answer_gives_names_the_case_in_queries_and_mutations(
    client: TestClient, services: Services
) -> None:
    _plant(services)
    analyst = login(client, "analyst")
    case_id = _data(client, analyst, OPEN, id="RC-1")["openRecall"]["id"]
    assert case_id == "case:RC-1"
    assert _data(client, analyst, CASE, id=case_id)["recallCase"]["id"] == case_id
    assert _data(client, analyst, RESCOPE, id=case_id)["rescopeRecall"]["added"] == ["lot:P-2"]
    assert _data(client, analyst, HOLD, id=case_id)["holdRecall"] == 2
    notices = _data(client, analyst, NOTIFY, id=case_id)["notifyRecall"]
    assert [(n["id"], n["case"]) for n in notices] == [("notice:RC-1-HOSP-NORTH", "RC-1")]
    assert _data(client, analyst, ASK, id=case_id)["requestSupplierResponse"]["case"] == "RC-1"
    closed = _data(client, analyst, CLOSE, id=case_id)["closeRecall"]
    assert closed == {"id": case_id, "state": "closed"}
    # The key names it as ever; no event names the case by its id.
    assert _data(client, analyst, CASE, id="RC-1")["recallCase"]["state"] == "closed"
    assert _cases_in_events(services) == {"RC-1"}
    # An id naming no case is not found, and nothing is written.
    logged = services.store.counts()["events"]
    assert _data(client, analyst, CASE, id="case:RC-2") == {"recallCase": None}
    refused = _post(client, analyst, HOLD, id="case:RC-2")
    assert refused["errors"][0]["message"] == "no recall case 'case:RC-2'", refused
    assert services.store.counts()["events"] == logged


def test_a_supplier_answers_a_case_by_the_id_their_cases_give(
    client: TestClient, services: Services
) -> None:
    _plant(services)
    _data(client, login(client, "analyst"), OPEN, id="RC-1")
    acme = login(client, "supplier")
    (case,) = [e["node"] for e in _data(client, acme, MINE)["mySupplierCases"]["edges"]]
    answered = _data(client, acme, ANSWER, id=case["id"])["answerSupplierRequest"]
    assert answered == {"__typename": "SupplierRequest", "case": "RC-1", "answers": 1}
    assert _cases_in_events(services) == {"RC-1"}


def test_when_an_id_names_two_cases_the_id_reading_wins(
    client: TestClient, services: Services
) -> None:
    # Case "RC"'s id is case:RC, which is also the key of a case logged before such keys were
    # refused (its own id: case:case:RC).
    _plant(services)
    analyst = login(client, "analyst")
    _data(client, analyst, OPEN, id="RC")
    _logged_before(services, "case:RC")
    assert _data(client, analyst, CASE, id="case:RC")["recallCase"]["title"] == "t"
    older = _data(client, analyst, CASE, id="case:case:RC")["recallCase"]
    assert older == {"id": "case:case:RC", "title": "old case:RC", "state": "open"}
    assert _data(client, analyst, HOLD, id="case:case:RC")["holdRecall"] == 1
    assert _data(client, analyst, CASE, id="case:RC")["recallCase"]["state"] == "open"
    assert _data(client, analyst, CASE, id="case:case:RC")["recallCase"]["state"] == "holding"
    assert _cases_in_events(services) == {"RC", "case:RC"}


def test_a_new_case_is_not_keyed_as_another_cases_id(
    client: TestClient, services: Services
) -> None:
    _plant(services)
    analyst = login(client, "analyst")
    refused = _post(client, analyst, OPEN, id="case:RC-1")
    assert refused["data"] == {"openRecall": None}
    assert 'does not begin "case:"' in refused["errors"][0]["message"], refused
    assert [p["code"] for p in refused["errors"][0]["extensions"]["errors"]] == ["case_key_as_id"]
    assert services.store.counts()["events"] == 3


def test_a_case_keyed_case_logged_before_the_rule_rebuilds_and_its_resend_is_a_duplicate(
    services: Services,
) -> None:
    _plant(services)
    raw = Events("OLD")(
        "recall_open", case="case:RC-1", title="t", reason="r", suspects=[{"id": LOT}]
    )
    with pytest.raises(BatchRejected) as refused:
        services.ingest.ingest([raw])
    assert [p.code for p in refused.value.problems] == ["case_key_as_id"]
    services.ingest.ingest_events([EVENT_ADAPTER.validate_python(raw)])
    report = services.ingest.ingest([raw])
    assert [r.status for r in report.results] == ["duplicate"]
    services.ingest.rebuild()
    assert RecallService(services.store, services.ingest).case("case:RC-1").title == "t"


@pytest.mark.parametrize("key", ["RC/1", ".", ".."])
def test_a_case_key_that_is_no_address_segment_is_refused_as_an_event_too(
    client: TestClient, services: Services, key: str
) -> None:
    _plant(services)
    raw = Events("OLD")("recall_open", case=key, title="t", reason="r", suspects=[{"id": LOT}])
    sent = client.post("/api/v1/events", json=[raw], headers=login(client, "admin"))
    assert sent.status_code == 422 and "case_key_path" in sent.text, sent.text
    refused = _post(client, login(client, "analyst"), OPEN, id=key)
    assert refused["data"] == {"openRecall": None}
    assert 'holds no "/"' in refused["errors"][0]["message"], refused
    assert [p["code"] for p in refused["errors"][0]["extensions"]["errors"]] == ["case_key_path"]
    assert services.store.counts()["events"] == 3
    # A case logged under such a key before the rule still rebuilds, and is read.
    _logged_before(services, key)
    services.ingest.rebuild()
    analyst = login(client, "analyst")
    assert _data(client, analyst, CASE, id=key)["recallCase"]["title"] == f"old {key}"
    if key == "RC/1":
        exported = client.get("/api/v1/recalls/RC%2F1/export?format=json", headers=analyst)
        assert exported.json()["case"]["id"] == "case:RC/1", exported.text


def test_the_command_line_takes_the_id_it_prints(
    tmp_path: Path, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    _plant(services)
    store = services.store.url
    opened = ["recall", "open", "RC-1", "--title", "t", "--reason", "r", "--suspect", LOT]
    assert main([*opened, "--store", store]) == 0
    printed = capsys.readouterr().out.split()[1].rstrip(":")
    assert printed == "case:RC-1"
    assert main(["recall", "hold", printed, "--reason", "q", "--store", store]) == 0
    assert "quarantined 1 in-plant items" in capsys.readouterr().out
    assert main(["recall", "show", printed, "--store", store]) == 0
    assert "[holding]" in capsys.readouterr().out
    assert main(["recall", "close", printed, "--reason", "done", "--store", store]) == 0
    assert capsys.readouterr().out.strip() == "closed case:RC-1"
    assert _cases_in_events(services) == {"RC-1"}


def test_rest_addresses_take_the_case_id(client: TestClient, services: Services) -> None:
    _plant(services)
    analyst = login(client, "analyst")
    _data(client, analyst, OPEN, id="RC-1")
    by_id = client.get("/api/v1/recalls/case:RC-1/export?format=json", headers=analyst)
    assert by_id.status_code == 200, by_id.text
    assert by_id.json()["case"]["id"] == "case:RC-1"
    csv = client.get("/api/v1/recalls/case:RC-1/export", headers=analyst)
    assert 'filename="RC-1-scope.csv"' in csv.headers["content-disposition"]


def test_a_supplier_answers_the_case_the_id_names_among_those_about_their_lots(
    client: TestClient, services: Services
) -> None:
    # Case "RC" (id case:RC) suspects POLYMED's lot; the case keyed "case:RC", logged before
    # such keys were refused, ACME's. For ACME, "case:RC" names the one about their lot.
    _plant(services)
    analyst = login(client, "analyst")
    opened = OPEN.replace("ACME-STEEL/H70001", "POLYMED/PM-2")
    _data(client, analyst, opened, id="RC")
    _logged_before(services, "case:RC")
    acme = login(client, "supplier")
    pdf = base64.b64encode(b"%PDF-1.7 certificate").decode()
    sent = _data(client, acme, ANSWER_WITH_DOCUMENT, id="case:RC", pdf=pdf)
    answered = sent["answerSupplierRequest"]
    assert (answered["case"], answered["answers"]) == ("case:RC", 1), answered
    # The document's address names that case whoever follows it: the supplier, the analyst.
    (document,) = answered["answer"]["documents"]
    assert document["url"].startswith("/api/v1/recalls/case%3Acase%3ARC/documents/")
    for headers in (acme, analyst):
        assert client.get(document["url"], headers=headers).status_code == 200
    # "RC" names case RC alone (its key), which is not about their lot.
    refused = _data(client, acme, ANSWER, id="RC")["answerSupplierRequest"]
    assert refused["code"] == "not_found", refused
