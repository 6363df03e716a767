"""The examples in docs/identifiers.md run and give what the page says."""

from __future__ import annotations

import doctest
import shlex
from pathlib import Path

import pytest

from api.cli import main
from tests.fixtures.stores import new_store

DOC = Path(__file__).resolve().parents[2] / "docs" / "identifiers.md"


def test_the_examples_in_the_identifiers_page_run() -> None:
    result = doctest.testfile(str(DOC), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_the_shell_examples_run_as_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    block = DOC.read_text().split("```sh\n")[1].split("```")[0]
    commands = block.replace("\\\n", " ").splitlines()
    store = ["--store", new_store(tmp_path / "doc.db")]
    ran = 0
    for line, following in zip(commands, [*commands[1:], ""], strict=True):
        if not line.startswith("tracegraph "):
            continue
        assert main([*shlex.split(line)[1:], *store]) == 0, line
        out = capsys.readouterr().out
        if following.startswith("# "):
            assert out.strip() == following[2:], line
        ran += 1
    assert ran == 4
