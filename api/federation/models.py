"""Federated traces: nodes and links from several instances, each marked with its source.

One shape serves both sides of the wall: an instance answers a partner with a FederatedTrace
(its own nodes have `source` None), and the asking instance merges that answer into its own,
qualifying every id with the partner's company id (`ACME:lot:H70001`) so ids never collide.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from graph.errors import DomainError
from graph.ids import KINDS
from graph.store import Direction
from graph.trace import Trace
from ingest.models import SENT, Count, Day
from ingest.times import OFFSET_RULE, Instant, offset_too_far

# How a partner branch of a trace ended.
BranchStatus = Literal[
    "ok",  # asked just now
    "cached",  # answered from the cache, within its time to live
    "stale",  # the partner failed; an older cached answer stands in, marked with its time
    "unreachable",  # no answer (down, refused the connection, timed out)
    "refused",  # the partner does not share this with us (401/403)
    "not_found",  # the partner shipped us nothing with that code
    "loop",  # the request came back to an instance already on its way
    "hop_limit",  # not asked: the trace went as many hops as allowed
    "error",  # the partner answered something we cannot read
]
# What a partner is told of a branch: our own partners' messages may name their addresses.
STATUS_TEXT: Final[dict[str, str]] = {
    "ok": "answered",
    "cached": "answered from the cache",
    "stale": "partner unavailable: an older answer stands in",
    "unreachable": "partner unavailable",
    "refused": "not shared",
    "not_found": "not known to the partner",
    "loop": "the trace came back to an instance it passed",
    "hop_limit": "not asked: the trace went as far as allowed",
    "error": "the partner's answer could not be read",
}
STUB_KIND: Final = "stub"
# An instance's id, as X-Tracegraph-Visited carries it. Matched whole (fullmatch): '$' would
# let a line end through, which no header carries.
INSTANCE_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
INSTANCE_RULE: Final = "1-64 letters, digits, '.', '_' or '-'"
# An id whose first part is one of these is a partner's own item (kind:key), not one it holds
# from a partner of its own (COMPANY:kind:key), nor a stub, which names the partner it stands for.
OWN_KINDS: Final = frozenset(KINDS)
# Material from a partner's item into the supplier lot we received it as.
SUPPLIED_AS: Final = "SUPPLIED_AS"
# What stands for hidden process steps between two items a partner may see.
PROCESSED_INTO: Final = "PROCESSED_INTO"


@dataclass(frozen=True, slots=True)
class FedNode:
    id: str
    kind: str
    depth: int
    source: str | None  # the company whose instance holds it; None: the answering instance
    attrs: dict[str, Any]
    share: float | None = None
    exposure: float | None = None
    stale: bool = False
    fetched_at: str | None = None  # when the answer that brought it was fetched

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "depth": self.depth,
            "source": self.source,
            "share": self.share,
            "exposure": self.exposure,
            "stale": self.stale,
            "fetched_at": self.fetched_at,
            "attrs": self.attrs,
        }


@dataclass(frozen=True, slots=True)
class FedEdge:
    src: str
    dst: str
    type: str
    qty: str | None = None
    at: str | None = None
    event: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.src,
            "to": self.dst,
            "type": self.type,
            "qty": self.qty,
            "at": self.at,
            "event": self.event,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Branch:
    """One partner asked for one supplier lot of the trace, and how that went."""

    partner: str  # the partner's company id, as the instance that asked knows it
    code: str  # the supplier lot code asked for
    attach: str  # the node the partner's answer hangs from
    status: BranchStatus
    message: str
    at: str  # when it was asked
    fetched_at: str | None = None  # when the answer used was fetched

    def to_dict(self) -> dict[str, Any]:
        return {
            "partner": self.partner,
            "code": self.code,
            "attach": self.attach,
            "status": self.status,
            "message": self.message,
            "at": self.at,
            "fetched_at": self.fetched_at,
        }


@dataclass(frozen=True, slots=True)
class FederatedTrace:
    root: str
    direction: Direction
    nodes: list[FedNode]
    edges: list[FedEdge]
    branches: list[Branch] = field(default_factory=list)

    @classmethod
    def local(cls, trace: Trace, source: str | None = None) -> FederatedTrace:
        """Wrap a trace of this instance, every node marked with `source`."""
        nodes = [
            FedNode(n.id, n.kind, n.depth, source, dict(n.attrs), n.share, n.exposure)
            for n in trace.nodes
        ]
        edges = [
            FedEdge(
                e.src,
                e.dst,
                e.type,
                None if e.qty is None else format(e.qty, "f"),
                e.at,
                e.event,
                source,
            )
            for e in trace.edges
        ]
        return cls(trace.root, trace.direction, nodes, edges)

    @property
    def stubs(self) -> list[FedNode]:
        return [n for n in self.nodes if n.kind == STUB_KIND]

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "direction": self.direction,
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_dict() for e in self.edges],
            "branches": [b.to_dict() for b in self.branches],
        }

    def within(self, max_depth: int) -> FederatedTrace:
        """Return the trace cut at `max_depth`: what lies deeper goes with its links, and so do
        the branches hanging from nodes at the limit (their answers lie deeper)."""
        depths = {n.id: n.depth for n in self.nodes if n.depth <= max_depth or n.id == self.root}
        return FederatedTrace(
            self.root,
            self.direction,
            [n for n in self.nodes if n.id in depths],
            [e for e in self.edges if e.src in depths and e.dst in depths],
            [b for b in self.branches if depths.get(b.attach, max_depth) < max_depth],
        )

    def qualified(
        self, partner: str, *, stale: bool, fetched_at: str, ours: str | None = None
    ) -> FederatedTrace:
        """Return the trace as seen from the instance that asked `partner` for it; `ours`: the
        asking instance's company."""

        def q(gid: str) -> str:
            return f"{partner}:{gid}"

        def origin(source: str | None) -> str:
            # Whatever its id, nothing of the answer is ours: what we hold is in our own trace,
            # not in a partner's answer about it.
            return partner if not source or source == ours else source

        def source(node: FedNode) -> str:
            # The partner's own items are the partner's, whatever it calls them; items it has
            # from its own partners carry their source.
            return partner if node.id.split(":", 1)[0] in OWN_KINDS else origin(node.source)

        nodes = [
            replace(
                n,
                id=q(n.id),
                source=source(n),
                stale=n.stale or stale,
                fetched_at=n.fetched_at or fetched_at,
            )
            for n in self.nodes
        ]
        edges = [
            replace(
                e,
                src=q(e.src),
                dst=q(e.dst),
                source=origin(e.source),
            )
            for e in self.edges
        ]
        branches = [replace(b, attach=q(b.attach)) for b in self.branches]
        return FederatedTrace(q(self.root), self.direction, nodes, edges, branches)


