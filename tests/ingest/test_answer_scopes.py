"""What tracing the scopes a batch's answers are checked against costs (ingest.answers)."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import ingest.answers
import ingest.service
from graph.embedded_store import EmbeddedStore, EmbeddedTx
from graph.recall import Scope
from ingest.service import IngestService
from tests.fixtures.events import Events

OPEN = {"case": "RC-1", "title": "t", "reason": "r", "suspects": [{"id": "lot:L-1"}]}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path / "graph.db")
    yield store
    store.close()


def _told(store: EmbeddedStore, events: Events) -> IngestService:
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-1", 10),
            events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "4"}]),
            events("recall_open", **OPEN),
            events("recall_notice", case="RC-1", notice="N-1", customer="HOSP", message="m"),
        ]
    )
    return service


def test_the_scopes_are_traced_with_the_collector_running(
    store: EmbeddedStore, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A trace is slow: the collector, paused for every thread while a batch is planned, is not
    # held off for it.
    service = _told(store, events)
    traced = ingest.service.answer_scopes
    running: list[bool] = []

    def watched(at: Any, batch: Sequence[Any]) -> dict[str, Scope]:
        running.append(gc.isenabled())
        return traced(at, batch)

    monkeypatch.setattr(ingest.service, "answer_scopes", watched)
    answer = events("recall_ack", notice="N-1", found_qty="4", returned_qty="0")
    service.ingest([answer])
    service.ingest_events(service.read([answer | {"event_id": "A-2"}])[0])
    assert running == [True, True]


def test_an_answer_logged_before_is_not_traced_again(
    store: EmbeddedStore, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _told(store, events)
    answer = events("recall_ack", notice="N-1", found_qty="4", returned_qty="0")
    service.ingest([answer])
    traced: list[Any] = []
    monkeypatch.setattr(ingest.answers, "compute_scope", lambda *args: traced.append(args))
    assert [r.status for r in service.ingest([answer]).results] == ["duplicate"]
    assert traced == []


def test_a_notice_the_batch_sends_is_not_read_from_the_store(
    store: EmbeddedStore, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = IngestService(store)
    read: list[str] = []
    node_props = EmbeddedTx.node_props

    def watched(tx: EmbeddedTx, gids: Sequence[str]) -> dict[str, dict[str, Any]]:
        read.extend(gids)
        return node_props(tx, gids)

    monkeypatch.setattr(EmbeddedTx, "node_props", watched)
    service.ingest(
        [
            events.receive("L-1", 10),
            events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "4"}]),
            events("recall_open", **OPEN),
            events("recall_notice", case="RC-1", notice="N-1", customer="HOSP", message="m"),
            events("recall_ack", notice="N-1", found_qty="0", returned_qty="0"),
        ]
    )
    assert not {"case:RC-1", "notice:N-1"} & set(read), read
    assert store.node("notice:N-1").attrs["state"] == "acknowledged"  # type: ignore[union-attr]
