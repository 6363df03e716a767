"""Published schemas must match the code: the GraphQL SDL committed at api/schema.graphql."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli import main

SDL = Path(__file__).resolve().parents[2] / "api" / "schema.graphql"


def test_graphql_sdl_has_not_drifted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "graphql"]) == 0
    current = capsys.readouterr().out
    assert current == SDL.read_text(), "run `tracegraph schema graphql > api/schema.graphql`"
    assert "type Query" in current and "impact(id: ID!" in current
