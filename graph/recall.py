"""The scope of a recall case: everything its suspects reached, how sure, how much, and where.

An item's exposure in a case is the largest exposure any suspect gives it (suspects often
overlap: a supplier lot and one of its lots). Items reached only through an equipment window are
"may contain, share unknown": the window says the step ran on a suspect machine, not how much
of its output is affected, so they are listed with that basis and no exposure (None) rather
than dropped, and never read 1 as a certain item does.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext

from graph.exposure import exposure_text, is_certain
from graph.ids import gid
from graph.quantities import COUNT
from graph.store import EXACT, MATERIAL, EdgeView, plain
from graph.trace import Trace, TraceService
from ingest.references import describe

HELD = frozenset({"quarantined", "recalled", "scrapped"})
ZERO = Decimal(0)
# Items a refused answer names of what was shipped the customer; the rest are counted.
MAX_NAMED = 10


@dataclass(frozen=True, slots=True)
class ScopeItem:
    """One affected lot or serial."""

    id: str
    kind: str
    part: str | None
    unit: str | None
    qty: Decimal
    available: Decimal
    status: str | None
    exposure: float | None  # None: share unknown, reached only through an equipment window
    basis: str  # "material" or "equipment window"
    shipped: dict[str, Decimal] = field(default_factory=dict)  # shipment id -> quantity

    @property
    def certain(self) -> bool:
        return self.exposure is not None and is_certain(self.exposure)

    @property
    def in_plant(self) -> bool:
        return self.available > 0


@dataclass(frozen=True, slots=True)
class ShipmentInScope:
    id: str
    customer: str
    exposure: float | None  # None: an item of unknown share may make it more than the others
    items: dict[str, Decimal]  # item id -> quantity shipped


@dataclass(frozen=True, slots=True)
class Scope:
    items: list[ScopeItem]
    shipments: list[ShipmentInScope]
    # The traces behind it, merged: each node's least depth from a suspect, every edge once.
    depths: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    edges: list[EdgeView] = field(default_factory=list)

    @property
    def customers(self) -> list[str]:
        return sorted({s.customer for s in self.shipments})

    def to_hold(self) -> list[ScopeItem]:
        """Return the in-plant items not yet quarantined, recalled or scrapped."""
        return [i for i in self.items if i.in_plant and i.status not in HELD]


@dataclass(frozen=True, slots=True)
class ScopeDiff:
    added: list[str]
    removed: list[str]
    changed: list[str]  # exposure changed


@dataclass(frozen=True, slots=True)
class UnitReconciliation:
    """The mock-recall measure in one unit: quantities of different units are never added.

    `unit` None holds the answers of customers the scope shipped items of several units to:
    their found and returned quantities say no unit, so they count in none of the others.
    """

    unit: str | None
    expected: Decimal  # in plant + shipped + scrapped, over the scope's items of the unit
    held_in_plant: Decimal
    found_by_customers: Decimal
    returned_by_customers: Decimal
    scrapped: Decimal

    @property
    def accounted(self) -> Decimal:
        return self.held_in_plant + self.found_by_customers + self.scrapped

    @property
    def percent(self) -> float:
        return float(self.accounted / self.expected * 100) if self.expected else 100.0


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Quantity accounted for against what the scope holds, per unit (`units`).

    The single numbers are the one unit's, None when the scope counts in several; `percent` is
    then the lowest of the units' (each must be accounted for).
    """

    units: list[UnitReconciliation]

    def _one(self, name: str) -> Decimal | None:
        if len(self.units) > 1:
            return None
        value: Decimal = getattr(self.units[0], name) if self.units else ZERO
        return value

    @property
    def expected(self) -> Decimal | None:
        return self._one("expected")

    @property
    def held_in_plant(self) -> Decimal | None:
        return self._one("held_in_plant")

    @property
    def found_by_customers(self) -> Decimal | None:
        return self._one("found_by_customers")

    @property
    def returned_by_customers(self) -> Decimal | None:
        return self._one("returned_by_customers")

    @property
    def scrapped(self) -> Decimal | None:
        return self._one("scrapped")

    @property
    def accounted(self) -> Decimal | None:
        return self._one("accounted")

    @property
    def percent(self) -> float:
        counted = [u.percent for u in self.units if u.unit is not None]
        return min(counted, default=100.0)


def parse_suspects(text: str) -> list[dict[str, str]]:
    """Read a case's stored suspects."""
    rows: list[dict[str, str]] = json.loads(text)
    return rows


