"""Lot code schemes over GraphQL, REST and the CLI, with each role's rights and scope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth.models import Role
from api.cli import main
from api.deps import Services
from graph import lot_codes
from graph.lot_codes import LotCodeService, LotSchemeSpec
from tests.api.conftest import login
from tests.fixtures.events import Events
from tests.fixtures.stores import new_store

OURS = "{date:YYMMDD}{line:A2}{seq:N4}{link:X3}"
DEFINE = """mutation($s: LotSchemeInput!) { defineLotScheme(scheme: $s) {
  __typename ... on LotScheme { name linkPosition }
  ... on LotCodeRefused { code message field } } }"""
MINT = """mutation($scheme: String!, $partner: String!, $values: [LotFieldInput!]) {
  mintLot(scheme: $scheme, partner: $partner, values: $values) {
    __typename ... on MintedLot { code sequence } ... on LotCodeRefused { message field } } }"""
DECODE = """query($code: String!) { decodeLot(code: $code) {
  matches { scheme partner fields { name value date }
    candidates { supplierLot { id } lots confirmed } }
  misses { scheme reason } } }"""


def gql(client: TestClient, role: str, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=login(client, role)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def scheme(name: str, company: str, pattern: str, link_code: str) -> dict[str, str]:
    return {
        "name": name,
        "company": company,
        "pattern": pattern,
        "linkField": "link",
        "linkCode": link_code,
    }


def spec(name: str, company: str, pattern: str, link_code: str) -> LotSchemeSpec:
    return LotSchemeSpec(
        name=name, company=company, pattern=pattern, link_field="link", link_code=link_code
    )


@pytest.fixture
def seeded(services: Services, events: Events) -> Services:
    """Our scheme, ACME-STEEL's and POLYMED's; lots received from both suppliers."""
    lot_codes = LotCodeService(services.store)
    lot_codes.define(spec("OURS", "PLANT", OURS, "PL1"))
    lot_codes.define(spec("ACME", "ACME-STEEL", "{link:X3}-{heat:N6}", "AC7"))
    lot_codes.define(spec("POLY", "POLYMED", "{link:X3}+{batch:N6}", "PM2"))
    services.ingest.ingest(
        [
            events.receive("R-1", 10, supplier="ACME-STEEL", supplier_lot="AC7-000001"),
            events.receive("R-2", 10, supplier="POLYMED", supplier_lot="PM2+000001"),
        ]
    )
    return services


def mint(client: TestClient, role: str, partner: str, line: str = "LA") -> dict[str, Any]:
    values = [{"name": "date", "value": "2026-03-05"}, {"name": "line", "value": line}]
    return gql(client, role, MINT, scheme="OURS", partner=partner, values=values)


def test_admin_registers_schemes_and_refusals_are_typed(
    client: TestClient, seeded: Services
) -> None:
    made = gql(client, "admin", DEFINE, s=scheme("TITAN", "TITAN", "{link:X2}/{n:N5}", "TI"))
    assert made["data"]["defineLotScheme"] == {
        "__typename": "LotScheme",
        "name": "TITAN",
        "linkPosition": "head",
    }
    middle = gql(client, "admin", DEFINE, s=scheme("M", "M", "{a:N2}{link:X2}{b:N2}", "MM"))
    assert middle["data"]["defineLotScheme"]["field"] == "link_field"
    clash = gql(client, "admin", DEFINE, s=scheme("C", "COPY", "{link:X3}={n:N2}", "AC7"))
    refused = clash["data"]["defineLotScheme"]
    assert refused["code"] == "lot_scheme_conflict" and "ACME-STEEL" in refused["message"]
    denied = gql(client, "analyst", DEFINE, s=scheme("A", "A", "{link:X2}#{n:N5}", "AA"))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("changed", "field"),
    [
        ({"linkCode": "L" * 65}, "link_code"),
        ({"pattern": "{link:X2}" + "-" * 200}, "pattern"),
        ({"name": "BAD\tNAME"}, "name"),
        ({"company": "A/B"}, "company"),
    ],
)
def test_settings_the_scheme_model_refuses_are_refused_naming_the_field(
    client: TestClient, seeded: Services, changed: dict[str, str], field: str
) -> None:
    given = scheme("NEW", "NEWCO", "{link:X2}~{n:N5}", "NW") | changed
    refused = gql(client, "admin", DEFINE, s=given)["data"]["defineLotScheme"]
    assert refused["__typename"] == "LotCodeRefused"
    assert (refused["code"], refused["field"]) == ("bad_request", field)
    assert refused["message"].startswith(f"{field}: ")
    assert "NEW" not in {s.name for s in LotCodeService(seeded.store).schemes()}


def test_operator_mints_and_the_code_decodes_to_the_partner(
    client: TestClient, seeded: Services
) -> None:
    minted = mint(client, "operator", "ACME-STEEL")["data"]["mintLot"]
    assert minted == {"__typename": "MintedLot", "code": "260305LA0001AC7", "sequence": 1}
    decoded = gql(client, "analyst", DECODE, code=minted["code"])["data"]["decodeLot"]
    [match] = decoded["matches"]
    assert (match["scheme"], match["partner"]) == ("OURS", "ACME-STEEL")
    assert {"name": "date", "value": "2026-03-05", "date": "2026-03-05"} in match["fields"]
    assert match["candidates"] == [
        {
            "supplierLot": {"id": "supplier_lot:ACME-STEEL/AC7-000001"},
            "lots": ["lot:R-1"],
            "confirmed": False,
        }
    ]


def test_a_value_that_does_not_fit_is_refused_naming_the_field(
    client: TestClient, seeded: Services
) -> None:
    refused = mint(client, "operator", "ACME-STEEL", line="L1")["data"]["mintLot"]
    assert refused["__typename"] == "LotCodeRefused" and refused["field"] == "line"


def test_a_field_given_twice_is_refused_naming_it(client: TestClient, seeded: Services) -> None:
    # Which of the two would be minted is the caller's guess: neither is.
    values = [{"name": "line", "value": "LA"}, {"name": "line", "value": "LB"}]
    refused = gql(client, "operator", MINT, scheme="OURS", partner="ACME-STEEL", values=values)
    found = refused["data"]["mintLot"]
    assert found["__typename"] == "LotCodeRefused" and found["field"] == "line"
    assert found["message"] == 'values: field "line" is given twice'


@pytest.mark.parametrize("role", ["analyst", "supplier", "customer"])
def test_only_admins_and_operators_mint(client: TestClient, seeded: Services, role: str) -> None:
    assert mint(client, role, "ACME-STEEL")["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_supplier_decodes_only_codes_about_them(client: TestClient, seeded: Services) -> None:
    acme = mint(client, "operator", "ACME-STEEL")["data"]["mintLot"]["code"]
    poly = mint(client, "operator", "POLYMED")["data"]["mintLot"]["code"]
    mine = gql(client, "supplier", DECODE, code=acme)["data"]["decodeLot"]
    [match] = mine["matches"]
    assert match["partner"] == "ACME-STEEL"
    # Their own lot, but not the plant's lot it became.
    assert match["candidates"] == [
        {
            "supplierLot": {"id": "supplier_lot:ACME-STEEL/AC7-000001"},
            "lots": [],
            "confirmed": False,
        }
    ]
    theirs = gql(client, "supplier", DECODE, code=poly)["data"]["decodeLot"]
    assert theirs == {
        "matches": [],
        "misses": [{"scheme": "ACME", "reason": theirs["misses"][0]["reason"]}],
    }
    own_code = gql(client, "supplier", DECODE, code="AC7-000001")["data"]["decodeLot"]
    assert [m["scheme"] for m in own_code["matches"]] == ["ACME"]


def test_supplier_cannot_learn_other_partners_from_link_codes(
    client: TestClient, seeded: Services
) -> None:
    probe = gql(client, "supplier", DECODE, code="PM2-000001")["data"]["decodeLot"]
    [match] = probe["matches"]
    assert (match["scheme"], match["partner"], match["candidates"]) == ("ACME", None, [])
    assert "POLYMED" not in json.dumps(probe)
    analyst = gql(client, "analyst", DECODE, code="PM2-000001")["data"]["decodeLot"]
    assert analyst["matches"][0]["partner"] == "POLYMED", "positive control"
    own = gql(client, "supplier", DECODE, code="AC7-000001")["data"]["decodeLot"]
    assert own["matches"][0]["partner"] == "ACME-STEEL"


def test_customers_may_not_decode_lot_codes(client: TestClient, seeded: Services) -> None:
    denied = gql(client, "customer", DECODE, code="260305LA0001AC7")
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    response = client.get(
        "/api/v1/lots/decode", params={"code": "AC7-000001"}, headers=login(client, "customer")
    )
    assert response.status_code == 403


@pytest.mark.parametrize("code", ["", "A" * (lot_codes.MAX_LOT_CODE + 1)])
def test_a_code_rest_refuses_is_refused_alike_over_graphql_and_the_cli(
    client: TestClient,
    seeded: Services,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    code: str,
) -> None:
    rest = client.get("/api/v1/lots/decode", params={"code": code}, headers=login(client, "admin"))
    assert rest.status_code == 422, rest.text
    [problem] = rest.json()["errors"]
    assert problem["field"] == "query.code"
    said = {"field": "code", "code": problem["code"], "message": problem["message"]}
    [error] = gql(client, "admin", DECODE, code=code)["errors"]
    assert error["extensions"] == {"code": "INVALID_REQUEST", "status": 422, "errors": [said]}
    assert main(["lot", "decode", code, "--store", new_store(tmp_path / "cli.db")]) == 2
    assert capsys.readouterr().err == f"error: invalid request: code: {problem['message']}\n"
    # The longest code taken is decoded everywhere.
    longest = "A" * lot_codes.MAX_LOT_CODE
    assert "errors" not in gql(client, "admin", DECODE, code=longest)


def test_rest_mints_decodes_and_registers(client: TestClient, seeded: Services) -> None:
    operator = login(client, "operator")
    body = {"scheme": "OURS", "partner": "POLYMED", "values": {"date": "2026-03-07", "line": "LB"}}
    minted = client.post("/api/v1/lots/mint", json=body, headers=operator)
    assert minted.status_code == 201, minted.text
    assert minted.json()["code"] == "260307LB0001PM2"
    decoded = client.get(
        "/api/v1/lots/decode", params={"code": "260307LB0001PM2"}, headers=login(client, "analyst")
    )
    assert decoded.json()["matches"][0]["candidates"][0]["supplier_lot"] == (
        "supplier_lot:POLYMED/PM2+000001"
    )
    bad = client.post(
        "/api/v1/lots/mint", json=body | {"values": {"date": "7 March"}}, headers=operator
    )
    assert bad.status_code == 400 and 'field "date" takes a date' in bad.json()["message"]
    # ISO 8601's other spellings Python reads are not the contract's date: refused, not minted.
    for loose in ("20260307", "2026-W10-6", "2026-3-07"):
        bad = client.post(
            "/api/v1/lots/mint", json=body | {"values": {"date": loose}}, headers=operator
        )
        assert bad.status_code == 400 and "YYYY-MM-DD" in bad.json()["message"], loose
    bad = client.post(
        "/api/v1/lots/mint", json=body | {"values": {"date": "2026-02-30"}}, headers=operator
    )
    assert "February 2026 has no day 30" in bad.json()["message"]  # which number, not how
    admin = login(client, "admin")
    ambiguous = {
        "name": "Z",
        "company": "Z",
        "pattern": "{link:X3}-{n:X6}",
        "link_field": "link",
        "link_code": "ZZ1",
    }
    clash = client.post("/api/v1/lot-schemes", json=ambiguous, headers=admin)
    assert clash.status_code == 409 and "ambiguous" in clash.json()["message"]
    listed = client.get("/api/v1/lot-schemes", headers=operator).json()
    assert [s["name"] for s in listed] == ["ACME", "OURS", "POLY"]


def test_cli_registers_mints_and_decodes(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    store = new_store(tmp_path / "cli.db")
    ours = ["--name", "OURS", "--company", "PLANT", "--pattern", OURS]
    assert (
        main(
            ["lot", "scheme", *ours, "--link-field", "link", "--link-code", "PL1", "--store", store]
        )
        == 0
    )
    acme = ["--name", "ACME", "--company", "ACME", "--pattern", "{link:X3}-{heat:N6}"]
    assert (
        main(
            ["lot", "scheme", *acme, "--link-field", "link", "--link-code", "AC7", "--store", store]
        )
        == 0
    )
    batch = tmp_path / "r.json"
    batch.write_text(
        json.dumps([events.receive("R-1", 5, supplier="ACME", supplier_lot="AC7-000009")])
    )
    assert main(["ingest", str(batch), "--store", store]) == 0
    capsys.readouterr()
    args = ["lot", "mint", "--scheme", "OURS", "--link", "ACME", "--date", "2026-03-05"]
    assert main([*args, "--line", "LA", "--store", store]) == 0
    code = capsys.readouterr().out.strip()
    assert code == "260305LA0001AC7"
    assert main(["lot", "decode", code, "--json", "--store", store]) == 0
    [match] = json.loads(capsys.readouterr().out)["matches"]
    assert match["partner"] == "ACME"
    assert match["candidates"][0]["fields"] == {"link": "AC7", "heat": "000009"}
    assert main([*args, "--line", "L1", "--store", store]) == 2
    assert 'field "line"' in capsys.readouterr().err
    for twice in (["--line", "LA", "--field", "line=LB"], ["--field", "date=2026-03-06"]):
        assert main([*args, *twice, "--store", store]) == 2
        assert "is given twice" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["lot", "mint", "--scheme", "OURS", "--link", "ACME", "--date", "20260305"])
    assert refused.value.code == 2 and "YYYY-MM-DD" in capsys.readouterr().err


def _as(client: TestClient, username: str) -> dict[str, str]:
    token = client.post(
        "/api/v1/auth/token", data={"username": username, "password": "polymed-pass-1234"}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_decoding_confirms_genealogy_only_where_lot_ids_are_shared(
    client: TestClient, seeded: Services, events: Events
) -> None:
    # POLYMED (a demo company) is told counts, not lot ids; ACME-STEEL is told lot ids.
    seeded.auth.add_user("poly", "polymed-pass-1234", Role.SUPPLIER, company="POLYMED")
    ours: dict[str, str] = {}
    for partner, lot in (("POLYMED", "R-2"), ("ACME-STEEL", "R-1")):
        code = mint(client, "operator", partner)["data"]["mintLot"]["code"]
        seeded.ingest.ingest([events("split", lot=lot, into=[{"lot": code, "qty": "1"}])])
        ours[partner] = code

    def decoded(headers: dict[str, str], code: str) -> Any:
        response = client.post(
            "/graphql", json={"query": DECODE, "variables": {"code": code}}, headers=headers
        )
        return response.json()["data"]["decodeLot"]["matches"][0]["candidates"]

    told = decoded(_as(client, "poly"), ours["POLYMED"])
    assert [(c["supplierLot"]["id"], c["confirmed"]) for c in told] == [
        ("supplier_lot:POLYMED/PM2+000001", False)
    ]
    shared = decoded(login(client, "supplier"), ours["ACME-STEEL"])
    assert [(c["supplierLot"]["id"], c["confirmed"]) for c in shared] == [
        ("supplier_lot:ACME-STEEL/AC7-000001", True)
    ]


def test_another_companys_scheme_reading_a_suppliers_link_code_is_not_named(
    client: TestClient, seeded: Services
) -> None:
    seeded.auth.add_user("poly", "polymed-pass-1234", Role.SUPPLIER, company="POLYMED")
    # ACME-STEEL's scheme reads this code, whose link code is POLYMED's.
    probe = client.post(
        "/graphql",
        json={"query": DECODE, "variables": {"code": "PM2-000001"}},
        headers=_as(client, "poly"),
    ).json()["data"]["decodeLot"]
    [match] = probe["matches"]
    assert (match["scheme"], match["partner"]) == ("", "POLYMED")
    assert "ACME" not in json.dumps(probe)
    analyst = gql(client, "analyst", DECODE, code="PM2-000001")["data"]["decodeLot"]
    assert analyst["matches"][0]["scheme"] == "ACME", "positive control"


def test_a_decoding_says_when_it_lists_only_the_surest_lots(
    client: TestClient, seeded: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lot_codes, "MAX_CANDIDATES", 1)
    seeded.ingest.ingest([events.receive("R-3", 10, supplier="POLYMED", supplier_lot="PM2+000002")])
    query = DECODE.replace("confirmed }", "confirmed } truncated")
    [match] = gql(client, "analyst", query, code="260305LA0001PM2")["data"]["decodeLot"]["matches"]
    assert (len(match["candidates"]), match["truncated"]) == (1, True)
    rest = client.get(
        "/api/v1/lots/decode", params={"code": "260305LA0001PM2"}, headers=login(client, "analyst")
    ).json()["matches"][0]
    assert (len(rest["candidates"]), rest["truncated"]) == (1, True)
    # POLYMED's lots are not there for ACME-STEEL's user, nor how many there are.
    [probe] = gql(client, "supplier", query, code="PM2-000001")["data"]["decodeLot"]["matches"]
    assert (probe["candidates"], probe["truncated"]) == ([], False)
    monkeypatch.setattr(lot_codes, "MAX_CANDIDATES", 2)
    [whole] = gql(client, "analyst", query, code="260305LA0001PM2")["data"]["decodeLot"]["matches"]
    assert (len(whole["candidates"]), whole["truncated"]) == (2, False)
