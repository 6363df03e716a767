"""Counts and indexes that may pass GraphQL's Int, which is 32-bit: sent as decimal text.

A scheme of twelve letters holds 26**12 codes: as Int, one such count failed the whole answer;
as Float, an index past 2**53 would be rounded. Quantities are text for the same reason.
"""

from __future__ import annotations

import re
from typing import NewType

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition

BigInt = NewType("BigInt", int)
DIGITS = re.compile(r"-?[0-9]+")


def _parse(value: object) -> int:
    if not isinstance(value, str) or DIGITS.fullmatch(value) is None:
        raise StrawberryInputCoercionError(f"a BigInt is decimal digits as text, got {value!r}")
    return int(value)


BIG_INT = ScalarDefinition(
    name="BigInt",
    description="A whole number of any size, as decimal text (GraphQL's Int stops at 2^31-1).",
    specified_by_url=None,
    serialize=str,
    parse_value=_parse,
    parse_literal=None,
    origin=BigInt,
)
