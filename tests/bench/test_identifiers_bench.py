"""The identifiers benchmark writes its results file afresh, as the other benchmarks do."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.identifiers import main


def test_a_second_run_replaces_the_results_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "identifiers.md"
    tiny = ["--serials", "100", "--supplier-lots", "5", "--repeat", "3", "--neo4j", ""]
    assert main([*tiny, "--out", str(out)]) == 0
    first = out.read_text()
    assert "## embedded store" in first and "mint, 4 concurrent callers" in first
    assert main([*tiny, "--out", str(out)]) == 0
    assert out.read_text().count("## embedded store") == 1
    assert "| decode a lot code" in capsys.readouterr().out
