"""`serve` and `demo` that cannot serve change nothing: the port and the store are checked first."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli import main
from graph.embedded_store import EmbeddedStore, remove_store
from ingest.service import IngestService
from tests.fixtures.events import Events

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process (here: this socket) listens on."""
    with socket.create_server(("127.0.0.1", 0)) as held:
        yield held.getsockname()[1]


def test_a_demo_whose_port_is_taken_leaves_the_running_demos_file(
    tmp_path: Path, taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    running = tmp_path / "demo.db"
    running.write_bytes(b"the running demo's store")

    argv = ["demo", "--port", str(taken_port), "--file", str(running), "--size", "1"]
    assert main(argv) == 3

    err = capsys.readouterr().err
    assert f"error: cannot listen on 127.0.0.1:{taken_port}: " in err
    assert len(err.strip().splitlines()) == 1
    assert running.read_bytes() == b"the running demo's store"


def test_serve_on_a_taken_port_makes_no_store(
    tmp_path: Path, taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    new = tmp_path / "plant.db"

    assert main(["serve", "--port", str(taken_port), "--store", f"sqlite:///{new}"]) == 3

    assert "cannot listen on" in capsys.readouterr().err
    assert not new.exists()


def test_serve_makes_no_folder_where_a_typo_points(
    tmp_path: Path, taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'typo' / 'plant.db'}"

    # Said before the port is taken, as a malformed URL is.
    assert main(["serve", "--port", str(taken_port), "--store", store]) == 2

    err = capsys.readouterr().err
    assert err == f"error: --store: there is no folder {tmp_path / 'typo'}\n"
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize(
    ("host", "code", "said"),
    [
        ("ä" * 70, 3, f"error: cannot listen on {'ä' * 70}:"),  # a label past 63 characters
        ("a\udcff", 2, "error: b'a\\xff' is not UTF-8 text"),  # the byte 0xff, as Python has it
    ],
    ids=["long-label", "not-utf-8"],
)
def test_a_host_that_cannot_be_encoded_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str, code: int, said: str
) -> None:
    store = tmp_path / "plant.db"

    argv = ["serve", "--host", host, "--port", "8000", "--store", f"sqlite:///{store}"]
    assert main(argv) == code

    err = capsys.readouterr().err
    assert err.startswith(said) and len(err.strip().splitlines()) == 1, err
    assert not store.exists()


def test_serve_says_a_malformed_store_url_before_it_takes_the_port(
    taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--port", str(taken_port), "--store", "bolt://127.0.0.1:abc"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: the store URL 'bolt://127.0.0.1:abc' is not neo4j://")
    assert len(err.strip().splitlines()) == 1


def test_a_demo_does_not_remake_a_store_another_connection_has_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.db"
    served = EmbeddedStore(path)  # as a running server holds it, idle between requests
    try:
        served.counts()
        inode = path.stat().st_ino

        assert main(["demo", "--no-serve", "--file", str(path), "--size", "1"]) == 3

        assert "is open in another process" in capsys.readouterr().err
        assert path.stat().st_ino == inode
        assert served.counts()["events"] == 0
    finally:
        served.close()


@pytest.mark.parametrize("earlier", [False, True])
def test_a_demo_that_fails_while_making_its_plant_leaves_the_file_as_it_was(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    earlier: bool,
) -> None:
    import api.cli

    path = tmp_path / "demo.db"
    if earlier:  # an earlier demo's store, with its plant: kept until a new one is whole
        _store_with_one_event(path)
    other = tmp_path / "plant.db"
    kept = EmbeddedStore(other)
    kept.close()
    before = other.read_bytes()

    def full(_: object) -> list[str]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(api.cli, "seed_demo_lot_schemes", full)
    assert main(["demo", "--no-serve", "--file", str(path), "--size", "1"]) == 2

    err = capsys.readouterr().err
    assert f"the demo plant was not finished: {path} is as it was" in err
    assert "error: No space left on device" in err
    assert other.read_bytes() == before
    if earlier:
        assert sorted(tmp_path.iterdir()) == [path, other]
        store = EmbeddedStore(path)
        try:
            assert store.counts()["events"] == 1
        finally:
            store.close()
    else:
        assert sorted(tmp_path.iterdir()) == [other]


def _store_with_one_event(path: Path) -> None:
    store = EmbeddedStore(path)
    try:
        IngestService(store).ingest([Events().receive("L-1", 10, supplier_lot="A-77")])
    finally:
        store.close()


def _interrupted(argv: list[str]) -> int:
    try:
        return main(argv)
    except KeyboardInterrupt:  # escaping, it would stop the test run itself
        pytest.fail("Ctrl-C came out of the command line")


def test_ctrl_c_while_a_demo_makes_its_plant_removes_it_and_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import api.cli

    path = tmp_path / "demo.db"

    def pressed(_: object) -> list[str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(api.cli, "seed_demo_lot_schemes", pressed)
    assert _interrupted(["demo", "--no-serve", "--file", str(path), "--size", "1"]) == 130

    err = capsys.readouterr().err
    assert err == f"the demo plant was not finished: {path} is as it was\nstopped (Ctrl-C)\n"
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_a_server_starts_exits_130_and_frees_the_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import api.cli_serve

    def pressed(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(api.cli_serve.Services, "from_settings", pressed)
    port = _free_port()
    argv = ["serve", "--port", str(port), "--store", f"sqlite:///{tmp_path / 'plant.db'}"]
    assert _interrupted(argv) == 130

    assert capsys.readouterr().err == "stopped (Ctrl-C)\n"
    socket.create_server(("127.0.0.1", port)).close()


def test_a_demo_that_cannot_make_its_file_does_not_say_it_removed_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    import graph.embedded_store

    def unwritable(*_: object, **__: object) -> None:  # as SQLite fails where it may not write
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(graph.embedded_store, "EmbeddedStore", unwritable)
    path = tmp_path / "demo.db"
    assert main(["demo", "--no-serve", "--file", str(path), "--size", "1"]) == 3

    err = capsys.readouterr().err  # the file it makes beside demo.db, to rename when whole
    making = f"{path}.{os.getpid()}.making"
    assert err == f"error: cannot open the embedded store {making}: unable to open database file\n"


def test_a_demo_leaves_a_file_that_is_not_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("precious notes\n")

    assert main(["demo", "--no-serve", "--file", str(notes), "--size", "1"]) == 2

    err = capsys.readouterr().err
    assert f"error: {notes} is not a store (not an SQLite file)" in err
    assert len(err.strip().splitlines()) == 1
    assert notes.read_text() == "precious notes\n"
    assert sorted(tmp_path.iterdir()) == [notes]


def test_an_empty_file_or_a_store_is_removed(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    store = tmp_path / "store.db"
    EmbeddedStore(store).close()
    for path in (empty, store, tmp_path / "missing.db"):
        remove_store(path)
    assert list(tmp_path.iterdir()) == []


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
    return port


def _started(argv: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start the command line in a child process and wait until it answers on `port`."""
    script = "import sys; from api.cli import main; sys.exit(main())"
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", script, *argv, "--port", str(port)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
            return child
        except OSError:
            if child.poll() is not None or time.monotonic() > deadline:
                child.kill()
                raise AssertionError(log.read_text()) from None
            time.sleep(0.2)


def test_ctrl_c_stops_the_server_quietly_with_status_130(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    child = _started(["serve", "--store", f"sqlite:///{tmp_path / 'plant.db'}"], _free_port(), log)
    try:
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=30) == 130, log.read_text()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    text = log.read_text()
    assert "Application shutdown complete" in text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text


def test_a_stopped_server_cancels_its_scheduling_jobs(tmp_path: Path) -> None:
    port, log = _free_port(), tmp_path / "demo.log"
    child = _started(["demo", "--file", str(tmp_path / "demo.db"), "--size", "1"], port, log)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        login = urllib.parse.urlencode({"username": "admin", "password": "demo-admin-pass"})
        with urllib.request.urlopen(f"{base}/auth/token", data=login.encode()) as answer:
            token = json.load(answer)["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        # Set-ups keep it off every quick path: CP-SAT searches to the limit.
        step = {"setup_default": 3, "alternatives": [{"machine": "m0", "unit_time": 5}]}
        orders = [{"id": f"o{j}", "family": "ab"[j % 2], "operations": [step]} for j in range(30)]
        problem = {"machines": [{"id": "m0"}], "orders": orders}
        body = json.dumps({"problem": problem, "options": {"time_limit": 300, "workers": 1}})
        sent = urllib.request.Request(f"{base}/schedules", data=body.encode(), headers=headers)
        with urllib.request.urlopen(sent) as answer:
            job = json.load(answer)["id"]
        asked = urllib.request.Request(f"{base}/schedules/{job}", headers=headers)
        while True:
            with urllib.request.urlopen(asked) as answer:
                if json.load(answer)["status"] == "running":
                    break
            time.sleep(0.1)
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=30) == 130, log.read_text()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
