"""Writers in parallel: each batch whole, the log numbered without gaps, and no writer made to
wait for a deadlock the store caused itself.

On Neo4j every ingest write first takes the counter's lock. When it took it by setting a
property from its own value and later advanced the log's position the same way, the server
reported every writer queued on the counter deadlocked; the driver retried each a second later,
and now and then a retry escaped it as an error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from graph.store import GraphStore, WriteTx
from ingest.models import Event
from ingest.parse import parse_events
from ingest.service import IngestReport, IngestService
from tests.fixtures.events import Events

WRITERS = 8
EVENTS_PER_BATCH = 3
# Long enough for the other writers to be queued on the lock while the first holds it.
HOLD_SECONDS = 0.5


def test_writers_queued_on_the_lock_each_write_their_batch_whole_and_in_order(
    store: GraphStore, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="neo4j")
    service = IngestService(store)
    batches = [
        [
            events.receive(f"L-{writer}-{n}", 10, part="PLATE-9", supplier_lot="A-1")
            for n in range(EVENTS_PER_BATCH)
        ]
        for writer in range(WRITERS)
    ]
    holding = threading.Event()

    def hold(tx: WriteTx, batch: Sequence[Event]) -> None:
        holding.set()
        time.sleep(HOLD_SECONDS)

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        first = pool.submit(service.ingest_events, parse_events(batches[0]), guard=hold)
        assert holding.wait(timeout=30)
        rest = list(pool.map(service.ingest, batches[1:]))
        reports: list[IngestReport] = [first.result(), *rest]

    assert [report.created for report in reports] == [EVENTS_PER_BATCH] * WRITERS
    logged = store.events(0, 1000)
    assert [event.seq for event in logged] == list(range(1, WRITERS * EVENTS_PER_BATCH + 1))
    position = {event.event_id: event.seq for event in logged}
    for batch in batches:
        seqs = [position[event["event_id"]] for event in batch]
        assert seqs == list(range(seqs[0], seqs[0] + EVENTS_PER_BATCH))
    assert position[batches[0][0]["event_id"]] == 1  # the first to take the lock logs first
    retried = [r.getMessage() for r in caplog.records if "retried" in r.getMessage()]
    assert retried == []
