"""A code struck once, by any scheme or none, voided or not, is not issued again; live = rebuilt."""

from __future__ import annotations

import pytest

from graph.store import GraphStore
from ingest.models import ItemRef
from ingest.planner import Planner
from ingest.service import IngestService
from marking.models import SchemeSpec
from marking.service import MarkingService
from tests.conformance.helpers import rejected
from tests.fixtures.events import Events


def _lot(key: str) -> ItemRef:
    return ItemRef(lot=key)


def _two_schemes(store: GraphStore, events: Events) -> MarkingService:
    """Schemes A (part PA) and B (part PB) of the same codes, three letters A-Z; lots A-0, B-0."""
    marking = MarkingService(store)
    for name in ("A", "B"):
        spec = SchemeSpec(name=name, kind="sequential", length=3, parts=[f"P{name}"])
        marking.define_scheme(spec)
    IngestService(store).ingest(
        [
            events.receive("A-0", 1, part="PA", supplier_lot="x"),
            events.receive("B-0", 1, part="PB", supplier_lot="y"),
        ]
    )
    return marking


def _graph(store: GraphStore, *gids: str) -> tuple[object, ...]:
    links = sorted((e.src, e.dst, e.type, e.event) for e in store.links(list(gids)))
    return store.counts(), [store.node(g) for g in gids], links


def _live_marks(store: GraphStore) -> list[str]:
    return [e.event_id for e in store.events(0, 100) if e.type == "mark" and e.voided_by is None]


def test_a_code_another_scheme_struck_and_voided_is_passed_over(
    store: GraphStore, events: Events
) -> None:
    marking = _two_schemes(store, events)
    struck = marking.issue_mark(_lot("B-0"))
    IngestService(store).ingest([events("void", voids=struck.event_id, reason="mis-struck")])
    issued = marking.issue_mark(_lot("A-0"))
    assert (issued.code, issued.scheme, issued.index, issued.created) == ("AAB", "A", 1, True)
    again = [marking.issue_mark(_lot("A-0")) for _ in range(2)]
    assert [(m.code, m.created) for m in again] == [("AAB", False)] * 2
    assert len(_live_marks(store)) == 1
    usage = marking.scheme_usage("A")
    assert (usage.used, usage.next_index) == (1, 2)
    # Sent by hand, the code is refused too: it keeps the scheme its first mark was read by.
    by_hand = events("mark", target={"lot": "A-0"}, code="AAA", scheme="A")
    assert 'struck first by scheme "B"' in rejected(store, [by_hand], "mark_taken").message
    before = _graph(store, "mark:AAA", "mark:AAB", "lot:A-0", "lot:B-0")
    IngestService(store).rebuild()
    assert _graph(store, "mark:AAA", "mark:AAB", "lot:A-0", "lot:B-0") == before


def test_a_code_struck_by_a_mark_of_no_scheme_and_voided_is_passed_over(
    store: GraphStore, events: Events
) -> None:
    marking = _two_schemes(store, events)
    service = IngestService(store)
    service.ingest(
        [
            events.receive("N-0", 1, part="PN", supplier_lot="z"),
            events("mark", target={"lot": "N-0"}, code="AAA", event_id="M1"),
        ]
    )
    service.ingest([events("void", voids="M1", reason="mis-struck")])
    issued = marking.issue_mark(_lot("A-0"))
    assert (issued.code, issued.created) == ("AAB", True)
    assert marking.issue_mark(_lot("A-0")).created is False
    by_hand = events("mark", target={"lot": "A-0"}, code="AAA")
    assert "a mark of no scheme" in rejected(store, [by_hand], "mark_taken").message
    # Struck again by a mark of no scheme, as first: allowed, the item's family has none.
    service.ingest([events("mark", target={"lot": "N-0"}, code="AAA", event_id="M2")])
    before = _graph(store, "mark:AAA", "mark:AAB", "lot:A-0", "lot:N-0")
    service.rebuild()
    assert _graph(store, "mark:AAA", "mark:AAB", "lot:A-0", "lot:N-0") == before
    assert marking.scheme_usage("A").next_index == 2


def test_a_family_moved_to_a_new_scheme_of_the_same_codes_gets_a_new_code(
    store: GraphStore, events: Events
) -> None:
    marking = MarkingService(store)
    marking.define_scheme(SchemeSpec(name="OLD", kind="sequential", length=3, parts=["PA"]))
    IngestService(store).ingest([events.receive("A-0", 1, part="PA", supplier_lot="x")])
    assert marking.issue_mark(_lot("A-0")).code == "AAA"
    marking.define_scheme(SchemeSpec(name="OLD", kind="sequential", length=3, parts=[]))
    marking.define_scheme(SchemeSpec(name="NEW", kind="sequential", length=3, parts=["PA"]))
    issued = [marking.issue_mark(_lot("A-0")) for _ in range(2)]
    assert [(m.code, m.scheme, m.created) for m in issued] == [
        ("AAB", "NEW", True),
        ("AAB", "NEW", False),
    ]
    assert (marking.scheme_usage("NEW").used, marking.scheme_usage("OLD").used) == (1, 1)
    # The item carries the code already: the same code again, read by any scheme, is refused.
    same = events("mark", target={"lot": "A-0"}, code="AAA", scheme="OLD")
    assert (
        'lot "A-0" already carries mark "AAA"' in rejected(store, [same], "already_marked").message
    )
    before = _graph(store, "mark:AAA", "mark:AAB", "lot:A-0")
    IngestService(store).rebuild()
    assert _graph(store, "mark:AAA", "mark:AAB", "lot:A-0") == before


def test_a_code_struck_twice_on_an_item_of_no_scheme_is_refused(
    store: GraphStore, events: Events
) -> None:
    service = IngestService(store)
    service.ingest([events.receive("N-0", 1, part="PN", supplier_lot="z")])
    service.ingest([events("mark", target={"lot": "N-0"}, code="QQ")])
    again = events("mark", target={"lot": "N-0"}, code="QQ")
    assert "void that mark event first" in rejected(store, [again], "already_marked").message


def test_a_log_written_when_the_code_s_node_decided_still_rebuilds(
    store: GraphStore, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    marking = _two_schemes(store, events)
    service = IngestService(store)
    struck = marking.issue_mark(_lot("B-0"))
    service.ingest([events("void", voids=struck.event_id, reason="mis-struck")])
    # As logged before a sent mark was checked against the scheme its code was first read by:
    # B's voided node let A strike AAA on A-0 again and again.
    monkeypatch.setattr(Planner, "_fresh_mark", lambda *_: True, raising=False)
    for _ in range(2):
        service.ingest([events("mark", target={"lot": "A-0"}, code="AAA", scheme="A")])
    monkeypatch.undo()
    before = _graph(store, "mark:AAA", "lot:A-0", "lot:B-0")
    service.rebuild()
    assert _graph(store, "mark:AAA", "lot:A-0", "lot:B-0") == before
