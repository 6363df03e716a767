"""EPCIS over REST: exports follow the trace's scope rules; capture follows ingest's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth.models import Role
from api.deps import Services
from graph.epcis_schema import schema_problems
from tests.api.conftest import login
from tests.fixtures.epcis import PARTIES, PARTS, gs1_document, native_events

OWN_LOT = "supplier_lot:ACME-STEEL/H70001"
OTHER_LOT = "supplier_lot:POLYMED/PM-2"
KIT = "serial:KIT000010000"


def export(client: TestClient, role: str, node: str, direction: str = "down", **params: Any) -> Any:
    return client.get(
        f"/api/v1/trace/{node}/epcis",
        params={"direction": direction, **params},
        headers=login(client, role),
    )


def test_analysts_export_whole_events_that_validate(client: TestClient, plant: Services) -> None:
    response = export(client, "analyst", OWN_LOT)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    document = response.json()
    assert schema_problems(document) == []
    text = json.dumps(document)
    assert "destinationList" in text and "HOSP-" in text and "tg:operator" in text
    up = export(client, "analyst", KIT, "up")
    assert up.status_code == 200 and schema_problems(up.json()) == []


def test_operators_see_their_plant_but_no_customers(client: TestClient, plant: Services) -> None:
    response = export(client, "operator", OWN_LOT)
    assert response.status_code == 200
    document = response.json()
    assert schema_problems(document) == []
    text = json.dumps(document)
    assert "tg:operator" in text and "bizTransactionList" in text
    assert "HOSP-" not in text and "destinationList" not in text
    assert export(client, "operator", OWN_LOT, closure="true").status_code == 403


def test_operators_of_another_site_export_nothing_of_this_one(
    client: TestClient, plant: Services
) -> None:
    plant.auth.add_user("olga", "olga-operator-pass", Role.OPERATOR, None, "PLANT-2")
    token = client.post(
        "/api/v1/auth/token", data={"username": "olga", "password": "olga-operator-pass"}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    lot = client.get("/api/v1/trace/lot:L00001-BAR/epcis", headers=headers)
    assert lot.status_code == 404
    # A supplier lot only PLANT-1 received from is PLANT-1's to see.
    supplier_lot = client.get(f"/api/v1/trace/{OWN_LOT}/epcis", headers=headers)
    assert supplier_lot.status_code == 404
    # PLANT-1's operator, the positive control:
    assert export(client, "operator", "lot:L00001-BAR").status_code == 200
    assert export(client, "operator", OWN_LOT).json()["epcisBody"]["eventList"]


def test_suppliers_get_their_own_lot_downstream_without_plant_internals(
    client: TestClient, plant: Services
) -> None:
    response = export(client, "supplier", OWN_LOT)
    assert response.status_code == 200, response.text
    document = response.json()
    assert schema_problems(document) == []
    events = document["epcisBody"]["eventList"]
    assert {e["tg:type"] for e in events} <= {"receive", "split", "merge", "serialize", "status"}
    assert len(events) > 5
    text = json.dumps(document)
    for secret in ("HOSP-", "operator", "equipment", "step", "tg:actor", "PLANT-1", "POLYMED"):
        assert secret not in text, secret
    # ...and nothing else: other suppliers' lots, upstream, or beyond the trace.
    assert export(client, "supplier", OTHER_LOT).status_code == 404
    assert export(client, "supplier", OWN_LOT, "up").status_code == 403
    assert export(client, "supplier", OWN_LOT, closure="true").status_code == 403


def test_suppliers_without_shared_lot_ids_get_no_export(
    client: TestClient, plant: Services
) -> None:
    plant.auth.put_company("ACME-STEEL", "Acme Steel", "supplier", False)
    assert export(client, "supplier", OWN_LOT).status_code == 403
    assert export(client, "analyst", OWN_LOT).status_code == 200


def _status(event_id: str, lot: str, status: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "status",
        "occurred_at": "2026-06-01T00:00:00Z",
        "target": {"lot": lot},
        "status": status,
        "reason": "seen at inspection",
    }


@pytest.mark.parametrize("shared", [True, False])
def test_suppliers_see_status_events_live_or_voided_only_where_statuses_are_shared(
    client: TestClient, plant: Services, shared: bool
) -> None:
    plant.auth.put_company("ACME-STEEL", "Acme Steel", "supplier", True, share_statuses=shared)
    # A hold and a recall of lots downstream of the supplier's lot; the hold is voided.
    hold = _status("ST-HOLD", "L00001-BAR-W1", "quarantined")
    plant.ingest.ingest([hold, _status("ST-RECALL", "L00001-BAR-W2", "recalled")])
    void = {"event_id": "VO-HOLD", "type": "void", "voids": "ST-HOLD", "reason": "wrong lot"}
    plant.ingest.ingest([void | {"occurred_at": hold["occurred_at"]}])
    document = export(client, "supplier", OWN_LOT).json()
    assert schema_problems(document) == []
    ids = {e["eventID"] for e in document["epcisBody"]["eventList"] if e["tg:type"] == "status"}
    ours = {"urn:tracegraph:event:ST-HOLD", "urn:tracegraph:event:ST-RECALL"}
    assert ours <= ids if shared else ids == set()
    text = json.dumps(document)
    assert ("non_sellable_other" in text) == shared and ("errorDeclaration" in text) == shared


def _at(day: int) -> str:
    return f"2026-03-0{day}T08:00:00Z"


def test_suppliers_get_voided_events_only_where_they_would_see_them_live(
    client: TestClient, services: Services
) -> None:
    """A supplier's trace holds no steps or shipments: voided processes and shipments of its
    lots stay out of its export as live ones do; a voided split of them comes in."""
    services.auth.put_company("ACME-STEEL", "Acme Steel", "supplier", True, share_statuses=False)
    receive = {"type": "receive", "supplier": "ACME-STEEL", "supplier_lot": "A1", "part": "BAR"}
    made = {"outputs": [{"lot": "LK", "part": "KIT", "qty": "40", "unit": "ea"}]}
    ship = {"type": "ship", "customer": "HOSP-NORTH", "items": [{"lot": "LK", "qty": "3"}]}
    services.ingest.ingest(
        [
            receive | {"event_id": "R-A", "occurred_at": _at(1), "lot": "LA", "qty": "100"},
            {"event_id": "S-1", "type": "process", "occurred_at": _at(2), "step": "ST-1"}
            | {"operation": "assemble", "inputs": [{"lot": "LA", "qty": "10"}]}
            | made,
            ship | {"event_id": "SH-1", "occurred_at": _at(3), "shipment": "SH-N1"},
        ]
    )
    services.ingest.ingest(
        [
            ship | {"event_id": "SH-X", "occurred_at": _at(4), "shipment": "SH-WEST"},
            {"event_id": "S-X", "type": "process", "occurred_at": _at(4), "step": "ST-X"}
            | {"operation": "cut", "inputs": [{"lot": "LA", "qty": "5"}]}
            | {"outputs": [{"lot": "LX", "part": "CUT", "qty": "5", "unit": "kg"}]},
            {"event_id": "SP-X", "type": "split", "occurred_at": _at(4), "lot": "LA"}
            | {"into": [{"lot": "LA-1", "qty": "20"}]},
        ]
    )
    services.ingest.ingest(
        [
            {"event_id": f"V-{e}", "type": "void", "occurred_at": _at(5), "voids": e}
            | {"reason": "entered in error"}
            for e in ("SH-X", "S-X", "SP-X")
        ]
    )

    def events(role: str) -> dict[str, dict[str, Any]]:
        document = export(client, role, "supplier_lot:ACME-STEEL/A1").json()
        assert schema_problems(document) == []
        return {e["eventID"].rpartition(":")[2]: e for e in document["epcisBody"]["eventList"]}

    supplier = events("supplier")
    assert set(supplier) == {"R-A", "SP-X"}  # no S-1 or SH-1 live, so no S-X or SH-X voided
    assert "errorDeclaration" in supplier["SP-X"]
    assert "SH-WEST" not in json.dumps(supplier)
    analyst = events("analyst")
    assert {"R-A", "S-1", "SH-1", "SH-X", "S-X", "SP-X"} <= set(analyst)
    assert all("errorDeclaration" in analyst[e] for e in ("SH-X", "S-X", "SP-X"))


def test_operators_get_voided_events_only_of_what_their_site_would_see_live(
    client: TestClient, services: Services
) -> None:
    """PLANT-1's lot shipped from PLANT-2: its shipments are not PLANT-1's to see, voided or
    live; one voided at PLANT-1 is."""
    services.ingest.ingest(
        [
            {"event_id": "R-A", "type": "receive", "occurred_at": _at(1), "site": "PLANT-1"}
            | {"supplier": "ACME-STEEL", "supplier_lot": "A1", "part": "BAR", "lot": "LA"}
            | {"qty": "100", "unit": "kg"}
        ]
    )
    ship = {"type": "ship", "occurred_at": _at(2), "customer": "HOSP-NORTH"}
    services.ingest.ingest(
        [
            ship
            | {"event_id": f"SH-{n}", "site": f"PLANT-{n[0]}", "shipment": f"SH-{n}"}
            | {"items": [{"lot": "LA", "qty": "2"}]}
            for n in ("1V", "2V", "2L")
        ]
    )
    services.ingest.ingest(
        [
            {"event_id": f"V-{e}", "type": "void", "occurred_at": _at(3), "voids": e}
            | {"reason": "entered in error"}
            for e in ("SH-1V", "SH-2V")
        ]
    )

    def events(role: str) -> set[str]:
        document = export(client, role, "lot:LA").json()
        assert schema_problems(document) == []
        return {e["eventID"].rpartition(":")[2] for e in document["epcisBody"]["eventList"]}

    assert events("operator") == {"SH-1V"}
    assert events("analyst") == {"SH-1V", "SH-2V", "SH-2L"}


def test_customers_get_no_trace_exports(client: TestClient, plant: Services) -> None:
    assert export(client, "customer", KIT, "up").status_code == 403
    assert export(client, "analyst", KIT, "up").status_code == 200


def test_an_unknown_node_is_not_found(client: TestClient, plant: Services) -> None:
    assert export(client, "analyst", "lot:NO-SUCH-LOT").status_code == 404


# -- capture ----------------------------------------------------------------------------------


def capture(client: TestClient, role: str, document: Any, **maps: Any) -> Any:
    body = {"document": document, "gtins": PARTS, "parties": PARTIES} | maps
    return client.post("/api/v1/epcis/capture", json=body, headers=login(client, role))


def test_operators_capture_a_document_once(client: TestClient) -> None:
    first = capture(client, "operator", gs1_document())
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] == len(native_events())
    assert body["results"][0] | {"event_id": None} == {
        "event_id": None,
        "status": "created",
        "type": "receive",
        "epcis_index": 0,
        "eventID": gs1_document()["epcisBody"]["eventList"][0]["eventID"],
    }
    assert [i["index"] for i in body["ignored"]] == [10]
    again = capture(client, "operator", gs1_document())
    assert again.status_code == 201 and again.json()["duplicates"] == len(native_events())


def test_a_body_nested_too_deeply_is_a_bad_request(client: TestClient) -> None:
    deep = b'{"document": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    headers = login(client, "operator") | {"Content-Type": "application/ld+json"}
    response = client.post("/api/v1/epcis/capture", content=deep, headers=headers)
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.json()["message"]
    assert capture(client, "operator", gs1_document()).status_code == 201  # positive control


def test_a_number_too_long_to_read_is_a_bad_request(client: TestClient) -> None:
    long = b'{"document": {"n": 1' + b"0" * 5000 + b"}}"
    headers = login(client, "operator") | {"Content-Type": "application/ld+json"}
    response = client.post("/api/v1/epcis/capture", content=long, headers=headers)
    assert response.status_code == 400, response.text
    assert "not JSON we read" in response.json()["message"]


def test_a_key_twice_in_a_document_is_a_bad_request(client: TestClient) -> None:
    document = json.dumps(gs1_document())
    twice = document.replace('"type": "EPCISDocument"', '"type": "EPCISDocument", "type": "x"')
    assert twice != document
    headers = login(client, "operator") | {"Content-Type": "application/ld+json"}
    response = client.post("/api/v1/epcis/capture", content=twice, headers=headers)
    assert response.status_code == 400, response.text
    assert "'type' appears twice" in response.json()["message"]
    assert capture(client, "operator", gs1_document()).status_code == 201  # positive control


def test_half_a_surrogate_pair_is_refused_and_nothing_is_written(client: TestClient) -> None:
    document = gs1_document()
    document["epcisBody"]["eventList"][0]["ilmd"]["cbvmda:lotNumber"] = "H-\ud800"
    body = {"document": document, "gtins": PARTS, "parties": PARTIES}
    headers = login(client, "operator") | {"Content-Type": "application/json"}
    # json.dumps escapes the lone surrogate as \ud800, as a sender's encoder would.
    response = client.post("/api/v1/epcis/capture", content=json.dumps(body), headers=headers)
    assert response.status_code == 422, response.text
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "ilmd")]
    stats = client.get("/api/v1/admin/stats", headers=login(client, "admin")).json()
    assert stats["events"] == 0
    assert capture(client, "operator", gs1_document()).status_code == 201  # positive control


def test_a_refusal_that_quotes_half_a_surrogate_pair_still_names_the_field(
    client: TestClient,
) -> None:
    # The schema's message quotes the bad value, which has no UTF-8 form: the answer escapes it.
    document = gs1_document()
    document["epcisBody"]["eventList"][0]["eventID"] = "urn:x:\ud800"
    body = {"document": document, "gtins": PARTS, "parties": PARTIES}
    headers = login(client, "operator") | {"Content-Type": "application/json"}
    response = client.post("/api/v1/epcis/capture", content=json.dumps(body), headers=headers)
    assert response.status_code == 422, response.text
    problem = response.json()["errors"][0]
    assert (problem["index"], problem["field"], problem["code"]) == (
        0,
        "eventList[0].eventID",
        "schema",
    )
    assert problem["event_id"] == "urn:x:\ud800"


def test_a_changed_event_is_a_conflict(client: TestClient) -> None:
    capture(client, "operator", gs1_document())
    changed = gs1_document()
    changed["epcisBody"]["eventList"][1]["quantityList"][0]["quantity"] = 49
    response = capture(client, "operator", changed)
    assert response.status_code == 409
    assert response.json()["errors"][0]["index"] == 1


def test_a_schema_invalid_document_is_refused_naming_the_event(client: TestClient) -> None:
    broken = gs1_document()
    broken["epcisBody"]["eventList"][2]["eventTimeZoneOffset"] = "CET"
    response = capture(client, "operator", broken)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["index"], error["field"], error["code"]) == (
        2,
        "eventList[2].eventTimeZoneOffset",
        "schema",
    )
    assert capture(client, "customer", {"not": "epcis"}).status_code == 403  # role first


def test_a_refusal_names_every_field_of_every_event_the_schema_finds_wrong(
    client: TestClient,
) -> None:
    broken = gs1_document()
    events = broken["epcisBody"]["eventList"]
    for event in events:
        event["eventTimeZoneOffset"] = "CET"
        event["eventTime"] = "yesterday"
    response = capture(client, "operator", broken)
    assert response.status_code == 422
    named = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert named == {
        (i, f"eventList[{i}].{field}")
        for i in range(len(events))
        for field in ("eventTime", "eventTimeZoneOffset")
    }


def test_a_long_list_of_wrong_items_is_refused_with_a_bounded_answer(client: TestClient) -> None:
    broken = gs1_document()
    shipped = next(e for e in broken["epcisBody"]["eventList"] if e.get("epcList"))
    index = broken["epcisBody"]["eventList"].index(shipped)
    shipped["epcList"] = [*shipped["epcList"], *range(50_000)]
    first_bad = len(shipped["epcList"]) - 50_000
    response = capture(client, "operator", broken)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert len(errors) == 1001
    assert {e["code"] for e in errors[:-1]} == {"schema"}
    last = errors[-1]
    assert (last["index"], last["field"], last["code"]) == (
        index,
        f"eventList[{index}].epcList",
        "too_many_problems",
    )
    assert last["message"].startswith(
        f"the 49000 items from eventList[{index}].epcList[{first_bad + 1000}] on were not checked"
    )
    stats = client.get("/api/v1/admin/stats", headers=login(client, "admin")).json()
    assert stats["events"] == 0


def test_an_unmapped_gtin_is_refused_and_a_bad_mapping_is_a_bad_request(
    client: TestClient,
) -> None:
    response = capture(client, "operator", gs1_document(), gtins={})
    assert response.status_code == 422
    assert "unknown_gtin" in {e["code"] for e in response.json()["errors"]}
    bad = capture(client, "operator", gs1_document(), gtins={"12345": "X"})
    assert bad.status_code == 400


@pytest.mark.parametrize("role", ["customer", "supplier"])
def test_partners_may_not_capture(client: TestClient, role: str) -> None:
    assert capture(client, role, gs1_document()).status_code == 403
    assert capture(client, "operator", gs1_document()).status_code == 201


def test_analysts_capture_status_observations_only(client: TestClient) -> None:
    assert capture(client, "analyst", gs1_document()).status_code == 403
    document = gs1_document()
    events = document["epcisBody"]["eventList"]
    assert (
        capture(client, "operator", document | {"epcisBody": {"eventList": events[:9]}}).status_code
        == 201
    )
    status_only = document | {"epcisBody": {"eventList": [events[9]]}}
    response = capture(client, "analyst", status_only)
    assert response.status_code == 201, response.text
    assert response.json()["results"][0]["type"] == "status"


def test_a_refusal_of_the_callers_role_names_the_epcis_event(client: TestClient) -> None:
    events = gs1_document()["epcisBody"]["eventList"]
    packed, received = events[10], events[0]  # the packing makes none of our events
    document = gs1_document() | {"epcisBody": {"eventList": [packed, received]}}
    response = capture(client, "analyst", document)
    assert response.status_code == 403
    assert response.json()["message"].startswith(f'event 1 ("{received["eventID"]}"), type: ')


def test_an_operators_refusal_for_another_site_names_the_bizlocation(client: TestClient) -> None:
    events = gs1_document()["epcisBody"]["eventList"]
    elsewhere = events[0] | {"bizLocation": {"id": "urn:tracegraph:site:PLANT-2"}}
    document = gs1_document() | {"epcisBody": {"eventList": [events[10], elsewhere]}}
    response = capture(client, "operator", document)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["index"], error["field"], error["code"]) == (1, "bizLocation", "wrong_site")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("@context"), "(document)"),
        (lambda d: d.update({"@context": 5}), "@context"),
        (lambda d: d.update({"epcisBody": {"eventList": {}}}), "eventList"),
        (
            lambda d: d.update({"epcisHeader": {"epcisMasterData": 3}}),
            "epcisHeader.epcisMasterData",
        ),
    ],
)
def test_a_problem_of_the_whole_document_names_the_document_not_an_event(
    client: TestClient, change: Any, field: str
) -> None:
    broken = gs1_document()
    change(broken)
    response = capture(client, "operator", broken)
    assert response.status_code == 422
    body = response.json()
    (error,) = body["errors"]
    assert (error["index"], error["event_id"], error["field"]) == (None, None, field)
    assert "event 0" not in body["message"] and "the document" in body["message"]


def test_a_document_of_nothing_to_capture_names_the_document(client: TestClient) -> None:
    observed = gs1_document()
    observed["epcisBody"]["eventList"] = [
        {
            "type": "ObjectEvent",
            "eventTime": "2026-03-02T08:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "action": "OBSERVE",
            "epcList": [],
        }
    ]
    response = capture(client, "operator", observed)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["index"], error["field"], error["code"]) == (None, "epcisBody.eventList", "empty")


def test_a_document_of_skipped_declarations_is_answered_with_what_was_skipped(
    client: TestClient,
) -> None:
    declared = gs1_document()
    first = declared["epcisBody"]["eventList"][0]
    first["errorDeclaration"] = {"declarationTime": "2026-03-03T08:00:00Z"}
    declared["epcisBody"]["eventList"] = [first]
    response = capture(client, "operator", declared)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["created"], body["duplicates"], body["results"]) == (0, 0, [])
    assert [(i["index"], i["eventID"]) for i in body["ignored"]] == [(0, first["eventID"])]
    assert "never captured" in body["ignored"][0]["reason"]


def test_a_serial_named_with_another_lot_than_its_own_is_refused_naming_the_field(
    client: TestClient,
) -> None:
    assert capture(client, "operator", gs1_document()).status_code == 201
    screw = gs1_document()["epcisBody"]["eventList"][6]["epcList"][0]
    observed = gs1_document()
    observed["epcisBody"]["eventList"] = [
        {
            "type": "ObjectEvent",
            "eventID": "urn:uuid:7d2c0c1e-0000-4000-8000-0000000000a1",
            "eventTime": "2026-03-03T08:00:00+01:00",
            "eventTimeZoneOffset": "+01:00",
            "action": "OBSERVE",
            "disposition": "recalled",
            "epcList": [screw.replace("/21/", "/10/T9/21/")],
        }
    ]
    response = capture(client, "analyst", observed)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert (error["index"], error["field"], error["code"]) == (0, "epcList[0]", "lot_mismatch")
    assert "another lot" in error["message"]
