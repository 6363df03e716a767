"""The contract's rules as the published JSON Schema says them (docs/events.schema.json).

The contract reads ids, quantities, mark codes and times in Python; a sender validates with the
schema. These patterns and object rules say what the contract refuses in what JSON Schema has
(ECMA 262 patterns that Python's `re` reads alike), so an event the schema passes is not refused
for a spelling or a shape. What they cannot say is listed in docs/events.md.
"""

from __future__ import annotations

from typing import Final

from pydantic.config import JsonDict, JsonValue

# What `str.isprintable` refuses in the Basic Multilingual Plane, by assigned character: C0 and
# C1 controls, spaces but the ASCII one, line and paragraph separators, format characters (soft
# hyphen, zero width, bidirectional controls, byte order mark) and private use (a test keeps this
# equal to Python's). Past U+FFFF validators read a pattern by UTF-16 unit or by code point: there
# the service alone checks.
NOT_PRINTABLE: Final = (
    (0x0000, 0x001F),
    (0x007F, 0x00A0),
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x1680, 0x1680),
    (0x180E, 0x180E),
    (0x2000, 0x200F),
    (0x2028, 0x202F),
    (0x205F, 0x2064),
    (0x2066, 0x206F),
    (0x3000, 0x3000),
    (0xE000, 0xF8FF),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
)
# What `str.isspace` is true of (all in the Basic Multilingual Plane): what `str.strip` removes.
SPACES: Final = (
    (0x0009, 0x000D),
    (0x001C, 0x0020),
    (0x0085, 0x0085),
    (0x00A0, 0x00A0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)


def _not_one_of(ranges: tuple[tuple[int, int], ...], also: str = "") -> str:
    """A character class of every character but those in `ranges` and `also`."""
    spans = sorted([*ranges, *((ord(c), ord(c)) for c in also)])
    text = "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in spans)
    return f"[^{text}]"


ID_PATTERN: Final = f"^{_not_one_of(NOT_PRINTABLE)}+$"
# A company id is also the first half of a supplier-lot key.
COMPANY_PATTERN: Final = f"^{_not_one_of(NOT_PRINTABLE, '/')}+$"
# A mark is read without spaces, with "?" for a character not read, in capitals (checked for
# ASCII letters here: the service checks every script).
MARK_PATTERN: Final = f"^{_not_one_of(NOT_PRINTABLE, ' ?abcdefghijklmnopqrstuvwxyz')}+$"
NOT_BLANK: Final = _not_one_of(SPACES)

# A quantity's text as `ingest.models._DECIMAL_TEXT` reads it, without an exponent (how many
# digits "1e-20" has depends on the zeros before its 1: no pattern counts that), in at most 28
# digits once leading zeros and a fraction's trailing zeros are dropped, as pydantic counts them:
# a whole part of at most 28, and no digit but 0 past the 28th.
_DECIMAL = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_AT_MOST_28 = r"(?!0*[1-9][0-9]{28})(?!0*(?!0)\.?(?:[0-9]\.?){28}[0-9]*[1-9])"
QTY_PATTERN: Final = rf"^\+?(?=[0-9.]*[1-9]){_AT_MOST_28}{_DECIMAL}$"
COUNT_PATTERN: Final = rf"^(?:\+?{_AT_MOST_28}{_DECIMAL}|-(?:0+(?:\.0*)?|\.0+))$"
# Below 10^28, a number has at most 28 digits before its point.
QTY_BELOW: Final = 10**28
# The quantity of a serial: one unit, or left out.
ONE_OR_NONE: Final[JsonDict] = {
    "anyOf": [
        {"type": "null"},
        {"const": 1},
        {"type": "string", "pattern": r"^\+?0*1(?:\.0*)?$"},
    ]
}

# A day of the calendar, years 1 to 9999; 29 February in leap years only.
_DAY = (
    r"(?!0000)(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    r"|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)"
)
DATE_PATTERN: Final = f"^{_DAY}$"
# A time as `ingest.times.Instant` reads an event's, with the offset `ingest.canonical` takes (at
# most 14:00). `format: date-time` is left off: it refuses a space for the T, which the contract
# reads as RFC 3339 lets it, and takes offsets past 14:00. On the first day of year 1 no offset
# ahead of UTC passes, nor one behind it on the last day of 9999: some such times are in those
# years in UTC, but a pattern cannot subtract the offset.
TIME_PATTERN: Final = (
    r"^(?!0001-01-01[^+]*\+(?!00:00))(?!9999-12-31[^-]*-(?!00:00))"
    rf"{_DAY}[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))$"
)


def given(name: str) -> JsonDict:
    """An object holds `name`, and not as null: the contract reads a null as left out."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def if_given(name: str, then: JsonDict) -> JsonDict:
    return {"if": given(name), "then": then}


# An item reference: exactly one of lot and serial.
ONE_KEY: Final[list[JsonValue]] = [given("lot"), given("serial")]
# A serial is one unit: its quantity is 1 or left out, and it states no unit.
SERIAL_IS_ONE_UNIT: Final = if_given(
    "serial", {"properties": {"qty": ONE_OR_NONE, "unit": {"type": "null"}}}
)
# A lot consumed by a process, or a serial.
ITEM_TAKEN: Final[JsonDict] = {"oneOf": ONE_KEY, **SERIAL_IS_ONE_UNIT}
# A lot made or shipped states its quantity; a serial is one unit.
ITEM_COUNTED: Final[JsonDict] = ITEM_TAKEN | {"allOf": [if_given("lot", given("qty"))]}
