"""A new embedded store holds password hashes, session tokens and partners' keys: its files are
its owner's alone (0600), whatever the umask; an existing store keeps the mode it was given."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli import main
from api.settings import Settings
from graph.sqlite_files import store_files
from tests.api.conftest import laptop_plant
from tests.fixtures.events import Events

OWNER_ONLY = 0o600


# 0o277 takes the owner's own write bit away: the mode a new store is made with alone gives 0400.
@pytest.fixture(
    params=[0o022, 0o002, 0o000, 0o277], ids=["umask-022", "umask-002", "umask-000", "umask-277"]
)
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    was = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(was)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _modes_while_open(path: Path) -> list[int]:
    """The modes of the store at `path` and of the files SQLite keeps beside it while open."""
    from api.deps import Services

    services = Services.from_settings(Settings(store=f"sqlite:///{path}"))
    try:
        files = store_files(path)
        assert all(file.exists() for file in files)
        return [_mode(file) for file in files]
    finally:
        services.close()


def test_init_makes_a_store_only_its_owner_reads(
    umask: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plant.db"
    monkeypatch.setattr("sys.stdin", io.StringIO("first-admin-pass\n"))

    assert main(["init", "root", "--password-stdin", "--store", f"sqlite:///{path}"]) == 0

    assert _mode(path) == OWNER_ONLY
    assert _modes_while_open(path) == [OWNER_ONLY] * 3


def test_a_copy_into_a_new_file_is_its_owners_alone(
    umask: int, tmp_path: Path, events: Events
) -> None:
    source = laptop_plant(tmp_path, events)
    copy = tmp_path / "copy.db"

    assert main(["copy-store", "--store", source, "--to", f"sqlite:///{copy}"]) == 0

    assert _mode(copy) == OWNER_ONLY
    assert _modes_while_open(copy) == [OWNER_ONLY] * 3


def test_the_demo_store_is_its_owners_alone(umask: int, tmp_path: Path) -> None:
    path = tmp_path / "demo.db"

    assert main(["demo", "--no-serve", "--file", str(path), "--size", "1"]) == 0

    assert _mode(path) == OWNER_ONLY


def test_an_existing_store_keeps_the_mode_the_plant_gave_it(tmp_path: Path) -> None:
    path = tmp_path / "plant.db"
    _modes_while_open(path)
    path.chmod(0o640)  # a group of auditors reads it, say

    assert _modes_while_open(path) == [0o640] * 3
    assert _mode(path) == 0o640
