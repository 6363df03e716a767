"""Times as the event contract reads them: RFC 3339 text with its offset, and no other spelling.

Events read them as `Instant`; query parameters, CLI options and EPCIS documents read them with
the same rules (`TimeText`, `read_time`), so a time one of them takes, all of them take.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from ingest.schema_rules import TIME_PATTERN

TIME_SPELLING = 'a time is RFC 3339 text with its offset, such as "2026-03-02T08:10:00+01:00"'
# What pydantic also reads as a time, and the contract does not mean: a number, or a string of
# digits, as a Unix time; a date alone; week and ordinal dates. What the log stores still reads.
_TIME_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")
_LEAP_SECOND = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:60")
_HOUR_24 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]24:")


def _time_text(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if not (isinstance(value, datetime) or (isinstance(value, str) and _TIME_TEXT.match(value))):
        raise PydanticCustomError("datetime_parsing", TIME_SPELLING)
    try:
        return handler(value)
    except ValidationError as error:
        if error.errors()[0]["type"] == "timezone_aware":  # a naive time: its own code
            raise
    # Pydantic's own words ("unexpected extra characters at the end of the input", code
    # datetime_from_date_parsing) do not say what a time is; the contract's do.
    raise PydanticCustomError("datetime_parsing", _why_not_a_time(value))


def _why_not_a_time(value: Any) -> str:
    if isinstance(value, str) and _LEAP_SECOND.match(value):
        return f"{TIME_SPELLING}; leap seconds (23:59:60) are not read"
    if isinstance(value, str) and _HOUR_24.match(value):
        return f"{TIME_SPELLING}; 24:00:00 is written 00:00:00 of the next day"
    return TIME_SPELLING


# An event's time: a time without an offset is refused (timezone_aware).
Instant = Annotated[
    AwareDatetime,
    WrapValidator(_time_text),
    WithJsonSchema({"type": "string", "pattern": TIME_PATTERN}),
]
# A time given outside an event: one without an offset is read, for the caller to refuse in
# its own words (trace's as_of, a window's from and to, each CLI option).
TimeText = Annotated[datetime, WrapValidator(_time_text)]

_TIME: TypeAdapter[datetime] = TypeAdapter(TimeText)


def read_time(text: str) -> datetime:
    """Read a time as the contract does; raise ValueError saying what a time is. A time without
    an offset is returned naive: the caller refuses it naming its option or field."""
    try:
        return _TIME.validate_python(text)
    except ValidationError as error:
        raise ValueError(error.errors()[0]["msg"]) from None
