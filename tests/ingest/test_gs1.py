"""GS1 identifiers: check digits, element strings, Digital Link, and their failures."""

from __future__ import annotations

from datetime import date

import pytest

from ingest import gs1
from ingest.gs1 import GS, Gs1Error

# The GS1 example GTIN used throughout GS1's own Digital Link and barcode guides.
GTIN = "09506000134352"
# The SSCC of the GS1 General Specifications' examples.
SSCC = "376130321109103420"


@pytest.mark.parametrize(
    ("body", "digit"),
    [
        ("0950600013435", "2"),  # GTIN-14 of the GS1 examples
        ("400638133393", "1"),  # EAN-13 4006381333931
        ("9638507", "4"),  # EAN-8 96385074
        ("03600029145", "2"),  # UPC-A 036000291452
        ("37613032110910342", "0"),  # SSCC of the GS1 General Specifications
    ],
)
def test_check_digit_of_known_identifiers(body: str, digit: str) -> None:
    assert gs1.check_digit(body) == digit


@pytest.mark.parametrize("short", ["96385074", "036000291452", "4006381333931", GTIN])
def test_gtins_of_every_length_normalise_to_14_digits(short: str) -> None:
    assert gs1.normalise_gtin(short) == short.rjust(14, "0")


def test_bad_check_digit_names_the_expected_digit() -> None:
    with pytest.raises(Gs1Error, match="check digit 3, expected 2"):
        gs1.normalise_gtin("09506000134353")


def test_a_gtin_of_another_length_is_refused() -> None:
    with pytest.raises(Gs1Error, match="8, 12, 13 or 14 digits"):
        gs1.normalise_gtin("12345")


def test_raw_element_string_with_symbology_id_and_separator() -> None:
    data = gs1.parse(f"]d201{GTIN}17201225" + f"10ABC123{GS}21SN-1")
    assert data.values == {"01": GTIN, "17": "201225", "10": "ABC123", "21": "SN-1"}
    assert data.expiry == date(2020, 12, 25)


@pytest.mark.parametrize("symbology", ["]C1", "]d2", "]Q3", "]e0"])
def test_gs1_symbology_identifiers_are_stripped(symbology: str) -> None:
    assert gs1.parse(f"{symbology}01{GTIN}10L1").lot == "L1"


def test_a_non_gs1_symbology_identifier_is_refused() -> None:
    with pytest.raises(Gs1Error, match="not a GS1 one"):
        gs1.parse(f"]A001{GTIN}")


@pytest.mark.parametrize("ai", ["15", "16", "17"])
def test_day_00_of_a_best_before_sell_by_or_expiry_date_is_the_last_day_of_the_month(
    ai: str,
) -> None:
    # GS1 GS 3.4.5-3.4.7, AIs (15), (16) and (17): read as the last day of the month, leap
    # years included.
    data = gs1.parse(f"01{GTIN}{ai}240200")
    assert data.values[ai] == "240200"
    assert gs1.gs1_date(data.values[ai], ai) == date(2024, 2, 29)
    assert gs1.gs1_date("230400", ai) == date(2023, 4, 30)


def test_an_expiry_of_day_00_is_the_last_day_of_its_month() -> None:
    assert gs1.parse(f"01{GTIN}17240200").expiry == date(2024, 2, 29)
    assert gs1.parse(f"01{GTIN}17230200").expiry == date(2023, 2, 28)


@pytest.mark.parametrize("ai", ["11", "13"])
def test_day_00_of_another_date_leaves_the_day_unsaid(ai: str) -> None:
    # GS1 GS 3.4.2 and 3.4.4, AIs (11) and (13): 00 is put where the day is not given; no day
    # is made up.
    data = gs1.parse(f"(01){GTIN}({ai})230200")
    assert data.values[ai] == "230200"
    assert gs1.gs1_date("230200", ai) == gs1.Gs1Month(2023, 2)
    assert gs1.gs1_date("230200", ai).isoformat() == "2023-02"
    assert gs1.parse(data.element_string()) == gs1.parse(data.digital_link()) == data


