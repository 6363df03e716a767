"""Times as the event contract reads them: RFC 3339 text with its offset, and no other spelling.

Events read them as `Instant`; query parameters, CLI options and EPCIS documents read them with
the same rules (`TimeText`, `read_time`), so a time one of them takes, all of them take. An event
is refused an offset past 14:00 as it is logged (ingest.canonical: the log may hold older ones,
which replays still read); a time given outside an event is refused it as it is read. What ISO
8601 writes and RFC 3339 does not (no seconds, a comma, an offset without its colon) is refused
in an event sent (SENT) and read in one logged.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Final

from pydantic import (
    AwareDatetime,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from ingest.schema_rules import TIME_PATTERN

TIME_SPELLING = 'a time is RFC 3339 text with its offset, such as "2026-03-02T08:10:00+01:00"'
# What pydantic also reads as a time, and the contract does not mean: a number, or a string of
# digits, as a Unix time; a date alone; week and ordinal dates. What the log stores still reads.
# Matched to its end, the text is RFC 3339's date-time (its section 5.6 lets "t", "z" and a space
# for the T), the offset left to the caller; matched short of it, a time pydantic reads is ISO
# 8601's alone: refused in an event sent. Pydantic checks each figure's range.
_TIME_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]"
    r"(?:[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?\Z)?"
)
# A date, and the clock after it, as far as it is spelled: each number is checked on its own.
_FIGURES = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?)?"
)
# ISO 8601's clock as pydantic reads it: seconds left out, a fraction after a comma, an offset
# without its colon (EPCIS's xsd:dateTime writes none of them either).
_ISO_8601 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]([0-9]{2}:[0-9]{2})(:[0-9]{2})?([.,][0-9]+)?([+-][0-9]{4})?"
)
_MONTHS: tuple[str, ...] = ("January", "February", "March", "April", "May", "June", "July")
_MONTHS += ("August", "September", "October", "November", "December")
# No zone is further from UTC, and EPCIS writes no eventTimeZoneOffset past it: an event with
# such an offset could not be exported and read back, and a query time with one names no time
# an event could have.
MAX_OFFSET = timedelta(hours=14)
OFFSET_RULE = "an offset is at most 14:00 from UTC either way"
# RFC 3339's "-00:00": a time in UTC whose local offset is not said (EPCIS writes it as an
# eventTimeZoneOffset too). The same instant as "Z" in every comparison and digest, but kept
# apart, so the payload keeps the sender's offset and an export gives it back.
UNKNOWN_OFFSET = timezone(timedelta(0), "-00:00")

# Rules that came after events were logged hold for events sent (`parse_events` validates
# with this context), not for the log read back: what was logged before a rule still rebuilds,
# and sent again unchanged is a duplicate (ingest.service.IngestService.read).
SENT: Final = {"sent": True}


def _sent(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("sent"))


def _time_text(
    value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo | None
) -> Any:
    """Read an event's time (`info` its validation's), or one given outside an event (None)."""
    spelled = _TIME_TEXT.match(value) if isinstance(value, str) else None
    if spelled is None and not isinstance(value, datetime):
        raise PydanticCustomError("datetime_parsing", TIME_SPELLING)
    try:
        moment = handler(value)
    except ValidationError as error:
        if error.errors()[0]["type"] == "timezone_aware":  # a naive time: its own code
            raise
        # Pydantic's own words ("unexpected extra characters at the end of the input", code
        # datetime_from_date_parsing) do not say what a time is; the contract's do.
        raise PydanticCustomError("datetime_parsing", _why_not_a_time(value)) from None
    # ISO 8601's alone is refused where a time is given now: not in an event read from the log.
    if spelled is not None and spelled.end() != len(value) and (info is None or _sent(info)):
        raise PydanticCustomError("datetime_parsing", f"{TIME_SPELLING}; {_not_rfc_3339(value)}")
    return _offset_as_sent(value, moment)


def _not_rfc_3339(text: str) -> str:
    """What in a time pydantic read is written as ISO 8601 has it and RFC 3339 does not."""
    iso = _ISO_8601.match(text)
    assert iso is not None  # pydantic read it: a date, a T, hours and minutes at least
    clock, seconds, fraction, offset = iso.groups()
    if seconds is None:
        return f'a time of day is written with its seconds: "{clock}:00", not "{clock}"'
    if fraction is not None and fraction[0] == ",":
        return f'a fraction of a second follows a point: ".{fraction[1:]}", not "{fraction}"'
    return f'an offset is written with its colon: "{offset[:3]}:{offset[3:]}", not "{offset}"'


def _offset_as_sent(value: Any, moment: Any) -> Any:
    """`moment` at UNKNOWN_OFFSET where `value` says "-00:00" (or "-0000"): read, it is UTC (a
    time read ends with its offset, so one that ends so was read at that offset)."""
    if (
        isinstance(value, str)
        and value.endswith(("-00:00", "-0000"))
        and isinstance(moment, datetime)
    ):
        return moment.replace(tzinfo=UNKNOWN_OFFSET)
    return moment


def time_text(moment: datetime) -> str:
    """RFC 3339 text of an aware `moment` at its own offset, "-00:00" kept."""
    text = moment.isoformat()
    return f"{text[:-6]}-00:00" if moment.tzname() == "-00:00" else text


def _why_not_a_time(value: Any) -> str:
    why = out_of_calendar(value) if isinstance(value, str) else None
    return TIME_SPELLING if why is None else f"{TIME_SPELLING}; {why}"


def out_of_calendar(text: str) -> str | None:
    """What in a date or time spelled as the contract spells one names no day or time of day
    (`2026-02-29`, hour 25, minute 60), in words; None if each number is in its range. The
    sender then learns which number to fix, not how a time is spelled: it already is."""
    figures = _FIGURES.match(text)
    if figures is None:
        return None
    year, month, day = (int(figure) for figure in figures.group(1, 2, 3))
    if year == 0:
        return "years run from 0001 to 9999"
    if not 1 <= month <= 12:
        return f"months run from 01 to 12, not {month:02d}"
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        month_name = _MONTHS[month - 1]
        return f"{month_name} {year:04d} has no day {day:02d}: its days run from 01 to {days}"
    hour, minute, second = (
        None if figure is None else int(figure) for figure in figures.group(4, 5, 6)
    )
    if hour == 24:
        return "24:00:00 is written 00:00:00 of the next day"
    if hour is not None and hour > 24:
        return f"hours run from 00 to 23, not {hour}"
    if minute is not None and minute > 59:
        return f"minutes run from 00 to 59, not {minute}"
    if second == 60:
        return "leap seconds (23:59:60) are not read"
    if second is not None and second > 60:
        return f"seconds run from 00 to 59, not {second}"
    return None


def offset_too_far(moment: datetime) -> bool:
    """Tell whether `moment` is said at an offset further than 14:00 from UTC."""
    offset = moment.utcoffset()
    return offset is not None and abs(offset) > MAX_OFFSET


def _query_time(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    moment = _time_text(value, handler, None)
    if isinstance(moment, datetime) and offset_too_far(moment):
        raise PydanticCustomError("out_of_range", OFFSET_RULE)
    return moment


# An event's time: a time without an offset is refused (timezone_aware).
Instant = Annotated[
    AwareDatetime,
    WrapValidator(_time_text),
    WithJsonSchema({"type": "string", "pattern": TIME_PATTERN}),
]
# A time given outside an event: one without an offset is read, for the caller to refuse in
# its own words (trace's as_of, a window's from and to, each CLI option); one at an offset no
# event takes is refused.
TimeText = Annotated[datetime, WrapValidator(_query_time)]

_TIME: TypeAdapter[datetime] = TypeAdapter(TimeText)


def read_time(text: str) -> datetime:
    """Read a time as the contract does; raise ValueError saying what a time is. A time without
    an offset is returned naive: the caller refuses it naming its option or field."""
    try:
        return _TIME.validate_python(text)
    except ValidationError as error:
        raise ValueError(error.errors()[0]["msg"]) from None
