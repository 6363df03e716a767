"""A void sent with the events that depend on what it undoes: a batch accepted replays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from graph.store import GraphStore
from ingest.service import IngestService
from tests.conformance.helpers import rejected
from tests.fixtures.events import Events

OPEN = {"case": "RC-1", "title": "bad heat", "reason": "supplier alert"}
WINDOW = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-09T00:00:00Z"}
Raw = dict[str, Any]


def _shipped(events: Events) -> tuple[list[list[Raw]], Callable[[], Raw], str]:
    """The only shipment to HOSP brought the company in; a case notifies it."""
    setup = [
        [
            events.receive("L-1", 10),
            events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "1"}]),
        ],
        [events("recall_open", suspects=[{"id": "lot:L-1"}], **OPEN)],
    ]

    def notice() -> Raw:
        return events("recall_notice", case="RC-1", notice="N-1", customer="HOSP", message="m")

    return setup, notice, "E-2"


def _sawn(events: Events) -> tuple[list[list[Raw]], Callable[[], Raw], str]:
    """The only step on SAW brought the equipment in; a case suspects it."""
    receipt = events.receive("L-1", 10)
    step = events(
        "process",
        step="S-1",
        operation="cut",
        equipment="SAW",
        inputs=[{"lot": "L-1", "qty": "1"}],
        outputs=[{"lot": "P", "part": "PIN", "qty": "1"}],
    )
    setup = [[receipt, step]]

    def suspect() -> Raw:
        return events("recall_open", suspects=[{"id": "equipment:SAW", **WINDOW}], **OPEN)

    return setup, suspect, "E-2"


def _received(events: Events) -> tuple[list[list[Raw]], Callable[[], Raw], str]:
    """The only receipt of POLY's P-1 brought the supplier lot in; a case asks POLY about it."""
    setup = [
        [
            events.receive("L-1", 10),
            events.receive("L-2", 5, part="RESIN", supplier="POLY", supplier_lot="P-1"),
        ],
        [events("recall_open", suspects=[{"id": "lot:L-1"}], **OPEN)],
    ]

    def request() -> Raw:
        return events(
            "recall_supplier_request",
            case="RC-1",
            supplier="POLY",
            supplier_lot="P-1",
            question="heat certificate?",
            due_by="2026-04-01T00:00:00Z",
        )

    return setup, request, "E-2"


CASES = {"notice": _shipped, "equipment": _sawn, "supplier_lot": _received}


def _picture(store: GraphStore) -> tuple[object, ...]:
    gids = ["company:HOSP", "equipment:SAW", "supplier_lot:POLY/P-1", "lot:L-1", "case:RC-1"]
    links = sorted((e.src, e.dst, e.type, e.event) for e in store.links(gids))
    return store.counts(), links, [store.node(g) for g in gids]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_void_waits_for_a_recall_event_before_it_in_its_batch(
    store: GraphStore, events: Events, case: str
) -> None:
    setup, dependent, target = CASES[case](events)
    for batch in setup:
        IngestService(store).ingest(batch)
    batch = [dependent(), events("void", voids=target, reason="keyed wrong")]
    problem = rejected(store, batch, "void_has_dependents")
    assert problem.index == 1 and problem.names == () and "never voided" in problem.message


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_recall_event_after_a_void_in_its_batch_finds_what_only_the_void_brought_in_gone(
    store: GraphStore, events: Events, case: str
) -> None:
    setup, dependent, target = CASES[case](events)
    for batch in setup:
        IngestService(store).ingest(batch)
    batch = [events("void", voids=target, reason="keyed wrong"), dependent()]
    problem = rejected(store, batch, "unknown_item")
    assert problem.index == 1
    void = batch[0]["event_id"]
    assert f'once "{void}" (earlier in this batch) voids "{target}"; nothing' in problem.message
    # As in a later batch, once the store has dropped it.
    IngestService(store).ingest([events("void", voids=target, reason="keyed wrong")])
    rejected(store, [dependent()], "unknown_item")


