"""Corrections by void, statuses, carts, and rebuilding the graph from the log."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, cast

import pytest

from graph.carts import CartService
from graph.store import GraphStore, StoredEvent, WriteTx
from graph.trace import TraceService
from ingest.errors import BatchRejected
from ingest.models import ItemRef
from ingest.planner import Planner
from ingest.service import IngestService
from marking.models import SchemeSpec
from marking.service import MarkingService
from tests.conformance.helpers import rejected, state
from tests.fixtures.events import Events


def test_void_removes_the_event_and_restores_quantity(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10)])
    service.ingest([events("split", lot="L-1", into=[{"lot": "L-2", "qty": "7"}])])
    service.ingest([events("void", voids="E-2", reason="wrong lot scanned")])
    assert store.node("lot:L-2") is None
    assert store.node("lot:L-1").attrs["available"] == "10"  # type: ignore[union-attr]
    assert len(store.events(0, 100)) == 3, "history is kept: the void is a new event"
    service.ingest([events("split", lot="L-1", into=[{"lot": "L-2", "qty": "10"}])])
    assert store.node("lot:L-2").attrs["qty"] == "10"  # type: ignore[union-attr]


def test_voided_events_are_listed_in_log_order_with_their_voids(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    assert store.voided_events() == []
    service.ingest([events.receive("L-1", 10), events.receive("L-2", 5, supplier_lot="A-2")])
    service.ingest([events("void", voids="E-2", reason="typo")])
    service.ingest([events("void", voids="E-1", reason="typo")])
    assert [(e.event_id, e.voided_by) for e in store.voided_events()] == [
        ("E-1", "E-4"),
        ("E-2", "E-3"),
    ]


def test_voided_events_are_found_by_the_nodes_they_named_and_a_rebuild_keeps_them(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-1", 10),  # E-1
            events("split", lot="L-1", into=[{"lot": "L-2", "qty": "4"}]),  # E-2
            events("status", target={"lot": "L-1"}, status="quarantined", reason="check"),
            events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "1"}]),
            events.receive("L-9", 5, supplier_lot="A-9"),  # E-5
        ]
    )
    for voided in ("E-4", "E-3", "E-2", "E-5"):
        service.ingest([events("void", voids=voided, reason="typo")])

    def naming(*gids: str) -> list[str]:
        return [e.event_id for e in store.voided_naming(list(gids))]

    assert naming("lot:L-1") == ["E-2", "E-3", "E-4"]  # in log order, each once
    assert naming("lot:L-2") == naming("lot:L-2", "lot:L-2") == ["E-2"]
    assert naming("shipment:SH-1") == naming("company:HOSP") == ["E-4"]
    assert naming("lot:L-9", "supplier_lot:ACME/A-9") == ["E-5"]
    assert naming("supplier_lot:ACME/A-1", "lot:NONE") == []  # E-1 is live
    assert store.voided_naming(["lot:L-2"])[0].voided_by == "E-8"
    service.rebuild()
    assert naming("lot:L-1", "lot:L-9") == ["E-2", "E-3", "E-4", "E-5"]


def test_void_refused_when_later_events_depend(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10), events("serialize", lot="L-1", serials=["SN-1"])])
    problem = rejected(store, [events("void", voids="E-1", reason="typo")], "void_has_dependents")
    assert problem.field == "voids"
    assert 'later events depend on "E-1": "E-2"' in problem.message


def test_void_refused_when_the_same_batch_depends(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest([events.receive("L-1", 10)])
    batch = [
        events("status", target={"lot": "L-1"}, status="quarantined", reason="check"),
        events("void", voids="E-1", reason="typo"),
    ]
    assert rejected(store, batch, "void_has_dependents").index == 1


def _cut(events: Events, step: str, lot: str, qty: str | None, **extra: Any) -> dict[str, Any]:
    """A process taking `qty` of a lot, or all it holds when `qty` is None."""
    taken = {"lot": lot} if qty is None else {"lot": lot, "qty": qty}
    made = {"lot": f"{step}-OUT", "part": "BLANK", "qty": qty or "1"}
    return events("process", step=step, operation="cut", inputs=[taken], outputs=[made], **extra)


def test_void_refused_when_a_later_event_took_all_the_lot_held(
    store: GraphStore, events: Events
) -> None:
    """All a lot holds, taken after the voided event, was what that event left of it."""
    service = IngestService(store)
    service.ingest([events.receive("L-1", 100)])
    service.ingest([_cut(events, "S-1", "L-1", "30", event_id="P1")])
    service.ingest([_cut(events, "S-2", "L-1", None, event_id="P2")])  # all it holds: 70
    problem = rejected(store, [events("void", voids="P1", reason="x")], "void_has_dependents")
    assert problem.field == "voids"
    assert '"P2" took all lot "L-1" held' in problem.message
    assert "void them first" in problem.message
    # Voided in turn, the use of all the lot holds is recorded again and takes all 100.
    service.ingest([events("void", voids="P2", reason="x")])
    service.ingest([events("void", voids="P1", reason="x")])
    service.ingest([_cut(events, "S-3", "L-1", None, event_id="P2-AGAIN")])
    assert store.node("lot:L-1").attrs["available"] == "0"  # type: ignore[union-attr]
    assert [(e.qty, e.event) for e in store.links(["lot:L-1"]) if e.type == "CONSUMED_BY"] == [
        (Decimal(100), "P2-AGAIN")
    ]


def test_void_refused_when_the_same_batch_took_all_the_lot_held(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 100)])
    service.ingest([_cut(events, "S-1", "L-1", "30", event_id="P1")])
    batch = [
        _cut(events, "S-2", "L-1", None, event_id="P2"),
        events("void", voids="P1", reason="x"),
    ]
    problem = rejected(store, batch, "void_has_dependents")
    assert problem.index == 1 and '"P2" took all lot "L-1" held' in problem.message


def test_void_stands_when_later_events_took_stated_amounts(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 100)])
    service.ingest([_cut(events, "S-1", "L-1", "30", event_id="P1")])
    service.ingest([_cut(events, "S-2", "L-1", "70", event_id="P2")])  # all, but as stated
    service.ingest([events("void", voids="P1", reason="x")])
    assert store.node("lot:L-1").attrs["available"] == "30"  # type: ignore[union-attr]


class _ReadEvents:
    """A store whose write transactions keep the id of every logged event they return."""

    def __init__(self, store: GraphStore) -> None:
        self._store = store
        self.read: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def write(self, work: Callable[[WriteTx], Any]) -> Any:
        return self._store.write(lambda tx: work(cast(WriteTx, _Recorded(tx, self.read))))


class _Recorded:
    def __init__(self, tx: WriteTx, read: set[str]) -> None:
        self._tx, self._read = tx, read

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._tx, name)
        if not callable(found):
            return found

        def call(*args: Any, **kwargs: Any) -> Any:
            answer = found(*args, **kwargs)
            rows = answer.values() if isinstance(answer, dict) else answer
            if isinstance(rows, Iterable) and not isinstance(rows, str):
                self._read.update(row.event_id for row in rows if isinstance(row, StoredEvent))
            return answer

        return call


def test_a_voids_check_of_what_later_events_took_reads_only_the_later_live_ones(
    store: GraphStore, events: Events
) -> None:
    """A void read every event that ever linked the lots it took from, for those logged after
    it: on a lot with a long history, thousands for each void."""
    service = IngestService(store)
    service.ingest([events.receive("L-1", 100, event_id="R")])
    earlier = [_cut(events, f"S-{n}", "L-1", "1", event_id=f"P-{n}") for n in range(20)]
    service.ingest(earlier)
    service.ingest([_cut(events, "S-V", "L-1", "10", event_id="V")])
    service.ingest([_cut(events, "S-A", "L-1", None, event_id="ALL-1")])  # all it holds: 70
    service.ingest([events("void", voids="ALL-1", reason="x")])
    # Logged later, though it happened before the voided event: later all the same.
    service.ingest([_cut(events, "S-L", "L-1", "5", event_id="LATE", minutes=-30)])
    service.ingest([_cut(events, "S-B", "L-1", None, event_id="ALL-2")])  # all it holds: 65
    reads = _ReadEvents(store)
    with pytest.raises(BatchRejected) as caught:
        IngestService(cast(GraphStore, reads)).ingest([events("void", voids="V", reason="x")])
    (problem,) = caught.value.problems
    assert problem.code == "void_has_dependents" and problem.names == ("ALL-2",)
    assert '"ALL-2" took all lot "L-1" held' in problem.message
    assert reads.read <= {"V", "LATE", "ALL-2"}
    assert {"LATE", "ALL-2"} <= reads.read
    service.ingest([events("void", voids="ALL-2", reason="x")])
    service.ingest([events("void", voids="V", reason="x")])
    assert store.node("lot:L-1").attrs["available"] == "75"  # type: ignore[union-attr]


def test_void_rules(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10)])
    service.ingest([events("void", voids="E-1", reason="typo", event_id="V-1")])
    assert (
        "already voided"
        in rejected(store, [events("void", voids="E-1", reason="x")], "already_voided").message
    )
    assert (
        rejected(store, [events("void", voids="NOPE", reason="x")], "unknown_event").field
        == "voids"
    )
    assert rejected(store, [events("void", voids="V-1", reason="x")], "void_of_void")
    batch = [events.receive("L-9", 1, event_id="R-9"), events("void", voids="R-9", reason="x")]
    assert rejected(store, batch, "void_same_batch")


def test_a_void_of_a_void_says_to_record_the_event_under_a_new_id(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    receipt = events.receive("L-1", 10, event_id="R-1")
    service.ingest([receipt])
    service.ingest([events("void", voids="R-1", reason="typo", event_id="V-1")])
    message = rejected(store, [events("void", voids="V-1", reason="x")], "void_of_void").message
    assert "new event_id" in message
    # Sent again under its own id, the voided event is a duplicate and brings nothing back.
    assert service.ingest([receipt]).duplicates == 1
    assert store.node("lot:L-1") is None
    service.ingest([dict(receipt, event_id="R-1b")])
    assert store.node("lot:L-1") is not None


def test_status_follows_occurred_at_and_void(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 10)])
    service.ingest(
        [events("status", target={"lot": "L-1"}, status="quarantined", reason="suspect")]
    )
    # Reported late: before the quarantine above, after the receipt.
    late = events("status", target={"lot": "L-1"}, status="released", reason="cleared", minutes=-5)
    service.ingest([late])
    assert store.node("lot:L-1").attrs["status"] == "quarantined"  # type: ignore[union-attr]
    service.ingest([events("void", voids="E-2", reason="wrong lot")])
    assert store.node("lot:L-1").attrs["status"] == "released"  # type: ignore[union-attr]


def test_cart_rules(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    received = events.receive("L-1", 10)
    load = events("cart_load", cart="C-1", lot="L-1", compartment="A", event_id="LOAD")
    service.ingest([received, load])
    assert (
        rejected(store, [events("cart_load", cart="C-1", lot="L-1")], "already_in_cart").field
        == "cart"
    )
    assert rejected(store, [events("cart_unload", cart="C-2", lot="L-1")], "not_in_cart")
    service.ingest([events("cart_unload", cart="C-1", lot="L-1", event_id="UNLOAD")])
    assert rejected(store, [events("void", voids="LOAD", reason="x")], "void_has_dependents")
    service.ingest([events("void", voids="UNLOAD", reason="not unloaded after all")])
    assert rejected(store, [events("cart_load", cart="C-1", lot="L-1")], "already_in_cart")


def test_rebuild_gives_the_same_graph(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-1", 10),
            events.receive("L-2", 10, supplier_lot="A-2"),
            events(
                "merge",
                from_=[{"lot": "L-1", "qty": "4"}, {"lot": "L-2", "qty": "6"}],
                into={"lot": "M"},
            ),
            events(
                "process",
                step="S-1",
                operation="cut",
                equipment="SAW",
                inputs=[{"lot": "M"}],
                outputs=[{"lot": "P", "part": "PIN", "qty": "10"}],
            ),
            events("serialize", lot="P", serials=["SN-1", "SN-2"]),
            events("status", target={"serial": "SN-1"}, status="released", reason="QA ok"),
            events("mark", target={"serial": "SN-1"}, code="AAB"),
            events("cart_load", cart="C-1", lot="P"),
        ]
    )
    service.ingest([events("split", lot="L-1", into=[{"lot": "L-9", "qty": "1"}])])
    service.ingest([events("void", voids="E-9", reason="never happened")])
    traces = TraceService(store)
    before = (
        store.counts(),
        traces.trace("lot:L-1", "down").to_dict(),
        traces.trace("serial:SN-1", "up").to_dict(),
    )
    assert service.rebuild() == 8  # ten logged, less the voided split and its void
    after = (
        store.counts(),
        traces.trace("lot:L-1", "down").to_dict(),
        traces.trace("serial:SN-1", "up").to_dict(),
    )
    assert after == before
    assert store.node("serial:SN-1").attrs["status"] == "released"  # type: ignore[union-attr]


def test_void_removes_only_its_own_edges_from_shared_nodes(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-1", 10, event_id="R-1"),
            events.receive("L-2", 10, supplier_lot="A-2", event_id="R-2"),
            events("mark", target={"lot": "L-2"}, code="M-2", event_id="MK-2"),
        ]
    )
    for n in (1, 2):
        step = events(
            "process",
            event_id=f"P-{n}",
            step=f"S-{n}",
            operation="cut",
            equipment="SAW",
            inputs=[{"lot": f"L-{n}", "qty": "4"}],
            outputs=[{"lot": f"C-{n}", "part": "BLANK", "qty": "4"}],
        )
        service.ingest([step])
    before = {
        (e.src, e.dst, e.type, e.event) for e in store.links(["company:ACME", "equipment:SAW"])
    }

    service.ingest([events("void", voids="P-1", reason="wrong saw")])
    service.ingest([events("void", voids="R-1", reason="wrong supplier lot")])

    shared = {
        (e.src, e.dst, e.type, e.event) for e in store.links(["company:ACME", "equipment:SAW"])
    }
    assert shared == {edge for edge in before if edge[3] not in ("P-1", "R-1")}
    assert ("step:S-2", "equipment:SAW", "ON", "P-2") in shared
    assert ("supplier_lot:ACME/A-2", "company:ACME", "FROM", "R-2") in shared
    kept = {(e.src, e.dst, e.type, e.event) for e in store.links(["lot:L-2"])}
    assert kept == {
        ("supplier_lot:ACME/A-2", "lot:L-2", "RECEIVED_AS", "R-2"),
        ("mark:M-2", "lot:L-2", "MARKS", "MK-2"),
        ("lot:L-2", "step:S-2", "CONSUMED_BY", "P-2"),
    }
    assert store.links(["lot:L-1"]) == []
    assert store.node("step:S-1") is None


def _picture(store: GraphStore, *roots: str) -> tuple[object, ...]:
    traces, carts = TraceService(store), CartService(store)
    return (
        store.counts(),
        [traces.trace(root, "down").to_dict() for root in roots],
        [store.node(root) for root in roots],
        carts.cart_history("cart:C-1"),
    )


def test_a_rebuild_replays_what_all_a_lot_holds_took_then(
    store: GraphStore, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log may hold a void of what left a lot to a later "all it holds" (earlier versions
    let it be): the void gave the lot back what it took, what the later events took stays."""
    service = IngestService(store)
    service.ingest([events.receive("L", 10), events.receive("K", 10, supplier_lot="A-2")])
    service.ingest([events("split", lot="L", into=[{"lot": "A", "qty": "7"}], event_id="S")])
    service.ingest([events("split", lot="K", into=[{"lot": "B", "qty": "6"}], event_id="T")])
    service.ingest(
        [
            events(
                "process",
                step="P",
                operation="cut",
                inputs=[{"lot": "L"}],  # all it holds: 3, after S
                outputs=[{"lot": "Q", "part": "PIN", "qty": "3"}],
            ),
            events("cart_load", cart="C-1", lot="K"),  # all it holds: 4, after T
            events("split", lot="K", into=[{"lot": "D", "qty": "4"}]),  # K leaves its carts
        ]
    )
    voids = [
        events("void", voids="S", reason="keyed twice"),
        events("void", voids="T", reason="keyed twice"),
    ]
    rejected(store, voids, "void_has_dependents")
    with monkeypatch.context() as earlier:
        earlier.setattr(Planner, "_took_the_rest_since", lambda *_: {})
        service.ingest(voids)
    assert store.node("lot:L").attrs["available"] == "7"  # type: ignore[union-attr]
    before = _picture(store, "lot:L", "lot:K")
    service.rebuild()
    assert _picture(store, "lot:L", "lot:K") == before
    # And the log goes on from there: L still holds 7, live as rebuilt.
    service.ingest([events("split", lot="L", into=[{"lot": "E", "qty": "7"}])])


