"""The ingest-by-phase benchmark accounts for the whole of an ingest, and puts every clock back."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.ingest_phases import PHASES, main
from graph.embedded_store import EmbeddedTx
from ingest import service


def test_the_phases_add_up_to_the_ingest_and_the_service_is_left_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    untouched = (service.parse_events, service.payload_and_digest, EmbeddedTx.apply)
    out = tmp_path / "phases.md"
    argv = ["--size", "1000", "--neo4j", "none", "--work", str(tmp_path), "--out", str(out)]
    assert main(argv) == 0
    assert (service.parse_events, service.payload_and_digest, EmbeddedTx.apply) == untouched
    phases, floor = out.read_text().split("## Under the ingest")
    table = {
        cells[0]: [float(cell.replace(",", "").split()[0]) for cell in cells[1:]]
        for cells in (
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in phases.splitlines()
            if line.startswith("| ") and not line.startswith("| phase")
        )
    }
    labels = [label for _, label in PHASES]
    assert list(table)[: len(labels)] == labels
    cpu, wall = table["**total**"]
    assert cpu > 0 and wall > 0
    assert sum(table[label][0] for label in labels) == pytest.approx(cpu, rel=0.01)
    assert sum(table[label][1] for label in labels) == pytest.approx(wall, rel=0.01)
    # Every phase takes time: a clock that missed its function would read zero.
    assert all(table[label][1] > 0 for label in labels)
    assert "events/s" in capsys.readouterr().out
    # The same writes replayed alone: cheaper than the whole ingest they came from.
    replayed = [line.split("|") for line in floor.splitlines() if line.startswith("| embedded")]
    assert [cells[2].strip() for cells in replayed][:2] == [
        "the ingest above, every phase",
        "its writes through Python's sqlite3",
    ]
    assert 0 < float(replayed[1][4]) < wall
