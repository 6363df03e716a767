"""Benchmarks that work in scratch stores remove them, however small the run."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bench import identifiers, marking, recall

TINY: dict[str, tuple[Callable[[Sequence[str]], int], list[str]]] = {
    "identifiers": (
        identifiers.main,
        ["--serials", "50", "--supplier-lots", "3", "--repeat", "2", "--neo4j", ""],
    ),
    "marking": (marking.main, ["--lots", "400", "--marks", "60", "--repeat", "2"]),
    "recall": (recall.main, ["--size", "300"]),
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_run_leaves_nothing_in_the_temporary_folder(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    main, argv = TINY[name]
    out = tmp_path / f"{name}.md"
    assert main([*argv, "--out", str(out)]) == 0
    assert out.read_text().startswith("# ")  # the run did its work...
    assert capsys.readouterr().out
    assert list(temporary.iterdir()) == []  # ...and took its scratch stores away
