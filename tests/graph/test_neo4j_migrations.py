"""A Neo4j database written by an earlier version opens with today's labels and answers the same."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from ingest.service import IngestService
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events

if TYPE_CHECKING:
    import neo4j

    from graph.neo4j_store import Neo4jStore


def _opener(request: pytest.FixtureRequest) -> Callable[[], Neo4jStore]:
    """Open the test server's database anew each call, as a restarted service would."""
    from graph.neo4j_store import Neo4jStore

    target = neo4j_or_skip(request)
    return lambda: Neo4jStore(target.uri, user=target.user, password=target.password)


def test_recall_events_logged_before_their_label_get_it_at_the_next_open(
    request: pytest.FixtureRequest, events: Events
) -> None:
    open_store = _opener(request)
    store = open_store()
    try:
        store.wipe()
        service = IngestService(store)
        service.ingest([events.receive("L-1", 10)])
        opened = {"case": "RC-1", "title": "Heat H1", "reason": "certificate withdrawn"}
        service.ingest([events("recall_open", suspects=[{"id": "lot:L-1"}], **opened)])
        assert [e.type for e in store.recall_events(0, 10)] == ["recall_open"]
        # What an earlier version left: recall events without the label, and no marker.
        driver = store._driver  # the test plays the earlier version
        driver.execute_query("MATCH (e:RecallEvent) REMOVE e:RecallEvent")
        driver.execute_query("MATCH (m:Migration {name: 'recall_event_label'}) DELETE m")
        assert store.recall_events(0, 10) == []
    finally:
        store.close()
    reopened = open_store()
    try:
        assert [e.type for e in reopened.recall_events(0, 10)] == ["recall_open"]
        assert [e.type for e in reopened.events(0, 10)] == ["receive", "recall_open"]
    finally:
        reopened.close()


def test_voided_events_logged_before_their_names_were_kept_get_them_at_the_next_open(
    request: pytest.FixtureRequest, events: Events
) -> None:
    open_store = _opener(request)
    store = open_store()
    try:
        store.wipe()
        service = IngestService(store)
        service.ingest([events.receive("L-1", 10), events.receive("L-2", 5, supplier_lot="A-2")])
        service.ingest([events("void", voids="E-1", reason="typo")])
        assert [e.event_id for e in store.voided_naming(["lot:L-1"])] == ["E-1"]
        # What an earlier version left: voided events without their names, and no marker.
        driver = store._driver  # the test plays the earlier version
        driver.execute_query("MATCH (n:VoidName) DELETE n")
        driver.execute_query("MATCH (m:Migration {name: 'void_names'}) DELETE m")
        assert store.voided_naming(["lot:L-1"]) == []
    finally:
        store.close()
    reopened = open_store()
    try:
        assert [e.event_id for e in reopened.voided_naming(["lot:L-1", "lot:L-2"])] == ["E-1"]
        assert [e.voided_by for e in reopened.voided_naming(["supplier_lot:ACME/A-1"])] == ["E-3"]
    finally:
        reopened.close()


