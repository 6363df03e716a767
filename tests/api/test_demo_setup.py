"""The demo plant shows the part registry, kit UDIs, carts and lot code schemes."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.cli import main
from api.demo_setup import demo_examples, seed_demo_lot_schemes
from api.deps import Services
from graph.embedded_store import EmbeddedStore
from graph.lot_codes import LotCodeService
from graph.store import GraphStore
from graph.udi import IdentifierService
from ingest import gs1
from ingest.demo_plant import GTINS, PARTS, DemoPlant
from ingest.service import IngestService
from tests.api.conftest import login


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphStore]:
    store = EmbeddedStore(tmp_path_factory.mktemp("demo") / "demo.db")
    for batch in DemoPlant(size=400, seed=7).batches(1000):
        IngestService(store).ingest(batch)
    seed_demo_lot_schemes(store)
    yield store
    store.close()


def test_the_demo_gtins_carry_valid_check_digits() -> None:
    assert len(set(GTINS.values())) == len(PARTS)
    for gtin in GTINS.values():
        assert len(gtin) == 14
        assert gs1.check_digit(gtin[:-1]) == gtin[-1]


def test_the_part_registry_and_a_kit_udi_resolve(demo: GraphStore) -> None:
    parts = {p.attrs["key"]: p.attrs for p in demo.parts()}
    assert parts["SCREW-KIT"]["gtin"] == GTINS["SCREW-KIT"]
    assert parts["BAR-316L"]["supplier"] == "ACME-STEEL"
    identifiers = IdentifierService(demo)
    kit = demo.node("serial:KIT000010000")
    assert kit is not None
    udi = identifiers.udi(kit)
    assert udi is not None
    assert udi.di == GTINS["SCREW-KIT"]
    assert "(21)KIT000010000" in udi.human_readable
    assert "(17)" in udi.human_readable and "(11)" in udi.human_readable
    found = identifiers.resolve(udi.digital_link)
    assert found.serial is not None and found.serial.gid == "serial:KIT000010000"
    assert found.part is not None and found.part.gid == "part:SCREW-KIT"
    # A screw is serialized from a lot without UDI dates: its UDI is lot and serial only.
    screw = demo.node("serial:SN0000100000")
    assert screw is not None
    screw_udi = identifiers.udi(screw)
    assert screw_udi is not None and screw_udi.pi == "(10)L00001-M1-P(21)SN0000100000"
    body = demo.node("lot:L00001-BAR-W1-T")
    assert body is not None and identifiers.udi(body) is None  # SCREW-BODY has no GTIN


def test_the_demo_carts_are_defined_and_used(demo: GraphStore) -> None:
    cart = demo.node("cart:CART-8-1")
    assert cart is not None
    assert cart.attrs.get("group") == "8"


def test_demo_lot_codes_decode(demo: GraphStore) -> None:
    service = LotCodeService(demo)
    heat = service.decode("H70001")
    assert [(m.scheme.name, m.partner) for m in heat.matches] == [("ACME-HEATS", "ACME-STEEL")]
    assert any(
        c.supplier_lot.gid == "supplier_lot:ACME-STEEL/H70001" for c in heat.matches[0].candidates
    )
    ours = service.decode("L00001-BAR")
    assert [m.scheme.name for m in ours.matches] == ["PLANT-STOCK"]
    assert ours.matches[0].fields["campaign"] == "00001"
    assert service.decode("T-1").matches == []  # TITAN's lots follow no registered scheme


def test_seeding_the_schemes_twice_is_harmless(demo: GraphStore) -> None:
    assert seed_demo_lot_schemes(demo) == ["ACME-HEATS", "PLANT-STOCK"]
    assert len(LotCodeService(demo).schemes()) == 2


def test_demo_size_is_the_least_it_makes_in_whole_campaigns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "make at least this many items (lots + serials), in whole campaigns" in said
    one = DemoPlant(size=1)
    for _ in one.events():
        pass
    assert 400 <= one.items <= 700  # one whole campaign, as the help says
    two = DemoPlant(size=one.items + 1)
    for _ in two.events():
        pass
    assert two.items > one.items + 1


def test_the_examples_name_the_demo_ids() -> None:
    text = "\n".join(demo_examples("127.0.0.1", 8000))
    assert "serial:KIT000010000" in text and "H70001" in text


def test_demo_start_up_registers_the_schemes_and_prints_examples(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import api.cli

    monkeypatch.chdir(tmp_path)
    served: list[socket.socket] = []

    def run_server(_: object, listener: socket.socket) -> bool:
        served.append(listener)
        return True

    monkeypatch.setattr(api.cli, "run_server", run_server)
    EmbeddedStore(tmp_path / "tracegraph-demo.db").close()  # an earlier demo's: made afresh
    with socket.socket() as probe:  # a free port: the demo takes it before it makes the plant
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert api.cli.main(["demo", "--size", "200", "--port", str(port)]) == 0
    assert served[0].getsockname()[1] == port
    served[0].close()
    out = capsys.readouterr().out
    assert "lot code schemes: ACME-HEATS, PLANT-STOCK" in out
    assert "/api/v1/udi/serial:KIT000010000" in out
    url = next(line for line in out.splitlines() if line.startswith("store: ")).split(" ", 1)[1]
    assert url == f"sqlite:///{tmp_path / 'tracegraph-demo.db'}"
    assert f"export TRACEGRAPH_STORE={url}" in out
    assert [p.name for p in tmp_path.iterdir()] == ["tracegraph-demo.db"]  # made beside it
    store = EmbeddedStore(Path(url.removeprefix("sqlite:///")))
    try:
        assert [s.name for s in LotCodeService(store).schemes()] == ["ACME-HEATS", "PLANT-STOCK"]
        kit = store.node("serial:KIT000010000")
        assert kit is not None and IdentifierService(store).udi(kit) is not None
    finally:
        store.close()


def test_the_printed_examples_answer_over_the_api(plant: Services, client: TestClient) -> None:
    seed_demo_lot_schemes(plant.store)
    headers = login(client, "analyst")
    udi = client.get("/api/v1/udi/serial:KIT000010000", headers=headers)
    assert udi.status_code == 200, udi.text
    assert udi.json()["udi"]["di"] == GTINS["SCREW-KIT"]
    parts = client.get("/api/v1/parts", headers=headers)
    assert parts.status_code == 200, parts.text
    assert GTINS["TRAY"] in parts.text
    decoded = client.get("/api/v1/lots/decode", params={"code": "H70001"}, headers=headers)
    assert decoded.status_code == 200, decoded.text
    heats = decoded.json()["matches"][0]["candidates"]
    assert heats[0]["supplier_lot"] == "supplier_lot:ACME-STEEL/H70001"
    assert heats[0]["confirmed"] is True  # the code is the partner's own lot number
    query = '{ decodeLot(code: "H70001") { matches { partner candidates { lots } } } }'
    answer = client.post("/graphql", json={"query": query}, headers=headers).json()
    match = answer["data"]["decodeLot"]["matches"][0]
    assert match["partner"] == "ACME-STEEL"
    assert ["lot:L00001-BAR"] in [c["lots"] for c in match["candidates"]]
    # Customers do not decode lot codes: the supplier's identity stays hidden.
    north = login(client, "customer")
    refused = client.get("/api/v1/lots/decode", params={"code": "H70001"}, headers=north)
    assert refused.status_code == 403
