"""Lot code schemes with linkage codes: register, decode a code into its parts, mint our lots.

Each company registers how its lot codes are built (a pattern of named fields, see
`ingest.lot_pattern`) and the short link code its partners embed in theirs. A code's link field
holds the link code of the company it points to, so decoding any registered company's code
names that partner and the partner's lots in our graph that it may come from.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from graph.errors import Conflict, NotFound, text_within
from graph.ids import gid, supplier_lot_gid
from graph.store import GraphStore, LotSchemeRow, NodeView, PartnerLot, WriteTx
from graph.trace import TraceService
from ingest.lot_pattern import CLASSES, Pattern, PatternError, compile_pattern, last_day, overlap
from ingest.models import CompanyId as Company
from ingest.models import Id as Name
from ingest.models import read_day

# Each code that loses its number to a lot made outside minting moves on to the next number.
MAX_MINT_ATTEMPTS = 1000
MAX_CANDIDATES = 50
# The longest code decoded: no scheme's is near it, and each is tried with every scheme.
MAX_LOT_CODE = 200

# The ids among those given that a caller may see: a decoding made through one answers as if
# nothing else existed.
Scope = Callable[[Sequence[str]], Collection[str]]


class LotSchemeConflict(Conflict):
    """A scheme clashes with the registry: a taken link code, or ambiguity with another's."""

    code = "lot_scheme_conflict"


class UnknownLotScheme(NotFound):
    code = "unknown_lot_scheme"


class SequenceFull(Conflict):
    """Every number of the sequence field is used for these other field values."""

    code = "lot_sequence_full"


class LotSchemeSpec(BaseModel):
    """What a company registers: its pattern, which field carries a partner's link code, and
    its own link code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    company: Company
    pattern: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    link_field: Name
    link_code: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    sequence_field: Name | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None


@dataclass(frozen=True, slots=True)
class LotScheme:
    """A registered scheme, compiled, with where its link field sits."""

    spec: LotSchemeSpec
    pattern: Pattern
    link_position: Literal["head", "tail"]
    sequence: str | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def link_width(self) -> int:
        return self.pattern.fields[self.spec.link_field].width

    @classmethod
    def of(cls, spec: LotSchemeSpec) -> LotScheme:
        """Compile a spec, or raise naming what is wrong with it."""
        pattern = compile_pattern(spec.pattern)
        fields = pattern.fields
        link = fields.get(spec.link_field)
        if link is None:
            raise PatternError(
                f'the pattern has no field "{spec.link_field}" for the link code',
                field="link_field",
            )
        if link.kind == "date":
            raise PatternError("a link field holds a code, not a date", field="link_field")
        first, last = pattern.segments[0], pattern.segments[-1]
        if link is not first and link is not last:
            raise PatternError(
                f'link field "{spec.link_field}" must be at the head or the tail of the code',
                field="link_field",
            )
        if len(spec.link_code) != link.width or any(
            char not in CLASSES[str(link.kind)] for char in spec.link_code
        ):
            raise PatternError(
                f'link code {spec.link_code!r} does not fit field "{spec.link_field}" '
                f"({link.kind}{link.width})",
                field="link_code",
            )
        sequence = spec.sequence_field or ("seq" if "seq" in fields else None)
        if sequence is not None and sequence == spec.link_field:
            raise PatternError(
                f'field "{sequence}" holds the link code; number lots in a field of their own',
                field="sequence_field",
            )
        if sequence is not None:
            found = fields.get(sequence)
            if found is None or found.kind != "N":
                raise PatternError(
                    f'sequence field "{sequence}" must be a digits field (N<k>) of the pattern',
                    field="sequence_field",
                )
        return cls(spec, pattern, "head" if link is first else "tail", sequence)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A partner lot in our graph that a code may come from."""

    supplier_lot: NodeView
    received_at: str | None
    lots: list[str]
    confirmed: bool
    fields: dict[str, str | date] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Match:
    """A code read by one scheme: its fields, the link code and where it points."""

    scheme: LotScheme
    fields: dict[str, str | date]
    link_code: str
    partner: str | None
    candidates: list[Candidate]
    truncated: bool = False  # more candidates than MAX_CANDIDATES: the surest are kept


