"""Instants as stored: fixed-width UTC text, so comparing strings compares times."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from graph.errors import BadRequest


def _render(moment: datetime) -> str:
    # astimezone reads a time without an offset in the server's zone: the same text would be
    # another instant on another host.
    if moment.utcoffset() is None:
        raise BadRequest(f"{moment.isoformat()} needs a UTC offset, e.g. 2026-03-01T12:00:00Z")
    # isoformat is several times faster than strftime; cutting "+00:00" off is faster than
    # dropping the zone before rendering.
    try:
        return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"
    except OverflowError:
        # 0001-01-01T00:00+14:00 is a valid time of day in a valid year, but not in UTC.
        raise BadRequest(f"{moment.isoformat()} is outside the years 1 to 9999 in UTC") from None


# Ingest renders each event's times twice (digest, then the planner's rows): the second time is a
# lookup. Equal datetimes are the same instant, so they share one text whatever their offset.
@lru_cache(maxsize=8192)
def utc_text(moment: datetime) -> str:
    """Render an aware datetime as fixed-width UTC text; refuse a naive one (BadRequest)."""
    return _render(moment)


def now_text() -> str:
    """Return the current moment as fixed-width UTC text."""
    # Uncached: every moment is new, and it would only push ingest's times out of the cache.
    return _render(datetime.now(UTC))
