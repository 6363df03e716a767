"""Scanned GS1 codes resolved over GraphQL, REST and the CLI, within each caller's scope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app
from api.auth.embedded import EmbeddedAccountStore
from api.auth.service import AuthService
from api.cli import main
from api.demo_accounts import seed_demo_accounts
from api.deps import Services
from api.settings import Settings
from graph.embedded_store import EmbeddedStore
from graph.udi import MAX_SCANNED_CODE
from ingest import gs1
from tests.api.conftest import FAST_HASHER, login
from tests.fixtures.events import Events
from tests.fixtures.stores import new_store

KIT = "09506000134352"
BAR = gs1.with_check_digit("0950600013436")
RESOLVE = """query($code: String!) { resolveIdentifier(code: $code) {
  __typename
  ... on IdentifierResolution { gtin lotCode serialCode expiry notes
    part { id gtin supplier } lot { id } serial { id } supplierLot { id } }
  ... on BadIdentifier { code message } } }"""


def plant_events(events: Events) -> list[dict[str, Any]]:
    """A kit with a GTIN made at PLANT-1 from bar bought in from ACME-STEEL; one lot elsewhere."""
    return [
        events("part_define", part="KIT", gtin=KIT, description="Screw kit"),
        events("part_define", part="BAR", gtin=BAR, supplier="ACME-STEEL"),
        events.receive("L-BAR", 10, part="BAR", supplier="ACME-STEEL", supplier_lot="H1"),
        events(
            "process",
            step="ASM-1",
            operation="assemble",
            site="PLANT-1",
            inputs=[{"lot": "L-BAR", "qty": "4"}],
            outputs=[{"lot": "K-1", "part": "KIT", "qty": "3", "expiry": "2030-06-30"}],
        ),
        events(
            "process",
            step="ASM-2",
            operation="assemble",
            site="PLANT-2",
            inputs=[{"lot": "L-BAR", "qty": "4"}],
            outputs=[{"lot": "K-2", "part": "KIT", "qty": "2"}],
        ),
        events("serialize", lot="K-1", serials=["SN-1", "SN-2"], site="PLANT-1"),
        events("ship", shipment="SH-1", customer="HOSP-NORTH", items=[{"serial": "SN-1"}]),
        events("ship", shipment="SH-2", customer="HOSP-SOUTH", items=[{"serial": "SN-2"}]),
    ]


@pytest.fixture
def seeded(services: Services, events: Events) -> Services:
    services.ingest.ingest(plant_events(events))
    return services


def resolve(client: TestClient, role: str, code: str) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json={"query": RESOLVE, "variables": {"code": code}},
        headers=login(client, role),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["resolveIdentifier"]
    return found


def ids(found: dict[str, Any]) -> dict[str, str | None]:
    return {
        name: None if found[name] is None else found[name]["id"]
        for name in ("part", "lot", "serial", "supplierLot")
    }


def dl(lot: str, serial: str | None = None, gtin: str = KIT) -> str:
    values = {"01": gtin, "10": lot} | ({"21": serial} if serial else {})
    return gs1.from_values(values).digital_link("https://labels.example.com")


def test_analyst_resolves_a_digital_link_to_part_lot_and_serial(
    client: TestClient, seeded: Services
) -> None:
    found = resolve(client, "analyst", dl("K-1", "SN-1") + "?17=300630")
    assert ids(found) == {
        "part": "part:KIT",
        "lot": "lot:K-1",
        "serial": "serial:SN-1",
        "supplierLot": None,
    }
    assert (found["gtin"], found["expiry"], found["notes"]) == (KIT, "2030-06-30", [])


def test_element_string_and_plain_gtin_resolve_too(client: TestClient, seeded: Services) -> None:
    scanned = f"]d201{KIT}10K-1{gs1.GS}21SN-2"
    assert ids(resolve(client, "analyst", scanned))["serial"] == "serial:SN-2"
    assert ids(resolve(client, "analyst", KIT[1:]))["part"] == "part:KIT"


def test_a_code_that_disagrees_with_the_graph_says_so(client: TestClient, seeded: Services) -> None:
    found = resolve(client, "analyst", dl("K-2", "SN-1") + "?17=300101")
    assert ids(found)["lot"] == "lot:K-2" and ids(found)["serial"] == "serial:SN-1"
    assert any("made from lot:K-1, not lot:K-2" in note for note in found["notes"])
    assert any(
        "expiry 2030-01-01 differs from the recorded 2030-06-30" in n for n in found["notes"]
    )


def test_each_expiry_that_differs_names_its_item(client: TestClient, seeded: Services) -> None:
    # The serial takes its lot's expiry: both differ from the code's, and each note says whose.
    found = resolve(client, "analyst", dl("K-1", "SN-1") + "?17=300101")
    differ = [n for n in found["notes"] if "expiry" in n]
    assert differ == [
        "the code's expiry 2030-01-01 differs from the recorded 2030-06-30 of serial SN-1",
        "the code's expiry 2030-01-01 differs from the recorded 2030-06-30 of lot K-1",
    ]


def test_a_production_date_without_a_day_resolves_as_its_month(
    client: TestClient, seeded: Services
) -> None:
    # GS1 GS 3.4.2: day 00 of a production date says no day, unlike an expiry's last day.
    query = """query($code: String!) { resolveIdentifier(code: $code) {
      ... on IdentifierResolution { expiry manufactured } } }"""
    response = client.post(
        "/graphql",
        json={"query": query, "variables": {"code": f"(01){KIT}(11)230200(17)300600(10)K-1"}},
        headers=login(client, "analyst"),
    )
    found = response.json()["data"]["resolveIdentifier"]
    assert found == {"expiry": "2030-06-30", "manufactured": "2023-02"}
    rest = client.get(
        "/api/v1/identifiers/resolve",
        params={"code": f"(01){KIT}(11)230200(10)K-1"},
        headers=login(client, "analyst"),
    )
    assert rest.json()["manufactured"] == "2023-02"


def test_a_bad_check_digit_is_a_typed_error(client: TestClient, seeded: Services) -> None:
    found = resolve(client, "analyst", "(01)09506000134353(10)K-1")
    assert found["__typename"] == "BadIdentifier"
    assert "expected 2" in found["message"] and found["code"] == "bad_identifier"


def test_rest_resolves_and_refuses_bad_codes_with_400(client: TestClient, seeded: Services) -> None:
    headers = login(client, "analyst")
    ok = client.get(
        "/api/v1/identifiers/resolve", params={"code": dl("K-1", "SN-1")}, headers=headers
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["nodes"]["serial"]["id"] == "serial:SN-1"
    bad = client.get(
        "/api/v1/identifiers/resolve", params={"code": f"01{KIT}17131301"}, headers=headers
    )
    assert bad.status_code == 400
    assert "AI (17) at position 17: month 13" in bad.json()["message"]


@pytest.mark.parametrize("code", ["", "0" * (MAX_SCANNED_CODE + 1)])
def test_a_code_rest_refuses_is_refused_alike_over_graphql_and_the_cli(
    client: TestClient,
    seeded: Services,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    code: str,
) -> None:
    headers = login(client, "analyst")
    rest = client.get("/api/v1/identifiers/resolve", params={"code": code}, headers=headers)
    assert rest.status_code == 422, rest.text
    [problem] = rest.json()["errors"]
    assert problem["field"] == "query.code"
    said = {"field": "code", "code": problem["code"], "message": problem["message"]}
    response = client.post(
        "/graphql", json={"query": RESOLVE, "variables": {"code": code}}, headers=headers
    )
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INVALID_REQUEST", "status": 422, "errors": [said]}
    assert main(["gs1", "parse", code, "--store", new_store(tmp_path / "cli.db")]) == 2
    assert capsys.readouterr().err == f"error: invalid request: code: {problem['message']}\n"
    # The longest code taken is read everywhere (and refused as no GS1 code, by its own rule).
    assert resolve(client, "analyst", "0" * MAX_SCANNED_CODE)["__typename"] == "BadIdentifier"


def test_customer_resolves_what_they_received_and_nothing_else(
    client: TestClient, seeded: Services
) -> None:
    mine = resolve(client, "customer", dl("K-1", "SN-1"))
    assert ids(mine) == {
        "part": "part:KIT",
        "lot": None,
        "serial": "serial:SN-1",
        "supplierLot": None,
    }
    assert mine["part"]["supplier"] is None
    other = resolve(client, "customer", dl("K-1", "SN-2"))
    unknown = resolve(client, "customer", dl("K-9", "SN-404"))
    unregistered = resolve(client, "customer", gs1.with_check_digit("0950600013437"))
    for hidden in (other, unknown, unregistered):
        assert set(ids(hidden).values()) == {None}
        assert hidden["notes"] == []


def test_supplier_resolves_their_own_lot_only(client: TestClient, seeded: Services) -> None:
    own = resolve(client, "supplier", dl("H1", gtin=BAR))
    assert ids(own)["supplierLot"] == "supplier_lot:ACME-STEEL/H1"
    assert ids(own)["lot"] is None  # our lot of the same code is plant data
    kit = resolve(client, "supplier", dl("K-1", "SN-1"))
    assert set(ids(kit).values()) == {None}


def test_operator_resolves_lots_of_their_site_only(client: TestClient, seeded: Services) -> None:
    assert ids(resolve(client, "operator", dl("K-1")))["lot"] == "lot:K-1"
    elsewhere = resolve(client, "operator", dl("K-2"))
    assert ids(elsewhere) == {"part": "part:KIT", "lot": None, "serial": None, "supplierLot": None}
    assert not any("K-2" in note for note in elsewhere["notes"])


def test_serials_and_lots_show_their_udi(client: TestClient, seeded: Services) -> None:
    query = """query($id: ID!) { node(id: $id) { ... on Serial { udi {
      di pi elementString humanReadable digitalLink } } } }"""
    headers = login(client, "customer")
    response = client.post(
        "/graphql", json={"query": query, "variables": {"id": "serial:SN-1"}}, headers=headers
    )
    found = response.json()["data"]["node"]["udi"]
    assert found == {
        "di": KIT,
        "pi": "(17)300630(10)K-1(21)SN-1",
        "elementString": f"01{KIT}1730063010K-1{gs1.GS}21SN-1",
        "humanReadable": f"(01){KIT}(17)300630(10)K-1(21)SN-1",
        "digitalLink": f"https://id.gs1.org/01/{KIT}/10/K-1/21/SN-1?17=300630",
    }
    assert gs1.parse(found["digitalLink"]) == gs1.parse(found["elementString"])
    hidden = client.post(
        "/graphql", json={"query": query, "variables": {"id": "serial:SN-2"}}, headers=headers
    )
    assert hidden.json()["data"]["node"] is None


def test_a_lot_whose_printed_form_reads_otherwise_has_none(
    client: TestClient, seeded: Services, events: Events
) -> None:
    # Printed, lot "A(21)B" of KIT reads as lot A and serial B, which are other items.
    seeded.ingest.ingest(
        [
            events.receive("A(21)B", 5, part="KIT", supplier_lot="S1"),
            events.receive("A", 5, part="KIT", supplier_lot="S2"),
            events("serialize", lot="A", serials=["B"]),
        ]
    )
    headers = login(client, "analyst")
    found = client.get("/api/v1/udi/lot:A(21)B", headers=headers).json()["udi"]
    assert found["human_readable"] is None and found["pi"] is None
    assert found["element_string"] == f"01{KIT}10A(21)B"
    for code in (found["element_string"], found["digital_link"]):
        resolved = client.get("/api/v1/identifiers/resolve", params={"code": code}, headers=headers)
        assert resolved.json()["nodes"]["lot"]["id"] == "lot:A(21)B"
        assert resolved.json()["human_readable"] is None


def test_a_lot_of_a_part_without_gtin_has_no_udi(client: TestClient, seeded: Services) -> None:
    seeded.ingest.ingest(
        [Events("X")("receive", supplier="P", supplier_lot="Q", part="NOGTIN", lot="N-1", qty="1")]
    )
    response = client.get("/api/v1/udi/lot:N-1", headers=login(client, "analyst"))
    assert response.json() == {"id": "lot:N-1", "udi": None}


def test_cli_parses_and_resolves_a_code(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    store = new_store(tmp_path / "cli.db")
    batch = tmp_path / "plant.json"
    batch.write_text(json.dumps(plant_events(events)))
    assert main(["ingest", str(batch), "--store", store]) == 0
    capsys.readouterr()
    assert main(["gs1", "parse", f"(01){KIT}(10)K-1(21)SN-1", "--store", store, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["nodes"]["serial"]["id"] == "serial:SN-1"
    assert found["digital_link"] == f"https://id.gs1.org/01/{KIT}/10/K-1/21/SN-1"
    assert main(["gs1", "parse", f"(01){KIT}(10)K-1", "--store", store]) == 0
    assert "lot               lot:K-1" in capsys.readouterr().out
    assert main(["gs1", "parse", f"01{KIT[:-1]}9", "--store", store]) == 2
    assert "expected 2" in capsys.readouterr().err


def test_gs1_parse_shows_a_parts_description_without_control_characters(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    # A part's description is free text of whoever defined it: it reaches the terminal with
    # its escape sequences and line breaks as escapes, as a trace tree shows a partner's text.
    store = new_store(tmp_path / "cli.db")
    batch = tmp_path / "parts.json"
    evil = events("part_define", part="KIT", gtin=KIT, description="kit\x1b[2J\x1b]0;x\x07\nok")
    batch.write_text(json.dumps([evil]))
    assert main(["ingest", str(batch), "--store", store]) == 0
    capsys.readouterr()
    assert main(["gs1", "parse", KIT, "--store", store]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out, repr(out)
    assert "part              part:KIT gtin=" + KIT + " description=kit\\x1b[2J" in out
    assert "\\x07\\nok\n" in out


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("admin", True),
        ("analyst", True),
        ("operator", True),
        ("supplier", False),
        ("customer", False),
    ],
)
def test_the_part_registry_is_plant_data(
    client: TestClient, seeded: Services, role: str, allowed: bool
) -> None:
    response = client.get("/api/v1/parts", headers=login(client, role))
    if not allowed:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    assert [(p["id"], p.get("gtin")) for p in response.json()] == [
        ("part:BAR", BAR),
        ("part:KIT", KIT),
    ]


def test_udis_and_resolutions_link_to_the_configured_domain(tmp_path: Path, events: Events) -> None:
    path = tmp_path / "brand.db"
    settings = Settings(
        store=f"sqlite:///{path}", digital_link_domain="https://id.brand.example/gs1"
    )
    accounts = EmbeddedAccountStore(path)
    services = Services.for_stores(
        EmbeddedStore(path), accounts, AuthService(accounts, hasher=FAST_HASHER), settings
    )
    seed_demo_accounts(services.auth)
    services.ingest.ingest(plant_events(events))
    with TestClient(create_app(settings, services)) as client:
        headers = login(client, "analyst")
        udi = client.get("/api/v1/udi/serial:SN-1", headers=headers).json()["udi"]
        resolved = client.get(
            "/api/v1/identifiers/resolve", params={"code": f"(01){KIT}(10)K-1"}, headers=headers
        ).json()
        query = (
            'query { resolveIdentifier(code: "(01)'
            + KIT
            + '(10)K-1") { ... on IdentifierResolution { digitalLink } } }'
        )
        graphql = client.post("/graphql", json={"query": query}, headers=headers).json()
    services.close()
    assert udi["digital_link"] == f"https://id.brand.example/gs1/01/{KIT}/10/K-1/21/SN-1?17=300630"
    assert resolved["digital_link"] == f"https://id.brand.example/gs1/01/{KIT}/10/K-1"
    assert graphql["data"]["resolveIdentifier"]["digitalLink"] == resolved["digital_link"]
    assert gs1.parse(udi["digital_link"]).values["21"] == "SN-1"


@pytest.mark.parametrize(
    "domain", ["id.brand.example", "https://id.brand.example/", "https://x.example/?a=1", "ftp://x"]
)
def test_a_digital_link_domain_that_is_not_a_base_uri_is_refused(domain: str) -> None:
    with pytest.raises(ValidationError, match="digital_link_domain"):
        Settings(digital_link_domain=domain)
    assert Settings().digital_link_domain == "https://id.gs1.org"


def test_a_partner_cannot_tell_by_notes_whether_a_hidden_lot_exists(
    client: TestClient, seeded: Services
) -> None:
    # SN-1 was shipped to this customer; K-2 is a lot of the same part they never received.
    hidden = resolve(client, "customer", dl("K-2", "SN-1"))
    missing = resolve(client, "customer", dl("K-404", "SN-1"))
    assert (
        ids(hidden)
        == ids(missing)
        == {
            "part": "part:KIT",
            "lot": None,
            "serial": "serial:SN-1",
            "supplierLot": None,
        }
    )
    assert hidden["notes"] == missing["notes"]
    assert not any("K-2" in note or "K-1" in note for note in hidden["notes"])
    analyst = resolve(client, "analyst", dl("K-2", "SN-1"))
    assert any("made from lot:K-1, not lot:K-2" in n for n in analyst["notes"]), "control"


def test_a_date_two_digits_cannot_carry_leaves_no_udi_and_says_why(
    client: TestClient,
    seeded: Services,
    events: Events,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Printed as (17)991231, an expiry of 9999-12-31 would read as 1999-12-31.
    far = events.receive("L-FAR", 5, part="KIT", supplier_lot="S-FAR", expiry="9999-12-31")
    seeded.ingest.ingest([far])
    response = client.get("/api/v1/udi/lot:L-FAR", headers=login(client, "analyst"))
    assert response.json() == {"id": "lot:L-FAR", "udi": None}
    assert main(["gs1", "udi", "--lot", "L-FAR", "--store", seeded.store.url]) == 1
    assert "lot:L-FAR has no UDI: AI (17): 9999-12-31 has no YYMMDD form" in capsys.readouterr().err


def test_the_cli_prints_a_udi_as_rest_answers_it(
    client: TestClient,
    seeded: Services,
    events: Events,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seeded.ingest.ingest(
        [events.receive("L-FAR", 5, part="KIT", supplier_lot="S-FAR", expiry="9999-12-31")]
    )
    headers = login(client, "analyst")
    for option, key, item in (
        ("--serial", "SN-1", "serial:SN-1"),
        ("--lot", "K-1", "lot:K-1"),
        ("--lot", "L-FAR", "lot:L-FAR"),  # none: its expiry has no YYMMDD form
    ):
        rest = client.get(f"/api/v1/udi/{item}", headers=headers).json()
        code = main(["gs1", "udi", option, key, "--json", "--store", seeded.store.url])
        said = capsys.readouterr()
        assert json.loads(said.out) == rest, item
        assert code == (1 if rest["udi"] is None else 0), item
        assert said.err == "" or rest["udi"] is None, (item, said.err)
    assert rest == {"id": "lot:L-FAR", "udi": None}
    # Said as every other failure is: one line, `error: ` first.
    assert said.err.startswith("error: lot:L-FAR has no UDI: AI (17): 9999-12-31 has no YYMMDD")
    assert len(said.err.splitlines()) == 1, said.err
