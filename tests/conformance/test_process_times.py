"""A process step does not finish before it starts."""

from __future__ import annotations

from typing import Any

from graph.store import GraphStore
from ingest.service import IngestService
from tests.conformance.helpers import rejected
from tests.fixtures.events import Events


def _turn(events: Events, **times: str) -> dict[str, Any]:
    return events(
        "process",
        step="S-1",
        operation="turn",
        equipment="LATHE-1",
        inputs=[{"lot": "L-1", "qty": "1"}],
        outputs=[{"lot": "P-1", "part": "SCREW", "qty": "1"}],
        **times,
    )


def test_a_step_given_a_finish_before_its_start_is_refused_by_field(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest([events.receive("L-1", 10)])
    turn = _turn(events, started_at="2026-03-02T10:00:00Z", finished_at="2026-03-02T09:30:00Z")
    problem = rejected(store, [turn], "time_order")
    assert problem.field == "finished_at"
    assert problem.message == (
        "the step finishes at 2026-03-02T09:30:00+00:00, before it starts (started_at "
        "2026-03-02T10:00:00+00:00)"
    )
