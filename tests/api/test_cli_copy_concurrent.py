"""Two `tracegraph copy-store` runs into one embedded store file: the second is refused."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from api.cli import EXIT_UNAVAILABLE, main
from graph.embedded_store import EmbeddedStore, store_files
from tests.api.conftest import laptop_plant
from tests.fixtures.events import Events


@contextmanager
def _copy_under_way(path: Path) -> Iterator[None]:
    """Hold `path` as a copy into it holds it (flock: refused to any other open file)."""
    held = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield
    finally:
        os.close(held)


@pytest.mark.parametrize("target", ["file of no bytes", "empty store"])
def test_a_copy_into_a_file_another_copy_fills_is_refused_and_writes_nothing(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    source = laptop_plant(tmp_path, events)
    path = tmp_path / "server.db"
    if target == "empty store":
        EmbeddedStore(path).close()
    else:
        path.touch()
    before = path.read_bytes()
    with _copy_under_way(path):
        argv = ["copy-store", "--store", source, "--to", f"sqlite:///{path}"]
        assert main(argv) == EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert f"error: another copy-store is filling {path}: let it finish" in err
    assert "copying:" not in err  # refused before it began
    assert path.read_bytes() == before
    assert [file.name for file in store_files(path) if file.exists()] == ["server.db"]


def test_a_hold_on_a_file_no_longer_at_its_path_is_known(tmp_path: Path) -> None:
    # A copy that opened a file another copy made, then removed failing, before holding it:
    # its hold would keep no one out of a file made at the path since.
    from api.cli_copy import _still_at

    path = tmp_path / "plant.db"
    path.write_bytes(b"")
    held = os.open(path, os.O_RDONLY)
    try:
        assert _still_at(held, path)
        path.unlink()
        assert not _still_at(held, path)
        path.write_bytes(b"")
        assert not _still_at(held, path)
    finally:
        os.close(held)
