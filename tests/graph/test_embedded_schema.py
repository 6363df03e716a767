"""A store file written by an earlier version opens with today's indexes and answers the same."""

from __future__ import annotations

import sqlite3
import threading
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
        conn.execute("DELETE FROM schema_stamps")  # earlier versions stamped nothing
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


def test_a_store_at_todays_schema_opens_while_a_long_write_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    EmbeddedStore(path).close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # as a rebuild holds it, for minutes
    opened: list[EmbeddedStore] = []
    opening = threading.Thread(target=lambda: opened.append(EmbeddedStore(path)))
    opening.start()
    opening.join(timeout=20)  # the busy timeout is 30 s: waiting for the lock would show
    opened_under_lock = bool(opened)
    writer.execute("ROLLBACK")
    writer.close()
    opening.join()
    assert opened_under_lock, "opening the store waited for the write lock"
    assert opened[0].counts()["events"] == 0
    opened[0].close()


def test_a_log_from_before_senders_were_kept_gains_them_and_reads_its_events_as_unknown(
    tmp_path: Path,
) -> None:
    path = tmp_path / "earlier.db"
    store = EmbeddedStore(path)
    IngestService(store).sent_by("otto").ingest([_receive("L-1", "H-1")])
    store.close()
    with sqlite3.connect(path) as conn:  # the log as earlier versions wrote it
        conn.execute("ALTER TABLE events DROP COLUMN recorded_by")
        conn.execute("ALTER TABLE events DROP COLUMN recorded_at")
        conn.execute("DELETE FROM schema_stamps")

    reopened = EmbeddedStore(path)
    IngestService(reopened).sent_by("ana").ingest([_receive("L-2", "H-2")])

    logged = reopened.events(0, 10)
    assert [(e.event_id, e.recorded_by) for e in logged] == [("EV-L-1", None), ("EV-L-2", "ana")]
    assert logged[0].recorded_at is None and logged[1].recorded_at is not None
    reopened.close()


def test_a_log_from_before_void_names_were_kept_gains_the_names_of_its_voided_events(
    tmp_path: Path,
) -> None:
    path = tmp_path / "earlier.db"
    store = EmbeddedStore(path)
    service = IngestService(store)
    service.ingest([_receive("L-1", "H-1"), _receive("L-2", "H-2")])
    void = {"event_id": "V-1", "type": "void", "occurred_at": "2026-01-05T09:00:00Z"}
    service.ingest([void | {"voids": "EV-L-1", "reason": "typo"}])
    store.close()
    with sqlite3.connect(path) as conn:  # the log as earlier versions wrote it
        conn.execute("DROP TABLE void_names")
        conn.execute("DELETE FROM schema_stamps")

    reopened = EmbeddedStore(path)
    assert [e.event_id for e in reopened.voided_naming(["lot:L-1", "lot:L-2"])] == ["EV-L-1"]
    assert [e.event_id for e in reopened.voided_naming(["supplier_lot:ACME/H-1"])] == ["EV-L-1"]
    reopened.close()


def test_closing_a_stay_seeks_it_among_the_open_ones_by_its_load(tmp_path: Path) -> None:
    """Closing a stay reads no other stay of the lot in the cart: a batch loading and unloading
    one lot again and again would otherwise take time quadratic in its size."""
    from graph.embedded_store import CLOSE_STAY

    path = tmp_path / "plan.db"
    EmbeddedStore(path).close()
    with sqlite3.connect(path) as conn:
        plan = conn.execute(f"EXPLAIN QUERY PLAN {CLOSE_STAY}", ("t", "e", 1, 2, "l")).fetchall()
    assert [row[-1] for row in plan] == [
        "SEARCH edges USING INDEX edges_open_stays (src=? AND dst=? AND event=?)"
    ]