# -- the wire: what a partner's answer must look like to be merged ---------------------------------

Text = Annotated[str, StringConstraints(max_length=2000)]
WireId = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
# NaN and the infinities are no JSON: an answer holding them could not be passed on as JSON.
Number = Annotated[float, Field(allow_inf_nan=False)]
Scalar = Annotated[str, StringConstraints(max_length=5000)] | int | Number | bool | None
# A partner's quantities, times and label dates are merged and passed on with ours, so they keep
# the rules our own data keeps (ingest.models, ingest.times), in the words those rules use.
_COUNT: Final[TypeAdapter[Any]] = TypeAdapter(Count)
_INSTANT: Final[TypeAdapter[Any]] = TypeAdapter(Instant)
_DAY: Final[TypeAdapter[Any]] = TypeAdapter(Day)


def _as_ours(rule: TypeAdapter[Any], value: Any) -> Any:
    try:
        # As sent to us, not as our log holds it: the rules for what comes in now.
        return rule.validate_python(value, context=SENT)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        raise PydanticCustomError(problem["type"], "{reason}", {"reason": problem["msg"]}) from None


def _quantity_rule(value: Any) -> None:
    # As we check our counts: a decimal number of at most 28 digits, never negative. Zero, which
    # no event of ours makes, misstates no amount the way a negative one does: it is read.
    _as_ours(_COUNT, value)


def _time_rule(value: Any) -> None:
    # As an event's time: RFC 3339 text with its offset, at most 14:00 from UTC.
    if offset_too_far(_as_ours(_INSTANT, value)):
        raise PydanticCustomError("out_of_range", OFFSET_RULE)


