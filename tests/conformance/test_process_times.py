"""A process step does not finish before it starts, whether its times are given or defaulted."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from graph.embedded_store import EmbeddedStore
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


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        # occurred_at is 08:20: finished_at, left out, would be 08:20, before the start.
        (
            {"started_at": "2026-03-02T10:00:00Z"},
            "started_at",
            "the step starts at 2026-03-02T10:00:00+00:00, after it finishes (finished_at "
            "is left out: occurred_at, 2026-03-02T08:20:00+00:00)",
        ),
        (
            {"finished_at": "2026-03-02T13:45:00+05:45"},
            "finished_at",
            "the step finishes at 2026-03-02T13:45:00+05:45, before it starts (started_at "
            "is left out: occurred_at, 2026-03-02T08:20:00+00:00)",
        ),
    ],
)
def test_a_step_whose_defaulted_time_puts_its_finish_before_its_start_is_refused(
    store: GraphStore, events: Events, given: dict[str, str], field: str, message: str
) -> None:
    # Stored so, the step would fall out of every equipment window, and so out of recalls.
    IngestService(store).ingest([events.receive("L-1", 10)])
    problem = rejected(store, [_turn(events, **given)], "time_order")
    assert (problem.field, problem.message) == (field, message)


def test_a_step_given_one_time_in_order_with_its_occurred_at_is_taken(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest([events.receive("L-1", 10)])
    IngestService(store).ingest([_turn(events, started_at="2026-03-02T08:15:00Z")])
    step = store.node("step:S-1")
    assert step is not None
    assert (step.attrs["started_at"], step.attrs["finished_at"]) == (
        "2026-03-02T08:15:00.000000Z",
        "2026-03-02T08:20:00.000000Z",
    )


def test_a_log_holding_a_step_that_finishes_before_it_starts_still_rebuilds(
    tmp_path: Path, events: Events
) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10)])
    service.ingest([_turn(events, event_id="P")])
    # As an earlier version, which did not compare a given time with occurred_at, let it through.
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute(
            "UPDATE events SET payload = json_set(payload, '$.started_at', ?) WHERE event_id = 'P'",
            ("2026-03-02T10:00:00Z",),
        )
    service.rebuild()
    step = store.node("step:S-1")
    assert step is not None and step.attrs["started_at"] == "2026-03-02T10:00:00.000000Z"
    store.close()
