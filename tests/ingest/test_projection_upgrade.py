"""An embedded store whose graph an older release made is rebuilt from its log as it is opened;
one a newer release made is refused and left as it is."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import ingest.service
from api.cli import EXIT_UNAVAILABLE, main
from graph.embedded_store import EmbeddedStore
from graph.errors import StoreUnavailable
from graph.projection import PROJECTION
from ingest.errors import BatchRejected
from ingest.service import IngestService, open_store_for_use
from tests.fixtures.events import Events


def _plant(path: Path, events: Events) -> None:
    """A shipment of kilograms and pieces, one of pieces only, and a supplier lot in kg."""
    store = EmbeddedStore(path)
    IngestService(store).ingest(
        [
            events.receive("L-1", 10, unit="kg"),
            events.receive("L-2", 10, part="PEEK", supplier="POLY", supplier_lot="P-1"),
            events("serialize", lot="L-2", serials=["SN-1", "SN-2", "SN-3"]),
            events(
                "ship",
                shipment="SH-1",
                customer="HOSP",
                items=[{"lot": "L-1", "qty": "1.5"}, {"serial": "SN-1"}, {"serial": "SN-2"}],
            ),
            events("ship", shipment="SH-2", customer="HOSP", items=[{"serial": "SN-3"}]),
        ]
    )
    store.close()


def _as_an_older_release_left_it(path: Path) -> None:
    """Set the graph back as releases before units were kept per unit projected these events
    (kilograms and pieces added up, no unit on shipments nor on supplier lots), with no
    projection version recorded, as no release before versions were recorded did."""
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE nodes SET qty = '3.5', unit = NULL WHERE gid = 'shipment:SH-1'")
        conn.execute("UPDATE nodes SET unit = NULL WHERE gid = 'shipment:SH-2'")
        conn.execute("UPDATE nodes SET unit = NULL WHERE kind = 'supplier_lot'")
        conn.execute("DELETE FROM schema_stamps WHERE name = 'projection'")
    conn.close()


def _stamp(path: Path) -> str | None:
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT digest FROM schema_stamps WHERE name = 'projection'").fetchone()
    conn.close()
    return None if row is None else str(row[0])


def _receive_again_in_pieces(events: Events) -> dict[str, Any]:
    return events.receive("L-3", 5, unit="ea")  # ACME's A-1, first received in kg


@pytest.fixture
def old(tmp_path: Path, events: Events) -> Path:
    path = tmp_path / "plant.db"
    _plant(path, events)
    _as_an_older_release_left_it(path)
    return path


def test_a_new_store_records_the_current_version(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "new.db")
    assert store.projection_version() == PROJECTION
    store.close()


def test_an_older_graph_is_rebuilt_as_the_store_opens_and_keeps_the_unit_rules(
    old: Path, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "tracegraph.store"):
        store = open_store_for_use(f"sqlite:///{old}")
    try:
        mixed, pieces = store.node("shipment:SH-1"), store.node("shipment:SH-2")
        assert mixed is not None and pieces is not None
        assert "qty" not in mixed.attrs and "unit" not in mixed.attrs  # several units meet
        assert (pieces.attrs["qty"], pieces.attrs["unit"]) == ("1", "ea")
        assert store.node("supplier_lot:ACME/A-1").attrs["unit"] == "kg"  # type: ignore[union-attr]
        with pytest.raises(BatchRejected) as caught:
            IngestService(store).ingest([_receive_again_in_pieces(events)])
        assert [p.code for p in caught.value.problems] == ["unit_mismatch"]
        assert store.projection_version() == PROJECTION
    finally:
        store.close()
    before, after = (record.getMessage() for record in caplog.records)
    assert "made by an older release (it records no projection version" in before
    assert "rebuilding it from its 5 logged events" in before
    assert after.startswith(f"rebuilt the graph of sqlite:///{old} from 5 live events")
    assert _stamp(old) == str(PROJECTION)

    caplog.clear()
    open_store_for_use(f"sqlite:///{old}").close()  # current now: opened as it is
    assert caplog.records == []


def test_a_rebuild_that_stops_leaves_the_older_graph_and_runs_again_at_the_next_open(
    old: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replay = ingest.service._replay

    def cut_off(*args: Any, **kwargs: Any) -> Any:
        replay(*args, **kwargs)  # the events are replayed, then the process stops
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest.service, "_replay", cut_off)
    with pytest.raises(KeyboardInterrupt):
        open_store_for_use(f"sqlite:///{old}")
    assert _stamp(old) is None
    with sqlite3.connect(old) as conn:
        assert conn.execute("SELECT qty FROM nodes WHERE gid = 'shipment:SH-1'").fetchone() == (
            "3.5",
        )
    conn.close()

    monkeypatch.setattr(ingest.service, "_replay", replay)
    store = open_store_for_use(f"sqlite:///{old}")
    assert "qty" not in store.node("shipment:SH-1").attrs  # type: ignore[union-attr]
    store.close()
    assert _stamp(old) == str(PROJECTION)


def test_a_store_with_no_events_is_only_stamped(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    EmbeddedStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM schema_stamps WHERE name = 'projection'")
    conn.close()
    store = EmbeddedStore(path)
    assert store.projection_version() == PROJECTION
    store.close()


def test_a_graph_of_a_newer_release_is_refused_and_the_file_left_as_it_is(
    old: Path, tmp_path: Path, events: Events, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(old) as conn:
        conn.execute(
            "INSERT INTO schema_stamps (name, digest) VALUES ('projection', ?)",
            (str(PROJECTION + 1),),
        )
        # Its tables are a later release's too: this one must not apply its own to them.
        conn.execute("UPDATE schema_stamps SET digest = 'later' WHERE name = 'graph'")
    conn.close()
    before = old.read_bytes()
    newer = (
        f"{old} holds a graph made by a newer release of tracegraph (projection version "
        f"{PROJECTION + 1}; this release makes version {PROJECTION})"
    )
    with pytest.raises(StoreUnavailable, match=r"newer release") as caught:
        open_store_for_use(f"sqlite:///{old}")
    assert caught.value.message.startswith(newer)
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps([events.receive("L-9", 1, supplier_lot="A-9")]))
    for command in (["trace", "--lot", "L-1", "--down"], ["rebuild"], ["ingest", str(batch)]):
        assert main([*command, "--store", f"sqlite:///{old}"]) == EXIT_UNAVAILABLE
        err = capsys.readouterr().err
        assert err.startswith(f"error: {newer}") and err.count("\n") == 1
    assert old.read_bytes() == before
    assert _stamp(old) == str(PROJECTION + 1)


def test_rebuild_and_read_commands_on_an_older_store(
    old: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twin = tmp_path / "twin.db"
    twin.write_bytes(old.read_bytes())
    # A read answers from the graph this release makes, not the one it found.
    trace = ["trace", "--supplier", "ACME", "--supplier-lot", "A-1", "--down", "--json"]
    assert main([*trace, "--store", f"sqlite:///{old}"]) == 0
    nodes = {node["id"]: node for node in json.loads(capsys.readouterr().out)["nodes"]}
    assert nodes["supplier_lot:ACME/A-1"]["unit"] == "kg"
    assert "qty" not in nodes["shipment:SH-1"]
    assert _stamp(old) == str(PROJECTION)
    # `rebuild` rebuilds once, and records the version as a rebuild at opening does.
    assert main(["rebuild", "--store", f"sqlite:///{twin}"]) == 0
    captured = capsys.readouterr()
    assert "rebuilt the graph from 5 live events" in captured.out
    assert "older release" not in captured.err
    assert _stamp(twin) == str(PROJECTION)


def test_copy_store_from_an_older_store_gives_a_current_copy(
    old: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.db"
    assert main(["copy-store", "--store", f"sqlite:///{old}", "--to", f"sqlite:///{copy}"]) == 0
    assert "event log: 5 events (5 live, rebuilt into the graph)" in capsys.readouterr().out
    assert _stamp(copy) == str(PROJECTION)
    assert _stamp(old) == str(PROJECTION)
