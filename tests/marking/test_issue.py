"""Issuing marks: next free code, never twice (also under concurrency), validated mark events."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest

from graph.errors import BadRequest, NotFound
from graph.store import GraphStore
from ingest.models import ItemRef
from ingest.service import IngestService
from marking.errors import NoScheme, SchemeConflict, SchemeExhausted
from marking.models import LETTERS, MAX_CAPACITY, SchemeSpec
from marking.schemes import Scheme
from marking.service import MarkingService
from tests.conformance.helpers import rejected
from tests.fixtures.events import Events
from tests.marking.conftest import SCREWS, receive_lots


def _lot(key: str) -> ItemRef:
    return ItemRef(lot=key)


def test_codes_come_in_order_and_usage_counts_them(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    receive_lots(store, events, "SCREW-M4", ["L-1", "L-2", "L-3"])
    issued = [marking.issue_mark(_lot(key), actor="ana") for key in ("L-1", "L-2", "L-3")]
    assert [m.code for m in issued] == ["AAA", "AAB", "AAC"]
    assert all(m.created and m.scheme == "SCREWS" for m in issued)
    usage = marking.scheme_usage("SCREWS")
    assert (usage.capacity, usage.used, usage.next_index, usage.remaining) == (17_576, 3, 3, 17_573)
    logged = [e for e in store.events(0, 100) if e.type == "mark"]
    assert len(logged) == 3


def test_an_item_with_a_mark_gets_the_same_mark_back(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    receive_lots(store, events, "SCREW-M4", ["L-1"])
    first = marking.issue_mark(_lot("L-1"))
    again = marking.issue_mark(_lot("L-1"))
    assert (again.code, again.created) == (first.code, False)
    assert marking.scheme_usage("SCREWS").used == 1


def test_running_out_is_an_error(store: GraphStore, events: Events) -> None:
    marking = MarkingService(store)
    marking.define_scheme(
        SchemeSpec(name="TINY", kind="sequential", length=1, capacity=2, parts=["BAR"])
    )
    receive_lots(store, events, "BAR", ["L-1", "L-2", "L-3"])
    assert [marking.issue_mark(_lot(k)).code for k in ("L-1", "L-2")] == ["A", "B"]
    with pytest.raises(SchemeExhausted):
        marking.issue_mark(_lot("L-3"))
    assert marking.scheme_usage("TINY").remaining == 0


def test_items_without_a_scheme_or_at_all_are_refused(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    receive_lots(store, events, "BAR", ["L-1"])
    with pytest.raises(NoScheme):
        marking.issue_mark(_lot("L-1"))
    with pytest.raises(NotFound):
        marking.issue_mark(_lot("L-404"))


def test_parallel_issuing_never_gives_a_code_twice(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    lots = [f"L-{i}" for i in range(40)]
    receive_lots(store, events, "PLATE-9", lots)
    with ThreadPoolExecutor(max_workers=8) as pool:
        issued = list(pool.map(lambda key: marking.issue_mark(_lot(key), actor="op"), lots))
    codes = [m.code for m in issued]
    assert len(set(codes)) == len(lots)
    assert sorted(m.index for m in issued if m.index is not None) == list(range(len(lots)))
    usage = marking.scheme_usage("PLATES")
    assert (usage.used, usage.next_index) == (40, 40)
    for m in issued:
        marked = store.marked_items([f"mark:{m.code}"])
        assert [hit.item.gid for hit in marked] == [m.target]


def test_parallel_requests_for_one_item_give_it_one_mark(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    lots = [f"L-{i}" for i in range(6)]
    receive_lots(store, events, "PLATE-9", lots)
    requests = [key for key in lots for _ in range(4)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        issued = list(pool.map(lambda key: marking.issue_mark(_lot(key), actor="op"), requests))
    for key in lots:
        answers = [m for m in issued if m.target == f"lot:{key}"]
        assert len({m.code for m in answers}) == 1, answers
        assert sum(m.created for m in answers) == 1
    assert marking.scheme_usage("PLATES").used == len(lots)
    for key in lots:
        marks = [
            link.other.attrs["code"]
            for link in store.item_links([f"lot:{key}"])
            if link.type == "MARKS"
        ]
        assert len(marks) == 1


class _RacingStore:
    """A store whose issuers have all read the item unmarked, and each a different last index:
    what concurrent issuers see when each reads before the others commit."""

    def __init__(self, store: GraphStore, issuers: int) -> None:
        self._store = store
        self._turn = iter(range(issuers))
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(issuers)
        self._mine = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def item_links(self, gids: list[str]) -> list[Any]:
        if not hasattr(self._mine, "turn"):
            with self._lock:
                self._mine.turn = next(self._turn)
            self._barrier.wait(timeout=30)  # every issuer checks before any of them marks
            return []
        return self._store.item_links(gids)

    def last_mark_index(self, scheme: str) -> int | None:
        last = self._store.last_mark_index(scheme)
        return (-1 if last is None else last) + cast(int, self._mine.turn)


def test_concurrent_issuers_picking_different_codes_leave_one_mark(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    receive_lots(store, events, "SCREW-M4", ["S-1"])
    racing = MarkingService(cast(GraphStore, _RacingStore(store, 3)))
    with ThreadPoolExecutor(max_workers=3) as pool:
        issued = list(pool.map(lambda _: racing.issue_mark(_lot("S-1")), range(3)))
    assert sorted(m.created for m in issued) == [False, False, True]
    winner = next(m for m in issued if m.created)
    assert {m.code for m in issued} == {winner.code}
    assert [m.code for m in issued if not m.created] == [winner.code] * 2
    assert marking.scheme_usage("SCREWS").used == 1
    assert [h.item.gid for h in store.marked_items([f"mark:{winner.code}"])] == ["lot:S-1"]


def test_an_item_takes_one_mark_per_scheme(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    receive_lots(store, events, "SCREW-M4", ["S-1", "S-2"])
    first = events("mark", target={"lot": "S-1"}, code="ABC")
    IngestService(store).ingest([first])
    other = events("mark", target={"lot": "S-1"}, code="ABD")
    refused = rejected(store, [other], "already_marked")
    assert refused.field == "code"
    assert 'lot "S-1" already carries mark "ABC" of scheme "SCREWS"' in refused.message
    again = events("mark", target={"lot": "S-1"}, code="ABC")
    assert "void that mark event first" in rejected(store, [again], "already_marked").message
    batch = [
        events("mark", target={"lot": "S-2"}, code="XYZ"),
        events("mark", target={"lot": "S-2"}, code="XYA", scheme="SCREWS"),
    ]
    assert rejected(store, batch, "already_marked").index == 1
    # Voided, the mark no longer counts: the item may take another code of the scheme.
    IngestService(store).ingest([events("void", voids=first["event_id"], reason="misstruck")])
    IngestService(store).ingest([other])
    assert [h.item.gid for h in store.marked_items(["mark:ABD"])] == ["lot:S-1"]
    assert marking.issue_mark(_lot("S-1")).code == "ABD"


def test_marks_of_other_schemes_or_none_do_not_count(store: GraphStore, events: Events) -> None:
    marking = MarkingService(store)
    marking.define_scheme(SchemeSpec(name="A3", kind="sequential", length=3, parts=["BAR"]))
    marking.define_scheme(SchemeSpec(name="D2", kind="sequential", length=2, alphabet="0123456789"))
    receive_lots(store, events, "BAR", ["B-1"])
    receive_lots(store, events, "ROD", ["R-1"])
    IngestService(store).ingest(
        [
            events("mark", target={"lot": "B-1"}, code="QQQ"),
            events("mark", target={"lot": "B-1"}, code="42", scheme="D2"),
            events("mark", target={"lot": "R-1"}, code="R1"),  # no family scheme: any code
            events("mark", target={"lot": "R-1"}, code="R2"),
        ]
    )
    assert marking.issue_mark(_lot("B-1")).code == "QQQ"
    marks = [
        link.other.attrs["code"] for link in store.item_links(["lot:R-1"]) if link.type == "MARKS"
    ]
    assert sorted(marks) == ["R1", "R2"]


def test_mark_events_are_checked_against_the_scheme(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    receive_lots(store, events, "PLATE-9", ["P-1", "P-2"])
    receive_lots(store, events, "SCREW-M4", ["S-1"])
    good = MarkingService(store).scheme_usage("PLATES")
    assert good.used == 0
    bad_check = events("mark", target={"lot": "P-1"}, code="AAAB")
    assert "check character" in rejected(store, [bad_check], "bad_mark").message
    too_long = events("mark", target={"lot": "S-1"}, code="AAAA")
    assert rejected(store, [too_long], "bad_mark").field == "code"
    unknown = events("mark", target={"lot": "S-1"}, code="AAA", scheme="NOPE")
    assert rejected(store, [unknown], "unknown_scheme").field == "scheme"
    IngestService(store).ingest([events("mark", target={"lot": "S-1"}, code="QRS")])
    taken = events("mark", target={"lot": "P-2"}, code="QRS", scheme="SCREWS")
    assert 'lot "S-1"' in rejected(store, [taken], "mark_taken").message
    usage = marking.scheme_usage("SCREWS")
    assert (usage.used, usage.next_index) == (1, 11_277)  # QRS = 16*676 + 17*26 + 18 = 11,276


def test_two_marks_of_one_code_in_one_batch_are_refused(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    receive_lots(store, events, "SCREW-M4", ["S-1", "S-2"])
    batch = [
        events("mark", target={"lot": "S-1"}, code="ABC"),
        events("mark", target={"lot": "S-2"}, code="ABC"),
    ]
    assert rejected(store, batch, "mark_taken").index == 1


def test_a_voided_mark_frees_its_item_but_issuing_never_reuses_its_code(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    receive_lots(store, events, "SCREW-M4", ["S-1", "S-2"])
    first = marking.issue_mark(_lot("S-1"))
    IngestService(store).ingest([events("void", voids=first.event_id, reason="wrong part")])
    assert store.marked_items(["mark:AAA"]) == []
    assert marking.issue_mark(_lot("S-2")).code == "AAB"
    assert marking.issue_mark(_lot("S-1")).code == "AAC"


def test_rebuild_replays_marks(store: GraphStore, events: Events, marking: MarkingService) -> None:
    receive_lots(store, events, "IMPLANT", ["I-1", "I-2"])
    codes = [marking.issue_mark(_lot(k)).code for k in ("I-1", "I-2")]
    IngestService(store).rebuild()
    assert [h.item.gid for h in store.marked_items([f"mark:{codes[1]}"])] == ["lot:I-2"]
    assert marking.scheme_usage("IMPLANTS").next_index == 2


def test_scheme_codes_are_fixed_once_saved(store: GraphStore, marking: MarkingService) -> None:
    with pytest.raises(SchemeConflict, match="only its parts may change"):
        marking.define_scheme(SchemeSpec(name="SCREWS", kind="sequential", length=4))
    with pytest.raises(SchemeConflict, match="PLATE-9"):
        marking.define_scheme(
            SchemeSpec(name="OTHER", kind="sequential", length=4, parts=["PLATE-9"])
        )
    moved = marking.define_scheme(
        SchemeSpec(name="SCREWS", kind="sequential", length=3, parts=["SCREW-*", "NUT-*"])
    )
    assert moved.parts == ["SCREW-*", "NUT-*"]
    assert [s.name for s in marking.schemes()] == ["IMPLANTS", "PLATES", "SCREWS"]


def test_schemes_defined_together_are_saved_all_or_none(
    store: GraphStore, marking: MarkingService
) -> None:
    def spec(name: str, *parts: str) -> SchemeSpec:
        return SchemeSpec(name=name, kind="sequential", length=4, parts=list(parts))

    with pytest.raises(SchemeConflict, match='PLATE-9 already has scheme "PLATES"'):
        marking.define_schemes([spec("NUTS", "NUT-*"), spec("OTHER", "PLATE-9")])
    with pytest.raises(SchemeConflict, match='BOLT-1 already has scheme "NUTS"'):
        marking.define_schemes([spec("NUTS", "NUT-*", "BOLT-1"), spec("BOLTS", "BOLT-1")])
    assert [s.name for s in marking.schemes()] == ["IMPLANTS", "PLATES", "SCREWS"]
    # Later entries see the earlier ones, as if defined one after the other.
    usages = marking.define_schemes([spec("NUTS", "NUT-*", "BOLT-1"), spec("NUTS", "NUT-*")])
    assert [u.parts for u in usages] == [["NUT-*"], ["NUT-*"]]
    assert [s.name for s in marking.schemes()] == ["IMPLANTS", "NUTS", "PLATES", "SCREWS"]


def test_a_scheme_passes_over_codes_another_scheme_issued_first(
    store: GraphStore, events: Events
) -> None:
    marking = MarkingService(store)
    for name, part in (("SCREWS", "SCREW-*"), ("NUTS", "NUT-*")):
        marking.define_scheme(SchemeSpec(name=name, kind="sequential", length=2, parts=[part]))
    screws = [f"S-{i}" for i in range(120)]  # past the 100 tries a rejected write each cost
    receive_lots(store, events, "SCREW-M4", screws)
    receive_lots(store, events, "NUT-M4", ["N-1", "N-2"])
    issued = {marking.issue_mark(_lot(key)).code for key in screws}
    nut = marking.issue_mark(_lot("N-1"))
    assert nut.created and nut.code not in issued
    assert (nut.code, nut.index) == ("EQ", 120)  # the 121st two-letter code, A-Z
    assert marking.issue_mark(_lot("N-2")).index == 121


def test_a_scheme_whose_codes_could_not_be_read_back_is_refused(store: GraphStore) -> None:
    spec = SchemeSpec(name="LOWER", kind="sequential", length=3, alphabet="abcd", parts=["X"])
    with pytest.raises(BadRequest, match="upper-case letters only"):
        MarkingService(store).define_scheme(spec)
    # Full-width letters are capitals, but a reading takes them as ASCII ones.
    wide = spec.model_copy(update={"alphabet": "AB\uff23"})
    with pytest.raises(BadRequest, match="no full-width characters"):
        MarkingService(store).define_scheme(wide)
    assert MarkingService(store).schemes() == []


def test_a_scheme_of_more_codes_than_indexes_hold_stops_at_the_most(
    store: GraphStore, events: Events
) -> None:
    # 26**12 codes: past 10**15 a stored index outgrew its padding, and the highest index
    # recorded read as a lower one, so issuing went back among codes already struck.
    marking = MarkingService(store)
    spec = SchemeSpec(name="LONG", kind="sequential", length=12, parts=["PIN"])
    marking.define_scheme(spec)
    scheme = Scheme(spec)
    assert scheme.capacity == MAX_CAPACITY
    receive_lots(store, events, "PIN", ["P-0", "P-1", "P-2", "P-3"])
    code = "".join(LETTERS[MAX_CAPACITY // 26**p % 26] for p in reversed(range(12)))
    past = events("mark", target={"lot": "P-0"}, code=code)
    assert "beyond the 1,000,000,000,000,000 codes" in rejected(store, [past], "bad_mark").message
    high, low = MAX_CAPACITY - 2, 2 * 10**14
    IngestService(store).ingest(
        [
            events("mark", target={"lot": "P-1"}, code=scheme.code_for(high)),
            events("mark", target={"lot": "P-2"}, code=scheme.code_for(low)),
        ]
    )
    assert marking.issue_mark(_lot("P-3")).index == high + 1
    assert marking.scheme_usage("LONG").remaining == 0


def test_a_sites_use_of_a_scheme_counts_the_codes_on_what_it_may_read(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    IngestService(store).ingest(
        [
            events.receive("S-1", 10, part="SCREW-M4", site="PLANT-1", supplier_lot="A-1"),
            events.receive("S-2", 10, part="SCREW-M4", site="PLANT-2", supplier_lot="A-2"),
            events.receive("S-3", 10, part="SCREW-M4", site="PLANT-2", supplier_lot="A-3"),
            events.receive("S-0", 10, part="SCREW-M4", supplier_lot="A-0"),  # of no site
        ]
    )
    issued = {key: marking.issue_mark(_lot(key)) for key in ("S-1", "S-2", "S-3", "S-0")}
    counts = {
        site: (store.marks_seen_by("SCREWS", site), marking.scheme_usage("SCREWS", site).used)
        for site in ("PLANT-1", "PLANT-2", "PLANT-9")
    }
    assert counts == {"PLANT-1": (2, 2), "PLANT-2": (3, 3), "PLANT-9": (1, 1)}
    assert marking.scheme_usage("SCREWS").used == 4
    # A voided mark no longer marks its item: the site no longer reads it.
    void = events("void", voids=issued["S-1"].event_id, reason="struck on the wrong lot")
    IngestService(store).ingest([void])
    assert store.marks_seen_by("SCREWS", "PLANT-1") == 1
    assert store.marks_seen_by("PLATES", "PLANT-1") == 0


class _Reads:
    """A store that records the reads asked of it."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.asked.append(name)
        return getattr(self.store, name)


