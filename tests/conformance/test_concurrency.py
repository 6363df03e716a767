"""Concurrent writers never over-consume: ingest is serialised inside each store."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from graph.store import GraphStore
from ingest.errors import BatchRejected
from ingest.service import IngestService
from tests.fixtures.events import Events


def test_parallel_splits_of_one_lot(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10)])
    attempts = [events("split", lot="L-1", into=[{"lot": f"C-{i}", "qty": "2"}]) for i in range(12)]

    def send(event: dict[str, object]) -> str:
        try:
            service.ingest([event])
        except BatchRejected as error:
            return error.problems[0].code
        return "created"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(send, attempts))
    assert outcomes.count("created") == 5
    assert outcomes.count("over_consumption") == 7
    assert store.node("lot:L-1").attrs["available"] == "0"  # type: ignore[union-attr]
    assert store.counts()["lot"] == 6


def test_parallel_duplicates_are_written_once(store: GraphStore, events: Events) -> None:
    event = events.receive("L-1", 10)
    service = IngestService(store)
    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(lambda _: service.ingest([event]), range(8)))
    assert sorted(r.results[0].status for r in reports) == ["created"] + ["duplicate"] * 7
    assert store.counts()["events"] == 1
