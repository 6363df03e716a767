"""Nodes of one kind, in id order, up to a limit: the same on every store."""

from __future__ import annotations

from decimal import Decimal

from graph.store import Changes, GraphStore, NodeRow
from ingest.service import IngestService
from tests.fixtures.events import Events


def test_nodes_of_a_kind_come_in_id_order_and_no_other_kind_slips_in(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest(
        [
            events.receive("L-2", 5, supplier_lot="lot:L-9"),
            events.receive("L-10", 5, supplier_lot="A-1"),
            events.receive("L-1", 5, supplier="BETA", supplier_lot="A-1"),
        ]
    )
    assert [n.gid for n in store.nodes_of_kind("lot", 10)] == ["lot:L-1", "lot:L-10", "lot:L-2"]
    assert [n.gid for n in store.nodes_of_kind("lot", 2)] == ["lot:L-1", "lot:L-10"]
    supplier_lots = [n.gid for n in store.nodes_of_kind("supplier_lot", 10)]
    assert len(supplier_lots) == 3 and all(g.startswith("supplier_lot:") for g in supplier_lots)
    assert supplier_lots == sorted(supplier_lots)
    assert store.nodes_of_kind("serial", 10) == []


def test_nodes_of_a_kind_come_a_page_at_a_time_after_an_id(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest([events.receive(f"L-{n}", 5) for n in (2, 10, 1)])
    assert [n.gid for n in store.nodes_of_kind("lot", 10, "lot:L-1")] == ["lot:L-10", "lot:L-2"]
    assert [n.gid for n in store.nodes_of_kind("lot", 1, "lot:L-10")] == ["lot:L-2"]
    assert [n.gid for n in store.nodes_of_kind("lot", 10, "lot:L-0")] == [
        "lot:L-1",
        "lot:L-10",
        "lot:L-2",
    ]
    assert store.nodes_of_kind("lot", 10, "lot:L-2") == []
    # An id of another kind, before or after the kind's ids, keeps to the kind.
    assert len(store.nodes_of_kind("lot", 10, "company:Z")) == 3
    assert store.nodes_of_kind("lot", 10, "serial:A") == []


# A halfwidth katakana (U+FF71) comes before a CJK ideograph beyond U+FFFF (U+20BB7) in id
# order, as code points and UTF-8 order them; in UTF-16 the ideograph's surrogates come first.
KANA, BEYOND = "L-\uff71", "L-\U00020bb7"


def test_a_page_after_an_id_keeps_ids_beyond_the_basic_plane(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest([events.receive(lot, 5) for lot in (BEYOND, KANA, "L-z")])
    everything = [n.gid for n in store.nodes_of_kind("lot", 10)]
    assert everything == sorted(everything) == [f"lot:{lot}" for lot in ("L-z", KANA, BEYOND)]
    assert [n.gid for n in store.nodes_of_kind("lot", 10, f"lot:{KANA}")] == [f"lot:{BEYOND}"]
    assert [n.gid for n in store.nodes_of_kind("lot", 1, "lot:L-z")] == [f"lot:{KANA}"]
    assert store.nodes_of_kind("lot", 10, f"lot:{BEYOND}") == []


def test_items_matching_a_pattern_page_after_an_id_beyond_the_basic_plane(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest([events.receive(lot, 5) for lot in (BEYOND, KANA, "L-z")])
    pattern = "lot:L-?"
    found = [n.gid for n in store.items_matching("lot:L-", pattern, 10)]
    assert found == [f"lot:{lot}" for lot in ("L-z", KANA, BEYOND)]
    after_kana = store.items_matching("lot:L-", pattern, 10, f"lot:{KANA}")
    assert [n.gid for n in after_kana] == [f"lot:{BEYOND}"]
    assert [n.gid for n in store.items_matching("lot:L-", pattern, 1, "lot:L-z")] == [f"lot:{KANA}"]
    # A prefix that ends in a character beyond U+FFFF, and an exact id as the pattern.
    assert [n.gid for n in store.items_matching(f"lot:{BEYOND}", f"lot:{BEYOND}", 10)] == [
        f"lot:{BEYOND}"
    ]


# Every character a regular expression's "." passes over unless told to take any.
LINE_ENDS = "\n\r\x85\u2028\u2029"


def test_a_wildcard_matches_a_line_break_in_an_id_logged_before_ids_were_printable(
    store: GraphStore,
) -> None:
    # As a log written before ids had to be printable made them (a rebuild replays them).
    made = [
        NodeRow(f"lot:L-{char}", "lot", part="BAR", unit="ea", qty=Decimal(1)) for char in LINE_ENDS
    ]
    store.write(lambda tx: tx.apply(Changes(nodes=made)))
    found = [n.gid for n in store.items_matching("lot:L-", "lot:L-?", 10)]
    assert found == sorted(row.gid for row in made)
    for row in made:  # and each is found by itself, written out
        assert [n.gid for n in store.items_matching("lot:L-", row.gid, 10)] == [row.gid]


# Ids as a log written before ids had to begin with their kind could hold them: each begins
# with a character of its own plane (U+E000 to U+FFFF sort above the surrogates in UTF-16, below
# every character beyond U+FFFF by code point).
OUTER = ["\ue000A", "\uffffA", "\uffffB", "\U00010000A", "\U00020bb7A"]


def test_a_range_with_no_prefix_before_its_wildcard_reads_every_id_in_order(
    store: GraphStore,
) -> None:
    made = [NodeRow(g, "lot", part="BAR", unit="ea", qty=Decimal(1)) for g in ["zA", *OUTER]]
    store.write(lambda tx: tx.apply(Changes(nodes=made)))
    assert [n.gid for n in store.items_matching("", "??", 10)] == ["zA", *OUTER]
    assert [n.gid for n in store.items_matching("", "??", 10, "")] == ["zA", *OUTER]
    # A page after an id of U+E000 to U+FFFF, and a prefix of only U+FFFF, whose successor
    # is no character.
    assert [n.gid for n in store.items_matching("", "??", 10, "\ue000A")] == OUTER[1:]
    assert [n.gid for n in store.items_matching("", "??", 2, "\uffffA")] == OUTER[2:4]
    assert [n.gid for n in store.items_matching("\uffff", "\uffff?", 10)] == OUTER[1:3]
    assert [n.gid for n in store.items_matching("\uffff", "\uffff?", 10, "\uffffA")] == ["\uffffB"]


# The last code point (U+10FFFF) has no successor: ids that hold it after their prefix, or begin
# with it, as a log written before ids had to be printable could make them (ingest refuses it).
def test_a_range_reads_ids_holding_the_last_code_point_after_its_prefix(
    store: GraphStore,
) -> None:
    gids = ["zA", "z\U0010ffff", "\U0010ffffA", "\U0010ffff\U0010ffff"]
    made = [NodeRow(g, "lot", part="BAR", unit="ea", qty=Decimal(1)) for g in gids]
    store.write(lambda tx: tx.apply(Changes(nodes=made)))
    assert [n.gid for n in store.items_matching("", "??", 10)] == gids
    assert [n.gid for n in store.items_matching("z", "z?", 10)] == gids[:2]
    assert [n.gid for n in store.items_matching("z", "z?", 10, "zA")] == gids[1:2]
    assert [n.gid for n in store.items_matching("", "??", 10, "z\U0010ffff")] == gids[2:]
    assert [n.gid for n in store.items_matching("\U0010ffff", "\U0010ffff?", 10)] == gids[2:]
    assert [n.gid for n in store.items_matching("\U0010ffff", "\U0010ffff?", 1)] == gids[2:3]
    top = "\U0010ffff\U0010ffff"
    assert [n.gid for n in store.items_matching(top, top, 10)] == gids[3:]


def test_a_range_of_a_prefix_ending_before_the_surrogates_reads_its_ids_alone(
    store: GraphStore,
) -> None:
    """U+D7FF's successor in code points is U+E000: the surrogates between are no text."""
    gids = ["\ud7ffA", "\ud7ff\U0010ffff", "\ue000A"]
    made = [NodeRow(g, "lot", part="BAR", unit="ea", qty=Decimal(1)) for g in gids]
    store.write(lambda tx: tx.apply(Changes(nodes=made)))
    assert [n.gid for n in store.items_matching("\ud7ff", "\ud7ff?", 10)] == gids[:2]
    assert [n.gid for n in store.items_matching("", "??", 10, "\ud7ffA")] == gids[1:]
