"""The garbage collector is held off while batches are in progress, and only then."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.embedded_store import EmbeddedStore
from ingest.errors import BatchRejected
from ingest.service import IngestService, _collector_paused


@pytest.fixture(autouse=True)
def _collector_enabled() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_and_resumed_after_even_on_error() -> None:
    with pytest.raises(RuntimeError), _collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_overlapping_batches_resume_only_when_the_last_ends() -> None:
    with _collector_paused():
        with _collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled() -> None:
    gc.disable()
    with _collector_paused():
        pass
    assert not gc.isenabled()


def test_ingest_resumes_the_collector_after_a_written_and_a_rejected_batch(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "graph.db")
    service = IngestService(store)
    receive = {
        "event_id": "EV-1",
        "type": "receive",
        "occurred_at": "2026-01-05T06:03:00Z",
        "actor": "dara",
        "supplier": "ACME",
        "supplier_lot": "H1",
        "part": "BAR",
        "lot": "L1",
        "qty": "5",
    }
    assert service.ingest([receive]).created == 1
    assert gc.isenabled()
    with pytest.raises(BatchRejected):
        service.ingest([receive | {"event_id": "EV-2"}])  # lot L1 exists: nothing is written
    assert gc.isenabled()
    store.close()