@pytest.mark.parametrize("void_first", [True, False])
def test_what_the_batch_brings_in_again_before_the_recall_event_serves(
    store: GraphStore, events: Events, void_first: bool
) -> None:
    setup, notice, target = _shipped(events)
    service = IngestService(store)
    for batch in setup:
        service.ingest(batch)
    again = events("ship", shipment="SH-2", customer="HOSP", items=[{"lot": "L-1", "qty": "1"}])
    void = events("void", voids=target, reason="keyed wrong")
    service.ingest([void, again, notice()] if void_first else [again, notice(), void])
    live = _picture(store)
    service.rebuild()
    assert _picture(store) == live


def test_a_recall_event_before_what_brings_the_node_in_again_still_waits(
    store: GraphStore, events: Events
) -> None:
    setup, notice, target = _shipped(events)
    for batch in setup:
        IngestService(store).ingest(batch)
    again = events("ship", shipment="SH-2", customer="HOSP", items=[{"lot": "L-1", "qty": "1"}])
    batch = [notice(), again, events("void", voids=target, reason="keyed wrong")]
    assert rejected(store, batch, "void_has_dependents").index == 2


def test_a_case_event_of_the_voids_batch_is_not_asked_to_be_voided(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest([events.receive("L-1", 10)])
    batch = [
        events("recall_open", suspects=[{"id": "lot:L-1"}], **OPEN),
        events("void", voids="E-1", reason="keyed wrong"),
    ]
    problem = rejected(store, batch, "void_has_dependents")
    assert '"E-2"' in problem.message and "never voided" in problem.message
    assert "void them first" not in problem.message


def test_a_case_event_sent_before_the_void_in_its_batch_is_said_to_be(
    store: GraphStore, events: Events
) -> None:
    setup, notice, target = _shipped(events)
    for batch in setup:
        IngestService(store).ingest(batch)
    batch = [notice(), events("void", voids=target, reason="keyed wrong")]
    problem = rejected(store, batch, "void_has_dependents")
    sent = batch[0]["event_id"]
    assert f'recall case events (sent earlier in this batch: "{sent}")' in problem.message


def test_links_made_after_an_earlier_void_of_the_batch_are_seen(
    store: GraphStore, events: Events
) -> None:
    """A void of another event indexes the batch's links first; those made after it count."""
    setup, notice, target = _shipped(events)
    for batch in setup:
        IngestService(store).ingest(batch)
    other = events.receive("L-9", 10, supplier="POLY", supplier_lot="P-9", part="RESIN")
    IngestService(store).ingest([other])
    batch = [
        events.receive("L-8", 5),
        events("void", voids=other["event_id"], reason="keyed wrong"),
        notice(),
        events("void", voids=target, reason="keyed wrong"),
    ]
    assert rejected(store, batch, "void_has_dependents").index == 3


@pytest.mark.parametrize("void_first", [True, False])
def test_another_receipt_of_the_lot_keeps_the_company_a_voided_receipt_linked(
    store: GraphStore, events: Events, void_first: bool
) -> None:
    """Only the first receipt of a supplier lot links it to its company; voided, the store
    links the lot again through the next receipt, as a replay of the log does."""
    service = IngestService(store)
    service.ingest(
        [
            events.receive("L-1", 10),
            events.receive("L-2", 5, part="RESIN", supplier="POLY", supplier_lot="P-1"),
            events.receive("L-3", 5, part="RESIN", supplier="POLY", supplier_lot="P-1"),
        ]
    )
    service.ingest([events("recall_open", suspects=[{"id": "lot:L-1"}], **OPEN)])
    void = events("void", voids="E-2", reason="keyed wrong")
    notice = events("recall_notice", case="RC-1", notice="N-1", customer="POLY", message="m")
    service.ingest([void, notice] if void_first else [notice, void])
    live = _picture(store), store.node("company:POLY")
    service.rebuild()
    assert (_picture(store), store.node("company:POLY")) == live
    assert live[1] is not None
