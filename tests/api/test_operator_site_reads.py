"""What an operator of PLANT-1 reads of what PLANT-2 holds: nothing, through any query.

Another site's items answer exactly as items that do not exist, so an operator cannot tell
them apart, nor learn through a side door (decoding, carts) what their own reads would hide.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.deps import Services
from graph.lot_codes import LotCodeService, LotSchemeSpec
from tests.api.conftest import login
from tests.fixtures.events import Events

OTHER = "PLANT-2"
DECODE = """query($code: String!) { decodeLot(code: $code) { matches { scheme partner
  candidates { supplierLot { id } receivedAt lots confirmed } } } }"""

# Six nodes in one query: loaded, and their visibility read, in one batch.
SIX_NODES = """query($a: ID!, $b: ID!, $c: ID!, $d: ID!, $e: ID!, $f: ID!) {
  a: node(id: $a) { id } b: node(id: $b) { id } c: node(id: $c) { id }
  d: node(id: $d) { id } e: node(id: $e) { id } f: node(id: $f) { id } }"""


def gql(client: TestClient, role: str, query: str, **variables: Any) -> Any:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=login(client, role)
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_decoding_another_sites_lot_answers_as_for_no_lot(
    client: TestClient, services: Services, events: Events
) -> None:
    LotCodeService(services.store).define(
        LotSchemeSpec(
            name="OURS",
            company="PLANT",
            pattern="{link:X3}-{seq:N4}",
            link_field="link",
            link_code="PL1",
        )
    )
    LotCodeService(services.store).define(
        LotSchemeSpec(
            name="ACME",
            company="ACME",
            pattern="{link:X3}={heat:N4}",
            link_field="link",
            link_code="AC7",
        )
    )
    services.ingest.ingest(
        [
            # PLANT-2 received heat H-2 first, then PLANT-1; H-9 went into a PLANT-1 lot
            # only through a PLANT-2 lot.
            events.receive("AC7-0002", 5, supplier_lot="H-2", site=OTHER),
            events.receive("L-1", 5, supplier_lot="H-2", site="PLANT-1"),
            events.receive("L-2", 5, supplier_lot="H-9", site=OTHER),
            events.receive("L-9", 5, supplier_lot="H-9", site="PLANT-1"),
            events(
                "process",
                step="S-1",
                operation="turn",
                inputs=[{"lot": "L-2", "qty": "1"}],
                outputs=[{"lot": "AC7-0004", "part": "BAR", "qty": "1"}],
                site="PLANT-1",
            ),
        ]
    )

    def candidates(role: str, code: str) -> Any:
        (match,) = gql(client, role, DECODE, code=code)["data"]["decodeLot"]["matches"]
        return match["candidates"]

    # Their lot confirms nothing and its arrival dates nothing: as a code that is no lot.
    assert candidates("operator", "AC7-0002") == candidates("operator", "AC7-0003")
    (h2,) = [c for c in candidates("operator", "AC7-0002") if "H-2" in c["supplierLot"]["id"]]
    assert (h2["lots"], h2["confirmed"]) == (["lot:L-1"], False)
    # A lot of theirs confirms only what it reaches through what they may see.
    assert not any(c["confirmed"] for c in candidates("operator", "AC7-0004"))
    analyst = {
        c["supplierLot"]["id"]: c["confirmed"]
        for code in ("AC7-0002", "AC7-0004")
        for c in candidates("analyst", code)
        if c["confirmed"]
    }
    assert analyst == {"supplier_lot:ACME/H-2": True, "supplier_lot:ACME/H-9": True}


def test_another_sites_cart_answers_as_no_cart(
    client: TestClient, services: Services, events: Events
) -> None:
    services.ingest.ingest(
        [
            events.receive("L-1", 10, site="PLANT-1"),
            events.receive("L-2", 10, site=OTHER),
            events("cart_define", cart="C-2", group="P2", seq=1, site=OTHER),
            # Loaded by an admin: a lot of PLANT-1 that rode in PLANT-2's cart.
            events("cart_load", cart="C-2", lot="L-1", qty="5", site=OTHER),
            events("cart_unload", cart="C-2", lot="L-1", site=OTHER),
            events("cart_load", cart="C-2", lot="L-2", qty="5", site=OTHER),
        ]
    )
    cart = "query($id: ID!) { cart(id: $id) { cart { id label } held } }"
    contents = "query($id: ID!) { cartContents(id: $id) { cart { id group } } }"
    for query in (cart, contents):
        for role, found in (("operator", False), ("analyst", True)):
            (answer,) = gql(client, role, query, id="cart:C-2")["data"].values()
            assert (answer is not None) is found, (role, query)
        assert gql(client, "operator", query, id="cart:NO-CART")["data"] == {
            name: None for name in gql(client, "operator", query, id="cart:C-2")["data"]
        }
    rode = "query($id: ID!) { lotCarts(id: $id) { cart } }"
    assert gql(client, "operator", rode, id="lot:L-1")["data"]["lotCarts"] == []
    assert gql(client, "analyst", rode, id="lot:L-1")["data"]["lotCarts"] == [{"cart": "cart:C-2"}]


def test_a_part_defined_at_another_site_is_in_every_sites_registry(
    client: TestClient, services: Services, events: Events
) -> None:
    services.ingest.ingest([events("part_define", part="KIT", gtin="09506000134352", site=OTHER)])
    operator = login(client, "operator")
    listed = client.get("/api/v1/parts", headers=operator).json()
    assert [p["id"] for p in listed] == ["part:KIT"]
    assert client.get("/api/v1/nodes/part:KIT", headers=operator).status_code == 200
    trace = client.get("/api/v1/trace", params={"id": "part:KIT"}, headers=operator)
    assert trace.status_code == 200
    node = gql(client, "operator", 'query { node(id: "part:KIT") { id } }')
    assert node["data"]["node"] == {"id": "part:KIT"}


def test_supplier_lots_and_marks_are_seen_through_what_they_are_linked_to(
    client: TestClient, services: Services, events: Events
) -> None:
    services.ingest.ingest(
        [
            events.receive("L-1", 10, supplier_lot="H-1", site="PLANT-1"),
            events.receive("L-2", 10, supplier_lot="H-2", site=OTHER),
            events.receive("L-3", 10, supplier_lot="H-3", site=OTHER),
            events.receive("L-4", 10, supplier_lot="H-3", site="PLANT-1"),
            events("mark", target={"lot": "L-1"}, code="AAA", site="PLANT-1"),
            events("mark", target={"lot": "L-2"}, code="AAB", site=OTHER),
        ]
    )
    ids = [
        "supplier_lot:ACME/H-1",
        "supplier_lot:ACME/H-2",
        "supplier_lot:ACME/H-3",  # received at both sites
        "supplier_lot:ACME/H-9",  # no such lot
        "mark:AAA",
        "mark:AAB",
    ]

    def seen(role: str) -> list[str | None]:
        found = gql(client, role, SIX_NODES, **dict(zip("abcdef", ids, strict=True)))["data"]
        return [found[name] and found[name]["id"] for name in "abcdef"]

    assert seen("operator") == [ids[0], None, ids[2], None, ids[4], None]
    operator = login(client, "operator")
    for hidden in ("supplier_lot:ACME/H-2", "mark:AAB"):
        assert client.get(f"/api/v1/nodes/{hidden}", headers=operator).status_code == 404
        trace = client.get("/api/v1/trace", params={"id": hidden}, headers=operator)
        assert trace.status_code == 404
    up = client.get("/api/v1/trace", params={"id": "lot:L-4", "direction": "up"}, headers=operator)
    assert {n["id"] for n in up.json()["nodes"]} == {"lot:L-4", "supplier_lot:ACME/H-3"}
    assert seen("analyst") == [*ids[:3], None, *ids[4:]]