def _date_rule(value: Any) -> None:
    # As a lot's expiry and day made: YYYY-MM-DD, a day of the calendar, and not a time.
    _as_ours(_DAY, value)


# An answer holds up to a million quantities and times (and a lot's dates), nearly all as an
# instance writes them: those are taken at a glance, at a fraction of a rule's cost, and only
# where the rule takes them too. Anything else meets the rule, which refuses in its own words.
# Unsigned digits, at most 28 counting leading zeros: Count counts none, so it takes these.
_PLAIN_QUANTITY: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# A time as graph.clock writes it, in UTC. The pattern keeps each figure in its range (no hour
# 24, no second 60, whatever a Python's fromisoformat reads); fromisoformat the days of each
# month, and no year 0000.
_PLAIN_TIME: Final = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}Z"
)
# A date as an instance writes it (date.isoformat); fromisoformat the days of each month, and no
# year 0000.
_PLAIN_DATE: Final = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])")


def _plain_quantity(value: Any) -> bool:
    return (
        isinstance(value, str)
        and _PLAIN_QUANTITY.fullmatch(value) is not None
        and len(value) - ("." in value) <= 28
    )


def _plain_time(value: Any) -> bool:
    if not (isinstance(value, str) and _PLAIN_TIME.fullmatch(value)):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _plain_date(value: Any) -> bool:
    if not (isinstance(value, str) and _PLAIN_DATE.fullmatch(value)):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _quantity(value: Any) -> Any:
    if not _plain_quantity(value):
        _quantity_rule(value)
    return value


def _time(value: Any) -> Any:
    if not _plain_time(value):
        _time_rule(value)
    return value


def _date(value: Any) -> Any:
    if not _plain_date(value):
        _date_rule(value)
    return value


# A quantity as an instance writes it (a Decimal in fixed point): anything else is not read. A
# sign is let through the pattern, for the rule to refuse a negative one in its own words.
Quantity = Annotated[
    str,
    StringConstraints(pattern=r"^-?[0-9]{1,60}(\.[0-9]{1,60})?$"),
    AfterValidator(_quantity),
]
Time = Annotated[Text, AfterValidator(_time)]
# A node's attributes that hold a quantity, a time or a date, wherever the node comes from (a
# step's times, a stub's: when its partner was asked; a lot's or serial's label dates).
NODE_FACTS: Final = {
    "qty": _quantity,
    "created_at": _time,
    "started_at": _time,
    "finished_at": _time,
    "at": _time,
    "expiry": _date,
    "manufactured": _date,
}
MAX_WIRE_NODES: Final = 100_000
MAX_WIRE_EDGES: Final = 10 * MAX_WIRE_NODES
MAX_WIRE_BRANCHES: Final = 10_000
# What an instance reads of one answer's body (decoded), before it parses any of it.
MAX_WIRE_BYTES: Final = 32 * 1024 * 1024


class _Wire(BaseModel):
    # Unknown fields are ignored: a newer partner may say more than we read.
    model_config = ConfigDict(extra="ignore", frozen=True)


class WireNode(_Wire):
    id: WireId
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,30}$")]
    depth: Annotated[int, Field(ge=0, le=100_000)]
    source: Text | None = None
    share: Annotated[float, Field(ge=0, le=1)] | None = None
    exposure: Annotated[float, Field(ge=0, le=1)] | None = None
    stale: bool = False
    fetched_at: Time | None = None
    attrs: Annotated[
        dict[Annotated[str, StringConstraints(max_length=100)], Scalar], Field(max_length=100)
    ] = {}


class WireEdge(_Wire):
    src: WireId = Field(alias="from")
    dst: WireId = Field(alias="to")
    type: Annotated[str, StringConstraints(pattern=r"^[A-Z_]{1,40}$")]
    qty: Quantity | None = None
    at: Time | None = None
    event: Text | None = None
    source: Text | None = None


class WireBranch(_Wire):
    partner: Text
    code: Text
    attach: WireId
    status: BranchStatus
    message: Text = ""
    at: Time
    fetched_at: Time | None = None


class WireTrace(_Wire):
    root: WireId
    direction: Direction
    nodes: Annotated[list[WireNode], Field(min_length=1, max_length=MAX_WIRE_NODES)]
    edges: Annotated[list[WireEdge], Field(max_length=MAX_WIRE_EDGES)] = []
    branches: Annotated[list[WireBranch], Field(max_length=MAX_WIRE_BRANCHES)] = []


