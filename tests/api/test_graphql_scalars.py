"""GraphQL's DateTime and Date read their values as the rest of the service reads a time and a
date, and say which value they refused and why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition

from api.graphql.times import DATE, DATE_TIME


def test_the_scalars_read_what_the_contract_writes() -> None:
    assert DATE_TIME.parse_value is not None and DATE.parse_value is not None
    moment = DATE_TIME.parse_value("2026-03-02T08:00:00+01:00")
    assert moment == datetime(2026, 3, 2, 7, tzinfo=UTC)
    assert moment.utcoffset() == timedelta(hours=1)
    assert DATE_TIME.parse_value("2026-03-02T08:00:00").tzinfo is None  # its resolver refuses it
    assert DATE.parse_value("2026-03-02") == date(2026, 3, 2)
    assert DATE_TIME.serialize(datetime(2026, 3, 2, 8, tzinfo=UTC)) == ("2026-03-02T08:00:00+00:00")


@pytest.mark.parametrize(
    ("scalar", "value", "said"),
    [
        (DATE_TIME, 1772438400, "a time is text, not a number or an object"),
        (DATE_TIME, {"at": "2026-03-02T08:00:00Z"}, "a time is text, not a number or an object"),
        (DATE_TIME, "2026-W09-1T08:00:00Z", "'2026-W09-1T08:00:00Z': a time is RFC 3339 text"),
        (DATE, 20260302, "a date is text, not a number or an object"),
        (DATE, ["2026-03-02"], "a date is text, not a number or an object"),
        (DATE, "20260302", "'20260302': "),
    ],
)
def test_a_value_a_scalar_refuses_is_named_with_why(
    scalar: ScalarDefinition, value: object, said: str
) -> None:
    assert scalar.parse_value is not None
    with pytest.raises(StrawberryInputCoercionError) as refused:
        scalar.parse_value(value)
    assert str(refused.value).startswith(said), refused.value
