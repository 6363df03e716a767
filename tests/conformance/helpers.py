"""Assertions shared by the conformance tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from graph.store import GraphStore
from ingest.errors import BatchRejected, Problem
from ingest.service import IngestService
from tests.fixtures.events import Events


def state(store: GraphStore) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """What a rejected batch must leave untouched: node/edge counts and the event log."""
    logged = [(e.event_id, e.digest) for e in store.events(0, 1_000_000)]
    return store.counts(), logged


def rejected(store: GraphStore, batch: Sequence[dict[str, Any]], code: str) -> Problem:
    """Ingest a batch that must fail with `code`; check nothing changed; return the problem."""
    before = state(store)
    with pytest.raises(BatchRejected) as caught:
        IngestService(store).ingest(batch)
    assert state(store) == before, "a rejected batch must write nothing"
    codes = [problem.code for problem in caught.value.problems]
    assert code in codes, f"expected {code}, got {caught.value.problems}"
    return next(p for p in caught.value.problems if p.code == code)


def three_supplier_lots(events: Events) -> list[dict[str, Any]]:
    """Receive ACME's A-1 and POLY's P-1 and P-2 (for the supplier portal's tests)."""
    return [
        events.receive("L-1", 10),
        events.receive("L-2", 5, part="RESIN", supplier="POLY", supplier_lot="P-1"),
        events.receive("L-3", 5, part="RESIN", supplier="POLY", supplier_lot="P-2"),
    ]
