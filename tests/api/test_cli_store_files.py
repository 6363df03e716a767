"""Commands pointed at a file that holds no store of ours: refused, and the file left as it was."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from api.cli import EXIT_BAD_INPUT, EXIT_UNAVAILABLE, main
from graph.embedded_store import store_files
from tests.fixtures.stores import new_store


def _their_database(path: Path) -> bytes:
    """Write another application's SQLite file; return its bytes."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE foo (x)")
        conn.execute("INSERT INTO foo VALUES (1)")
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["trace", "--lot", "X", "--down", "--store", "sqlite:///{file}"], EXIT_UNAVAILABLE),
        (["init", "root", "--password-stdin", "--store", "sqlite:///{file}"], EXIT_UNAVAILABLE),
        (
            ["copy-store", "--store", "sqlite:///{source}", "--to", "sqlite:///{file}"],
            EXIT_UNAVAILABLE,
        ),
        (["demo", "--no-serve", "--file", "{file}", "--size", "1"], EXIT_BAD_INPUT),
    ],
)
def test_another_applications_database_is_refused_and_left_as_it_was(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
) -> None:
    file = tmp_path / "their.db"
    before = _their_database(file)
    source = tmp_path / "plant.db"
    new_store(source)
    monkeypatch.setattr("sys.stdin", io.StringIO("first-admin-pass\n"))

    assert main([a.format(file=file, source=source) for a in argv]) == code

    err = capsys.readouterr().err
    assert err.startswith(
        f"error: {file} is a SQLite database of another application, not a tracegraph store: "
        "tables foo"
    )
    assert len(err.strip().splitlines()) == 1
    assert file.read_bytes() == before
    assert not any(keep.exists() for keep in store_files(file)[1:])


@pytest.mark.parametrize(
    "argv",
    [
        ["trace", "--lot", "X", "--down", "--store", "sqlite:///{file}"],
        ["users", "list", "--store", "sqlite:///{file}"],
        ["copy-store", "--store", "sqlite:///{file}", "--to", "sqlite:///{file}.copy"],
    ],
)
def test_an_empty_file_is_no_store_to_read_and_stays_empty(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    file = tmp_path / "plant.db"
    file.touch()

    assert main([a.format(file=file) for a in argv]) == EXIT_BAD_INPUT

    err = capsys.readouterr().err
    assert err == (
        f"error: there is no store at {file}, only an empty file (`tracegraph init` makes a "
        "new store in it)\n"
    )
    assert sorted(tmp_path.iterdir()) == [file] and file.stat().st_size == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("first-admin-pass\n"))
    assert main(["init", "root", "--password-stdin", "--store", f"sqlite:///{file}"]) == 0
    assert main(["users", "list", "--store", f"sqlite:///{file}"]) == 0
