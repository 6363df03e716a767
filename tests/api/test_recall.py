"""A whole recall case on the demo plant: scope, hold, notify, answer, reconcile, export, close."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient

from api import recall
from api.deps import Services
from api.recall import RecallService
from api.supplier_portal import SupplierPortal
from ingest import answers
from tests.api.conftest import login
from tests.fixtures.events import Events

SUSPECT = "supplier_lot:ACME-STEEL/H70001"


def gql(
    client: TestClient, headers: dict[str, str], query: str, **variables: Any
) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


def material(plant: Services, source: str) -> set[str]:
    return {n.id for n in plant.traces.trace(source, "down").nodes if n.kind in ("lot", "serial")}


OPEN = """mutation($s: [SuspectInput!]!) { openRecall(id: "RC-1", title: "Bar heat H70001",
    reason: "mill certificate withdrawn", suspects: $s) {
      id state suspects { id } } }"""
CASE = """{ recallCase(id: "RC-1") { state
    scope { customers inPlant shipments { id customer }
            items { id exposure certain available status } }
    notices { id customer state foundQty }
    reconciliation { expected heldInPlant foundByCustomers accounted percent } history } }"""


def test_a_whole_recall_case(client: TestClient, plant: Services) -> None:
    analyst = login(client, "analyst")
    expected = plant.traces.trace(SUSPECT, "down")
    reached = {n.id for n in expected.nodes if n.kind in ("lot", "serial")}
    opened = gql(client, analyst, OPEN, s=[{"id": SUSPECT}])["openRecall"]
    assert opened == {"id": "case:RC-1", "state": "open", "suspects": [{"id": SUSPECT}]}

    case = gql(client, analyst, CASE)["recallCase"]
    items = {i["id"]: i for i in case["scope"]["items"]}
    assert set(items) == reached
    assert all(i["exposure"] == 1.0 and i["certain"] for i in items.values())
    in_plant = [i for i in items.values() if Decimal(i["available"]) > 0]
    assert case["scope"]["inPlant"] == len(in_plant) > 0
    customers = case["scope"]["customers"]
    assert customers and all(c.startswith("HOSP-") for c in customers)

    held = gql(client, analyst, 'mutation { holdRecall(id: "RC-1", reason: "suspect heat") }')[
        "holdRecall"
    ]
    assert held == len(in_plant)
    for item in in_plant:
        assert plant.store.node(item["id"]).attrs["status"] == "quarantined"  # type: ignore[union-attr]
    assert (
        gql(client, analyst, 'mutation { holdRecall(id: "RC-1", reason: "again") }')["holdRecall"]
        == 0
    )

    notices = gql(
        client,
        analyst,
        'mutation { notifyRecall(id: "RC-1", message: "Return kits") { id customer } }',
    )
    assert sorted(n["customer"] for n in notices["notifyRecall"]) == customers

    customer = login(client, "customer")
    mine = gql(client, customer, "{ myNotices { id customer message state } }")["myNotices"]
    assert [n["customer"] for n in mine] == ["HOSP-NORTH"] and mine[0]["state"] == "sent"
    assert "HOSP-NORTH" in customers
    ack = """mutation($id: String!) { acknowledgeNotice(id: $id, foundQty: "12", returnedQty: "12",
        note: "all kits quarantined in theatre store") { state foundQty } }"""
    notice_id = mine[0]["id"].partition(":")[2]
    for found in ("abc", "-1", "NaN"):
        wrong = ack.replace('foundQty: "12"', f'foundQty: "{found}"')
        answer = client.post(
            "/graphql", json={"query": wrong, "variables": {"id": notice_id}}, headers=customer
        ).json()
        assert answer["errors"][0]["message"].startswith("foundQty: "), answer
    assert gql(client, customer, ack, id=notice_id)["acknowledgeNotice"] == {
        "state": "acknowledged",
        "foundQty": "12",
    }
    # The id as myNotices gives it answers the same notice (a resend changes nothing).
    assert gql(client, customer, ack, id=mine[0]["id"])["acknowledgeNotice"] == {
        "state": "acknowledged",
        "foundQty": "12",
    }
    other = next(n for n in notices["notifyRecall"] if n["customer"] != "HOSP-NORTH")[
        "id"
    ].partition(":")[2]
    denied = client.post(
        "/graphql", json={"query": ack, "variables": {"id": other}}, headers=customer
    ).json()
    assert denied["data"]["acknowledgeNotice"] is None, "another customer's notice is not found"
    # Worded as a notice that does not exist: the customer cannot tell one from the other.
    missing = client.post(
        "/graphql", json={"query": ack, "variables": {"id": "RC-1-NOBODY"}}, headers=customer
    ).json()
    for refused, asked in ((denied, other), (missing, "RC-1-NOBODY")):
        (error,) = refused["errors"]
        assert error["message"] == f"no notice {asked!r}", refused
        assert error["extensions"] == {"code": "NOT_FOUND", "status": 404}

    case = gql(client, analyst, CASE)["recallCase"]
    assert case["state"] == "notifying"
    rec = case["reconciliation"]
    held_qty = sum(Decimal(i["available"]) for i in in_plant)
    assert Decimal(rec["heldInPlant"]) == held_qty
    assert Decimal(rec["foundByCustomers"]) == 12
    assert Decimal(rec["accounted"]) == held_qty + 12
    assert rec["percent"] == round(float((held_qty + 12) / Decimal(rec["expected"]) * 100), 2)
    kinds = [h["type"] for h in case["history"]]
    assert (
        kinds == ["recall_open", "recall_state", "recall_notice", "recall_notice"][:1] + kinds[1:]
    )
    assert {"recall_open", "recall_state", "recall_notice", "recall_ack"} <= set(kinds)

    exported = client.get("/api/v1/recalls/RC-1/export", params={"format": "csv"}, headers=analyst)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["id"] for r in rows} == reached
    assert {r["status"] for r in rows if Decimal(r["available"]) > 0} == {"quarantined"}
    full = client.get(
        "/api/v1/recalls/RC-1/export", params={"format": "json"}, headers=analyst
    ).json()
    assert full["reconciliation"]["found_by_customers"] == "12"

    closed = gql(
        client, analyst, 'mutation { closeRecall(id: "RC-1", reason: "all located") { state } }'
    )
    assert closed["closeRecall"]["state"] == "closed"
    kind, _, key = in_plant[0]["id"].partition(":")
    release = {
        "event_id": "LATE-1",
        "type": "status",
        # After the holds above, before any hold after it: holds are stamped with the clock.
        "occurred_at": datetime.now(UTC).isoformat(),
        "target": {kind: key},
        "status": "released",
        "reason": "released after the case",
    }
    plant.ingest.ingest([release])
    after = client.post(
        "/graphql",
        json={"query": 'mutation { holdRecall(id: "RC-1", reason: "late") }'},
        headers=analyst,
    ).json()
    assert after["data"] == {"holdRecall": None}
    assert 'case "RC-1" is closed' in after["errors"][0]["message"]
    # Nothing was held: the item released after the case stays released.
    assert plant.store.node(in_plant[0]["id"]).attrs["status"] == "released"  # type: ignore[union-attr]


def test_narrowing_shows_the_change_in_scope(client: TestClient, plant: Services) -> None:
    analyst = login(client, "analyst")
    gql(client, analyst, OPEN, s=[{"id": SUSPECT}, {"id": "supplier_lot:POLYMED/PM-2"}])
    narrow = """mutation($s: [SuspectInput!]!) {
      rescopeRecall(id: "RC-1", reason: "polymer cleared", suspects: $s) {
        added removed changed } }"""
    change = gql(client, analyst, narrow, s=[{"id": SUSPECT}])["rescopeRecall"]
    polymer = {
        n.id
        for n in plant.traces.trace("supplier_lot:POLYMED/PM-2", "down").nodes
        if n.kind in ("lot", "serial")
    }
    steel = {n.id for n in plant.traces.trace(SUSPECT, "down").nodes if n.kind in ("lot", "serial")}
    assert set(change["removed"]) == polymer - steel and change["added"] == []


def test_equipment_window_suspects_are_may_contain(client: TestClient, plant: Services) -> None:
    analyst = login(client, "analyst")
    window = [
        {"id": "equipment:PASS-1", "from": "2026-01-05T00:00:00Z", "to": "2026-01-06T00:00:00Z"}
    ]
    gql(client, analyst, OPEN, s=window)
    items = gql(
        client,
        analyst,
        '{ recallCase(id: "RC-1") { scope { items { id exposure certain basis } } } }',
    )
    entries = items["recallCase"]["scope"]["items"]
    assert entries
    for entry in entries:  # share unknown: no exposure, never 1 as a certain item reads
        assert (entry["exposure"], entry["certain"], entry["basis"]) == (
            None,
            False,
            "equipment window",
        )


def test_partners_see_only_their_part_of_a_case(client: TestClient, plant: Services) -> None:
    analyst = login(client, "analyst")
    gql(client, analyst, OPEN, s=[{"id": SUSPECT}, {"id": "supplier_lot:POLYMED/PM-2"}])
    supplier = login(client, "supplier")
    query = "{ casesAboutMyLots { edges { node { id title state suspects { id } reason } } } }"
    cases = gql(client, supplier, query)
    assert [edge["node"] for edge in cases["casesAboutMyLots"]["edges"]] == [
        {
            "id": "case:RC-1",
            "title": "Bar heat H70001",
            "state": "open",
            "suspects": [{"id": SUSPECT}],
            "reason": "",
        }
    ]
    for role in ("supplier", "customer", "operator"):
        body = client.post(
            "/graphql",
            json={"query": '{ recallCase(id: "RC-1") { id } }'},
            headers=login(client, role),
        ).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert (
            client.get("/api/v1/recalls/RC-1/export", headers=login(client, role)).status_code
            == 403
        )


def test_an_export_of_a_case_with_any_id_downloads_under_that_name(
    client: TestClient, plant: Services
) -> None:
    analyst = login(client, "analyst")
    case_id = 'RC "7"; name=x.exe Ü'
    gql(
        client,
        analyst,
        OPEN.replace('"RC-1"', "$id").replace("($s:", "($id: String!, $s:"),
        id=case_id,
        s=[{"id": SUSPECT}],
    )
    exported = client.get(
        f"/api/v1/recalls/{quote(case_id, safe='')}/export",
        params={"format": "csv"},
        headers=analyst,
    )
    assert exported.status_code == 200, exported.text
    disposition = exported.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="RC _7__ name=x.exe _-scope.csv"')
    assert disposition.endswith(f"filename*=UTF-8''{quote(case_id + '-scope.csv', safe='')}")
    assert disposition.count('"') == 2, "the case id cannot close the quoted name"


def test_the_notices_of_a_list_of_cases_are_read_together(
    client: TestClient, plant: Services, monkeypatch: Any
) -> None:
    recalls = RecallService(plant.store, plant.ingest)
    for n in range(8):
        case = f"RC-{n}"
        recalls.open(case, "heat", "bad", [{"id": "supplier_lot:ACME-STEEL/H70001"}], "ana")
        recalls.notify(case, "stop", "ana")
    calls = {"links": 0, "nodes": 0}
    for name in calls:
        original = getattr(plant.store, name)

        def counted(gids: Any, original: Any = original, name: str = name) -> Any:
            calls[name] += 1
            return original(gids)

        monkeypatch.setattr(plant.store, name, counted)
    query = "{ recallCases { edges { node { id notices { id } } } } }"
    cases = [
        edge["node"]
        for edge in gql(client, login(client, "analyst"), query)["recallCases"]["edges"]
    ]
    assert len(cases) == 8 and all(case["notices"] for case in cases)
    assert calls["links"] + calls["nodes"] <= 4, calls


def test_the_supplier_requests_of_a_list_of_cases_are_read_together(
    client: TestClient, plant: Services, monkeypatch: Any
) -> None:
    recalls = RecallService(plant.store, plant.ingest)
    portal = SupplierPortal(plant.store, plant.ingest, recalls)
    due = datetime(2030, 1, 1, tzinfo=UTC)
    for n in range(20):
        case = f"RC-{n}"
        recalls.open(case, "heat", "bad", [{"id": SUSPECT}], "ana")
        portal.ask(case, "supplier_lot:ACME-STEEL/H70002", "which heat?", due, "ana")
    calls: dict[str, int] = {}
    for name in ("node", "nodes", "links"):
        original = getattr(plant.store, name)

        def counted(gids: Any, original: Any = original, name: str = name) -> Any:
            calls[name] = calls.get(name, 0) + 1
            return original(gids)

        monkeypatch.setattr(plant.store, name, counted)
    query = "{ recallCases { edges { node { id supplierRequests { supplierLot state } } } } }"
    cases = [
        edge["node"]
        for edge in gql(client, login(client, "analyst"), query)["recallCases"]["edges"]
    ]
    assert len(cases) == 20
    assert all(len(case["supplierRequests"]) == 2 for case in cases)
    # Three reads a case (its node again, its links, its requests) made sixty.
    assert sum(calls.values()) <= 4, calls


CASES = """query($first: Int!, $after: String) { recallCases(first: $first, after: $after) {
    edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"""


def test_the_list_of_cases_comes_a_page_at_a_time_and_says_when_more_follow(
    client: TestClient, plant: Services, monkeypatch: Any
) -> None:
    monkeypatch.setattr(recall, "MAX_CASES", 3)
    recalls = RecallService(plant.store, plant.ingest)
    for n in (4, 1, 3, 5, 2):
        recalls.open(f"RC-{n}", "heat", "bad", [{"id": SUSPECT}], "ana")
    analyst = login(client, "analyst")
    # More than a page holds: cut at the most a page holds, and it says so.
    page = gql(client, analyst, CASES, first=100)["recallCases"]
    assert [e["node"]["id"] for e in page["edges"]] == ["case:RC-1", "case:RC-2", "case:RC-3"]
    assert page["pageInfo"] == {"hasNextPage": True, "endCursor": page["edges"][-1]["cursor"]}
    seen, after = [], None
    while True:
        page = gql(client, analyst, CASES, first=2, after=after)["recallCases"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"case:RC-{n}" for n in range(1, 6)]
    for first, after in ((0, None), (-1, None), (2, "bm90IGEgY2FzZQ==")):
        response = client.post(
            "/graphql",
            json={"query": CASES, "variables": {"first": first, "after": after}},
            headers=analyst,
        )
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_REQUEST", error
        assert ("first" if after is None else "cursor") in error["message"]


# A lathe turns part of one supplier lot into screws, some of which are shipped.
SMALL_PLANT = [
    {"event_id": "E-1", "type": "receive", "occurred_at": "2026-03-02T08:00:00Z",
     "supplier": "ACME-STEEL", "supplier_lot": "H1", "part": "BAR", "lot": "L-1", "qty": "10"},
    {"event_id": "E-2", "type": "process", "occurred_at": "2026-03-02T09:00:00Z", "step": "S-1",
     "operation": "turn", "equipment": "LATHE-1", "inputs": [{"lot": "L-1", "qty": "4"}],
     "outputs": [{"lot": "P-1", "part": "SCREW", "qty": "4"}]},
    {"event_id": "E-3", "type": "ship", "occurred_at": "2026-03-02T10:00:00Z", "shipment": "SH-1",
     "customer": "HOSP-NORTH", "items": [{"lot": "P-1", "qty": "2"}]},
]  # fmt: skip
SMALL_OPEN = """mutation($s: [SuspectInput!]!) { openRecall(id: "RC-1", title: "Lathe",
    reason: "coolant", suspects: $s) { id } }"""


def _noticed(client: TestClient, services: Services) -> tuple[dict[str, str], dict[str, str]]:
    """Open a case on the small plant's screws and tell HOSP-NORTH; return the analyst's and
    the customer's headers."""
    services.ingest.ingest(SMALL_PLANT)
    analyst, customer = login(client, "analyst"), login(client, "customer")
    gql(client, analyst, SMALL_OPEN, s=[{"id": "lot:P-1"}])
    gql(client, analyst, 'mutation { notifyRecall(id: "RC-1", message: "m") { id } }')
    return analyst, customer


def test_a_customer_who_found_none_reads_0_in_the_report(
    client: TestClient, services: Services
) -> None:
    analyst, customer = _noticed(client, services)
    answer = """mutation { acknowledgeNotice(id: "RC-1-HOSP-NORTH", foundQty: "0",
        returnedQty: "0", note: "none here") { state } }"""
    gql(client, customer, answer)
    html = client.get("/api/v1/recalls/RC-1/export?format=html", headers=analyst).text
    row = html[html.index("<tr><td>HOSP-NORTH</td>") :]
    row = row[: row.index("</tr>")]
    assert row.endswith("<td>acknowledged</td><td>0</td><td>0</td><td>none here</td>"), row


def test_rescoping_says_which_items_are_no_longer_certain(
    client: TestClient, services: Services
) -> None:
    services.ingest.ingest(SMALL_PLANT)
    analyst = login(client, "analyst")
    gql(client, analyst, SMALL_OPEN, s=[{"id": "lot:L-1"}])
    rescope = """mutation($s: [SuspectInput!]!) { rescopeRecall(id: "RC-1", reason: "the lathe",
        suspects: $s) { added removed changed } }"""
    window = {
        "id": "equipment:LATHE-1",
        "from": "2026-03-02T00:00:00Z",
        "to": "2026-03-03T00:00:00Z",
    }
    change = gql(client, analyst, rescope, s=[window])["rescopeRecall"]
    # P-1 reads 1.0 before and after, but now only as made on the lathe in the window.
    assert "lot:P-1" in change["changed"]
    assert change["removed"] == ["lot:L-1"]


def test_a_mutation_on_no_such_case_says_so(client: TestClient, services: Services) -> None:
    # Null alone would not say why nothing was done; 0 and [] would read as "nothing left to do".
    analyst = login(client, "analyst")
    for query in (
        'mutation { holdRecall(id: "NO-SUCH-CASE", reason: "x") }',
        'mutation { notifyRecall(id: "NO-SUCH-CASE", message: "m") { id } }',
        'mutation { closeRecall(id: "NO-SUCH-CASE", reason: "x") { id } }',
        'mutation { rescopeRecall(id: "NO-SUCH-CASE", reason: "x", suspects: [{id: "lot:L-1"}])'
        " { added } }",
    ):
        answer = client.post("/graphql", json={"query": query}, headers=analyst).json()
        (error,) = answer["errors"]
        assert error["message"] == "no recall case 'NO-SUCH-CASE'", answer
        assert error["extensions"] == {"code": "NOT_FOUND", "status": 404}
        assert list(answer["data"].values()) == [None]
    assert services.store.counts()["events"] == 0


def test_a_closed_case_notifies_no_more(client: TestClient, services: Services) -> None:
    # Its customers all told, or none reached: either way [] would read as "nobody left to tell".
    events = Events()
    services.ingest.ingest(
        [
            events.receive("L-1", 10),
            events.receive("L-2", 10, supplier_lot="A-2"),
            events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "2"}]),
        ]
    )
    analyst = login(client, "analyst")
    for case, suspect in (("RC-1", "lot:L-1"), ("RC-2", "lot:L-2")):
        opened = f'mutation {{ openRecall(id: "{case}", title: "t", reason: "r", suspects: '
        gql(client, analyst, opened + f'[{{id: "{suspect}"}}]) {{ id }} }}')
        notify = f'mutation {{ notifyRecall(id: "{case}", message: "m") {{ id }} }}'
        if case == "RC-1":
            gql(client, analyst, notify)
        gql(client, analyst, f'mutation {{ closeRecall(id: "{case}", reason: "x") {{ id }} }}')
        written = services.store.counts()["events"]
        answer = client.post("/graphql", json={"query": notify}, headers=analyst).json()
        assert answer["data"] == {"notifyRecall": None}, answer
        assert f'case "{case}" is closed: open a new case' in answer["errors"][0]["message"]
        assert services.store.counts()["events"] == written