def test_a_rebuild_reads_a_mark_by_the_scheme_of_its_day(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-1", 1, part="PLATE-9"),
            events("mark", target={"lot": "L-1"}, code="HELLO-1"),
        ]
    )
    # The part family gets a scheme afterwards, as the docs allow; the mark was read by none.
    MarkingService(store).define_scheme(
        SchemeSpec(name="PL", kind="sequential", length=3, parts=["PLATE-*"])
    )
    before = store.node("mark:HELLO-1")
    service.rebuild()
    assert store.node("mark:HELLO-1") == before


def test_a_receipt_keyed_with_the_wrong_part_is_voided_and_received_again(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 5, part="BAR", supplier_lot="H-9", event_id="R")])
    service.ingest([events("void", voids="R", reason="it was rod")])
    # Nothing links to the supplier lot or its company any more: they go with the receipt.
    assert store.node("supplier_lot:ACME/H-9") is None
    assert store.node("company:ACME") is None
    service.ingest([events.receive("L-2", 5, part="ROD", supplier_lot="H-9")])
    assert store.node("supplier_lot:ACME/H-9").attrs["part"] == "ROD"  # type: ignore[union-attr]
    before = _picture(store, "supplier_lot:ACME/H-9")
    service.rebuild()
    assert _picture(store, "supplier_lot:ACME/H-9") == before


