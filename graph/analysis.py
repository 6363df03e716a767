"""Summaries built on traces: impact (what a source reached), origin (what went into an item),
and the material paths that explain how one item reaches another."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from graph.exposure import is_certain
from graph.quantities import Amount, by_unit, one_total
from graph.store import EXACT, EdgeView
from graph.trace import Trace, TraceNode

MAX_PATHS = 100


@dataclass(frozen=True, slots=True)
class Affected:
    """One reached item: `exposure` 1.0 means it certainly carries the source (graph.exposure
    gives 1.0 to nothing else)."""

    node: TraceNode
    exposure: float
    qty: Decimal | None
    available: Decimal | None
    shipped: Decimal

    @property
    def certain(self) -> bool:
        return is_certain(self.exposure)


@dataclass(frozen=True, slots=True)
class ImpactTotals:
    """Counts, and quantities per unit (graph.quantities): `in_plant_qty` and `shipped_qty`
    are the one unit's total, None when the items are counted in several units."""

    lots: int
    serials: int
    shipments: int
    customers: int
    certain: int
    may_contain: int
    in_plant: list[Amount]
    shipped: list[Amount]

    @property
    def in_plant_qty(self) -> Decimal | None:
        return one_total(self.in_plant)

    @property
    def shipped_qty(self) -> Decimal | None:
        return one_total(self.shipped)


@dataclass(frozen=True, slots=True)
class Impact:
    root: str
    lots: list[Affected]
    serials: list[Affected]
    shipments: list[Affected]
    customers: list[Affected]
    totals: ImpactTotals


@dataclass(frozen=True, slots=True)
class Contribution:
    node: TraceNode
    share: float


@dataclass(frozen=True, slots=True)
class Origin:
    root: str
    supplier_lots: list[Contribution]
    steps: list[Contribution]
    equipment: list[str]
    operators: list[str]


@dataclass(frozen=True, slots=True)
class Path:
    nodes: list[str]
    edges: list[EdgeView] = field(default_factory=list)


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def impact(trace: Trace) -> Impact:
    """Summarise a downstream trace for a recall analyst: what is affected, how sure, how much."""
    with localcontext(EXACT):  # sums of quantities, to the last digit
        return _impact(trace)


def _impact(trace: Trace) -> Impact:
    shipped: dict[str, Decimal] = {}
    for edge in trace.edges:
        if edge.type == "SHIPPED_IN" and edge.qty is not None:
            shipped[edge.src] = shipped.get(edge.src, Decimal(0)) + edge.qty
    groups: dict[str, list[Affected]] = {"lot": [], "serial": [], "shipment": [], "company": []}
    for node in trace.nodes:
        # A suspect lot or serial is affected itself: what of it is still in the plant, as its
        # shipments (counted in shipped_qty) are; a recall case's scope lists it likewise.
        root_company = node.id == trace.root and node.kind == "company"
        if node.kind not in groups or not node.exposure or root_company:
            continue
        groups[node.kind].append(
            Affected(
                node,
                node.exposure,
                _decimal(node.attrs.get("qty")),
                _decimal(node.attrs.get("available")),
                shipped.get(node.id, Decimal(0)),
            )
        )
    for items in groups.values():
        items.sort(key=lambda item: (-item.exposure, item.node.id))
    material = groups["lot"] + groups["serial"]
    units = {node.id: node.attrs.get("unit") for node in trace.nodes}
    totals = ImpactTotals(
        lots=len(groups["lot"]),
        serials=len(groups["serial"]),
        shipments=len(groups["shipment"]),
        customers=len(groups["company"]),
        certain=sum(1 for item in material if item.certain),
        may_contain=sum(1 for item in material if not item.certain),
        in_plant=by_unit(
            (units[item.node.id], item.available) for item in material if item.available
        ),
        shipped=by_unit((units.get(src), qty) for src, qty in shipped.items()),
    )
    return Impact(
        trace.root, groups["lot"], groups["serial"], groups["shipment"], groups["company"], totals
    )


def origin(trace: Trace) -> Origin:
    """Summarise an upstream trace: supplier lots and steps with their shares, machines, people."""
    suppliers = [Contribution(n, n.share or 0.0) for n in trace.nodes if n.kind == "supplier_lot"]
    steps = [Contribution(n, n.share or 0.0) for n in trace.nodes if n.kind == "step"]
    suppliers.sort(key=lambda c: (-c.share, c.node.id))
    steps.sort(key=lambda c: (c.node.attrs.get("started_at", ""), c.node.id))
    equipment = sorted(
        {str(c.node.attrs["equipment"]) for c in steps if "equipment" in c.node.attrs}
    )
    operators = sorted({str(c.node.attrs["operator"]) for c in steps if "operator" in c.node.attrs})
    return Origin(trace.root, suppliers, steps, equipment, operators)


def paths(trace: Trace, target: str, limit: int = MAX_PATHS) -> list[Path]:
    """Return up to `limit` material paths from a downstream trace's root to `target`."""
    outgoing: dict[str, list[EdgeView]] = {}
    incoming: dict[str, list[EdgeView]] = {}
    for edge in trace.edges:
        outgoing.setdefault(edge.src, []).append(edge)
        incoming.setdefault(edge.dst, []).append(edge)
    # Keep only nodes from which the target can be reached, so the search never wanders.
    leads = {target}
    stack = [target]
    while stack:
        for edge in incoming.get(stack.pop(), ()):
            if edge.src not in leads:
                leads.add(edge.src)
                stack.append(edge.src)
    if trace.root not in leads:
        return []
    if trace.root == target:
        return [Path([trace.root], [])]

    def onward(node: str) -> Iterator[EdgeView]:
        edges = (e for e in outgoing.get(node, ()) if e.dst in leads)
        return iter(sorted(edges, key=lambda e: (e.dst, e.type)))

    # Depth first with a stack of our own, one iterator per node on the route: a path may be
    # longer than Python's recursion limit (a chain of a thousand splits).
    found: list[Path] = []
    route: list[EdgeView] = []
    pending = [onward(trace.root)]
    while pending and len(found) < limit:
        step = next(pending[-1], None)
        if step is None:
            pending.pop()
            if route:
                route.pop()
        elif step.dst == target:
            found.append(Path([trace.root, *(e.dst for e in route), target], [*route, step]))
        else:
            route.append(step)
            pending.append(onward(step.dst))
    return found
