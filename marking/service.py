"""The marking service: schemes, issuing, resolution and the decision, for CLI and GraphQL.

Access, for the API's permission classes: operators issue and resolve; analysts read (schemes,
usage, resolution, decision); suppliers and customers have no access to marking at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from graph.errors import BadRequest, NotFound
from graph.ids import gid
from graph.store import GraphStore, MarkSchemeRow, WriteTx
from ingest.errors import BatchRejected
from ingest.json_text import strict_loads
from ingest.models import ItemRef
from ingest.service import IngestService
from marking.decide import decide
from marking.errors import IssueContention, NoScheme, SchemeConflict, UnknownScheme
from marking.models import (
    Decision,
    DecisionInputs,
    IssuedMark,
    Resolution,
    ResolveQuery,
    SchemeSpec,
    SchemeUsage,
)
from marking.readings import as_ascii
from marking.resolve import Resolver, Visible
from marking.schemes import Scheme, family_scheme

# Which roles may call what; the API enforces it, this is the one place it is written down.
ACCESS: Final[dict[str, frozenset[str]]] = {
    "issue_mark": frozenset({"operator"}),
    "resolve": frozenset({"operator", "analyst"}),
    "schemes": frozenset({"operator", "analyst"}),
    "scheme_usage": frozenset({"operator", "analyst"}),
    "decide": frozenset({"operator", "analyst"}),
    "define_scheme": frozenset({"admin"}),
}
# Each attempt that loses a code to a concurrent issuer moves on to the next code.
MAX_ATTEMPTS = 100
# Codes looked up at once when passing over those another scheme has issued.
FREE_WINDOW = 256


class MarkingService:
    """Secondary marks over one store; issuing goes through ingest as `mark` events."""

    def __init__(
        self,
        store: GraphStore,
        ingest: IngestService | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._ingest = ingest or IngestService(store)
        self._clock = clock

    def sent_by(self, name: str) -> MarkingService:
        """Return this service acting for `name`: the log names them as sender of its marks."""
        return MarkingService(self._store, self._ingest.sent_by(name), self._clock)

    # -- schemes -------------------------------------------------------------------------------

    def _schemes(self) -> dict[str, Scheme]:
        return {row.name: Scheme.from_row(row) for row in self._store.mark_schemes()}

    def define_scheme(self, spec: SchemeSpec) -> SchemeUsage:
        """Register a scheme, or change the part family of one; its codes never change."""
        return self.define_schemes([spec])[0]

    def define_schemes(self, specs: list[SchemeSpec]) -> list[SchemeUsage]:
        """Register schemes as `define_scheme` does, in order and all or none: a list refused
        at its third scheme leaves the first two unsaved too."""
        if not specs:  # nothing to write: no write transaction either
            return []
        for spec in specs:
            if spec.code_alphabet != spec.code_alphabet.upper():
                # Readings are taken in upper case (a struck mark has no case an operator can
                # tell): such a scheme's codes could never be read back. Checked here, not in
                # the model, so a scheme stored before still loads.
                raise BadRequest(
                    f'scheme "{spec.name}": alphabet: upper-case letters only, as marks are read'
                )
            if spec.code_alphabet != as_ascii(spec.code_alphabet):
                # Readings take full-width characters as ASCII (marking.readings).
                raise BadRequest(
                    f'scheme "{spec.name}": alphabet: no full-width characters, as marks are '
                    "read in ASCII"
                )

        # Checked and saved in one write transaction: of two clashing schemes defined at once,
        # the second sees the first. Each spec is checked against the stored schemes and the
        # ones before it in the list, as if defined one after the other.
        def register(tx: WriteTx) -> None:
            schemes = {row.name: Scheme.from_row(row).spec for row in tx.mark_schemes()}
            for spec in specs:
                _check_scheme(spec, schemes)
                schemes[spec.name] = spec
            for spec in specs:
                tx.save_mark_scheme(MarkSchemeRow(spec.name, spec.model_dump_json()))

        self._store.write(register)
        schemes = self._schemes()
        return self.usages([schemes[spec.name] for spec in specs])

    def schemes(self, site: str | None = None) -> list[SchemeUsage]:
        """Return every scheme with its capacity and use (see `scheme_usage` for `site`)."""
        return self.usages(self.defined(), site)

    def defined(self) -> list[Scheme]:
        """Return every registered scheme, by name."""
        return list(self._schemes().values())

    def usages(self, schemes: Sequence[Scheme], site: str | None = None) -> list[SchemeUsage]:
        """Return the capacity and use of each of `schemes` (see `scheme_usage` for `site`),
        read for all of them at once."""
        found = self._store.marks_used([scheme.name for scheme in schemes], site)
        return [_usage(scheme, *found[scheme.name]) for scheme in schemes]

    def scheme_usage(self, scheme: str, site: str | None = None) -> SchemeUsage:
        """Return the capacity of a scheme and how much of it is used.

        With `site`, `used` counts the codes on items of that site or of no site, what its
        operators may read. The next index and what remains are the scheme's: its codes are
        one sequence, which the code an operator is issued shows anyway.
        """
        found = self._schemes().get(scheme)
        if found is None:
            raise UnknownScheme(f'no code scheme "{scheme}"')
        return self.usages([found], site)[0]

    # -- issuing -------------------------------------------------------------------------------

    def issue_mark(
        self, target: ItemRef, actor: str | None = None, site: str | None = None
    ) -> IssuedMark:
        """Give the target the next free code of its family's scheme, recorded as a mark event
        (of `site`, for an operator bound to one: as their events are, so another site's
        operators cannot void it)."""
        item = self._store.node(target.gid)
        if item is None:
            raise NotFound(f"{target.gid} does not exist")
        scheme = family_scheme(item.attrs.get("part"), self._schemes().values())
        if scheme is None:
            raise NoScheme(f'part "{item.attrs.get("part")}" belongs to no family with a scheme')
        carried = self._carried(target, scheme)
        if carried is not None:
            return carried
        floor = 0
        window = 1  # the next code is nearly always free; once one was taken, look up many
        for _ in range(MAX_ATTEMPTS):
            last = self._store.last_mark_index(scheme.name)
            index, code = self._next_free(
                scheme, max(floor, 0 if last is None else last + 1), window
            )
            event_id = f"mark-{uuid.uuid4().hex}"
            event = (
                {
                    "event_id": event_id,
                    "type": "mark",
                    "occurred_at": self._clock().isoformat(),
                    "target": target.model_dump(exclude_none=True),
                    "code": code,
                    "scheme": scheme.name,
                }
                | ({"actor": actor} if actor else {})
                | ({"site": site} if site else {})
            )
            try:
                self._ingest.ingest([event])
            except BatchRejected as error:
                codes = {problem.code for problem in error.problems}
                if "already_marked" in codes:
                    # A concurrent issuer marked this item first: its mark is the answer.
                    carried = self._carried(target, scheme)
                    if carried is not None:
                        return carried
                    continue  # and voided since: try again
                if "mark_taken" in codes:
                    # A concurrent issuer got there first, or another scheme that writes the
                    # same codes issued this one.
                    floor, window = index + 1, FREE_WINDOW
                    continue
                raise
            return IssuedMark(
                code=code,
                scheme=scheme.name,
                target=target.gid,
                index=index,
                event_id=event_id,
                created=True,
            )
        raise IssueContention(
            f'every code tried for scheme "{scheme.name}" was taken by a concurrent issuer; retry'
        )

    def _next_free(self, scheme: Scheme, index: int, size: int) -> tuple[int, str]:
        """Return the first index from `index` whose code was never struck, and its code.

        Marks share one namespace: another scheme that can write the same codes (two A-Z
        schemes of three letters), or a mark of no scheme, may hold this one's next codes
        already, live or voided (a voided code may still be stamped on a part). They are looked
        up `size` codes at first, then a window at a time, and passed over, not tried one
        rejected write at a time.
        """
        while True:
            window = range(index, min(index + size, scheme.capacity))
            codes = [scheme.code_for(i) for i in window] or [scheme.code_for(index)]
            taken = self._store.nodes([gid("mark", code) for code in codes])
            for i, code in zip(window, codes, strict=False):
                if gid("mark", code) not in taken:
                    return i, code
            index, size = window.stop, FREE_WINDOW

    def _carried(self, target: ItemRef, scheme: Scheme) -> IssuedMark | None:
        """Return the mark of `scheme` the target already carries, if any."""
        for link in self._store.item_links([target.gid]):
            other = link.other.attrs
            if link.type == "MARKS" and not link.outgoing and other.get("scheme") == scheme.name:
                index = other.get("index")
                return IssuedMark(
                    code=other["code"],
                    scheme=scheme.name,
                    target=target.gid,
                    index=None if index is None else int(index),
                    event_id="",
                    created=False,
                )
        return None

    # -- reading -------------------------------------------------------------------------------

    def resolve(
        self, query: ResolveQuery, *, name_customers: bool = True, visible: Visible | None = None
    ) -> Resolution:
        """Return ranked candidates for what an operator can read.

        Without `name_customers`, where a candidate is says which shipment it left in, not to whom.
        With `visible`, only the items it keeps are candidates, ranked and counted among
        themselves: what the caller may not see neither takes a place nor weighs.
        """
        schemes = list(self._schemes().values())
        resolver = Resolver(self._store, schemes, name_customers=name_customers, visible=visible)
        return resolver.resolve(query)

    def decide(self, inputs: DecisionInputs) -> Decision:
        """Return whether marking a part family pays, by the expected-loss cost model."""
        return decide(inputs)

    @staticmethod
    def decide_only(inputs: DecisionInputs) -> Decision:
        """Decide without a store: the cost model reads nothing from the graph."""
        return decide(inputs)


def _check_scheme(spec: SchemeSpec, schemes: dict[str, SchemeSpec]) -> None:
    """Raise SchemeConflict if `spec` may not join `schemes` (by name)."""
    known = schemes.get(spec.name)
    if known is not None and known.defining() != spec.defining():
        raise SchemeConflict(
            f'scheme "{spec.name}" exists with other settings; only its parts may change '
            "(define a new scheme for new codes)"
        )
    for name, other in schemes.items():
        shared = set(other.parts) & set(spec.parts)
        if name != spec.name and shared:
            raise SchemeConflict(f'part family {sorted(shared)[0]} already has scheme "{name}"')


def scheme_specs(text: str) -> list[SchemeSpec]:
    """Read scheme definitions from JSON: one object or a list of them; JsonRefused for text
    that is not JSON as every body is read (a key given twice, nesting too deep)."""
    raw = strict_loads(text)
    return [SchemeSpec.model_validate(entry) for entry in (raw if isinstance(raw, list) else [raw])]


def _usage(scheme: Scheme, used: int, last: int | None) -> SchemeUsage:
    """A scheme's capacity and use, from its count of codes and its last index."""
    following = 0 if last is None else last + 1
    return SchemeUsage(
        name=scheme.name,
        kind=scheme.spec.kind,
        capacity=scheme.capacity,
        used=used,
        next_index=following,
        remaining=max(scheme.capacity - following, 0),
        check=scheme.has_check,
        parts=list(scheme.spec.parts),
    )
