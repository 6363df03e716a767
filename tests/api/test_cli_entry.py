"""The `tracegraph` entry point answers Ctrl-C while it still loads the command line's modules."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Installed in the child before anything of ours: the first import of pydantic (which the
# command line needs, as it needs FastAPI and OR-Tools) says so in a file, then takes a minute.
_SLOW_IMPORT = textwrap.dedent(
    """
    import os, sys, time

    class _SlowPydantic:
        def find_spec(self, name, path=None, target=None):
            if name == "pydantic":
                open(os.environ["TRACEGRAPH_TEST_IMPORTING"], "w").close()
                time.sleep(60)
            return None

    sys.meta_path.insert(0, _SlowPydantic())
    """
)


def _entry_script() -> str:
    """What the installed `tracegraph` script runs: the entry point pyproject.toml declares."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, name = scripts["tracegraph"].split(":")
    return f"import sys; from {module} import {name}; sys.exit({name}())"


def test_ctrl_c_while_the_command_line_loads_exits_130_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(_SLOW_IMPORT)
    importing = tmp_path / "importing"
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "TRACEGRAPH_TEST_IMPORTING": str(importing)}
    command = [sys.executable, "-c", _entry_script(), "schema", "events"]
    child = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not importing.exists():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child never imported pydantic"
            time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
        child.wait()

    assert (child.returncode, err, out) == (130, b"stopped (Ctrl-C)\n", b"")
