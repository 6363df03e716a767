"""Carts that travel with material: definitions, the loading rules, history and shared carts."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from graph.carts import CartService
from graph.clock import utc_text
from graph.embedded_store import EmbeddedStore
from graph.errors import NotFound
from graph.quantities import Amount
from graph.store import GraphStore
from graph.trace import TraceService
from ingest.errors import BatchRejected
from ingest.service import IngestService
from tests.conformance.helpers import rejected
from tests.fixtures.events import Events


def _define(events: Events, cart: str, **settings: Any) -> dict[str, Any]:
    return events("cart_define", cart=cart, **settings)


def _load(events: Events, cart: str, lot: str, **extra: Any) -> dict[str, Any]:
    return events("cart_load", cart=cart, lot=lot, **extra)


def _unload(events: Events, cart: str, lot: str, **extra: Any) -> dict[str, Any]:
    return events("cart_unload", cart=cart, lot=lot, **extra)


def _lots(events: Events, *lots: str, qty: int = 10) -> list[dict[str, Any]]:
    return [events.receive(lot, qty, supplier_lot=f"S-{lot}") for lot in lots]


def _in(store: GraphStore, cart: str, at: str | None = None) -> list[tuple[str, str | None]]:
    found = CartService(store).contents(f"cart:{cart}", at).stays
    return [(s.lot.partition(":")[2], s.compartment) for s in found]


def test_a_defined_cart_keeps_group_number_compartments_and_capacity(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest(
        [_define(events, "C-11", group="1", seq=1, compartments=["A", "B"], capacity="50")]
    )
    info = CartService(store).cart("cart:C-11")
    assert (info.group, info.seq, info.label) == ("1", 1, "1-1")
    assert info.compartments == ["A", "B"]
    assert str(info.capacity) == "50"
    assert rejected(store, [_define(events, "C-11")], "exists").field == "cart"


def test_a_cart_is_defined_before_it_is_used(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1"), _load(events, "C-1", "L-1")])
    assert rejected(store, [_define(events, "C-1", capacity="5")], "exists")


def test_an_unknown_cart_is_not_found(store: GraphStore) -> None:
    with pytest.raises(NotFound):
        CartService(store).cart("cart:NOPE")


def test_a_cart_holds_one_lot_at_a_time(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1", "L-2"), _load(events, "C-1", "L-1")])
    problem = rejected(store, [_load(events, "C-1", "L-2")], "cart_occupied")
    assert problem.field == "cart"
    assert 'holds lot "L-1"' in problem.message
    service.ingest([_unload(events, "C-1", "L-1"), _load(events, "C-1", "L-2")])
    assert _in(store, "C-1") == [("L-2", None)]


def test_lots_share_a_cart_only_in_distinct_compartments(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [
            *_lots(events, "L-1", "L-2", "L-3"),
            _define(events, "C-1", compartments=["A", "B"]),
            _load(events, "C-1", "L-1", compartment="A"),
            _load(events, "C-1", "L-2", compartment="B"),
        ]
    )
    assert _in(store, "C-1") == [("L-1", "A"), ("L-2", "B")]
    same = rejected(store, [_load(events, "C-1", "L-3", compartment="A")], "cart_occupied")
    assert same.field == "compartment"
    assert 'compartment "A" of cart "C-1" holds lot "L-1"' in same.message
    assert rejected(store, [_load(events, "C-1", "L-3")], "cart_occupied")
    unknown = rejected(store, [_load(events, "C-1", "L-3", compartment="Z")], "unknown_compartment")
    assert unknown.field == "compartment"


def test_compartments_of_an_undefined_cart_are_open(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [
            *_lots(events, "L-1", "L-2"),
            _load(events, "C-1", "L-1", compartment="1"),
            _load(events, "C-1", "L-2", compartment="2"),
        ]
    )
    assert _in(store, "C-1") == [("L-1", "1"), ("L-2", "2")]


def test_a_lot_rides_in_carts_of_one_group_at_once(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [
            *_lots(events, "L-1", qty=300),
            _define(events, "G1-1", group="1", seq=1),
            _define(events, "G1-2", group="1", seq=2),
            _define(events, "G2-1", group="2", seq=1),
            _load(events, "G1-1", "L-1", qty="150"),
            _load(events, "G1-2", "L-1", qty="150"),
        ]
    )
    assert [s.cart for s in CartService(store).where_now("lot:L-1")] == ["cart:G1-1", "cart:G1-2"]
    problem = rejected(store, [_load(events, "G2-1", "L-1")], "cart_group_mismatch")
    assert 'lot "L-1" is in cart "G1-1"' in problem.message
    assert rejected(store, [_load(events, "LOOSE", "L-1")], "cart_group_mismatch")


def test_two_carts_without_a_group_are_two_groups(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1"), _load(events, "C-1", "L-1")])
    assert rejected(store, [_load(events, "C-2", "L-1")], "cart_group_mismatch")


def test_unloading_what_is_not_in_the_cart_is_refused(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1", "L-2"), _load(events, "C-1", "L-1", compartment="A")])
    assert rejected(store, [_unload(events, "C-1", "L-2")], "not_in_cart").field == "cart"
    wrong = rejected(store, [_unload(events, "C-1", "L-1", compartment="B")], "not_in_cart")
    assert wrong.field == "compartment"
    assert 'in compartment "A"' in wrong.message


def test_a_lot_in_the_whole_cart_is_unloaded_from_no_compartment(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest(
        [
            *_lots(events, "L-1"),
            _define(events, "K", compartments=["A", "B"]),
            _load(events, "K", "L-1"),
        ]
    )
    for named in ("A", "ZZZ"):
        problem = rejected(store, [_unload(events, "K", "L-1", compartment=named)], "not_in_cart")
        assert problem.field == "compartment" and "takes the whole of" in problem.message
    service.ingest([_unload(events, "K", "L-1")])


def test_loading_beyond_capacity_is_refused(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [
            *_lots(events, "L-1", qty=30),
            *_lots(events, "L-2", qty=25),
            _define(events, "C-1", compartments=["A", "B"], capacity="50"),
            _load(events, "C-1", "L-1", compartment="A"),
        ]
    )
    problem = rejected(store, [_load(events, "C-1", "L-2", compartment="B")], "over_capacity")
    assert "holds 30 of its capacity 50: 25 more does not fit" in problem.message
    service.ingest([_load(events, "C-1", "L-2", compartment="B", qty="20")])
    assert CartService(store).contents("cart:C-1").held == 50


def _weighed(events: Events, *lots: str, qty: int = 10) -> list[dict[str, Any]]:
    return [events.receive(lot, qty, unit="kg", supplier_lot=f"S-{lot}") for lot in lots]


def test_a_cart_with_a_capacity_holds_lots_of_one_unit(store: GraphStore, events: Events) -> None:
    # Its capacity is in the unit of the lots it carries: kilograms and pieces make no total,
    # so 30 kg beside 30 pieces is no load of 60, and 40 kg beside 5 pieces none of 45.
    service = IngestService(store)
    service.ingest(
        [
            *_weighed(events, "KG", qty=40),
            *_lots(events, "EA", qty=30),
            *_weighed(events, "KG-2", "KG-3", qty=5),
            _define(events, "C-1", compartments=["A", "B", "C"], capacity="50"),
            _load(events, "C-1", "KG", compartment="A", qty="30"),
        ]
    )
    for qty in ("30", "5"):
        load = _load(events, "C-1", "EA", compartment="B", qty=qty)
        problem = rejected(store, [load], "cart_unit_mismatch")
        assert problem.field == "cart"
        assert problem.message == (
            'cart "C-1" holds lot "KG", counted in "kg": lot "EA" is counted in "ea", and a '
            "capacity is in the unit of the lots a cart carries"
        )
    service.ingest([_load(events, "C-1", "KG-2", compartment="B")])
    assert CartService(store).contents("cart:C-1").held == 35
    # A cart of no capacity counts nothing: it takes lots of any unit.
    service.ingest(
        [_load(events, "C-2", "KG-3", compartment="1"), _load(events, "C-2", "EA", compartment="2")]
    )
    assert service.rebuild() == 9


def test_a_cart_says_what_it_holds_per_unit(store: GraphStore, events: Events) -> None:
    # A cart of no capacity takes kilograms beside pieces: they make no one total.
    service = IngestService(store)
    service.ingest(
        [
            *_weighed(events, "KG", qty=5),
            *_lots(events, "EA", "EA-2", qty=30),
            _load(events, "C-1", "KG", compartment="1"),
            _load(events, "C-1", "EA", compartment="2", qty="20"),
            _load(events, "C-1", "EA-2", compartment="3", qty="4.5"),
        ]
    )
    loaded = utc_text(events.clock)
    service.ingest([_unload(events, "C-1", "KG", compartment="1")])
    then = CartService(store).contents("cart:C-1", loaded)
    assert then.held_by_unit == [Amount(Decimal("24.5"), "ea"), Amount(Decimal(5), "kg")]
    assert then.held is None
    now = CartService(store).contents("cart:C-1")
    assert (now.held_by_unit, now.held) == ([Amount(Decimal("24.5"), "ea")], Decimal("24.5"))


def test_a_load_takes_no_more_than_the_lot_holds(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(_lots(events, "L-1", qty=5))
    assert rejected(store, [_load(events, "C-1", "L-1", qty="6")], "over_consumption")


def test_a_refused_load_in_a_batch_writes_nothing(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(_lots(events, "L-1", "L-2"))
    batch = [_load(events, "C-1", "L-1"), _load(events, "C-1", "L-2")]
    with pytest.raises(BatchRejected) as caught:
        service.ingest(batch)
    assert [(p.index, p.code) for p in caught.value.problems] == [(1, "cart_occupied")]
    assert store.node("cart:C-1") is None


def test_contents_at_a_time_and_the_history_of_a_lot(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(_lots(events, "L-1", "L-2"))
    service.ingest([_load(events, "C-1", "L-1")])
    loaded = events.clock
    service.ingest([_unload(events, "C-1", "L-1")])
    unloaded = events.clock
    service.ingest([_load(events, "C-1", "L-2"), _load(events, "C-2", "L-1")])
    assert _in(store, "C-1", utc_text(loaded)) == [("L-1", None)]
    assert _in(store, "C-1", utc_text(unloaded)) == []  # unloaded at T: no longer in at T
    assert _in(store, "C-1") == [("L-2", None)]
    history = CartService(store).history("lot:L-1")
    assert [(s.cart, s.at, s.until) for s in history] == [
        ("cart:C-1", utc_text(loaded), utc_text(unloaded)),
        ("cart:C-2", history[1].at, None),
    ]
    assert str(history[0].qty) == "10"


def test_a_split_child_rides_in_its_own_cart(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1", qty=10), _load(events, "C-1", "L-1")])
    service.ingest(
        [
            events(
                "split",
                lot="L-1",
                into=[
                    {"lot": "L-1a", "qty": "4", "cart": "C-2"},
                    {"lot": "L-1b", "qty": "6", "cart": "C-3", "compartment": "X"},
                ],
            )
        ]
    )
    carts = CartService(store)
    assert carts.where_now("lot:L-1") == [], "a parent split up entirely leaves its cart"
    assert [s.cart for s in carts.where_now("lot:L-1a")] == ["cart:C-2"]
    assert [(s.cart, s.compartment) for s in carts.where_now("lot:L-1b")] == [("cart:C-3", "X")]
    assert str(carts.where_now("lot:L-1b")[0].qty) == "6"


def test_a_part_split_parent_keeps_its_cart(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1", qty=10), _load(events, "C-1", "L-1")])
    split = events("split", lot="L-1", into=[{"lot": "L-1a", "qty": "4", "cart": "C-1"}])
    problem = rejected(store, [split], "cart_occupied")
    assert problem.field == "into[0].cart"
    service.ingest([events("split", lot="L-1", into=[{"lot": "L-1a", "qty": "4"}])])
    assert [s.cart for s in CartService(store).where_now("lot:L-1")] == ["cart:C-1"]
    assert CartService(store).where_now("lot:L-1a") == []


def test_a_merge_lands_in_one_cart(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [
            *_lots(events, "L-1", "L-2"),
            _load(events, "C-1", "L-1"),
            _load(events, "C-2", "L-2"),
        ]
    )
    service.ingest(
        [
            events(
                "merge",
                from_=[{"lot": "L-1", "qty": "10"}, {"lot": "L-2", "qty": "10"}],
                into={"lot": "M-1", "cart": "C-1"},
            )
        ]
    )
    carts = CartService(store)
    assert _in(store, "C-1") == [("M-1", None)]
    assert _in(store, "C-2") == []
    assert [s.until is not None for s in carts.history("lot:L-2")] == [True]


def test_a_mix_lands_in_a_compartment(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [
            *_lots(events, "G-1", "G-2"),
            _define(events, "C-1", compartments=["A", "B"]),
            events(
                "mix",
                from_=[{"lot": "G-1", "qty": "3"}, {"lot": "G-2", "qty": "1"}],
                into={"lot": "BL-1", "part": "BLEND", "cart": "C-1", "compartment": "B"},
            ),
        ]
    )
    assert _in(store, "C-1") == [("BL-1", "B")]


def test_void_of_a_split_puts_the_parent_back(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1"), _load(events, "C-1", "L-1")])
    split = events(
        "split", lot="L-1", into=[{"lot": "L-1a", "qty": "10", "cart": "C-1"}], event_id="SPLIT"
    )
    service.ingest([split])
    assert _in(store, "C-1") == [("L-1a", None)]
    service.ingest([events("void", voids="SPLIT", reason="wrong lot")])
    assert _in(store, "C-1") == [("L-1", None)]
    service.ingest([_unload(events, "C-1", "L-1")])


def test_void_of_an_unload_is_refused_when_the_cart_is_taken(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1", "L-2"), _load(events, "C-1", "L-1")])
    service.ingest([_unload(events, "C-1", "L-1", event_id="OUT")])
    service.ingest([_load(events, "C-1", "L-2")])
    problem = rejected(store, [events("void", voids="OUT", reason="x")], "cart_occupied")
    assert problem.field == "voids"


def test_void_of_a_definition_needs_its_loads_voided_first(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1"), _define(events, "C-1", capacity="5", event_id="DEF")])
    service.ingest([_load(events, "C-1", "L-1", qty="5", event_id="LOAD")])
    assert rejected(store, [events("void", voids="DEF", reason="x")], "void_has_dependents")
    service.ingest([events("void", voids="LOAD", reason="x")])
    service.ingest([events("void", voids="DEF", reason="x")])
    assert store.node("cart:C-1") is None
    service.ingest([_load(events, "C-1", "L-1")])  # no capacity any more


def test_rebuild_gives_the_same_cart_history(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [
            *_lots(events, "L-1", "L-2"),
            _define(events, "C-1", group="1", seq=1, compartments=["A", "B"], capacity="20"),
            _load(events, "C-1", "L-1", compartment="A"),
            _load(events, "C-1", "L-2", compartment="B"),
            events("split", lot="L-1", into=[{"lot": "L-1a", "qty": "10", "cart": "C-2"}]),
            _unload(events, "C-1", "L-2"),
        ]
    )
    carts = CartService(store)
    before = carts.cart_history("cart:C-1"), carts.cart("cart:C-1")
    service.rebuild()
    assert (carts.cart_history("cart:C-1"), carts.cart("cart:C-1")) == before


def test_a_trace_lists_shared_carts_apart_from_material(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [
            events.receive("BAD", 10, supplier="ACME", supplier_lot="H-1"),
            events.receive("OK", 10, supplier="ACME", supplier_lot="H-2"),
            events.receive("LATER", 10, supplier="ACME", supplier_lot="H-3"),
            _define(events, "C-1", compartments=["A", "B"]),
            _load(events, "C-1", "BAD", compartment="A"),
            _load(events, "C-1", "OK", compartment="B"),
            events("split", lot="BAD", into=[{"lot": "BAD-1", "qty": "10", "cart": "C-9"}]),
            _unload(events, "C-1", "OK"),
            _load(events, "C-1", "LATER"),
        ]
    )
    trace = TraceService(store).trace("supplier_lot:ACME/H-1", "down")
    reached = {node.id for node in trace.nodes}
    assert "lot:OK" not in reached, "a shared cart is not material flow"
    rode, shared = CartService(store).shared(reached)
    assert sorted({(s.lot, s.cart) for s in rode}) == [
        ("lot:BAD", "cart:C-1"),
        ("lot:BAD-1", "cart:C-9"),
    ]
    assert [(s.lot, s.cart, s.suspect, s.same_compartment) for s in shared] == [
        ("lot:OK", "cart:C-1", "lot:BAD", False)
    ]


def test_shared_carts_as_of_an_instant_leave_out_later_loads(
    store: GraphStore, events: Events
) -> None:
    received = [
        events.receive("BAD", 10, supplier_lot="H-1"),
        events.receive("OK", 10, supplier_lot="H-2"),
        _define(events, "C-1", compartments=["A", "B"]),
    ]
    bad_in = _load(events, "C-1", "BAD", compartment="A")
    ok_in = _load(events, "C-1", "OK", compartment="B")
    IngestService(store).ingest([*received, bad_in, ok_in])
    between = str(min(bad_in["occurred_at"], ok_in["occurred_at"]))
    for moment, sharers in ((between, []), (None, ["lot:OK"])):
        horizon = None if moment is None else utc_text(datetime.fromisoformat(moment))
        _, shared = CartService(store).shared(["lot:BAD"], horizon)
        assert [s.lot for s in shared] == sharers


def test_a_load_reported_late_must_find_the_cart_free_at_its_time(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "A", "B"), _load(events, "C-1", "A")])
    a_out = _unload(events, "C-1", "A")
    service.ingest([a_out])
    late = _load(events, "C-1", "B")
    moment = datetime.fromisoformat(str(a_out["occurred_at"])) - timedelta(minutes=5)
    late["occurred_at"] = moment.isoformat()  # while A was still in C-1
    problem = rejected(store, [late], "cart_occupied")
    assert problem.field == "cart" and 'held lot "A"' in problem.message
    late["occurred_at"] = (moment + timedelta(minutes=10)).isoformat()  # after A left
    assert service.ingest([late]).created == 1


def test_an_unload_cannot_come_before_its_load(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    lots = _lots(events, "D")
    loaded = _load(events, "C-1", "D")
    service.ingest([*lots, loaded])
    early = _unload(events, "C-1", "D")
    early["occurred_at"] = (
        datetime.fromisoformat(str(loaded["occurred_at"])) - timedelta(minutes=5)
    ).isoformat()  # after D was received, before it was loaded
    problem = rejected(store, [early], "time_order")
    assert problem.field == "occurred_at"


def test_a_void_cannot_undo_a_load_its_own_batch_unloads(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1"), _load(events, "C-1", "L-1", event_id="LD")])
    batch = [_unload(events, "C-1", "L-1", event_id="UN"), events("void", voids="LD", reason="x")]
    problem = rejected(store, batch, "void_has_dependents")
    assert '"UN"' in problem.message
    assert _in(store, "C-1") == [("L-1", None)]


def test_a_void_cannot_put_a_lot_back_over_the_carts_capacity(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest(
        [
            *_lots(events, "L-1", "L-2", qty=8),
            _define(events, "C-1", compartments=["A", "B"], capacity="10"),
            _load(events, "C-1", "L-1", compartment="A"),
        ]
    )
    service.ingest([_unload(events, "C-1", "L-1", event_id="OUT")])
    service.ingest([_load(events, "C-1", "L-2", compartment="B")])
    problem = rejected(store, [events("void", voids="OUT", reason="x")], "over_capacity")
    assert problem.field == "voids" and "cannot put it back" in problem.message
    assert service.rebuild() == 6  # the log replays: nothing was let in that it would refuse


def test_a_void_cannot_put_a_lot_back_beside_lots_of_another_unit(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest(
        [
            *_weighed(events, "L-1", qty=8),
            *_lots(events, "L-2", qty=8),
            _define(events, "C-1", compartments=["A", "B"], capacity="100"),
            _load(events, "C-1", "L-1", compartment="A"),
        ]
    )
    service.ingest([_unload(events, "C-1", "L-1", event_id="OUT")])
    service.ingest([_load(events, "C-1", "L-2", compartment="B")])
    void = events("void", voids="OUT", reason="x")
    problem = rejected(store, [void], "cart_unit_mismatch")
    assert problem.field == "voids" and "cannot put it back" in problem.message


def _moved(event: dict[str, Any], minutes: int) -> dict[str, Any]:
    """The event dated `minutes` from its own time (earlier when negative): reported late."""
    moment = datetime.fromisoformat(str(event["occurred_at"])) + timedelta(minutes=minutes)
    return {**event, "occurred_at": moment.isoformat()}


def _time(event: dict[str, Any]) -> str:
    return utc_text(datetime.fromisoformat(str(event["occurred_at"])))


def test_a_late_load_must_find_the_cart_free_until_now(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    lots = _lots(events, "A", "B")
    loaded = _load(events, "C-1", "A")
    service.ingest([*lots, loaded])
    service.ingest([_unload(events, "C-1", "A")])
    # B, loaded before A came and never unloaded, would share C-1 with A.
    problem = rejected(store, [_moved(_load(events, "C-1", "B"), -25)], "cart_occupied")
    assert problem.field == "cart" and 'held lot "A"' in problem.message
    assert _in(store, "C-1", _time(loaded)) == [("A", None)]


def test_a_late_load_keeps_a_lot_in_one_group_and_once_in_a_cart(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "A"), _load(events, "C-1", "A")])
    service.ingest([_unload(events, "C-1", "A")])
    mismatch = rejected(store, [_moved(_load(events, "C-2", "A"), -25)], "cart_group_mismatch")
    assert 'lot "A" was in cart "C-1"' in mismatch.message
    twice = rejected(store, [_moved(_load(events, "C-1", "A"), -25)], "already_in_cart")
    assert twice.field == "cart"
    assert len(CartService(store).history("lot:A")) == 1


def test_a_late_load_fits_the_capacity_at_every_moment_since(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    defined = [
        *_lots(events, "A", "B"),
        _define(events, "K", compartments=["1", "2"], capacity="14"),
    ]
    loaded = _load(events, "K", "A", compartment="1")
    service.ingest([*defined, loaded])
    service.ingest([_unload(events, "K", "A")])
    late = _moved(_load(events, "K", "B", compartment="2"), -25)  # before A came in
    problem = rejected(store, [late], "over_capacity")
    assert "held 10 of its capacity 14 at" in problem.message
    service.ingest([{**late, "qty": "4"}])
    assert CartService(store).contents("cart:K", _time(loaded)).held == 14


def test_a_late_load_finds_the_lots_held_since_of_its_unit(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    defined = [
        *_weighed(events, "A"),
        *_lots(events, "B"),
        _define(events, "K", compartments=["1", "2"], capacity="100"),
    ]
    loaded = _load(events, "K", "A", compartment="1")
    service.ingest([*defined, loaded])
    service.ingest([_unload(events, "K", "A")])
    late = _moved(_load(events, "K", "B", compartment="2"), -25)  # before A came in
    problem = rejected(store, [late], "cart_unit_mismatch")
    assert problem.message.startswith('cart "K" held lot "A" from ')
    assert 'counted in "kg": lot "B" is counted in "ea"' in problem.message
    split = events(
        "split", lot="B", into=[{"lot": "B-1", "qty": "2", "cart": "K", "compartment": "2"}]
    )
    problem = rejected(store, [_moved(split, -25)], "cart_unit_mismatch")
    assert problem.field == "into[0].cart"


def test_a_split_child_lands_late_only_in_a_cart_free_since(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "A", "B"), _load(events, "C-1", "A")])
    service.ingest([_unload(events, "C-1", "A")])
    split = events("split", lot="B", into=[{"lot": "B-1", "qty": "4", "cart": "C-1"}])
    problem = rejected(store, [_moved(split, -25)], "cart_occupied")
    assert problem.field == "into[0].cart"


def _redate(path: Path, event_id: str, moment: str) -> None:
    """Date a logged event anew, as an earlier version that did not check it let it be."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE events SET payload = json_set(payload, '$.occurred_at', ?) WHERE event_id = ?",
            (moment, event_id),
        )


