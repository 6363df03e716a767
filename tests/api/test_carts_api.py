"""Carts over GraphQL and the command line: contents at a time, a lot's carts, shared carts,
sizing; plant-floor roles only."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import api.access as access_module
from api.cli import main
from api.deps import Services
from graph.clock import utc_text
from scheduler import carts as sizing
from tests.api.conftest import login
from tests.fixtures.events import Events
from tests.fixtures.stores import new_store

CONTENTS = """query($id: ID!, $at: DateTime) { cartContents(id: $id, at: $at) {
    cart { label group seq compartments capacity } held heldByUnit { qty unit }
    stays { lot compartment qty } } }"""
CART = """query($id: ID!) { cart(id: $id) { cart { cart label } stays { lot unloadedAt } } }"""
LOT_CARTS = """query($id: ID!) { lotCarts(id: $id) { cart loadedAt unloadedAt } }"""
SHARED = """query($id: ID!) { sharedCarts(id: $id) {
    rode { lot cart } shared { lot cart suspect sameCompartment from to } } }"""
SIZE = """{ sizeCarts(input: {rates: [[10]], setups: [[0.5]], quantities: [[100]], due: [13],
    day: [11], capacity: 50}) { status batches { load carts } machines { loadHours }
    binding { constraint } } }"""


def gql(client: TestClient, role: str, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=login(client, role)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _plant(events: Events) -> list[dict[str, Any]]:
    return [
        events.receive("BAD", 10, supplier_lot="H-1"),
        events.receive("OK", 10, supplier_lot="H-2"),
        events("cart_define", cart="C-1", group="1", seq=1, compartments=["A", "B"], capacity="40"),
        events("cart_load", cart="C-1", lot="BAD", compartment="A"),
        events("cart_load", cart="C-1", lot="OK", compartment="B"),
    ]


@pytest.fixture
def loaded(services: Services, events: Events) -> str:
    services.ingest.ingest(_plant(events))
    at = utc_text(events.clock)
    services.ingest.ingest([events("cart_unload", cart="C-1", lot="OK")])
    return at


def test_contents_now_and_at_a_time(client: TestClient, loaded: str) -> None:
    now = gql(client, "operator", CONTENTS, id="cart:C-1")["data"]["cartContents"]
    assert now["cart"] == {
        "label": "1-1",
        "group": "1",
        "seq": 1,
        "compartments": ["A", "B"],
        "capacity": "40",
    }
    assert [s["lot"] for s in now["stays"]] == ["lot:BAD"]
    then = gql(client, "analyst", CONTENTS, id="cart:C-1", at=loaded)["data"]["cartContents"]
    assert [(s["lot"], s["compartment"]) for s in then["stays"]] == [
        ("lot:BAD", "A"),
        ("lot:OK", "B"),
    ]
    assert then["held"] == "20"
    assert then["heldByUnit"] == [{"qty": "20", "unit": "ea"}]


def test_contents_of_several_units_are_held_per_unit(
    client: TestClient, services: Services, events: Events
) -> None:
    # Kilograms beside pieces in a cart of no capacity make no one total.
    services.ingest.ingest(
        [
            events.receive("EA", 10, supplier_lot="H-1"),
            events.receive("KG", "2.5", unit="kg", supplier_lot="H-2"),
            events("cart_load", cart="C-9", lot="EA", compartment="A"),
            events("cart_load", cart="C-9", lot="KG", compartment="B"),
        ]
    )
    found = gql(client, "operator", CONTENTS, id="cart:C-9")["data"]["cartContents"]
    assert found["held"] is None
    assert found["heldByUnit"] == [{"qty": "10", "unit": "ea"}, {"qty": "2.5", "unit": "kg"}]


def _halves(events: Events) -> list[dict[str, Any]]:
    """A cart holding 4.50 and 1.50 pieces: 6 in all, however the sum is spelled."""
    return [
        events.receive("A", "4.50", supplier_lot="H-1"),
        events.receive("B", "1.50", supplier_lot="H-2"),
        events("cart_load", cart="C-5", lot="A", compartment="A"),
        events("cart_load", cart="C-5", lot="B", compartment="B"),
    ]


def test_what_a_cart_holds_is_written_as_its_holdings_by_unit_are(
    client: TestClient, services: Services, events: Events
) -> None:
    services.ingest.ingest(_halves(events))

    found = gql(client, "operator", CONTENTS, id="cart:C-5")["data"]["cartContents"]

    assert (found["held"], found["heldByUnit"]) == ("6", [{"qty": "6", "unit": "ea"}])


def _spelled(events: Events) -> list[dict[str, Any]]:
    """A cart of capacity 40.0 loaded with 4.50 and 1.50 pieces, trailing zeros as sent."""
    return [
        events.receive("A", 10, supplier_lot="H-1"),
        events.receive("B", 10, supplier_lot="H-2"),
        events("cart_define", cart="C-6", capacity="40.0"),
        events("cart_load", cart="C-6", lot="A", compartment="A", qty="4.50"),
        events("cart_load", cart="C-6", lot="B", compartment="B", qty="1.50"),
    ]


def test_a_carts_amounts_are_written_one_way(
    client: TestClient, services: Services, events: Events
) -> None:
    services.ingest.ingest(_spelled(events))

    found = gql(client, "operator", CONTENTS, id="cart:C-6")["data"]["cartContents"]

    assert found["cart"]["capacity"] == "40"
    assert [s["qty"] for s in found["stays"]] == ["4.5", "1.5"]
    assert found["held"] == "6"


def test_a_time_without_an_offset_is_refused(client: TestClient, loaded: str) -> None:
    # Read in the server's zone, the same text would name a different moment on each server.
    naive = loaded.removesuffix("Z")
    body = gql(client, "operator", CONTENTS, id="cart:C-1", at=naive)
    assert body["data"]["cartContents"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert body["errors"][0]["message"] == "at needs a UTC offset, e.g. 2026-03-01T12:00:00Z"
    shared = SHARED.replace("$id: ID!", "$id: ID!, $at: DateTime").replace(
        "(id: $id)", "(id: $id, asOf: $at)"
    )
    body = gql(client, "analyst", shared, id="supplier_lot:ACME/H-1", at=naive)
    assert body["errors"][0]["message"] == "asOf needs a UTC offset, e.g. 2026-03-01T12:00:00Z"


def test_cart_and_lot_carts(client: TestClient, loaded: str) -> None:
    cart = gql(client, "admin", CART, id="cart:C-1")["data"]["cart"]
    assert cart["cart"] == {"cart": "C-1", "label": "1-1"}
    stays = gql(client, "operator", LOT_CARTS, id="lot:OK")["data"]["lotCarts"]
    assert [(s["cart"], s["unloadedAt"] is not None) for s in stays] == [("cart:C-1", True)]
    assert gql(client, "analyst", CART, id="cart:NOPE")["data"]["cart"] is None


def test_a_lot_that_does_not_exist_rode_in_no_cart_it_is_null(
    client: TestClient, services: Services, events: Events, loaded: str
) -> None:
    # A mistyped lot is not a lot in no cart; another site's lot is, to an operator, as missing.
    services.ingest.ingest([events.receive("THEIRS", 5, supplier_lot="H-3", site="PLANT-2")])
    for role, lot in (
        ("analyst", "lot:NOPE"),
        ("operator", "lot:NOPE"),
        ("operator", "lot:THEIRS"),
    ):
        body = gql(client, role, LOT_CARTS, id=lot)
        assert body == {"data": {"lotCarts": None}}, (role, lot, body)
    services.ingest.ingest([events.receive("IDLE", 5, supplier_lot="H-4")])
    assert gql(client, "operator", LOT_CARTS, id="lot:IDLE")["data"]["lotCarts"] == []


def test_lot_carts_of_an_id_that_is_no_lot_is_refused(
    client: TestClient, services: Services, events: Events, loaded: str
) -> None:
    # A serial or a cart rides in no cart as a lot: [] would read as a lot that never did.
    services.ingest.ingest([events("serialize", lot="OK", serials=["SN-1"])])
    for role, gid in (
        ("analyst", "serial:SN-1"),
        ("operator", "serial:SN-1"),
        ("operator", "cart:C-1"),
        ("operator", "serial:NOPE"),
    ):
        body = gql(client, role, LOT_CARTS, id=gid)
        assert body["data"] == {"lotCarts": None}, (role, gid, body)
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_REQUEST", (role, gid, body)
        assert error["message"] == f"not a lot id: {gid!r} (lot:CODE)", (role, gid, body)


def test_a_lots_carts_name_each_cart_once(
    client: TestClient, services: Services, events: Events, loaded: str
) -> None:
    services.ingest.ingest([events("cart_load", cart="C-1", lot="OK", compartment="B")])
    query = '{ node(id: "lot:OK") { ... on Lot { carts { id } } } }'
    carts = gql(client, "analyst", query)["data"]["node"]["carts"]
    assert carts == [{"id": "cart:C-1"}]
    stays = gql(client, "analyst", LOT_CARTS, id="lot:OK")["data"]["lotCarts"]
    assert len(stays) == 2, "positive control: two stays in the one cart"


def test_shared_carts_for_analysts(client: TestClient, loaded: str) -> None:
    found = gql(client, "analyst", SHARED, id="supplier_lot:ACME/H-1")["data"]["sharedCarts"]
    assert found["rode"] == [{"lot": "lot:BAD", "cart": "cart:C-1"}]
    assert [(s["lot"], s["suspect"], s["sameCompartment"]) for s in found["shared"]] == [
        ("lot:OK", "lot:BAD", False)
    ]
    refused = gql(client, "operator", SHARED, id="supplier_lot:ACME/H-1")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("role", ["supplier", "customer"])
def test_partners_see_no_carts(client: TestClient, loaded: str, role: str) -> None:
    for query in (CONTENTS, LOT_CARTS):
        body = gql(client, role, query, id="cart:C-1" if query is CONTENTS else "lot:BAD")
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_size_carts(client: TestClient) -> None:
    found = gql(client, "operator", SIZE)["data"]["sizeCarts"]
    # Y = 10 + 0.5 * ceil(100 / b) in [11, 13]: two carts of 50, the fewest set-ups.
    assert found == {
        "status": "optimal",
        "batches": [{"load": 50, "carts": 2}],
        "machines": [{"loadHours": 11.0}],
        "binding": [],
    }
    assert gql(client, "customer", SIZE)["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_sizing_never_reports_a_starved_machine_as_optimal(client: TestClient) -> None:
    # 1,000 carts of 0.36 s set-ups and 3.6 s of work fill 0.101 h of a 0.2 h day.
    starved = """{ sizeCarts(input: {rates: [[1e6]], setups: [[0.0001]], quantities: [[1000]],
        due: [1], day: [0.2], capacity: 1000}) { status binding { constraint } } }"""
    found = gql(client, "operator", starved)["data"]["sizeCarts"]
    assert (found["status"], found["binding"]) == ("infeasible", [{"constraint": "day"}])


def test_a_sizing_problem_of_mismatched_shapes_is_refused_in_its_own_words(
    client: TestClient,
) -> None:
    uneven = SIZE.replace("due: [13]", "due: [13, 14]")
    refused = gql(client, "operator", uneven)["errors"][0]
    assert refused["extensions"]["code"] == "BAD_REQUEST"
    assert refused["message"] == "due needs one value per machine (1)"


def test_sizing_says_why_it_cannot_answer(client: TestClient) -> None:
    huge = """{ sizeCarts(input: {rates: [[1e6, 1e6]], setups: [[1e6, 1e6]],
        quantities: [[10000000, 10000000]], due: [1e6], day: [0], capacity: 1000000}) {
        status } }"""
    refused = gql(client, "operator", huge)["errors"][0]
    assert refused["extensions"]["code"] == "BAD_REQUEST"
    assert "setups: at one part per cart" in refused["message"]
    assert refused["message"].endswith("at most 1e+12")
    hurried = SIZE.replace("capacity: 50", "capacity: 50, timeLimit: 1e-9").replace(
        "status", "status reason"
    )
    found = gql(client, "operator", hurried)["data"]["sizeCarts"]
    assert (found["status"], found["reason"]) == (
        "unknown",
        "no load found, nor ruled out, in the time limit of 1e-09 s",
    )


def test_cart_commands(tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]) -> None:
    store = new_store(tmp_path / "carts.db")
    plant = tmp_path / "plant.json"
    plant.write_text(json.dumps(_plant(events)))
    assert main(["ingest", str(plant), "--store", store]) == 0
    at = events.clock.isoformat()
    unload = tmp_path / "unload.json"
    unload.write_text(json.dumps([events("cart_unload", cart="C-1", lot="OK")]))
    assert main(["ingest", str(unload), "--store", store]) == 0
    capsys.readouterr()
    assert main(["cart", "contents", "C-1", "--store", store]) == 0
    assert "cart 1-1 now: 1 lot(s), 10 ea\n" in capsys.readouterr().out
    assert main(["cart", "contents", "C-1", "--at", at, "--store", store, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert [s["lot"] for s in body["stays"]] == ["lot:BAD", "lot:OK"]
    assert (body["held"], body["held_by_unit"]) == ("20", [{"qty": "20", "unit": "ea"}])
    assert main(["cart", "history", "--lot", "OK", "--store", store, "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert [(s["cart"], s["unloaded_at"] is not None) for s in history] == [("cart:C-1", True)]
    assert main(["cart", "contents", "NOPE", "--store", store]) == 1


def test_cart_contents_command_of_several_units(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    store = new_store(tmp_path / "carts.db")
    plant = tmp_path / "plant.json"
    batch = [
        events.receive("EA", 10, supplier_lot="H-1"),
        events.receive("KG", "2.5", unit="kg", supplier_lot="H-2"),
        events("cart_load", cart="C-9", lot="EA", compartment="A"),
        events("cart_load", cart="C-9", lot="KG", compartment="B"),
    ]
    plant.write_text(json.dumps(batch))
    assert main(["ingest", str(plant), "--store", store]) == 0
    capsys.readouterr()
    assert main(["cart", "contents", "C-9", "--store", store]) == 0
    assert "cart C-9 now: 2 lot(s), 10 ea and 2.5 kg\n" in capsys.readouterr().out
    assert main(["cart", "contents", "C-9", "--store", store, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["held"] is None
    assert body["held_by_unit"] == [{"qty": "10", "unit": "ea"}, {"qty": "2.5", "unit": "kg"}]


def test_cart_contents_command_writes_what_it_holds_as_its_holdings_by_unit(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    store = new_store(tmp_path / "carts.db")
    plant = tmp_path / "plant.json"
    plant.write_text(json.dumps(_halves(events)))
    assert main(["ingest", str(plant), "--store", store]) == 0
    capsys.readouterr()

    assert main(["cart", "contents", "C-5", "--store", store, "--json"]) == 0

    body = json.loads(capsys.readouterr().out)
    assert (body["held"], body["held_by_unit"]) == ("6", [{"qty": "6", "unit": "ea"}])


def test_cart_contents_command_writes_a_carts_amounts_one_way(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    store = new_store(tmp_path / "carts.db")
    plant = tmp_path / "plant.json"
    plant.write_text(json.dumps(_spelled(events)))
    assert main(["ingest", str(plant), "--store", store]) == 0
    capsys.readouterr()

    assert main(["cart", "contents", "C-6", "--store", store, "--json"]) == 0

    body = json.loads(capsys.readouterr().out)
    assert body["capacity"] == "40"
    assert [s["qty"] for s in body["stays"]] == ["4.5", "1.5"]
    assert body["held"] == "6"


def test_cart_size_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem = tmp_path / "size.json"
    problem.write_text(
        json.dumps(
            {
                "rates": [[10]],
                "setups": [[0.5]],
                "quantities": [[100]],
                "due": [10.2],
                "day": [8],
                "capacity": 50,
            }
        )
    )
    assert main(["cart", "size", str(problem)]) == 1
    out = capsys.readouterr().out
    assert "infeasible" in out and "must finish by 10.2 h" in out
    problem.write_text(json.dumps({**json.loads(problem.read_text()), "time_limit": 1e-9}))
    assert main(["cart", "size", str(problem)]) == 1
    assert "nor ruled out" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"capacity": 40, "capacity": 1}', "the key 'capacity' appears twice in one object"),
        (
            '{"setups": [[0.25000000000000000001]]}',
            "the number 0.25000000000000000001 has more digits",
        ),
    ],
)
def test_cart_size_reads_its_file_as_graphql_reads_a_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str
) -> None:
    problem = tmp_path / "size.json"
    problem.write_text(text)
    assert main(["cart", "size", str(problem)]) == 2
    assert f"{problem} is not JSON we read: {said}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ('"100"', "quantities.0.0: expected an integer, got a string"),
        ("100.0", "quantities.0.0: expected an integer, got a decimal number"),
        ("true", "quantities.0.0: expected an integer, got true"),
    ],
)
def test_cart_size_reads_numbers_strictly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, said: str
) -> None:
    # Read laxly, "100" and 100.0 were sized as 100 parts, and true as one.
    problem = tmp_path / "size.json"
    fields = '"rates": [[10]], "setups": [[0.5]], "due": [13], "day": [8], "capacity": 50'
    problem.write_text(f'{{{fields}, "quantities": [[{value}]]}}')
    assert main(["cart", "size", str(problem)]) == 2
    assert f"{problem}: {said}" in capsys.readouterr().err


def test_sizing_runs_on_its_own_thread(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # Long searches wait for the one sizing thread, not for the threads every other field uses.
    seen: list[str] = []
    solve = sizing.size_carts

    def traced(problem: sizing.CartSizingInput) -> sizing.CartSizing:
        seen.append(threading.current_thread().name)
        return solve(problem)

    monkeypatch.setattr(access_module, "size_carts", traced)
    assert gql(client, "operator", SIZE)["data"]["sizeCarts"]["status"] == "optimal"
    assert len(seen) == 1 and seen[0].startswith("size-carts")
