"""Instants as stored: fixed-width UTC text, so comparing strings compares times."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


# Ingest renders each event's times twice (digest, then the planner's rows): the second time is a
# lookup. Equal datetimes are the same instant, so they share one text whatever their offset.
@lru_cache(maxsize=8192)
def utc_text(moment: datetime) -> str:
    """Render an aware datetime as fixed-width UTC text."""
    # isoformat is several times faster than strftime; cutting "+00:00" off is faster than
    # dropping the zone before rendering.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"