# The most of each list WireTrace reads.
_MOST: Final = {"nodes": MAX_WIRE_NODES, "edges": MAX_WIRE_EDGES, "branches": MAX_WIRE_BRANCHES}
_READS: Final = ": more than an instance reads of one answer"
# Writes an answer as FastAPI wrote one from a route returning a dict, byte for byte (a small
# share as 0.00001, a NaN as null), and several times faster than json.dumps.
_WIRE: Final = TypeAdapter(dict[str, Any])


class AnswerTooLarge(DomainError):
    """Our answer to a partner instance is over a limit it reads (too many nodes, links or
    branches, or too many bytes): it would refuse all of it. A narrower question (`max_depth`)
    may fit."""

    status_code = 422
    code = "answer_too_large"


def over(counts: Iterable[tuple[int, int, str]]) -> str:
    """Name the limits passed of `counts` (count, limit, what), as `100000 nodes and 10000
    branches`; empty where none is."""
    return " and ".join(f"{limit} {what}" for count, limit, what in counts if count > limit)


def to_wire(found: FederatedTrace) -> bytes:
    """Return the body a partner instance is sent for `found`; raise AnswerTooLarge, naming the
    limits it passes, where that instance would refuse it.

    Merging keeps partners' answers within these limits, but our own trace, the questions we
    asked and the links that stand for hidden steps are counted only here, on what is sent.
    """
    passed = over(
        (
            (len(found.nodes), MAX_WIRE_NODES, "nodes"),
            (len(found.edges), MAX_WIRE_EDGES, "links"),
            (len(found.branches), MAX_WIRE_BRANCHES, "branches"),
        )
    )
    if passed:
        raise AnswerTooLarge(f"the answer would hold over {passed}{_READS}")
    body = _WIRE.dump_json(found.to_dict())
    if len(body) > MAX_WIRE_BYTES:
        raise AnswerTooLarge(f"the answer would be over {MAX_WIRE_BYTES} bytes{_READS}")
    return body


def masked(text: str, key: str) -> str:
    """Return a partner's text with the key we sent it hidden: a partner may echo it back, and
    the text reaches our readers."""
    return text.replace(key, "****")


class AnswerLate(TimeoutError):
    """A partner's answer not read by its deadline: its branch's timeout bounds reading it too."""

    def __init__(self) -> None:
        super().__init__("the answer was not read by its deadline")


class _Pace:
    """A deadline (time.monotonic) for reading an answer, checked as its lists are read:
    checking the largest one takes seconds, which its branch's timeout bounds too."""

    EVERY: Final = 1024  # items between two looks at the clock

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.late = False
        self.cut: set[str] = set()  # the lists of the body `lists` stopped short

    def each(self, items: list[Any], name: str = "") -> Iterator[Any]:
        """Yield `items`, stopping short once past the deadline (`late`, and `name` cut).

        It stops rather than raises: pydantic, where iterating a list raises, drops what it
        found wrong in that list and says only that. Whoever reads through it looks at `late`.
        """
        if self.deadline is None:
            yield from items
            return
        for start in range(0, len(items), self.EVERY):
            if self.late or time.monotonic() > self.deadline:
                self.late = True
                self.cut.add(name)
                return
            yield from items[start : start + self.EVERY]

    def all(self, items: list[Any]) -> Iterator[Any]:
        """Yield `items`; raise AnswerLate where the deadline passes before the last."""
        yield from self.each(items)
        if self.late:
            raise AnswerLate

    def lists(self, body: Any) -> Any:
        """`body` with its lists read through `each` (pydantic reads an iterator as a list,
        naming each item's place in it); raise ValidationError, as the model says it of a list,
        where one is longer than it reads: of an iterator it could not say how long."""
        if self.deadline is None or not isinstance(body, dict):
            return body
        too_long: list[InitErrorDetails] = [
            {
                "type": "too_long",
                "loc": (name,),
                "input": value,
                "ctx": {"field_type": "List", "max_length": most, "actual_length": len(value)},
            }
            for name, most in _MOST.items()
            if isinstance(value := body.get(name), list) and len(value) > most
        ]
        if too_long:
            raise ValidationError.from_exception_data(WireTrace.__name__, too_long)
        return {
            name: self.each(value, name) if isinstance(value, list) else value
            for name, value in body.items()
        }

    def found(self, error: ValidationError) -> ValidationError | None:
        """What of `error` was found wrong in what was read, where lists were cut at the
        deadline: a cut list is short only for being cut. None where nothing else is; `error`
        itself where all of it is."""
        problems = [
            problem
            for problem in error.errors(include_url=False)
            if not (problem["type"] == "too_short" and problem["loc"] in {(n,) for n in self.cut})
        ]
        if not problems:
            return None
        if len(problems) == error.error_count():
            return error
        found: list[InitErrorDetails] = [
            {
                # As it was said: its message, whatever its type.
                "type": PydanticCustomError(problem["type"], problem["msg"]),
                "loc": problem["loc"],
                "input": problem["input"],
            }
            for problem in problems
        ]
        return ValidationError.from_exception_data(error.title, found)