def test_a_closed_case_is_refused_with_its_code_over_graphql_as_over_rest(
    client: TestClient, services: Services
) -> None:
    # The code the docs name (`case_closed`) is the one to branch on, not only a message's words.
    services.ingest.ingest([Events().receive("L-1", 10)])
    analyst = login(client, "analyst")
    gql(client, analyst, OPEN, s=[{"id": "lot:L-1"}])
    gql(client, analyst, 'mutation { closeRecall(id: "RC-1", reason: "x") { id } }')
    written = services.store.counts()["events"]
    for action in (
        'mutation { holdRecall(id: "RC-1", reason: "r") }',
        'mutation { notifyRecall(id: "RC-1", message: "m") { id } }',
        'mutation { closeRecall(id: "RC-1", reason: "again") { id } }',
    ):
        (error,) = client.post("/graphql", json={"query": action}, headers=analyst).json()["errors"]
        # Said as what was wrong: the caller sent no batch, and no event 0 of one.
        assert error["message"] == 'case "RC-1" is closed: open a new case', error
        assert error["extensions"]["code"] == "INVALID_EVENTS", error
        assert error["extensions"]["status"] == 422
        (problem,) = error["extensions"]["errors"]
        assert (problem["field"], problem["code"]) == ("case", "case_closed"), error
    now = datetime.now(UTC).isoformat()  # after the case closed
    hold = [{"event_id": "H-1", "type": "recall_hold", "occurred_at": now, "case": "RC-1",
             "reason": "r", "items": [{"lot": "L-1"}]}]  # fmt: skip
    rest = client.post("/api/v1/events", json=hold, headers=login(client, "admin"))
    assert rest.status_code == 422 and rest.json()["error"] == "invalid_events", rest.text
    assert [p["code"] for p in rest.json()["errors"]] == ["case_closed"], rest.text
    assert services.store.counts()["events"] == written


