"""The published schema's patterns read ids, quantities, dates and times as the contract does."""

from __future__ import annotations

import itertools
import re
import sys
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from ingest.canonical import TimeOutOfRange, payload_and_digest
from ingest.models import SENT, Count, Day, Id, Qty
from ingest.parse import EVENT_ADAPTER
from ingest.schema_rules import (
    COUNT_PATTERN,
    DATE_PATTERN,
    ID_PATTERN,
    MARK_PATTERN,
    NOT_BLANK,
    QTY_PATTERN,
    TIME_PATTERN,
)


def _reads(adapter: TypeAdapter[Any], value: str) -> bool:
    try:
        adapter.validate_python(value, context=SENT)
    except ValidationError:
        return False
    return True


def _quantities() -> Iterator[str]:
    """Every short spelling of signs, zeros, ones and points; long ones about 28 digits."""
    for length in range(1, 7):
        for chars in itertools.product("+-0.1", repeat=length):
            yield "".join(chars)
    for whole, fraction in itertools.product(range(31), range(31)):
        for lead, trail in itertools.product(("", "00"), ("", "00")):
            yield lead + "1" * whole + "." + "0" * max(fraction - 1, 0) + "7" + trail
            yield lead + "9" * whole + trail
            yield "0." + "0" * whole + "1" * fraction + trail


@pytest.mark.parametrize(
    ("kind", "pattern"), [(Qty, QTY_PATTERN), (Count, COUNT_PATTERN)], ids=["qty", "count"]
)
def test_a_quantity_passes_the_pattern_when_the_contract_reads_it(
    kind: object, pattern: str
) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(kind)
    differ = [q for q in _quantities() if _reads(adapter, q) != bool(re.search(pattern, q))]
    assert differ == []


def test_a_quantity_with_an_exponent_is_the_one_the_schema_refuses_and_the_contract_reads() -> None:
    # docs/events.md says so: the digits of "1e-20" depend on the zeros before its 1.
    assert _reads(TypeAdapter(Qty), "1e3") and not re.search(QTY_PATTERN, "1e3")


def test_a_date_passes_the_pattern_when_the_contract_reads_it() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(Day)
    dates = [
        f"{year}-{month:02}-{day:02}"
        for year in ("0000", "0001", "1900", "2000", "2023", "2024", "2100", "2400", "9999")
        for month in range(14)
        for day in range(33)
    ]
    assert [d for d in dates if _reads(adapter, d) != bool(re.search(DATE_PATTERN, d))] == []


def _time_taken(text: str) -> bool:
    """The contract reads the time, and UTC can write it (as an event's is checked)."""
    event = {"event_id": "E", "type": "cart_unload", "cart": "C", "lot": "L", "occurred_at": text}
    try:
        payload_and_digest(EVENT_ADAPTER.validate_python(event, context=SENT))
    except (ValidationError, TimeOutOfRange):
        return False
    return True


def _times() -> Iterator[str]:
    days = ["2024-02-29", "2023-02-29", "1900-02-29", "2026-04-31", "0000-01-01", "2026-13-01"]
    days += ["0001-01-01", "9999-12-31", "2026-3-02"]
    clocks = ["08:10", "08:10:00", "23:59:59", "24:00:00", "23:59:60", "8:10:00", "08:60:00"]
    clocks += ["08:10:00.5", "08:10:00,123456789", "08:10:00.", "08:10.5", "08"]
    offsets = ["Z", "z", "", "+00:00", "-00:00", "+0100", "+14:00", "-1400", "+14:01", "-14:30"]
    offsets += ["+23:59", "+05", "+05:45:30", "+1:00", "+01:60", " Z", "Z ", "[Europe/Paris]"]
    for day, separator, clock, offset in itertools.product(days, "Tt _", clocks, offsets):
        yield f"{day}{separator}{clock}{offset}"


# On the first day of year 1 and the last of 9999, the schema takes no offset that could take a
# time out of those years in UTC, even where this one does not (docs/events.md).
_EDGE_DAYS = re.compile(r"0001-01-01.*\+(?!00:00)|9999-12-31.*-(?!00:00)")


def test_a_time_passes_the_pattern_when_the_contract_reads_it() -> None:
    differ = [t for t in _times() if _time_taken(t) != bool(re.search(TIME_PATTERN, t))]
    assert differ and all(_EDGE_DAYS.match(t) and _time_taken(t) for t in differ)
    assert not re.search(TIME_PATTERN, "0001-01-01T20:00:00+01:00")


def _bmp() -> Iterator[str]:
    """The assigned characters of the Basic Multilingual Plane but surrogates."""
    for code in range(0x10000):
        char = chr(code)
        if unicodedata.category(char) not in ("Cn", "Cs"):
            yield char


@pytest.mark.skipif(
    sys.version_info[:2] != (3, 11), reason="the character lists are of Unicode 14 (Python 3.11)"
)
def test_an_id_passes_the_pattern_when_the_contract_reads_it() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(Id)
    ids = [f"a{char}b" for char in _bmp()]
    assert [i for i in ids if _reads(adapter, i) != bool(re.search(ID_PATTERN, i))] == []


@pytest.mark.skipif(
    sys.version_info[:2] != (3, 11), reason="the character lists are of Unicode 14 (Python 3.11)"
)
def test_a_mark_and_a_text_pass_the_patterns_as_the_contract_reads_them() -> None:
    # The contract's check of a mark, and the planner's of its capitals, for ASCII letters.
    ascii_letters = {chr(c) for c in range(0x61, 0x7B)}
    for char in _bmp():
        mark = f"A{char}7"
        refused = char.isspace() or not char.isprintable() or char == "?" or char in ascii_letters
        named = f"U+{ord(char):04X}"
        assert refused != bool(re.search(MARK_PATTERN, mark)), named
        assert char.isspace() != bool(re.search(NOT_BLANK, char)), named
