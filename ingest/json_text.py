"""JSON text from outside, read strictly: what another reader could read otherwise is refused.

The standard library takes the last of two equal keys in an object, where other readers take the
first or refuse: a body `{"qty": "1", "qty": "100"}` would mean one thing to a gateway that checked
it and another to us. It also reads `NaN` and `Infinity`, which are not JSON. Both are refused
here, as are bodies too deep or numbers too long for Python to read (errors, not crashes).

A number with a fraction or exponent is read as a binary float, which holds about 17 digits: one
it cannot hold as written (`1.00000000000000001`, `1e400`) is refused, not silently changed into
another (an event's quantity is read to the last digit from a string). One a float holds (`0.1`,
`2.5`, `1e3`) reads as before. A reader that keeps quantities exact (EPCIS capture, whose
quantities are JSON numbers) asks for every such number as a Decimal of the digits written.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

# A number written in at most this many characters has at most 15 significant digits (it has a
# point or an exponent), and a float holds any such decimal in the range of normal floats.
SHORT = sys.float_info.dig + 1
NORMAL_MIN, NORMAL_MAX = sys.float_info.min, sys.float_info.max
# Decimals whose leading digit is within these powers of ten are finite, non-zero floats.
SAFE_EXPONENTS = range(-300, 301)


BOM = "\ufeff"
# UTF-16's byte order marks, either way round (UTF-32's little-endian one begins as UTF-16's).
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class JsonRefused(ValueError):
    """JSON text we do not read; `code` says why, `message` says what a sender can mend."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def strict_loads(text: str | bytes, *, exact_numbers: bool = False) -> Any:
    """Decode JSON text, or raise JsonRefused: `not_json`, `duplicate_key`, `not_a_number`,
    `not_exact`, `too_deep` or `too_long`.

    With `exact_numbers`, a number with a fraction or exponent is a Decimal of its digits as
    written, within the range a float has (integers are ints either way). Bytes are UTF-8 text
    (`utf8_text`); a byte order mark before the text (Windows tools write one) is skipped."""
    text = (utf8_text(text) if isinstance(text, bytes) else text).removeprefix(BOM)
    try:
        return json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_float=_exact_decimal if exact_numbers else _exact_float,
        )
    except JsonRefused:
        raise
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise JsonRefused("not_json", f"not valid JSON ({error.msg}: {where})") from None
    except RecursionError:
        # A few kilobytes of brackets exhaust the decoder's stack.
        raise JsonRefused("too_deep", "nested too deeply") from None
    except ValueError:
        # Python reads integers of up to 4,300 digits (longer ones take quadratic time).
        raise JsonRefused("too_long", "a number has too many digits") from None


def utf8_text(data: bytes) -> str:
    """Return `data` decoded as UTF-8, or raise JsonRefused (`not_json`) saying where it is not.

    json.loads reads bytes of UTF-16 and UTF-32 as well, with or without a byte order mark,
    and the bytes of half a surrogate pair as text: JSON sent between systems is UTF-8 (RFC
    8259), so those are refused, by the byte where the UTF-8 breaks, as the CLI says of its
    input (api.cli_input). Decoding here is the one pass json.loads would make."""
    if data.startswith(UTF16_BOMS):
        message = "UTF-16 text, not UTF-8 (it begins with a UTF-16 byte order mark)"
        raise JsonRefused("not_json", message)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JsonRefused("not_json", f"not UTF-8 text (byte {error.start})") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise JsonRefused("duplicate_key", f"the key {key!r} appears twice in one object")
        seen.add(key)
    raise AssertionError("unreachable: fewer keys than pairs means one came twice")


def _no_constant(name: str) -> Any:
    raise JsonRefused("not_a_number", f"{name} is not a JSON number")


def _exact_float(text: str) -> float:
    """Read a JSON number with a fraction or exponent as a float, if the float is that number.

    The shortest text of a float (its repr) is what it holds to a reader: a number whose float
    reads back as another value would be stored as that other value.
    """
    value = float(text)
    # Most numbers are short or written as their float shows them: a Decimal comparison for
    # each would make a large body of them take seconds.
    if (len(text) <= SHORT and NORMAL_MIN <= abs(value) <= NORMAL_MAX) or repr(value) == text:
        return value
    try:
        if Decimal(repr(value)) == Decimal(text):
            return value
    except InvalidOperation:  # an exponent past any a decimal holds: out of range too
        value = float("inf")
    if value in (float("inf"), float("-inf")) or value == 0:
        raise _out_of_range(text)
    raise JsonRefused(
        "not_exact",
        f"the number {_shown(text)} has more digits than a JSON number is read with here",
    )


def _exact_decimal(text: str) -> Decimal:
    """Read a JSON number with a fraction or exponent as the Decimal written, in a float's range.

    The range keeps what is read writable: `0e-999999999` or `1e999999999` in plain digits would
    take a gigabyte.
    """
    try:
        value = Decimal(text)
    except InvalidOperation:  # an exponent past any a decimal holds
        raise _out_of_range(text) from None
    if value.is_zero():
        return Decimal(0).copy_sign(value)
    if value.adjusted() in SAFE_EXPONENTS:  # plainly in range: no conversion needed
        return value
    if float(value) in (float("inf"), float("-inf"), 0):
        raise _out_of_range(text)
    return value


def _out_of_range(text: str) -> JsonRefused:
    return JsonRefused(
        "not_exact", f"the number {_shown(text)} is out of the range a JSON number is read in here"
    )


def _shown(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:37]}..."
