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

PREFIX = "urn:tracegraph:"
DIGITAL_LINK = "https://id.gs1.org"
# Characters a URN's namespace-specific string may hold besides unreserved ones (RFC 8141).
_URN_SAFE = "!$&'()*+,;=:@"
_DIGITS = re.compile(r"^\d+$")
_EPC = re.compile(r"^urn:epc:(id|class):([a-z]+):(.+)$")
# Digital Link primary keys and the key qualifiers we read (GS1 Digital Link 1.2).
_DL_KEYS = {"01": "gtin", "00": "sscc", "8003": "grai", "414": "gln", "417": "party_gln"}
_DL_QUALIFIERS = {"10": "lot", "21": "serial", "254": "extension"}


class UnknownIdentifier(ValueError):
    """A URI that names none of the things an EPCIS document can mean to us."""


@dataclass(frozen=True, slots=True)
class Identity:
    """What a URI names: an item of ours, a GS1 key, or a place or party.

    `scheme` is "tracegraph" (then `kind` is one of our node kinds or "site", "event",
    "operation"), or a GS1 key kind: "lgtin" (a lot of a GTIN), "sgtin" (a serial of a GTIN),
    "gtin" (a product class without a lot), "sscc", "grai", "gln", "party_gln".
    """

    scheme: str
    kind: str
    key: str
    gtin: str | None = None


def uri(kind: str, key: str) -> str:
    """Return the URN of one of our things (`urn:tracegraph:lot:L-1`)."""
    return f"{PREFIX}{kind}:{quote(key, safe=_URN_SAFE)}"


def gtin_check_digit(body: str) -> str:
    """Return the GS1 mod-10 check digit of the digits `body` (a GTIN, GLN or SSCC less one)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str(-total % 10)


def valid_check_digit(digits: str) -> bool:
    """Tell whether a GS1 key (GTIN, GLN, SSCC) is all digits with a right check digit."""
    return _DIGITS.match(digits) is not None and gtin_check_digit(digits[:-1]) == digits[-1]


def gtin14(gtin: str) -> str:
    """Return a GTIN padded to the 14 digits Digital Link uses."""
    return gtin.rjust(14, "0")


def digital_link(gtin: str, *, lot: str | None = None, serial: str | None = None) -> str:
    """Return the Digital Link URI of a product, a lot of it, or one serial of it."""
    path = f"{DIGITAL_LINK}/01/{gtin14(gtin)}"
    if lot is not None:
        path += f"/10/{quote(lot, safe='')}"
    if serial is not None:
        path += f"/21/{quote(serial, safe='')}"
    return path


def parse(value: str) -> Identity:
    """Say what a URI names, or raise UnknownIdentifier explaining what would be understood."""
    if value.startswith(PREFIX):
        kind, sep, key = value[len(PREFIX) :].partition(":")
        if not sep or not kind or not key:
            raise UnknownIdentifier(f"{value!r} is not urn:tracegraph:KIND:KEY")
        return Identity("tracegraph", kind, unquote(key))
    if match := _EPC.match(value):
        return _epc(value, match.group(2), match.group(3))
    if value.startswith(("https://", "http://")):
        return _digital_link(value)
    raise UnknownIdentifier(
        f"{value!r} is not an identifier we read: use urn:tracegraph:..., a GS1 EPC URI "
        "(urn:epc:id:sgtin:..., urn:epc:class:lgtin:..., urn:epc:id:sscc:...) "
        "or a GS1 Digital Link URI"
    )


def _epc(value: str, scheme: str, body: str) -> Identity:
    parts = body.split(".")
    if scheme in ("sgtin", "lgtin") and len(parts) == 3:
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
    raise UnknownIdentifier(
        f"{value!r}: EPC scheme {scheme!r} is not one we read "
        "(sgtin, lgtin, sscc, grai, sgln, pgln)"
    )


def _gs1_key(value: str, digits: str, length: int) -> str:
    """Complete a GS1 key from the digits of an EPC URI with its check digit."""
    if len(digits) != length - 1 or _DIGITS.match(digits) is None:
        raise UnknownIdentifier(f"{value!r}: the GS1 key digits do not add up to {length}")
    return digits + gtin_check_digit(digits)


def _digital_link(value: str) -> Identity:
    segments = [unquote(s) for s in urlsplit(value).path.split("/") if s]
    # A Digital Link's path ends in `/{primary AI}/{key}` plus `/{qualifier AI}/{value}` pairs;
    # whatever comes before (a resolver's own path) is skipped.
    for start in range(len(segments) - 1):
        ai = segments[start]
        if ai in _DL_KEYS and (len(segments) - start) % 2 == 0:
            pairs = dict(zip(segments[start + 2 :: 2], segments[start + 3 :: 2], strict=True))
            if all(q in _DL_QUALIFIERS for q in pairs):
                return _dl_identity(value, _DL_KEYS[ai], segments[start + 1], pairs)
    raise UnknownIdentifier(f"{value!r} is not a GS1 Digital Link URI we read")


def _dl_identity(value: str, kind: str, key: str, qualifiers: dict[str, str]) -> Identity:
    lengths = {"gtin": (8, 12, 13, 14), "sscc": (18,), "gln": (13,), "party_gln": (13,)}
    if kind in lengths and (len(key) not in lengths[kind] or not valid_check_digit(key)):
        raise UnknownIdentifier(f"{value!r}: {key!r} is not a valid {kind.upper()}")
    if kind != "gtin":
        return Identity("gs1", kind, key)
    gtin = gtin14(key)
    if "21" in qualifiers:
        return Identity("gs1", "sgtin", qualifiers["21"], gtin)
    if "10" in qualifiers:
        return Identity("gs1", "lgtin", qualifiers["10"], gtin)
    return Identity("gs1", "gtin", gtin, gtin)
