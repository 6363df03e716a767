"""The store-copy benchmark times every phase a copy goes through."""

from __future__ import annotations

from pathlib import Path

from bench.store_copy import PHASES, main


def test_every_phase_of_a_copy_is_timed(tmp_path: Path) -> None:
    out = tmp_path / "copy.md"
    argv = ["--size", "1000", "--neo4j", "none", "--work", str(tmp_path), "--out", str(out)]
    assert main(argv) == 0
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in out.read_text().splitlines()
        if line.startswith("| embedded to embedded")
    ]
    assert [row[1] for row in rows[:-1]] == list(PHASES)
    walls = {row[1]: float(row[2]) for row in rows[:-1]}
    assert walls["graph"] > 0  # the rest may round to 0.00 on a plant this small
    assert rows[-1][1].startswith("**all**") and "events/s" in rows[-1][1]
