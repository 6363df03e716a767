"""Resolution puts the right item first for exact, misread, look-alike and wildcard readings."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from graph.errors import BadRequest
from graph.store import GraphStore
from ingest.models import ItemRef
from ingest.service import IngestService
from marking import resolve
from marking.models import ResolveQuery, SchemeSpec
from marking.readings import FULL_WIDTH
from marking.resolve import primary_ranges
from marking.schemes import Scheme
from marking.service import MarkingService
from tests.fixtures.events import Events
from tests.marking.conftest import receive_lots


@pytest.fixture
def plant(store: GraphStore, events: Events, marking: MarkingService) -> dict[str, str]:
    """Thirty screws and thirty plates marked in order; return code by lot."""
    screws = [f"S-{i:04d}" for i in range(30)]
    plates = [f"P-{i:04d}" for i in range(30)]
    receive_lots(store, events, "SCREW-M4", screws)
    receive_lots(store, events, "PLATE-9", plates)
    codes: dict[str, str] = {}
    for name, keys in (("SCREWS", screws), ("PLATES", plates)):
        scheme = next(s for s in marking.schemes() if s.name == name)
        assert scheme.next_index == 0
        codes |= {key: _scheme(store, name).code_for(i) for i, key in enumerate(keys)}
    IngestService(store).ingest(
        [events("mark", target={"lot": key}, code=code) for key, code in codes.items()]
        + [
            events("cart_load", cart="C-7", lot="P-0012", compartment="3"),
            events(
                "ship", shipment="SH-1", customer="CLINIC", items=[{"lot": "S-0004", "qty": 10}]
            ),
        ]
    )
    return codes


def _scheme(store: GraphStore, name: str) -> Scheme:
    return next(Scheme.from_row(row) for row in store.mark_schemes() if row.name == name)


def _resolve(marking: MarkingService, **fields: object) -> list[tuple[str, float, str]]:
    found = marking.resolve(ResolveQuery.model_validate(fields)).candidates
    return [(c.id, c.confidence, c.reason) for c in found]


def test_an_exact_mark_gives_one_answer_with_confidence_one(
    marking: MarkingService, plant: dict[str, str]
) -> None:
    answer = marking.resolve(ResolveQuery(mark=plant["P-0012"])).candidates
    assert len(answer) == 1
    only = answer[0]
    assert (only.id, only.confidence, only.matches) == ("lot:P-0012", 1.0, ["exact"])
    assert (only.part, only.scheme, only.mark) == ("PLATE-9", "PLATES", plant["P-0012"])
    assert only.location == "in cart C-7 compartment 3"
    assert marking.resolve(ResolveQuery(mark=plant["S-0004"])).candidates[0].location == (
        "shipped to CLINIC in shipment SH-1"
    )


def test_a_lot_used_up_after_its_cart_says_what_used_it_not_the_cart(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    # The stay ended when the split took all of the lot: the cart is where it was, not what
    # became of it.
    IngestService(store).ingest(
        [
            events.receive("LOT-1", 5),
            events("cart_load", cart="C-1", lot="LOT-1"),
            events("split", lot="LOT-1", into=[{"lot": "K-1", "qty": "5"}]),
        ]
    )
    found = marking.resolve(ResolveQuery(primary="LOT-1")).candidates
    assert [(c.id, c.location) for c in found] == [("lot:LOT-1", "used up (split into K-1)")]


def test_a_lot_used_up_by_two_steps_names_the_same_one_on_either_store(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    # Neither store orders an item's links: the first read named one split or the other.
    IngestService(store).ingest(
        [
            events.receive("LOT-2", 5),
            events("split", lot="LOT-2", into=[{"lot": "K-9", "qty": "2"}]),
            events("split", lot="LOT-2", into=[{"lot": "K-3", "qty": "3"}]),
        ]
    )
    found = marking.resolve(ResolveQuery(primary="LOT-2")).candidates
    assert [(c.id, c.location) for c in found] == [("lot:LOT-2", "used up (split into K-3)")]


def test_lowercase_and_spaces_are_read_as_the_stamp(
    marking: MarkingService, plant: dict[str, str]
) -> None:
    code = plant["S-0007"]
    assert _resolve(marking, mark=" ".join(code.lower()))[0][:2] == ("lot:S-0007", 1.0)


@pytest.mark.parametrize("unseen", ["\u200b", "\ufeff", "\u00ad", "\u2060", "\u00a0"])
def test_characters_no_one_can_see_are_not_read_as_misread_ones(
    marking: MarkingService, plant: dict[str, str], unseen: str
) -> None:
    # S-0000 is AAA; P-0000 is AAA with its check character, one character longer: read with
    # the invisible one as a misread check character, AAA would be corrected to the plate.
    code = plant["S-0000"]
    for reading in (code[:2] + unseen + code[2], unseen + code):
        assert _resolve(marking, mark=reading) == [("lot:S-0000", 1.0, "exact secondary mark")]


@pytest.mark.parametrize("field", ["mark", "primary"])
@pytest.mark.parametrize(
    "reading", ["", "  ", "\u3000", "\u200b", "\u200b\u00ad\ufeff", "\u2060 \u200b\u00a0"]
)
def test_a_reading_of_nothing_visible_is_refused_as_an_empty_one(field: str, reading: str) -> None:
    # Nothing can be read in it: no candidates would read as a mark or number that marks nothing.
    with pytest.raises(ValidationError) as refused:
        ResolveQuery.model_validate({field: reading})
    problem = refused.value.errors()[0]
    assert (problem["type"], problem["loc"]) == ("empty_reading", (field,))
    assert problem["msg"] == "the reading holds no character that can be seen"


def test_a_primary_number_holding_spaces_is_found(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    # Spaces a reader adds are dropped, but an id may hold them too: both readings are tried.
    receive_lots(store, events, "GEAR", ["LOT 0001", "LOT0002"])
    assert [f[:2] for f in _resolve(marking, primary="LOT 0001")] == [("lot:LOT 0001", 1.0)]
    assert [f[:2] for f in _resolve(marking, primary="LOT 0002")] == [("lot:LOT0002", 1.0)]
    worn = _resolve(marking, primary="LOT?0001")
    assert [f[0] for f in worn] == ["lot:LOT 0001"] and "matches LOT?0001" in worn[0][2]
    assert [f[0] for f in _resolve(marking, primary="LO??0001")] == ["lot:LOT 0001"]


def test_a_reading_with_spaces_is_long_enough_as_typed(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    # "K ?1" has three readable characters as typed (the space is one an id holds); without its
    # space it has two, too few to search by, so only the reading as typed is tried.
    receive_lots(store, events, "GEAR", ["K 71", "K71"])
    found = _resolve(marking, primary="K ?1")
    assert [f[:2] for f in found] == [("lot:K 71", 1.0)]
    assert [f[0] for f in _resolve(marking, primary="K 7?1")] == []
    assert [f[0] for f in _resolve(marking, primary="K 7 1")] == ["lot:K71"]
    with pytest.raises(BadRequest, match="at least 3 readable"):
        marking.resolve(ResolveQuery(primary="K ?"))


def _full_width(text: str) -> str:
    """What a Chinese or Japanese keyboard types for ASCII text (a space too)."""
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) for c in text)


def test_a_full_width_reading_is_read_as_ascii(
    store: GraphStore, events: Events, marking: MarkingService, plant: dict[str, str]
) -> None:
    for char in map(chr, FULL_WIDTH):  # as NFKC reads them
        assert resolve._normalise(char) == unicodedata.normalize("NFKC", char).strip().upper()
    code = plant["S-0007"]
    for reading in (_full_width(code), _full_width(code.lower()), _full_width(" ".join(code))):
        assert _resolve(marking, mark=reading) == [("lot:S-0007", 1.0, "exact secondary mark")]
    # The full-width question mark is an unreadable character too.
    worn = _resolve(marking, mark=_full_width(code[:-1] + "?"))
    assert "lot:S-0007" in [f[0] for f in worn] and "wildcard" in worn[0][2]
    assert _resolve(marking, primary=_full_width("P-0012"))[0][:2] == ("lot:P-0012", 1.0)
    worn_primary = [f[0] for f in _resolve(marking, primary=_full_width("P-00?2"))]
    assert worn_primary == ["lot:P-0002", "lot:P-0012", "lot:P-0022"]
    with pytest.raises(BadRequest, match="at least 3 readable"):
        marking.resolve(ResolveQuery(primary=_full_width("P??")))
    # An id holding full-width characters is found as typed.
    receive_lots(store, events, "GEAR", [_full_width("G-1")])
    assert _resolve(marking, primary=_full_width("G-1"))[0][:2] == (
        "lot:" + _full_width("G-1"),
        1.0,
    )


@pytest.mark.parametrize("other", ["\u24b6", "\U0001d400", "\u2160", "\u212a", "\u00b2"])
def test_only_full_width_forms_are_read_as_ascii(other: str) -> None:
    # Circled, mathematical, Roman numeral, Kelvin sign, superscript: NFKC maps each to an ASCII
    # character, but a keyboard does not type them for one; they read as no code character.
    assert resolve._normalise(other) == other


def test_one_unreadable_character_with_a_check_character_leaves_one_answer(
    marking: MarkingService, plant: dict[str, str]
) -> None:
    code = plant["P-0021"]
    for i in range(len(code)):
        found = _resolve(marking, mark=code[:i] + "?" + code[i + 1 :])
        assert found[0][0] == "lot:P-0021"
        assert found[0][1] == 1.0
        assert "wildcard" in found[0][2]


def test_one_unreadable_character_without_check_ranks_the_family(
    marking: MarkingService, plant: dict[str, str]
) -> None:
    # AA? matches every screw marked AAA..AAZ: all are candidates, equally likely.
    found = _resolve(marking, mark="AA?", part="SCREW-M4")
    assert {f[0] for f in found} <= {f"lot:S-{i:04d}" for i in range(26)}
    assert len(found) == 10
    assert all(f[1] == pytest.approx(1 / 26, abs=1e-3) for f in found)


def test_context_narrows_a_wildcard_to_the_item(
    marking: MarkingService, plant: dict[str, str]
) -> None:
    code = plant["S-0004"]
    found = _resolve(marking, mark=code[:2] + "?", made_to=datetime(2030, 1, 1, tzinfo=UTC))
    assert len(found) > 1
    # The primary's first character is worn too: P-0004 and S-0004; the mark settles it.
    narrowed = _resolve(marking, mark=code[:2] + "?", primary="?-0004")
    assert narrowed[0][0] == "lot:S-0004"
    assert narrowed[0][1] > 0.5


def test_every_single_misread_with_check_character_puts_the_item_first(
    marking: MarkingService, plant: dict[str, str]
) -> None:
    code = plant["P-0005"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for i in range(len(code)):
        for other in alphabet.replace(code[i], ""):
            misread = code[:i] + other + code[i + 1 :]
            found = _resolve(marking, mark=misread, part="PLATE-9", limit=100)
            assert "lot:P-0005" in [f[0] for f in found], misread


def test_a_neighbour_swap_with_check_character_is_corrected(
    marking: MarkingService, plant: dict[str, str]
) -> None:
    code = plant["P-0029"]  # AABD..., distinct neighbours somewhere
    i = next(i for i in range(len(code) - 1) if code[i] != code[i + 1])
    swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    found = _resolve(marking, mark=swapped, part="PLATE-9", limit=100)
    assert "lot:P-0029" in [f[0] for f in found]
    assert any("swapped" in f[2] for f in found if f[0] == "lot:P-0029")


def test_a_lookalike_is_swapped_back(marking: MarkingService, plant: dict[str, str]) -> None:
    # Screws AAA.. have no check character; O read as 0 is a look-alike, not any misread.
    code = plant["S-0014"]  # AAO
    assert code == "AAO"
    found = _resolve(marking, mark="AA0")
    assert found[0][0] == "lot:S-0014"
    assert "look-alike" in found[0][2]


def test_a_lookalike_beside_an_unreadable_character_is_swapped_back(
    marking: MarkingService, plant: dict[str, str]
) -> None:
    # No screw code holds a 0: ?A0 is a worn first character and a 0 read for O (or D, Q).
    found = _resolve(marking, mark="?A0")
    assert [f[0] for f in found] == ["lot:S-0014", "lot:S-0003", "lot:S-0016"]
    assert found[0][1] > found[1][1] == found[2][1]
    assert found[0][2] == (
        "look-alike swap: 0 read for O at position 3; wildcard match: position 1 as A"
    )


def test_a_worn_primary_number_finds_its_item(
    marking: MarkingService, plant: dict[str, str]
) -> None:
    found = marking.resolve(ResolveQuery(primary="P-00?2")).candidates
    assert [c.id for c in found] == ["lot:P-0002", "lot:P-0012", "lot:P-0022"]
    assert found[0].mark == plant["P-0002"]
    assert found[0].confidence == pytest.approx(1 / 3, abs=1e-3)
    assert "primary number matches" in found[0].reason
    first_unknown = marking.resolve(ResolveQuery(primary="?-0017")).candidates
    assert [c.id for c in first_unknown] == ["lot:P-0017", "lot:S-0017"]


def test_a_worn_primary_number_is_looked_up_and_read_past_ascii_alone() -> None:
    # One unknown character: exact numbers, whatever the prefix, and the ids that hold a
    # character outside ASCII there (an index range that holds none where every id is ASCII).
    for text in ("L00?1234", "?0001234", "L000123?"):
        ranges = primary_ranges(text)
        beyond = [r for r in ranges if r.prefix != r.pattern]
        prefix = text.split("?")[0]
        assert beyond == [
            (f"{kind}:{prefix}", f"{kind}:{text}", f"{kind}:{prefix}\x7f")
            for kind in ("lot", "serial")
        ]
        assert "lot:L0001234" in {r.pattern for r in ranges}
    # More: a range before the first, which is filled in when it is the first character.
    assert primary_ranges("L00001??") == [
        ("lot:L00001", "lot:L00001??", ""),
        ("serial:L00001", "serial:L00001??", ""),
    ]
    ranges = primary_ranges("?0?1234")
    assert ("lot:L0", "lot:L0?1234", "") in ranges
    assert ("lot:", "lot:?0?1234", "lot:\x7f") in ranges
    assert len(ranges) == 2 * (37 + 1)


def test_a_worn_primary_number_matches_whatever_character_is_worn(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    keys = ["P-0012", "P.0012", "Pa0012", "P_0012", "P-0013", "Q-0012", "P-00012"]
    receive_lots(store, events, "BAR", keys)
    IngestService(store).ingest([events("serialize", lot="P-0013", serials=["P#0012"])])
    for text in ("P?0012", "P?00?2", "?-00?2", "P-00?2", "P-0012"):
        found = marking.resolve(ResolveQuery(primary=text, limit=20)).candidates
        fitting = [
            gid
            for gid in (*(f"lot:{key}" for key in keys), "serial:P#0012")
            if len(gid.split(":")[1]) == len(text)
            and all(t in ("?", k) for k, t in zip(gid.split(":")[1], text, strict=True))
        ]
        assert sorted(c.id for c in found) == sorted(fitting), text
        assert all(c.confidence == pytest.approx(1 / len(fitting), abs=1e-3) for c in found)


def test_a_worn_character_of_a_number_outside_ascii_is_found_as_any_other(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    # An id may hold any printable character: one worn character, the first too, is found
    # wherever it is and whatever it is, as two worn ones always were (a range reads them).
    keys = ["CAFÉ-001", "ЛОТ-0012", "ÄBC-0012", "LOT-ÄÖ12", "\uff2c-0012"]
    receive_lots(store, events, "BAR", keys)
    for key in keys:
        for i in range(len(key)):
            for worn in ({i}, {i, (i + 1) % len(key)}, {0, i}):
                text = "".join("?" if j in worn else c for j, c in enumerate(key))
                found = marking.resolve(ResolveQuery(primary=text, limit=50)).candidates
                assert f"lot:{key}" in {c.id for c in found}, text


def test_a_wide_primary_search_is_not_cut_by_the_limit_before_context(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    # A hundred numbers fit P-00??; the two plates among them are what the context keeps.
    plates = {"P-0010", "P-0077"}
    keys = [f"P-{i:04d}" for i in range(100)]
    receive_lots(store, events, "BAR", [key for key in keys if key not in plates])
    receive_lots(store, events, "PLATE-9", sorted(plates))
    narrowed = marking.resolve(ResolveQuery(primary="P-00??", part="PLATE-9"))
    assert [(c.id, c.confidence) for c in narrowed.candidates] == [
        ("lot:P-0010", pytest.approx(0.5)),
        ("lot:P-0077", pytest.approx(0.5)),
    ]
    assert not narrowed.truncated
    # Without context every fitting number is counted, though only `limit` are listed.
    wide = marking.resolve(ResolveQuery(primary="P-00??", limit=10))
    assert len(wide.candidates) == 10 and wide.truncated
    assert all(c.confidence == pytest.approx(1 / 100) for c in wide.candidates)


def test_a_primary_search_past_what_context_may_read_says_it_was_cut(
    store: GraphStore, events: Events, marking: MarkingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolve, "MAX_CONTEXT_ITEMS", 20)
    receive_lots(store, events, "BAR", [f"P-{i:04d}" for i in range(30)])
    found = marking.resolve(ResolveQuery(primary="P-00??", part="BAR", limit=50))
    assert found.truncated
    assert len(found.candidates) == 20


def test_context_keeps_only_what_fits(marking: MarkingService, plant: dict[str, str]) -> None:
    found = marking.resolve(ResolveQuery(primary="P-00?2", cart="C-7")).candidates
    assert [c.id for c in found] == ["lot:P-0012"]
    assert found[0].confidence == 1.0
    assert "narrowed by context" in found[0].reason
    assert marking.resolve(ResolveQuery(primary="?-0017", part="SCREW-M4")).candidates[0].id == (
        "lot:S-0017"
    )


def test_an_unknown_mark_finds_nothing(marking: MarkingService, plant: dict[str, str]) -> None:
    assert marking.resolve(ResolveQuery(mark="ZZZ")).candidates == []


def test_readings_that_say_too_little_are_refused(marking: MarkingService) -> None:
    with pytest.raises(BadRequest, match="at most 2"):
        marking.resolve(ResolveQuery(mark="???"))
    with pytest.raises(BadRequest, match="at least 3 readable"):
        marking.resolve(ResolveQuery(primary="P-??"))
    with pytest.raises(ValueError, match="secondary mark, a primary number"):
        ResolveQuery()


def test_a_valid_code_never_issued_is_read_as_its_look_alikes(
    marking: MarkingService, plant: dict[str, str]
) -> None:
    # Without a check character every three letters are a valid code: ABO (never issued) is a
    # worn ABD.
    assert plant["S-0029"] == "ABD" and "ABO" not in plant.values()
    found = _resolve(marking, mark="ABO")
    assert found[0][0] == "lot:S-0029"
    assert "look-alike" in found[0][2]


def test_a_primary_number_that_contradicts_an_exact_mark_is_weighed_too(
    marking: MarkingService, plant: dict[str, str]
) -> None:
    found = _resolve(marking, mark=plant["S-0001"], primary="S-0002")
    assert {gid for gid, *_ in found} >= {"lot:S-0001", "lot:S-0002"}
    assert all(confidence < 1.0 for _, confidence, _ in found)


def test_only_what_the_caller_may_see_is_ranked_and_counted(
    marking: MarkingService, plant: dict[str, str]
) -> None:
    hidden = {f"lot:S-{i:04d}" for i in range(26)}  # AAA..AAZ belong to another site

    def visible(gids: Sequence[str]) -> set[str]:
        return {g for g in gids if g not in hidden}

    query = ResolveQuery(mark="AB?", limit=10)
    seen = marking.resolve(query, visible=visible).candidates
    assert [c.id for c in seen] == [f"lot:S-{i:04d}" for i in range(26, 30)]
    assert sum(c.confidence for c in seen) == pytest.approx(1.0)
    mixed = ResolveQuery(mark="A??", limit=3)
    assert [c.id for c in marking.resolve(mixed, visible=visible).candidates] == [
        "lot:S-0026",
        "lot:S-0027",
        "lot:S-0028",
    ]


def test_items_the_caller_may_not_see_do_not_crowd_out_a_wide_search(
    store: GraphStore, events: Events, marking: MarkingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolve, "MAX_CONTEXT_ITEMS", 5)
    keys = [f"P-{i:04d}" for i in range(30)]
    receive_lots(store, events, "BAR", keys)
    hidden = {f"lot:{key}" for key in keys[:20]}  # another site's, first in gid order

    def visible(gids: Sequence[str]) -> set[str]:
        return {g for g in gids if g not in hidden}

    found = marking.resolve(ResolveQuery(primary="P-00??", limit=3), visible=visible)
    assert [c.id for c in found.candidates] == ["lot:P-0020", "lot:P-0021", "lot:P-0022"]
    # Six are counted (five and one past the cut), none of them hidden.
    assert all(c.confidence == pytest.approx(1 / 6, abs=1e-3) for c in found.candidates)
    assert found.truncated
    every = marking.resolve(ResolveQuery(primary="P-002?", limit=20), visible=visible)
    assert len(every.candidates) == 10 and not every.truncated
    # Only hidden items fit: the answer is the answer for a number no one uses, not a cut.
    assert marking.resolve(ResolveQuery(primary="P-00??", limit=3), visible=lambda g: set()) == (
        marking.resolve(ResolveQuery(primary="Q-00??", limit=3))
    )


def test_a_search_through_too_many_items_stops_and_says_so(
    store: GraphStore, events: Events, marking: MarkingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolve, "MAX_SEARCHED", 12)
    receive_lots(store, events, "BAR", [f"P-{i:04d}" for i in range(30)])
    found = marking.resolve(ResolveQuery(primary="P-00??", limit=50), visible=lambda g: set())
    assert found.candidates == [] and found.truncated


def test_context_is_read_before_the_candidates_are_cut(
    store: GraphStore,
    events: Events,
    marking: MarkingService,
    plant: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(resolve, "MAX_ITEMS", 5)  # thirty screws read A??: far past five
    IngestService(store).ingest([events("cart_load", cart="C-9", lot="S-0020")])
    found = marking.resolve(ResolveQuery(mark="A??", cart="C-9"))
    assert [c.id for c in found.candidates] == ["lot:S-0020"]
    assert marking.resolve(ResolveQuery(mark="A??")).truncated


def test_a_family_moved_to_a_new_scheme_is_still_read_by_its_old_marks(
    store: GraphStore, events: Events
) -> None:
    marking = MarkingService(store)
    marking.define_scheme(SchemeSpec(name="OLD", kind="sequential", length=3, parts=["KIT"]))
    IngestService(store).ingest(
        [events.receive("L-1", 4, part="KIT"), events("serialize", lot="L-1", serials=["K-1"])]
    )
    assert marking.issue_mark(ItemRef(serial="K-1")).code == "AAA"
    marking.define_scheme(SchemeSpec(name="OLD", kind="sequential", length=3, parts=[]))
    marking.define_scheme(
        SchemeSpec(name="NEW", kind="hashids", salt="p", capacity=1000, check=True, parts=["KIT"])
    )
    found = marking.resolve(ResolveQuery(mark="AA?", part="KIT")).candidates
    assert [c.id for c in found] == ["serial:K-1"]