def test_a_corrected_answer_without_a_note_drops_the_earlier_note(
    client: TestClient, services: Services
) -> None:
    _, customer = _noticed(client, services)
    answer = """mutation($found: String!, $note: String) { acknowledgeNotice(
        id: "RC-1-HOSP-NORTH", foundQty: $found, returnedQty: $found, note: $note) {
        foundQty note } }"""
    first = gql(client, customer, answer, found="0", note="none found, still searching")
    assert first["acknowledgeNotice"]["note"] == "none found, still searching"
    corrected = gql(client, customer, answer, found="2", note=None)["acknowledgeNotice"]
    assert corrected == {"foundQty": "2", "note": None}


def test_an_answer_reads_its_quantities_as_the_recall_ack_event_does(
    client: TestClient, services: Services
) -> None:
    analyst, customer = _noticed(client, services)
    answer = """mutation($found: String!) { acknowledgeNotice(id: "RC-1-HOSP-NORTH",
        foundQty: $found, returnedQty: "0") { foundQty } }"""
    spelled = 'a quantity is a number, or one in ASCII digits such as "12.5"'
    for found in ("\uff15", "5_0", " 5 ", "0x1", "Infinity"):  # \uff15: a full-width 5
        response = client.post(
            "/graphql", json={"query": answer, "variables": {"found": found}}, headers=customer
        ).json()
        assert response["errors"][0]["message"] == f"foundQty: {spelled}", (found, response)
    # Positive control: what the event takes, this takes, and reads back as the event does.
    assert gql(client, customer, answer, found="2E+0")["acknowledgeNotice"] == {"foundQty": "2"}
    notices = gql(client, analyst, '{ recallCase(id: "RC-1") { notices { foundQty } } }')
    assert notices["recallCase"]["notices"] == [{"foundQty": "2"}]