def test_a_production_month_is_the_month_not_its_last_day() -> None:
    assert gs1.parse(f"01{GTIN}11230200").production == gs1.Gs1Month(2023, 2)
    assert gs1.parse(f"01{GTIN}11230215").production == date(2023, 2, 15)


@pytest.mark.parametrize("ai", ["11", "13", "15", "16", "17"])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("230431", r"day 31 of '230431' is past the end of the month: 2023-04 has 30 days"),
        ("230229", r"day 29 of '230229' is past the end of the month: 2023-02 has 28 days"),
        ("231300", r"month 13 of '231300' is not 01-12"),
        ("230001", r"month 00 of '230001' is not 01-12"),
    ],
)
def test_an_impossible_date_is_refused_naming_the_ai_and_what_is_wrong(
    ai: str, text: str, message: str
) -> None:
    with pytest.raises(Gs1Error, match=rf"^AI \({ai}\) at position 17: .*{message}"):
        gs1.parse(f"01{GTIN}{ai}{text}")
    with pytest.raises(Gs1Error, match=rf"^AI \({ai}\) at position 37: .*{message}"):
        gs1.parse(f"https://x.example/01/{GTIN}?{ai}={text}")


def test_sscc_with_its_check_digit() -> None:
    assert gs1.parse(f"00{SSCC}").sscc == SSCC
    with pytest.raises(Gs1Error, match=r"AI \(00\).*expected 0"):
        gs1.parse("00376130321109103421")


@pytest.mark.parametrize("code", [f"(02){GTIN}(37)12", f"(02){GTIN}(10)L1(37)12", f"02{GTIN}3712"])
def test_a_count_without_the_logistic_unit_it_counts_in_is_refused(code: str) -> None:
    # GS1 GS 4.14.2: AI (37) counts the trade items of GTIN (02) a logistic unit (00) holds.
    with pytest.raises(Gs1Error, match=r"^AI \(37\) COUNT needs AI \(00\) and AI \(02\)"):
        gs1.parse(code)


def test_a_logistic_unit_label_reads_with_its_content_and_count() -> None:
    data = gs1.parse(f"]C100{SSCC}02{GTIN}3712{GS}10L1")
    assert data.values == {"00": SSCC, "02": GTIN, "37": "12", "10": "L1"}
    assert gs1.parse(data.human_readable()) == data == gs1.parse(data.element_string())


def test_bracketed_form_allows_brackets_inside_a_lot() -> None:
    data = gs1.parse(f"(01){GTIN}(17)201200(10)A(B)C(21)7")
    assert data.values == {"01": GTIN, "17": "201200", "10": "A(B)C", "21": "7"}
    assert data.human_readable() == f"(01){GTIN}(17)201200(10)A(B)C(21)7"


@pytest.mark.parametrize("lot", ["A(21)B", "C(17)301231", "A(10)B", "A(99)B"])
def test_a_bracketed_form_that_would_read_otherwise_is_not_offered(lot: str) -> None:
    # Printed, lot A(21)B reads as lot A and serial B: the bracketed form has no escapes, so
    # it is only offered where it reads back. The element string and Digital Link always do.
    data = gs1.from_values({"01": GTIN, "10": lot, "21": "7"})
    assert data.readable() is None
    assert gs1.parse(data.element_string()) == data
    assert gs1.parse(data.digital_link()) == data
    plain = gs1.from_values({"01": GTIN, "10": "A(B)C", "21": "7"})
    assert plain.readable() == plain.human_readable()


def test_element_string_round_trip_puts_separators_only_after_variable_fields() -> None:
    data = gs1.from_values({"01": GTIN, "10": "LOT/7", "21": "SN1", "17": "291231", "11": "240115"})
    text = data.element_string()
    assert text == f"01{GTIN}1124011517291231" + f"10LOT/7{GS}21SN1"
    assert gs1.parse(text) == data
    assert gs1.parse(data.human_readable()) == data


