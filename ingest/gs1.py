"""GS1 identifiers: GTIN and SSCC check digits, element strings as scanned, and Digital Link URIs.

Pure functions, no I/O. Element strings come in the forms scanners and people produce: the raw
data of a GS1-128, DataMatrix, QR or DataBar symbol (an optional symbology identifier such as
`]d2`, then application identifiers with FNC1 sent as the ASCII group separator), or the
human-readable form `(01)09506000134352(17)201225(10)ABC123`.
"""

from __future__ import annotations

import calendar
import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal
from urllib.parse import quote, unquote, urlsplit

from graph.errors import BadRequest

GS: Final = "\x1d"  # FNC1 as a scanner transmits it between variable-length fields
SYMBOLOGY_IDS: Final = ("]C1", "]d2", "]Q3", "]e0", "]J1")
# GS1 General Specifications, figure 7.11-2: the AI 82 character set for lots and serials.
AI82: Final = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
DIGITS: Final = frozenset("0123456789")
# AIs whose first two digits fix their length, so no separator follows them (GS1 GS 7.8.5).
PREDEFINED_LENGTH_PREFIXES: Final = frozenset(
    {"00", "01", "02", "03", "04", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20"}
    | {str(n) for n in range(31, 37)}
    | {"41"}
)

Kind = Literal["gtin", "sscc", "date", "x", "n"]


@dataclass(frozen=True, slots=True)
class AI:
    """An application identifier: its data's kind, length (fixed or maximum) and title."""

    code: str
    kind: Kind
    length: int
    fixed: bool
    title: str


AIS: Final[dict[str, AI]] = {
    ai.code: ai
    for ai in (
        AI("00", "sscc", 18, True, "SSCC"),
        AI("01", "gtin", 14, True, "GTIN"),
        AI("02", "gtin", 14, True, "CONTENT"),
        AI("10", "x", 20, False, "BATCH/LOT"),
        AI("11", "date", 6, True, "PROD DATE"),
        AI("13", "date", 6, True, "PACK DATE"),
        AI("15", "date", 6, True, "BEST BEFORE or BEST BY"),
        AI("16", "date", 6, True, "SELL BY"),
        AI("17", "date", 6, True, "USE BY OR EXPIRY"),
        AI("21", "x", 20, False, "SERIAL"),
        AI("30", "n", 8, False, "VAR. COUNT"),
        AI("37", "n", 8, False, "COUNT"),
        AI("240", "x", 30, False, "ADDITIONAL ID"),
    )
}
# GS1 Digital Link: key qualifiers of a GTIN, in the order the path must give them.
GTIN_QUALIFIERS: Final = ("10", "21")
# Where emitted strings put each AI: keys, then fixed-length data, then variable-length data.
EMIT_ORDER: Final = ("00", "01", "02", "11", "13", "15", "16", "17", "10", "21", "30", "37", "240")
# Dates whose day 00 is the last day of the month (GS1 GS 3.4.5-3.4.7: best before, sell by,
# expiry); in the others (production, packaging) 00 says the day is not given.
LAST_DAY_AIS: Final = frozenset({"15", "16", "17"})


class Gs1Error(BadRequest):
    """A GS1 identifier that does not parse or does not check."""

    code = "bad_identifier"


@dataclass(frozen=True, slots=True)
class Gs1Month:
    """The month of a date field whose day is not given (DD 00 of a production date, say)."""

    year: int
    month: int

    def isoformat(self) -> str:
        """Return the month as ISO 8601 writes a calendar month: YYYY-MM."""
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class Gs1Data:
    """What a GS1 identifier says, AI by AI; dates are checked, values kept as their text."""

    values: dict[str, str] = field(default_factory=dict)

    @property
    def gtin(self) -> str | None:
        return self.values.get("01")

    @property
    def lot(self) -> str | None:
        return self.values.get("10")

    @property
    def serial(self) -> str | None:
        return self.values.get("21")

    @property
    def sscc(self) -> str | None:
        return self.values.get("00")

    @property
    def expiry(self) -> date | None:
        text = self.values.get("17")
        found = None if text is None else gs1_date(text, "17")
        return found if isinstance(found, date) else None  # a day always (LAST_DAY_AIS)

    @property
    def production(self) -> date | Gs1Month | None:
        text = self.values.get("11")
        return None if text is None else gs1_date(text, "11")

    def element_string(self, *, symbology: str = "") -> str:
        """Return the element string a symbol encodes, FNC1 as the group separator."""
        out: list[str] = []
        ordered = _ordered(self.values)
        for index, (ai, value) in enumerate(ordered):
            out.append(ai + value)
            last = index == len(ordered) - 1
            if not last and ai[:2] not in PREDEFINED_LENGTH_PREFIXES:
                out.append(GS)
        return symbology + "".join(out)

    def human_readable(self) -> str:
        """Return the bracketed form printed under a barcode (see `readable`)."""
        return "".join(f"({ai}){value}" for ai, value in _ordered(self.values))

    def readable(self) -> str | None:
        """Return the bracketed form if it reads back as these values, else None.

        The form has no escapes: a lot holding "(21)" or "(17)" reads as a shorter lot and
        another AI, one holding "(10)" or "(99)" not at all. Only the element string and the
        Digital Link say where such a value ends.
        """
        text = self.human_readable()
        try:
            return text if parse_element_string(text) == self else None
        except Gs1Error:
            return None

    def digital_link(self, domain: str = "https://id.gs1.org") -> str:
        """Return the GS1 Digital Link URI on `domain` (which may carry a path prefix)."""
        if self.gtin is None:
            raise Gs1Error("a Digital Link needs a GTIN (AI 01)")
        path = [domain.rstrip("/"), "01", self.gtin]
        for ai in GTIN_QUALIFIERS:
            value = self.values.get(ai)
            if value is not None:
                path += [ai, quote(value, safe="")]
        query = [
            f"{ai}={quote(value, safe='')}"
            for ai, value in _ordered(self.values)
            if ai not in ("01", *GTIN_QUALIFIERS)
        ]
        return "/".join(path) + ("?" + "&".join(query) if query else "")


def _ordered(values: dict[str, str]) -> list[tuple[str, str]]:
    rank = {ai: i for i, ai in enumerate(EMIT_ORDER)}
    return sorted(values.items(), key=lambda item: rank.get(item[0], len(rank)))


# -- check digits


def check_digit(body: str) -> str:
    """Return the GS1 mod-10 check digit of the digits before it (GTIN, SSCC, GLN)."""
    total = 0
    for offset, char in enumerate(reversed(body)):
        total += int(char) * (3 if offset % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def _where(ai: str | None, at: int | None) -> str:
    """Name an AI and its position in a URI, as far as they are known."""
    named = "a query parameter" if ai is None else f"AI ({ai})"
    return named + ("" if at is None else f" at position {at}")


def _trimmed(text: str) -> tuple[str, int]:
    """Return `text` without the white space a scanner or a paste puts around it, and how many
    characters went from its start: positions count in what was scanned.

    A group separator (FNC1) is white space to str.strip(). After the code it goes with the
    rest (scanners commonly end a code with one, or with CR/LF): nothing follows to be
    separated. Before it, it is the leading FNC1 the element string reads (and counts), so
    it stays.
    """
    kept = text.rstrip()  # the same string, as scanned, most often
    start = 0
    while start < len(kept) and kept[start].isspace() and kept[start] != GS:
        start += 1
    return kept[start:], start


def _char_at(index: int, value_at: int | None, offsets: Sequence[int] | None) -> int:
    """Return where character `index` of a value was scanned; within the value (from 1) when
    it was given by itself."""
    if offsets is not None:
        return offsets[index]
    return index + 1 if value_at is None else value_at + index


def _separator(
    where: str, title: str, value: str, value_at: int | None, offsets: Sequence[int] | None
) -> Gs1Error:
    """Return the error for a group separator (FNC1) in a value of digits, naming where it was
    scanned: it is one sent too early, not a character of the value."""
    at = _char_at(value.index(GS), value_at, offsets)
    return Gs1Error(
        f"{where}: a group separator (FNC1) at position {at}, where a digit of {title} belongs"
    )


def normalise_gtin(
    text: str,
    *,
    ai: str = "01",
    position: int | None = None,
    value_at: int | None = None,
    offsets: Sequence[int] | None = None,
) -> str:
    """Return a GTIN-8/12/13/14 as a checked GTIN-14, or raise naming the expected digit.

    `position`, `value_at` and `offsets` say where the AI and the digits were scanned, as for
    `check_value`.
    """
    where = _where(ai, position)
    if GS in text:
        raise _separator(where, "GTIN", text, value_at, offsets)
    if not text or any(char not in DIGITS for char in text):
        raise Gs1Error(f"{where}: a GTIN is digits only, got {text!r}")
    if len(text) not in (8, 12, 13, 14):
        raise Gs1Error(f"{where}: a GTIN has 8, 12, 13 or 14 digits, got {len(text)}")
    expected = check_digit(text[:-1])
    if text[-1] != expected:
        raise Gs1Error(
            f"{where}: GTIN {text} has check digit {text[-1]}, expected {expected} "
            f"(position {_char_at(len(text) - 1, value_at, offsets)})"
        )
    return text.rjust(14, "0")


def with_check_digit(body: str) -> str:
    """Return `body` (digits) followed by its check digit."""
    if not body or any(char not in DIGITS for char in body):
        raise Gs1Error(f"a GTIN body is digits only, got {body!r}")
    return body + check_digit(body)


def gs1_date(text: str, ai: str, *, position: int | None = None) -> date | Gs1Month:
    """Return the date of a YYMMDD field. DD 00 is the last day of the month in a best before,
    sell-by or expiry date, and the month alone (no day given) in the others."""
    where = _where(ai, position)
    if len(text) != 6 or any(char not in DIGITS for char in text):
        raise Gs1Error(f"{where}: a date is six digits YYMMDD, got {text!r}")
    year = _century(int(text[:2])) + int(text[:2])
    month, day = int(text[2:4]), int(text[4:6])
    if not 1 <= month <= 12:
        raise Gs1Error(f"{where}: month {text[2:4]} of {text!r} is not 01-12")
    last = calendar.monthrange(year, month)[1]
    if day == 0:
        return date(year, month, last) if ai in LAST_DAY_AIS else Gs1Month(year, month)
    if day > last:
        raise Gs1Error(
            f"{where}: day {text[4:6]} of {text!r} is past the end of the month: "
            f"{year:04d}-{month:02d} has {last} days"
        )
    return date(year, month, day)


def reading_window(today: date | None = None) -> tuple[int, int]:
    """Return the first and last year a two-digit year reads as today: the GS1 sliding window
    (GS1 GS 7.12), 49 years back to 50 ahead."""
    now = (today or date.today()).year
    return now - 49, now + 50


def _century(yy: int, today: date | None = None) -> int:
    """Pick the century of a two-digit year: the one year of the reading window ending in it."""
    first, _ = reading_window(today)
    return first + (yy - first) % 100 - yy


def date_text(value: date, ai: str = "17", *, today: date | None = None) -> str:
    """Return a date as YYMMDD, refusing one whose two-digit year reads as another year."""
    first, last = reading_window(today)
    if not first <= value.year <= last:
        raise Gs1Error(
            f"AI ({ai}): {value.isoformat()} has no YYMMDD form: two-digit years read as "
            f"{first} to {last} (GS1 GS 7.12)"
        )
    return f"{value.year % 100:02d}{value.month:02d}{value.day:02d}"


# -- values


def check_value(
    ai: str,
    value: str,
    *,
    position: int | None = None,
    value_at: int | None = None,
    offsets: Sequence[int] | None = None,
) -> str:
    """Check one AI's value against its kind and length; return it (GTINs as GTIN-14).

    `position` is where the AI starts in the scanned text and `value_at` where its value does
    (by default right after the AI), both counted from 1. `offsets`, where given, says where
    each character of the value is instead (a percent-encoded value is longer than it reads).
    """
    spec = AIS.get(ai)
    where = _where(ai, position)
    if spec is None:
        raise Gs1Error(f"{where}: unknown or unsupported application identifier")
    if value_at is None and position is not None:
        value_at = position + len(ai)
    if spec.kind != "x" and GS in value:
        raise _separator(where, spec.title, value, value_at, offsets)
    if spec.fixed and len(value) != spec.length:
        raise Gs1Error(f"{where}: {spec.title} has {spec.length} characters, got {len(value)}")
    if not spec.fixed and not 1 <= len(value) <= spec.length:
        raise Gs1Error(f"{where}: {spec.title} has 1 to {spec.length} characters, got {len(value)}")
    if spec.kind == "gtin":
        return normalise_gtin(value, ai=ai, position=position, value_at=value_at, offsets=offsets)
    if spec.kind == "sscc":
        if any(char not in DIGITS for char in value):
            raise Gs1Error(f"{where}: an SSCC is digits only")
        expected = check_digit(value[:-1])
        if value[-1] != expected:
            raise Gs1Error(
                f"{where}: SSCC {value} has check digit {value[-1]}, expected {expected} "
                f"(position {_char_at(len(value) - 1, value_at, offsets)})"
            )
    elif spec.kind == "date":
        gs1_date(value, ai, position=position)
    elif spec.kind == "n":
        if any(char not in DIGITS for char in value):
            raise Gs1Error(f"{where}: {spec.title} is digits only, got {value!r}")
    else:
        scanned = offsets is not None or value_at is not None
        for offset, char in enumerate(value):
            if char not in AI82:
                # A value given by itself names no position: it would read as the AI's.
                at = f" at position {_char_at(offset, value_at, offsets)}" if scanned else ""
                raise Gs1Error(
                    f"AI ({ai}){at}: character {char!r} is not allowed in {spec.title} "
                    "(GS1 AI 82 set: letters, digits and !\"%&'()*+,-./:;<=>?_)"
                )
    return value


def from_values(values: dict[str, str]) -> Gs1Data:
    """Check and collect AI values given by hand (GTIN normalised to 14 digits)."""
    checked = {ai: check_value(ai, value) for ai, value in values.items()}
    _check_pairs(checked)
    return Gs1Data(checked)


# GS1 General Specifications 4.14: AIs that may not appear together, and what each AI needs
# beside it: one of the alternatives, each of whose AIs (the GS1 Barcode Syntax Dictionary's req=).
INVALID_PAIRS: Final = (("01", "02"), ("01", "37"))
NEEDS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "02": (("37",),),  # the GTIN of contained items, with their count
    # A count of the trade items of GTIN (02) a logistic unit (00) holds: not of a trade item.
    "37": (("00", "02"),),
    "10": (("01",), ("02",)),
    "11": (("01",), ("02",)),
    "13": (("01",), ("02",)),
    "15": (("01",), ("02",)),
    "16": (("01",), ("02",)),
    "17": (("01",), ("02",)),
    "21": (("01",),),  # a serial belongs to one trade item
    "30": (("01",), ("02",)),
    "240": (("01",), ("02",)),
}


def _check_pairs(values: dict[str, str]) -> None:
    for first, second in INVALID_PAIRS:
        if first in values and second in values:
            raise Gs1Error(f"AI ({first}) and AI ({second}) may not appear together")
    for ai, needed in NEEDS.items():
        if ai in values and not any(all(other in values for other in one) for one in needed):
            which = " or ".join(" and ".join(f"AI ({other})" for other in one) for one in needed)
            if needed[0] == ("01",):
                which = f"the GTIN it belongs to ({which})"
            raise Gs1Error(f"AI ({ai}) {AIS[ai].title} needs {which}")


# -- element strings


def parse_element_string(text: str) -> Gs1Data:
    """Parse a scanned element string (raw or bracketed); raise naming the AI and position."""
    # Positions in messages count from the start of the code as scanned, prefixes included.
    raw, skipped = _trimmed(text)
    if not raw:
        raise Gs1Error("an empty code")
    for symbology in SYMBOLOGY_IDS:
        if raw.startswith(symbology):
            raw = raw[len(symbology) :]
            skipped += len(symbology)
            break
    else:
        if raw.startswith("]"):
            raise Gs1Error(f"symbology identifier {raw[:3]!r} is not a GS1 one")
    if raw.startswith(GS):  # some scanners send the leading FNC1 too
        raw = raw[1:]
        skipped += 1
    if not raw:
        raise Gs1Error("an empty code")
    values = _parse_bracketed(raw, skipped) if raw.startswith("(") else _parse_raw(raw, skipped)
    _check_pairs(values)
    return Gs1Data(values)


def _read_ai(raw: str, position: int, skipped: int) -> str:
    for width in (2, 3, 4):
        candidate = raw[position : position + width]
        if candidate in AIS:
            return candidate
    shown = raw[position : position + 4]
    raise Gs1Error(
        f"unknown or unsupported application identifier {shown!r} at position "
        f"{skipped + position + 1}"
    )


def _parse_raw(raw: str, skipped: int) -> dict[str, str]:
    values: dict[str, str] = {}
    position = 0
    while position < len(raw):
        ai = _read_ai(raw, position, skipped)
        spec = AIS[ai]
        start = position + len(ai)
        at = skipped + position + 1
        if spec.fixed:
            end = start + spec.length
            if raw.find(GS, start, end) >= 0:  # sent too early, before the field is whole
                value = raw[start:end]
                raise _separator(_where(ai, at), spec.title, value, skipped + start + 1, None)
            if end > len(raw):
                raise Gs1Error(
                    f"AI ({ai}) at position {at}: {spec.title} needs {spec.length} "
                    f"characters, only {len(raw) - start} left"
                )
            next_at = end
            if raw[end : end + 1] == GS:  # a separator after a fixed field is tolerated
                next_at = end + 1
        else:
            separator = raw.find(GS, start)
            end = len(raw) if separator < 0 else separator
            next_at = end + 1 if separator >= 0 else end
            if end - start > spec.length:
                raise Gs1Error(
                    f"AI ({ai}) at position {at}: {spec.title} is at most "
                    f"{spec.length} characters, got {end - start} (a group separator is missing "
                    "after a variable-length field when another AI follows)"
                )
        value = raw[start:end]
        if ai in values:
            raise Gs1Error(f"AI ({ai}) at position {at} appears twice")
        values[ai] = check_value(ai, value, position=at)
        position = next_at
    return values


def _parse_bracketed(raw: str, skipped: int) -> dict[str, str]:
    values: dict[str, str] = {}
    position = 0
    while position < len(raw):
        at = skipped + position + 1
        if raw[position] != "(":
            raise Gs1Error(f"expected '(' starting an AI at position {at}")
        close = raw.find(")", position)
        ai = raw[position + 1 : close] if close > 0 else ""
        if not ai or ai not in AIS:
            raise Gs1Error(
                f"unknown or unsupported application identifier {ai or raw[position:]!r} "
                f"at position {at}"
            )
        start = close + 1
        end = _next_bracket(raw, start)
        if ai in values:
            raise Gs1Error(f"AI ({ai}) at position {at} appears twice")
        values[ai] = check_value(ai, raw[start:end], position=at, value_at=skipped + start + 1)
        position = end
    return values


def _next_bracket(raw: str, start: int) -> int:
    """Find where the next `(AI)` begins; brackets around anything but 2-4 digits are data."""
    at = raw.find("(", start)
    while at >= 0:
        close = raw.find(")", at)
        inside = raw[at + 1 : close] if close > 0 else ""
        if 2 <= len(inside) <= 4 and all(char in DIGITS for char in inside):
            return at
        at = raw.find("(", at + 1)
    return len(raw)


# -- Digital Link


def parse_digital_link(uri: str) -> Gs1Data:
    """Parse a GS1 Digital Link URI on any domain and path prefix.

    Errors name the AI and, where the URI reads as written, the position in it (counted from
    1, as in element strings).
    """
    text, lead = _trimmed(uri)
    try:
        parts = urlsplit(text)
    except ValueError as error:  # an unclosed [ of an IPv6 host, say
        raise Gs1Error(f"not a URI: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Gs1Error("a Digital Link is an http(s) URI with a domain")
    segments = parts.path.split("/")
    try:
        start = next(
            i
            for i in range(len(segments) - 1)
            if segments[i] == "01" and _qualifier_tail(segments[i + 2 :])
        )
    except StopIteration:
        raise Gs1Error(
            "no GTIN path in the Digital Link: expected /01/{gtin}[/10/{lot}][/21/{serial}]"
        ) from None
    path_at, query_at = _offsets(text, parts.scheme, parts.netloc, parts.path, parts.query)
    path_at = None if path_at is None else lead + path_at
    query_at = None if query_at is None else lead + query_at
    at: list[int | None] = []  # where each path segment starts
    for segment in segments:
        at.append(path_at)
        path_at = None if path_at is None else path_at + len(segment) + 1
    gtin, offsets = _unescaped(segments[start + 1], "01", at[start + 1])
    # The path may carry a GTIN-8, -12 or -13; the element string always takes 14 digits.
    values: dict[str, str] = {
        "01": normalise_gtin(gtin, position=at[start], value_at=at[start + 1], offsets=offsets)
    }
    for index in range(start + 2, len(segments), 2):
        ai = segments[index]
        value, offsets = _unescaped(segments[index + 1], ai, at[index + 1])
        values[ai] = check_value(
            ai, value, position=at[index], value_at=at[index + 1], offsets=offsets
        )
    for pair in parts.query.split("&"):
        pair_at = query_at
        query_at = None if query_at is None else query_at + len(pair) + 1
        if not pair:
            continue
        escaped, _, given = pair.partition("=")
        key, _ = _unescaped(escaped, None, pair_at)
        if not key.isdigit():
            continue  # non-GS1 parameters (linkType, ...) are for the resolver
        where = _where(key, pair_at)
        if key in values:
            raise Gs1Error(f"{where} is given twice in the Digital Link")
        if key in ("01", *GTIN_QUALIFIERS):
            raise Gs1Error(f"{where} belongs in the path, not the query")
        value_at = None if pair_at is None else pair_at + len(escaped) + 1
        value, offsets = _unescaped(given, key, value_at)
        values[key] = check_value(key, value, position=pair_at, value_at=value_at, offsets=offsets)
    _check_pairs(values)
    return Gs1Data(values)


def _offsets(
    text: str, scheme: str, netloc: str, path: str, query: str
) -> tuple[int | None, int | None]:
    """Return where the path and the query start in `text` (from 1), or None.

    urlsplit drops tabs and line breaks inside a URI: then positions in what it returns are
    not positions in what was scanned, and errors name the AI alone.
    """
    head = f"{scheme}://{netloc}"
    if text[: len(head)].lower() != head.lower() or not text[len(head) :].startswith(path):
        return None, None
    path_at = len(head) + 1
    query_at = path_at + len(path) + 1
    if text[query_at - 2 : query_at - 1 + len(query)] != "?" + query:
        return path_at, None
    return path_at, query_at


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PIECES = re.compile(r"(?:%[0-9A-Fa-f]{2})+|.", re.DOTALL)


def _unescaped(text: str, ai: str | None, at: int | None) -> tuple[str, list[int] | None]:
    """Undo a URI's percent-encoding, refusing a % that is not followed by two hex digits.

    Return the text and, when `at` (where `text` starts) is known and the text holds escapes,
    where each of its characters is in the URI: a run of escapes is read as UTF-8, as `unquote`
    reads it.
    """
    bad = _BAD_ESCAPE.search(text)
    if bad:
        where = _where(ai, None if at is None else at + bad.start())
        raise Gs1Error(f"{where}: {text!r}: a % in a URI is followed by two hex digits (RFC 3986)")
    if at is None or "%" not in text:  # each character where it is written
        return unquote(text), None
    chars: list[str] = []
    offsets: list[int] = []
    for piece in _PIECES.finditer(text):
        run = piece.group()
        if not run.startswith("%"):
            chars.append(run)
            offsets.append(at + piece.start())
            continue
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        begun = at + piece.start()  # where the bytes of the next character began
        for index in range(0, len(run), 3):
            read = decoder.decode(bytes.fromhex(run[index + 1 : index + 3]))
            chars.extend(read)
            offsets.extend([begun] * len(read))
            if read:
                begun = at + piece.start() + index + 3
        rest = decoder.decode(b"", final=True)
        chars.extend(rest)
        offsets.extend([begun] * len(rest))
    return "".join(chars), offsets


def _qualifier_tail(tail: list[str]) -> bool:
    """True when `tail` is key qualifiers in the order the GTIN takes them."""
    if len(tail) % 2:
        return False
    order = list(GTIN_QUALIFIERS)
    rank = -1
    for ai in tail[::2]:
        if ai not in order or order.index(ai) <= rank:
            return False
        rank = order.index(ai)
    return True


def parse(code: str) -> Gs1Data:
    """Parse any GS1 form: a Digital Link, an element string, or a plain GTIN."""
    text, lead = _trimmed(code)
    if text.lower().startswith(("http://", "https://")):
        return parse_digital_link(code)
    if text.isdigit() and len(text) in (8, 12, 13, 14):
        return Gs1Data({"01": normalise_gtin(text, value_at=lead + 1)})
    return parse_element_string(code)


def udi(
    gtin: str,
    *,
    lot: str | None = None,
    serial: str | None = None,
    expiry: date | None = None,
    production: date | None = None,
) -> Gs1Data:
    """Return the UDI of a device: the GTIN as UDI-DI, lot, serial and dates as UDI-PI."""
    values = {"01": gtin}
    if expiry is not None:
        values["17"] = date_text(expiry, "17")
    if production is not None:
        values["11"] = date_text(production, "11")
    if lot is not None:
        values["10"] = lot
    if serial is not None:
        values["21"] = serial
    return from_values(values)