def test_an_answer_returning_more_than_it_found_is_refused_as_the_event_is(
    client: TestClient, services: Services
) -> None:
    _, customer = _noticed(client, services)
    answer = """mutation { acknowledgeNotice(id: "RC-1-HOSP-NORTH", foundQty: "1",
        returnedQty: "2") { state } }"""
    written = services.store.counts()["events"]
    response = client.post("/graphql", json={"query": answer}, headers=customer).json()
    assert response["data"] == {"acknowledgeNotice": None}, response
    (error,) = response["errors"]
    said = "returned_qty: 2 returned is more than the 1 found (found_qty)"
    assert error["message"] == said, error
    assert error["extensions"]["code"] == "INVALID_EVENTS", error
    assert [p["code"] for p in error["extensions"]["errors"]] == ["returned_over_found"]
    sent = [{"event_id": "A-1", "type": "recall_ack", "occurred_at": "2026-03-03T08:00:00Z",
             "notice": "RC-1-HOSP-NORTH", "found_qty": "1", "returned_qty": "2"}]  # fmt: skip
    raw = client.post("/api/v1/events", json=sent, headers=login(client, "admin"))
    assert raw.status_code == 422 and "returned_over_found" in raw.text, raw.text
    assert services.store.counts()["events"] == written


def test_an_answer_finding_more_than_was_shipped_to_the_customer_is_refused(
    client: TestClient, services: Services
) -> None:
    _, customer = _noticed(client, services)  # 2 of P-1 shipped to HOSP-NORTH
    answer = """mutation($found: String!) { acknowledgeNotice(id: "RC-1-HOSP-NORTH",
        foundQty: $found, returnedQty: "0") { foundQty } }"""
    written = services.store.counts()["events"]
    response = client.post(
        "/graphql", json={"query": answer, "variables": {"found": "2.5"}}, headers=customer
    ).json()
    assert response["data"] == {"acknowledgeNotice": None}, response
    (error,) = response["errors"]
    refusal = (
        '2.5 found is more than the 2 shipped to company "HOSP-NORTH" of case "RC-1"\'s '
        'scope: lot "P-1" 2 in shipment "SH-1"'
    )
    assert error["message"] == refusal, error
    # Refused as the event is, whichever way it comes.
    assert (error["extensions"]["code"], error["extensions"]["status"]) == ("INVALID_EVENTS", 422)
    (problem,) = error["extensions"]["errors"]
    assert (problem["field"], problem["code"]) == ("found_qty", "found_over_shipped"), error
    now = datetime.now(UTC).isoformat()  # after the notice
    sent = [{"event_id": "A-1", "type": "recall_ack", "occurred_at": now,
             "notice": "RC-1-HOSP-NORTH", "found_qty": "2.5", "returned_qty": "0"}]  # fmt: skip
    raw = client.post("/api/v1/events", json=sent, headers=login(client, "admin"))
    assert raw.status_code == 422, raw.text
    assert [(p["code"], p["message"]) for p in raw.json()["errors"]] == [
        ("found_over_shipped", refusal)
    ], raw.text
    assert services.store.counts()["events"] == written
    # All that was shipped is accepted.
    assert gql(client, customer, answer, found="2.00")["acknowledgeNotice"] == {"foundQty": "2"}


