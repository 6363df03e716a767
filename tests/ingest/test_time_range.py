"""Times that UTC cannot write are refused by name, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.embedded_store import EmbeddedStore
from ingest.errors import BatchRejected
from ingest.service import IngestService


@pytest.mark.parametrize(
    ("field", "value"),
    [("occurred_at", "0001-01-01T00:00:00+14:00"), ("finished_at", "9999-12-31T23:59:59-14:00")],
)
def test_a_time_utc_cannot_write_is_refused_by_name(tmp_path: Path, field: str, value: str) -> None:
    event = {
        "event_id": "E-1",
        "type": "process",
        "occurred_at": "2026-01-05T08:00:00Z",
        "step": "S-1",
        "operation": "turn",
        "outputs": [{"lot": "L-1", "part": "P", "qty": "1"}],
    }
    store = EmbeddedStore(tmp_path / "plant.db")
    try:
        with pytest.raises(BatchRejected) as refused:
            IngestService(store).ingest([event | {field: value}])
        (problem,) = refused.value.problems
        assert problem.field == field and "years 1 to 9999 in UTC" in problem.message
        assert store.counts()["events"] == 0
    finally:
        store.close()
