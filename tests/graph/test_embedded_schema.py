"""A store file written by an earlier version opens with today's indexes and answers the same."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from graph.embedded_store import EmbeddedStore
from ingest.service import IngestService


def _receive(lot: str, supplier_lot: str) -> dict[str, str]:
    return {
        "event_id": f"EV-{lot}",
        "type": "receive",
        "occurred_at": "2026-01-05T08:00:00Z",
        "supplier": "ACME",
        "supplier_lot": supplier_lot,
        "part": "BAR",
        "lot": lot,
        "qty": "10",
    }


def _indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    return {name for (name,) in rows}


def test_indexes_of_an_earlier_file_are_dropped_and_kinds_still_list(tmp_path: Path) -> None:
    path = tmp_path / "earlier.db"
    store = EmbeddedStore(path)
    IngestService(store).ingest([_receive("L-2", "H-1"), _receive("L-1", "H-2")])
    store.close()
    with sqlite3.connect(path) as conn:  # the indexes earlier versions wrote on every row
        conn.execute("DROP INDEX edges_cart_event")
        conn.execute("CREATE INDEX nodes_kind ON nodes (kind, gid)")
        conn.execute("CREATE INDEX edges_event ON edges (event)")
    assert {"nodes_kind", "edges_event"} <= _indexes(path)

    reopened = EmbeddedStore(path)
    assert not {"nodes_kind", "edges_event"} & _indexes(path)
    assert "edges_cart_event" in _indexes(path)
    assert [n.gid for n in reopened.nodes_of_kind("lot", 10)] == ["lot:L-1", "lot:L-2"]
    assert [n.gid for n in reopened.nodes_of_kind("lot", 1)] == ["lot:L-1"]
    assert [n.gid for n in reopened.nodes_of_kind("supplier_lot", 10)] == [
        "supplier_lot:ACME/H-1",
        "supplier_lot:ACME/H-2",
    ]
    assert [n.gid for n in reopened.nodes_of_kind("company", 10)] == ["company:ACME"]
    reopened.close()