def test_an_answer_reads_its_case_once_and_traces_no_scope_when_it_found_none(
    client: TestClient, services: Services, monkeypatch: Any
) -> None:
    _noticed(client, services)  # 2 of P-1 shipped to HOSP-NORTH
    recalls = RecallService(services.store, services.ingest)
    reads: list[str] = []
    traced: list[Any] = []
    node, nodes, compute = services.store.node, services.store.nodes, answers.compute_scope

    def read(node_id: str) -> Any:
        reads.append(node_id)
        return node(node_id)

    def read_all(node_ids: Sequence[str]) -> Any:
        reads.extend(node_ids)
        return nodes(node_ids)

    def trace(*args: Any) -> Any:
        traced.append(args)
        return compute(*args)

    monkeypatch.setattr(services.store, "node", read)
    monkeypatch.setattr(services.store, "nodes", read_all)
    monkeypatch.setattr(answers, "compute_scope", trace)
    assert (
        recalls.acknowledge("RC-1-HOSP-NORTH", Decimal(2), Decimal(1), None, "north").found_qty == 2
    )
    assert (reads.count("case:RC-1"), len(traced)) == (1, 1), (reads, traced)
    reads.clear()
    traced.clear()
    # None found is never more than was shipped: nothing to trace, and no case to read for it.
    assert (
        recalls.acknowledge("RC-1-HOSP-NORTH", Decimal(0), Decimal(0), None, "north").found_qty == 0
    )
    assert (reads.count("case:RC-1"), traced) == (0, []), (reads, traced)


