"""Stored instants are UTC text; a time without an offset has no instant to store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from graph.clock import utc_text
from graph.errors import BadRequest


def test_a_time_without_an_offset_is_refused() -> None:
    # astimezone would read it in the server's zone: the same text, another instant per host.
    with pytest.raises(BadRequest, match="needs a UTC offset"):
        utc_text(datetime(2026, 3, 2, 8, 0))


def test_a_time_with_an_offset_is_written_in_utc() -> None:
    nepal = timezone(timedelta(hours=5, minutes=45))
    assert utc_text(datetime(2026, 3, 2, 8, 0, tzinfo=nepal)) == "2026-03-02T02:15:00.000000Z"
    assert utc_text(datetime(2026, 3, 2, 2, 15, tzinfo=UTC)) == "2026-03-02T02:15:00.000000Z"
