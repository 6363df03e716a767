"""The `mark` sub-commands on an embedded store: output, JSON shapes and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import main
from graph.embedded_store import EmbeddedStore
from ingest.service import IngestService
from tests.fixtures.events import Events

DECIDE = [
    "--wear-rate", "0.1", "--failure-rate", "0.02", "--life", "10", "--claim", "2000",
    "--count", "1000", "--setup-cost", "150000", "--running-cost", "50000",
]  # fmt: skip


def _run(*argv: str) -> int:
    """Run the real `tracegraph` entry point, which maps errors to exit codes."""
    return main(list(argv))


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    store = EmbeddedStore(tmp_path / "plant.db")
    events = Events()
    IngestService(store).ingest(
        [events.receive(f"L-{i}", 5, part="SCREW-M4", supplier_lot="A") for i in range(3)]
    )
    store.close()
    schemes = tmp_path / "schemes.json"
    schemes.write_text(
        json.dumps([{"name": "SCREWS", "kind": "sequential", "length": 3, "parts": ["SCREW-*"]}])
    )
    assert _run("mark", "schemes", "--store", store.url, "--set", str(schemes)) == 0
    return store.url


def test_decide_prints_the_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("mark", "decide", *DECIDE, "--json") == 0
    body = json.loads(capsys.readouterr().out)
    assert set(body) == {"phi", "expected_loss_avoided", "break_even_count", "mark"}
    assert body["mark"] is True
    assert body["phi"] == pytest.approx(-29_168.04, abs=0.01)


def test_decide_with_no_break_even_prints_null_and_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = list(DECIDE)
    for flag, value in (("--wear-rate", "1e-300"), ("--failure-rate", "1e-10"), ("--life", "1")):
        argv[argv.index(flag) + 1] = value
    assert _run("mark", "decide", *argv, "--json") == 0
    assert json.loads(capsys.readouterr().out)["break_even_count"] is None
    assert _run("mark", "decide", *argv) == 0
    assert "break-even count = none" in capsys.readouterr().out


def test_decide_refuses_a_zero_rate(capsys: pytest.CaptureFixture[str]) -> None:
    argv = list(DECIDE)
    argv[argv.index("--wear-rate") + 1] = "0"
    assert _run("mark", "decide", *argv) == 2
    assert "error: --wear-rate: Input should be greater than 0" in capsys.readouterr().err


def test_issue_then_resolve(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("mark", "issue", "--store", store_url, "--lot", "L-1", "--json") == 0
    issued = json.loads(capsys.readouterr().out)
    assert (issued["code"], issued["target"]) == ("AAA", "lot:L-1")
    assert _run("mark", "resolve", "--store", store_url, "--mark", "AAA", "--json") == 0
    body = json.loads(capsys.readouterr().out)
    first = body["candidates"][0]
    assert (first["id"], first["confidence"], first["reason"]) == (
        "lot:L-1",
        1.0,
        "exact secondary mark",
    )
    assert _run("mark", "resolve", "--store", store_url, "--primary", "L-?") == 2
    assert "readable" in capsys.readouterr().err
    assert _run("mark", "resolve", "--store", store_url, "--primary", "L-?", "--part", "X") == 2


def test_schemes_lists_usage(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert _run("mark", "issue", "--store", store_url, "--lot", "L-2") == 0
    assert _run("mark", "schemes", "--store", store_url, "--json") == 0
    body = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert body["schemes"][0]["used"] == 1
    assert body["schemes"][0]["capacity"] == 17_576


def test_bad_input_exits_two(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("mark", "resolve", "--store", store_url) == 2
    assert "secondary mark, a primary number" in capsys.readouterr().err
    resolve = ("mark", "resolve", "--store", store_url, "--mark", "A", "--from")
    assert _run(*resolve, "2026-01-01T00:00:00") == 2
    assert "UTC offset" in capsys.readouterr().err
    assert _run(*resolve, "2026-01-01") == 2
    assert "--from: a time is RFC 3339 text with its offset" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "X", "kind": "sequential"}')
    assert _run("mark", "schemes", "--store", store_url, "--set", str(bad)) == 2
    assert "length" in capsys.readouterr().err
    assert _run("mark", "issue", "--store", store_url, "--lot", "NOPE") == 1


def test_a_list_of_schemes_refused_at_one_saves_none(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = tmp_path / "two.json"
    listed.write_text(
        json.dumps(
            [
                {"name": "NUTS", "kind": "sequential", "length": 4, "parts": ["NUT-*"]},
                {"name": "MORE", "kind": "sequential", "length": 4, "parts": ["SCREW-*"]},
            ]
        )
    )
    capsys.readouterr()
    assert _run("mark", "schemes", "--store", store_url, "--set", str(listed)) == 2
    assert 'SCREW-* already has scheme "SCREWS"' in capsys.readouterr().err
    assert _run("mark", "schemes", "--store", store_url, "--json") == 0
    body = json.loads(capsys.readouterr().out)
    assert [scheme["name"] for scheme in body["schemes"]] == ["SCREWS"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (
            '{"name": "NUTS", "name": "X", "kind": "sequential", "length": 3}',
            "the key 'name' appears twice",
        ),
        ('{"name": "NUTS", "kind": "sequential", "length": 3, "parts": [}', "not valid JSON"),
    ],
)
def test_a_scheme_file_is_read_as_strictly_as_a_body(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str
) -> None:
    given = tmp_path / "given.json"
    given.write_text(text)
    assert _run("mark", "schemes", "--store", store_url, "--set", str(given)) == 2
    assert f"{given} is not JSON we read: {said}" in capsys.readouterr().err


@pytest.mark.parametrize("shape", [[], ["--json"]])
def test_a_reading_with_no_candidates_exits_one_in_either_shape(
    store_url: str, shape: list[str]
) -> None:
    assert _run("mark", "resolve", "--mark", "ZZZ", "--store", store_url, *shape) == 1
