"""A partner's quantities, times and dates: those taken at a glance are ones the rules take too."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from api.federation.models import (
    _date_rule,
    _plain_date,
    _plain_quantity,
    _plain_time,
    _quantity_rule,
    _time_rule,
    from_wire,
)
from graph.clock import utc_text

WRITTEN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def taken(rule: Callable[[Any], None], value: str) -> bool:
    try:
        rule(value)
    except PydanticCustomError:
        return False
    return True


def quantities(seed: int, count: int) -> Iterator[str]:
    pick = random.Random(seed)
    for _ in range(count):
        whole = "".join(pick.choice("0000123456789") for _ in range(pick.randint(0, 31)))
        fraction = "".join(pick.choice("0000123456789") for _ in range(pick.randint(0, 31)))
        text = whole + pick.choice(["", ".", "."]) + fraction
        for _ in range(pick.choice([0, 0, 0, 1])):  # now and then a stray character
            at = pick.randint(0, len(text))
            text = text[:at] + pick.choice("-+eE. x") + text[at:]
        yield text


def times(seed: int, count: int) -> Iterator[str]:
    """Times spelled as an instance writes them, each figure in its range or just past it, and
    now and then one character changed."""
    pick = random.Random(seed)
    for _ in range(count):
        year = pick.choice([0, 1, 1900, 2000, 2024, 2026, 2100, 9999, pick.randint(0, 9999)])
        month, day = pick.randint(0, 13), pick.randint(0, 32)
        hour, minute, second = pick.randint(0, 25), pick.randint(0, 61), pick.randint(0, 61)
        micro = pick.randint(0, 999_999)
        text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{micro:06d}Z"
        if pick.random() < 0.2:
            at = pick.randrange(len(text))
            text = text[:at] + pick.choice("0123456789-:.TtZz+ ") + text[at + 1 :]
        yield text


def dates(seed: int, count: int) -> Iterator[str]:
    """Dates spelled as an instance writes them (a lot's expiry, the day it was made), each
    figure in its range or just past it, and now and then one character changed."""
    pick = random.Random(seed)
    for _ in range(count):
        year = pick.choice([0, 1, 1900, 2000, 2024, 2026, 2100, 9999, pick.randint(0, 9999)])
        text = f"{year:04d}-{pick.randint(0, 13):02d}-{pick.randint(0, 32):02d}"
        if pick.random() < 0.2:
            at = pick.randrange(len(text))
            text = text[:at] + pick.choice("0123456789-:.TtZz+ ") + text[at + 1 :]
        yield text


def test_a_quantity_taken_at_a_glance_is_one_the_rule_takes() -> None:
    glanced = 0
    for text in quantities(seed=1, count=40_000):
        if _plain_quantity(text):
            glanced += 1
            assert taken(_quantity_rule, text), text
    assert glanced > 10_000  # the glance takes most of them


@pytest.mark.parametrize("text", ["9" * 28, "0." + "9" * 27, "9" * 14 + "." + "9" * 14, "0"])
def test_a_quantity_of_28_digits_is_taken_at_a_glance(text: str) -> None:
    assert _plain_quantity(text) and taken(_quantity_rule, text)


def test_a_time_taken_at_a_glance_is_one_the_rule_takes() -> None:
    glanced = 0
    for text in times(seed=2, count=40_000):
        # In an instance's spelling, the glance takes what the rule takes; in no other, anything.
        written = WRITTEN.fullmatch(text) is not None
        assert _plain_time(text) == (written and taken(_time_rule, text)), text
        glanced += _plain_time(text)
    assert glanced > 1_000


def test_every_time_an_instance_writes_is_taken_at_a_glance() -> None:
    pick = random.Random(3)
    first, span = datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)
    seconds = int((span - first).total_seconds())
    for _ in range(10_000):
        moment = first + timedelta(
            seconds=pick.randrange(seconds), microseconds=pick.randrange(10**6)
        )
        assert _plain_time(utc_text(moment))


def test_a_date_taken_at_a_glance_is_one_the_rule_takes() -> None:
    glanced = 0
    for text in dates(seed=4, count=40_000):
        written = re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text) is not None
        assert _plain_date(text) == (written and taken(_date_rule, text)), text
        glanced += _plain_date(text)
    assert glanced > 10_000


def test_every_date_an_instance_writes_is_taken_at_a_glance() -> None:
    pick = random.Random(5)
    for _ in range(10_000):
        assert _plain_date(date.fromordinal(pick.randint(1, date.max.toordinal())).isoformat())


LINK = {"from": "lot:RAW-1", "to": "lot:H1", "type": "PROCESSED_INTO"}


def answer(link: dict[str, Any]) -> dict[str, Any]:
    nodes = [
        {"id": "lot:H1", "kind": "lot", "depth": 0},
        {"id": "lot:RAW-1", "kind": "lot", "depth": 1},
    ]
    return {"root": "lot:H1", "direction": "up", "nodes": nodes, "edges": [link]}


@pytest.mark.parametrize(
    ("fact", "message"),
    [
        ({"qty": "9" * 29}, "edges.0.qty\n  Decimal input should have no more than 28 digits"),
        ({"at": "0000-03-02T10:00:00.000000Z"}, "years run from 0001 to 9999"),
        ({"at": "2026-02-29T10:00:00.000000Z"}, "February 2026 has no day 29"),
        ({"at": "2026-03-02T24:00:00.000000Z"}, "24:00:00 is written 00:00:00 of the next day"),
        ({"at": "2016-12-31T23:59:60.000000Z"}, r"leap seconds \(23:59:60\) are not read"),
        ({"at": "2026-03-02T08:10:00+0545"}, 'with its colon: "\\+05:45", not "\\+0545"'),
        ({"at": "2026-03-02T08:10Z"}, 'with its seconds: "08:10:00", not "08:10"'),
    ],
)
def test_a_fact_in_an_instances_spelling_that_no_instance_writes_is_refused_in_the_rules_words(
    fact: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        from_wire(answer(LINK | fact))


def test_a_quantity_with_leading_zeros_past_28_characters_is_read() -> None:
    # Count counts no leading zero: the glance does, and leaves such a quantity to the rule.
    qty = "0" * 29 + "5"
    assert not _plain_quantity(qty)
    assert from_wire(answer(LINK | {"qty": qty})).edges[0].qty == qty


@pytest.mark.parametrize(
    ("dates", "message"),
    [
        ({"expiry": "2026-13-45"}, "months run from 01 to 12, not 13"),
        ({"expiry": "2026-02-29"}, "February 2026 has no day 29"),
        ({"manufactured": "0000-01-01"}, "years run from 0001 to 9999"),
        ({"manufactured": "2026-03-02T00:00:00Z"}, "a date is written YYYY-MM-DD"),
        ({"expiry": "2026-3-2"}, "a date is written YYYY-MM-DD"),
    ],
)
def test_a_label_date_our_lots_could_not_hold_is_refused_in_the_rules_words(
    dates: dict[str, str], message: str
) -> None:
    (name,) = dates
    lot = {"id": "lot:RAW-1", "kind": "lot", "depth": 1, "attrs": dates}
    body = answer(LINK) | {"nodes": [{"id": "lot:H1", "kind": "lot", "depth": 0}, lot]}
    with pytest.raises(ValidationError, match=rf"nodes\.1\.attrs\.{name}\n  .*{message}"):
        from_wire(body)
