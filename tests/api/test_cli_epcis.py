"""`tracegraph epcis export|import|check` on a real embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import main
from graph.embedded_store import EmbeddedStore
from graph.trace import TraceService
from ingest.gs1 import with_check_digit
from ingest.service import IngestService
from tests.fixtures.epcis import BAR, PARTS, gs1_document, native_events, trace_shape
from tests.fixtures.events import Events
from tests.fixtures.stores import new_store


@pytest.fixture
def source(tmp_path: Path) -> str:
    store = EmbeddedStore(tmp_path / "source.db")
    IngestService(store).ingest(native_events())
    store.close()
    return f"sqlite:///{tmp_path / 'source.db'}"


def test_export_then_import_into_another_store(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "kit.jsonld"
    code = main(
        [
            "epcis",
            "export",
            "serial:KIT-1",
            "--direction",
            "up",
            "--out",
            str(out),
            "--store",
            source,
        ]
    )
    assert code == 0
    assert "EPCIS events" in capsys.readouterr().out
    assert main(["epcis", "check", str(out)]) == 0
    target = new_store(tmp_path / "target.db")
    assert main(["epcis", "import", str(out), "--store", target]) == 0
    assert "10 created, 0 duplicates" in capsys.readouterr().out
    stores = [EmbeddedStore(Path(url.removeprefix("sqlite:///"))) for url in (source, target)]
    a, b = (TraceService(s).trace("serial:KIT-1", "up") for s in stores)
    kept = ("part", "qty", "created_by")
    assert trace_shape(a, attrs=kept) == trace_shape(b, attrs=kept)
    for store in stores:
        store.close()


def test_import_of_gs1_keys_needs_the_gtin_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "gs1.json"
    document.write_text(json.dumps(gs1_document()))
    target = new_store(tmp_path / "target.db")
    assert main(["epcis", "import", str(document), "--store", target]) == 2
    assert "no part has GTIN" in capsys.readouterr().err
    gtins = tmp_path / "gtins.json"
    gtins.write_text(json.dumps(PARTS))
    code = main(["epcis", "import", str(document), "--gtins", str(gtins), "--store", target])
    assert code == 0
    assert "ignored event 10" in capsys.readouterr().out
    # Without a mapping of parties, a GLN stands for the company itself.
    gln = with_check_digit("950600000001")
    store = EmbeddedStore(tmp_path / "target.db")
    assert store.node(f"supplier_lot:{gln}/H-1") is not None
    store.close()


def test_check_reports_schema_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = gs1_document()
    del broken["epcisBody"]["eventList"][0]["action"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    assert main(["epcis", "check", str(path)]) == 2
    assert "event 0: eventList[0]" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"[" * 100_000 + b"]" * 100_000, "nested too deeply"), (b"\xff\xfe{}", "not UTF-8")],
    ids=["deep", "binary"],
)
def test_check_refuses_files_it_cannot_read_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str
) -> None:
    path = tmp_path / "odd.json"
    path.write_bytes(content)
    assert main(["epcis", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert says in err and "odd.json" in err


@pytest.mark.parametrize(
    "mapping",
    [list(PARTS), BAR, PARTS | {BAR: 5}, PARTS | {BAR: {"part": "BAR-316L"}}],
    ids=["list", "string", "number", "object"],
)
def test_a_gtin_mapping_that_is_not_strings_to_strings_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mapping: object
) -> None:
    document = tmp_path / "gs1.json"
    document.write_text(json.dumps(gs1_document()))
    gtins = tmp_path / "gtins.json"
    gtins.write_text(json.dumps(mapping))
    target = new_store(tmp_path / "target.db")
    code = main(["epcis", "import", str(document), "--gtins", str(gtins), "--store", target])
    assert code == 2
    assert "gtins.json must map strings to strings" in capsys.readouterr().err
    assert main(["epcis", "import", str(document), "--store", target]) == 2  # nothing written
    assert "no part has GTIN" in capsys.readouterr().err


def test_an_export_keeps_every_digit_through_an_import(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    # A float holds about 17 digits: 1234567890.123456789 kg would come back 1234567890.1234567.
    source = EmbeddedStore(tmp_path / "source.db")
    IngestService(source).ingest(
        [
            events.receive("L-1", "1234567890.123456789", unit="kg", supplier_lot="H1"),
            events("split", lot="L-1", into=[{"lot": "C-1", "qty": "0.123456789"}]),
        ]
    )
    source.close()
    out = tmp_path / "lot.jsonld"
    url = f"sqlite:///{tmp_path / 'source.db'}"
    exported = ["epcis", "export", "supplier_lot:ACME/H1", "--out", str(out), "--store", url]
    assert main(exported) == 0
    assert '"quantity": 1234567890.123456789' in out.read_text()
    target = new_store(tmp_path / "target.db")
    assert main(["epcis", "import", str(out), "--store", target]) == 0
    assert "2 created, 0 duplicates" in capsys.readouterr().out
    imported = EmbeddedStore(Path(target.removeprefix("sqlite:///")))
    lots = imported.nodes(["lot:L-1", "lot:C-1"])
    assert [str(lots[g].attrs["qty"]) for g in ("lot:L-1", "lot:C-1")] == [
        "1234567890.123456789",
        "0.123456789",
    ]
    imported.close()


def test_import_refuses_a_serial_named_with_another_lot_than_it_has(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # SN1 is serialized from lot T1 in the source store.
    screw = gs1_document()["epcisBody"]["eventList"][6]["epcList"][0]
    document = gs1_document()
    document["epcisBody"]["eventList"] = [
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
    path = tmp_path / "recall.jsonld"
    path.write_text(json.dumps(document))
    gtins = tmp_path / "gtins.json"
    gtins.write_text(json.dumps(PARTS))
    code = main(["epcis", "import", str(path), "--gtins", str(gtins), "--store", source])
    assert code == 2
    assert "named with lot 'T9'" in capsys.readouterr().err
