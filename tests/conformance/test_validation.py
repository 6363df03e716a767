"""Every validation rule: the message names the event and field, and nothing is written."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from ingest.errors import BatchConflict, BatchRejected
from ingest.service import IngestService
from tests.conformance.helpers import rejected, state
from tests.fixtures.events import Events


def test_unknown_lot_is_named(store: GraphStore, events: Events) -> None:
    problem = rejected(
        store, [events("split", lot="NOPE", into=[{"lot": "C", "qty": "1"}])], "unknown_item"
    )
    assert (problem.index, problem.event_id, problem.field) == (0, "E-1", "lot")
    assert 'lot "NOPE" does not exist' in problem.message


def test_an_event_dated_before_an_item_it_uses_came_to_be_is_refused(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10), events.receive("L-2", 10, supplier_lot="A-2")])
    early = events("split", lot="L-1", into=[{"lot": "C", "qty": "1"}], minutes=-30)
    problem = rejected(store, [early], "time_order")
    assert (problem.field, problem.event_id) == ("lot", early["event_id"])
    assert 'lot "L-1" came to be at' in problem.message
    # An assembly's inputs are checked on their fast path too: at 08:15, L-1 (08:10) was
    # there, L-2 (08:20) was not.
    assembly = events(
        "process",
        step="S-1",
        operation="weld",
        inputs=[{"lot": "L-1", "qty": "1"}, {"lot": "L-2", "qty": "1"}],
        outputs=[{"lot": "W-1", "part": "W", "qty": "1"}],
        minutes=25,
    )
    assert rejected(store, [assembly], "time_order").field == "inputs[1].lot"
    # Reported late (before L-2's receipt), but after L-1 came to be: taken.
    service.ingest([events("split", lot="L-1", into=[{"lot": "C", "qty": "1"}], minutes=0)])


def test_an_event_at_the_very_time_its_item_came_to_be_is_taken(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10)])
    same_time = events("split", lot="L-1", into=[{"lot": "L-2", "qty": "4"}], minutes=0)
    assert service.ingest([same_time]).created == 1


def test_a_log_holding_an_event_dated_before_its_item_still_rebuilds(
    tmp_path: Path, events: Events
) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10)])
    service.ingest([events("split", lot="L-1", into=[{"lot": "C", "qty": "1"}], event_id="S")])
    # As an earlier version, which did not compare the times, let it through.
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute(
            "UPDATE events SET payload = json_set(payload, '$.occurred_at', ?) "
            "WHERE event_id = 'S'",
            ("2026-01-01T00:00:00+00:00",),
        )
    service.rebuild()
    assert store.node("lot:C") is not None
    store.close()


def test_unknown_serial_in_process_input(store: GraphStore, events: Events) -> None:
    batch = [
        events(
            "process",
            step="S-1",
            operation="weld",
            inputs=[{"serial": "SN-X"}],
            outputs=[{"serial": "K-1", "part": "KIT"}],
        )
    ]
    problem = rejected(store, batch, "unknown_item")
    assert problem.field == "inputs[0].serial"
    assert 'serial "SN-X" does not exist' in problem.message


def test_new_id_that_exists(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest([events.receive("L-1", 10)])
    problem = rejected(store, [events.receive("L-1", 5, supplier_lot="A-2")], "exists")
    assert problem.field == "lot"
    assert 'lot "L-1" already exists' in problem.message


def test_split_into_existing_lot(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest([events.receive("L-1", 10), events.receive("L-2", 10)])
    problem = rejected(
        store, [events("split", lot="L-1", into=[{"lot": "L-2", "qty": "3"}])], "exists"
    )
    assert problem.field == "into[0].lot"


def test_over_consumption_across_batches(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10)])
    service.ingest([events("split", lot="L-1", into=[{"lot": "L-2", "qty": "6"}])])
    problem = rejected(
        store, [events("split", lot="L-1", into=[{"lot": "L-3", "qty": "4.5"}])], "over_consumption"
    )
    assert problem.field == "into"
    assert 'takes 4.5 from lot "L-1", which holds only 4 ea' in problem.message


def test_over_consumption_within_one_batch(store: GraphStore, events: Events) -> None:
    batch = [
        events.receive("L-1", 10),
        events("serialize", lot="L-1", serials=[f"SN-{i}" for i in range(6)]),
        events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "5"}]),
    ]
    problem = rejected(store, batch, "over_consumption")
    assert (problem.index, problem.field) == (2, "items[0].lot")


def test_serial_consumed_twice(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest(
        [events.receive("L-1", 2), events("serialize", lot="L-1", serials=["SN-1"])]
    )
    batch = [
        events("ship", shipment="SH-1", customer="HOSP", items=[{"serial": "SN-1"}]),
        events("ship", shipment="SH-2", customer="HOSP", items=[{"serial": "SN-1"}]),
    ]
    problem = rejected(store, batch, "over_consumption")
    assert (problem.index, problem.field) == (1, "items[0].serial")


@pytest.mark.parametrize(
    ("item", "field"),
    [({"lot": "L-1", "qty": "6"}, "items[1].lot"), ({"serial": "SN-1"}, "items[1].serial")],
)
def test_a_shipment_listing_an_item_twice_is_refused(
    store: GraphStore, events: Events, item: dict[str, str], field: str
) -> None:
    IngestService(store).ingest(
        [events.receive("L-1", 20), events("serialize", lot="L-1", serials=["SN-1"])]
    )
    batch = [events("ship", shipment="SH-1", customer="HOSP", items=[item, item])]
    assert rejected(store, batch, "duplicate_reference").field == field


def test_exact_decimals_do_not_drift(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", "0.3")])
    service.ingest(
        [events("split", lot="L-1", into=[{"lot": f"C-{i}", "qty": "0.1"} for i in range(3)])]
    )
    assert store.node("lot:L-1").attrs["available"] == "0"  # type: ignore[union-attr]


def test_merge_across_parts(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest(
        [events.receive("L-1", 5), events.receive("L-2", 5, part="TUBE", supplier_lot="A-2")]
    )
    batch = [
        events(
            "merge",
            from_=[{"lot": "L-1", "qty": "5"}, {"lot": "L-2", "qty": "5"}],
            into={"lot": "M-1"},
        )
    ]
    problem = rejected(store, batch, "part_mismatch")
    assert problem.field == "from[1].lot"
    assert "use mix for different parts" in problem.message


def test_mix_of_different_units(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest(
        [events.receive("L-1", 5), events.receive("L-2", 5, unit="kg", supplier_lot="A-2")]
    )
    batch = [
        events(
            "mix",
            from_=[{"lot": "L-1", "qty": "5"}, {"lot": "L-2", "qty": "5"}],
            into={"lot": "M-1", "part": "BLEND"},
        )
    ]
    assert rejected(store, batch, "unit_mismatch").field == "from[1].lot"


def test_a_supplier_lot_received_again_in_another_unit_is_refused(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 1, unit="kg")])
    again = events.receive("L-2", 1000, unit="g")  # the same supplier lot A-1, in grams
    problem = rejected(store, [again], "unit_mismatch")
    assert problem.field == "unit"
    assert 'supplier lot "ACME/A-1" was received before in "kg", not "g"' in problem.message
    assert service.ingest([events.receive("L-3", 2, unit="kg")]).created == 1  # in kg it is taken


def test_a_process_of_lots_of_one_part_in_different_units_is_refused(
    store: GraphStore, events: Events
) -> None:
    # Its lots of a part are weighed against each other: 1000 g is not a thousand times 1 kg.
    IngestService(store).ingest(
        [
            events.receive("L-KG", 1, unit="kg"),
            events.receive("L-G", 1000, unit="g", supplier_lot="A-2"),
        ]
    )
    batch = [
        events(
            "process",
            step="S-1",
            operation="turn",
            inputs=[{"lot": "L-KG"}, {"lot": "L-G"}],
            outputs=[{"lot": "P-1", "part": "SCREW", "qty": "100"}],
        )
    ]
    problem = rejected(store, batch, "unit_mismatch")
    assert problem.field == "inputs[1].lot"
    assert 'lot "L-G" is counted in "g", lot "L-KG" in "kg"' in problem.message


def test_a_process_of_parts_in_different_units_is_taken(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-KG", 1, unit="kg"),
            events.receive("L-EA", 10, part="CAP", supplier_lot="A-2"),
        ]
    )
    assembly = events(
        "process",
        step="S-1",
        operation="assemble",
        inputs=[{"lot": "L-KG", "qty": "0.5"}, {"lot": "L-EA", "qty": "10"}],
        outputs=[{"lot": "P-1", "part": "SCREW", "qty": "10"}],
    )
    assert service.ingest([assembly]).created == 1


def _kilograms(events: Events) -> list[dict[str, Any]]:
    return [events.receive("L-1", 10, unit="kg"), events("cart_define", cart="C-1")]


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        ("split", {"lot": "L-1", "into": [{"lot": "L-1a", "qty": "5", "unit": "g"}]}, "into[0]"),
        (
            "merge",
            {
                "from_": [{"lot": "L-1", "qty": "5", "unit": "g"}, {"lot": "L-2", "qty": "1"}],
                "into": {"lot": "M-1"},
            },
            "from[0]",
        ),
        (
            "process",
            {
                "step": "S-1",
                "operation": "cut",
                "inputs": [{"lot": "L-1", "qty": "5", "unit": "g"}],
                "outputs": [{"lot": "P-1", "part": "BAR", "qty": "5"}],
            },
            "inputs[0]",
        ),
        (
            "ship",
            {
                "shipment": "SH-1",
                "customer": "HOSP",
                "items": [{"lot": "L-1", "qty": "5", "unit": "g"}],
            },
            "items[0]",
        ),
        ("cart_load", {"cart": "C-1", "lot": "L-1", "qty": "5", "unit": "g"}, ""),
    ],
)
def test_a_quantity_in_another_unit_than_the_lots_is_refused(
    store: GraphStore, events: Events, kind: str, fields: dict[str, Any], field: str
) -> None:
    IngestService(store).ingest(
        [*_kilograms(events), events.receive("L-2", 5, unit="kg", supplier_lot="A-2")]
    )
    problem = rejected(store, [events(kind, **fields)], "unit_mismatch")
    assert problem.field == (f"{field}.unit" if field else "unit")
    assert 'is counted in "kg", not "g"' in problem.message


def test_a_quantity_that_states_the_lots_own_unit_is_taken(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest(_kilograms(events))
    ship = events(
        "ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "4", "unit": "kg"}]
    )
    assert service.ingest([ship]).created == 1


def test_a_supplier_lot_received_again_as_another_part_is_refused(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest([events.receive("L-1", 10, part="BAR")])
    problem = rejected(store, [events.receive("L-2", 10, part="SCREW")], "part_mismatch")
    assert problem.field == "part"
    assert 'supplier lot "ACME/A-1" was received before as part "BAR"' in problem.message


def test_mix_of_nothing(store: GraphStore, events: Events) -> None:
    problem = rejected(
        store, [events("mix", from_=[], into={"lot": "M-1", "part": "X"})], "too_short"
    )
    assert problem.field == "from"


def test_cycle_in_process(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest([events.receive("L-1", 5)])
    batch = [
        events(
            "process",
            step="S-1",
            operation="turn",
            inputs=[{"lot": "L-1"}],
            outputs=[{"lot": "L-1", "part": "BAR", "qty": "5"}],
        )
    ]
    problem = rejected(store, batch, "cycle")
    assert problem.field == "inputs[0].lot"
    assert "both an input and an output" in problem.message


def _assemble(events: Events, step: str, inputs: list[dict[str, str]]) -> dict[str, Any]:
    return events(
        "process",
        step=step,
        operation="assemble",
        inputs=inputs,
        outputs=[{"serial": f"K-{step}", "part": "KIT"}],
    )


def test_process_input_over_consumed(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest(
        [events.receive("L-1", 5), events.receive("L-2", 5, supplier_lot="A-2")]
    )
    batch = [_assemble(events, "S-1", [{"lot": "L-2", "qty": "1"}, {"lot": "L-1", "qty": "6"}])]
    problem = rejected(store, batch, "over_consumption")
    assert problem.field == "inputs[1].lot"
    assert 'takes 6 from lot "L-1", which holds only 5 ea' in problem.message


def test_process_input_used_up_earlier_in_the_batch(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest([events.receive("L-1", 5)])
    batch = [
        _assemble(events, "S-1", [{"lot": "L-1"}]),  # all that remains of L-1
        _assemble(events, "S-2", [{"lot": "L-1"}]),
    ]
    problem = rejected(store, batch, "over_consumption")
    assert (problem.index, problem.field) == (1, "inputs[0].lot")
    assert problem.message == 'lot "L-1" is used up'


def test_process_input_listed_twice(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest([events.receive("L-1", 5)])
    batch = [_assemble(events, "S-1", [{"lot": "L-1", "qty": "1"}, {"lot": "L-1", "qty": "1"}])]
    problem = rejected(store, batch, "duplicate_reference")
    assert problem.field == "inputs[1].lot"
    assert problem.message == 'lot "L-1" is listed twice'


def test_process_input_of_the_wrong_kind(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest([events.receive("L-1", 5)])
    batch = [_assemble(events, "S-1", [{"serial": "L-1"}])]
    problem = rejected(store, batch, "unknown_item")
    assert problem.field == "inputs[0].serial"


def test_split_into_itself_is_a_cycle(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest([events.receive("L-1", 5)])
    assert rejected(store, [events("split", lot="L-1", into=[{"lot": "L-1", "qty": "1"}])], "cycle")


def _combine(
    events: Events, kind: str, sources: list[tuple[str, str]], into: str
) -> dict[str, Any]:
    from_ = [{"lot": lot, "qty": qty} for lot, qty in sources]
    target = {"lot": into} if kind == "merge" else {"lot": into, "part": "BLEND"}
    return events(kind, from_=from_, into=target)


@pytest.mark.parametrize("kind", ["merge", "mix"])
def test_merge_or_mix_into_one_of_its_sources_is_a_cycle(
    store: GraphStore, events: Events, kind: str
) -> None:
    IngestService(store).ingest(
        [events.receive("L-1", 10), events.receive("L-2", 10, supplier_lot="A-2")]
    )
    batch = [_combine(events, kind, [("L-1", "5"), ("L-2", "5")], "L-1")]
    problem = rejected(store, batch, "cycle")
    assert problem.field == "from[0].lot"
    assert "into itself" in problem.message


@pytest.mark.parametrize("kind", ["merge", "mix"])
def test_merge_or_mix_listing_a_source_twice_is_refused(
    store: GraphStore, events: Events, kind: str
) -> None:
    IngestService(store).ingest(
        [events.receive("L-1", 10), events.receive("L-2", 10, supplier_lot="A-2")]
    )
    batch = [_combine(events, kind, [("L-1", "8"), ("L-1", "8"), ("L-2", "1")], "M")]
    problem = rejected(store, batch, "duplicate_reference")
    assert problem.field == "from[1].lot"
    assert problem.message == 'lot "L-1" is listed twice'


def test_merge_over_consumed(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest(
        [events.receive("L-1", 10), events.receive("L-2", 10, supplier_lot="A-2")]
    )
    batch = [_combine(events, "merge", [("L-2", "1"), ("L-1", "11")], "M")]
    problem = rejected(store, batch, "over_consumption")
    assert problem.field == "from[1].lot"
    assert 'takes 11 from lot "L-1", which holds only 10 ea' in problem.message


def test_reference_to_item_of_rejected_event_says_so(store: GraphStore, events: Events) -> None:
    batch = [
        events("split", lot="NOPE", into=[{"lot": "C-1", "qty": "1"}]),
        events("serialize", lot="C-1", serials=["SN-1"]),
    ]
    rejected(store, batch, "unknown_item")
    with pytest.raises(BatchRejected) as caught:
        IngestService(store).ingest(batch)
    second = caught.value.problems[1]
    assert (second.index, second.field) == (1, "lot")
    assert "event 0 of this batch, which creates it, is rejected" in second.message


def test_reference_to_an_item_a_later_event_of_the_batch_creates_says_so(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest([events.receive("L-1", 10)])
    batch = [
        events("serialize", lot="C-1", serials=["SN-1"]),
        events("split", lot="L-1", into=[{"lot": "C-1", "qty": "1"}]),
    ]
    problem = rejected(store, batch, "unknown_item")
    assert (problem.index, problem.field) == (0, "lot")
    assert "event 1 of this batch creates it, after this one" in problem.message


def test_a_split_child_in_another_unit_and_its_later_use_are_both_named(
    store: GraphStore, events: Events
) -> None:
    batch = [
        events.receive("L-1", 10, unit="kg"),
        events("split", lot="L-1", into=[{"lot": "L-2", "qty": "5", "unit": "g"}]),
        events("split", lot="L-2", into=[{"lot": "L-3", "qty": "1"}]),
    ]
    rejected(store, batch, "unit_mismatch")
    with pytest.raises(BatchRejected) as caught:
        IngestService(store).ingest(batch)
    assert [(p.index, p.field, p.code) for p in caught.value.problems] == [
        (1, "into[0].unit", "unit_mismatch"),
        (2, "lot", "unknown_item"),
    ]


def test_atomic_batch_writes_nothing_when_last_event_is_bad(
    store: GraphStore, events: Events
) -> None:
    batch = [
        events.receive("L-1", 10),
        events("split", lot="L-1", into=[{"lot": "L-2", "qty": "4"}]),
        events("split", lot="L-1", into=[{"lot": "L-3", "qty": "7"}]),
    ]
    rejected(store, batch, "over_consumption")
    assert store.node("lot:L-1") is None
    assert store.events(0, 10) == []


def test_naive_time_is_an_error(store: GraphStore, events: Events) -> None:
    event = events.receive("L-1", 1)
    event["occurred_at"] = "2026-03-02T08:00:00"
    problem = rejected(store, [event], "timezone_aware")
    assert problem.field == "occurred_at"


def test_unknown_type_and_field(store: GraphStore, events: Events) -> None:
    assert rejected(store, [events("teleport", lot="L-1")], "unknown_type").field == "type"
    bad = events.receive("L-1", 1)
    bad["colour"] = "red"
    problem = rejected(store, [bad], "extra_forbidden")
    assert (problem.field, problem.message) == ("colour", "is not a field of this event type")


def test_non_positive_qty(store: GraphStore, events: Events) -> None:
    assert rejected(store, [events.receive("L-1", 0)], "greater_than").field == "qty"


def test_ref_needs_exactly_one_key(store: GraphStore, events: Events) -> None:
    batch = [events("status", target={"lot": "L-1", "serial": "S"}, status="recalled", reason="x")]
    problem = rejected(store, batch, "value_error")
    assert problem.field == "target"
    assert 'exactly one of "lot" or "serial"' in problem.message


def test_same_id_same_payload_is_a_duplicate(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    first = events.receive("L-1", 10)
    service.ingest([first])
    again = dict(first, qty="10.000")
    before = state(store)
    report = service.ingest([again])
    assert report.to_dict()["results"] == [{"event_id": "E-1", "status": "duplicate"}]
    assert state(store) == before


def test_same_id_other_payload_is_a_conflict(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    first = events.receive("L-1", 10)
    service.ingest([first])
    before = state(store)
    with pytest.raises(BatchConflict) as caught:
        service.ingest([events.receive("L-9", 1), dict(first, qty="11")])
    assert caught.value.status_code == 409
    assert caught.value.problems[0].index == 1
    assert "different payload" in caught.value.problems[0].message
    assert state(store) == before


def test_duplicate_inside_one_batch(store: GraphStore, events: Events) -> None:
    event = events.receive("L-1", 10)
    report = IngestService(store).ingest([event, dict(event)])
    assert [r.status for r in report.results] == ["created", "duplicate"]
