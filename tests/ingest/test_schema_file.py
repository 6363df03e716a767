"""The published JSON Schema must match the contract models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import main

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "events.schema.json"


def test_published_schema_has_not_drifted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "events"]) == 0
    current = json.loads(capsys.readouterr().out)
    published = json.loads(SCHEMA_FILE.read_text())
    assert current == published, "run `tracegraph schema events > docs/events.schema.json`"
