"""Ids are printable characters: refused in events sent, kept in a log written before."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from ingest.service import IngestService
from tests.conformance.helpers import rejected
from tests.fixtures.events import Events


def test_an_event_naming_an_id_with_a_line_separator_is_refused(
    store: GraphStore, events: Events
) -> None:
    problem = rejected(store, [events.receive("L-1\u2028", 10)], "not_printable")
    assert problem.field == "lot"
    assert "U+2028 (LINE SEPARATOR)" in problem.message


def test_a_log_holding_ids_that_are_not_printable_still_rebuilds(
    tmp_path: Path, events: Events
) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10, event_id="R-1"), events.receive("L-2", 5)])
    # As an earlier version logged them, before ids had to be printable.
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute(
            "UPDATE events SET event_id = ?,"
            " payload = replace(replace(payload, '\"L-1\"', ?), '\"R-1\"', ?)"
            " WHERE event_id = 'R-1'",
            ("R-1\x85", '"L-1\u202e"', '"R-1\x85"'),
        )
    assert service.rebuild() == 2
    assert store.node("lot:L-1\u202e") is not None and store.node("lot:L-1") is None
    # The event can still be voided by its id, as logged.
    void = events("void", voids="R-1\x85", reason="sent with a stray control character")
    assert service.ingest([void]).created == 1
    assert store.node("lot:L-1\u202e") is None
    store.close()
