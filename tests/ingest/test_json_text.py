"""JSON text from outside is read strictly: what another reader could read otherwise is refused."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ingest import json_text
from ingest.json_text import JsonRefused, strict_loads


def test_json_reads_as_the_standard_library_reads_it() -> None:
    text = '{"a": [1, 2.5, "x", null, true], "b": {"c": {}}, "d": "\\u00e9"}'
    assert strict_loads(text) == {"a": [1, 2.5, "x", None, True], "b": {"c": {}}, "d": "é"}
    assert strict_loads(text.encode()) == strict_loads(text)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"qty": "1", "qty": "100"}', "qty"),
        ('[{"ok": 1}, {"lot": {"id": "L-1", "unit": "kg", "id": "L-2"}}]', "id"),
        ('{"a": 1, "b": 2, "a": 1}', "a"),  # the same value twice is still two keys
    ],
)
def test_a_key_twice_in_one_object_is_refused_by_name(text: str, key: str) -> None:
    with pytest.raises(JsonRefused) as refused:
        strict_loads(text)
    assert refused.value.code == "duplicate_key"
    assert repr(key) in refused.value.message


def test_equal_keys_in_different_objects_are_fine() -> None:
    assert strict_loads('[{"a": 1}, {"a": 2, "b": {"a": 3}}]') == [
        {"a": 1},
        {"a": 2, "b": {"a": 3}},
    ]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_numbers_json_has_not_are_refused(constant: str) -> None:
    with pytest.raises(JsonRefused) as refused:
        strict_loads(f'{{"qty": {constant}}}')
    assert refused.value.code == "not_a_number"
    assert constant.lstrip("-") in refused.value.message


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{oops", "not_json"),
        (b"\xff\xfe{}", "not_json"),
        ("[" * 100_000 + "]" * 100_000, "too_deep"),
        ('{"qty": 1%s}' % ("0" * 5000), "too_long"),
    ],
)
def test_what_python_cannot_read_is_refused_by_name(text: str | bytes, code: str) -> None:
    with pytest.raises(JsonRefused) as refused:
        strict_loads(text)
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.1", 0.1), ("2.5", 2.5), ("1e3", 1000.0), ("1E+2", 100.0), ("-0.0", -0.0), ("12.50", 12.5)],
)
def test_a_number_a_float_holds_as_written_reads_as_a_float(text: str, value: float) -> None:
    assert strict_loads(f'{{"qty": {text}}}') == {"qty": value}


def test_common_numbers_are_read_without_a_decimal_comparison(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One comparison per number made a body of 2.6 million of them take seconds.
    made: list[str] = []

    def counted(text: str) -> Decimal:
        made.append(text)
        return Decimal(text)

    monkeypatch.setattr(json_text, "Decimal", counted)
    text = "[1.5, 0.1, 12.50, 1e3, 1E+2, -0.0, 2.718281828459045, 2.2250738585072e-308]"
    assert strict_loads(text) == json.loads(text)
    assert made == []


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1.00000000000000001", "has more digits"),
        ("0.12345678901234567890123456789", "has more digits"),  # read as 0.12345678901234568
        ("1e400", "is out of the range"),
        ("1e-400", "is out of the range"),  # read as 0.0
        ("4.9e-324", "has more digits"),  # short, but read as 5e-324: tiny floats hold less
        ("1.79769313486232e308", "is out of the range"),  # short, but past the largest float
        ("1e99999999999999999999", "is out of the range"),
    ],
)
def test_a_number_a_float_would_change_is_refused_not_rounded(text: str, why: str) -> None:
    with pytest.raises(JsonRefused) as refused:
        strict_loads(f'[{{"qty": {text}}}]')
    assert refused.value.code == "not_exact"
    assert refused.value.message.startswith(f"the number {text} {why}")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1234567890.123456789", "1234567890.123456789"),
        ("1.00000000000000001", "1.00000000000000001"),
        ("12.50", "12.50"),
        ("1e3", "1E+3"),
        ("-0.0", "-0"),
        ("0e-999999999", "0"),  # a zero is a zero, not a billion of them
    ],
)
def test_exact_numbers_read_as_the_decimal_written(text: str, value: str) -> None:
    read = strict_loads(f'{{"qty": {text}, "n": 3}}', exact_numbers=True)
    assert read == {"qty": Decimal(value), "n": 3}
    assert str(read["qty"]) == value and type(read["n"]) is int


@pytest.mark.parametrize("text", ["1e400", "-1e400", "1e-400", "1e99999999999999999999"])
def test_exact_numbers_keep_the_range_of_a_float(text: str) -> None:
    with pytest.raises(JsonRefused) as refused:
        strict_loads(f"[{text}]", exact_numbers=True)
    assert refused.value.code == "not_exact"
    assert (
        refused.value.message
        == f"the number {text} is out of the range a JSON number is read in here"
    )


def test_a_byte_order_mark_before_the_text_is_skipped_in_text_as_in_bytes() -> None:
    marked = '\ufeff{"a": [1]}'
    assert strict_loads(marked) == strict_loads(marked.encode()) == {"a": [1]}


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"\xff{}", "not UTF-8 text (byte 0)"),
        (b'{"lot": "L\xe9"}', "not UTF-8 text (byte 10)"),
        (b'\xef\xbb\xbf{"lot": "\xc3"}', "not UTF-8 text (byte 12)"),  # counted from the mark
        (b'{"lot": "\xed\xa0\x80"}', "not UTF-8 text (byte 9)"),  # a surrogate's bytes
        (b"\xff\xfe", "UTF-16 text, not UTF-8 (it begins with a UTF-16 byte order mark)"),
        (
            "\ufeff{}".encode("utf-16-be"),
            "UTF-16 text, not UTF-8 (it begins with a UTF-16 byte order mark)",
        ),
        (
            "{}".encode("utf-16-le"),
            "not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2)",
        ),
    ],
)
def test_bytes_are_read_as_utf_8_only_and_said_where_they_are_not(data: bytes, said: str) -> None:
    # json.loads reads UTF-16 and UTF-32 too, with or without a byte order mark, and a
    # surrogate's bytes as half a pair: JSON sent between systems is UTF-8.
    with pytest.raises(JsonRefused) as refused:
        strict_loads(data)
    assert (refused.value.code, refused.value.message) == ("not_json", said)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"lot": "L-1', "Unterminated string starting at: line 1 column 9"),
        ('{"lot": "L\x01"}', "Invalid control character at: line 1 column 11"),
        ("", "Expecting value: line 1 column 1"),
    ],
)
def test_where_json_breaks_reads_as_one_sentence(text: str, said: str) -> None:
    with pytest.raises(JsonRefused) as refused:
        strict_loads(text)
    assert refused.value.message == f"not valid JSON ({said})"
