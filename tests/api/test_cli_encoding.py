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


def _piped(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Standard input as Python makes it for a pipe under a UTF-8 locale: bytes that are not
    UTF-8 read as lone surrogates."""
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")
    monkeypatch.setattr(sys, "stdin", stream)


def test_standard_input_not_utf8_is_refused_by_position(
    tmp_path: Path,
    events: Events,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = f"sqlite:///{tmp_path / 'c.db'}"
    EmbeddedStore(tmp_path / "c.db").close()
    event = (
        json.dumps(events.receive("L-\u00e9", 10), ensure_ascii=False)
        .encode("utf-8")
        .replace(b"\xc3\xa9", b"\xff")
    )
    _piped(monkeypatch, event)
    assert main(["ingest", "-", "--store", store]) == 2
    at = event.index(b"\xff")
    assert capsys.readouterr().err == f"error: standard input is not UTF-8 text (byte {at})\n"
    store_after = EmbeddedStore(tmp_path / "c.db")
    try:
        assert store_after.counts()["events"] == 0
    finally:
        store_after.close()


def test_a_piped_password_not_utf8_is_not_repeated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _piped(monkeypatch, b"first-\xffadmin-pass\n")
    init = ["init", "root", "--password-stdin", "--store", f"sqlite:///{tmp_path / 'c.db'}"]
    assert main(init) == 2
    said = capsys.readouterr().err
    assert said == "error: standard input is not UTF-8 text (byte 6)\n"
    assert not (tmp_path / "c.db").exists()


@pytest.mark.parametrize(
    "argv", [["ingest", "-"], ["init", "root", "--password-stdin"], ["epcis", "import", "-"]]
)
def test_a_closed_standard_input_is_said(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    monkeypatch.setattr(sys, "stdin", None)  # as Python leaves it when started with it closed
    assert main([*argv, "--store", f"sqlite:///{tmp_path / 'c.db'}"]) == 2
    assert capsys.readouterr().err.startswith("error: standard input is closed")
    assert not (tmp_path / "c.db").exists()


def test_a_file_written_with_a_byte_order_mark_is_ingested(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    EmbeddedStore(tmp_path / "c.db").close()
    lines = "\r\n".join(json.dumps(event) for event in _plant(events))
    (tmp_path / "events.ndjson").write_text(lines, encoding="utf-8-sig")  # as Windows tools save
    argv = ["ingest", str(tmp_path / "events.ndjson"), "--store", f"sqlite:///{tmp_path / 'c.db'}"]
    assert main(argv) == 0
    assert capsys.readouterr().out == "2 created, 0 duplicates\n"
