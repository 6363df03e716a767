"""The part registry: parts with their GTIN (UDI-DI), UDI dates on items, rebuilt from the log."""

from __future__ import annotations

import pytest

from graph.store import GraphStore
from ingest.errors import BatchRejected
from ingest.service import IngestService
from tests.conformance.helpers import rejected
from tests.fixtures.events import Events

GTIN = "09506000134352"


def test_a_part_is_found_by_its_gtin_given_in_any_length(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest(
        [
            events("part_define", part="KIT", gtin="9506000134352", description="Screw kit"),
            events("part_define", part="BAR"),
        ]
    )
    found = store.part_for_gtin(GTIN)
    assert found is not None and found.gid == "part:KIT"
    assert found.attrs["gtin"] == GTIN and found.attrs["description"] == "Screw kit"
    assert store.part_for_gtin("09506000134369") is None
    assert [p.gid for p in store.parts()] == ["part:BAR", "part:KIT"]


def test_a_parts_fields_come_by_name_its_own_among_them(store: GraphStore, events: Events) -> None:
    # As every node's do, so `parts --json` and a part's node read the same on either store.
    IngestService(store).ingest(
        [events("part_define", part="KIT", gtin=GTIN, supplier="ACME", site="PLANT-1")]
    )
    fields = ["key", "gtin", "part", "site", "supplier", "created_at", "created_by"]
    for found in (store.node("part:KIT"), store.parts()[0], store.part_for_gtin(GTIN)):
        assert found is not None and list(found.attrs) == fields
        assert found.attrs["part"] == "KIT"


def test_a_gtin_belongs_to_one_part(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest([events("part_define", part="KIT", gtin=GTIN)])
    problem = rejected(store, [events("part_define", part="OTHER", gtin=GTIN)], "gtin_taken")
    assert problem.field == "gtin" and 'part "KIT"' in problem.message


def test_the_same_gtin_twice_in_one_batch_is_refused(store: GraphStore, events: Events) -> None:
    batch = [
        events("part_define", part="A", gtin=GTIN),
        events("part_define", part="B", gtin=GTIN),
    ]
    assert rejected(store, batch, "gtin_taken").index == 1


def test_a_part_is_defined_once(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest([events("part_define", part="KIT")])
    assert rejected(store, [events("part_define", part="KIT", gtin=GTIN)], "exists")


def test_a_bad_check_digit_is_refused_with_the_expected_digit(
    store: GraphStore, events: Events
) -> None:
    with pytest.raises(BatchRejected) as caught:
        IngestService(store).ingest([events("part_define", part="KIT", gtin="09506000134353")])
    assert "expected 2" in str(caught.value.problems[0])
    assert store.parts() == []


def test_a_voided_definition_frees_its_gtin(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    first = events("part_define", part="KIT", gtin=GTIN)
    service.ingest([first])
    service.ingest(
        [
            events("void", voids=first["event_id"], reason="wrong part id"),
            events("part_define", part="KIT-2", gtin=GTIN),
        ]
    )
    found = store.part_for_gtin(GTIN)
    assert found is not None and found.gid == "part:KIT-2"


def test_parts_and_udi_dates_rebuild_from_the_log(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [
            events("part_define", part="KIT", gtin=GTIN, supplier="ACME"),
            events.receive("L-1", 5, part="KIT", expiry="2030-01-31", manufactured="2025-01-02"),
            events("serialize", lot="L-1", serials=["S-1"], expiry="2029-12-31"),
        ]
    )
    before = store.nodes(["part:KIT", "lot:L-1", "serial:S-1"])
    service.rebuild()
    after = store.nodes(["part:KIT", "lot:L-1", "serial:S-1"])
    assert after == before
    assert after["part:KIT"].attrs["supplier"] == "ACME"
    assert after["lot:L-1"].attrs["expiry"] == "2030-01-31"
    assert after["lot:L-1"].attrs["manufactured"] == "2025-01-02"
    assert after["serial:S-1"].attrs["expiry"] == "2029-12-31"
    assert "manufactured" not in after["serial:S-1"].attrs
