"""GraphQL's DateTime reads times as every other input does (ingest.times): RFC 3339 text;
its Date reads dates as the event contract does (ingest.models.read_day): YYYY-MM-DD.

Strawberry's own scalars also took week dates, basic-format times and dates and fractions past
microseconds, which REST, the CLI and the event contract refuse: a time or date one takes, all
take. A time without an offset is read, for the resolver to refuse naming its argument.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition

from graph.clock import utc_text
from graph.errors import BadRequest
from ingest.models import read_day
from ingest.times import read_time

T = TypeVar("T")


def _reader(noun: str, read: Callable[[str], T]) -> Callable[[object], T]:
    """Return the parser of a scalar of `noun`s: text, read by `read`; a value refused is named
    with why (the time and date scalars differ only in these two)."""

    def parse(value: object) -> T:
        if not isinstance(value, str):
            raise StrawberryInputCoercionError(f"{noun} is text, not a number or an object")
        try:
            return read(value)
        except ValueError as error:
            raise StrawberryInputCoercionError(f"{value!r}: {error}") from None

    return parse


def with_offset(argument: str, moment: datetime | None) -> datetime | None:
    """Return `moment`, or raise BadRequest naming `argument` if it has no UTC offset: the
    services would name their own parameter (trace's as_of), not the GraphQL argument."""
    if moment is not None and moment.utcoffset() is None:
        raise BadRequest(f"{argument} needs a UTC offset, e.g. 2026-03-01T12:00:00Z")
    return moment


def utc_argument(argument: str, moment: datetime) -> str:
    """Return an instant argument as stored (fixed-width UTC text), or raise BadRequest naming
    `argument`: without an offset, or one UTC cannot write (0001-01-01T00:00+14:00)."""
    with_offset(argument, moment)
    try:
        return utc_text(moment)
    except BadRequest as error:
        raise BadRequest(f"{argument}: {error.message}") from None


def _serialize(value: datetime) -> str:
    return value.isoformat()


DATE_TIME = ScalarDefinition(
    name="DateTime",
    description="Date with time (isoformat)",
    specified_by_url=None,
    serialize=_serialize,
    parse_value=_reader("a time", read_time),
    parse_literal=None,
    origin=datetime,
)


DATE = ScalarDefinition(
    name="Date",
    description="A date written YYYY-MM-DD",
    specified_by_url=None,
    serialize=date.isoformat,
    parse_value=_reader("a date", read_day),
    parse_literal=None,
    origin=date,
)
