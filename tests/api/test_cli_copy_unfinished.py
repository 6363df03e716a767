"""A copy into a store file or a Neo4j database killed outright (kill -9, a power cut) leaves part
of the plant: every command that opens a store refuses that store, and only `copy-store --resume`
finishes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli import EXIT_BAD_INPUT, EXIT_UNAVAILABLE, main
from api.deps import Services
from api.settings import Settings
from graph.embedded_store import EmbeddedStore
from graph.errors import StoreUnavailable
from tests.api.conftest import laptop_plant
from tests.fixtures.events import Events
from tests.fixtures.neo4j_server import Neo4jTarget
from tests.fixtures.stores import emptied_neo4j

REPO = Path(__file__).resolve().parents[2]

# The command line with a copy that carries the log an entry at a time and, the first entry
# carried, waits in its next write for the test to kill it.
_STOPPING_COPY = textwrap.dedent(
    """
    import os, sys, time
    from functools import partial

    import api.cli_copy
    import ingest.store_copy
    from api.cli import main

    appended, writes = ingest.store_copy._append, []

    def append(tx, changes):
        writes.append(changes)
        if len(writes) == 2:
            open(os.environ["TRACEGRAPH_TEST_STOPPED"], "w").close()
            time.sleep(60)
        appended(tx, changes)

    ingest.store_copy._append = append
    api.cli_copy.copy_plant = partial(ingest.store_copy.copy_plant, chunk=1)
    sys.exit(main())
    """
)


@pytest.fixture
def source(tmp_path: Path, events: Events) -> str:
    return laptop_plant(tmp_path, events)


def _killed_copy(source: str, to: str, tmp_path: Path) -> None:
    """Run `copy-store` in a child process and kill it with SIGKILL part-way through the log."""
    stopped = tmp_path / "stopped"
    env = {**os.environ, "TRACEGRAPH_TEST_STOPPED": str(stopped)}
    argv = ["copy-store", "--store", source, "--to", to]
    child = subprocess.Popen(
        [sys.executable, "-c", _STOPPING_COPY, *argv], cwd=REPO, env=env, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not stopped.exists():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the copy never carried its first log entry"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()


def _trace(store: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    argv = ["trace", "--supplier", "ACME", "--supplier-lot", "A-77", "--down", "--json"]
    code = main([*argv, "--store", store])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_killed_copy_is_refused_by_every_opening_until_resume_finishes_it(
    source: str, tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "server.db"
    copy = f"sqlite:///{path}"
    _killed_copy(source, copy, tmp_path)
    carried = EmbeddedStore(path, finishing_copy=True)  # part of the plant
    assert carried.counts()["events"] == 1
    carried.close()
    _refused_until_resumed(source, copy, str(path), Settings(store=copy), tmp_path, events, capsys)
    assert _trace(copy, capsys) == _trace(source, capsys)


def _refused_until_resumed(
    source: str,
    copy: str,
    shown: str,
    settings: Settings,
    tmp_path: Path,
    events: Events,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every opening of the killed copy `copy` (shown as `shown`) is refused, a copy into it
    without --resume too; with --resume it is finished."""
    laptop = f"sqlite:///{(tmp_path / 'laptop.db').resolve()}"
    unfinished = (
        f"{shown} is an unfinished copy of {laptop}: run copy-store --resume to finish it, "
        "or remove it"
    )
    assert _trace(copy, capsys) == (EXIT_UNAVAILABLE, "", f"error: {unfinished}\n")
    sent = tmp_path / "events.json"
    sent.write_text(json.dumps([events.receive("L-9", 1, supplier_lot="B-1")]))
    assert main(["ingest", str(sent), "--store", copy]) == EXIT_UNAVAILABLE
    assert capsys.readouterr().err == f"error: {unfinished}\n"
    with pytest.raises(StoreUnavailable, match="an unfinished copy of"):  # as `serve` opens it
        Services.from_settings(settings)
    elsewhere = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["copy-store", "--store", copy, "--to", elsewhere]) == EXIT_UNAVAILABLE
    assert capsys.readouterr().err == f"error: {unfinished}\n"
    assert not (tmp_path / "x.db").exists()

    assert main(["copy-store", "--store", source, "--to", copy]) == EXIT_BAD_INPUT
    assert "--resume finishes a copy into it that stopped" in capsys.readouterr().err
    assert main(["copy-store", "--store", source, "--to", copy, "--resume"]) == 0
    assert "1 of them already there, from the copy that stopped" in capsys.readouterr().out


@pytest.fixture
def neo4j(neo4j_login: Neo4jTarget) -> Iterator[Neo4jTarget]:
    """The session's Neo4j, emptied before and after; its login is in the settings of every
    command, the copy's process among them."""
    emptied_neo4j(neo4j_login)
    yield neo4j_login
    emptied_neo4j(neo4j_login)


@pytest.mark.neo4j
def test_a_killed_copy_into_neo4j_is_refused_by_every_opening_until_resume_finishes_it(
    source: str,
    neo4j: Neo4jTarget,
    tmp_path: Path,
    events: Events,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from graph.neo4j_store import Neo4jStore

    copy = neo4j.uri
    _killed_copy(source, copy, tmp_path)
    login = {"user": neo4j.user, "password": neo4j.password}
    carried = Neo4jStore(copy, **login, finishing_copy=True)  # part of the plant
    assert carried.counts()["events"] == 1
    carried.close()
    settings = Settings(store=copy, neo4j_user=neo4j.user, neo4j_password=neo4j.password)
    _refused_until_resumed(source, copy, copy, settings, tmp_path, events, capsys)
    # The same answer; Neo4j may list a node's fields in another order.
    (code, copied, _), (_, whole, _) = _trace(copy, capsys), _trace(source, capsys)
    assert (code, json.loads(copied)) == (0, json.loads(whole))
    Neo4jStore(copy, **login).close()  # finished: it opens as any store does
