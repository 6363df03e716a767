"""The lot code pattern language: compiling, matching, rendering, and deciding overlap."""

from __future__ import annotations

import itertools
import random
from datetime import date

import pytest

from ingest.lot_pattern import ALNUM, PatternError, compile_pattern, last_day, overlap

OURS = "{date:YYMMDD}{line:A2}-{seq:N4}{link:X3}"


def test_fields_are_named_typed_and_fixed_width() -> None:
    pattern = compile_pattern(OURS)
    assert pattern.length == 16
    assert {name: (s.start, s.width, s.kind) for name, s in pattern.fields.items()} == {
        "date": (0, 6, "date"),
        "line": (6, 2, "A"),
        "seq": (9, 4, "N"),
        "link": (13, 3, "X"),
    }


def test_a_code_parses_into_its_fields_with_dates_as_dates() -> None:
    assert compile_pattern(OURS).parse("260302LA-0007AC1") == {
        "date": date(2026, 3, 2),
        "line": "LA",
        "seq": "0007",
        "link": "AC1",
    }


def test_day_of_year_and_four_digit_years() -> None:
    assert compile_pattern("{made:YYDDD}").parse("24060") == {"made": date(2024, 2, 29)}
    assert compile_pattern("{made:YYYYMMDD}").parse("20251231") == {"made": date(2025, 12, 31)}
    assert compile_pattern("{made:YYDDD}").parse("25366") is None


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("260302L1-0007AC1", 'position 8 (field "line" (A2)) expects a capital letter'),
        ("260302LA+0007AC1", "position 9 (literal '-') expects '-'"),
        ("261302LA-0007AC1", "is not a date"),
        ("260302LA-0007AC", "has 15 characters, the pattern 16"),
        ("260302LA-0007ac1", "expects a capital letter or digit, got 'a'"),
    ],
)
def test_a_mismatch_says_which_position_and_field(code: str, why: str) -> None:
    assert why in str(compile_pattern(OURS).mismatch(code))


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "at least one field"),
        ("{seq:N0}", "width 0 is not 1-64"),
        ("{seq:Q4}", "is not N<k>, A<k>, X<k> or a date format"),
        ("{seq:N4", "'{' is never closed"),
        ("AB}", "position 3: '}' without its '{'"),
        ("{a:N2}{a:N2}", 'field "a" appears twice'),
        ("{Seq:N2}", "lowercase letters, digits and _"),
        ("A B", "' ' cannot be a literal"),
        ("{d:MMDD}", "date format"),
        ("{d:YYDDDMM}", "date format"),
        ("{seq}", "a field is {name:TYPE}"),
        ("{a:X40}{b:X40}", "at most 64 characters"),
        # Digits of other scripts are not widths: int() refuses N² and reads N٤ as 4.
        ("{seq:N²}", "position 1: field \"seq\" type 'N²' is not N<k>"),
        ("{seq:N٤}", "type 'N٤' is not N<k>"),
    ],
)
def test_malformed_patterns_are_refused_with_the_position(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=message):
        compile_pattern(pattern)


def test_regex_syntax_in_a_pattern_is_only_literal_characters() -> None:
    pattern = compile_pattern("(.*){n:N2}")
    assert pattern.parse("(.*)42") == {"n": "42"}
    assert pattern.parse("abcd42") is None


def test_render_pads_digits_and_names_the_field_that_does_not_fit() -> None:
    pattern = compile_pattern(OURS)
    values = {"date": date(2026, 3, 2), "line": "LA", "seq": "7", "link": "AC1"}
    assert pattern.render(values) == "260302LA-0007AC1"
    with pytest.raises(PatternError, match='field "line" takes a capital letter') as caught:
        pattern.render(values | {"line": "L1"})
    assert caught.value.field == "line"
    with pytest.raises(PatternError, match='field "seq" is 4 characters wide'):
        pattern.render(values | {"seq": "12345"})
    with pytest.raises(PatternError, match='field "date" takes a date'):
        pattern.render(values | {"date": "260302"})
    with pytest.raises(PatternError, match='the pattern has no field "shift"'):
        pattern.render(values | {"shift": "A"})


@pytest.mark.parametrize(
    ("one", "other", "ambiguous"),
    [
        (OURS, "{x:X16}", False),  # the literal '-' is not alphanumeric
        (OURS, "{d:N6}{l:X2}-{s:X7}", True),
        (OURS, "{link:X3}{d:YYDDD}{s:N8}", False),  # position 7: digit vs letter
        ("{a:N4}", "{a:N5}", False),  # lengths differ
        ("{a:A2}{b:N2}", "{a:X4}", True),
        ("AB{n:N2}", "AC{n:N2}", False),
    ],
)
def test_ambiguity_is_decided_position_by_position(one: str, other: str, ambiguous: bool) -> None:
    example = overlap(compile_pattern(one), compile_pattern(other))
    assert (example is not None) == ambiguous
    if example is not None:
        assert compile_pattern(one).mismatch(example) is None
        assert compile_pattern(other).mismatch(example) is None


def _random_pattern(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 3)):
        choice = rng.choice(["N", "A", "X", "lit"])
        parts.append(rng.choice("A7-") if choice == "lit" else f"{{f{len(parts)}:{choice}1}}")
    return "".join(parts)


def test_overlap_agrees_with_brute_force_on_random_patterns() -> None:
    rng = random.Random(8)
    alphabet = sorted(ALNUM | {"-"})
    for _ in range(60):
        one, other = compile_pattern(_random_pattern(rng)), compile_pattern(_random_pattern(rng))
        found = overlap(one, other) is not None
        common = one.length == other.length and any(
            one.mismatch(code) is None and other.mismatch(code) is None
            for code in map("".join, itertools.product(alphabet, repeat=one.length))
        )
        assert found == common, (one.text, other.text)


def test_the_last_day_a_date_may_mean_is_its_month_end_without_a_day() -> None:
    assert last_day(date(2024, 2, 1), ("YY", "MM")) == date(2024, 2, 29)
    assert last_day(date(9999, 12, 1), ("YYYY", "MM")) == date(9999, 12, 31)
    assert last_day(date(2026, 3, 5), ("YY", "MM", "DD")) == date(2026, 3, 5)
    assert last_day(date(2026, 3, 5), ("YY", "DDD")) == date(2026, 3, 5)
