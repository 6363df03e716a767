"""Identifiers in EPCIS documents: our URNs, GS1 EPC URIs and Digital Link, both ways."""

from __future__ import annotations

import pytest

from graph.epcis_ids import (
    Identity,
    UnknownIdentifier,
    digital_link,
    gtin_check_digit,
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
    assert gtin_check_digit("0950600013435") == "2"  # GS1's example GTIN 09506000134352
    assert gtin_check_digit("400638133393") == "1"  # EAN-13 4006381333931
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
    lot = digital_link("09506000134352", lot="L 1/2")
    assert lot == "https://id.gs1.org/01/09506000134352/10/L%201%2F2"
    assert parse(lot) == Identity("gs1", "lgtin", "L 1/2", "09506000134352")
    serial = digital_link("9506000134352", serial="SN-1")
    assert parse(serial) == Identity("gs1", "sgtin", "SN-1", "09506000134352")
    # Another resolver's domain and path prefix read the same.
    assert parse("https://example.com/dl/01/09506000134352/21/SN-1") == parse(serial)


@pytest.mark.parametrize(
    "value",
    [
        "https://id.gs1.org/01/09506000134353/21/SN-1",  # bad check digit
        "https://example.com/products/42",
        "urn:epc:id:sgtin:9506000.13435.1",  # one digit short
        "urn:epc:id:giai:9506000.1",
        "urn:example:widget:42",
        "urn:tracegraph:lot",
    ],
)
def test_what_is_not_an_identifier_we_read_is_refused(value: str) -> None:
    with pytest.raises(UnknownIdentifier):
        parse(value)