def from_wire(
    body: Any, key: str | None = None, *, deadline: float | None = None
) -> FederatedTrace:
    """Read a partner's answer; raise ValueError (pydantic's) when it is not one, AnswerLate
    when it is not read by `deadline` (time.monotonic).

    With `key` (the one we sent the partner), every text of the answer has it masked before
    anything is checked: an answer that echoes it would show it to our readers and customers.
    """
    pace = _Pace(deadline)
    try:
        wire = WireTrace.model_validate(pace.lists(body))
    except ValidationError as error:
        # Pydantic reads on past a wrong item, to the deadline at most: the answer is late
        # only where nothing wrong was found before it.
        found = pace.found(error) if pace.late else error
        if found is None:
            raise AnswerLate from None
        if found is error:
            raise
        raise found from None
    if pace.late:  # right as far as it was read, but its lists were cut
        raise AnswerLate
    _check_facts(wire, pace)

    def m(text: str) -> str:
        return text if key is None else masked(text, key)

    def m_opt(text: str | None) -> str | None:
        return None if text is None else m(text)

    root = m(wire.root)
    nodes = [
        FedNode(
            m(n.id),
            n.kind,
            n.depth,
            m_opt(n.source),
            {m(name): m(v) if isinstance(v, str) else v for name, v in n.attrs.items()},
            n.share,
            n.exposure,
            n.stale,
            m_opt(n.fetched_at),
        )
        for n in pace.all(wire.nodes)
    ]
    ids = {n.id for n in nodes}
    if len(ids) != len(nodes):
        raise ValueError("the answer names a node twice")
    if root not in ids:
        raise ValueError("the answer's root is not among its nodes")
    # Depths are merged as given, below our supplier lot: the root must be the top of them.
    if any((n.depth == 0) != (n.id == root) for n in nodes):
        raise ValueError("the answer's root must be at depth 0, its other nodes below it")
    edges = [
        FedEdge(m(e.src), m(e.dst), e.type, e.qty, m_opt(e.at), m_opt(e.event), m_opt(e.source))
        for e in pace.all(wire.edges)
    ]
    branches = [
        Branch(
            m(b.partner),
            m(b.code),
            m(b.attach),
            b.status,
            m(b.message),
            m(b.at),
            m_opt(b.fetched_at),
        )
        for b in wire.branches
    ]
    return FederatedTrace(
        root,
        wire.direction,
        nodes,
        # An edge to nowhere is dropped rather than trusted.
        [e for e in pace.all(edges) if e.src in ids and e.dst in ids],
        branches,
    )


def _check_facts(wire: WireTrace, pace: _Pace) -> None:
    """Raise ValidationError (as the model's own, naming where) for the first node attribute
    of NODE_FACTS that breaks its rule. Attributes are any names to the model; these are ours."""
    for index, node in enumerate(pace.all(wire.nodes)):
        for name, rule in NODE_FACTS.items():
            value = node.attrs.get(name)
            if value is None:
                continue
            try:
                rule(value)
            except PydanticCustomError as error:
                detail: InitErrorDetails = {
                    "type": error,
                    "loc": ("nodes", index, "attrs", name),
                    "input": value,
                }
                raise ValidationError.from_exception_data(WireTrace.__name__, [detail]) from None
