import pytest
from strawberry.exceptions import StrawberryInputCoercionError

from api.graphql.counts import BIG_INT


def test_a_big_int_reads_decimal_digits_exactly() -> None:
    assert BIG_INT.parse_value is not None
    assert BIG_INT.parse_value("-95428956661682176") == -95428956661682176
    assert BIG_INT.serialize is not None and BIG_INT.serialize(2**63) == "9223372036854775808"


@pytest.mark.parametrize("text", ["--5", "1_000", "²", "", " 7", "7.0", 7])
def test_anything_else_is_refused_saying_what_a_big_int_is(text: object) -> None:
    assert BIG_INT.parse_value is not None
    with pytest.raises(StrawberryInputCoercionError, match="decimal digits as text"):
        BIG_INT.parse_value(text)