# 10 kg of bar: 4 kg turned into 100 screws; 1.5 kg of bar to one customer, 20 screws to another.
TWO_UNITS = [
    {"event_id": "U-1", "type": "receive", "occurred_at": "2026-03-02T08:00:00Z",
     "supplier": "ACME-STEEL", "supplier_lot": "H1", "part": "BAR", "lot": "L-1", "qty": "10",
     "unit": "kg"},
    {"event_id": "U-2", "type": "process", "occurred_at": "2026-03-02T09:00:00Z", "step": "S-1",
     "operation": "turn", "inputs": [{"lot": "L-1", "qty": "4"}],
     "outputs": [{"lot": "P-1", "part": "SCREW", "qty": "100"}]},
    {"event_id": "U-3", "type": "ship", "occurred_at": "2026-03-02T10:00:00Z", "shipment": "SH-1",
     "customer": "HOSP-SOUTH", "items": [{"lot": "L-1", "qty": "1.5"}]},
    {"event_id": "U-4", "type": "ship", "occurred_at": "2026-03-02T10:00:00Z", "shipment": "SH-2",
     "customer": "HOSP-NORTH", "items": [{"lot": "P-1", "qty": "20"}]},
]  # fmt: skip


def test_a_case_over_two_units_is_reconciled_per_unit(
    client: TestClient, services: Services
) -> None:
    services.ingest.ingest(TWO_UNITS)
    analyst, customer = login(client, "analyst"), login(client, "customer")
    gql(client, analyst, SMALL_OPEN, s=[{"id": "supplier_lot:ACME-STEEL/H1"}])
    gql(client, analyst, 'mutation { holdRecall(id: "RC-1", reason: "r") }')
    gql(client, analyst, 'mutation { notifyRecall(id: "RC-1", message: "m") { id } }')
    answer = """mutation { acknowledgeNotice(id: "RC-1-HOSP-NORTH", foundQty: "20",
        returnedQty: "0") { state } }"""
    gql(client, customer, answer)  # 20 of the screws, the only unit HOSP-NORTH was sent
    query = """{ recallCase(id: "RC-1") { reconciliation { expected accounted percent
        units { unit expected heldInPlant foundByCustomers accounted percent } } } }"""
    rec = gql(client, analyst, query)["recallCase"]["reconciliation"]
    assert rec["units"] == [
        {"unit": "ea", "expected": "100", "heldInPlant": "80", "foundByCustomers": "20",
         "accounted": "100", "percent": 100.0},
        {"unit": "kg", "expected": "6", "heldInPlant": "4.5", "foundByCustomers": "0",
         "accounted": "4.5", "percent": 75.0},
    ]  # fmt: skip
    # Kilograms and pieces make no one number; the measure is the unit least accounted for.
    assert (rec["expected"], rec["accounted"], rec["percent"]) == (None, None, 75.0)
    full = client.get("/api/v1/recalls/RC-1/export?format=json", headers=analyst).json()
    assert full["reconciliation"]["expected"] is None
    units = full["reconciliation"]["units"]
    assert [(u["unit"], Decimal(u["expected"])) for u in units] == [("ea", 100), ("kg", 6)]


