"""Lot code patterns: named, typed, fixed-width fields and literals, matched without regexes.

A pattern such as `{date:YYMMDD}{line:A2}-{seq:N4}{link:X3}` is a sequence of segments, each a
literal character or a field: `N<k>` digits, `A<k>` capital letters, `X<k>` capital letters or
digits, or a date in a format built of `YYYY`, `YY`, `MM`, `DD` and `DDD` (day of the year).
Every position of a code has a set of allowed characters, so two patterns can match a common
code exactly when they have the same length and every position's sets intersect.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final, Literal

from graph.errors import BadRequest

DIGITS: Final = frozenset("0123456789")
LETTERS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
ALNUM: Final = DIGITS | LETTERS
CLASSES: Final = {"N": DIGITS, "A": LETTERS, "X": ALNUM}
CLASS_NAMES: Final = {"N": "a digit", "A": "a capital letter", "X": "a capital letter or digit"}
DATE_TOKENS: Final = ("YYYY", "DDD", "YY", "MM", "DD")  # longest first
MAX_WIDTH: Final = 64
NAME_START: Final = frozenset("abcdefghijklmnopqrstuvwxyz_")
NAME_CHARS: Final = NAME_START | DIGITS
# Literals are printable ASCII other than the braces that delimit fields and spaces.
LITERALS: Final = frozenset(chr(c) for c in range(0x21, 0x7F)) - {"{", "}"}

FieldKind = Literal["N", "A", "X", "date"]


class PatternError(BadRequest):
    """A malformed pattern, or a value that does not fit a field; `field` names where."""

    code = "bad_lot_pattern"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Segment:
    """A literal character (`name` None) or a field of `width` characters at `start`."""

    start: int
    width: int
    name: str | None
    kind: FieldKind | None
    literal: str | None = None
    date_format: tuple[str, ...] = ()

    def allowed(self, offset: int) -> frozenset[str]:
        """Return the characters allowed at `offset` within this segment."""
        if self.literal is not None:
            return frozenset(self.literal)
        return DIGITS if self.kind == "date" else CLASSES[str(self.kind)]

    @property
    def describe(self) -> str:
        if self.literal is not None:
            return f"literal {self.literal!r}"
        if self.kind == "date":
            return f'field "{self.name}" (date {"".join(self.date_format)})'
        return f'field "{self.name}" ({self.kind}{self.width})'


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled pattern: its segments, fixed total length, and per-position character sets."""

    text: str
    segments: tuple[Segment, ...]
    # Per-position character sets, built once: matching is one membership test per character.
    allowed_at: tuple[frozenset[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sets = tuple(s.allowed(i) for s in self.segments for i in range(s.width))
        object.__setattr__(self, "allowed_at", sets)

    @property
    def length(self) -> int:
        return sum(segment.width for segment in self.segments)

    @property
    def fields(self) -> dict[str, Segment]:
        return {s.name: s for s in self.segments if s.name is not None}

    def positions(self) -> list[frozenset[str]]:
        """Return the allowed characters at each position of a code."""
        return list(self.allowed_at)

    def dated(self) -> list[bool]:
        """Return, per position, whether it lies in a date field."""
        return [s.kind == "date" for s in self.segments for _ in range(s.width)]

    def example(self) -> str:
        """Return a code the pattern matches (dates as 2001-01-01), to show in messages."""
        out: list[str] = []
        for segment in self.segments:
            if segment.literal is not None:
                out.append(segment.literal)
            elif segment.kind == "date":
                out.append(write_date(date(2001, 1, 1), segment.date_format, str(segment.name)))
            else:
                out.append(min(CLASSES[str(segment.kind)]) * segment.width)
        return "".join(out)

    def mismatch(self, code: str) -> str | None:
        """Return why `code` does not match (None when it does)."""
        if len(code) != self.length:
            return f"has {len(code)} characters, the pattern {self.length}"
        fits = all(char in allowed for char, allowed in zip(code, self.allowed_at, strict=True))
        for segment in self.segments:
            if fits and segment.kind != "date":
                continue
            for offset in range(segment.width):
                char = code[segment.start + offset]
                if char not in segment.allowed(offset):
                    want = (
                        repr(segment.literal)
                        if segment.literal is not None
                        else CLASS_NAMES["N" if segment.kind == "date" else str(segment.kind)]
                    )
                    return (
                        f"position {segment.start + offset + 1} ({segment.describe}) "
                        f"expects {want}, got {char!r}"
                    )
            if segment.kind == "date":
                value = code[segment.start : segment.start + segment.width]
                try:
                    read_date(value, segment.date_format)
                except ValueError as error:
                    return f"{segment.describe}: {value!r} is not a date ({error})"
        return None

    def parse(self, code: str) -> dict[str, str | date] | None:
        """Return the fields of a matching code (dates as dates), or None."""
        if self.mismatch(code) is not None:
            return None
        values: dict[str, str | date] = {}
        for segment in self.segments:
            if segment.name is None:
                continue
            text = code[segment.start : segment.start + segment.width]
            values[segment.name] = (
                read_date(text, segment.date_format) if segment.kind == "date" else text
            )
        return values

    def render(self, values: dict[str, str | date]) -> str:
        """Build a code from field values; raise naming the field whose value does not fit."""
        out: list[str] = []
        for segment in self.segments:
            if segment.literal is not None:
                out.append(segment.literal)
                continue
            name = str(segment.name)
            if name not in values:
                raise PatternError(f'a value for field "{name}" is missing', field=name)
            out.append(self._fit(segment, values[name]))
        unknown = sorted(set(values) - set(self.fields))
        if unknown:
            raise PatternError(f'the pattern has no field "{unknown[0]}"', field=unknown[0])
        return "".join(out)

    @staticmethod
    def _fit(segment: Segment, value: str | date) -> str:
        name = str(segment.name)
        if segment.kind == "date":
            if not isinstance(value, date):
                raise PatternError(f'field "{name}" takes a date', field=name)
            return write_date(value, segment.date_format, name)
        text = str(value)
        if segment.kind == "N" and text.isdigit() and len(text) < segment.width:
            text = text.rjust(segment.width, "0")
        if len(text) != segment.width:
            raise PatternError(
                f'field "{name}" is {segment.width} characters wide, got {text!r}', field=name
            )
        bad = [char for char in text if char not in CLASSES[str(segment.kind)]]
        if bad:
            raise PatternError(
                f'field "{name}" takes {CLASS_NAMES[str(segment.kind)]} at each position, '
                f"got {bad[0]!r}",
                field=name,
            )
        return text


def compile_pattern(text: str) -> Pattern:
    """Compile a pattern, or raise saying what is wrong and at which position."""
    if not text:
        raise PatternError("a pattern needs at least one field or character")
    segments: list[Segment] = []
    names: set[str] = set()
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char == "}":
            raise PatternError(f"position {index + 1}: '}}' without its '{{'")
        if char != "{":
            if char not in LITERALS:
                raise PatternError(
                    f"position {index + 1}: {char!r} cannot be a literal (printable ASCII, "
                    "no spaces or braces)"
                )
            segments.append(Segment(start, 1, None, None, literal=char))
            start += 1
            index += 1
            continue
        close = text.find("}", index)
        if close < 0:
            raise PatternError(f"position {index + 1}: '{{' is never closed")
        segment = _field(text[index + 1 : close], index + 1, start)
        if segment.name in names:
            raise PatternError(f'position {index + 1}: field "{segment.name}" appears twice')
        names.add(str(segment.name))
        segments.append(segment)
        start += segment.width
        index = close + 1
    pattern = Pattern(text, tuple(segments))
    if pattern.length > MAX_WIDTH:
        raise PatternError(
            f"a lot code is at most {MAX_WIDTH} characters, the pattern makes {pattern.length}"
        )
    return pattern


def _field(body: str, position: int, start: int) -> Segment:
    name, colon, spec = body.partition(":")
    where = f"position {position}"
    if not colon or not name or not spec:
        raise PatternError(f"{where}: a field is {{name:TYPE}}, e.g. {{seq:N4}}, got {{{body}}}")
    if name[0] not in NAME_START or any(char not in NAME_CHARS for char in name):
        raise PatternError(f"{where}: field name {name!r} is lowercase letters, digits and _")
    # isdigit alone takes any script's digits (N², N٤), which int() refuses or misreads.
    if spec[0] in CLASSES and spec[1:].isascii() and spec[1:].isdigit():
        width = int(spec[1:])
        if not 1 <= width <= MAX_WIDTH:
            raise PatternError(f'{where}: field "{name}" width {width} is not 1-{MAX_WIDTH}')
        kind: FieldKind = "N" if spec[0] == "N" else "A" if spec[0] == "A" else "X"
        return Segment(start, width, name, kind)
    tokens = _date_tokens(spec)
    if tokens is None:
        raise PatternError(
            f'{where}: field "{name}" type {spec!r} is not N<k>, A<k>, X<k> or a date format '
            "of YYYY/YY, MM, DD or DDD (e.g. YYMMDD, YYDDD)"
        )
    return Segment(start, len(spec), name, "date", date_format=tokens)


def _date_tokens(spec: str) -> tuple[str, ...] | None:
    tokens: list[str] = []
    rest = spec
    while rest:
        token = next((t for t in DATE_TOKENS if rest.startswith(t)), None)
        if token is None:
            return None
        tokens.append(token)
        rest = rest[len(token) :]
    kinds = ["Y" if t in ("YYYY", "YY") else t for t in tokens]
    if len(set(kinds)) != len(kinds) or "Y" not in kinds:
        return None
    if "DDD" in kinds and ("MM" in kinds or "DD" in kinds):
        return None
    if "DDD" not in kinds and "MM" not in kinds:
        return None
    return tuple(tokens)


def read_date(text: str, tokens: tuple[str, ...]) -> date:
    """Read a date in a pattern's format (two-digit years are 2000-2099)."""
    parts: dict[str, int] = {}
    offset = 0
    for token in tokens:
        parts[token] = int(text[offset : offset + len(token)])
        offset += len(token)
    year = parts.get("YYYY", 2000 + parts.get("YY", 0))
    if "DDD" in parts:
        if not 1 <= parts["DDD"] <= (366 if _leap(year) else 365):
            raise ValueError(f"day {parts['DDD']} of {year} does not exist")
        return date(year, 1, 1) + timedelta(days=parts["DDD"] - 1)
    return date(year, parts["MM"], parts.get("DD", 1))


def last_day(value: date, tokens: tuple[str, ...]) -> date:
    """Return the last day a date read in this format may mean: a format without a day (YYMM)
    names its whole month, read as the 1st."""
    if "DD" in tokens or "DDD" in tokens:
        return value
    return value.replace(day=calendar.monthrange(value.year, value.month)[1])


def write_date(value: date, tokens: tuple[str, ...], name: str) -> str:
    """Write a date in a pattern's format."""
    if "YY" in tokens and not 2000 <= value.year <= 2099:
        raise PatternError(f'field "{name}" holds years 2000-2099, got {value.year}', field=name)
    spelled = {
        "YYYY": f"{value.year:04d}",
        "YY": f"{value.year % 100:02d}",
        "MM": f"{value.month:02d}",
        "DD": f"{value.day:02d}",
        "DDD": f"{value.timetuple().tm_yday:03d}",
    }
    return "".join(spelled[token] for token in tokens)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def overlap(one: Pattern, other: Pattern) -> str | None:
    """Return a code both patterns could match, or None when no code can match both.

    Decided by character sets, position by position; dates count as digits, so two patterns
    whose only common codes are impossible dates are still taken as ambiguous (the safe side).
    """
    if one.length != other.length:
        return None
    example: list[str] = []
    mine_dated, theirs_dated = one.dated(), other.dated()
    hints = zip(one.positions(), other.positions(), one.example(), other.example(), strict=True)
    for i, (mine, theirs, my_hint, their_hint) in enumerate(hints):
        common = mine & theirs
        if not common:
            return None
        # A date's own digits first, so the example reads as a date where it can.
        order = (
            (their_hint, my_hint)
            if theirs_dated[i] and not mine_dated[i]
            else (my_hint, their_hint)
        )
        example.append(next((c for c in order if c in common), min(common)))
    return "".join(example)
