"""Every time option of the CLI reads a time as the event contract does, and no other way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import main
from tests.fixtures.events import Events
from tests.fixtures.stores import new_store


@pytest.fixture
def store(tmp_path: Path, events: Events) -> str:
    url = new_store(tmp_path / "plant.db")
    plant = tmp_path / "plant.json"
    batch = [
        events.receive("L-1", 10, supplier_lot="A-77"),
        events("cart_define", cart="C-1"),
        events("cart_load", cart="C-1", lot="L-1"),
        events(
            "process",
            step="S-1",
            operation="turn",
            equipment="LATHE-1",
            inputs=[{"lot": "L-1", "qty": "1"}],
            outputs=[{"lot": "P-1", "part": "SCREW", "qty": "1"}],
        ),
    ]
    plant.write_text(json.dumps(batch))
    assert main(["ingest", str(plant), "--store", url]) == 0
    opened = ["recall", "open", "RC-1", "--title", "t", "--reason", "r", "--suspect", "lot:L-1"]
    assert main([*opened, "--store", url]) == 0
    return url


def _commands(at: str) -> dict[str, list[str]]:
    """One command per time option, each given `at`."""
    return {
        "--as-of": ["trace", "--lot", "L-1", "--down", "--as-of", at],
        "--at": ["cart", "contents", "C-1", "--at", at],
        "--window": ["recall", "open", "RC-2", "--title", "t", "--reason", "r",
                     "--window", "LATHE-1", at, at],
        "--due-by": ["recall", "request-supplier", "RC-1", "--supplier-lot",
                     "supplier_lot:ACME/A-77", "--question", "q", "--due-by", at],
        "--from": ["mark", "resolve", "--mark", "ABC", "--from", at],
    }  # fmt: skip


@pytest.mark.parametrize("option", ["--as-of", "--at", "--window", "--due-by", "--from"])
def test_a_time_ending_in_a_lowercase_z_is_read(
    store: str, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # RFC 3339 lets "z" stand for "Z"; events, REST and GraphQL read it so.
    main([*_commands("2026-03-02T09:00:00z")[option], "--store", store])
    assert "error" not in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--as-of", "--at", "--window", "--due-by", "--from"])
@pytest.mark.parametrize(
    "text", ["2026-W10-1T09:00:00Z", "20260302T090000Z", "2026-03-02T09:00:00Z[UTC]"]
)
def test_a_time_the_contract_does_not_read_is_refused_naming_the_option(
    store: str, option: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*_commands(text)[option], "--store", store]) == 2
    err = capsys.readouterr().err
    assert option in err and "a time is RFC 3339 text with its offset" in err, err


@pytest.mark.parametrize("option", ["--as-of", "--at", "--window", "--due-by", "--from"])
@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-01:00"])
def test_a_time_outside_the_years_utc_writes_is_refused_naming_the_option(
    store: str, option: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*_commands(text)[option], "--store", store]) == 2
    err = capsys.readouterr().err
    assert f"error: {option}" in err and f"{text} is outside the years 1 to 9999 in UTC" in err, err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("wrong", ["FROM", "TO"])
def test_a_window_names_which_of_its_times_is_refused(
    store: str, wrong: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = "2026-03-02T09:00:00Z", "2026-03-02T10:00:00"  # no offset
    times = [bad, good] if wrong == "FROM" else [good, bad]
    opened = ["recall", "open", "RC-2", "--title", "t", "--reason", "r"]
    assert main([*opened, "--window", "LATHE-1", *times, "--store", store]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --window LATHE-1 {wrong} needs a UTC offset"), err
