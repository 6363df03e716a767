"""Typed inputs and outputs of the marking service (what CLI and GraphQL resolvers exchange)."""

from __future__ import annotations

import string
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ingest.models import ItemRef
from marking.check import supports
from marking.readings import visible

# The plain uppercase letters plants already stamp: AAA, AAB, ...
LETTERS = string.ascii_uppercase
# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: what is left cannot be mistaken for another of its characters.
LOOKALIKE_FREE = "ACDEFGHJKMNPQRTUVWXY34679"
UNKNOWN = "?"
# The most codes a scheme issues, whatever its alphabet and length: indexes are stored as text
# of INDEX_WIDTH digits (marking.schemes) so the stores' MAX of them is the highest index.
MAX_CAPACITY = 10**15

SchemeName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")]
PartPattern = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x20\x7f*]+\*?$")
]


def _seen(reading: str) -> str:
    # Nothing in it can be read: looked up, it would find nothing, as a reading of a code or
    # number that marks nothing does.
    if not visible(reading):
        raise PydanticCustomError(
            "empty_reading", "the reading holds no character that can be seen"
        )
    return reading


Readable = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_seen)
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SchemeSpec(Model):
    """A code scheme and the part family it serves (exact part ids, or prefixes ending in *)."""

    name: SchemeName
    kind: Literal["sequential", "hashids"]
    alphabet: str | None = None
    length: int | None = Field(default=None, ge=1, le=12)
    salt: str | None = Field(default=None, min_length=1, max_length=200)
    min_length: int = Field(default=4, ge=0, le=32)
    capacity: int | None = Field(default=None, ge=1, le=MAX_CAPACITY)
    check: bool = False
    parts: list[PartPattern] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        alphabet = self.code_alphabet
        if len(set(alphabet)) != len(alphabet):
            raise ValueError("alphabet: every character must appear once")
        if any(not char.isprintable() or char.isspace() or char == UNKNOWN for char in alphabet):
            raise ValueError('alphabet: printable characters only, no spaces and no "?"')
        if len(alphabet) < 2:
            raise ValueError("alphabet: at least 2 characters")
        if self.kind == "sequential":
            if self.length is None:
                raise ValueError("length: a sequential scheme needs a code length")
            if self.salt is not None:
                raise ValueError("salt: only hashids schemes take a salt")
            if self.capacity is not None and self.capacity > len(alphabet) ** self.length:
                raise ValueError(
                    f"capacity: {len(alphabet)}^{self.length} = "
                    f"{len(alphabet) ** self.length:,} codes at most"
                )
        else:
            if self.salt is None:
                raise ValueError("salt: a hashids scheme needs the plant's salt")
            if self.capacity is None:
                raise ValueError("capacity: a hashids scheme needs its number of codes")
            if self.length is not None:
                raise ValueError("length: hashids codes take min_length, not length")
            if len(alphabet) < 16:
                raise ValueError("alphabet: hashids needs at least 16 characters")
        if self.check and not supports(len(alphabet)):
            raise ValueError(
                f"check: no check character over an alphabet of {len(alphabet)} characters"
            )
        return self

    @property
    def code_alphabet(self) -> str:
        """Return the alphabet codes are written in."""
        if self.alphabet is not None:
            return self.alphabet
        return LETTERS if self.kind == "sequential" else LOOKALIKE_FREE

    def defining(self) -> dict[str, object]:
        """Return the settings that fix which code an index gets (never change once saved)."""
        return self.model_dump(exclude={"parts"}) | {"alphabet": self.code_alphabet}


class SchemeUsage(Model):
    """How much of a scheme is used: codes recorded, the next index, what is left."""

    name: str
    kind: str
    capacity: int
    used: int
    next_index: int
    remaining: int
    check: bool
    parts: list[str]


class IssueRequest(Model):
    target: ItemRef
    actor: str | None = None


class IssuedMark(Model):
    """A mark given to an item; `created` is false when the item already had one of the scheme."""

    code: str
    scheme: str
    target: str
    index: int | None
    event_id: str
    created: bool


def made_backwards(made_from: datetime | None, made_to: datetime | None) -> bool:
    """Whether a window of making times ends before it starts: ResolveQuery refuses it, and
    the command line before it, by its options' names."""
    return made_from is not None and made_to is not None and made_from > made_to


class ResolveQuery(Model):
    """What the operator can read, and what they know about where the part is."""

    mark: Readable | None = None
    primary: Readable | None = None
    part: str | None = None
    cart: str | None = None
    station: str | None = None
    made_from: AwareDatetime | None = None
    made_to: AwareDatetime | None = None
    limit: int = Field(default=10, ge=1, le=100)

    @model_validator(mode="after")
    def _something_readable(self) -> Self:
        if self.mark is None and self.primary is None:
            raise ValueError("give a secondary mark, a primary number, or both")
        if made_backwards(self.made_from, self.made_to):
            raise ValueError("made_from is after made_to")
        return self


Match = Literal[
    "exact",
    "check_corrected",
    "lookalike",
    "wildcard",
    "swap",
    "misread",
    "primary_exact",
    "primary_wildcard",
    "context",
]


class Candidate(Model):
    """One item the operator may be holding, with how sure we are and why."""

    id: str
    kind: str
    key: str
    part: str | None
    status: str | None
    location: str
    mark: str | None
    scheme: str | None
    confidence: float
    reason: str
    matches: list[Match]


class Resolution(Model):
    candidates: list[Candidate]
    truncated: bool = False


# Far beyond any plant's costs, counts or rates, and far enough inside a float that the model's
# products of them stay finite.
BOUND = 1e15


class DecisionInputs(Model):
    """The cost model of marking a part family (rates per the unit `life` is given in)."""

    wear_rate: float = Field(gt=0, le=BOUND, allow_inf_nan=False)
    failure_rate: float = Field(gt=0, le=BOUND, allow_inf_nan=False)
    life: float = Field(gt=0, le=BOUND, allow_inf_nan=False)
    claim: float = Field(ge=0, le=BOUND, allow_inf_nan=False)
    count: float = Field(ge=0, le=BOUND, allow_inf_nan=False)
    setup_cost: float = Field(ge=0, le=BOUND, allow_inf_nan=False)
    running_cost: float = Field(ge=0, le=BOUND, allow_inf_nan=False)


class Decision(Model):
    phi: float
    expected_loss_avoided: float
    break_even_count: float | None
    mark: bool
    p_unreadable: float
    p_failure: float