def test_a_sites_use_of_a_scheme_reads_no_count_of_the_plant(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    IngestService(store).ingest(
        [
            events.receive("S-1", 10, part="SCREW-M4", site="PLANT-1", supplier_lot="A-1"),
            events.receive("S-2", 10, part="SCREW-M4", site="PLANT-2", supplier_lot="A-2"),
        ]
    )
    for key in ("S-1", "S-2"):
        marking.issue_mark(_lot(key))
    plant = marking.scheme_usage("SCREWS")
    reads = _Reads(store)
    usage = MarkingService(cast(GraphStore, reads)).scheme_usage("SCREWS", "PLANT-1")
    assert (usage.used, usage.next_index, usage.remaining) == (1, 2, plant.remaining)
    assert "marks_used" in reads.asked and "mark_usage" not in reads.asked


def test_schemes_defined_together_have_their_use_read_at_once(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    receive_lots(store, events, "SCREW-M4", ["S-1"])
    marking.issue_mark(_lot("S-1"))
    reads = _Reads(store)
    specs = [
        SchemeSpec(name=f"SET{n}", kind="sequential", length=3, parts=[f"SET-{n}"])
        for n in range(3)
    ]
    defined = MarkingService(cast(GraphStore, reads)).define_schemes([*specs, SCREWS])
    assert [(u.name, u.used, u.next_index) for u in defined] == [
        ("SET0", 0, 0),
        ("SET1", 0, 0),
        ("SET2", 0, 0),
        ("SCREWS", 1, 1),
    ]
    usage = ("mark_usage", "marks_seen_by", "last_mark_index", "marks_used")
    assert [name for name in reads.asked if name in usage] == ["marks_used"]
    assert reads.asked.count("mark_schemes") == 1, reads.asked
