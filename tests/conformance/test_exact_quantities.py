"""Quantities are planned exactly: no rounding lets an event take more than a lot holds."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from graph.analysis import impact
from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from graph.trace import TraceService
from ingest.service import IngestService
from tests.conformance.helpers import rejected
from tests.fixtures.events import Events

BIG = "9999999999999999999999999999"  # 28 digits, the most the contract takes
HUGE = "1000000000000000000000000000"  # 1e27


def consumed(store: GraphStore, lot: str) -> Decimal:
    return store.write(lambda tx: tx.items([f"lot:{lot}"]))[f"lot:{lot}"].consumed


def test_a_28_digit_lot_is_not_split_into_itself_and_more(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("BIG", BIG)])
    batch = [
        events("split", lot="BIG", into=[{"lot": "C-1", "qty": BIG}, {"lot": "C-2", "qty": "0.4"}])
    ]
    problem = rejected(store, batch, "over_consumption")
    assert problem.field == "into"
    # To the last digit, it splits.
    service.ingest(
        [
            events(
                "split",
                lot="BIG",
                into=[
                    {"lot": "C-1", "qty": "9999999999999999999999999998"},
                    {"lot": "C-2", "qty": "0.6"},
                    {"lot": "C-3", "qty": "0.4"},
                ],
            )
        ]
    )
    assert consumed(store, "BIG") == Decimal(BIG)
    rejected(store, [events("serialize", lot="BIG", serials=["SN-1"])], "over_consumption")


def test_small_takes_are_not_lost_beside_a_huge_lot(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L", HUGE)])
    service.ingest(
        [
            events("ship", shipment=f"SH-{i}", customer="C", items=[{"lot": "L", "qty": "0.01"}])
            for i in range(5)
        ]
    )
    whole = [events("ship", shipment="SH-X", customer="C", items=[{"lot": "L", "qty": HUGE}])]
    assert rejected(store, whole, "over_consumption").field == "items[0].lot"
    process = events(
        "process",
        step="S-1",
        operation="turn",
        inputs=[{"lot": "L", "qty": HUGE}],
        outputs=[{"lot": "P-1", "part": "X", "qty": 1}],
    )
    assert rejected(store, [process], "over_consumption").field == "inputs[0].lot"
    rest = "999999999999999999999999999.9"
    service.ingest(
        [events("ship", shipment="SH-R", customer="C", items=[{"lot": "L", "qty": rest}])]
    )
    assert consumed(store, "L") == Decimal("999999999999999999999999999.95")
    # What is left reads exactly too, on the item and in a trace's impact.
    assert store.node("lot:L").attrs["available"] == "0.05"  # type: ignore[union-attr]
    trace = TraceService(store).trace("lot:L", "down")
    assert impact(trace).totals.shipped_qty == Decimal("999999999999999999999999999.95")


def test_voids_give_back_exactly_and_a_rebuild_agrees(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L", HUGE)])
    service.ingest(
        [
            events(
                "ship",
                shipment=f"SH-{i}",
                customer="C",
                items=[{"lot": "L", "qty": "0.01"}],
                event_id=f"SH-{i}",
            )
            for i in range(5)
        ]
    )
    rest = "999999999999999999999999999.9"
    service.ingest(
        [
            events(
                "ship",
                shipment="SH-R",
                customer="C",
                items=[{"lot": "L", "qty": rest}],
                event_id="SH-R",
            )
        ]
    )
    service.ingest(
        [events("void", voids="SH-R", reason="x"), events("void", voids="SH-0", reason="x")]
    )
    assert consumed(store, "L") == Decimal("0.04")
    service.rebuild()
    assert consumed(store, "L") == Decimal("0.04")


def test_a_cart_holds_no_more_than_its_capacity_to_the_last_digit(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest(
        [
            events("cart_define", cart="K", compartments=["A", "B"], capacity=HUGE),
            events.receive("L-1", "0.5"),
            events.receive("L-2", HUGE, supplier_lot="A-2"),
            events("cart_load", cart="K", compartment="A", lot="L-1"),
        ]
    )
    load = events("cart_load", cart="K", compartment="B", lot="L-2")
    assert rejected(store, [load], "over_capacity").field == "cart"


def test_a_log_an_earlier_version_rounded_still_rebuilds(tmp_path: Path, events: Events) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest(
        [
            events.receive("BIG", BIG),
            events("split", lot="BIG", into=[{"lot": "C-1", "qty": BIG}], event_id="S"),
        ]
    )
    # As an earlier version, summing in 28 digits, let it through: the split took 0.4 more.
    payload = f'[{{"lot":"C-1","qty":"{BIG}"}},{{"lot":"C-2","qty":"0.4"}}]'
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute(
            "UPDATE events SET payload = json_set(payload, '$.into', json(?)) WHERE event_id = 'S'",
            (payload,),
        )
    service.rebuild()
    assert store.node("lot:C-2") is not None
    store.close()


def test_a_trace_as_of_a_time_reads_what_a_lot_held_to_the_last_digit(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L", BIG),
            events("split", lot="L", into=[{"lot": "C-1", "qty": "0.5"}]),
            events("split", lot="L", into=[{"lot": "C-2", "qty": "0.25"}], minutes=60),
        ]
    )
    # Between the splits, the lot held all but 0.5 of it (28 digits would read the whole).
    between = datetime(2026, 3, 2, 8, 40, tzinfo=UTC)
    trace = TraceService(store).trace("lot:L", "down", as_of=between)
    held = {n.id: n.attrs.get("available") for n in trace.nodes}
    assert held == {"lot:L": "9999999999999999999999999998.5", "lot:C-1": "0.5"}
