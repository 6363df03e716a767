"""Another application's SQLite file is no store: opening it is refused and the file stays as it
was (no tables added, still in its own journal mode)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from api.auth.embedded import EmbeddedAccountStore
from graph.embedded_store import EmbeddedStore, remove_store
from graph.errors import BadRequest, StoreUnavailable
from graph.sqlite_files import store_files

Opener = Callable[[Path], object]


def _other_application(path: Path, *tables: str) -> bytes:
    """Write an SQLite file of another application, with `tables`; return its bytes."""
    with sqlite3.connect(path) as conn:
        for table in tables:
            conn.execute(THEIR_TABLES[table])
    conn.close()
    return path.read_bytes()


THEIR_TABLES = {
    "foo": "CREATE TABLE foo (x)",
    "events": "CREATE TABLE events (id INTEGER PRIMARY KEY, name TEXT)",  # a name of ours
    "users": "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",  # the accounts' name
    "notes": "CREATE TABLE notes (body TEXT)",
    **{f"t{n}": f"CREATE TABLE t{n} (x)" for n in range(7)},
}


@pytest.mark.parametrize("tables", [("foo",), ("events",), ("users", "notes")])
@pytest.mark.parametrize("opener", [EmbeddedStore, EmbeddedAccountStore])
def test_another_applications_file_is_refused_and_left_as_it_was(
    tmp_path: Path, opener: Opener, tables: tuple[str, ...]
) -> None:
    path = tmp_path / "their.db"
    before = _other_application(path, *tables)

    with pytest.raises(StoreUnavailable) as refused:
        opener(path)

    assert refused.value.message == (
        f"{path} is a SQLite database of another application, not a tracegraph store: "
        f"tables {', '.join(sorted(tables))}"
    )
    assert path.read_bytes() == before
    assert [file.name for file in store_files(path) if file.exists()] == ["their.db"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()


def test_a_store_from_before_the_stamps_opens_and_theirs_beside_it_does_not(
    tmp_path: Path,
) -> None:
    ours = tmp_path / "ours.db"
    EmbeddedStore(ours).close()
    EmbeddedAccountStore(ours).close()
    with sqlite3.connect(ours) as conn:  # as versions before the stamps left a store
        conn.execute("DROP TABLE schema_stamps")
        conn.execute("ALTER TABLE events DROP COLUMN recorded_by")
    conn.close()
    reopened = EmbeddedStore(ours)
    assert reopened.counts() == {"edges": 0, "events": 0}
    reopened.close()
    EmbeddedAccountStore(ours).close()

    theirs = tmp_path / "theirs.db"
    before = _other_application(theirs, "events")
    with pytest.raises(StoreUnavailable, match="another application"):
        EmbeddedStore(theirs)
    assert theirs.read_bytes() == before


def test_a_graph_from_before_the_stamps_opens_for_the_accounts_first(tmp_path: Path) -> None:
    ours = tmp_path / "ours.db"
    EmbeddedStore(ours).close()
    with sqlite3.connect(ours) as conn:  # a graph store before the stamps and the accounts
        conn.execute("DROP TABLE schema_stamps")
    conn.close()

    EmbeddedAccountStore(ours).close()

    reopened = EmbeddedStore(ours)
    assert reopened.counts() == {"edges": 0, "events": 0}
    reopened.close()


def test_another_applications_file_is_not_removed_in_place_of_a_store(tmp_path: Path) -> None:
    path = tmp_path / "their.db"
    before = _other_application(path, *(f"t{n}" for n in range(7)))

    with pytest.raises(BadRequest) as refused:
        remove_store(path)

    assert refused.value.message == (
        f"{path} is a SQLite database of another application, not a tracegraph store: "
        "tables t0, t1, t2, t3, t4 (and 2 more); it stays as it is: name a store file or a new one"
    )
    assert path.read_bytes() == before