def test_void_names_are_written_in_chunks_and_a_backfill_stopped_part_way_is_finished_once(
    request: pytest.FixtureRequest, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log of very many voids written in one transaction met the server's time limit on it."""
    from graph import neo4j_store
    from graph.errors import StoreUnavailable
    from graph.neo4j_store import CREATE_VOID_NAMES

    open_store = _opener(request)
    store = open_store()
    try:
        store.wipe()
        service = IngestService(store)
        lots = [f"L-{n}" for n in range(1, 4)]
        service.ingest([events.receive(lot, 10, supplier_lot=f"A-{lot}") for lot in lots])
        service.ingest([events("void", voids=f"E-{n}", reason="typo") for n in range(1, 4)])
        driver = store._driver  # the test plays the earlier version
        driver.execute_query("MATCH (n:VoidName) DELETE n")
        driver.execute_query("MATCH (m:Migration {name: 'void_names'}) DELETE m")
    finally:
        store.close()
    monkeypatch.setattr(neo4j_store, "VOID_NAMES_CHUNK", 2)
    run = neo4j_store.execute
    chunks: list[int] = []

    def stopping(*args: Any, **params: Any) -> Any:
        if args[3] == CREATE_VOID_NAMES:
            if len(chunks) == 1:  # as the service stops, or the server goes, after one chunk
                raise StoreUnavailable("stopped")
            chunks.append(len(params["rows"]))
        return run(*args, **params)

    monkeypatch.setattr(neo4j_store, "execute", stopping)
    with pytest.raises(StoreUnavailable):
        open_store()
    assert chunks == [2]

    def counting(*args: Any, **params: Any) -> Any:
        if args[3] == CREATE_VOID_NAMES:
            chunks.append(len(params["rows"]))
        return run(*args, **params)

    chunks.clear()
    monkeypatch.setattr(neo4j_store, "execute", counting)
    reopened = open_store()  # writes them all again, the first chunk's among them
    try:
        assert chunks == [2, 2, 2]
        found = reopened._driver.execute_query(
            "MATCH (n:VoidName) RETURN n.event, n.gid ORDER BY n.event, n.gid"
        ).records
        assert [list(record) for record in found] == [
            [f"E-{n}", gid]
            for n, lot in enumerate(lots, start=1)
            for gid in (f"lot:{lot}", f"supplier_lot:ACME/A-{lot}")
        ]
        voided = reopened.voided_naming([f"lot:{lot}" for lot in lots])
        assert [e.event_id for e in voided] == ["E-1", "E-2", "E-3"]
    finally:
        reopened.close()
    chunks.clear()
    open_store().close()  # the marker is set: no more are written
    assert chunks == []


def test_two_clients_writing_a_void_s_names_at_once_leave_each_name_once(
    request: pytest.FixtureRequest,
) -> None:
    """As two services that open a log whose void names were not kept yet both write them."""
    from graph.neo4j_store import CREATE_VOID_NAMES

    store = _opener(request)()
    rows = [["lot:L-1", "E-1"], ["supplier_lot:ACME/A-1", "E-1"]]
    try:
        store.wipe()
        driver = store._driver
        with driver.session() as session:
            first = session.begin_transaction()
            first.run(CREATE_VOID_NAMES, rows=rows).consume()
            second = threading.Thread(
                target=lambda: driver.execute_query(CREATE_VOID_NAMES, rows=rows)
            )
            second.start()
            # The second runs while the first is open: it ends, or waits for the first.
            deadline = time.monotonic() + 10
            while second.is_alive() and not _blocked(driver) and time.monotonic() < deadline:
                time.sleep(0.05)
            first.commit()
        second.join()
        found = driver.execute_query(
            "MATCH (n:VoidName) RETURN n.gid, n.event ORDER BY n.gid"
        ).records
        assert [list(record) for record in found] == rows
    finally:
        store.close()


def _blocked(driver: neo4j.Driver) -> bool:
    found = driver.execute_query(
        "SHOW TRANSACTIONS YIELD status WHERE status STARTS WITH 'Blocked' RETURN count(*)"
    ).records
    return bool(found[0][0])


def test_the_write_count_an_earlier_lock_left_on_the_counter_goes_at_the_next_open(
    request: pytest.FixtureRequest, events: Events
) -> None:
    open_store = _opener(request)

    def counter(store: Neo4jStore) -> dict[str, object]:
        records = store._driver.execute_query(
            "MATCH (c:Counter {name: 'ingest'}) RETURN properties(c) AS p"
        ).records
        return dict(records[0]["p"])

    store = open_store()
    try:
        store.wipe()
        IngestService(store).ingest([events.receive("L-1", 10)])
        # What an earlier version left: the count of writes its lock took.
        store._driver.execute_query("MATCH (c:Counter {name: 'ingest'}) SET c.writes = 7")
        assert counter(store)["writes"] == 7
    finally:
        store.close()
    reopened = open_store()
    try:
        assert "writes" not in counter(reopened)
        assert counter(reopened)["seq"] == 1
        IngestService(reopened).ingest([events.receive("L-2", 5)])
        assert [e.type for e in reopened.events(0, 10)] == ["receive", "receive"]
    finally:
        reopened.close()


def _recall_keys(store: Neo4jStore) -> list[list[Any]]:
    found = store._driver.execute_query(
        "MATCH (e:RecallEvent) RETURN e.event_id, e.case, e.notice ORDER BY e.seq"
    ).records
    return [list(record) for record in found]


def test_recall_events_logged_before_they_kept_their_case_get_it_a_page_at_a_time_once(
    request: pytest.FixtureRequest, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case's history seeks its events by case and notice; older logs kept neither apart."""
    from graph import neo4j_store
    from graph.errors import StoreUnavailable
    from graph.neo4j_store import SET_RECALL_KEYS

    open_store = _opener(request)
    store = open_store()
    kept = [
        ["O-1", "RC-1", None],
        ["N-1", "RC-1", "N-1"],
        ["A-1", None, "N-1"],
        ["O-2", "RC-2", None],
        ["S-1", "RC-1", None],
    ]
    try:
        store.wipe()
        service = IngestService(store)
        service.ingest(
            [
                events.receive("L-1", 10),
                events(
                    "ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "4"}]
                ),
            ]
        )
        suspects = [{"id": "lot:L-1"}]
        service.ingest(
            [
                events(
                    "recall_open",
                    event_id="O-1",
                    case="RC-1",
                    title="t",
                    reason="r",
                    suspects=suspects,
                ),
                events(
                    "recall_notice",
                    event_id="N-1",
                    case="RC-1",
                    notice="N-1",
                    customer="HOSP",
                    message="m",
                ),
            ]
        )
        ack = {"notice": "N-1", "found_qty": "0", "returned_qty": "0"}
        service.ingest([events("recall_ack", event_id="A-1", **ack)])
        service.ingest(
            [
                events(
                    "recall_open",
                    event_id="O-2",
                    case="RC-2",
                    title="t",
                    reason="r",
                    suspects=suspects,
                )
            ]
        )
        service.ingest(
            [events("recall_state", event_id="S-1", case="RC-1", state="holding", reason="r")]
        )
        assert _recall_keys(store) == kept
        # What an earlier version left: recall events without their keys, and no marker.
        driver = store._driver  # the test plays the earlier version
        driver.execute_query("MATCH (e:RecallEvent) REMOVE e.case, e.notice")
        driver.execute_query("MATCH (m:Migration {name: 'recall_event_keys'}) DELETE m")
        assert store.recall_events_of("RC-1", ["N-1"]) == []
    finally:
        store.close()
    monkeypatch.setattr(neo4j_store, "RECALL_KEYS_CHUNK", 2)
    run = neo4j_store.execute
    pages: list[list[str]] = []

    def stopping(*args: Any, **params: Any) -> Any:
        if args[3] == SET_RECALL_KEYS:
            if len(pages) == 1:  # as the service stops, or the server goes, after one page
                raise StoreUnavailable("stopped")
            pages.append([row[0] for row in params["rows"]])
        return run(*args, **params)

    monkeypatch.setattr(neo4j_store, "execute", stopping)
    with pytest.raises(StoreUnavailable):
        open_store()
    assert pages == [["O-1", "N-1"]]

    def counting(*args: Any, **params: Any) -> Any:
        if args[3] == SET_RECALL_KEYS:
            pages.append([row[0] for row in params["rows"]])
        return run(*args, **params)

    pages.clear()
    monkeypatch.setattr(neo4j_store, "execute", counting)
    reopened = open_store()  # sets them all again, the first page's among them
    try:
        assert pages == [["O-1", "N-1"], ["A-1", "O-2"], ["S-1"]]
        assert _recall_keys(reopened) == kept
        found = reopened.recall_events_of("RC-1", ["N-1"])
        assert [e.event_id for e in found] == ["O-1", "N-1", "A-1", "S-1"]
    finally:
        reopened.close()
    pages.clear()
    open_store().close()  # the marker is set: no more are read
    assert pages == []
