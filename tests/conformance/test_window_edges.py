"""Equipment windows of runs that reach the calendar's last millisecond, on every store."""

from __future__ import annotations

from typing import Any

from graph.store import GraphStore
from ingest.service import IngestService
from tests.fixtures.events import Events

# Within the last millisecond of year 9999: a valid time, which SQLite's julianday() rounds
# into year 10000 and so cannot read.
LAST = "9999-12-31T23:59:59.9999Z"


def _run(events: Events, step: str, output: str, **times: str) -> dict[str, Any]:
    run = events(
        "process",
        step=step,
        operation="cut",
        equipment="SAW",
        outputs=[{"lot": output, "part": "BLANK", "qty": "1"}],
    )
    return run | times


def _window(store: GraphStore, start: str, end: str) -> list[str]:
    return [use.step.gid for use in store.equipment_window("equipment:SAW", start, end)]


def test_a_run_finishing_in_the_last_millisecond_is_recorded_and_windowed(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest([_run(events, "S-1", "O-1", finished_at=LAST)])
    assert _window(store, "9000-01-01T00:00:00.000000Z", "9000-01-02T00:00:00.000000Z") == [
        "step:S-1"
    ]


def test_a_long_run_beside_a_short_one_bounds_the_windows_that_read_it(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest(
        [_run(events, "S-1", "O-1"), _run(events, "S-2", "O-2", finished_at=LAST)]
    )
    assert _window(store, "9000-01-01T00:00:00.000000Z", "9000-01-02T00:00:00.000000Z") == [
        "step:S-2"
    ]