def test_a_receipt_received_again_as_another_part_in_the_voids_batch_says_so(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 5, part="BAR", supplier_lot="H-9", event_id="R")])
    again = [
        events("void", voids="R", reason="it was rod"),
        events.receive("L-2", 5, part="ROD", unit="m", supplier_lot="H-9"),
    ]
    problem = rejected(store, again, "void_same_batch")
    assert (problem.index, problem.field) == (1, "part")
    assert '"R"' in problem.message and "later batch" in problem.message
    # As the same part and unit it is taken: the supplier lot stays as it was received.
    service.ingest([again[0], events.receive("L-2", 5, part="BAR", supplier_lot="H-9")])
    before = _picture(store, "supplier_lot:ACME/H-9")
    service.rebuild()
    assert _picture(store, "supplier_lot:ACME/H-9") == before


def test_a_void_keeps_context_others_still_link_to(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 5, supplier_lot="H-1", event_id="R1")])
    service.ingest([events.receive("L-2", 5, supplier_lot="H-2")])
    service.ingest([events("void", voids="R1", reason="x")])
    assert store.node("supplier_lot:ACME/H-1") is None
    assert store.node("company:ACME") is not None  # H-2 still comes from it


def test_a_supplier_lot_received_twice_keeps_its_company_when_one_receipt_goes(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 5, supplier_lot="H-1", event_id="R1")])
    service.ingest([events.receive("L-2", 5, supplier_lot="H-1", event_id="R2")])
    service.ingest([events("void", voids="R1", reason="keyed twice")])
    found = [p.supplier_lot.gid for p in store.partner_lots("company:ACME")]
    assert found == ["supplier_lot:ACME/H-1"]
    before = sorted((e.src, e.dst, e.type, e.event) for e in store.links(["supplier_lot:ACME/H-1"]))
    assert ("supplier_lot:ACME/H-1", "company:ACME", "FROM", "R2") in before
    service.rebuild()
    after = sorted((e.src, e.dst, e.type, e.event) for e in store.links(["supplier_lot:ACME/H-1"]))
    assert after == before


