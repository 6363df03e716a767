"""Which notice an id answers: case ids may hold ":", so one id can read two ways."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.deps import Services
from api.recall import RecallService
from tests.api.conftest import login
from tests.fixtures.events import Events

OPEN = """mutation($id: String!) { openRecall(id: $id, title: "t", reason: "r",
    suspects: [{id: "lot:P-1"}]) { id } }"""
SEND = """mutation($id: String!) { notifyRecall(id: $id, message: "m") { id } }"""
MINE = "{ myNotices { id case state } }"
ACK = """mutation($id: String!, $found: String!) { acknowledgeNotice(id: $id, foundQty: $found,
    returnedQty: "0") { id customer foundQty } }"""


def _post(client: TestClient, headers: dict[str, str], query: str, **variables: Any) -> Any:
    return client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    ).json()


def _told(client: TestClient, analyst: dict[str, str], *cases: str) -> None:
    for case in cases:
        assert "errors" not in _post(client, analyst, OPEN, id=case)
        assert "errors" not in _post(client, analyst, SEND, id=case)


def _plant(services: Services) -> None:
    """P-1 shipped to the demo customer HOSP-NORTH (10, so it may find up to 10) and to a
    customer named NORTH."""
    events = Events()
    services.ingest.ingest(
        [
            events.receive("P-1", 20),
            events(
                "ship", shipment="SH-1", customer="HOSP-NORTH", items=[{"lot": "P-1", "qty": "10"}]
            ),
            events("ship", shipment="SH-2", customer="NORTH", items=[{"lot": "P-1", "qty": "1"}]),
        ]
    )


def test_the_id_my_notices_gives_answers_that_notice(
    client: TestClient, services: Services
) -> None:
    # Case "RC"'s notice is notice:RC-HOSP-NORTH; case "notice:RC"'s key is "notice:RC-HOSP-NORTH".
    _plant(services)
    analyst, customer = login(client, "analyst"), login(client, "customer")
    _told(client, analyst, "RC", "notice:RC")
    mine = {n["case"]: n["id"] for n in _post(client, customer, MINE)["data"]["myNotices"]}
    assert mine == {"RC": "notice:RC-HOSP-NORTH", "notice:RC": "notice:notice:RC-HOSP-NORTH"}
    for case, notice in mine.items():
        answered = _post(client, customer, ACK, id=notice, found=str(len(case)))
        assert answered["data"]["acknowledgeNotice"]["id"] == notice, answered
    states = {n["case"]: n["state"] for n in _post(client, customer, MINE)["data"]["myNotices"]}
    assert states == {"RC": "acknowledged", "notice:RC": "acknowledged"}
    recalls = RecallService(services.store, services.ingest)
    found = {
        n.case: str(n.found_qty)
        for case in mine
        for n in recalls.notices(case)
        if n.customer == "HOSP-NORTH"
    }
    assert found == {"RC": "2", "notice:RC": "9"}


def test_another_customers_notice_never_takes_the_name_of_ones_own(
    client: TestClient, services: Services
) -> None:
    # Case "X" tells HOSP-NORTH in notice:X-HOSP-NORTH; case "notice:X-HOSP" tells NORTH in a
    # notice keyed "notice:X-HOSP-NORTH" (id notice:notice:X-HOSP-NORTH).
    _plant(services)
    analyst, customer, admin = (login(client, r) for r in ("analyst", "customer", "admin"))
    _told(client, analyst, "X", "notice:X-HOSP")
    answered = _post(client, customer, ACK, id="notice:X-HOSP-NORTH", found="1")
    assert answered["data"]["acknowledgeNotice"] == {
        "id": "notice:X-HOSP-NORTH",
        "customer": "HOSP-NORTH",
        "foundQty": "1",
    }, answered
    # An admin answering for HOSP-NORTH by the id it was given answers HOSP-NORTH's notice.
    for_them = _post(client, admin, ACK, id="notice:X-HOSP-NORTH", found="7")
    assert for_them["data"]["acknowledgeNotice"]["customer"] == "HOSP-NORTH", for_them
    told = RecallService(services.store, services.ingest).notices("notice:X-HOSP")
    (north,) = (n for n in told if n.customer == "NORTH")
    assert (north.id, north.state) == ("notice:notice:X-HOSP-NORTH", "sent")
    # NORTH's notice, by its own id, is still not HOSP-NORTH's to answer.
    denied = _post(client, customer, ACK, id="notice:notice:X-HOSP-NORTH", found="1")
    assert denied["errors"][0]["message"] == "no notice 'notice:notice:X-HOSP-NORTH'", denied


def test_a_notice_whose_name_would_be_too_long_for_an_id_is_sent(
    client: TestClient, services: Services
) -> None:
    # An id holds 200 characters; a case and a customer may each have that many. Two customers
    # whose names differ only past the cut are still told apart.
    events, long, one = Events(), "H" * 150, {"lot": "P-1", "qty": "1"}
    services.ingest.ingest(
        [
            events.receive("P-1", 10),
            events(
                "ship", shipment="SH-1", customer="HOSP-NORTH", items=[{"lot": "P-1", "qty": "2"}]
            ),
            *(events("ship", shipment=f"SH-{c}", customer=long + c, items=[one]) for c in "AB"),
        ]
    )
    analyst, customer = login(client, "analyst"), login(client, "customer")
    case = "RC-" + "9" * 190
    _told(client, analyst, case)
    told = RecallService(services.store, services.ingest).notices(case)
    assert sorted(n.customer for n in told) == sorted(["HOSP-NORTH", long + "A", long + "B"])
    keys = {n.id.partition(":")[2] for n in told}
    assert len(keys) == 3 and all(len(key) <= 200 for key in keys)
    assert all(key.startswith(case[:100]) for key in keys), "the name still says its case"
    (mine,) = _post(client, customer, MINE)["data"]["myNotices"]
    assert mine["case"] == case
    answered = _post(client, customer, ACK, id=mine["id"], found="2")
    assert answered["data"]["acknowledgeNotice"]["foundQty"] == "2", answered


def test_two_customers_of_one_notify_never_take_one_name(services: Services) -> None:
    # Case "RC-1-A" told B in "RC-1-A-B": case RC-1's notice to "A-B" is then "RC-1-A-B-2",
    # the name its notice to "A-B-2" would have had. Each takes a name of its own.
    events, one = Events(), {"lot": "P-1", "qty": "1"}
    services.ingest.ingest(
        [
            events.receive("P-1", 10),
            *(
                events("ship", shipment=f"SH-{c}", customer=c, items=[one])
                for c in ("B", "A-B", "A-B-2")
            ),
        ]
    )
    recalls = RecallService(services.store, services.ingest)
    recalls.open("RC-1-A", "t", "r", [{"id": "lot:P-1"}], "ana")
    recalls.open("RC-1", "t", "r", [{"id": "lot:P-1"}], "ana")
    for case in ("RC-1-A", "RC-1"):
        recalls.notify(case, "m", "ana")
    told = {n.customer: n.id for n in recalls.notices("RC-1")}
    assert told == {
        "A-B": "notice:RC-1-A-B-2",
        "A-B-2": "notice:RC-1-A-B-2-2",
        "B": "notice:RC-1-B",
    }
