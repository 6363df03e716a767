"""The README's command-line examples on the demo plant run as written, on the plant `make demo`
makes (here smaller, with the same seed and ids)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from api.cli import main
from api.settings import get_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def demo_commands() -> list[list[str]]:
    """The commands of the README's first block under 'Using it' (the demo plant's)."""
    section = README.read_text().split("## Using it", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None
    commands = []
    for line in block.group(1).splitlines():
        if line.startswith(".venv/bin/tracegraph "):
            commands.append(shlex.split(line, comments=True)[1:])
    return commands


def test_the_readme_names_commands_for_the_demo_plant() -> None:
    assert len(demo_commands()) >= 10


def test_each_demo_example_of_the_readme_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--size", "600", "--no-serve"]) == 0
    store = f"sqlite:///{tmp_path / 'tracegraph-demo.db'}"
    monkeypatch.setenv("TRACEGRAPH_STORE", store)  # the README's first line
    get_settings.cache_clear()  # each command is a process of its own, reading it afresh
    failed = []
    try:
        for argv in demo_commands():
            capsys.readouterr()
            if main(argv) != 0:
                failed.append((argv, capsys.readouterr().err))
            elif argv[:2] == ["gs1", "parse"]:
                # A scan of nothing the plant has also exits 0: the example must find each key.
                capsys.readouterr()
                assert main([*argv, "--json"]) == 0
                found = json.loads(capsys.readouterr().out)
                named = ["part"] + [k for k in ("lot", "serial") if found[k] is not None]
                unfound = [k for k in named if found["nodes"][k] is None]
                if unfound or found["notes"]:
                    failed.append((argv, f"finds no {unfound}: {found['notes']}"))
    finally:
        get_settings.cache_clear()
    assert failed == []
