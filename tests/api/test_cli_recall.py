"""`tracegraph recall` on a real embedded store."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from api.cli import main
from api.recall import RecallService
from api.supplier_portal import SupplierPortal, Upload
from graph.embedded_store import EmbeddedStore
from ingest.service import IngestService
from tests.fixtures.events import Events
from tests.fixtures.stores import new_store

# Two lots of two heats: one heat's supplier is late, the other's deadline is yet to come.
LATE_AND_NOT = (("L-1", "A-77", "2020-01-01T00:00:00Z"), ("L-2", "B-12", "2999-01-01T00:00:00Z"))


def _plant(path: Path, events: Events, *also: tuple[str, str]) -> str:
    """A store of lot L-1 of heat A-77 made into SN-1 and SN-2, SN-1 shipped to HOSP in SH-1,
    and SN-2 in each shipment of `also` (shipment, customer)."""
    store = new_store(path)
    plant = [events.receive("L-1", 10, supplier_lot="A-77")]
    plant.append(events("serialize", lot="L-1", serials=["SN-1", "SN-2"]))
    for shipment, customer, serial in (("SH-1", "HOSP", "SN-1"), *((*a, "SN-2") for a in also)):
        plant.append(
            events("ship", shipment=shipment, customer=customer, items=[{"serial": serial}])
        )
    path.with_suffix(".json").write_text(json.dumps(plant))
    assert main(["ingest", str(path.with_suffix(".json")), "--store", store]) == 0
    return store


def test_recall_from_the_command_line(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _plant(tmp_path / "recall.db", events)
    assert (
        main(
            [
                "recall",
                "open",
                "RC-9",
                "--title",
                "A-77",
                "--reason",
                "bad heat",
                "--suspect",
                "supplier_lot:ACME/A-77",
                "--store",
                store,
            ]
        )
        == 0
    )
    assert "3 items in scope, 1 customers" in capsys.readouterr().out
    assert main(["recall", "hold", "RC-9", "--reason", "quarantine", "--store", store]) == 0
    assert "quarantined 2 in-plant items" in capsys.readouterr().out
    assert main(["recall", "notify", "RC-9", "--message", "send back SN-1", "--store", store]) == 0
    assert "notice:RC-9-HOSP  HOSP  sent" in capsys.readouterr().out
    assert main(["recall", "show", "RC-9", "--store", store]) == 0
    shown = capsys.readouterr().out
    assert "[notifying]" in shown and "no answer yet" in shown
    assert main(["recall", "export", "RC-9", "--format", "csv", "--store", store]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["id"] for r in rows} == {"lot:L-1", "serial:SN-1", "serial:SN-2"}
    report = tmp_path / "report.html"
    assert (
        main(
            ["recall", "export", "RC-9", "--format", "html", "--out", str(report), "--store", store]
        )
        == 0
    )
    assert "<svg" in report.read_text()
    nowhere = str(tmp_path / "no-such-folder" / "report.html")
    assert main(["recall", "export", "RC-9", "--out", nowhere, "--store", store]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["recall", "open", "RC-10", "--title", "t", "--reason", "r", "--store", store]) == 2
    assert "at least one --suspect" in capsys.readouterr().err
    slashed = ["recall", "open", "RC/11", "--title", "t", "--reason", "r", "--suspect", "lot:L-1"]
    assert main([*slashed, "--store", store]) == 2
    assert 'so it holds no "/"' in capsys.readouterr().err
    # Refused, the events a command made are said as what was wrong: the user sent no batch.
    assert main(["recall", "close", "RC-9", "--reason", "done", "--store", store]) == 0
    capsys.readouterr()
    assert main(["recall", "hold", "RC-9", "--reason", "again", "--store", store]) == 2
    said = capsys.readouterr().err
    assert said == 'error: case "RC-9" is closed: open a new case\n', said
    long = ["recall", "open", "RC-12", "--title", "t", "--reason", "r" * 2001]
    assert main([*long, "--suspect", "lot:L-1", "--store", store]) == 2
    said = capsys.readouterr().err
    assert said.startswith("error: --reason: String should have at most"), said


TOO_LONG_REASON = "--reason: String should have at most 2000 characters"


def test_a_value_too_long_is_said_once_by_the_option_as_typed(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _plant(tmp_path / "long.db", events, ("SH-2", "CLINIC"))
    opened = ["recall", "open", "RC-1", "--suspect", "lot:L-1", "--store", store]
    asked = ["recall", "request-supplier", "RC-1", "--supplier-lot", "supplier_lot:ACME/A-77"]
    asked += ["--due-by", "2999-01-01T00:00:00Z", "--store", store]
    for argv, said in (
        (
            [*opened, "--title", "t" * 201, "--reason", "r"],
            "--title: String should have at most 200",
        ),
        ([*opened, "--title", "t", "--reason", "r" * 2001], "--reason: String should have at most"),
        ([*opened, "--title", "t", "--reason", "r", "--actor", "a" * 201], "--actor: String"),
    ):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {said}") and len(err.splitlines()) == 1, err
    assert main([*opened, "--title", "t", "--reason", "r"]) == 0
    for argv, said in (
        (
            [*asked, "--question", "q" * 5001],
            "--question: String should have at most 5000 characters",
        ),
        (
            [*asked, "--question", "q", "--supplier-lot", "supplier_lot:ACME/" + "A" * 201],
            "--supplier-lot: String should have at most 200 characters",
        ),
        (["recall", "hold", "RC-1", "--reason", "r" * 2001, "--store", store], TOO_LONG_REASON),
        (["recall", "close", "RC-1", "--reason", "r" * 2001, "--store", store], TOO_LONG_REASON),
        # One notice per customer, each refused alike: said once.
        (
            ["recall", "notify", "RC-1", "--message", "m" * 5001, "--store", store],
            "--message: String should have at most 5000 characters",
        ),
    ):
        capsys.readouterr()
        assert main(argv) == 2
        assert capsys.readouterr().err == f"error: {said}\n"
    assert main(["recall", "show", "RC-1", "--store", store]) == 0
    assert "[open]" in capsys.readouterr().out  # nothing refused was written


def test_asking_a_supplier_and_reading_the_answers(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ask.db"
    store = new_store(path)
    plant = tmp_path / "plant.json"
    plant.write_text(json.dumps([events.receive("L-1", 10, supplier_lot="A-77")]))
    assert main(["ingest", str(plant), "--store", store]) == 0
    opened = ["recall", "open", "RC-9", "--title", "t", "--reason", "r", "--suspect", "lot:L-1"]
    assert main([*opened, "--store", store]) == 0
    ask = ["recall", "request-supplier", "RC-9", "--supplier-lot", "supplier_lot:ACME/A-77"]
    ask += ["--question", "Send the heat certificate", "--store", store, "--actor", "ana"]
    assert main([*ask, "--due-by", "2026-05-01T12:00:00"]) == 2
    assert "--due-by needs a UTC offset" in capsys.readouterr().err
    assert main([*ask, "--due-by", "2026-05-01"]) == 2  # a date is not a time
    assert "--due-by: a time is RFC 3339 text with its offset" in capsys.readouterr().err
    assert main([*ask, "--due-by", "2026-05-01T12:00:00+02:00"]) == 0
    assert "asked ACME about supplier_lot:ACME/A-77" in capsys.readouterr().out
    assert main(["recall", "answers", "RC-9", "--store", store]) == 0
    listed = capsys.readouterr().out
    assert "[requested]  (asked)" in listed and "Send the heat certificate" in listed
    assert "no answer yet" in listed

    graph = EmbeddedStore(path)
    try:
        ingest = IngestService(graph)
        portal = SupplierPortal(graph, ingest, RecallService(graph, ingest))
        cert = Upload("cert.pdf", None, b"%PDF-1.7 heat A-77")
        portal.answer(
            "RC-9",
            "supplier_lot:ACME/A-77",
            text="re-certified",
            upstream=[{"lot": "BILLET-1", "heat": "A-77"}],
            uploads=[cert],
            actor="acme",
        )
    finally:
        graph.close()
    assert main(["recall", "answers", "RC-9", "--json", "--store", store]) == 0
    (answered,) = json.loads(capsys.readouterr().out)
    assert answered["state"] == "answered" and answered["answer"]["text"] == "re-certified"
    assert answered["answer"]["documents"][0]["name"] == "cert.pdf"
    assert main(["recall", "answers", "RC-9", "--store", store]) == 0
    assert "document: cert.pdf  application/pdf" in capsys.readouterr().out
    assert main(["recall", "export", "RC-9", "--format", "html", "--store", store]) == 0
    assert "re-certified" in capsys.readouterr().out


def test_answers_tell_a_deadline_passed_unanswered(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    store = new_store(tmp_path / "late.db")
    plant = tmp_path / "plant.json"
    plant.write_text(
        json.dumps([events.receive(lot, 10, supplier_lot=heat) for lot, heat, _ in LATE_AND_NOT])
    )
    assert main(["ingest", str(plant), "--store", store]) == 0
    opened = ["recall", "open", "RC-9", "--title", "t", "--reason", "r", "--suspect", "lot:L-1"]
    assert main([*opened, "--suspect", "lot:L-2", "--store", store]) == 0
    for _, heat, due in LATE_AND_NOT:
        ask = ["recall", "request-supplier", "RC-9", "--supplier-lot", f"supplier_lot:ACME/{heat}"]
        assert main([*ask, "--question", "Q", "--due-by", due, "--store", store]) == 0
    capsys.readouterr()
    assert main(["recall", "answers", "RC-9", "--store", store]) == 0
    listed = capsys.readouterr().out
    assert "(due by 2020-01-01T00:00:00.000000Z, overdue)" in listed
    assert "(due by 2999-01-01T00:00:00.000000Z)" in listed
    assert main(["recall", "answers", "RC-9", "--json", "--store", store]) == 0
    overdue = {r["supplier_lot"]: r["overdue"] for r in json.loads(capsys.readouterr().out)}
    assert overdue == {"supplier_lot:ACME/A-77": True, "supplier_lot:ACME/B-12": False}
    assert main(["recall", "export", "RC-9", "--format", "json", "--store", store]) == 0
    exported = json.loads(capsys.readouterr().out)["supplier_requests"]
    assert {r["supplier_lot"]: r["overdue"] for r in exported} == overdue
    assert main(["recall", "export", "RC-9", "--format", "html", "--store", store]) == 0
    assert capsys.readouterr().out.count("(overdue)") == 1
    # A closed case takes no more answers: nothing of it is overdue.
    assert main(["recall", "close", "RC-9", "--reason", "r", "--store", store]) == 0
    capsys.readouterr()
    assert main(["recall", "answers", "RC-9", "--store", store]) == 0
    assert "overdue" not in capsys.readouterr().out
    assert main(["recall", "answers", "RC-9", "--json", "--store", store]) == 0
    assert not any(r["overdue"] for r in json.loads(capsys.readouterr().out))
    assert main(["recall", "export", "RC-9", "--format", "json", "--store", store]) == 0
    assert not any(r["overdue"] for r in json.loads(capsys.readouterr().out)["supplier_requests"])
    assert main(["recall", "export", "RC-9", "--format", "html", "--store", store]) == 0
    assert "(overdue)" not in capsys.readouterr().out


def test_answers_are_printed_without_their_control_characters(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "escape.db"
    store = new_store(path)
    plant = tmp_path / "plant.json"
    plant.write_text(json.dumps([events.receive("L-1", 10, supplier_lot="A-77")]))
    assert main(["ingest", str(plant), "--store", store]) == 0
    opened = [
        "recall",
        "open",
        "RC-9",
        "--title",
        "t",
        "--reason",
        "r",
        "--suspect",
        "supplier_lot:ACME/A-77",
    ]
    assert main([*opened, "--store", store]) == 0
    graph = EmbeddedStore(path)
    try:
        ingest = IngestService(graph)
        portal = SupplierPortal(graph, ingest, RecallService(graph, ingest))
        portal.answer(
            "RC-9",
            "supplier_lot:ACME/A-77",
            text="\x1b]0;pwned\x07\x1b[2J\x1b[32mNo issue\x1b[0m\r\nsecond line\u202e",
            upstream=[{"lot": "U1", "note": "\x1b[8mhidden"}],
            uploads=[],
            actor="acme",
        )
        # An actor as logged before ids had to be printable: the log still holds such ids.
        with sqlite3.connect(path) as conn:
            conn.execute(
                """UPDATE events SET payload = replace(payload, '"acme"', ?)""", ('"acme\x9b"',)
            )
        ingest.rebuild()
    finally:
        graph.close()
    capsys.readouterr()
    assert main(["recall", "answers", "RC-9", "--store", store]) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\x07\r\x9b\u202e"), repr(out)
    assert "by acme\\x9b (" in out
    assert "  \\x1b]0;pwned\\x07\\x1b[2J\\x1b[32mNo issue\\x1b[0m\n  second line\\u202e\n" in out
    assert "upstream: lot=U1, note=\\x1b[8mhidden" in out


def test_a_case_is_shown_without_control_characters(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "shown.db"
    store = new_store(path)
    plant = tmp_path / "plant.json"
    plant.write_text(
        json.dumps(
            [
                events.receive("L-1", 10, supplier_lot="A-77"),
                events(
                    "ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "4"}]
                ),
            ]
        )
    )
    assert main(["ingest", str(plant), "--store", store]) == 0
    title = "A\x1b[2JB\u202e"
    opened = ["recall", "open", "RC-9", "--title", title, "--reason", "r", "--suspect", "lot:L-1"]
    assert main([*opened, "--store", store]) == 0
    assert main(["recall", "notify", "RC-9", "--message", "m", "--store", store]) == 0
    # A customer as logged before ids had to be printable: the log still holds such ids.
    with sqlite3.connect(path) as conn:
        conn.execute("""UPDATE events SET payload = replace(payload, '"HOSP"', ?)""", ('"H\x9b"',))
    graph = EmbeddedStore(path)
    try:
        IngestService(graph).rebuild()
    finally:
        graph.close()
    capsys.readouterr()
    assert main(["recall", "show", "RC-9", "--store", store]) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\x9b\u202e"), repr(out)
    assert "case:RC-9  A\\x1b[2JB\\u202e  [notifying]" in out
    assert "customers: H\\x9b" in out and "notice H\\x9b: sent" in out


def test_recall_show_reconciles_per_unit(
    tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    store = new_store(tmp_path / "recall.db")
    plant = tmp_path / "plant.json"
    plant.write_text(
        json.dumps(
            [
                events.receive("L-1", 10, unit="kg", supplier_lot="A-77"),
                events(
                    "process",
                    step="S-1",
                    operation="turn",
                    inputs=[{"lot": "L-1", "qty": "4"}],
                    outputs=[{"lot": "P-1", "part": "SCREW", "qty": "100"}],
                ),
                events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": 2}]),
            ]
        )
    )
    assert main(["ingest", str(plant), "--store", store]) == 0
    opened = ["recall", "open", "RC-9", "--title", "T", "--reason", "R", "--store", store]
    assert main([*opened, "--suspect", "supplier_lot:ACME/A-77"]) == 0
    assert main(["recall", "hold", "RC-9", "--reason", "quarantine", "--store", store]) == 0
    capsys.readouterr()
    assert main(["recall", "show", "RC-9", "--store", store]) == 0
    shown = capsys.readouterr().out
    assert "reconciliation: 100 of 100 ea accounted for (100.0 %)" in shown
    assert "reconciliation: 4 of 6 kg accounted for (66.7 %)" in shown


@pytest.mark.parametrize(
    ("verb", "records"),
    [
        ("open", True),
        ("hold", True),
        ("request-supplier", True),
        ("show", False),
        ("export", False),
    ],
)
def test_the_help_of_actor_says_whether_the_command_records_it(
    verb: str, records: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["recall", verb, "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # as argparse wraps it, on one line
    said = "recorded in the case history" if records else "not recorded: this command only reads"
    assert f"--actor ACTOR who is acting ({said})" in shown