def test_a_supplier_lot_keeps_its_first_logged_receipt_when_the_first_goes(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 5, supplier_lot="H-1", event_id="R1")])
    service.ingest([events.receive("L-2", 5, supplier_lot="H-1", event_id="R2", minutes=120)])
    # Reported late: logged after R2, though it happened before.
    service.ingest([events.receive("L-3", 5, supplier_lot="H-1", event_id="R3", minutes=-60)])
    service.ingest([events("void", voids="R1", reason="keyed twice")])
    before = sorted((e.src, e.dst, e.type, e.event) for e in store.links(["supplier_lot:ACME/H-1"]))
    assert ("supplier_lot:ACME/H-1", "company:ACME", "FROM", "R2") in before
    service.rebuild()
    after = sorted((e.src, e.dst, e.type, e.event) for e in store.links(["supplier_lot:ACME/H-1"]))
    assert after == before


def test_a_voided_marks_code_is_not_issued_again_after_a_rebuild(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    marking = MarkingService(store, service)
    marking.define_scheme(SchemeSpec(name="K", kind="sequential", length=3, parts=["KIT"]))
    service.ingest(
        [
            events.receive("L-1", 3, part="KIT"),
            events("serialize", lot="L-1", serials=["K-1", "K-2", "K-3"]),
        ]
    )
    first = marking.issue_mark(ItemRef(serial="K-1"), actor="otto")
    assert first.code == "AAA"
    (mark_event,) = [e for e in store.events(0, 100) if e.type == "mark"]
    service.ingest([events("void", voids=mark_event.event_id, reason="struck on the wrong part")])
    service.rebuild()
    assert marking.issue_mark(ItemRef(serial="K-2"), actor="otto").code == "AAB"


@pytest.mark.parametrize("chunk", [2000, 1])
def test_a_voided_marks_code_struck_again_keeps_its_scheme_through_a_rebuild(
    store: GraphStore, events: Events, chunk: int
) -> None:
    """The node of a code keeps what its first mark read it as, live and rebuilt alike."""
    service = IngestService(store)
    marking = MarkingService(store, service)
    marking.define_scheme(SchemeSpec(name="PL", kind="sequential", length=3, parts=["PLATE-*"]))
    service.ingest(
        [
            events.receive("L-1", 10, part="PLATE-9"),
            events.receive("L-2", 10, part="BAR", supplier_lot="A-2"),
            events.receive("L-3", 10, part="PLATE-9", supplier_lot="A-3"),
        ]
    )
    issued = marking.issue_mark(ItemRef(lot="L-1"), actor="otto")
    assert issued.code == "AAA"
    service.ingest([events("void", voids=issued.event_id, reason="struck on the wrong lot")])
    # Struck by hand on a lot of no scheme's family: a plain code that reads like PL's first.
    service.ingest([events("mark", target={"lot": "L-2"}, code="AAA", event_id="MK")])
    live = (store.node("mark:AAA"), marking.scheme_usage("PL"))
    assert live[0] is not None and live[0].attrs["scheme"] == "PL"
    service.rebuild(chunk)
    assert (store.node("mark:AAA"), marking.scheme_usage("PL")) == live
    service.ingest([events("void", voids="MK", reason="not struck after all")])
    assert marking.issue_mark(ItemRef(lot="L-3"), actor="otto").code == "AAB"


OPEN = {"case": "RC-1", "title": "bad heat", "reason": "supplier alert"}


def test_a_receipt_whose_supplier_lot_a_recall_names_stays(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 5, supplier_lot="H-9", event_id="R1")])
    service.ingest(
        [events("recall_open", suspects=[{"id": "supplier_lot:ACME/H-9"}], **OPEN, event_id="C")]
    )
    # Received again after the case: a replay without R1 would still reach C with no H-9.
    service.ingest([events.receive("L-2", 5, supplier_lot="H-9", event_id="R2")])
    problem = rejected(store, [events("void", voids="R1", reason="x")], "void_has_dependents")
    assert '"C"' in problem.message
    # Not "void them first": a case's events are never voided.
    assert "never voided" in problem.message and "void them first" not in problem.message