def test_impact_and_a_supplier_lot_view_give_quantities_per_unit(
    client: TestClient, services: Services
) -> None:
    services.ingest.ingest(TWO_UNITS)
    query = """{ impact(id: "supplier_lot:ACME-STEEL/H1") { totals { inPlantQty shippedQty
        inPlant { qty unit } shipped { qty unit } } shipments { qty unit } } }"""
    found = gql(client, login(client, "analyst"), query)["impact"]
    assert found["totals"] == {
        "inPlantQty": None,
        "shippedQty": None,
        "inPlant": [{"qty": "80", "unit": "ea"}, {"qty": "4.5", "unit": "kg"}],
        "shipped": [{"qty": "20", "unit": "ea"}, {"qty": "1.5", "unit": "kg"}],
    }
    assert found["shipments"] == [{"qty": "1.5", "unit": "kg"}, {"qty": "20", "unit": "ea"}]
    view = """{ supplierLots { edges { node { receivedQty received { qty unit } shippedUnits
        shipped { qty unit } } } } }"""
    (edge,) = gql(client, login(client, "supplier"), view)["supplierLots"]["edges"]
    use = edge["node"]
    assert use == {
        "receivedQty": "10",
        "received": [{"qty": "10", "unit": "kg"}],
        "shippedUnits": None,
        "shipped": [{"qty": "20", "unit": "ea"}, {"qty": "1.5", "unit": "kg"}],
    }


