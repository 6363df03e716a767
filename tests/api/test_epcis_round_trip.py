"""An EPCIS export captured back, here or elsewhere, gives the events it was made of."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from graph.epcis_schema import schema_problems
from tests.api.conftest import login

LD = {"Content-Type": "application/ld+json"}


def _event(event_id: str, kind: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": kind, "occurred_at": f"2026-03-02T{at}:00Z"} | fields


# A process and a shipment that each name a lot before a serial: EPCIS lists the serial first.
MIXED = [
    _event("R-1", "receive", "08:00", supplier="ACME", supplier_lot="H1", part="BAR", lot="L-1",
           qty="5"),
    _event("R-2", "receive", "08:10", supplier="ACME", supplier_lot="H2", part="KIT", lot="M-1",
           qty="5"),
    _event("Z-1", "serialize", "08:30", lot="M-1", serials=["S-1", "S-2"]),
    _event("PR-1", "process", "09:00", step="ST-1", operation="assemble",
           inputs=[{"lot": "L-1", "qty": "1"}, {"serial": "S-1"}],
           outputs=[{"lot": "P-1", "part": "PLATE", "qty": "2"}, {"serial": "F-1", "part": "KIT"}]),
    _event("SH-1", "ship", "10:00", shipment="D-1", customer="CLINIC",
           items=[{"lot": "P-1", "qty": "1"}, {"serial": "F-1"}, {"serial": "S-2"}]),
]  # fmt: skip


ALL_DUPLICATE = {e["event_id"]: "duplicate" for e in MIXED}


def _exported(client: TestClient) -> dict[str, Any]:
    written = client.post("/api/v1/events", json=MIXED, headers=login(client, "admin"))
    assert written.status_code == 201, written.text
    exported = client.get(
        "/api/v1/trace/lot:L-1/epcis",
        params={"direction": "down", "closure": "true"},
        headers=login(client, "admin"),
    )
    assert exported.status_code == 200, exported.text
    document: dict[str, Any] = exported.json()
    return document


def _capture(client: TestClient, document: dict[str, Any]) -> dict[str, str]:
    answer = client.post(
        "/api/v1/epcis/capture",
        content=json.dumps(document),
        headers=login(client, "admin") | LD,
    )
    assert answer.status_code == 201, answer.text
    return {r["event_id"]: r["status"] for r in answer.json()["results"]}


def _logged(client: TestClient) -> dict[str, dict[str, Any]]:
    log = client.get("/api/v1/events", params={"limit": 100}, headers=login(client, "admin"))
    return {e["event_id"]: e["event"] for e in log.json()["events"]}


def test_an_export_captured_into_its_own_store_is_a_duplicate(client: TestClient) -> None:
    document = _exported(client)
    assert _capture(client, document) == ALL_DUPLICATE


# Quantities and units left for the graph to say, and counts stated: a process takes all that
# remains of its blend, quantities name no unit or "ea", serials are given as one.
UNSTATED = [
    _event("R-G1", "receive", "08:00", supplier="POLY", supplier_lot="P1", part="GRANULE",
           lot="G-1", qty="50", unit="kg"),
    _event("R-G2", "receive", "08:05", supplier="POLY", supplier_lot="P2", part="GRANULE",
           lot="G-2", qty="30", unit="kg"),
    _event("R-B1", "receive", "08:10", supplier="ACME", supplier_lot="H1", part="BAR", lot="B-1",
           qty="10"),
    _event("MX-1", "mix", "09:00", **{"from": [{"lot": "G-1", "qty": "20"},
                                               {"lot": "G-2", "qty": "10", "unit": "kg"}]},
           into={"lot": "BL-1", "part": "BLEND"}),
    _event("PR-1", "process", "10:00", step="ST-1", operation="mould",
           inputs=[{"lot": "BL-1"}, {"lot": "B-1", "qty": "2", "unit": "ea"}],
           outputs=[{"lot": "H-1", "part": "HANDLE", "qty": "5", "unit": "ea"},
                    {"serial": "SN-1", "part": "KIT", "qty": "1"}]),
    _event("SP-1", "split", "11:00", lot="H-1",
           into=[{"lot": "H-2", "qty": "2"}, {"lot": "H-3", "qty": "3", "unit": "ea"}]),
    _event("MG-1", "merge", "12:00", **{"from": [{"lot": "H-2", "qty": "2", "unit": "ea"},
                                                 {"lot": "H-3", "qty": "3"}]},
           into={"lot": "H-4"}),
    _event("PR-2", "process", "13:00", step="ST-2", operation="assemble",
           inputs=[{"serial": "SN-1", "qty": "1"}, {"lot": "H-4", "qty": "1"}],
           outputs=[{"serial": "K-1", "part": "KIT"}]),
    _event("SH-1", "ship", "14:00", shipment="D-1", customer="CLINIC",
           items=[{"lot": "H-4", "qty": "4", "unit": "ea"}, {"serial": "K-1", "qty": "1"}]),
]  # fmt: skip


def _unstated_exported(client: TestClient) -> dict[str, Any]:
    written = client.post("/api/v1/events", json=UNSTATED, headers=login(client, "admin"))
    assert written.status_code == 201, written.text
    exported = client.get(
        "/api/v1/trace/lot:G-1/epcis",
        params={"direction": "down", "closure": "true"},
        headers=login(client, "admin"),
    )
    assert exported.status_code == 200, exported.text
    document: dict[str, Any] = exported.json()
    return document


def test_what_an_event_did_not_state_is_not_read_back_as_stated(client: TestClient) -> None:
    document = _unstated_exported(client)
    assert _capture(client, document) == {e["event_id"]: "duplicate" for e in UNSTATED}


def test_an_export_captured_elsewhere_states_what_the_events_stated(
    client: TestClient, elsewhere: TestClient
) -> None:
    document = _unstated_exported(client)
    assert set(_capture(elsewhere, document).values()) == {"created"}
    theirs, ours = _logged(elsewhere), _logged(client)
    assert {e["event_id"]: theirs[e["event_id"]] for e in UNSTATED} == {
        e["event_id"]: ours[e["event_id"]] for e in UNSTATED
    }


def test_other_readers_get_what_a_process_took_and_the_lots_unit(client: TestClient) -> None:
    document = _unstated_exported(client)
    assert schema_problems(document) == []
    process = next(e for e in document["epcisBody"]["eventList"] if e["eventID"].endswith(":PR-1"))
    blend = "urn:tracegraph:lot:BL-1"
    assert process["inputQuantityList"][0] == {"epcClass": blend, "quantity": 30, "uom": "KGM"}
    assert process["tg:stated"] == {
        blend: [],  # all that remained, in the lot's unit: the event said neither
        "urn:tracegraph:lot:B-1": ["quantity", "unit"],  # a count, stated as "ea"
        "urn:tracegraph:serial:SN-1": ["quantity"],  # stated as one
        "urn:tracegraph:lot:H-1": ["quantity", "unit"],
    }


def test_an_export_captured_elsewhere_keeps_the_order_of_items(
    client: TestClient, elsewhere: TestClient
) -> None:
    document = _exported(client)
    _capture(elsewhere, document)
    theirs = _logged(elsewhere)
    assert {e: theirs[e] for e in ("PR-1", "SH-1")} == {
        e: _logged(client)[e] for e in ("PR-1", "SH-1")
    }
    # And what the other store exports comes back to us as the same events.
    again = elsewhere.get(
        "/api/v1/trace/lot:L-1/epcis",
        params={"direction": "down", "closure": "true"},
        headers=login(elsewhere, "admin"),
    )
    assert _capture(client, again.json()) == ALL_DUPLICATE


def test_a_document_that_lists_serials_first_is_a_duplicate_of_the_logged_event(
    client: TestClient,
) -> None:
    """A document without our order (as exports wrote it before, or a store that captured one
    then exports) names the same items: the logged event is that event."""
    document = _exported(client)
    for event in document["epcisBody"]["eventList"]:
        for name in ("tg:inputOrder", "tg:outputOrder", "tg:itemOrder"):
            event.pop(name, None)
    assert _capture(client, document) == ALL_DUPLICATE


def test_an_order_that_does_not_name_the_items_is_refused(client: TestClient) -> None:
    document = _exported(client)
    process = next(e for e in document["epcisBody"]["eventList"] if e["eventID"].endswith(":PR-1"))
    process["tg:inputOrder"] = process["tg:inputOrder"][:1]
    answer = client.post(
        "/api/v1/epcis/capture", content=json.dumps(document), headers=login(client, "admin") | LD
    )
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["errors"]
    assert problem["field"] == "tg:inputOrder"
    assert problem["code"] == "shape"


def test_an_event_id_as_long_as_the_contract_allows_is_captured_elsewhere(
    client: TestClient, elsewhere: TestClient
) -> None:
    longest = "E" * 200
    received = _event(
        longest, "receive", "08:00", supplier="ACME", supplier_lot="H1", part="BAR", lot="L-1",
        qty="5",
    )  # fmt: skip
    split = _event("S-1", "split", "09:00", lot="L-1", into=[{"lot": "L-2", "qty": "2"}])
    written = client.post("/api/v1/events", json=[received, split], headers=login(client, "admin"))
    assert written.status_code == 201, written.text
    exported = client.get(
        "/api/v1/trace/lot:L-2/epcis", params={"direction": "up"}, headers=login(client, "admin")
    )
    assert _capture(elsewhere, exported.json()) == {longest: "created", "S-1": "created"}
    assert _logged(elsewhere)[longest] == _logged(client)[longest]


def _receipt_at(event_id: str, lot: str, moment: str, offset: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": f"urn:tracegraph:event:{event_id}",
        "eventTime": moment,
        "eventTimeZoneOffset": offset,
        "action": "ADD",
        "bizStep": "receiving",
        "quantityList": [{"epcClass": f"urn:tracegraph:lot:{lot}", "quantity": 5}],
        "sourceList": [{"type": "owning_party", "source": "urn:tracegraph:company:ACME"}],
        "ilmd": {"tg:part": "BAR", "tg:supplierLot": f"H-{lot}"},
    }


def test_an_offset_of_minus_zero_is_exported_as_it_was_captured(
    client: TestClient, elsewhere: TestClient
) -> None:
    # "-00:00" and "+00:00" are one instant, but not the same offset to EPCIS (whose event
    # hash tells them apart): it comes back as sent, whatever the event time is said in.
    events = [
        _receipt_at("R-1", "L-1", "2026-03-02T08:00:00Z", "-00:00"),
        _receipt_at("R-2", "L-2", "2026-03-02T09:00:00+01:00", "-00:00"),
    ]
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-02T10:00:00Z",
        "epcisBody": {"eventList": events},
    }
    assert _capture(client, document) == {"R-1": "created", "R-2": "created"}
    assert _logged(client)["R-1"]["occurred_at"] == "2026-03-02T08:00:00-00:00"
    for event_id, lot in (("R-1", "L-1"), ("R-2", "L-2")):
        exported = client.get(
            f"/api/v1/trace/lot:{lot}/epcis",
            params={"direction": "up"},
            headers=login(client, "admin"),
        ).json()
        assert schema_problems(exported) == []
        (event,) = exported["epcisBody"]["eventList"]
        assert (event["eventTime"], event["eventTimeZoneOffset"]) == (
            "2026-03-02T08:00:00-00:00",
            "-00:00",
        )
        assert _capture(client, exported) == {event_id: "duplicate"}
        assert _capture(elsewhere, exported) == {event_id: "created"}
        assert _logged(elsewhere)[event_id] == _logged(client)[event_id]


# A process takes all that remains of L-1 after a shipment took some: 7 of 10.
TOOK_THE_REST = [
    _event("R-1", "receive", "08:00", supplier="ACME", supplier_lot="H1", part="BAR", lot="L-1",
           qty="10"),
    _event("R-2", "receive", "08:10", supplier="ACME", supplier_lot="H2", part="BAR", lot="L-2",
           qty="5"),
    _event("SH-1", "ship", "08:20", shipment="D-1", customer="CLINIC",
           items=[{"lot": "L-1", "qty": "3"}]),
    _event("PR-1", "process", "08:30", step="ST-1", operation="turn",
           inputs=[{"lot": "L-1"}, {"lot": "L-2", "qty": "1"}],
           outputs=[{"lot": "O-1", "part": "SCREW", "qty": "8"}]),
]  # fmt: skip


def _trace(client: TestClient, gid: str, direction: str) -> tuple[list[Any], list[Any]]:
    answer = client.get(
        "/api/v1/trace",
        params={"id": gid, "direction": direction},
        headers=login(client, "admin"),
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    nodes = sorted((n["id"], n.get("share"), n.get("exposure")) for n in found["nodes"])
    edges = sorted((e["from"], e["type"], e["to"], e["qty"]) for e in found["edges"])
    return nodes, edges


def _took_the_rest(client: TestClient, root: str, direction: str, closure: bool) -> Any:
    written = client.post("/api/v1/events", json=TOOK_THE_REST, headers=login(client, "admin"))
    assert written.status_code == 201, written.text
    exported = client.get(
        f"/api/v1/trace/{root}/epcis",
        params={"direction": direction, "closure": str(closure).lower()},
        headers=login(client, "admin"),
    )
    assert exported.status_code == 200, exported.text
    return exported.json()


@pytest.mark.parametrize(("root", "direction"), [("lot:O-1", "up"), ("lot:L-2", "down")])
def test_a_process_that_took_all_that_remained_takes_as_much_elsewhere(
    client: TestClient, elsewhere: TestClient, root: str, direction: str
) -> None:
    """With closure, the document brings the events that took from the lot before: else the
    process, which states no quantity, takes all of the lot there."""
    exported = _took_the_rest(client, root, direction, closure=True)
    _capture(elsewhere, exported)
    assert _trace(elsewhere, "lot:O-1", "up") == _trace(client, "lot:O-1", "up")
    assert _capture(client, exported) == dict.fromkeys(_logged(elsewhere), "duplicate")


def test_without_closure_a_process_that_took_all_that_remained_comes_alone(
    client: TestClient, elsewhere: TestClient
) -> None:
    """An export without closure holds its trace's own events, however many took from the lot
    before (captured elsewhere, the process takes what that store holds of it)."""
    exported = _took_the_rest(client, "lot:O-1", "up", closure=False)
    assert _capture(elsewhere, exported) == dict.fromkeys(["R-1", "R-2", "PR-1"], "created")
    taken = {(e[0], e[2]): e[3] for e in _trace(elsewhere, "lot:O-1", "up")[1]}
    assert taken[("lot:L-1", "step:ST-1")] == "10"


@pytest.mark.parametrize("unit", ["EA", "C62", "KGM"])
def test_a_unit_that_is_a_code_read_as_another_unit_comes_back_as_itself(
    client: TestClient, elsewhere: TestClient, unit: str
) -> None:
    """A plant that counts in "EA": capture reads uom EA as a count, "ea", so the export names
    the lot's own unit beside it."""
    events = [
        _event("R-1", "receive", "08:00", supplier="ACME", supplier_lot="H1", part="BAR",
               lot="L-1", qty="10", unit=unit),
        _event("S-1", "split", "09:00", lot="L-1", into=[{"lot": "L-2", "qty": "4", "unit": unit}]),
    ]  # fmt: skip
    written = client.post("/api/v1/events", json=events, headers=login(client, "admin"))
    assert written.status_code == 201, written.text
    exported = client.get(
        "/api/v1/trace/lot:L-2/epcis", params={"direction": "up"}, headers=login(client, "admin")
    )
    document = exported.json()
    assert schema_problems(document) == []
    assert _capture(client, document) == {"R-1": "duplicate", "S-1": "duplicate"}
    assert _capture(elsewhere, document) == {"R-1": "created", "S-1": "created"}
    assert _logged(elsewhere) == _logged(client)
