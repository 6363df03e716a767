"""Identifiers in EPCIS documents: our own URNs, GS1 EPC URIs and GS1 Digital Link URIs.

Our items and places are `urn:tracegraph:{kind}:{key}` with the key percent-encoded, so any key
round-trips. GS1 identities are read in both spellings EPCIS allows (EPC URIs such as
`urn:epc:id:sgtin:...` and Digital Link URIs such as `https://id.gs1.org/01/{gtin}/21/{serial}`)
and written as Digital Link, which needs no GS1 company prefix length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from ingest import gs1

PREFIX = "urn:tracegraph:"
DIGITAL_LINK = "https://id.gs1.org"
# Characters a URN's namespace-specific string may hold besides unreserved ones (RFC 8141).
_URN_SAFE = "!$&'()*+,;=:@"
# ASCII digits only: \d takes any script's, which int() reads too, and $ a final newline.
_DIGITS = re.compile(r"[0-9]+")
_EPC = re.compile(r"^urn:epc:(id|class):([a-z]+):(.+)$")
# Digital Link primary keys other than a GTIN's (ingest.gs1 reads those), and their lengths.
_DL_KEYS = {"00": ("sscc", 18), "414": ("gln", 13), "417": ("party_gln", 13), "8003": ("grai", 0)}
# The parts of each EPC URI we read (GS1 TDS), to say which one a URI lacks.
_EPC_PARTS = {
    "sgtin": ("company prefix", "item reference", "serial"),
    "lgtin": ("company prefix", "item reference", "lot"),
    "sscc": ("company prefix", "serial reference"),
    "grai": ("company prefix", "asset type", "serial"),
    "sgln": ("company prefix", "location reference"),
    "pgln": ("company prefix", "party reference"),
}


class UnknownIdentifier(ValueError):
    """A URI that names none of the things an EPCIS document can mean to us."""


@dataclass(frozen=True, slots=True)
class Identity:
    """What a URI names: an item of ours, a GS1 key, or a place or party.

    `scheme` is "tracegraph" (then `kind` is one of our node kinds or "site", "event",
    "operation"), or a GS1 key kind: "lgtin" (a lot of a GTIN), "sgtin" (a serial of a GTIN),
    "gtin" (a product class without a lot), "sscc", "grai", "gln", "party_gln". `lot` is the
    lot a Digital Link names beside a serial: the GTIN and serial name the item, and the lot is
    its context, not part of its identity (GS1 GS 3.4.1).
    """

    scheme: str
    kind: str
    key: str
    gtin: str | None = None
    lot: str | None = None


def uri(kind: str, key: str) -> str:
    """Return the URN of one of our things (`urn:tracegraph:lot:L-1`)."""
    return f"{PREFIX}{kind}:{quote(key, safe=_URN_SAFE)}"


def valid_check_digit(digits: str) -> bool:
    """Tell whether a GS1 key (GTIN, GLN, SSCC) is all digits with a right check digit."""
    return _DIGITS.fullmatch(digits) is not None and gs1.check_digit(digits[:-1]) == digits[-1]


def digital_link(gtin: str, *, lot: str | None = None, serial: str | None = None) -> str | None:
    """Return the Digital Link URI of a lot or serial of a GTIN, or None if GS1 cannot say it.

    A lot or serial number GS1 keys cannot hold (longer than 20, or characters outside the AI 82
    set) has no GS1 identity: it keeps our URN.
    """
    values = {"01": gtin.rjust(14, "0")}
    if lot is not None:
        values["10"] = lot
    if serial is not None:
        values["21"] = serial
    try:
        return gs1.from_values(values).digital_link(DIGITAL_LINK)
    except gs1.Gs1Error:
        return None


def parse(value: str) -> Identity:
    """Say what a URI names, or raise UnknownIdentifier explaining what would be understood."""
    if value.startswith(PREFIX):
        kind, sep, key = value[len(PREFIX) :].partition(":")
        if not sep or not kind or not key:
            raise UnknownIdentifier(f"{value!r} is not urn:tracegraph:KIND:KEY")
        return Identity("tracegraph", kind, unquote(key))
    if match := _EPC.match(value):
        return _epc(value, match.group(1), match.group(2), match.group(3))
    if value[:8].lower().startswith(("https://", "http://")):  # a URI's scheme has no case
        return _digital_link(value)
    raise UnknownIdentifier(
        f"{value!r} is not an identifier we read: use urn:tracegraph:..., a GS1 EPC URI "
        "(urn:epc:id:sgtin:..., urn:epc:class:lgtin:..., urn:epc:id:sscc:...) "
        "or a GS1 Digital Link URI"
    )


def _epc(value: str, category: str, scheme: str, body: str) -> Identity:
    # A lot class is urn:epc:class:lgtin; every other scheme we read names an instance.
    if category != _category(scheme):
        raise UnknownIdentifier(f"{value!r}: {scheme} is urn:epc:{_category(scheme)}:{scheme}:...")
    # The last component (serial, lot, extension) may itself hold dots (GS1 TDS, GS3A3).
    parts = body.split(".", 2)
    if scheme in ("sgtin", "lgtin") and len(parts) == 3 and parts[2]:
        prefix, item_ref, rest = parts
        gtin = _gs1_key(value, item_ref[:1] + prefix + item_ref[1:], 14)
        kind = "sgtin" if scheme == "sgtin" else "lgtin"
        return Identity("gs1", kind, unquote(rest), gtin)
    if scheme == "sscc" and len(parts) == 2:
        prefix, serial_ref = parts
        sscc = _gs1_key(value, serial_ref[:1] + prefix + serial_ref[1:], 18)
        return Identity("gs1", "sscc", sscc)
    if scheme == "grai" and len(parts) == 3:
        prefix, asset_type, serial = parts
        grai = _gs1_key(value, "0" + prefix + asset_type, 14)
        return Identity("gs1", "grai", f"{grai}{unquote(serial)}")
    if scheme in ("sgln", "pgln") and len(parts) in (2, 3):
        gln = _gs1_key(value, parts[0] + parts[1], 13)
        return Identity("gs1", "gln" if scheme == "sgln" else "party_gln", gln)
    names = _EPC_PARTS.get(scheme)
    if names is None:
        raise UnknownIdentifier(
            f"{value!r}: EPC scheme {scheme!r} is not one we read ({', '.join(_EPC_PARTS)})"
        )
    given = [part for part in parts if part]
    shape = ".".join(f"{{{name}}}" for name in names)
    lacks = f"has no {names[len(given)]}" if len(given) < len(names) else "has too many parts"
    raise UnknownIdentifier(f"{value!r} {lacks}: urn:epc:{category}:{scheme}:{shape}")


def _category(scheme: str) -> str:
    return "class" if scheme == "lgtin" else "id"


def _gs1_key(value: str, digits: str, length: int) -> str:
    """Complete a GS1 key from the digits of an EPC URI with its check digit."""
    if len(digits) != length - 1 or _DIGITS.fullmatch(digits) is None:
        raise UnknownIdentifier(f"{value!r}: the GS1 key digits do not add up to {length}")
    return digits + gs1.check_digit(digits)


def _digital_link(value: str) -> Identity:
    segments = [unquote(s) for s in urlsplit(value).path.split("/") if s]
    if "01" in segments:
        try:
            data = gs1.parse_digital_link(value)
        except gs1.Gs1Error as error:
            raise UnknownIdentifier(f"{value!r}: {error.message}") from error
        gtin = str(data.gtin)
        if data.serial is not None:
            return Identity("gs1", "sgtin", data.serial, gtin, data.lot)
        if data.lot is not None:
            return Identity("gs1", "lgtin", data.lot, gtin)
        return Identity("gs1", "gtin", gtin, gtin)
    # Other primary keys end the path: `/{AI}/{key}` (a resolver's own path may come first).
    if len(segments) >= 2 and segments[-2] in _DL_KEYS:
        kind, length = _DL_KEYS[segments[-2]]
        key = segments[-1]
        if length and (len(key) != length or not valid_check_digit(key)):
            raise UnknownIdentifier(f"{value!r}: {key!r} is not a valid {kind.upper()}")
        if kind == "grai" and not _valid_grai(key):
            raise UnknownIdentifier(
                f"{value!r}: {key!r} is not a valid GRAI (0, 13 digits with their check digit, "
                "then up to 16 characters of serial)"
            )
        return Identity("gs1", kind, key)
    raise UnknownIdentifier(f"{value!r} is not a GS1 Digital Link URI we read")


def _valid_grai(key: str) -> bool:
    """AI (8003): a filler 0, the 13 digits of the asset type with its check digit, a serial."""
    serial = key[14:]
    return (
        key[:1] == "0"
        and valid_check_digit(key[1:14])
        and len(serial) <= 16
        and all(char in gs1.AI82 for char in serial)
    )