def test_digital_link_emits_qualifiers_in_order_and_data_as_query() -> None:
    data = gs1.from_values({"21": "S&1", "10": "AB/1", "01": GTIN, "17": "201225", "11": "200101"})
    uri = data.digital_link()
    assert uri == f"https://id.gs1.org/01/{GTIN}/10/AB%2F1/21/S%261?11=200101&17=201225"


def test_digital_link_round_trips_on_any_domain_and_prefix() -> None:
    data = gs1.from_values({"01": GTIN, "10": "L%1", "21": "X'9", "17": "301130"})
    uri = data.digital_link("https://labels.example.com/dl/v1/")
    assert uri.startswith(f"https://labels.example.com/dl/v1/01/{GTIN}/10/L%251/21/X%279")
    assert gs1.parse(uri) == data
    assert gs1.parse(gs1.parse(uri).element_string()) == data


def test_digital_link_accepts_short_gtins_and_ignores_resolver_parameters() -> None:
    data = gs1.parse("https://id.example.org/01/9506000134352/10/L1?linkType=gs1:pip&17=251000")
    assert data.values == {"01": GTIN, "10": "L1", "17": "251000"}
    assert data.expiry == date(2025, 10, 31)


def test_digital_link_with_qualifiers_out_of_order_is_refused() -> None:
    with pytest.raises(Gs1Error, match="no GTIN path"):
        gs1.parse(f"https://id.gs1.org/01/{GTIN}/21/S1/10/L1")


def test_digital_link_with_a_bad_check_digit_is_refused() -> None:
    with pytest.raises(Gs1Error, match="expected 2"):
        gs1.parse("https://id.gs1.org/01/09506000134359/10/L1")


