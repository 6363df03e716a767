"""Instants as stored: fixed-width UTC text, so comparing strings compares times."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_text(moment: datetime) -> str:
    """Render an aware datetime as fixed-width UTC text."""
    # isoformat is several times faster than strftime, and this runs for every event and edge.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
