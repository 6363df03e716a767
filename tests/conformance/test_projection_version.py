"""Each store records which version of the projection made its graph; an older one is rebuilt."""

from __future__ import annotations

from typing import Any

import pytest

import ingest.service
from graph.projection import PROJECTION
from graph.store import GraphStore
from ingest.service import IngestService
from tests.fixtures.events import Events


def _older(store: GraphStore, events: Events) -> IngestService:
    """A store with two events whose graph an older release made (here: none at all)."""
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10), events("serialize", lot="L-1", serials=["SN-1"])])
    store.clear_projection()
    store.stamp_projection(PROJECTION - 1)
    return service


def test_a_new_store_is_current_and_left_alone(store: GraphStore, events: Events) -> None:
    assert store.projection_version() == PROJECTION
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10)])
    assert service.bring_up_to_date() is None
    assert store.node("lot:L-1") is not None


def test_an_older_graph_is_rebuilt_and_then_recorded_current(
    store: GraphStore, events: Events
) -> None:
    service = _older(store, events)
    assert service.bring_up_to_date() == 2
    assert store.node("serial:SN-1") is not None
    assert store.projection_version() == PROJECTION
    assert service.bring_up_to_date() is None


def test_a_rebuild_that_stops_keeps_the_older_version_so_it_runs_again(
    store: GraphStore, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _older(store, events)
    replay = ingest.service._replay

    def cut_off(*args: Any, **kwargs: Any) -> Any:
        replay(*args, **kwargs)
        raise RuntimeError("the process stopped")

    monkeypatch.setattr(ingest.service, "_replay", cut_off)
    with pytest.raises(RuntimeError):
        service.bring_up_to_date()
    assert store.projection_version() == PROJECTION - 1
    monkeypatch.setattr(ingest.service, "_replay", replay)
    assert service.bring_up_to_date() == 2
    assert store.projection_version() == PROJECTION


def test_rebuild_records_the_current_version(store: GraphStore, events: Events) -> None:
    service = _older(store, events)
    assert service.rebuild() == 2
    assert store.projection_version() == PROJECTION
