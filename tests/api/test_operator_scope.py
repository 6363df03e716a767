"""An operator of a site writes and reads within it; outside it, things do not exist.

The demo operator works at PLANT-1. Each test sets up what another site holds (written by an
admin, or the plant's own ingest) and tries to reach it from PLANT-1, through every door.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.access import Access
from api.auth.models import Principal, Role
from api.deps import Services
from api.recall import RecallService
from graph.epcis import CONTEXTS
from ingest import gs1
from ingest.epcis_capture import NEVER_CAPTURED
from ingest.errors import BatchRejected
from ingest.service import IngestService
from marking.models import SchemeSpec
from tests.api.conftest import login
from tests.fixtures.events import Events
from tests.fixtures.meanwhile import Meanwhile

OTHER = "PLANT-2"


@pytest.fixture
def sites(services: Services, events: Events) -> Services:
    """A lot at each site, and a PLANT-2 step on LATHE-1 that used the PLANT-2 lot."""
    services.ingest.ingest(
        [
            events.receive("L-1", 10, site="PLANT-1"),
            events.receive("L-2", 10, site=OTHER, supplier_lot="A-2"),
            events(
                "process",
                step="S-1",
                operation="turn",
                equipment="LATHE-1",
                inputs=[{"lot": "L-1", "qty": "1"}, {"lot": "L-2", "qty": "1"}],
                outputs=[{"lot": "L-3", "part": "BAR", "qty": "2"}],
                site="PLANT-1",
            ),
        ]
    )
    return services


def post(client: TestClient, role: str, batch: list[dict[str, Any]]) -> Any:
    return client.post("/api/v1/events", json=batch, headers=login(client, role))


def errors(response: Any) -> list[tuple[str, str, str]]:
    assert response.status_code == 422, response.text
    return [(e["field"], e["code"], e["message"]) for e in response.json()["errors"]]


def stats(client: TestClient) -> Any:
    return client.get("/api/v1/admin/stats", headers=login(client, "admin")).json()


def test_another_sites_lot_is_refused_as_if_it_did_not_exist(
    client: TestClient, sites: Services, events: Events
) -> None:
    before = stats(client)
    attempts = [
        events("split", lot="L-2", into=[{"lot": "C-1", "qty": "500"}]),
        events("status", target={"lot": "L-2"}, status="recalled", reason="why not"),
        events(
            "merge",
            from_=[{"lot": "L-1", "qty": "1"}, {"lot": "L-2", "qty": "1"}],
            into={"lot": "M-1"},
        ),
    ]
    missing = [
        events("split", lot="NOPE", into=[{"lot": "C-1", "qty": "500"}]),
    ]
    assert errors(post(client, "operator", attempts[:1])) == [
        ("lot", "unknown_item", 'lot "L-2" does not exist')
    ]
    assert errors(post(client, "operator", missing)) == [
        ("lot", "unknown_item", 'lot "NOPE" does not exist')
    ]
    assert errors(post(client, "operator", attempts[1:2])) == [
        ("target.lot", "unknown_item", 'lot "L-2" does not exist')
    ]
    assert errors(post(client, "operator", attempts[2:])) == [
        ("from[1].lot", "unknown_item", 'lot "L-2" does not exist')
    ]
    assert stats(client) == before
    assert sites.store.node("lot:L-2").attrs["available"] == "9"  # type: ignore[union-attr]
    # An admin is not bound to a site.
    assert post(client, "admin", attempts[1:2]).status_code == 201


def test_an_event_naming_no_site_is_the_operators_sites(
    client: TestClient, sites: Services, events: Events
) -> None:
    split = events("split", lot="L-1", into=[{"lot": "C-1", "qty": "2"}])
    assert post(client, "operator", [split]).status_code == 201
    child = sites.store.node("lot:C-1")
    assert child is not None and child.attrs["site"] == "PLANT-1"
    (logged,) = sites.store.logged([split["event_id"]]).values()
    assert '"site":"PLANT-1"' in logged.payload
    # Sent again, with the site it was recorded for or without one, it is the same event.
    assert post(client, "operator", [split]).json()["duplicates"] == 1
    assert post(client, "operator", [{**split, "site": "PLANT-1"}]).json()["duplicates"] == 1
    assert errors(post(client, "operator", [{**split, "site": OTHER}])) == [
        ("site", "wrong_site", "you record events for site 'PLANT-1'")
    ]


def test_another_sites_event_cannot_be_voided(
    client: TestClient, sites: Services, events: Events
) -> None:
    theirs = events("split", lot="L-2", into=[{"lot": "C-2", "qty": "1"}], site=OTHER)
    sites.ingest.ingest([theirs])
    void = events("void", voids=theirs["event_id"], reason="not ours")
    assert errors(post(client, "operator", [void])) == [
        ("voids", "unknown_event", f'event "{theirs["event_id"]}" does not exist')
    ]
    assert sites.store.node("lot:C-2") is not None


def test_a_void_refusal_names_no_event_of_another_site(
    client: TestClient, services: Services, events: Events
) -> None:
    own, shared = events.receive("L-5", 10, site="PLANT-1"), events.receive("L-6", 10)
    theirs = [
        events("split", lot="L-5", into=[{"lot": "L-5-1", "qty": "1"}], event_id="THEIRS-1"),
        events("void", voids=shared["event_id"], reason="theirs", event_id="THEIRS-2"),
    ]
    services.ingest.ingest([own, shared])
    services.ingest.ingest([{**e, "site": OTHER} for e in theirs])
    voids = [
        events("void", voids=own["event_id"], reason="wrong lot"),
        events("void", voids=shared["event_id"], reason="wrong lot"),
    ]
    said = {
        role: [errors(post(client, role, [void]))[0] for void in voids]
        for role in ("operator", "admin")
    }
    assert said["operator"] == [
        (
            "voids",
            "void_has_dependents",
            f'later events depend on "{own["event_id"]}": it cannot be voided while they stand',
        ),
        ("voids", "already_voided", f'event "{shared["event_id"]}" is already voided'),
    ]
    # Roles that read every site are told which events stand in the way.
    assert [message for *_, message in said["admin"]] == [
        f'later events depend on "{own["event_id"]}": "THEIRS-1"; void them first',
        f'event "{shared["event_id"]}" is already voided by "THEIRS-2"',
    ]


def test_a_void_refusal_names_the_operators_own_events_that_stand_in_the_way(
    client: TestClient, services: Services, events: Events
) -> None:
    own = events.receive("L-7", 10, site="PLANT-1")
    split = events("split", lot="L-7", into=[{"lot": "L-7-1", "qty": "1"}], site="PLANT-1")
    shared = events.receive("L-8", 10)  # of no site: every site's operators read it
    services.ingest.ingest([own, shared])
    services.ingest.ingest([split])
    voided = events("void", voids=shared["event_id"], reason="twice", site="PLANT-1")
    services.ingest.ingest([voided])
    voids = [
        events("void", voids=own["event_id"], reason="wrong lot"),
        events("void", voids=shared["event_id"], reason="wrong lot"),
    ]
    said = [errors(post(client, "operator", [void]))[0] for void in voids]
    assert said == [
        (
            "voids",
            "void_has_dependents",
            f'later events depend on "{own["event_id"]}": "{split["event_id"]}"; void them first',
        ),
        (
            "voids",
            "already_voided",
            f'event "{shared["event_id"]}" is already voided by "{voided["event_id"]}"',
        ),
    ]


def test_a_cart_refusal_names_no_cart_of_another_site(
    client: TestClient, services: Services, events: Events
) -> None:
    services.ingest.ingest(
        [
            events.receive("L-9", 10, site="PLANT-1"),
            events("cart_define", cart="THEIR-CART", group="THEIRS", site=OTHER),
            events("cart_define", cart="OUR-CART", group="OURS", site="PLANT-1"),
        ]
    )
    services.ingest.ingest([events("cart_load", cart="THEIR-CART", lot="L-9", site=OTHER)])
    load = events("cart_load", cart="OUR-CART", lot="L-9")
    [(field, code, message)] = errors(post(client, "operator", [load]))
    assert (field, code) == ("cart", "cart_group_mismatch")
    assert "THEIR-CART" not in message and "THEIRS" not in message
    [(_, _, told)] = errors(post(client, "admin", [load]))
    assert "THEIR-CART" in told


def _epcis_receipt(event_id: str, lot: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": f"urn:tracegraph:event:{event_id}",
        "eventTime": "2026-03-02T08:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "ADD",
        "bizStep": "receiving",
        "quantityList": [{"epcClass": f"urn:tracegraph:lot:{lot}", "quantity": 10}],
        "sourceList": [{"type": "owning_party", "source": "urn:tracegraph:company:ACME"}],
        "ilmd": {"tg:part": "BAR"},
        **extra,
    }


def test_an_error_declaration_of_another_sites_event_reads_as_of_one_never_captured(
    client: TestClient, sites: Services, events: Events
) -> None:
    theirs = events.receive("L-9", 10, site=OTHER)
    sites.ingest.ingest([theirs])
    declared = {"declarationTime": "2026-03-03T08:00:00Z"}
    answers = []
    for n, event_id in enumerate((theirs["event_id"], "NEVER-1")):
        retraction = _epcis_receipt(event_id, "L-9", errorDeclaration=declared)
        document = {
            "@context": CONTEXTS,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-03-02T09:00:00Z",
            "epcisBody": {"eventList": [_epcis_receipt(f"OWN-{n}", f"L-1{n}"), retraction]},
        }
        response = client.post(
            "/api/v1/epcis/capture", json=document, headers=login(client, "operator")
        )
        assert response.status_code == 201, response.text
        answers.append([i["reason"] for i in response.json()["ignored"]])
    assert answers[0] == answers[1] == [NEVER_CAPTURED]
    assert sites.store.logged([theirs["event_id"]])[theirs["event_id"]].voided_by is None


def test_another_sites_serial_named_with_a_lot_reads_as_one_that_does_not_exist(
    client: TestClient, sites: Services, events: Events
) -> None:
    # Its lot is not checked for an operator who may not see it: a serial named with a wrong
    # lot would tell that it exists, and which lot it is not of.
    kit = gs1.with_check_digit("0950600013436")
    sites.ingest.ingest(
        [
            events("part_define", part="BAR", gtin=kit),
            events("serialize", lot="L-2", serials=["SN-9"], site=OTHER),
        ]
    )
    answers = []
    for serial in ("SN-9", "SN-NONE"):
        observed = {
            "type": "ObjectEvent",
            "eventID": f"urn:tracegraph:event:SEEN-{serial}",
            "eventTime": "2026-03-03T08:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "action": "OBSERVE",
            "disposition": "recalled",
            "epcList": [f"https://id.gs1.org/01/{kit}/10/L-1/21/{serial}"],
        }
        document = {
            "@context": CONTEXTS,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-03-02T09:00:00Z",
            "epcisBody": {"eventList": [observed]},
        }
        response = client.post(
            "/api/v1/epcis/capture", json=document, headers=login(client, "operator")
        )
        assert response.status_code == 422, response.text
        answers.append(
            [(e["code"], e["message"].replace(serial, "S")) for e in response.json()["errors"]]
        )
    assert answers[0] == answers[1]
    assert answers[0][0][0] == "unknown_item"


def test_a_serial_of_the_site_from_another_sites_lot_reads_as_of_no_lot(
    client: TestClient, sites: Services, events: Events
) -> None:
    # SN-X is PLANT-1's, serialized from PLANT-2's lot L-2: which lot it is of is not the
    # operator's to learn, by any lot the link names being refused or taken.
    kit = gs1.with_check_digit("0950600013436")
    sites.ingest.ingest(
        [
            events("part_define", part="BAR", gtin=kit),
            events("serialize", lot="L-2", serials=["SN-X"], site="PLANT-1"),
        ]
    )
    operator = login(client, "operator")
    assert client.get("/api/v1/nodes/serial:SN-X", headers=operator).status_code == 200
    assert client.get("/api/v1/nodes/lot:L-2", headers=operator).status_code == 404
    for lot in ("L-1", "L-2", "L-9"):
        observed = {
            "type": "ObjectEvent",
            "eventID": f"urn:tracegraph:event:SEEN-{lot}",
            "eventTime": "2026-03-03T08:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "action": "OBSERVE",
            "disposition": "recalled",
            "epcList": [f"https://id.gs1.org/01/{kit}/10/{lot}/21/SN-X"],
        }
        document = {
            "@context": CONTEXTS,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-03-02T09:00:00Z",
            "epcisBody": {"eventList": [observed]},
        }
        response = client.post("/api/v1/epcis/capture", json=document, headers=operator)
        assert response.status_code == 201, (lot, response.text)
    # An analyst, who sees the lot, is told of the one the serial is not of.
    observed["eventID"] = "urn:tracegraph:event:SEEN-BY-ANALYST"
    response = client.post("/api/v1/epcis/capture", json=document, headers=login(client, "analyst"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["code"] == "lot_mismatch"


def test_operators_do_not_read_recall_cases(
    client: TestClient, sites: Services, events: Events
) -> None:
    RecallService(sites.store, sites.ingest).open(
        "RC-1", "bad bar", "supplier alert", [{"id": "lot:L-1"}], actor="ana"
    )
    operator, analyst = login(client, "operator"), login(client, "analyst")
    assert client.get("/api/v1/nodes/case:RC-1", headers=analyst).status_code == 200
    assert client.get("/api/v1/nodes/case:RC-1", headers=operator).status_code == 404
    trace = client.get(
        "/api/v1/trace", params={"id": "lot:L-1", "direction": "up"}, headers=operator
    )
    assert trace.status_code == 200
    assert not any(n["id"].startswith("case:") for n in trace.json()["nodes"])
    links = client.get("/api/v1/nodes/lot:L-1", headers=operator).json()
    assert "case:" not in str(links)


def test_equipment_window_names_only_what_the_operator_may_see(
    client: TestClient, sites: Services
) -> None:
    window = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
    seen: dict[str, set[str]] = {}
    for role in ("operator", "analyst"):
        answer = client.get(
            "/api/v1/equipment/LATHE-1/window", params=window, headers=login(client, role)
        ).json()
        (step,) = answer["steps"]
        seen[role] = {e["from"] for e in step["inputs"]}
    assert seen == {"operator": {"lot:L-1"}, "analyst": {"lot:L-1", "lot:L-2"}}


def test_resolving_a_mark_does_not_name_the_customer(
    client: TestClient, services: Services, events: Events
) -> None:
    services.marking.define_scheme(SchemeSpec(name="K", kind="sequential", length=3, parts=["KIT"]))
    services.ingest.ingest(
        [
            events.receive("L-1", 1, part="KIT", site="PLANT-1"),
            events("serialize", lot="L-1", serials=["K-1"], site="PLANT-1"),
            events("mark", target={"serial": "K-1"}, code="AAA", site="PLANT-1"),
            events(
                "ship",
                shipment="SH-1",
                customer="HOSP-NORTH",
                items=[{"serial": "K-1"}],
                site="PLANT-1",
            ),
        ]
    )
    query = '{ resolveMark(mark: "AAA") { candidates { id location } } }'
    where: dict[str, str] = {}
    for role in ("operator", "analyst"):
        body = client.post("/graphql", json={"query": query}, headers=login(client, role)).json()
        (candidate,) = body["data"]["resolveMark"]["candidates"]
        where[role] = candidate["location"]
    assert where == {
        "operator": "shipped in shipment SH-1",
        "analyst": "shipped to HOSP-NORTH in shipment SH-1",
    }


def test_resolving_a_mark_names_no_step_cart_or_shipment_of_another_site(
    client: TestClient, services: Services, events: Events
) -> None:
    """Own lots another site used, holds in a cart or shipped: where they are reads as if that
    never happened, and context filters do not answer for what is hidden."""
    services.ingest.ingest(
        [
            events.receive("LOT-7", 10, site="PLANT-1"),
            events.receive("LOT-8", 10, site="PLANT-1"),
            events.receive("LOT-9", 10, site="PLANT-1"),
            events.receive("LOT-6", 1, site="PLANT-1"),
            events(
                "process",
                step="S-9",
                operation="press",
                equipment="PRESS-9",
                inputs=[{"lot": "LOT-7", "qty": "1"}, {"lot": "LOT-6", "qty": "1"}],
                outputs=[{"lot": "LOT-70", "part": "BAR", "qty": "1"}],
                site=OTHER,
            ),
            events("cart_define", cart="C-8", site=OTHER),
            events("cart_load", cart="C-8", lot="LOT-8", compartment="A", site=OTHER),
            events(
                "ship",
                shipment="SH-9",
                customer="HOSP-X",
                items=[{"lot": "LOT-9", "qty": "1"}],
                site=OTHER,
            ),
        ]
    )

    def resolve(role: str, **context: str) -> dict[str, str]:
        query = """query($cart: String, $station: String) {
            resolveMark(primary: "LOT-?", cart: $cart, station: $station) {
                candidates { id location } } }"""
        body = client.post(
            "/graphql",
            json={"query": query, "variables": context},
            headers=login(client, role),
        ).json()
        return {c["id"]: c["location"] for c in body["data"]["resolveMark"]["candidates"]}

    assert resolve("operator") == {
        "lot:LOT-6": "used up",
        "lot:LOT-7": "in stock, 9 ea available",
        "lot:LOT-8": "in stock, 10 ea available",
        "lot:LOT-9": "in stock, 9 ea available",
    }
    assert resolve("analyst") == {
        "lot:LOT-6": "used in step S-9 on PRESS-9",
        "lot:LOT-7": "used in step S-9 on PRESS-9",
        "lot:LOT-8": "in cart C-8 compartment A",
        "lot:LOT-9": "shipped to HOSP-X in shipment SH-9",
    }
    # Another site's cart and station fit nothing, as a cart no one has.
    assert resolve("operator", cart="C-8") == resolve("operator", cart="NOPE") == {}
    assert resolve("operator", station="PRESS-9") == {}
    assert list(resolve("analyst", cart="C-8")) == ["lot:LOT-8"]
    assert sorted(resolve("analyst", station="PRESS-9")) == ["lot:LOT-6", "lot:LOT-7"]


def test_an_item_another_site_creates_while_the_batch_waits_is_refused(
    sites: Services, events: Events
) -> None:
    other_site = [events.receive("L-X", 10, site=OTHER)]
    raced = Meanwhile(sites.store, lambda: IngestService(sites.store).ingest(other_site))
    operator = Principal("otto", Role.OPERATOR, site="PLANT-1")
    access = Access(operator, sites.store, IngestService(raced), sites.auth, sites.marking)
    split = events("split", lot="L-X", into=[{"lot": "L-X-1", "qty": "5"}])
    with pytest.raises(BatchRejected) as refused:
        access.ingest([split])
    assert [(p.field, p.code) for p in refused.value.problems] == [("lot", "unknown_item")]
    assert sites.store.node("lot:L-X-1") is None


def test_a_refusal_does_not_name_another_sites_lot_in_a_cart_or_under_a_mark(
    client: TestClient, sites: Services, events: Events
) -> None:
    sites.ingest.ingest(
        [
            events("cart_define", cart="C-5"),
            events("cart_load", cart="C-5", lot="L-2", site=OTHER),
            events("mark", target={"lot": "L-2"}, code="AAA", site=OTHER),
        ]
    )
    problems = errors(post(client, "operator", [events("cart_load", cart="C-5", lot="L-1")]))
    assert [code for _, code, _ in problems] == ["cart_occupied"]
    assert "L-2" not in problems[0][2]
    problems = errors(post(client, "operator", [events("mark", target={"lot": "L-1"}, code="AAA")]))
    assert [code for _, code, _ in problems] == ["mark_taken"]
    assert "L-2" not in problems[0][2]
    assert problems[0][2] == "this mark already marks another item"


def test_a_code_another_sites_scheme_struck_and_voided_is_refused_for_what_it_is(
    client: TestClient, services: Services, events: Events
) -> None:
    # Another site struck AAA under its scheme B, then voided that mark: the code marks nothing,
    # and keeps what it was read as. Refused to an operator of scheme A for that, not as a mark
    # of another item, and without the other site's scheme.
    for name in ("A", "B"):
        spec = SchemeSpec(name=name, kind="sequential", length=3, parts=[f"P{name}"])
        services.marking.define_scheme(spec)
    services.ingest.ingest(
        [
            events.receive("A-0", 1, part="PA", supplier_lot="x", site="PLANT-1"),
            events.receive("B-0", 1, part="PB", supplier_lot="y", site=OTHER),
            events("mark", target={"lot": "B-0"}, code="AAA", site=OTHER, event_id="M-B"),
        ]
    )
    services.ingest.ingest([events("void", voids="M-B", reason="mis-struck", site=OTHER)])
    mark = events("mark", target={"lot": "A-0"}, code="AAA", scheme="A")
    ((field, code, message),) = errors(post(client, "operator", [mark]))
    assert (field, code) == ("code", "mark_taken")
    assert message.startswith("this code was struck first under another scheme"), message
    assert "another item" not in message and '"B"' not in message and "B-0" not in message
    # An admin is told which scheme.
    ((_, _, message),) = errors(post(client, "admin", [mark]))
    assert 'struck first by scheme "B"' in message, message


def test_a_cart_an_operators_load_creates_is_their_sites(
    client: TestClient, sites: Services, events: Events
) -> None:
    sites.auth.add_user("olga", "olga-operator-pass", Role.OPERATOR, site=OTHER)
    token = client.post(
        "/api/v1/auth/token", data={"username": "olga", "password": "olga-operator-pass"}
    )
    olga = {"Authorization": f"Bearer {token.json()['access_token']}"}
    otto = login(client, "operator")
    read = "query($id: ID!) { cart(id: $id) { cart { id } } }"

    def cart(headers: dict[str, str], name: str) -> Any:
        body = {"query": read, "variables": {"id": f"cart:{name}"}}
        return client.post("/graphql", json=body, headers=headers).json()["data"]["cart"]

    def load(headers: dict[str, str], name: str, lot: str) -> Any:
        return client.post(
            "/api/v1/events", json=[events("cart_load", cart=name, lot=lot)], headers=headers
        )

    assert load(otto, "C-NEW-1", "L-1").status_code == 201
    assert load(olga, "C-NEW-2", "L-2").status_code == 201
    ours, theirs = sites.store.nodes(["cart:C-NEW-1", "cart:C-NEW-2"]).values()
    assert (ours.attrs.get("site"), theirs.attrs.get("site")) == ("PLANT-1", OTHER)
    for mine, other, name in ((otto, olga, "C-NEW-1"), (olga, otto, "C-NEW-2")):
        assert cart(mine, name) == {"cart": {"id": f"cart:{name}"}}
        assert cart(other, name) is None
    # Emptied, it is still not the other site's to load.
    unload = events("cart_unload", cart="C-NEW-1", lot="L-1")
    assert client.post("/api/v1/events", json=[unload], headers=otto).status_code == 201
    refused = errors(load(olga, "C-NEW-1", "L-2"))
    assert refused == [("cart", "exists", 'cart "C-NEW-1" is already defined or in use')]


def test_another_sites_cart_is_taken_as_where_a_split_or_merge_lands(
    client: TestClient, sites: Services, events: Events
) -> None:
    sites.ingest.ingest(
        [events("cart_define", cart="C-9", compartments=["A", "B"], capacity="15", site=OTHER)]
    )
    before = stats(client)
    lands = [
        events("split", lot="L-1", into=[{"lot": "X-1", "qty": "1", "cart": "C-9"}]),
        events(
            "split", lot="L-1", into=[{"lot": "X-2", "qty": "1", "cart": "C-9", "compartment": "Z"}]
        ),
        events(
            "merge",
            from_=[{"lot": "L-1", "qty": "1"}, {"lot": "L-3", "qty": "1"}],
            into={"lot": "X-3", "cart": "C-9", "compartment": "B"},
        ),
    ]
    for event, field in zip(lands, ("into[0].cart", "into[0].cart", "into.cart"), strict=True):
        problems = errors(post(client, "operator", [event]))
        # Landing in a cart of none would make it: its id is taken, as a definition finds it.
        assert problems == [(field, "exists", 'cart "C-9" is already defined or in use')]
    assert stats(client) == before


def test_a_cart_too_full_does_not_say_what_another_sites_lots_put_in_it(
    client: TestClient, sites: Services, events: Events
) -> None:
    # A cart of no site, which both sites load: PLANT-1's lot holds 9 of its 15.
    sites.ingest.ingest(
        [
            events("cart_define", cart="C-S", compartments=["A", "B", "C"], capacity="15"),
            events("cart_load", cart="C-S", lot="L-1", compartment="A", qty="9", site="PLANT-1"),
            events.receive("L-4", 10, site=OTHER, supplier_lot="A-4"),
            events.receive("L-5", 10, site="PLANT-1", supplier_lot="A-5"),
        ]
    )
    sites.auth.add_user("olga", "olga-operator-pass", Role.OPERATOR, site=OTHER)
    token = client.post(
        "/api/v1/auth/token", data={"username": "olga", "password": "olga-operator-pass"}
    )
    olga = {"Authorization": f"Bearer {token.json()['access_token']}"}
    load = events("cart_load", cart="C-S", lot="L-4", compartment="B", qty="7")
    unsaid = (
        "cart",
        "over_capacity",
        "the cart cannot take this quantity: with what it holds, or held while this stay runs, "
        "it would pass its capacity",
    )
    (refused,) = errors(client.post("/api/v1/events", json=[load], headers=olga))
    assert refused == unsaid
    # An event of hers named as PLANT-1's lot is: it reads no lot's figures.
    named = load | {"event_id": "lot:L-1"}
    (refused,) = errors(client.post("/api/v1/events", json=[named], headers=olga))
    assert refused == unsaid
    before = stats(client)
    # Every lot it counts is PLANT-1's: its operator is told the figures.
    mine = events("cart_load", cart="C-S", lot="L-5", compartment="B", qty="7")
    assert errors(post(client, "operator", [mine])) == [
        ("cart", "over_capacity", 'cart "C-S" holds 9 of its capacity 15: 7 more does not fit')
    ]
    assert stats(client) == before


def test_a_cart_of_another_unit_does_not_name_another_sites_lot(
    client: TestClient, sites: Services, events: Events
) -> None:
    # A cart of no site, which both sites load: PLANT-1's lot in it is counted in kilograms.
    sites.ingest.ingest(
        [
            events.receive("L-KG", 10, unit="kg", site="PLANT-1", supplier_lot="A-6"),
            events("cart_define", cart="C-S", compartments=["A", "B"], capacity="15"),
            events("cart_load", cart="C-S", lot="L-KG", compartment="A", site="PLANT-1"),
            events.receive("L-4", 10, site=OTHER, supplier_lot="A-4"),
            events.receive("L-5", 10, site="PLANT-1", supplier_lot="A-5"),
        ]
    )
    sites.auth.add_user("olga", "olga-operator-pass", Role.OPERATOR, site=OTHER)
    token = client.post(
        "/api/v1/auth/token", data={"username": "olga", "password": "olga-operator-pass"}
    )
    olga = {"Authorization": f"Bearer {token.json()['access_token']}"}
    before = stats(client)
    load = events("cart_load", cart="C-S", lot="L-4", compartment="B")
    (refused,) = errors(client.post("/api/v1/events", json=[load], headers=olga))
    assert refused == (
        "cart",
        "cart_unit_mismatch",
        "the cart holds, or held while this stay runs, a lot counted in another unit: a "
        "capacity is in the unit of the lots a cart carries",
    )
    mine = events("cart_load", cart="C-S", lot="L-5", compartment="B")
    assert errors(post(client, "operator", [mine])) == [
        (
            "cart",
            "cart_unit_mismatch",
            'cart "C-S" holds lot "L-KG", counted in "kg": lot "L-5" is counted in "ea", and a '
            "capacity is in the unit of the lots a cart carries",
        )
    ]
    assert stats(client) == before


def test_using_a_lot_up_too_early_names_no_cart_of_another_site(
    client: TestClient, services: Services, events: Events
) -> None:
    # An admin loads PLANT-1's lots into PLANT-2's cart: one stays there, one is taken out again.
    # L-7 rides in PLANT-1's own cart only.
    services.ingest.ingest(
        [
            events.receive("L-7", 10, site="PLANT-1"),
            events.receive("L-8", 10, site="PLANT-1"),
            events.receive("L-9", 10, site="PLANT-1"),
            events("cart_define", cart="THEIR-CART", compartments=["A", "B"], site=OTHER),
        ]
    )
    early = events.clock.isoformat()
    services.ingest.ingest(
        [
            events("cart_load", cart="THEIR-CART", lot="L-8", compartment="A", site=OTHER),
            events("cart_load", cart="THEIR-CART", lot="L-9", compartment="B", site=OTHER),
            events("cart_unload", cart="THEIR-CART", lot="L-9", site=OTHER),
        ]
    )
    for lot in ("L-8", "L-9"):
        split = events("split", lot=lot, into=[{"lot": f"{lot}-1", "qty": "10"}]) | {
            "occurred_at": early
        }
        [(field, code, message)] = errors(post(client, "operator", [split]))
        assert (field, code) == ("occurred_at", "time_order")
        assert "THEIR-CART" not in message and "cart" in message
        [(_, _, told)] = errors(post(client, "admin", [split]))
        assert "THEIR-CART" in told
    # A cart the operator may read is named to them.
    services.ingest.ingest(
        [
            events("cart_define", cart="OUR-CART", site="PLANT-1"),
            events("cart_load", cart="OUR-CART", lot="L-7", site="PLANT-1"),
            events("cart_unload", cart="OUR-CART", lot="L-7", site="PLANT-1"),
        ]
    )
    split = events("split", lot="L-7", into=[{"lot": "L-7-1", "qty": "10"}]) | {
        "occurred_at": early
    }
    [(field, code, message)] = errors(post(client, "operator", [split]))
    assert (field, code) == ("occurred_at", "time_order")
    assert 'cart "OUR-CART"' in message
    assert errors(post(client, "admin", [split])) == [(field, code, message)]


def test_putting_a_lot_back_names_no_cart_of_another_site(
    client: TestClient, services: Services, events: Events
) -> None:
    # An unload of no site, which PLANT-1's operator may void, took their lot out of PLANT-2's
    # cart; PLANT-2 has loaded it there again since.
    services.ingest.ingest(
        [
            events.receive("L-9", 10, site="PLANT-1"),
            events("cart_define", cart="THEIR-CART", compartments=["A", "B"], site=OTHER),
            events("cart_load", cart="THEIR-CART", lot="L-9", compartment="A", site=OTHER),
        ]
    )
    unload = events("cart_unload", cart="THEIR-CART", lot="L-9")
    services.ingest.ingest([unload])
    services.ingest.ingest(
        [events("cart_load", cart="THEIR-CART", lot="L-9", compartment="B", site=OTHER)]
    )
    void = events("void", voids=unload["event_id"], reason="taken out by mistake")
    [(field, code, message)] = errors(post(client, "operator", [void]))
    assert (field, code) == ("voids", "already_in_cart")
    assert message.startswith("cannot put it back: ") and "THEIR-CART" not in message
    [(_, _, told)] = errors(post(client, "admin", [void]))
    assert told == 'cannot put it back: lot "L-9" is already in cart "THEIR-CART"'


def test_putting_a_lot_back_past_capacity_names_no_cart_of_another_site(
    client: TestClient, services: Services, events: Events
) -> None:
    # An unload of no site took PLANT-1's lot out of PLANT-2's cart, which PLANT-2 has filled
    # since with a lot of PLANT-1's: every lot it counts is theirs, the cart is not.
    services.ingest.ingest(
        [
            events.receive("L-9", 10, site="PLANT-1"),
            events.receive("L-7", 10, site="PLANT-1"),
            events(
                "cart_define", cart="THEIR-CART", compartments=["A", "B"], capacity="15", site=OTHER
            ),
            events(
                "cart_load", cart="THEIR-CART", lot="L-9", compartment="A", qty="10", site=OTHER
            ),
        ]
    )
    unload = events("cart_unload", cart="THEIR-CART", lot="L-9")
    services.ingest.ingest([unload])
    services.ingest.ingest(
        [events("cart_load", cart="THEIR-CART", lot="L-7", compartment="B", qty="10", site=OTHER)]
    )
    void = events("void", voids=unload["event_id"], reason="taken out by mistake")
    before = stats(client)
    assert errors(post(client, "operator", [void])) == [
        (
            "voids",
            "over_capacity",
            "cannot put it back: the cart cannot take this quantity: with what it holds, or held "
            "while this stay runs, it would pass its capacity",
        )
    ]
    [(_, _, told)] = errors(post(client, "admin", [void]))
    assert "THEIR-CART" in told and "holds 10 of its capacity 15" in told
    assert stats(client) == before


def test_a_receipt_refusal_says_not_what_only_another_site_received_a_supplier_lot_as(
    client: TestClient, sites: Services, events: Events
) -> None:
    # ACME/A-2 was received at PLANT-2 alone: its part and unit are not PLANT-1's to learn.
    as_rod = events.receive("L-5", 1, part="ROD", supplier_lot="A-2")
    [(field, code, message)] = errors(post(client, "operator", [as_rod]))
    assert (field, code) == ("part", "part_mismatch")
    assert message == 'supplier lot "ACME/A-2" was received before as another part than "ROD"'
    in_kg = events.receive("L-5", 1, supplier_lot="A-2", unit="kg")
    [(field, code, message)] = errors(post(client, "operator", [in_kg]))
    assert (field, code) == ("unit", "unit_mismatch")
    assert message == 'supplier lot "ACME/A-2" was received before in another unit than "kg"'
    # Of a supplier lot the operator's site received, and to an admin, it is said whole.
    ours = events.receive("L-5", 1, part="ROD", supplier_lot="A-1")
    [(_, _, message)] = errors(post(client, "operator", [ours]))
    assert message == 'supplier lot "ACME/A-1" was received before as part "BAR", not "ROD"'
    [(_, _, message)] = errors(post(client, "admin", [as_rod]))
    assert message == 'supplier lot "ACME/A-2" was received before as part "BAR", not "ROD"'


def test_a_taken_event_id_is_a_conflict_whether_it_names_another_sites_lot_or_none(
    client: TestClient, sites: Services, events: Events
) -> None:
    own = events("status", target={"lot": "L-1"}, status="released", reason="checked")
    assert post(client, "operator", [own]).status_code == 201
    # Sent again with another lot, the event is a conflict before its lot is looked at: the
    # answer is one whether that lot is another site's or no lot at all.
    for lot in ("L-2", "NOPE"):
        response = post(client, "operator", [{**own, "target": {"lot": lot}}])
        assert response.status_code == 409, response.text
        assert [e["code"] for e in response.json()["errors"]] == ["conflict"]


def test_a_batch_naming_what_another_site_holds_is_refused_as_one_naming_nothing(
    client: TestClient, sites: Services, events: Events
) -> None:
    theirs = events("split", lot="L-2", into=[{"lot": "C-2", "qty": "1"}], site=OTHER)
    sites.ingest.ingest([theirs, events("cart_define", cart="THEIR-CART", site=OTHER)])
    too_much = events("split", lot="L-1", into=[{"lot": "C-1", "qty": "500"}])
    status = events("status", target={"lot": "L-2"}, status="recalled", reason="why not")
    void = events("void", voids=theirs["event_id"], reason="not ours")
    unload = events("cart_unload", cart="THEIR-CART", lot="NOPE")

    def refused(batch: list[dict[str, Any]], *names: str) -> list[tuple[str, str, str]]:
        found = errors(post(client, "operator", batch))
        for name in names:
            found = [(f, c, m.replace(name, "?")) for f, c, m in found]
        return found

    # Every problem of the batch is said, as for events naming what does not exist.
    missing = {**status, "target": {"lot": "NOPE"}}
    assert refused([status, too_much], "L-2") == refused([missing, too_much], "NOPE")
    assert [c for _, c, _ in refused([status, too_much])] == ["unknown_item", "over_consumption"]
    never = {**void, "voids": "NEVER"}
    assert refused([void, too_much], theirs["event_id"]) == refused([never, too_much], "NEVER")
    # An unload of no lot from another site's cart is one of no lot, from any cart.
    nowhere = {**unload, "cart": "NO-CART"}
    assert refused([unload], "THEIR-CART") == refused([nowhere], "NO-CART")
    assert refused([unload]) == [("lot", "unknown_item", 'lot "NOPE" does not exist')]
    # A lot of theirs unloaded from it is not in it, as from a cart of none; a load into it
    # (which would make a cart of none) finds its id taken, as a definition would.
    ours = {**unload, "lot": "L-1"}
    assert refused([ours], "THEIR-CART") == refused([{**ours, "cart": "NO-CART"}], "NO-CART")
    load = events("cart_load", cart="THEIR-CART", lot="L-1", qty="1")
    define = events("cart_define", cart="THEIR-CART")
    assert [c for _, c, _ in refused([load])] == [c for _, c, _ in refused([define])] == ["exists"]
    # A step's inputs are read past the checks that name a problem, when they seem sound.
    for sent in ({"qty": "500"}, {"qty": "1", "unit": "kg"}):
        step = events(
            "process",
            step="S-9",
            operation="turn",
            inputs=[{"lot": "L-2", **sent}],
            outputs=[{"lot": "O-9", "part": "ROD", "qty": "1"}],
        )
        split = events("split", lot="O-9", into=[{"lot": "O-10", "qty": "1"}])
        missing_input = {**step, "inputs": [{"lot": "NOPE", **sent}]}
        assert refused([step, split, too_much], "L-2") == refused(
            [missing_input, split, too_much], "NOPE"
        )
