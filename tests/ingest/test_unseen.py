"""What a sender may not read (ingest.service.Unseen), refused at its event's place in the batch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from graph.embedded_store import EmbeddedStore
from graph.store import WriteTx
from ingest.errors import BatchRejected, Problem
from ingest.models import Event
from ingest.service import IngestService
from tests.fixtures.events import Events


def test_a_problem_unseen_finds_points_at_its_event_past_the_duplicates_before_it(
    tmp_path: Path, events: Events
) -> None:
    """Unseen is given the batch's new events only: a problem it finds at the first of them is
    of the batch's second event when a duplicate comes first."""
    store = EmbeddedStore(tmp_path / "unseen.db")
    service = IngestService(store)
    logged = events.receive("L-1", 10)
    service.ingest([logged])
    new = events("status", target={"lot": "L-1"}, status="quarantined", reason="check")

    def unseen(tx: WriteTx, fresh: Sequence[Event]) -> list[Problem]:
        assert [e.event_id for e in fresh] == [new["event_id"]]
        return [Problem(0, new["event_id"], "target", "unknown_item", "hidden", ("lot:ZZ",))]

    batch, held = service.read([logged, new])
    with pytest.raises(BatchRejected) as refused:
        service.ingest_events(batch, held=held, unseen=unseen)
    assert [(p.index, p.event_id) for p in refused.value.problems] == [(1, new["event_id"])]
    assert store.counts()["events"] == 1
    store.close()