def test_a_plain_gtin_parses() -> None:
    assert gs1.parse("9506000134352").values == {"01": GTIN}


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (f"01{GTIN}991234", r"unknown or unsupported application identifier '9912' at position 17"),
        ("011234", r"AI \(01\) at position 1: GTIN needs 14 characters, only 4 left"),
        (f"01{GTIN}17131301", r"AI \(17\) at position 17: month 13"),
        (f"01{GTIN}17230230", r"AI \(17\) at position 17: day 30 .* past the end of the month"),
        (f"01{GTIN}10{'A' * 21}", r"AI \(10\) at position 17: BATCH/LOT is at most 20"),
        (f"01{GTIN}10ABC C", r"AI \(10\) at position 22: character ' ' is not allowed"),
        (f"(01){GTIN}(21){'S' * 21}", r"AI \(21\) at position 19: SERIAL has 1 to 20"),
        ("10ABC", r"needs the GTIN it belongs to"),
        (f"(01){GTIN}(02){GTIN}", r"AI \(01\) and AI \(02\) may not appear together"),
        (f"(02){GTIN}", r"AI \(02\) CONTENT needs AI \(37\)"),
        ("(37)5", r"AI \(37\) COUNT needs AI \(00\) and AI \(02\)"),
        (f"(00){SSCC}(02){GTIN}(37)1(21)X", r"AI \(21\) SERIAL needs the GTIN it belongs to"),
        ("]d2", r"an empty code"),
        (f"01{GTIN}10A{GS}10B", r"AI \(10\) at position .* appears twice"),
        (f"(01){GTIN}(99)X", r"unknown or unsupported application identifier '99'"),
        # Positions count in the code as scanned: brackets and symbology identifiers included.
        (f"(01){GTIN}(10)AB CD", r"AI \(10\) at position 25: character ' ' is not allowed"),
        (f"]d201{GTIN}10AB CD", r"AI \(10\) at position 24: character ' ' is not allowed"),
        (f"]C1{GS}01{GTIN}17131301", r"AI \(17\) at position 21: month 13"),
        (f"]d201{GTIN}9912", r"identifier '9912' at position 20"),
        (f"]d2(01){GTIN}(99)X", r"identifier '99' at position 22"),
    ],
)
def test_malformed_element_strings_name_the_ai_and_position(code: str, message: str) -> None:
    with pytest.raises(Gs1Error, match=message):
        gs1.parse(code)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        # A check digit is named where it was scanned, not where it sits in the GTIN.
        (f"01{GTIN[:-1]}3", r"^AI \(01\) at position 1: .* expected 2 \(position 16\)$"),
        (f"]d2{GS}01{GTIN[:-1]}3", r"^AI \(01\) at position 5: .* \(position 20\)$"),
        (f"(01){GTIN[:-1]}3", r"^AI \(01\) at position 1: .* \(position 18\)$"),
        (f"https://x/01/{GTIN[:-1]}3", r"^AI \(01\) at position 11: .* \(position 27\)$"),
        (f"  {GTIN[1:-1]}3", r"^AI \(01\): GTIN 9506000134353 .* \(position 15\)$"),
        ("(00)376130321109103421", r"^AI \(00\) at position 1: .* expected 0 \(position 22\)$"),
        # A leading separator (FNC1) or white space with no symbology identifier is scanned too.
        (f"{GS}01{GTIN}17131301", r"^AI \(17\) at position 18: month 13"),
        (f" {GS}01{GTIN}10AB CD", r"^AI \(10\) at position 23: character ' '"),
        (f"\n{GS}01{GTIN}9912", r"identifier '9912' at position 19"),
        (f" https://x/01/{GTIN}/10/A%2", r"^AI \(10\) at position 34: 'A%2'"),
        # A separator where a digit belongs is named as such, where it is.
        (
            f"01{GTIN[:8]}{GS}{GTIN[8:]}",
            r"^AI \(01\) at position 1: a group separator \(FNC1\) at "
            r"position 11, where a digit of GTIN belongs",
        ),
        (
            f"01{GTIN[:10]}{GS}17201225",
            r"^AI \(01\) at position 1: .* separator \(FNC1\) at position 13,",
        ),
        (
            f"]d201{GTIN}17{GS}201225",
            r"^AI \(17\) at position 20: .* separator \(FNC1\) at position 22,",
        ),
        (
            f"(01){GTIN[:11]}{GS}(10)AB",
            r"^AI \(01\) at position 1: .* separator \(FNC1\) at position 16,",
        ),
        (
            f"(02){GTIN}(37)1{GS}2",
            r"^AI \(37\) at position 19: .* at position 24, where a digit of COUNT",
        ),
        (f"https://x/01/{GTIN[:5]}%1D{GTIN[6:]}", r"^AI \(01\) at position 11: .* at position 19,"),
    ],
)
def test_errors_point_at_the_position_in_what_was_scanned(code: str, message: str) -> None:
    with pytest.raises(Gs1Error, match=message):
        gs1.parse(code)


@pytest.mark.parametrize("end", [GS, f"{GS}\r\n", "\r\n", f" {GS}{GS}"])
@pytest.mark.parametrize(
    ("code", "values"),
    [
        (GTIN, {"01": GTIN}),
        (f"]d201{GTIN}10ABC", {"01": GTIN, "10": "ABC"}),
        (f"(01){GTIN}(10)ABC", {"01": GTIN, "10": "ABC"}),
        (f"https://id.gs1.org/01/{GTIN}/10/ABC", {"01": GTIN, "10": "ABC"}),
        (f"https://id.gs1.org/01/{GTIN}?17=201225", {"01": GTIN, "17": "201225"}),
    ],
)
def test_separators_and_white_space_a_scanner_ends_a_code_with_are_not_read(
    code: str, values: dict[str, str], end: str
) -> None:
    # Scanners commonly end what they send with an FNC1, a carriage return or a line feed: all
    # of them come after the last field, and none of it is data.
    assert gs1.parse(code + end).values == values


def test_a_missing_separator_after_a_variable_field_is_caught_when_it_overflows() -> None:
    with pytest.raises(Gs1Error, match="group separator is missing"):
        gs1.parse(f"01{GTIN}10LOT-2024-0001-A21SERIAL-000001")