@dataclass(frozen=True, slots=True)
class Decoding:
    code: str
    matches: list[Match]
    misses: dict[str, str]  # scheme name -> why it does not read the code


@dataclass(frozen=True, slots=True)
class Minted:
    code: str
    scheme: str
    sequence: int
    link_code: str
    partner: str


def _schemes(rows: list[LotSchemeRow]) -> list[LotScheme]:
    return [LotScheme.of(LotSchemeSpec.model_validate_json(row.definition)) for row in rows]


def _refuse_clash(scheme: LotScheme, other: LotScheme) -> None:
    """Raise LotSchemeConflict if `scheme` and another registered scheme cannot live together."""
    spec = scheme.spec
    if other.spec.company == spec.company:
        if other.spec.link_code != spec.link_code:
            raise LotSchemeConflict(
                f'company "{spec.company}" has link code {other.spec.link_code!r} '
                f'(scheme "{other.name}"): a company has one link code'
            )
    elif other.spec.link_code == spec.link_code:
        raise LotSchemeConflict(
            f"link code {spec.link_code!r} is taken by company "
            f'"{other.spec.company}" (scheme "{other.name}")'
        )
    # Of one company too: its two schemes would each mint such a code, numbered apart.
    example = overlap(scheme.pattern, other.pattern)
    if example is not None:
        raise LotSchemeConflict(
            f'the pattern is ambiguous with scheme "{other.name}" of company '
            f'"{other.spec.company}": both can read a code such as {example!r}'
        )


def _changed(registered: LotSchemeSpec, spec: LotSchemeSpec) -> LotSchemeConflict:
    """Refuse registering `spec` under the name of another, naming the settings that differ.

    A registered scheme is not changed. Its description alone does not change how its codes
    read, so a refusal for it alone does not say they would.
    """
    ours, theirs = registered.model_dump(), spec.model_dump()
    differ = [name for name in ours if ours[name] != theirs[name]]
    named = " and ".join([", ".join(differ[:-1]), differ[-1]] if len(differ) > 1 else differ)
    said = f'lot code scheme "{spec.name}" exists with another {named}'
    if differ == ["description"]:
        return LotSchemeConflict(
            f"{said}: a registered scheme is not changed (give the description it was "
            "registered with, or register a new scheme)"
        )
    return LotSchemeConflict(
        f"{said}: codes already made by it would read differently (register a new scheme)"
    )


