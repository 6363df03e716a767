"""Standard output that cannot be written: its own exit code and line; the store keeps the write."""

from __future__ import annotations

import errno
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from api import cli
from api.cli import main
from graph.embedded_store import EmbeddedStore
from tests.fixtures.events import Events
from tests.fixtures.stores import new_store

REPO = Path(__file__).resolve().parents[2]


class _Full(io.StringIO):
    """A standard output on a full disk: nothing it is given can be written."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _events_file(tmp_path: Path, events: Events) -> Path:
    path = tmp_path / "events.json"
    path.write_text(json.dumps([events.receive("L-1", 10), events.receive("L-2", 5)]))
    return path


def _logged(store: Path) -> int:
    opened = EmbeddedStore(store)
    try:
        return len(opened.events(0, 10))
    finally:
        opened.close()


def test_an_ingest_whose_output_fails_says_so_and_that_the_events_are_in(
    tmp_path: Path,
    events: Events,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = tmp_path / "plant.db"
    url = new_store(store)
    monkeypatch.setattr(sys, "stdout", _Full())

    assert main(["ingest", str(_events_file(tmp_path, events)), "--store", url]) == 5

    said = capsys.readouterr().err
    assert said.startswith("error: cannot write standard output: No space left on device")
    assert "any change it makes to the store is made" in said
    assert _logged(store) == 2  # and not refused as bad input


def test_a_full_disk_under_standard_output_exits_5_in_one_line(
    tmp_path: Path, events: Events
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    store = tmp_path / "plant.db"
    url = new_store(store)
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", "ingest", str(_events_file(tmp_path, events))],
            cwd=REPO,
            env={**os.environ, "TRACEGRAPH_STORE": url},
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert done.returncode == 5
    assert done.stderr.startswith("error: cannot write standard output: No space left on device")
    assert len(done.stderr.splitlines()) == 1  # no traceback, at exit or before
    assert _logged(store) == 2


def test_a_reader_that_went_away_is_no_error_and_no_traceback(
    tmp_path: Path, events: Events
) -> None:
    store = tmp_path / "plant.db"
    url = new_store(store)
    script = "import sys; from api.cli import main; sys.exit(main(sys.argv[1:]))"
    command = [sys.executable, "-c", script, "ingest", str(_events_file(tmp_path, events))]
    child = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, "TRACEGRAPH_STORE": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # as `| head -c0` would, before the command prints anything
    said = child.stderr.read().decode()
    assert child.wait(timeout=60) == 0
    assert said == ""
    assert _logged(store) == 2


def test_a_trace_whose_output_fails_exits_5(
    tmp_path: Path,
    events: Events,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = new_store(tmp_path / "plant.db")
    assert main(["ingest", str(_events_file(tmp_path, events)), "--store", url]) == 0
    monkeypatch.setattr(sys, "stdout", _Full())

    assert main(["trace", "--lot", "L-1", "--down", "--store", url]) == 5
    assert capsys.readouterr().err.startswith("error: cannot write standard output")


def test_input_repeated_in_an_error_comes_with_its_control_characters_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = new_store(tmp_path / "plant.db")
    window = ["--window", "M\x1b[31mX\u202e", "soon", "2026-03-01T00:00:00Z"]

    assert (
        main(["recall", "open", "RC-1", "--title", "t", "--reason", "r", *window, "--store", url])
        == 2
    )
    said = capsys.readouterr().err
    assert said.startswith("error: --window M\\x1b[31mX\\u202e FROM:")
    assert "\x1b" not in said and "\u202e" not in said

    assert main(["ingest", str(tmp_path / "no\x1b[2Jsuch.json"), "--store", url]) == 2
    said = capsys.readouterr().err
    assert "no\\x1b[2Jsuch.json" in said and "\x1b" not in said


def test_an_argument_the_parser_refuses_comes_with_its_control_characters_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["schema", "events", "\x1b]0;owned\x07"])
    assert stopped.value.code == 2
    said = capsys.readouterr().err
    assert "\\x1b]0;owned\\x07" in said and "\x1b" not in said and "\x07" not in said


def _serving_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdout: io.StringIO
) -> tuple[int, list[object]]:
    """Run `demo` (which serves) with `stdout` as standard output; return its exit code and
    the standard output the server was started with, if it was."""
    served: list[object] = []

    def run_server(settings: object, listener: socket.socket) -> bool:
        listener.close()
        served.append(sys.stdout)  # where the server's log config sends its audit lines
        return True

    monkeypatch.setattr(cli, "run_server", run_server)
    monkeypatch.setattr(sys, "stdout", stdout)
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    argv = ["demo", "--file", str(tmp_path / "d.db"), "--size", "1", "--port", str(port)]
    return main(argv), served


def test_a_demo_serves_on_standard_output_itself_as_serve_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A guarded one would drop every audit line after the first that failed, unsaid.
    out = io.StringIO()
    code, served = _serving_demo(tmp_path, monkeypatch, out)
    assert code == 0 and served == [out]
    assert "demo accounts" in out.getvalue()


def test_a_demo_whose_lines_cannot_be_written_does_not_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, served = _serving_demo(tmp_path, monkeypatch, _Full())
    assert code == 5 and served == []
    said = capsys.readouterr().err
    assert said.startswith("error: cannot write standard output: No space left on device")
    assert len(said.splitlines()) == 1
    assert (tmp_path / "d.db").exists()  # the plant is made, as said