def test_udi_of_a_device_gives_both_forms() -> None:
    data = gs1.udi(GTIN, lot="L7", serial="SN9", expiry=date(2031, 1, 31))
    assert data.element_string() == f"01{GTIN}1731013110L7{GS}21SN9"
    assert data.digital_link() == f"https://id.gs1.org/01/{GTIN}/10/L7/21/SN9?17=310131"


def test_a_digital_link_that_is_no_uri_is_refused_by_name() -> None:
    with pytest.raises(Gs1Error, match="not a URI"):
        gs1.parse(f"https://[::1/01/{GTIN}/10/L1")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (f"https://id.gs1.org/01/{GTIN}/10/A%ZZ", r"a % in a URI is followed by two hex digits"),
        (f"https://id.gs1.org/01/{GTIN}/10/%", r"a % in a URI is followed by two hex digits"),
        (f"https://id.gs1.org/01/{GTIN}?02={GTIN}", r"may not appear together"),
    ],
)
def test_malformed_digital_links_are_refused(uri: str, message: str) -> None:
    with pytest.raises(Gs1Error, match=message):
        gs1.parse(uri)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        # https://x is 9 characters: the path's "01" is at position 11, the GTIN at 14.
        (f"https://x/01/{GTIN}/10/A%2", r"^AI \(10\) at position 33: 'A%2': a % in a URI"),
        (f"https://x/01/{GTIN}/10/%41%C3%84", r"^AI \(10\) at position 35: character 'Ä'"),
        (f"https://x/01/{GTIN}/10/{'A' * 21}", r"^AI \(10\) at position 29: BATCH/LOT has"),
        (f"https://x/01/{GTIN[:-1]}3", r"^AI \(01\) at position 11: GTIN .* expected 2"),
        (f"https://x/01/{GTIN}?linkType=a&17=20%3", r"^AI \(17\) at position 45: '20%3'"),
        (f"https://x/01/{GTIN}?17=201225&17=201226", r"^AI \(17\) at position 39 is given twice"),
        (f"https://x/01/{GTIN}?%=1", r"^a query parameter at position 29: '%'"),
        (f"https://x/01/{GTIN}?11=9913", r"^AI \(11\) at position 29: PROD DATE has 6"),
        # A tab inside is dropped by the URI reader: positions would be off, so none is given.
        (f"https://x/01/{GTIN}/10/A\tB%2", r"^AI \(10\): 'AB%2': a % in a URI"),
    ],
)
def test_digital_link_errors_name_the_ai_and_its_position_in_the_uri(
    uri: str, message: str
) -> None:
    with pytest.raises(Gs1Error, match=message):
        gs1.parse(uri)


def test_a_percent_encoded_query_ai_is_read() -> None:
    assert gs1.parse(f"https://id.gs1.org/01/{GTIN}/10/L1?%31%37=201225").expiry == date(
        2020, 12, 25
    )


@pytest.mark.parametrize("offset", range(-60, 61))
def test_an_emitted_date_reads_back_as_itself_or_is_refused(offset: int) -> None:
    # Two digits carry a year only within the sliding window the reader applies (GS GS 7.12).
    when = date(date.today().year + offset, 6, 30)
    try:
        data = gs1.udi(GTIN, expiry=when, production=when)
    except Gs1Error as error:
        assert not -49 <= offset <= 50
        assert error.message.startswith("AI (17): ")
        return
    assert -49 <= offset <= 50
    assert gs1.parse(data.element_string()).expiry == when
    assert gs1.parse(data.digital_link()).production == when


@pytest.mark.parametrize("year", [1, 1970, 2099, 9999])
def test_a_date_two_digits_cannot_carry_is_refused_naming_the_ai(year: int) -> None:
    today = date(2026, 3, 2)
    with pytest.raises(Gs1Error, match=r"AI \(11\): .* read as 1977 to 2076"):
        gs1.date_text(date(year, 12, 31), "11", today=today)
    assert gs1.date_text(date(2076, 12, 31), today=today) == "761231"
    assert gs1.date_text(date(1977, 1, 1), today=today) == "770101"
