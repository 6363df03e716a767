"""What the command line writes is UTF-8 whatever the locale, as `--out` writes files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.cli import main
from api.recall import RecallService
from graph.embedded_store import EmbeddedStore
from ingest.service import IngestService
from tests.fixtures.events import Events

NAME = "Ünïcödé 病院"
ROOT = Path(__file__).resolve().parents[2]


def _plant(events: Events) -> list[dict[str, object]]:
    return [
        events.receive("L-1", 10, supplier_lot="A-77"),
        events("ship", shipment="SH-1", customer=NAME, items=[{"lot": "L-1", "qty": "2"}]),
    ]


def _case(path: Path, events: Events) -> str:
    store = EmbeddedStore(path)
    try:
        ingest = IngestService(store)
        ingest.ingest(_plant(events))
        RecallService(store, ingest).open(
            "RC-1", "t", "r", [{"id": "supplier_lot:ACME/A-77"}], "ana"
        )
    finally:
        store.close()
    return f"sqlite:///{path}"


@pytest.mark.parametrize(
    "argv",
    [
        ["recall", "export", "RC-1", "--format", "csv"],
        ["recall", "export", "RC-1", "--format", "html"],
        ["recall", "show", "RC-1"],
        ["trace", "--lot", "L-1", "--down"],
    ],
)
def test_standard_output_is_utf8_whatever_its_encoding(
    tmp_path: Path, events: Events, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    store = _case(tmp_path / "c.db", events)
    written = io.BytesIO()
    ascii_out = io.TextIOWrapper(written, encoding="ascii")  # as under LC_ALL=C
    monkeypatch.setattr(sys, "stdout", ascii_out)
    assert main([*argv, "--store", store]) == 0
    ascii_out.flush()
    text = written.getvalue().decode("utf-8")
    assert NAME in text, text


def test_a_c_locale_reads_and_writes_utf8(tmp_path: Path, events: Events) -> None:
    store = f"sqlite:///{tmp_path / 'c.db'}"
    env = {
        **os.environ,
        "LC_ALL": "C",
        "PYTHONUTF8": "0",
        "PYTHONCOERCECLOCALE": "0",
        "PYTHONIOENCODING": "",
    }

    def run(*argv: str, given: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        command = [sys.executable, "-m", "api.cli", *argv, "--store", store]
        return subprocess.run(
            command, input=given, capture_output=True, cwd=ROOT, env=env, timeout=120
        )

    EmbeddedStore(tmp_path / "c.db").close()
    plant = json.dumps(_plant(events), ensure_ascii=False).encode("utf-8")
    done = run("ingest", "-", given=plant)
    assert (done.returncode, done.stderr) == (0, b""), done.stderr
    done = run(
        "recall",
        "open",
        "RC-1",
        "--title",
        "t",
        "--reason",
        "r",
        "--suspect",
        "supplier_lot:ACME/A-77",
    )
    assert (done.returncode, done.stderr) == (0, b""), done.stderr
    done = run("recall", "export", "RC-1", "--format", "csv")
    assert (done.returncode, done.stderr) == (0, b""), done.stderr
    assert NAME.encode("utf-8") in done.stdout
