"""Traces and exposure, hand-computed, identical on every store."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from graph.analysis import impact
from graph.errors import BadRequest, NotFound
from graph.store import Direction, GraphStore
from graph.trace import Trace, TraceService, edge_order
from ingest.service import IngestService
from tests.fixtures.events import Events


def exposures(trace: Trace) -> dict[str, float]:
    return {node.id: node.exposure for node in trace.nodes if node.exposure is not None}


def shares(trace: Trace) -> dict[str, float]:
    return {node.id: node.share for node in trace.nodes if node.share is not None}


@pytest.fixture
def plant(store: GraphStore, events: Events) -> TraceService:
    """Two supplier lots of bar, one of tubing; split, merge, mix, process, assembly, shipping.

    A-1 (100 bar) -> L-1; L-1 split into L-1a (60) and L-1b (40)
    A-2 (50 bar)  -> L-2; merge L-1b (40) + L-2 (10) -> M-1 (50): A-1 share 0.8
    B-1 (30 tube) -> T-1; mix M-1 (30) + T-1 (10) -> X-1 (40, BLEND): A-1 0.8 * 0.75 = 0.6
    process S-TURN on LATHE-1: L-1a (60) -> SN-1, SN-2 serials? no: -> lot P-1 (60 PIN)
    serialize P-1 -> PIN-1, PIN-2; X-1 -> HOUSING lot H-1 via S-MOLD
    assembly S-KIT: PIN-1 + H-1 (1) -> KIT-1: 1 - (1 - 1.0)(1 - 0.6) = 1.0
    ship KIT-1 to HOSP-A
    """
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-1", 100, supplier_lot="A-1"),
            events.receive("L-2", 50, supplier_lot="A-2"),
            events.receive("T-1", 30, part="TUBE", supplier="TUBECO", supplier_lot="B-1"),
            events(
                "split",
                lot="L-1",
                into=[{"lot": "L-1a", "qty": "60"}, {"lot": "L-1b", "qty": "40"}],
            ),
            events(
                "merge",
                from_=[{"lot": "L-1b", "qty": "40"}, {"lot": "L-2", "qty": "10"}],
                into={"lot": "M-1"},
            ),
            events(
                "mix",
                from_=[{"lot": "M-1", "qty": "30"}, {"lot": "T-1", "qty": "10"}],
                into={"lot": "X-1", "part": "BLEND"},
            ),
            events(
                "process",
                step="S-TURN",
                operation="turn",
                equipment="LATHE-1",
                operator="ana",
                inputs=[{"lot": "L-1a"}],
                outputs=[{"lot": "P-1", "part": "PIN", "qty": "60"}],
            ),
            events(
                "process",
                step="S-MOLD",
                operation="mold",
                equipment="PRESS-1",
                inputs=[{"lot": "X-1", "qty": "40"}],
                outputs=[{"lot": "H-1", "part": "HOUSING", "qty": "8"}],
            ),
            events("serialize", lot="P-1", serials=["PIN-1", "PIN-2"]),
            events(
                "process",
                step="S-KIT",
                operation="assemble",
                inputs=[{"serial": "PIN-1"}, {"lot": "H-1", "qty": "1"}],
                outputs=[{"serial": "KIT-1", "part": "KIT"}],
            ),
            events("ship", shipment="SH-1", customer="HOSP-A", items=[{"serial": "KIT-1"}]),
        ]
    )
    return TraceService(store)


def test_down_from_supplier_lot_with_exposure(plant: TraceService) -> None:
    trace = plant.trace("supplier_lot:ACME/A-1", "down")
    assert exposures(trace) == {
        "supplier_lot:ACME/A-1": 1.0,
        "lot:L-1": 1.0,
        "lot:L-1a": 1.0,  # split keeps exposure
        "lot:L-1b": 1.0,
        "lot:M-1": 0.8,  # merge: 40 of 50
        "lot:X-1": 0.6,  # mix: 30 of 40 at 0.8
        "step:S-TURN": 1.0,
        "lot:P-1": 1.0,
        "step:S-MOLD": 0.6,  # one input part: weighted mean
        "lot:H-1": 0.6,
        "serial:PIN-1": 1.0,
        "serial:PIN-2": 1.0,
        "step:S-KIT": 1.0,  # assembly: 1 - (1 - 1)(1 - 0.6)
        "serial:KIT-1": 1.0,
        "shipment:SH-1": 1.0,
        "company:HOSP-A": 1.0,
    }
    assert trace.nodes[0].id == "supplier_lot:ACME/A-1" and trace.nodes[0].depth == 0


def test_assembly_combines_independent_components(plant: TraceService) -> None:
    trace = plant.trace("supplier_lot:ACME/A-2", "down")
    got = exposures(trace)
    assert got["lot:M-1"] == pytest.approx(0.2)
    assert got["lot:H-1"] == pytest.approx(0.15)  # 0.2 * 30/40
    assert got["step:S-KIT"] == pytest.approx(0.15)  # pin has no A-2: 1 - (1 - 0)(1 - 0.15)
    assert "serial:PIN-1" not in got


def test_assembly_of_two_exposed_components(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest(
        [
            events.receive("L-1", 10),
            events.receive("L-2", 10, supplier_lot="A-2"),
            events(
                "merge",
                from_=[{"lot": "L-1", "qty": "5"}, {"lot": "L-2", "qty": "5"}],
                into={"lot": "M"},
            ),
            events("split", lot="M", into=[{"lot": "M-a", "qty": "5"}, {"lot": "M-b", "qty": "5"}]),
            events(
                "process",
                step="S-1",
                operation="form",
                inputs=[{"lot": "M-a"}],
                outputs=[{"lot": "CAP", "part": "CAP", "qty": "5"}],
            ),
            events(
                "process",
                step="S-2",
                operation="assemble",
                inputs=[{"lot": "CAP", "qty": "1"}, {"lot": "M-b", "qty": "1"}],
                outputs=[{"serial": "K", "part": "KIT"}],
            ),
        ]
    )
    got = exposures(TraceService(store).trace("supplier_lot:ACME/A-1", "down"))
    assert got["lot:M"] == pytest.approx(0.5)
    assert got["step:S-2"] == pytest.approx(1 - 0.5 * 0.5)  # CAP part and BAR part, each 0.5
    assert got["serial:K"] == pytest.approx(0.75)


def test_each_consumed_serial_is_certainly_in_the_assembly(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest(
        [
            events.receive("L-1", 4),
            events("serialize", lot="L-1", serials=["SC-1", "SC-2", "SC-3", "SC-4"]),
            events.receive("L-2", 4, supplier_lot="A-2"),
            events("serialize", lot="L-2", serials=["SC-5"]),
            events(
                "process",
                step="S-1",
                operation="assemble",
                inputs=[{"serial": s} for s in ("SC-1", "SC-2", "SC-3", "SC-5")],
                outputs=[{"serial": "KIT", "part": "KIT"}],
            ),
        ]
    )
    got = shares(TraceService(store).trace("serial:KIT", "up"))
    assert got["serial:SC-1"] == 1.0 and got["serial:SC-5"] == 1.0
    assert got["supplier_lot:ACME/A-1"] == 1.0 and got["supplier_lot:ACME/A-2"] == 1.0


def test_a_serial_beside_a_lot_of_its_part_does_not_dilute_the_lot(
    store: GraphStore, events: Events
) -> None:
    # Three units of pure-X lot L-X and a clean serial SY-1 of the same part make one unit:
    # the lot's units are certainly in it, whatever the serial is.
    IngestService(store).ingest(
        [
            events.receive("L-X", 10, supplier_lot="X"),
            events.receive("L-Y", 10, supplier_lot="Y"),
            events("serialize", lot="L-Y", serials=["SY-1"]),
            events(
                "process",
                step="S-1",
                operation="assemble",
                inputs=[{"lot": "L-X", "qty": "3"}, {"serial": "SY-1"}],
                outputs=[{"serial": "OUT-1", "part": "KIT"}],
            ),
        ]
    )
    down = exposures(TraceService(store).trace("supplier_lot:ACME/X", "down"))
    assert down["serial:OUT-1"] == 1.0
    up = shares(TraceService(store).trace("serial:OUT-1", "up"))
    assert up["supplier_lot:ACME/X"] == 1.0 and up["supplier_lot:ACME/Y"] == 1.0


def test_same_part_process_is_a_weighted_mean(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest(
        [
            events.receive("L-1", 30),
            events.receive("L-2", 10, supplier_lot="A-2"),
            events(
                "process",
                step="S-1",
                operation="anneal",
                inputs=[{"lot": "L-1"}, {"lot": "L-2"}],
                outputs=[{"lot": "OUT", "part": "BAR", "qty": "40"}],
            ),
        ]
    )
    assert exposures(TraceService(store).trace("lot:L-1", "down"))["lot:OUT"] == pytest.approx(0.75)


def test_up_from_serial_reports_shares(plant: TraceService) -> None:
    trace = plant.trace("serial:KIT-1", "up")
    got = shares(trace)
    assert got["serial:KIT-1"] == 1.0
    assert got["supplier_lot:ACME/A-1"] == 1.0  # the pin is all A-1
    assert got["supplier_lot:ACME/A-2"] == pytest.approx(0.15)
    assert got["supplier_lot:TUBECO/B-1"] == pytest.approx(0.25)
    assert got["lot:X-1"] == 1.0
    assert {n.id for n in trace.nodes if n.depth == 1} == {"step:S-KIT"}
    step = next(n for n in trace.nodes if n.id == "step:S-TURN")
    assert step.attrs["equipment"] == "LATHE-1" and step.attrs["operator"] == "ana"


def test_edges_carry_qty_event_and_time(plant: TraceService) -> None:
    trace = plant.trace("lot:L-1", "down", max_depth=1)
    assert {n.id for n in trace.nodes} == {"lot:L-1", "lot:L-1a", "lot:L-1b"}
    edge = next(e for e in trace.to_dict()["edges"] if e["to"] == "lot:L-1b")
    assert edge == {
        "from": "lot:L-1",
        "to": "lot:L-1b",
        "type": "SPLIT_INTO",
        "qty": "40",
        "event": "E-4",
        "at": "2026-03-02T08:40:00.000000Z",
    }


def test_a_trace_spells_quantities_as_a_rebuild_does(store: GraphStore, events: Events) -> None:
    # The log keeps one spelling per quantity (10.50 is "10.5"); so must the live graph.
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-1", "10.50"),
            events("split", lot="L-1", into=[{"lot": "L-2", "qty": "3.00"}]),
            events("ship", shipment="SH-1", customer="C", items=[{"lot": "L-2", "qty": "3.0"}]),
        ]
    )

    def answer() -> dict[str, object]:
        return TraceService(store).trace("supplier_lot:ACME/A-1", "down").to_dict()

    live = answer()
    quantities = {n["id"]: n.get("qty") for n in live["nodes"]}  # type: ignore[attr-defined]
    assert quantities["lot:L-1"] == "10.5" and quantities["lot:L-2"] == "3"
    assert {e["qty"] for e in live["edges"]} == {"10.5", "3"}  # type: ignore[attr-defined]
    service.rebuild()
    assert answer() == live


def test_a_trace_of_a_share_diluted_past_a_billionth_still_reaches_what_it_reached(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    merged = [{"lot": "BAD", "qty": "0.0000001"}, {"lot": "OK", "qty": "10000000"}]
    service.ingest(
        [
            events.receive("BAD", "0.0000001"),
            events.receive("OK", "10000000", supplier="GOOD", supplier_lot="G-1"),
            events("merge", from_=merged, into={"lot": "MIX"}),
            events("ship", shipment="SH-1", customer="HOSP-A", items=[{"lot": "MIX", "qty": "5"}]),
        ]
    )
    trace = TraceService(store).trace("supplier_lot:ACME/A-1", "down")
    assert exposures(trace)["lot:MIX"] == pytest.approx(1e-14)
    assert exposures(trace)["shipment:SH-1"] == pytest.approx(1e-14)
    totals = impact(trace).totals
    assert (totals.lots, totals.shipments, totals.customers) == (2, 1, 1)
    assert totals.may_contain == 1


def test_max_depth_zero_is_the_root(plant: TraceService) -> None:
    trace = plant.trace("lot:L-1", "down", max_depth=0)
    assert [n.id for n in trace.nodes] == ["lot:L-1"] and trace.edges == []


def test_as_of_ignores_what_happened_later(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10)])
    cut = events.clock + timedelta(minutes=5)
    service.ingest([events("split", lot="L-1", into=[{"lot": "L-2", "qty": "4"}])])
    traces = TraceService(store)
    assert {n.id for n in traces.trace("lot:L-1", "down", as_of=cut).nodes} == {"lot:L-1"}
    assert {n.id for n in traces.trace("lot:L-1", "down").nodes} == {"lot:L-1", "lot:L-2"}


def test_as_of_the_instant_the_root_came_to_be_lists_it(store: GraphStore, events: Events) -> None:
    received = events.receive("L-1", 10)
    IngestService(store).ingest([received])
    made = datetime.fromisoformat(received["occurred_at"])
    trace = TraceService(store).trace("lot:L-1", "down", as_of=made)
    assert [n.id for n in trace.nodes] == ["lot:L-1"]


@pytest.mark.parametrize("direction", ["down", "up"])
def test_as_of_before_the_first_event_naming_a_context_node_it_is_not_found(
    store: GraphStore, events: Events, direction: Direction
) -> None:
    # Supplier lots, companies, equipment and carts are made by the first event that names them
    # and hold no time of their own: that event dates them, as an event dates what it makes.
    received = events.receive("L-1", 10)
    processed = events(
        "process",
        minutes=30,
        step="S-1",
        operation="cut",
        equipment="LATHE-1",
        # Recorded after it started: the equipment came to be in the graph with the record.
        started_at=(events.clock + timedelta(minutes=20)).isoformat(),
        inputs=[{"lot": "L-1", "qty": "1"}],
        outputs=[],
    )
    loaded = events("cart_load", cart="C-1", lot="L-1", qty="1")
    shipped = events("ship", shipment="SH-1", customer="HOSP-A", items=[{"lot": "L-1", "qty": "2"}])
    IngestService(store).ingest([received, processed, loaded, shipped])
    traces = TraceService(store)
    first_named_by = {
        "supplier_lot:ACME/A-1": received,
        "company:ACME": received,
        "equipment:LATHE-1": processed,
        "cart:C-1": loaded,
        "company:HOSP-A": shipped,
    }
    for root, event in first_named_by.items():
        named = datetime.fromisoformat(event["occurred_at"])
        with pytest.raises(NotFound, match=f"no node '{root}' at "):
            traces.trace(root, direction, as_of=named - timedelta(microseconds=1))
        assert traces.trace(root, direction, as_of=named).root == root


def test_what_a_lot_held_then_is_less_every_flow_that_took_from_it(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest(
        [
            events.receive("L-1", 10),
            events("split", lot="L-1", into=[{"lot": "Z", "qty": "2"}]),
            events(
                "process",
                step="S-1",
                operation="cut",
                inputs=[{"lot": "L-1", "qty": "3"}],
                outputs=[{"lot": "P", "part": "P", "qty": "1"}],
            ),
            events("serialize", lot="L-1", serials=["SN-1"]),
            events.receive("L-2", 10, supplier_lot="A-2"),
            events(
                "merge",
                from_=[{"lot": "L-1", "qty": "1"}, {"lot": "L-2", "qty": "1"}],
                into={"lot": "M"},
            ),
            events(
                "mix",
                from_=[{"lot": "L-1", "qty": "1"}, {"lot": "L-2", "qty": "1"}],
                into={"lot": "N", "part": "BLEND"},
            ),
        ]
    )
    later = events.clock + timedelta(minutes=1)
    trace = TraceService(store).trace("lot:L-1", "down", as_of=later)
    # 10 less 2 split off, 3 consumed, 1 serialized, 1 merged and 1 mixed.
    assert next(n.attrs["available"] for n in trace.nodes if n.id == "lot:L-1") == "2"


def test_links_come_by_source_then_target(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest(
        [events.receive("L-1", 10), events("split", lot="L-1", into=[{"lot": "Z", "qty": "2"}])]
    )
    trace = TraceService(store).trace("supplier_lot:ACME/A-1", "down")
    assert [(e.src, e.dst) for e in trace.edges] == [
        ("lot:L-1", "lot:Z"),
        ("supplier_lot:ACME/A-1", "lot:L-1"),
    ]


def test_unknown_root_and_bad_ids(plant: TraceService) -> None:
    with pytest.raises(NotFound):
        plant.trace("lot:NOPE", "down")
    with pytest.raises(BadRequest, match="kind:key"):
        plant.trace("L-1", "down")
    for hostile in [
        "lot:'; DROP TABLE nodes; --",
        "lot:x}) DETACH DELETE n //",
        "lot:" + "x" * 10_000,
    ]:
        with pytest.raises(NotFound):
            plant.trace(hostile, "up")
    assert plant.trace("lot:L-1", "down").nodes


def test_equipment_window(plant: TraceService, events: Events) -> None:
    start = events.clock - timedelta(hours=3)
    uses = plant.equipment_window("equipment:LATHE-1", start, events.clock)
    assert [u.step.gid for u in uses] == ["step:S-TURN"]
    assert [e.src for e in uses[0].inputs] == ["lot:L-1a"]
    assert [e.dst for e in uses[0].outputs] == ["lot:P-1"]
    assert plant.equipment_window("equipment:LATHE-1", events.clock, events.clock) == []


def test_an_equipment_window_with_an_end_without_offset_is_refused(
    plant: TraceService, events: Events
) -> None:
    naive_end = events.clock.replace(tzinfo=None)
    with pytest.raises(BadRequest, match="from and to need a UTC offset"):
        plant.equipment_window("equipment:LATHE-1", events.clock - timedelta(hours=3), naive_end)


def test_batch_reads_for_loaders(plant: TraceService, store: GraphStore) -> None:
    found = store.nodes(["lot:L-1", "serial:KIT-1", "lot:NOPE", "step:S-KIT"])
    assert sorted(found) == ["lot:L-1", "serial:KIT-1", "step:S-KIT"]
    assert found["serial:KIT-1"].attrs["part"] == "KIT"
    links = store.links(["lot:L-1", "lot:L-1a"])
    assert sorted((e.src, e.dst, e.type) for e in links) == [
        ("lot:L-1", "lot:L-1a", "SPLIT_INTO"),
        ("lot:L-1", "lot:L-1b", "SPLIT_INTO"),
        ("lot:L-1a", "step:S-TURN", "CONSUMED_BY"),
        ("supplier_lot:ACME/A-1", "lot:L-1", "RECEIVED_AS"),
    ]
    on = [e for e in store.links(["step:S-TURN"]) if e.type == "ON"]
    assert [(e.src, e.dst) for e in on] == [("step:S-TURN", "equipment:LATHE-1")]


def test_a_nodes_context_links_of_one_type_are_read_alone_and_no_further_than_a_limit(
    store: GraphStore, events: Events
) -> None:
    batch = [events.receive(lot, 10) for lot in ("L-1", "L-2")]
    batch += [events("mark", target={"lot": "L-1"}, code=f"M{n}") for n in range(3)]
    batch += [events("mark", target={"lot": "L-2"}, code="M9")]
    for cart in ("C-1", "C-2"):
        batch.append(events("cart_load", cart=cart, lot="L-1", compartment="A"))
        batch.append(events("cart_unload", cart=cart, lot="L-1"))
    turn = {"step": "S-1", "operation": "turn", "equipment": "LATHE-1"}
    inputs = [{"lot": "L-1", "qty": "1"}, {"lot": "L-2", "qty": "1"}]
    batch.append(
        events(
            "process", **turn, inputs=inputs, outputs=[{"lot": "P-1", "part": "PIN", "qty": "2"}]
        )
    )
    IngestService(store).ingest(batch)

    def links(
        gids: list[str], type_: str, into: bool, limit: int | None = None
    ) -> list[tuple[str, str, str]]:
        found = store.context_links(gids, type_, into=into, limit=limit)
        return sorted((e.src, e.dst, e.type) for e in found)

    marks = [(f"mark:M{n}", "lot:L-1", "MARKS") for n in range(3)]
    assert links(["lot:L-1", "lot:L-2", "lot:NOPE"], "MARKS", True) == [
        *marks,
        ("mark:M9", "lot:L-2", "MARKS"),
    ]
    assert links(["lot:L-1"], "IN_CART", False) == [
        ("lot:L-1", "cart:C-1", "IN_CART"),
        ("lot:L-1", "cart:C-2", "IN_CART"),
    ]
    assert links(["step:S-1"], "ON", False) == [("step:S-1", "equipment:LATHE-1", "ON")]
    # No more than the limit is read, however many there are.
    assert set(links(["lot:L-1"], "MARKS", True, 2)) < set(marks)
    assert len(links(["lot:L-1"], "MARKS", True, 2)) == 2
    assert links(["lot:L-1"], "MARKS", True, 0) == []
    assert links(["lot:L-1"], "MARKS", True, 3) == marks
    with pytest.raises(ValueError, match="not a node's context links read alone: MARKS"):
        store.context_links(["lot:L-1"], "MARKS", into=False)


def test_max_depth_lists_less_but_counts_every_path(store: GraphStore, events: Events) -> None:
    """X-1 split into A and B; B goes two steps further; A and B-2 merge into M.

    M is all X-1 by any count. Two levels down, M is reached through A only: a trace that counted
    only the paths inside the limit would call it half X-1.
    """
    IngestService(store).ingest(
        [
            events.receive("X-1", 10, supplier_lot="A-9"),
            events("split", lot="X-1", into=[{"lot": "A", "qty": "5"}, {"lot": "B", "qty": "5"}]),
            events("split", lot="B", into=[{"lot": "B-1", "qty": "5"}]),
            events("split", lot="B-1", into=[{"lot": "B-2", "qty": "5"}]),
            events(
                "merge",
                from_=[{"lot": "A", "qty": "5"}, {"lot": "B-2", "qty": "5"}],
                into={"lot": "M"},
            ),
        ]
    )
    traces = TraceService(store)
    cut = traces.trace("lot:X-1", "down", max_depth=2)
    assert {n.id: n.depth for n in cut.nodes} == {
        "lot:X-1": 0,
        "lot:A": 1,
        "lot:B": 1,
        "lot:B-1": 2,
        "lot:M": 2,
    }
    assert exposures(cut)["lot:M"] == 1.0
    up = traces.trace("lot:M", "up", max_depth=2)
    assert "supplier_lot:ACME/A-9" not in {n.id for n in up.nodes}
    assert shares(up)["lot:X-1"] == 1.0


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 5])
def test_a_cut_trace_lists_what_a_cut_traversal_reaches(
    plant: TraceService, store: GraphStore, depth: int
) -> None:
    roots: list[tuple[str, Direction]] = [("supplier_lot:ACME/A-1", "down"), ("serial:KIT-1", "up")]
    for root, direction in roots:
        trace = plant.trace(root, direction, max_depth=depth)
        walked = store.subgraph(root, direction, depth, None)
        assert walked is not None
        assert {n.id: n.depth for n in trace.nodes} == walked.depths
        key = lambda e: (e.src, e.dst, e.type, e.event)  # noqa: E731
        assert sorted(map(key, trace.edges)) == sorted(map(key, walked.edges))


def test_impact_of_a_suspect_lot_counts_what_of_it_is_in_the_plant(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest(
        [
            events.receive("L-1", 10),
            events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "4"}]),
        ]
    )
    totals = impact(TraceService(store).trace("lot:L-1", "down")).totals
    assert (totals.lots, totals.certain, totals.shipments) == (1, 1, 1)
    assert (totals.in_plant_qty, totals.shipped_qty) == (Decimal(6), Decimal(4))


def test_impact_adds_up_quantities_per_unit_never_across_units(
    store: GraphStore, events: Events
) -> None:
    # 10 kg of bar, 4 kg of it turned into 100 screws; 1.5 kg of bar and 20 screws shipped.
    IngestService(store).ingest(
        [
            events.receive("L-1", 10, unit="kg"),
            events(
                "process",
                step="S-1",
                operation="turn",
                inputs=[{"lot": "L-1", "qty": "4"}],
                outputs=[{"lot": "P-1", "part": "SCREW", "qty": "100"}],
            ),
            events(
                "ship",
                shipment="SH-1",
                customer="HOSP",
                items=[{"lot": "L-1", "qty": "1.5"}, {"lot": "P-1", "qty": "20"}],
            ),
            events("ship", shipment="SH-2", customer="HOSP", items=[{"lot": "P-1", "qty": "5"}]),
        ]
    )
    found = impact(TraceService(store).trace("supplier_lot:ACME/A-1", "down"))
    totals = found.totals
    assert [(a.qty, a.unit) for a in totals.in_plant] == [(75, "ea"), (Decimal("4.5"), "kg")]
    assert [(a.qty, a.unit) for a in totals.shipped] == [(25, "ea"), (Decimal("1.5"), "kg")]
    assert (totals.in_plant_qty, totals.shipped_qty) == (None, None)  # no total of kg and ea
    # A shipment has a quantity only when what it holds is counted in one unit.
    shipments = {a.node.id: (a.qty, a.node.attrs.get("unit")) for a in found.shipments}
    assert shipments == {"shipment:SH-1": (None, None), "shipment:SH-2": (5, "ea")}
    one_unit = impact(TraceService(store).trace("lot:P-1", "down")).totals
    assert (one_unit.in_plant_qty, one_unit.shipped_qty) == (75, 25)


def test_as_of_gives_the_items_as_they_stood_then(store: GraphStore, events: Events) -> None:
    received = events.receive("L-1", 10)
    shipped = events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "4"}])
    held = events("status", target={"lot": "L-1"}, status="quarantined", reason="check")
    IngestService(store).ingest([received, shipped, held])
    traces = TraceService(store)

    def at(event: dict[str, str], minutes: int) -> Trace:
        moment = datetime.fromisoformat(event["occurred_at"]) + timedelta(minutes=minutes)
        return traces.trace("lot:L-1", "down", as_of=moment)

    def lot(trace: Trace) -> dict[str, object]:
        return next(n.attrs for n in trace.nodes if n.id == "lot:L-1")

    before_shipping = at(shipped, -5)
    assert lot(before_shipping)["available"] == "10" and "status" not in lot(before_shipping)
    totals = impact(before_shipping).totals
    assert (totals.in_plant_qty, totals.shipped_qty) == (Decimal(10), Decimal(0))
    before_hold = at(held, -5)
    assert lot(before_hold)["available"] == "6" and "status" not in lot(before_hold)
    assert lot(at(held, 5))["status"] == "quarantined"
    with pytest.raises(NotFound):
        at(received, -5)  # the lot was not made yet
    up = traces.trace("lot:L-1", "up", as_of=datetime.fromisoformat(held["occurred_at"]))
    assert "available" not in lot(up)  # an upward trace cannot tell what had left it


def test_a_walk_numbers_each_node_by_its_shortest_path(store: GraphStore, events: Events) -> None:
    """A_i splits 1 into B_i; A_i and B_i merge into A_i+1: A_k is k merges down, B_k one more."""
    batch = [events.receive("A0", 1000)]
    for i in range(6):
        batch.append(events("split", lot=f"A{i}", into=[{"lot": f"B{i}", "qty": "1"}]))
        merged = [{"lot": f"A{i}", "qty": "1"}, {"lot": f"B{i}", "qty": "1"}]
        batch.append(events("merge", from_=merged, into={"lot": f"A{i + 1}"}))
    IngestService(store).ingest(batch)
    down = {f"lot:A{k}": k for k in range(7)} | {f"lot:B{k}": k + 1 for k in range(6)}
    for depth in (None, 0, 3, 7):
        graph = store.subgraph("lot:A0", "down", depth, None)
        assert graph is not None
        want = {gid: d for gid, d in down.items() if depth is None or d <= depth}
        assert graph.depths == want and set(graph.nodes) == set(want)
        ends = sorted((e.src, e.dst) for e in graph.edges)
        assert ends == sorted(
            (f"lot:A{i}", far)
            for i in range(6)
            for far in (f"lot:B{i}", f"lot:A{i + 1}")
            if f"lot:A{i}" in want and far in want
        ) + sorted((f"lot:B{i}", f"lot:A{i + 1}") for i in range(6) if f"lot:A{i + 1}" in want)
    up = store.subgraph("lot:A6", "up", 2, None)
    assert up is not None
    assert up.depths == {"lot:A6": 0, "lot:A5": 1, "lot:B5": 1, "lot:A4": 2, "lot:B4": 2}


@pytest.mark.parametrize("direction", ["down", "up"])
def test_many_roots_read_at_once_reach_what_each_reaches_alone(
    plant: TraceService, store: GraphStore, direction: Direction
) -> None:
    # The supplier lots share M-1, X-1 and what follows; the lots share their suppliers' lots.
    roots = [n.gid for n in store.nodes_of_kind("supplier_lot", 10)]
    roots += ["lot:L-1a", "lot:M-1", "lot:X-1", "serial:PIN-1", "serial:KIT-1", "company:HOSP-A"]
    found = plant.subgraphs([*roots, "lot:NOPE", roots[0]], direction)
    assert sorted(found) == sorted(roots), "what is not there is left out"
    for root in roots:
        alone = store.subgraph(root, direction, None, None)
        assert alone is not None
        assert found[root].root == alone.root
        assert found[root].nodes == alone.nodes
        assert found[root].depths == alone.depths
        assert sorted(found[root].edges, key=edge_order) == sorted(alone.edges, key=edge_order)