def test_a_log_holding_a_late_load_now_refused_still_rebuilds(
    tmp_path: Path, events: Events
) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    lots = _lots(events, "A", "B")
    early = utc_text(events.clock + timedelta(minutes=5))  # a moment before A came in
    service.ingest([*lots, _load(events, "C-1", "A")])
    service.ingest([_unload(events, "C-1", "A")])
    late = _load(events, "C-1", "B", event_id="LATE")
    assert rejected(store, [{**late, "occurred_at": early}], "cart_occupied")
    service.ingest([late])
    _redate(tmp_path / "plant.db", "LATE", early)
    assert service.rebuild() == 5
    store.close()


def test_void_of_an_unload_is_refused_when_the_cart_was_taken_and_freed_since(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1", "L-2"), _load(events, "C-1", "L-1")])
    service.ingest([_unload(events, "C-1", "L-1", event_id="OUT")])
    service.ingest([_load(events, "C-1", "L-2")])
    service.ingest([_unload(events, "C-1", "L-2")])
    problem = rejected(store, [events("void", voids="OUT", reason="x")], "cart_occupied")
    assert problem.field == "voids" and 'held lot "L-2"' in problem.message
    # L-1 back in C-1 since, and out again: put back, it would be in C-1 twice.
    service.ingest([_load(events, "C-1", "L-1")])
    service.ingest([_unload(events, "C-1", "L-1")])
    assert rejected(store, [events("void", voids="OUT", reason="x")], "already_in_cart")
    assert service.rebuild() == 8


def test_a_log_holding_a_void_that_put_a_lot_back_into_a_cart_taken_since_still_rebuilds(
    tmp_path: Path, events: Events
) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1", "L-2"), _load(events, "C-1", "L-1", event_id="IN")])
    service.ingest([_unload(events, "C-1", "L-1", event_id="OUT")])
    service.ingest([_load(events, "C-1", "L-2", event_id="IN-2")])
    service.ingest([_unload(events, "C-1", "L-2", event_id="OUT-2")])
    void = events("void", voids="OUT", reason="unloaded by mistake", event_id="V")
    assert rejected(store, [void], "cart_occupied")
    # As an earlier version logged it: the cart was free when the void came, so it was accepted.
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute(
            "INSERT INTO events (event_id, type, at, payload, digest, voids, effects) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            ("V", "void", void["occurred_at"], json.dumps(void), "old", "OUT", "{}"),
        )
    assert service.rebuild() == 5
    # The stays as they were then: L-1 back in C-1 from its load on, L-2's stay in it ended.
    stays = [(s.lot, s.event, s.closed_by) for s in CartService(store).cart_history("cart:C-1")]
    assert stays == [("lot:L-1", "IN", None), ("lot:L-2", "IN-2", "OUT-2")]
    store.close()


def test_void_of_an_unload_is_refused_when_a_split_used_the_lot_up_since(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1"), _load(events, "C-1", "L-1")])
    service.ingest([_unload(events, "C-1", "L-1", event_id="OUT")])
    split = events("split", lot="L-1", into=[{"lot": "L-1a", "qty": "10"}], event_id="SPLIT")
    service.ingest([split])
    problem = rejected(store, [events("void", voids="OUT", reason="x")], "void_has_dependents")
    assert problem.field == "voids" and '"SPLIT"' in problem.message
    service.ingest([events("void", voids="SPLIT", reason="x")])
    service.ingest([events("void", voids="OUT", reason="x")])
    assert _in(store, "C-1") == [("L-1", None)]


def test_void_refused_when_a_split_used_up_what_it_left_and_took_the_lot_out(
    store: GraphStore, events: Events
) -> None:
    """Without the voided use, the split would have left some of the lot in its cart."""
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1", qty=100), _load(events, "C-1", "L-1")])
    cut = events(
        "process",
        step="S-1",
        operation="cut",
        inputs=[{"lot": "L-1", "qty": "30"}],
        outputs=[{"lot": "O-1", "part": "X", "qty": "30"}],
        event_id="P1",
    )
    service.ingest([cut])
    service.ingest([events("split", lot="L-1", into=[{"lot": "L-1a", "qty": "70"}], event_id="S")])
    assert _in(store, "C-1") == []
    problem = rejected(store, [events("void", voids="P1", reason="x")], "void_has_dependents")
    assert problem.field == "voids"
    assert '"S" used lot "L-1" up, taking it out of its carts' in problem.message
    service.ingest([events("void", voids="S", reason="x")])
    service.ingest([events("void", voids="P1", reason="x")])
    assert _in(store, "C-1") == [("L-1", None)]


def test_void_refused_when_a_later_load_took_all_the_lot_held(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest(_lots(events, "L-1", qty=100))
    service.ingest([events("split", lot="L-1", into=[{"lot": "L-1a", "qty": "30"}], event_id="S")])
    service.ingest([_load(events, "C-1", "L-1", event_id="LOAD")])  # all it holds: 70
    problem = rejected(store, [events("void", voids="S", reason="x")], "void_has_dependents")
    assert '"LOAD" loaded all lot "L-1" held' in problem.message


def test_void_of_an_unload_puts_back_a_lot_a_process_used_up(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1"), _load(events, "C-1", "L-1")])
    service.ingest([_unload(events, "C-1", "L-1", event_id="OUT")])
    step = events(
        "process",
        step="S-1",
        operation="turn",
        inputs=[{"lot": "L-1"}],
        outputs=[{"lot": "T-1", "part": "T", "qty": "10"}],
    )
    service.ingest([step])
    service.ingest([events("void", voids="OUT", reason="x")])  # a process moves no carts
    assert _in(store, "C-1") == [("L-1", None)]


def test_a_lot_is_not_used_up_before_a_time_it_is_in_a_cart(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    lots = _lots(events, "L-1", "L-2")
    before = utc_text(events.clock + timedelta(minutes=5))  # a moment before the loads
    service.ingest([*lots, _load(events, "C-1", "L-1"), _load(events, "C-2", "L-2")])
    service.ingest([_unload(events, "C-2", "L-2")])
    for lot, cart in (("L-1", "C-1"), ("L-2", "C-2")):  # in the cart now; in it until later
        split = events("split", lot=lot, into=[{"lot": f"{lot}a", "qty": "10"}])
        problem = rejected(store, [{**split, "occurred_at": before}], "time_order")
        assert problem.field == "occurred_at" and f'cart "{cart}"' in problem.message
    assert [s.until for s in CartService(store).history("lot:L-1")] == [None]


def test_a_log_holding_a_lot_used_up_before_its_load_still_rebuilds(
    tmp_path: Path, events: Events
) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    lots = _lots(events, "L-1")
    before = utc_text(events.clock + timedelta(minutes=5))
    service.ingest([*lots, _load(events, "C-1", "L-1")])
    split = events("split", lot="L-1", into=[{"lot": "L-1a", "qty": "10"}], event_id="SPLIT")
    assert rejected(store, [{**split, "occurred_at": before}], "time_order")
    service.ingest([split])
    _redate(tmp_path / "plant.db", "SPLIT", before)
    assert service.rebuild() == 3
    store.close()


def test_a_lot_used_up_is_loaded_no_more(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(_lots(events, "L-1"))
    service.ingest([events("split", lot="L-1", into=[{"lot": "L-1a", "qty": "10"}])])
    problem = rejected(store, [_load(events, "C-1", "L-1")], "over_consumption")
    assert problem.field == "lot" and "used up" in problem.message
    assert store.node("cart:C-1") is None


def test_a_group_named_like_a_cart_is_not_that_carts_group(tmp_path: Path, events: Events) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest([*_lots(events, "L-1", "L-2"), _define(events, "W", group="cart:U")])
    service.ingest([_load(events, "U", "L-1")])  # U has no group: a group of its own
    assert rejected(store, [_load(events, "W", "L-1")], "cart_group_mismatch")
    # As an earlier version let it be: X without a group, and L-2 in X and Y at once.
    service.ingest([_define(events, "X", group="cart:X", event_id="DEF")])
    service.ingest([_define(events, "Y", group="cart:X")])
    service.ingest([_load(events, "X", "L-2", qty="1"), _load(events, "Y", "L-2", qty="1")])
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute(
            "UPDATE events SET payload = json_remove(payload, '$.group') WHERE event_id = 'DEF'"
        )
    assert service.rebuild() == 8
    assert [s.cart for s in CartService(store).where_now("lot:L-2")] == ["cart:X", "cart:Y"]
    store.close()


def test_void_of_the_load_that_made_a_cart_another_site_loads_since_is_refused(
    store: GraphStore, events: Events
) -> None:
    """Without that load, a replay makes the cart with the next load's site: the void waits."""
    service = IngestService(store)
    service.ingest(_lots(events, "L-1", "L-2", "L-3"))
    service.ingest([_load(events, "C-1", "L-1", compartment="A", site="S1", event_id="MADE")])
    service.ingest([_load(events, "C-1", "L-2", compartment="B", event_id="OTHER")])
    problem = rejected(store, [events("void", voids="MADE", reason="x")], "void_has_dependents")
    assert problem.field == "voids" and '"OTHER"' in problem.message
    same_batch = [
        _load(events, "C-1", "L-3", compartment="C", event_id="LATER"),
        events("void", voids="MADE", reason="x"),
    ]
    assert '"LATER"' in rejected(store, same_batch, "void_has_dependents").message
    service.ingest([events("void", voids="OTHER", reason="x")])
    # A load of the same batch alone holds the void back too.
    assert '"LATER"' in rejected(store, same_batch, "void_has_dependents").message
    service.ingest([events("void", voids="MADE", reason="x")])
    assert store.node("cart:C-1") is None


def test_void_of_the_load_that_made_a_cart_its_site_loads_since_stands(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest(_lots(events, "L-1", "L-2"))
    service.ingest([_load(events, "C-1", "L-1", compartment="A", site="S1", event_id="MADE")])
    service.ingest([_load(events, "C-1", "L-2", compartment="B", site="S1", event_id="SAME")])
    service.ingest([events("void", voids="MADE", reason="x")])  # a replay makes it S1's too
    live = store.node("cart:C-1")
    assert live is not None and live.attrs["site"] == "S1"
    IngestService(store).rebuild()
    assert store.node("cart:C-1") == live


def test_a_load_into_a_cart_a_void_of_its_batch_unmade_is_of_the_carts_site(
    tmp_path: Path, events: Events
) -> None:
    """The store keeps the cart the voided load made; a replay makes it with the next load's
    site: a load of another site waits for a later batch, and a rebuild changes no cart."""
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest(_lots(events, "L-1", "L-2", "L-3", "L-4"))
    service.ingest([_load(events, "C-1", "L-1", site="S1", event_id="MADE")])
    service.ingest([_load(events, "C-2", "L-3", site="S1", event_id="MADE-2")])
    void = events("void", voids="MADE", reason="x")
    for site in ({}, {"site": "S2"}):
        problem = rejected(store, [void, _load(events, "C-1", "L-2", **site)], "void_same_batch")
        assert problem.field == "cart" and '"MADE"' in problem.message
    service.ingest([void])
    service.ingest([_load(events, "C-1", "L-2")])  # made afresh, of no site
    service.ingest(
        [events("void", voids="MADE-2", reason="x"), _load(events, "C-2", "L-4", site="S1")]
    )
    live = {cart: (store.node(cart), _stays(store, cart)) for cart in ("cart:C-1", "cart:C-2")}
    assert "site" not in live["cart:C-1"][0].attrs and live["cart:C-2"][0].attrs["site"] == "S1"
    with (
        sqlite3.connect(tmp_path / "plant.db") as source,
        sqlite3.connect(tmp_path / "copy.db") as copy,
    ):
        source.backup(copy)
    rebuilt = EmbeddedStore(tmp_path / "copy.db")
    IngestService(rebuilt).rebuild()
    assert {cart: (rebuilt.node(cart), _stays(rebuilt, cart)) for cart in live} == live
    rebuilt.close()
    store.close()


def _stays(store: GraphStore, cart: str) -> list[Any]:
    return CartService(store).contents(cart).stays


def test_a_definition_of_a_cart_a_void_of_its_batch_unmade_waits_for_a_later_batch(
    tmp_path: Path, events: Events
) -> None:
    """The store drops the cart at the end of the batch; a replay, which skips the voided load,
    finds no cart to refuse the definition for: it is refused as the void's, then accepted."""
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest(_lots(events, "L-1", "L-2"))
    service.ingest([_load(events, "C-1", "L-1", site="S1", event_id="MADE")])
    void = events("void", voids="MADE", reason="x")
    for site in ({}, {"site": "S1"}):
        define = _define(events, "C-1", capacity="5", **site)
        problem = rejected(store, [void, define], "void_same_batch")
        assert problem.field == "cart" and '"MADE"' in problem.message
        assert "later batch" in problem.message
    service.ingest([void])
    service.ingest([_define(events, "C-1", group="1", capacity="5")])
    service.ingest([_load(events, "C-1", "L-2", qty="5")])
    live = CartService(store).cart("cart:C-1"), _stays(store, "cart:C-1")
    assert live[0].capacity == Decimal("5") and len(live[1]) == 1
    with (
        sqlite3.connect(tmp_path / "plant.db") as source,
        sqlite3.connect(tmp_path / "copy.db") as copy,
    ):
        source.backup(copy)
    rebuilt = EmbeddedStore(tmp_path / "copy.db")
    IngestService(rebuilt).rebuild()
    assert (CartService(rebuilt).cart("cart:C-1"), _stays(rebuilt, "cart:C-1")) == live
    rebuilt.close()
    store.close()


def test_a_load_after_the_void_of_a_carts_definition_in_its_batch_finds_no_settings(
    store: GraphStore, events: Events
) -> None:
    """The load makes the cart afresh, with no group, capacity or compartments, as it does in
    a later batch and in a replay: the voided definition's settings neither let it in nor keep
    it out."""
    service = IngestService(store)
    service.ingest(
        [
            *_lots(events, "L-1"),
            _define(events, "G-1", group="G", event_id="DEF-1"),
            _define(events, "G-2", group="G", capacity="5", event_id="DEF-2"),
            _load(events, "G-1", "L-1", qty="2"),
        ]
    )
    void = events("void", voids="DEF-2", reason="x")
    problem = rejected(store, [void, _load(events, "G-2", "L-1", qty="2")], "cart_group_mismatch")
    assert 'lot "L-1" is in cart "G-1"' in problem.message
    service.ingest([_unload(events, "G-1", "L-1")])
    service.ingest([void, _load(events, "G-2", "L-1", qty="8")])  # over the voided capacity
    assert "capacity" not in store.node("cart:G-2").attrs