def compute_scope(traces: TraceService, suspects: Sequence[dict[str, str]]) -> Scope:
    """Trace every suspect downstream and merge what they reach."""
    found: dict[str, tuple[float | None, str, dict[str, object]]] = {}
    shipped: dict[str, dict[str, Decimal]] = {}
    carried: dict[str, tuple[str, dict[str, Decimal]]] = {}  # shipment -> customer, contents
    depths: dict[str, int] = {}
    kinds: dict[str, str] = {}
    edges: dict[tuple[str, str, str, str], EdgeView] = {}
    for trace, basis in _suspect_traces(traces, suspects):
        for node in trace.nodes:
            depths[node.id] = min(depths.get(node.id, node.depth), node.depth)
            kinds[node.id] = node.kind
        for edge in trace.edges:
            edges[(edge.src, edge.dst, edge.type, edge.event)] = edge
        nodes = {n.id: n for n in trace.nodes}
        for node in trace.nodes:
            # Material reach says how much; a window only that the item was made on a suspect
            # machine, so all it reaches is listed with its share unknown (None). Its basis is
            # for items nothing else reaches (docs/recall.md), never over a material exposure.
            level = (node.exposure or 0.0) if basis == "material" else None
            if node.kind not in MATERIAL or level == 0.0:
                continue
            known = found.get(node.id)
            if known is None or _rank(level) > _rank(known[0]):
                found[node.id] = (level, basis, node.attrs)
        for edge in trace.edges:
            if edge.type != "SHIPPED_IN" or edge.qty is None or edge.src not in found:
                continue
            shipped.setdefault(edge.src, {})[edge.dst] = edge.qty
            customer = str(nodes[edge.dst].attrs.get("customer", ""))
            carried.setdefault(edge.dst, (customer, {}))[1][edge.src] = edge.qty
    # Exposures as the traces give them, to twelve significant digits (graph.exposure): no
    # rounding to decimal places here, which would make a tiny share read 0 after all.
    items = [
        ScopeItem(
            id=gid,
            kind=gid.partition(":")[0],
            part=_text(attrs.get("part")),
            unit=_text(attrs.get("unit")),
            qty=Decimal(str(attrs.get("qty", "0"))),
            available=Decimal(str(attrs.get("available", "0"))),
            status=_text(attrs.get("status")),
            exposure=level,
            basis=basis,
            shipped=shipped.get(gid, {}),
        )
        for gid, (level, basis, attrs) in found.items()
    ]
    # Certain items first, then those of unknown share (which may be all suspect), then the rest.
    items.sort(key=lambda i: (not i.certain, i.exposure is not None, -(i.exposure or 0.0), i.id))
    # A shipment is as exposed as the most exposed item it carries, as finally decided.
    listed = [
        ShipmentInScope(
            sid,
            customer,
            _most([found[item][0] for item in contents]),
            dict(sorted(contents.items())),
        )
        for sid, (customer, contents) in carried.items()
    ]
    listed.sort(key=lambda s: (s.customer, s.id))
    return Scope(items, listed, depths, kinds, [edges[k] for k in sorted(edges)])


def _rank(level: float | None) -> tuple[bool, float]:
    return (level is not None, level or 0.0)


def _most(levels: Sequence[float | None]) -> float | None:
    """The largest exposure, unknown when an item of unknown share could be more than it."""
    known = [level for level in levels if level is not None]
    if len(known) < len(levels) and not any(is_certain(level) for level in known):
        return None
    return max(known)