def test_a_case_its_notices_and_requests_trace_as_they_read_null(
    client: TestClient, services: Services
) -> None:
    # They are no nodes of the schema (`node` reads them null): a trace of one is null too,
    # not an internal error.
    events = Events()
    services.ingest.ingest(
        [
            events.receive("L-1", 10),
            events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "2"}]),
        ]
    )
    analyst = login(client, "analyst")
    gql(
        client,
        analyst,
        'mutation { openRecall(id: "RC-1", title: "t", reason: "r", '
        'suspects: [{id: "supplier_lot:ACME/A-1"}]) { id } }',
    )
    gql(client, analyst, 'mutation { notifyRecall(id: "RC-1", message: "m") { id } }')
    gql(
        client,
        analyst,
        'mutation { requestSupplierResponse(caseId: "RC-1", supplierLot: "supplier_lot:ACME/A-1",'
        ' question: "q", dueBy: "2030-01-01T00:00:00Z") { question } }',
    )
    (request,) = services.store.nodes_of_kind("supplier_request", 10)
    for gid in ("case:RC-1", "notice:RC-1-HOSP", request.gid):
        assert client.get(f"/api/v1/nodes/{quote(gid)}", headers=analyst).status_code == 200
        for direction in ("UP", "DOWN"):
            query = f'{{ node(id: "{gid}") {{ id }} trace(id: "{gid}", direction: {direction}) '
            answer = gql(client, analyst, query + "{ nodes(first: 1) { totalCount } } }")
            assert answer == {"node": None, "trace": None}, gid


def test_half_a_window_on_a_suspect_that_takes_none_is_refused(
    client: TestClient, services: Services
) -> None:
    # It would be dropped (GraphQL) or logged and never read (an event): either way a typo the
    # analyst is not told of.
    services.ingest.ingest([Events().receive("L-1", 10)])
    analyst = login(client, "analyst")
    written = services.store.counts()["events"]
    for half in ('from: "2026-01-01T00:00:00Z"', 'to: "2026-01-01T00:00:00Z"'):
        opened = (
            'mutation { openRecall(id: "RC-1", title: "t", reason: "r", '
            f'suspects: [{{id: "lot:L-1", {half}}}]) {{ id }} }}'
        )
        answer = client.post("/graphql", json={"query": opened}, headers=analyst).json()
        assert answer["data"] == {"openRecall": None}, answer
        assert "other suspects take neither" in answer["errors"][0]["message"]
    assert services.store.counts()["events"] == written


def test_a_case_read_again_later_in_one_mutation_request_shows_it_as_it_then_is(
    client: TestClient, plant: Services
) -> None:
    # Mutations run one after another: what an earlier one's fields read is read again after
    # a later one, not served from the request's loaders as it was.
    opened = f'openRecall(id: "RC-9", title: "t", reason: "r", suspects: [{{id: "{SUSPECT}"}}])'
    query = f"""mutation {{
      a: {opened} {{ supplierRequests {{ supplierLot }} notices {{ id }} }}
      b: requestSupplierResponse(caseId: "RC-9", supplierLot: "supplier_lot:ACME-STEEL/H70002",
        question: "which heat?", dueBy: "2030-01-01T00:00:00Z") {{ supplierLot }}
      c: notifyRecall(id: "RC-9", message: "stop using") {{ customer }}
      d: closeRecall(id: "RC-9", reason: "done") {{
        supplierRequests {{ supplierLot }} notices {{ id }} }}
    }}"""
    data = gql(client, login(client, "analyst"), query)
    lots = {r["supplierLot"] for r in data["d"]["supplierRequests"]}
    assert "supplier_lot:ACME-STEEL/H70002" in lots, data
    assert len(data["d"]["notices"]) == len(data["c"]) > 0, data
