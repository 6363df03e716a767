"""A demo killed outright (SIGKILL, a power cut) cannot remove the plant it was making: the next
demo on the same file removes it once its process is gone, and never one a live process makes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from api.cli import main
from graph.embedded_store import EmbeddedStore, store_files
from ingest.service import IngestService
from tests.fixtures.events import Events

REPO = Path(__file__).resolve().parents[2]


def _killed_demo(path: Path) -> Path:
    """Start a demo on `path` in a child process, kill it with SIGKILL while it writes its plant,
    and return the file it was making."""
    script = "import sys; from api.cli_entry import main; sys.exit(main())"
    argv = ["demo", "--no-serve", "--file", str(path), "--size", "3000"]
    child = subprocess.Popen(
        [sys.executable, "-c", script, *argv], cwd=REPO, stderr=subprocess.PIPE
    )
    making = path.with_name(f"{path.name}.{child.pid}.making")
    try:
        deadline = time.monotonic() + 60
        while not store_files(making)[1].exists():  # its log is being written
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the demo never began its plant"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert making.exists() and not path.exists()
    return making


def _exited_pid() -> int:
    """The process id of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_demo_removes_what_a_killed_one_left_but_not_what_a_live_one_makes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.db"
    killed = _killed_demo(path)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        making = path.with_name(f"{path.name}.{live.pid}.making")  # a demo that runs meanwhile
        store = EmbeddedStore(making)
        IngestService(store).ingest([Events().receive("L-1", 10, supplier_lot="A-77")])
        store.close()

        assert main(["demo", "--no-serve", "--file", str(path), "--size", "1"]) == 0

        assert not any(file.exists() for file in store_files(killed))
        assert sorted(tmp_path.iterdir()) == [path, making]
        store = EmbeddedStore(making)
        assert store.counts()["events"] == 1
        store.close()
    finally:
        live.kill()
        live.wait()
    assert "demo plant:" in capsys.readouterr().out


def test_a_leftover_name_on_a_file_that_is_not_a_store_keeps_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.db"
    notes = path.with_name(f"{path.name}.{_exited_pid()}.making")
    notes.write_text("precious notes\n")

    assert main(["demo", "--no-serve", "--file", str(path), "--size", "1"]) == 0

    assert notes.read_text() == "precious notes\n"
    assert sorted(tmp_path.iterdir()) == [path, notes]
    assert f"{notes} is not a store (not an SQLite file)" in capsys.readouterr().err