class LotCodeService:
    """Lot code schemes over one store."""

    def __init__(
        self, store: GraphStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store = store
        self._clock = clock

    def schemes(self) -> list[LotScheme]:
        """Return every registered scheme, by name."""
        return _schemes(self._store.lot_schemes())

    def scheme(self, name: str) -> LotScheme:
        """Return one scheme, or raise UnknownLotScheme."""
        for scheme in self.schemes():
            if scheme.name == name:
                return scheme
        raise UnknownLotScheme(f'no lot code scheme "{name}"')

    def define(self, spec: LotSchemeSpec) -> LotScheme:
        """Register a scheme; refuse clashes with the link codes and patterns of the registry."""
        scheme = LotScheme.of(spec)

        # Checked and saved in one write transaction: of two clashing schemes defined at once,
        # the second sees the first.
        def register(tx: WriteTx) -> LotScheme:
            for other in _schemes(tx.lot_schemes()):
                if other.name == spec.name:
                    if other.spec != spec:
                        raise _changed(other.spec, spec)
                    return other
                _refuse_clash(scheme, other)
            tx.save_lot_scheme(LotSchemeRow(spec.name, spec.model_dump_json()))
            return scheme

        return self._store.write(register)

    # -- decoding --------------------------------------------------------------------------------

    def decode(self, code: str, *, confirm: bool = True, scope: Scope | None = None) -> Decoding:
        """Read a code with every registered scheme; name the partner and candidate lots.

        With `confirm`, where the code is a lot of ours, the partner lots upstream of it are
        marked confirmed and come first (that reads our genealogy). With `scope`, lots, supplier
        lots and arrivals outside it are as if they did not exist: none confirms, none is a
        candidate, none dates one.
        """
        text_within(code, "code", MAX_LOT_CODE)
        schemes = self.schemes()
        by_link = {s.spec.link_code: s.spec.company for s in schemes}
        matches: list[Match] = []
        misses: dict[str, str] = {}
        for scheme in schemes:
            why = scheme.pattern.mismatch(code)
            if why is not None:
                misses[scheme.name] = why
                continue
            values = scheme.pattern.parse(code)
            assert values is not None  # no mismatch means it parses
            link = str(values[scheme.spec.link_field])
            partner = by_link.get(link)
            candidates = (
                []
                if partner is None
                else self._candidates(code, partner, scheme, values, schemes, confirm, scope)
            )
            cut = len(candidates) > MAX_CANDIDATES
            matches.append(Match(scheme, values, link, partner, candidates[:MAX_CANDIDATES], cut))
        return Decoding(code, matches, misses)

    def _candidates(
        self,
        code: str,
        partner: str,
        scheme: LotScheme,
        values: dict[str, str | date],
        schemes: list[LotScheme],
        confirm: bool,
        scope: Scope | None,
    ) -> list[Candidate]:
        """Partner lots we received that the code may come from, surest first, all of them.

        A lot of ours made on a date cannot hold material received after it, nor a partner lot
        made after it; and where the code is a lot of ours, its upstream trace confirms which.
        """
        made = _made_by(scheme.pattern, values)
        partner_schemes = [s for s in schemes if s.spec.company == partner]
        confirmed = self._upstream(code, partner, scope) if confirm else set()
        if confirm:  # the code may be the partner's own lot number (a heat number)
            confirmed.add(supplier_lot_gid(partner, code))
        found: list[Candidate] = []
        # A receipt counts on the day it was recorded, at its own offset, which is less than a
        # day off its UTC day: the store query (UTC) leaves out the lots first received two UTC
        # days after the code's or later, `_received_by` the rest. Nothing comes after date.max.
        before = (
            None
            if made is None or made >= date.max - timedelta(days=1)
            else (made + timedelta(days=2)).isoformat()
        )
        entries = self._store.partner_lots(
            gid("company", partner), received_before=before, keep=sorted(confirmed)
        )
        if scope is not None:
            entries = _in_scope(entries, scope)
        if made is not None and made < date.max:
            entries = self._received_by(entries, made, confirmed)
        for entry in entries:
            supplier_lot, arrivals = entry.supplier_lot, entry.arrivals
            at = arrivals[0][0] if arrivals else None
            sure = supplier_lot.gid in confirmed
            theirs = _read(str(supplier_lot.attrs.get("supplier_lot", "")), partner_schemes)
            made_by_them = next((v for v in theirs.values() if isinstance(v, date)), None)
            if not sure and made is not None and made_by_them is not None and made_by_them > made:
                continue
            lots = sorted(lot for _, lot in arrivals)
            found.append(Candidate(supplier_lot, at, lots, sure, theirs))
        # Stable sorts: confirmed first, then the latest received, then by id.
        found.sort(key=lambda c: c.supplier_lot.gid)
        found.sort(key=lambda c: c.received_at or "", reverse=True)
        found.sort(key=lambda c: not c.confirmed)
        return found

    def _received_by(
        self, entries: list[PartnerLot], made: date, kept: set[str]
    ) -> list[PartnerLot]:
        """Leave out the supplier lots (but those `kept`) all of whose receipts were recorded
        after the day `made`, by the date each was recorded with (its own offset)."""
        # Only a receipt on that day or the next in UTC may have been recorded on either side
        # of it: one before is in, and the store left out those after.
        near = (made.isoformat(), (made + timedelta(days=1)).isoformat())
        days = self._recorded_days(
            sorted({lot for e in entries for at, lot in e.arrivals if at[:10] in near})
        )
        last = made.isoformat()
        return [
            entry
            for entry in entries
            if entry.supplier_lot.gid in kept
            or not entry.arrivals
            or any(days.get(lot, at[:10]) <= last for at, lot in entry.arrivals)
        ]

    def _recorded_days(self, lots: Sequence[str]) -> dict[str, str]:
        """The date (YYYY-MM-DD) each of these received lots' receipt was recorded on, as its
        sender wrote it: nodes keep UTC, the log keeps the sender's offset. A lot whose receipt
        is not found counts by its UTC day."""
        if not lots:
            return {}
        receipts = {
            lot: str(node.attrs["created_by"])
            for lot, node in self._store.nodes(lots).items()
            if "created_by" in node.attrs
        }
        logged = self._store.logged(sorted(set(receipts.values())))
        days: dict[str, str] = {}
        for lot, event_id in receipts.items():
            receipt = logged.get(event_id)
            if receipt is not None and receipt.type == "receive":
                days[lot] = str(json.loads(receipt.payload)["occurred_at"])[:10]
        return days

    def _upstream(self, code: str, partner: str, scope: Scope | None) -> set[str]:
        """Return the partner's lots upstream of our lot `code`, if it is a lot of ours (and,
        with `scope`, reached from it through what the scope holds only)."""
        lot = gid("lot", code)
        if self._store.node(lot) is None or (scope is not None and lot not in scope([lot])):
            return set()
        trace = TraceService(self._store).trace(lot, "up")
        theirs = {
            node.id
            for node in trace.nodes
            if node.kind == "supplier_lot" and node.attrs.get("supplier") == partner
        }
        if scope is None or not theirs:
            return theirs
        seen = set(scope(sorted({node.id for node in trace.nodes})))
        sources: dict[str, list[str]] = {}
        for edge in trace.edges:
            if edge.src in seen:
                sources.setdefault(edge.dst, []).append(edge.src)
        reached, walk = {lot}, [lot]
        while walk:
            for source in sources.get(walk.pop(), []):
                if source not in reached:
                    reached.add(source)
                    walk.append(source)
        return theirs & reached

    # -- minting ---------------------------------------------------------------------------------

    def mint(self, scheme_name: str, partner: str, values: Mapping[str, str | date]) -> Minted:
        """Make our next lot code of a scheme with the partner's link code in its link field."""
        scheme = self.scheme(scheme_name)
        if scheme.sequence is None:
            raise PatternError(
                f'scheme "{scheme.name}" has no sequence field to number its lots',
                field="sequence_field",
            )
        link_code = self._link_code_of(partner)
        link_field = scheme.spec.link_field
        for fixed in (link_field, scheme.sequence):
            if fixed in values:
                raise PatternError(f'field "{fixed}" is filled in by minting', field=fixed)
        today = self._clock().date()  # in UTC: the plant keeps no time zone
        filled: dict[str, str | date] = {
            name: today
            for name, segment in scheme.pattern.fields.items()
            if segment.kind == "date" and name not in values
        }
        filled |= {name: _typed(scheme, name, value) for name, value in values.items()}
        filled[link_field] = link_code
        filled[scheme.sequence] = "0"
        # Numbered per code as written, not per value given: "7" and "07", or two days of one
        # month in a YYMM field, write the same code and share one sequence. Rendering also
        # refuses values that do not fit before a number is used.
        key = json.dumps([scheme.name, scheme.pattern.render(filled)])
        sequence = scheme.sequence
        width = scheme.pattern.fields[sequence].width

        # A number and the check that no lot has its code are one write: on Neo4j, a rebuild
        # begun between the two left the check a graph rebuilt in part, which lacked the lot.
        # The numbers passed over stay used (None: committed, then refused).
        def numbered(tx: WriteTx) -> Minted | None:
            for _ in range(MAX_MINT_ATTEMPTS):
                number = tx.next_lot_sequence(key)
                if number >= 10**width:
                    raise SequenceFull(
                        f'sequence field "{sequence}" of scheme "{scheme.name}" is full for '
                        f"these values: all {10**width - 1} numbers are used",
                        details=[{"field": sequence}],
                    )
                code = scheme.pattern.render(filled | {sequence: str(number)})
                if not tx.items([gid("lot", code)]):
                    return Minted(code, scheme.name, number, link_code, partner)
            return None

        minted = self._store.write(numbered)
        if minted is None:
            raise SequenceFull(f"{MAX_MINT_ATTEMPTS} numbers in a row are lots already: retry")
        return minted

    def _link_code_of(self, partner: str) -> str:
        for scheme in self.schemes():
            if scheme.spec.company == partner:
                return scheme.spec.link_code
        raise PatternError(
            f'company "{partner}" has no registered link code (it registers a lot code scheme)',
            field="link",
        )


def _typed(scheme: LotScheme, name: str, value: str | date) -> str | date:
    """Read an ISO date given as text for a date field; other values stay as given."""
    segment = scheme.pattern.fields.get(name)
    if segment is None or segment.kind != "date" or isinstance(value, date):
        return value
    try:
        return read_day(value)
    except ValueError as error:
        why = str(error).partition("; ")[2]  # a day the calendar lacks says which number
        said = f'field "{name}" takes a date as YYYY-MM-DD, got {value!r}'
        raise PatternError(f"{said}: {why}" if why else said, field=name) from None


def _made_by(pattern: Pattern, values: Mapping[str, str | date]) -> date | None:
    """Return the last day a code's first date field may mean (a YYMM date: its month's end)."""
    for name, segment in pattern.fields.items():
        value = values.get(name)
        if segment.kind == "date" and isinstance(value, date):
            return last_day(value, segment.date_format)
    return None


def _in_scope(entries: list[PartnerLot], scope: Scope) -> list[PartnerLot]:
    """Keep the supplier lots and arrivals in `scope`."""
    seen = set(
        scope(
            sorted(
                {e.supplier_lot.gid for e in entries}
                | {lot for e in entries for _, lot in e.arrivals}
            )
        )
    )
    return [
        PartnerLot(entry.supplier_lot, [(at, lot) for at, lot in entry.arrivals if lot in seen])
        for entry in entries
        if entry.supplier_lot.gid in seen
    ]


def _read(code: str, schemes: list[LotScheme]) -> dict[str, str | date]:
    for scheme in schemes:
        values = scheme.pattern.parse(code)
        if values is not None:
            return values
    return {}


def _plain(value: str | date) -> str:
    return value.isoformat() if isinstance(value, date) else value


def scheme_dict(scheme: LotScheme) -> dict[str, Any]:
    """Render a scheme the way REST and the CLI show it."""
    return scheme.spec.model_dump(exclude_none=True) | {
        "length": scheme.pattern.length,
        "link_position": scheme.link_position,
        "link_width": scheme.link_width,
        "sequence_field": scheme.sequence,
        "fields": {
            name: "".join(s.date_format) if s.kind == "date" else f"{s.kind}{s.width}"
            for name, s in scheme.pattern.fields.items()
        },
    }


def decoding_dict(found: Decoding) -> dict[str, Any]:
    """Render a decoding the way REST and the CLI show it."""
    return {
        "code": found.code,
        "matches": [
            {
                "scheme": m.scheme.name,
                "company": m.scheme.spec.company,
                "fields": {name: _plain(value) for name, value in m.fields.items()},
                "link_code": m.link_code,
                "link_position": m.scheme.link_position,
                "partner": m.partner,
                "candidates": [
                    {
                        "supplier_lot": c.supplier_lot.gid,
                        "received_at": c.received_at,
                        "lots": c.lots,
                        "confirmed": c.confirmed,
                        "fields": {name: _plain(value) for name, value in c.fields.items()},
                    }
                    for c in m.candidates
                ],
                "truncated": m.truncated,
            }
            for m in found.matches
        ],
        "misses": found.misses,
    }


def minted_dict(found: Minted) -> dict[str, Any]:
    """Render a minted code."""
    return {
        "code": found.code,
        "scheme": found.scheme,
        "sequence": found.sequence,
        "link_code": found.link_code,
        "partner": found.partner,
    }
