"""`tracegraph recall` on a real embedded store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from api.cli import main
from tests.fixtures.events import Events


def test_recall_from_the_command_line(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'recall.db'}"
    plant = tmp_path / "plant.json"
    plant.write_text(
        json.dumps(
            [
                events.receive("L-1", 10, supplier_lot="A-77"),
                events("serialize", lot="L-1", serials=["SN-1", "SN-2"]),
                events("ship", shipment="SH-1", customer="HOSP", items=[{"serial": "SN-1"}]),
            ]
        )
    )
    assert main(["ingest", str(plant), "--store", store]) == 0
    assert (
        main(
            [
                "recall",
                "open",
                "RC-9",
                "--title",
                "A-77",
                "--reason",
                "bad heat",
                "--suspect",
                "supplier_lot:ACME/A-77",
                "--store",
                store,
            ]
        )
        == 0
    )
    assert "3 items in scope, 1 customers" in capsys.readouterr().out
    assert main(["recall", "hold", "RC-9", "--reason", "quarantine", "--store", store]) == 0
    assert "quarantined 2 in-plant items" in capsys.readouterr().out
    assert main(["recall", "notify", "RC-9", "--message", "send back SN-1", "--store", store]) == 0
    assert "notice:RC-9-HOSP  HOSP  sent" in capsys.readouterr().out
    assert main(["recall", "show", "RC-9", "--store", store]) == 0
    shown = capsys.readouterr().out
    assert "[notifying]" in shown and "no answer yet" in shown
    assert main(["recall", "export", "RC-9", "--format", "csv", "--store", store]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["id"] for r in rows} == {"lot:L-1", "serial:SN-1", "serial:SN-2"}
    report = tmp_path / "report.html"
    assert (
        main(
            ["recall", "export", "RC-9", "--format", "html", "--out", str(report), "--store", store]
        )
        == 0
    )
    assert "<svg" in report.read_text()
    assert main(["recall", "open", "RC-10", "--title", "t", "--reason", "r", "--store", store]) == 2
    assert "at least one --suspect" in capsys.readouterr().err
