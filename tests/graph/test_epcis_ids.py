"""Identifiers in EPCIS documents: our URNs, GS1 EPC URIs and Digital Link, both ways."""

from __future__ import annotations

import pytest

from graph.epcis_ids import (
    Identity,
    UnknownIdentifier,
    digital_link,
    parse,
    uri,
    valid_check_digit,
)


@pytest.mark.parametrize("key", ["L-1", "lot with spaces", "a/b:c%d", "ünïcode", "#?&=+"])
def test_our_urns_round_trip_any_key(key: str) -> None:
    written = uri("lot", key)
    assert " " not in written and "#" not in written and "?" not in written
    assert parse(written) == Identity("tracegraph", "lot", key)


def test_check_digits_follow_gs1() -> None:
    assert valid_check_digit("09506000134352")
    assert not valid_check_digit("09506000134353")


def test_sgtin_and_lgtin_epc_uris_give_the_gtin_with_its_check_digit() -> None:
    assert parse("urn:epc:id:sgtin:9506000.013435.SN%2F7") == Identity(
        "gs1", "sgtin", "SN/7", "09506000134352"
    )
    assert parse("urn:epc:class:lgtin:9506000.013435.LOT-9") == Identity(
        "gs1", "lgtin", "LOT-9", "09506000134352"
    )
    sscc = parse("urn:epc:id:sscc:9506000.0000000001")
    assert (sscc.kind, len(sscc.key), valid_check_digit(sscc.key)) == ("sscc", 18, True)


def test_digital_link_round_trips_lots_and_serials() -> None:
    lot = digital_link("09506000134352", lot="L1/2")
    assert lot == "https://id.gs1.org/01/09506000134352/10/L1%2F2"
    assert parse(lot) == Identity("gs1", "lgtin", "L1/2", "09506000134352")
    serial = digital_link("9506000134352", serial="SN-1")
    assert serial is not None
    assert parse(serial) == Identity("gs1", "sgtin", "SN-1", "09506000134352")
    # Another resolver's domain and path prefix read the same.
    assert parse("https://example.com/dl/01/09506000134352/21/SN-1") == parse(serial)


def test_numbers_gs1_cannot_hold_have_no_digital_link() -> None:
    assert digital_link("09506000134352", lot="L 1") is None  # a space is not in AI 82
    assert digital_link("09506000134352", serial="S" * 21) is None  # longer than 20


@pytest.mark.parametrize(
    "value",
    [
        "https://id.gs1.org/01/09506000134353/21/SN-1",  # bad check digit
        "https://example.com/products/42",
        "urn:epc:id:sgtin:9506000.13435.1",  # one digit short
        "urn:epc:id:giai:9506000.1",
        "urn:example:widget:42",
        "urn:tracegraph:lot",
        "urn:epc:id:lgtin:9506000.013435.L1",  # a lot is a class, not an instance
        "urn:epc:class:sgtin:9506000.013435.1",
        "https://id.gs1.org/8003/03870585000559XYZ",  # GRAI check digit is 2
        "https://id.gs1.org/8003/13870585000552XYZ",  # a GRAI starts with a filler 0
        "https://id.gs1.org/8003/03870585000552" + "S" * 17,  # serial past 16
    ],
)
def test_what_is_not_an_identifier_we_read_is_refused(value: str) -> None:
    with pytest.raises(UnknownIdentifier):
        parse(value)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("urn:epc:class:lgtin:9506000.013435", "has no lot"),
        ("urn:epc:class:lgtin:9506000.013435.", "has no lot"),
        ("urn:epc:id:sgtin:9506000.013435", "has no serial"),
        ("urn:epc:id:sgtin:9506000", "has no item reference"),
        ("urn:epc:id:sscc:9506000", "has no serial reference"),
        ("urn:epc:id:grai:9506000.12345", "has no serial"),
        ("urn:epc:id:pgln:9506000", "has no party reference"),
    ],
)
def test_an_epc_uri_missing_a_part_says_which(value: str, says: str) -> None:
    with pytest.raises(UnknownIdentifier, match=says) as refused:
        parse(value)
    assert "not one we read" not in str(refused.value)


def test_serials_and_lots_of_epc_uris_may_hold_dots() -> None:
    assert parse("urn:epc:id:sgtin:9506000.013435.SN.1") == Identity(
        "gs1", "sgtin", "SN.1", "09506000134352"
    )
    assert parse("urn:epc:class:lgtin:9506000.013435.L.1.2").key == "L.1.2"
    assert parse("urn:epc:id:sgln:9506000.00001.EXT.1").kind == "gln"


def test_a_grai_digital_link_is_checked_and_read_like_its_epc_uri() -> None:
    linked = parse("https://id.gs1.org/8003/03870585000552CART-7")
    assert linked == Identity("gs1", "grai", "03870585000552CART-7")
    assert parse("HTTPS://id.gs1.org/8003/03870585000552CART-7") == linked


# The GLN 9506000000015 with Arabic-Indic digits before its check digit, which int() reads.
ARABIC_GLN = "\u0669\u0665\u0660\u0666\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0661" + "5"


@pytest.mark.parametrize("ai", ["417", "414"])
def test_a_gs1_key_is_ascii_digits(ai: str) -> None:
    assert not valid_check_digit(ARABIC_GLN)
    encoded = "".join(f"%{byte:02X}" for byte in ARABIC_GLN.encode())
    with pytest.raises(UnknownIdentifier, match="is not a valid"):
        parse(f"https://id.gs1.org/{ai}/{encoded}")
