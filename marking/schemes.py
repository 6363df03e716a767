"""Code schemes: which code an index gets, which index a code has, and which family they serve."""

from __future__ import annotations

from collections.abc import Iterable

from hashids import Hashids  # type: ignore[import-untyped]

from graph.store import MarkSchemeRow
from marking.check import CheckCharacter
from marking.errors import SchemeExhausted
from marking.models import LETTERS, LOOKALIKE_FREE, MAX_CAPACITY, SchemeSpec

__all__ = ["LETTERS", "LOOKALIKES", "LOOKALIKE_FREE", "Scheme", "family_scheme", "is_twin"]

# Characters that are near twins on a worn stamp, both ways round.
TWINS = frozenset({("0", "O"), ("1", "I"), ("1", "L"), ("2", "Z"), ("5", "S"), ("8", "B")})
# Characters people mistake for one another when a stamp is worn, both ways round.
_LOOKALIKE_GROUPS = (
    "0ODQ",
    "1IL",
    "17",
    "7T",
    "2Z",
    "5S",
    "6G",
    "8B",
    "3B",
    "9G",
    "CG",
    "EF",
    "PR",
    "MN",
    "UV",
    "VY",
    "KX",
    "4A",
)


def is_twin(first: str, second: str) -> bool:
    """Tell whether two characters are near twins (0 and O, 8 and B, ...)."""
    return (first, second) in TWINS or (second, first) in TWINS


def _lookalikes() -> dict[str, str]:
    table: dict[str, set[str]] = {}
    for group in _LOOKALIKE_GROUPS:
        for char in group:
            table.setdefault(char, set()).update(other for other in group if other != char)
    return {char: "".join(sorted(others)) for char, others in table.items()}


LOOKALIKES = _lookalikes()
# Indexes are stored zero-padded, so text order is number order up to the largest capacity.
INDEX_WIDTH = len(str(MAX_CAPACITY - 1))


class Scheme:
    """A configured code scheme: sequential letters or hashids, with an optional check character."""

    def __init__(self, spec: SchemeSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.alphabet = spec.code_alphabet
        self._digit = {char: i for i, char in enumerate(self.alphabet)}
        self._check = CheckCharacter(self.alphabet) if spec.check else None
        if spec.kind == "sequential":
            assert spec.length is not None  # the spec's validator insists
            # Twelve letters make 26**12 codes: past MAX_CAPACITY the stored index would
            # outgrow its padding and the highest index recorded would be misread.
            self.capacity = spec.capacity or min(len(self.alphabet) ** spec.length, MAX_CAPACITY)
            self._hashids: Hashids | None = None
        else:
            assert spec.capacity is not None and spec.salt is not None
            self.capacity = spec.capacity
            self._hashids = Hashids(
                salt=spec.salt, min_length=spec.min_length, alphabet=self.alphabet
            )

    @classmethod
    def from_row(cls, row: MarkSchemeRow) -> Scheme:
        """Build a scheme from its registry row."""
        return cls(SchemeSpec.model_validate_json(row.definition))

    @property
    def has_check(self) -> bool:
        return self._check is not None

    def code_for(self, index: int) -> str:
        """Return the code of `index`; raise SchemeExhausted past the capacity."""
        if index >= self.capacity:
            raise SchemeExhausted(
                f'scheme "{self.name}" has issued all of its {self.capacity:,} codes'
            )
        body = self._body(index)
        return body + self._check.compute(body) if self._check else body

    def _body(self, index: int) -> str:
        if self._hashids is not None:
            encoded: str = self._hashids.encode(index)
            return encoded
        assert self.spec.length is not None
        base, chars = len(self.alphabet), []
        for _ in range(self.spec.length):
            index, digit = divmod(index, base)
            chars.append(self.alphabet[digit])
        return "".join(reversed(chars))

    def index_of(self, code: str) -> int | None:
        """Return the index of `code`, or None when it is no code of this scheme."""
        return None if self.problem(code) else self._index(code)

    def problem(self, code: str) -> str | None:
        """Say why `code` is not a code of this scheme, or return None when it is."""
        wrong = sorted({char for char in code if char not in self._digit})
        if wrong:
            return f'"{code}" has characters outside the alphabet of scheme "{self.name}": ' + (
                ", ".join(wrong)
            )
        if self.spec.kind == "sequential":
            assert self.spec.length is not None
            expected = self.spec.length + (1 if self._check else 0)
            if len(code) != expected:
                return f'"{code}" is not {expected} characters long, as scheme "{self.name}" is'
        if self._check is not None and not self._check.is_valid(code):
            return f'"{code}" fails the check character of scheme "{self.name}"'
        index = self._index(code)
        if index is None:
            return f'"{code}" is no code of scheme "{self.name}"'
        if index >= self.capacity:
            return f'"{code}" is beyond the {self.capacity:,} codes of scheme "{self.name}"'
        return None

    def _index(self, code: str) -> int | None:
        body = code[:-1] if self._check else code
        if not body:
            return None
        if self._hashids is not None:
            numbers = self._hashids.decode(body)
            return int(numbers[0]) if len(numbers) == 1 else None
        index = 0
        for char in body:
            index = index * len(self.alphabet) + self._digit[char]
        return index

    def lengths(self) -> range:
        """Return the range of code lengths the scheme writes."""
        extra = 1 if self._check else 0
        if self.spec.length is not None:
            return range(self.spec.length + extra, self.spec.length + extra + 1)
        assert self._hashids is not None
        longest = max(len(self._body(self.capacity - 1)), self.spec.min_length, 1)
        return range(max(self.spec.min_length, 1) + extra, longest + extra + 2)


def family_scheme(part: str | None, schemes: Iterable[Scheme]) -> Scheme | None:
    """Return the scheme of a part's family: an exact part id wins over the longest prefix."""
    if part is None:
        return None
    best: tuple[int, Scheme] | None = None
    for scheme in schemes:
        for pattern in scheme.spec.parts:
            if pattern.endswith("*"):
                prefix = pattern[:-1]
                rank = len(prefix) if part.startswith(prefix) else -1
            else:
                rank = 10_000 if pattern == part else -1
            if rank >= 0 and (best is None or rank > best[0]):
                best = (rank, scheme)
    return None if best is None else best[1]


def index_text(index: int) -> str:
    """Render an index the way it is stored on a mark."""
    return str(index).zfill(INDEX_WIDTH)