def test_a_receipt_may_go_where_another_brought_the_lot_in_before_the_recall(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L-1", 5, supplier_lot="H-9", event_id="R1")])
    service.ingest([events.receive("L-2", 5, supplier_lot="H-9", event_id="R2")])
    service.ingest(
        [events("recall_open", suspects=[{"id": "supplier_lot:ACME/H-9"}], **OPEN, event_id="C")]
    )
    service.ingest([events("void", voids="R1", reason="keyed twice")])
    before = _picture(store, "supplier_lot:ACME/H-9")
    service.rebuild()
    assert _picture(store, "supplier_lot:ACME/H-9") == before


def test_context_a_void_orphans_is_kept_when_the_same_batch_links_it_again(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    first = events.receive("L1", 1, supplier="POLY", supplier_lot="P-1", part="RESIN")
    service.ingest([first])
    again = events.receive("L2", 1, supplier="POLY", supplier_lot="P-1", part="RESIN")
    service.ingest([again, events("void", voids=first["event_id"], reason="wrong lot id")])
    live = _picture(store, "lot:L2")
    assert {(e.src, e.type) for e in store.links(["supplier_lot:POLY/P-1"])} == {
        ("supplier_lot:POLY/P-1", "RECEIVED_AS"),
        ("supplier_lot:POLY/P-1", "FROM"),
    }
    service.rebuild()
    assert _picture(store, "lot:L2") == live


def test_a_lot_unloaded_and_loaded_again_in_one_batch_rides_on(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L1", 2), events("cart_load", cart="C-1", lot="L1")])
    service.ingest(
        [
            events("cart_unload", cart="C-1", lot="L1"),
            events("cart_load", cart="C-1", lot="L1"),
        ]
    )
    stays = CartService(store).cart_history("cart:C-1")
    assert [s.until is None for s in stays] == [False, True]  # the second stay is still open
    assert [s.lot for s in CartService(store).contents("cart:C-1").stays] == ["lot:L1"]
    service.ingest([events("split", lot="L1", into=[{"lot": "L2", "qty": "2"}])])
    live = _picture(store, "lot:L1")
    service.rebuild()
    assert _picture(store, "lot:L1") == live


def test_voiding_a_split_takes_the_cart_only_it_brought_in(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L1", 5)])
    split = events("split", lot="L1", into=[{"lot": "L2", "qty": "1", "cart": "C-9"}])
    service.ingest([split])
    assert store.node("cart:C-9") is not None
    service.ingest([events("void", voids=split["event_id"], reason="no such split")])
    assert store.node("cart:C-9") is None
    live = store.counts()
    service.rebuild()
    assert store.counts() == live


def test_what_a_lot_holds_reads_the_same_after_a_void_as_after_a_rebuild(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("L1", 5)])
    first = events("split", lot="L1", into=[{"lot": "L2", "qty": "1.5"}])
    service.ingest([first, events("split", lot="L1", into=[{"lot": "L3", "qty": "1"}])])
    service.ingest([events("void", voids=first["event_id"], reason="never split")])
    assert store.node("lot:L1").attrs["available"] == "4"  # type: ignore[union-attr]
    service.rebuild()
    assert store.node("lot:L1").attrs["available"] == "4"  # type: ignore[union-attr]


def test_a_split_whose_lot_a_recall_suspects_stays_and_says_why(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-1", 10, event_id="R1"),
            events("split", lot="L-1", into=[{"lot": "L-2", "qty": "4"}], event_id="S1"),
            events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-2", "qty": "1"}]),
        ]
    )
    service.ingest([events("recall_open", suspects=[{"id": "lot:L-2"}], **OPEN, event_id="C")])
    before = state(store)
    with pytest.raises(BatchRejected) as caught:
        service.ingest([events("void", voids="S1", reason="x")])
    assert state(store) == before, "a rejected batch must write nothing"
    problems = caught.value.problems
    said = " ".join(p.message for p in problems)
    # The shipment may be voided first; the case's event never is, and is not asked to be.
    (first,) = [p.message for p in problems if "void them first" in p.message]
    assert '"C"' not in first and "E-3" in first, first
    assert '"C"' in said and "never voided" in said, said
