"""A log that no longer replays stops the rebuild, naming the event, and changes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from graph.embedded_store import EmbeddedStore
from ingest.errors import RebuildStopped
from ingest.parse import parse_events
from ingest.service import IngestService
from marking.models import SchemeSpec
from marking.service import MarkingService
from tests.fixtures.events import Events


def test_a_rebuild_that_cannot_replay_an_event_names_it(tmp_path: Path, events: Events) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest(
        [events.receive("L-1", 1, part="PLATE-9"), events("mark", target={"lot": "L-1"}, code="X")]
    )
    # As logged before marks recorded the scheme that read them: a scheme given to the part
    # family since refuses the code on replay.
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute("UPDATE events SET effects = replace(effects, ',\"mark\":[]', '')")
    MarkingService(store).define_scheme(
        SchemeSpec(name="PL", kind="sequential", length=3, parts=["PLATE-*"])
    )
    with pytest.raises(RebuildStopped) as stopped:
        service.rebuild()
    assert "logged event 'E-2'" in stopped.value.message
    assert "The event log is unchanged" in stopped.value.message
    assert "the graph is as it was before the rebuild" in stopped.value.message
    assert store.counts()["events"] == 2
    # One transaction on the embedded store: the graph the rebuild began with is all there.
    assert store.node("lot:L-1") is not None and store.node("mark:X") is not None
    store.close()


def test_a_logged_event_the_contract_refuses_stops_the_rebuild_naming_it(
    tmp_path: Path, events: Events
) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest([events.receive("L-1", 1)])
    # As an operator's event was recorded with an empty site, taken from their account.
    unsited = parse_events([events.receive("L-2", 1)])[0]
    service.ingest_events([unsited.model_copy(update={"site": ""})])
    with pytest.raises(RebuildStopped) as stopped:
        service.rebuild()
    message = stopped.value.message
    assert "logged event 'E-2' (log position 2, site)" in message
    assert "at least 1 character" in message and "The event log is unchanged" in message
    assert store.node("lot:L-1") is not None and store.node("lot:L-2") is not None
    store.close()
