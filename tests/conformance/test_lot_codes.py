"""Lot code schemes with linkage codes on each store: registration, minting, decoding."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest

from graph.errors import DomainError
from graph.lot_codes import LotCodeService, LotSchemeConflict, LotSchemeSpec, SequenceFull
from graph.store import GraphStore
from ingest.lot_pattern import PatternError
from ingest.service import IngestService
from tests.fixtures.events import Events

OURS = "{date:YYMMDD}{line:A2}{seq:N4}{link:X3}"
ACME = "{link:X3}-{made:YYDDD}{heat:N4}"


def spec(name: str, company: str, pattern: str, link_code: str, **extra: Any) -> LotSchemeSpec:
    return LotSchemeSpec(
        name=name,
        company=company,
        pattern=pattern,
        link_field="link",
        link_code=link_code,
        **extra,
    )


@pytest.fixture
def codes(store: GraphStore) -> LotCodeService:
    service = LotCodeService(store)
    service.define(spec("PLANT-LOTS", "PLANT", OURS, "PL1"))
    service.define(spec("ACME-LOTS", "ACME", ACME, "AC7"))
    return service


def test_schemes_are_kept_with_where_the_link_sits(codes: LotCodeService) -> None:
    found = {s.name: (s.spec.company, s.link_position, s.link_width) for s in codes.schemes()}
    assert found == {"ACME-LOTS": ("ACME", "head", 3), "PLANT-LOTS": ("PLANT", "tail", 3)}


def test_registering_the_same_scheme_again_changes_nothing(codes: LotCodeService) -> None:
    again = codes.define(spec("ACME-LOTS", "ACME", ACME, "AC7"))
    assert again.name == "ACME-LOTS" and len(codes.schemes()) == 2


@pytest.mark.parametrize(
    ("refused", "error", "message"),
    [
        (spec("X", "OTHER", "{a:N2}{b:N3", "ZZ9"), PatternError, "never closed"),
        (spec("X", "OTHER", "{a:N2}{link:X3}{b:N3}", "ZZ9"), PatternError, "head or the tail"),
        (
            spec("X", "OTHER", "{link:X3}{a:N9}", "AC7"),
            LotSchemeConflict,
            'taken by company "ACME"',
        ),
        (spec("X", "OTHER", "{link:X2}{a:N9}", "ZZ9"), PatternError, "does not fit field"),
        (spec("X", "OTHER", "{a:N2}{b:N2}", "ZZ9"), PatternError, 'no field "link"'),
        (spec("X", "OTHER", "{d:N6}{x:X5}{link:X4}", "ZZ99"), LotSchemeConflict, "ambiguous"),
        (spec("X", "ACME", "{link:X3}{a:N9}", "AC8"), LotSchemeConflict, "one link code"),
        # Another scheme of the same company that reads its codes would mint them again.
        (
            spec("X", "PLANT", "{date:YYMMDD}{line:X2}{seq:N4}{link:X3}", "PL1"),
            LotSchemeConflict,
            'ambiguous with scheme "PLANT-LOTS"',
        ),
        (
            spec("ACME-LOTS", "ACME", "{link:X3}{a:N9}", "AC7"),
            LotSchemeConflict,
            "another pattern: codes already made by it would read differently",
        ),
        (spec("X", "OTHER", "{link:X3}{a:A9}", "ZZ9", sequence_field="a"), PatternError, "N<k>"),
        (
            spec("X", "OTHER", "{a:A2}{link:N3}", "777", sequence_field="link"),
            PatternError,
            "holds the link code",
        ),
    ],
)
def test_bad_or_clashing_schemes_are_refused_and_nothing_is_saved(
    codes: LotCodeService, refused: LotSchemeSpec, error: type[DomainError], message: str
) -> None:
    with pytest.raises(error, match=message):
        codes.define(refused)
    assert sorted(s.name for s in codes.schemes()) == ["ACME-LOTS", "PLANT-LOTS"]


def test_a_scheme_registered_again_with_another_description_is_refused_naming_it(
    codes: LotCodeService,
) -> None:
    # Its codes would read as they did: the refusal says what differs, not that they would not.
    described = spec("ACME-LOTS", "ACME", ACME, "AC7", description="ACME's heat numbers")
    with pytest.raises(LotSchemeConflict) as refused:
        codes.define(described)
    assert "another description" in refused.value.message
    assert "read differently" not in refused.value.message
    assert codes.scheme("ACME-LOTS").spec.description is None


def test_a_scheme_registered_again_with_other_settings_names_them(codes: LotCodeService) -> None:
    changed = spec("ACME-LOTS", "ACME", "{link:X3}{a:N9}", "AC9", description="new")
    with pytest.raises(LotSchemeConflict, match="another pattern, link_code and description: "):
        codes.define(changed)


def test_a_scheme_that_differs_by_a_literal_is_not_ambiguous(codes: LotCodeService) -> None:
    codes.define(spec("POLY", "POLY", "{link:X3}+{made:YYDDD}{heat:N4}", "PO1"))
    assert len(codes.schemes()) == 3


def _supply(store: GraphStore, events: Events) -> None:
    """ACME lots received on 2026-03-02 (made day 58) and later ones received 2026-03-20."""
    IngestService(store).ingest(
        [
            events.receive("R-1", 10, supplier="ACME", supplier_lot="AC7-260580001"),
            events.receive("R-2", 10, supplier="ACME", supplier_lot="AC7-260580002"),
            events.receive("R-9", 10, supplier="OTHER", supplier_lot="O-1"),
            events.receive(
                "R-3", 10, supplier="ACME", supplier_lot="AC7-260780003", minutes=25_000
            ),
        ]
    )


def test_mint_then_decode_leads_to_the_partner_and_its_lots(
    store: GraphStore, events: Events, codes: LotCodeService
) -> None:
    _supply(store, events)
    minted = codes.mint("PLANT-LOTS", "ACME", {"date": date(2026, 3, 5), "line": "LA"})
    assert (minted.code, minted.sequence, minted.link_code) == ("260305LA0001AC7", 1, "AC7")
    decoded = codes.decode(minted.code)
    [match] = decoded.matches
    assert match.scheme.name == "PLANT-LOTS" and match.partner == "ACME"
    assert match.fields == {"date": date(2026, 3, 5), "line": "LA", "seq": "0001", "link": "AC7"}
    candidates = {c.supplier_lot.gid: c for c in match.candidates}
    # R-3 came after the lot was made; OTHER's lot is not ACME's.
    assert sorted(candidates) == [
        "supplier_lot:ACME/AC7-260580001",
        "supplier_lot:ACME/AC7-260580002",
    ]
    first = candidates["supplier_lot:ACME/AC7-260580001"]
    assert first.lots == ["lot:R-1"] and not first.confirmed
    assert first.fields == {"link": "AC7", "made": date(2026, 2, 27), "heat": "0001"}
    assert decoded.misses["ACME-LOTS"] == "has 15 characters, the pattern 13"


def test_a_lot_made_with_a_minted_code_confirms_its_partner_lot(
    store: GraphStore, events: Events, codes: LotCodeService
) -> None:
    _supply(store, events)
    code = codes.mint("PLANT-LOTS", "ACME", {"date": date(2026, 3, 5), "line": "LA"}).code
    IngestService(store).ingest(
        [
            events(
                "process",
                step="TURN-1",
                operation="turn",
                inputs=[{"lot": "R-2", "qty": "5"}],
                outputs=[{"lot": code, "part": "SCREW", "qty": "5"}],
            )
        ]
    )
    [match] = codes.decode(code).matches
    assert match.candidates[0].supplier_lot.gid == "supplier_lot:ACME/AC7-260580002"
    assert match.candidates[0].confirmed
    assert [c.confirmed for c in match.candidates[1:]] == [False]


def test_a_partner_code_decodes_with_its_own_scheme(codes: LotCodeService) -> None:
    [match] = codes.decode("AC7-260580001").matches
    assert match.scheme.spec.company == "ACME" and match.link_code == "AC7"
    assert match.partner == "ACME" and match.fields["made"] == date(2026, 2, 27)


def test_a_code_no_scheme_reads_says_why_for_each(codes: LotCodeService) -> None:
    decoded = codes.decode("XYZ")
    assert decoded.matches == []
    assert set(decoded.misses) == {"ACME-LOTS", "PLANT-LOTS"}


def test_minted_numbers_never_repeat_and_restart_per_day_line_and_partner(
    codes: LotCodeService,
) -> None:
    day = {"date": date(2026, 3, 5), "line": "LA"}
    first = [codes.mint("PLANT-LOTS", "ACME", day).code for _ in range(3)]
    assert first == ["260305LA0001AC7", "260305LA0002AC7", "260305LA0003AC7"]
    assert codes.mint("PLANT-LOTS", "ACME", day | {"line": "LB"}).code == "260305LB0001AC7"
    assert codes.mint("PLANT-LOTS", "PLANT", day).code == "260305LA0001PL1"


def test_values_written_alike_share_one_sequence(codes: LotCodeService) -> None:
    # A YYMM field and a zero-padded number: other values, the same code but for the number.
    codes.define(spec("MONTHLY", "ZED", "{d:YYMM}{line:N2}-{seq:N3}{link:X3}", "ZE1"))
    minted = [
        codes.mint("MONTHLY", "ACME", {"d": date(2026, 3, 5), "line": "7"}).code,
        codes.mint("MONTHLY", "ACME", {"d": date(2026, 3, 20), "line": "07"}).code,
        codes.mint("MONTHLY", "ACME", {"d": "2026-03-31", "line": "7"}).code,
    ]
    assert minted == ["260307-001AC7", "260307-002AC7", "260307-003AC7"]


def test_concurrent_minting_gives_distinct_codes(codes: LotCodeService) -> None:
    day = {"date": date(2026, 3, 6), "line": "LC"}
    with ThreadPoolExecutor(max_workers=6) as pool:
        found = list(pool.map(lambda _: codes.mint("PLANT-LOTS", "ACME", day).code, range(30)))
    assert len(set(found)) == 30
    assert sorted(found)[-1] == "260306LC0030AC7"


def test_a_code_already_used_by_a_lot_is_skipped(
    store: GraphStore, events: Events, codes: LotCodeService
) -> None:
    IngestService(store).ingest([events.receive("260305LA0001AC7", 1)])
    minted = codes.mint("PLANT-LOTS", "ACME", {"date": date(2026, 3, 5), "line": "LA"})
    assert minted.code == "260305LA0002AC7"


@pytest.mark.parametrize(
    ("partner", "values", "field"),
    [
        ("ACME", {"date": date(2026, 3, 5), "line": "L1"}, "line"),
        ("ACME", {"date": date(2026, 3, 5)}, "line"),
        ("NOBODY", {"date": date(2026, 3, 5), "line": "LA"}, "link"),
        ("ACME", {"date": date(2026, 3, 5), "line": "LA", "seq": "5"}, "seq"),
        ("ACME", {"date": date(1999, 3, 5), "line": "LA"}, "date"),
    ],
)
def test_values_that_do_not_fit_are_refused_naming_the_field(
    codes: LotCodeService, partner: str, values: dict[str, Any], field: str
) -> None:
    with pytest.raises(PatternError) as caught:
        codes.mint("PLANT-LOTS", partner, values)
    assert caught.value.field == field
    named = "NOBODY" if field == "link" else f'"{field}"'
    assert named in caught.value.message


def test_a_full_sequence_is_an_error_not_a_wrap(codes: LotCodeService) -> None:
    codes.define(spec("SMALL", "TINY", "{n:N1}{link:X3}", "TI1", sequence_field="n"))
    made = [codes.mint("SMALL", "ACME", {}).code for _ in range(9)]
    assert made[0] == "1AC7" and made[-1] == "9AC7"
    with pytest.raises(SequenceFull, match='sequence field "n"'):
        codes.mint("SMALL", "ACME", {})


def test_partner_lots_come_with_their_arrivals_in_one_read(
    store: GraphStore, events: Events
) -> None:
    _supply(store, events)
    IngestService(store).ingest(
        [events.receive("R-1b", 3, supplier="ACME", supplier_lot="AC7-260580001")]
    )
    found = store.partner_lots("company:ACME")
    assert [(p.supplier_lot.gid, [lot for _, lot in p.arrivals]) for p in found] == [
        ("supplier_lot:ACME/AC7-260580001", ["lot:R-1", "lot:R-1b"]),
        ("supplier_lot:ACME/AC7-260580002", ["lot:R-2"]),
        ("supplier_lot:ACME/AC7-260780003", ["lot:R-3"]),
    ]
    assert found[0].arrivals[0][0] < found[0].arrivals[1][0]
    assert store.partner_lots("company:NOBODY") == []


def test_partner_lots_received_after_a_day_are_left_out_by_the_store(
    store: GraphStore, events: Events
) -> None:
    _supply(store, events)
    # The first lot comes again after the later ones: its first arrival is what counts.
    IngestService(store).ingest(
        [events.receive("R-1b", 3, supplier="ACME", supplier_lot="AC7-260580001", minutes=100)]
    )

    def ids(found: list[Any]) -> list[str]:
        return [p.supplier_lot.gid for p in found]

    early = ["supplier_lot:ACME/AC7-260580001", "supplier_lot:ACME/AC7-260580002"]
    late = "supplier_lot:ACME/AC7-260780003"
    assert ids(store.partner_lots("company:ACME", received_before="2026-03-03")) == early
    assert ids(store.partner_lots("company:ACME", received_before="2026-03-02")) == []
    kept = store.partner_lots("company:ACME", received_before="2026-03-03", keep=[late])
    assert ids(kept) == [*early, late]
    assert [lot for _, lot in kept[0].arrivals] == ["lot:R-1", "lot:R-1b"], "all arrivals"
    assert ids(store.partner_lots("company:ACME")) == [*early, late], "no filter: all"


def test_a_code_of_the_last_day_a_date_holds_decodes(
    store: GraphStore, events: Events, codes: LotCodeService
) -> None:
    _supply(store, events)
    codes.define(spec("FAR-LOTS", "FAR", "{made:YYYYMMDD}-{link:X3}", "FR1"))
    [match] = codes.decode("99991231-AC7").matches
    assert match.fields["made"] == date(9999, 12, 31) and match.partner == "ACME"
    assert [c.supplier_lot.gid for c in match.candidates] == [
        "supplier_lot:ACME/AC7-260780003",
        "supplier_lot:ACME/AC7-260580002",
        "supplier_lot:ACME/AC7-260580001",
    ]


def test_a_month_only_date_takes_partner_lots_of_its_whole_month(
    store: GraphStore, events: Events, codes: LotCodeService
) -> None:
    _supply(store, events)
    codes.define(spec("MONTHLY", "MONTHLY", "{made:YYMM}-{link:X3}", "MO1"))
    [match] = codes.decode("2603-AC7").matches
    # Read as the 1st, the code may be of any day of March: the lot received the 20th counts.
    assert match.fields["made"] == date(2026, 3, 1)
    assert [c.supplier_lot.gid for c in match.candidates] == [
        "supplier_lot:ACME/AC7-260780003",
        "supplier_lot:ACME/AC7-260580002",
        "supplier_lot:ACME/AC7-260580001",
    ]
    assert codes.decode("2602-AC7").matches[0].candidates == []


def test_a_receipt_counts_on_the_day_it_was_recorded_at_its_own_offset(
    store: GraphStore, events: Events, codes: LotCodeService
) -> None:
    def received(lot: str, at: str) -> dict[str, Any]:
        return events.receive(lot, 10, supplier_lot=f"H-{lot}", occurred_at=at)

    IngestService(store).ingest(
        [
            received("WEST", "2026-03-05T22:00:00-03:00"),  # the 5th where it was recorded
            received("DATELINE", "2026-03-05T23:59:00-12:00"),  # the 5th: the 6th at noon UTC
            received("EAST", "2026-03-06T00:30:00+05:45"),  # the 6th: the 5th in UTC
            received("KIRIBATI", "2026-03-06T00:00:00+14:00"),  # the 6th: the 5th at 10:00 UTC
            received("UTC", "2026-03-05T23:59:59Z"),
            received("NEXT", "2026-03-06T00:00:00Z"),
        ]
    )
    [match] = codes.decode("260305LA0001AC7").matches
    assert sorted(c.supplier_lot.gid for c in match.candidates) == [
        "supplier_lot:ACME/H-DATELINE",
        "supplier_lot:ACME/H-UTC",
        "supplier_lot:ACME/H-WEST",
    ]