def _suspect_traces(
    traces: TraceService, suspects: Sequence[dict[str, str]]
) -> Iterable[tuple[Trace, str]]:
    for suspect in suspects:
        if suspect["id"].startswith("equipment:"):
            start = datetime.fromisoformat(suspect["from"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(suspect["to"].replace("Z", "+00:00"))
            for use in traces.equipment_window(suspect["id"], start, end):
                yield traces.trace(use.step.gid, "down"), "equipment window"
        else:
            yield traces.trace(suspect["id"], "down"), "material"


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def diff(before: Scope, after: Scope) -> ScopeDiff:
    """Say what a change of suspects added, removed, or changed in exposure or its basis (an
    item certain by material flow that is now only near a suspect window has changed)."""
    old = {i.id: (i.exposure, i.basis) for i in before.items}
    new = {i.id: (i.exposure, i.basis) for i in after.items}
    return ScopeDiff(
        added=sorted(new.keys() - old.keys()),
        removed=sorted(old.keys() - new.keys()),
        changed=sorted(
            k
            for k in old.keys() & new.keys()
            if old[k] != new[k]  # exposures come rounded already: 1e-18 to 2e-18 is a change
        ),
    )


def reconcile(
    scope: Scope, acknowledgements: Iterable[tuple[str, Decimal, Decimal]]
) -> Reconciliation:
    """Account for the scope's quantity, per unit: held in the plant, found by customers (each
    answer as `(customer, found, returned)`), scrapped."""
    with localcontext(EXACT):  # sums of quantities, to the last digit
        return _reconcile(scope, list(acknowledgements))


def _units(scope: Scope) -> dict[str, str]:
    """Return each item's unit (a count when it says none)."""
    return {i.id: i.unit or COUNT for i in scope.items}


def units_shipped_to(scope: Scope) -> dict[str, set[str]]:
    """Return the units of what the scope shipped each customer it reached.

    A customer's answer is in the unit of what the scope shipped them: one shipped items of
    several units answers in none, as does a customer the scope ships nothing (not listed).
    """
    unit_of = _units(scope)
    shipped_to: dict[str, set[str]] = {}
    for shipment in scope.shipments:
        shipped_to.setdefault(shipment.customer, set()).update(
            unit_of[i] for i in shipment.items if i in unit_of
        )
    return shipped_to


def found_over_shipped(scope: Scope, case: str, customer: str, found: Decimal) -> str | None:
    """Say why a customer's answer to case `case` (its key) found more than `scope` shipped
    them, naming each item, its shipment and what it shipped; None if it did not.

    Only where the answer has a unit: a customer the scope ships nothing (rescoped out) or ships
    items of several units answers in none, and is counted in none (`reconcile`).
    """
    if len(units_shipped_to(scope).get(customer, ())) != 1:
        return None
    shipped = [
        (item, shipment.id, qty)
        for shipment in scope.shipments
        if shipment.customer == customer
        for item, qty in shipment.items.items()
    ]
    with localcontext(EXACT):
        total = sum((qty for _, _, qty in shipped), ZERO)
    if found <= total:
        return None
    lines = [
        f"{describe(item)} {plain(qty)} in {describe(shipment)}" for item, shipment, qty in shipped
    ]
    more = f" and {len(lines) - MAX_NAMED} more" if len(lines) > MAX_NAMED else ""
    return (
        f"{plain(found)} found is more than the {plain(total)} shipped to "
        f'{describe(gid("company", customer))} of case "{case}"\'s scope: '
        f"{', '.join(lines[:MAX_NAMED])}{more}"
    )


def _reconcile(scope: Scope, answers: list[tuple[str, Decimal, Decimal]]) -> Reconciliation:
    unit_of = _units(scope)
    sums: dict[str | None, dict[str, Decimal]] = {unit: {} for unit in set(unit_of.values())}

    def add(unit: str | None, name: str, qty: Decimal) -> None:
        row = sums.setdefault(unit, {})
        row[name] = row.get(name, ZERO) + qty

    for item in scope.items:  # expected: in plant + shipped + scrapped
        unit = unit_of[item.id]
        add(unit, "expected", item.available + sum(item.shipped.values(), ZERO))
        if item.status in ("quarantined", "recalled"):
            add(unit, "held_in_plant", item.available)
        elif item.status == "scrapped":
            add(unit, "scrapped", item.available)
    # A customer's answer is in the unit of what the scope shipped them; one the scope ships
    # nothing now (rescoped out after being told) answered about none of it, and counts in none.
    shipped_to = units_shipped_to(scope)
    for customer, found, returned in answers:
        units = shipped_to.get(customer)
        if not units:
            continue
        said_in = next(iter(units)) if len(units) == 1 else None
        add(said_in, "found_by_customers", found)
        add(said_in, "returned_by_customers", returned)
    return Reconciliation(
        [
            UnitReconciliation(
                unit,
                expected=row.get("expected", ZERO),
                held_in_plant=row.get("held_in_plant", ZERO),
                found_by_customers=row.get("found_by_customers", ZERO),
                returned_by_customers=row.get("returned_by_customers", ZERO),
                scrapped=row.get("scrapped", ZERO),
            )
            for unit, row in sorted(sums.items(), key=lambda pair: (pair[0] is None, pair[0] or ""))
        ]
    )


# A cell a spreadsheet would read as a formula (OWASP "CSV injection"): written as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = (
    "id",
    "kind",
    "part",
    "exposure",
    "certain",
    "basis",
    "qty",
    "available",
    "unit",
    "status",
    "shipped_qty",
    "shipments",
    "customers",
)


# Ids listed in one cell (shipments, customers) are one per line: ids may hold spaces, commas
# and semicolons, never a control character. The cell is quoted, a spreadsheet shows the lines.
LIST_SEPARATOR = "\n"


def scope_csv(scope: Scope) -> str:
    """Render the scope as CSV: one sortable row per affected item.

    Text cells hold what operators and partners wrote (parts, units, customers): one starting
    like a formula is written with a leading single quote, so a spreadsheet shows it as text.
    Quantities and exposures are numbers we format, and stay numbers; an item of unknown share
    (reached only through an equipment window) has no exposure, its cell is empty.
    """
    customers = {s.id: s.customer for s in scope.shipments}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in scope.items:
        writer.writerow(
            [
                _cell(item.id),
                item.kind,
                _cell(item.part or ""),
                "" if item.exposure is None else _exposure(item.exposure),
                "yes" if item.certain else "may contain",
                item.basis,
                plain(item.qty),
                plain(item.available),
                _cell(item.unit or ""),
                _cell(item.status or ""),
                plain(sum(item.shipped.values(), ZERO)),
                _cell(LIST_SEPARATOR.join(sorted(item.shipped))),
                _cell(
                    LIST_SEPARATOR.join(
                        sorted({customers[s] for s in item.shipped if s in customers})
                    )
                ),
            ]
        )
    return out.getvalue()


def _exposure(value: float) -> str:
    # Six decimals sort and read well; a share too small for them (or just short of 1) gets the
    # digits it needs, so "may contain" never reads 0.000000 or 1.000000.
    text = f"{value:.6f}"
    return exposure_text(value, 6) if float(text) in (0.0, 1.0) and float(text) != value else text


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(FORMULA_START) else text
