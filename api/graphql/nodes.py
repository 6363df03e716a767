"""GraphQL node types: one per kind of node in the genealogy graph, with their neighbours."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.cost import NARROW_CONTEXT, NARROW_LINKS, asks
from api.graphql.udi import Udi
from graph.store import EdgeView, NodeView, plain


def _text(view: NodeView, name: str) -> str | None:
    value = view.attrs.get(name)
    return None if value is None else str(value)


@strawberry.interface(description="Any node; `id` is its global id `kind:key`.")
class Node:
    view: strawberry.Private[NodeView]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.view.gid)

    @strawberry.field
    def kind(self) -> str:
        return self.view.kind

    @strawberry.field(description="Every stored property, as JSON (only what the caller may see).")
    def properties(self) -> JSON:
        return JSON(dict(self.view.attrs))

    @strawberry.field(description="Edges into this node: what it came from.")
    async def inputs(self, info: Info[Context, None]) -> list[Link]:
        return await linked(info, await _edges(info, self.view.gid, into=True))

    @strawberry.field(description="Edges out of this node: what it went into.")
    async def outputs(self, info: Info[Context, None]) -> list[Link]:
        return await linked(info, await _edges(info, self.view.gid, into=False))


@strawberry.type(description="A relationship between two nodes: material flow or context.")
class Link:
    edge: strawberry.Private[EdgeView]
    # Its ends, loaded in one batch with those of the links listed beside it (`linked`): then
    # `source` and `target` answer without an await per link, which cost more than the rest of
    # a link's answer (twenty thousand links held the event loop for seconds).
    ends: strawberry.Private[Mapping[str, Node | None] | None] = None

    @strawberry.field(description="SPLIT_INTO, MERGED_INTO, CONSUMED_BY, SHIPPED_IN, ON, ...")
    def type(self) -> str:
        return self.edge.type

    @strawberry.field(description="Global id of the source (material flows from it).")
    def source_id(self) -> strawberry.ID:
        return strawberry.ID(self.edge.src)

    @strawberry.field(description="Global id of the target.")
    def target_id(self) -> strawberry.ID:
        return strawberry.ID(self.edge.dst)

    @strawberry.field(description="Exact decimal quantity, as text.")
    def qty(self) -> str | None:
        return None if self.edge.qty is None else plain(self.edge.qty)

    @strawberry.field(description="The event that recorded it.")
    def event(self) -> str:
        return self.edge.event

    @strawberry.field(description="When it happened (UTC).")
    def at(self) -> str:
        return self.edge.at

    @strawberry.field(graphql_type=Node | None)
    def source(self, info: Info[Context, None]) -> Node | Awaitable[Node | None] | None:
        return self._end(info, self.edge.src)

    @strawberry.field(graphql_type=Node | None)
    def target(self, info: Info[Context, None]) -> Node | Awaitable[Node | None] | None:
        return self._end(info, self.edge.dst)

    def _end(self, info: Info[Context, None], gid: str) -> Node | Awaitable[Node | None] | None:
        if self.ends is not None:
            return self.ends.get(gid)
        return _node(info, gid)


async def _node(info: Info[Context, None], gid: str) -> Node | None:
    return to_node(await info.context.nodes.load(gid))


async def nodes_of(
    loader: DataLoader[str, NodeView | None], gids: Sequence[str]
) -> list[Node | None]:
    """Nodes in one batch of one of the request's loaders (each reads through the caller's
    scope)."""
    # Shielded: when a sibling field fails, GraphQL cancels this one, and the cancellation
    # must not reach the loader's futures, which other fields of the request share.
    views = await asyncio.shield(loader.load_many(gids))
    return [to_node(view) for view in views]


async def linked(info: Info[Context, None], edges: Sequence[EdgeView]) -> list[Link]:
    """Links with both ends loaded in one batch (through the caller's scope, as one by one),
    when the query asks for an end: ids and types alone need no node read."""
    # Only `source` and `target` lead past a link: all the field asks below is these links'.
    if not asks(info, "source", "target", below=True):
        return [Link(edge=e) for e in edges]
    gids = list(dict.fromkeys(gid for e in edges for gid in (e.src, e.dst)))
    ends = dict(zip(gids, await nodes_of(info.context.nodes, gids), strict=True))
    return [Link(edge=e, ends=ends) for e in edges]


async def _edges(
    info: Info[Context, None], gid: str, *, into: bool, types: tuple[str, ...] = ()
) -> list[EdgeView]:
    """The edges into (or out of) a node, of `types` if given, in time order; counted against
    the request's budget."""
    edges = await asyncio.shield(info.context.links.load(gid))  # shared, as in `nodes_of`
    chosen = [
        e
        for e in edges
        if (e.dst == gid if into else e.src == gid) and (not types or e.type in types)
    ]
    info.context.budget.spend(len(chosen), NARROW_LINKS)
    return _in_time_order(chosen)


async def _context_edges(
    info: Info[Context, None], loader: DataLoader[str, list[EdgeView] | None], gid: str
) -> list[EdgeView]:
    """A node's links of the one type `loader` reads (its marks, carts or equipment), in time
    order; counted against the request's budget, and read no further than it allows: a hub's
    flow links are not read, nor more of these than are left to list (none, for a caller who
    sees none of their far ends; all, for an operator where those read hold another site's)."""
    edges = await asyncio.shield(loader.load(gid))  # shared, as in `nodes_of`
    if edges is None:
        info.context.budget.refuse(NARROW_CONTEXT)
    info.context.budget.spend(len(edges), NARROW_CONTEXT)
    return _in_time_order(edges)


def _in_time_order(edges: Sequence[EdgeView]) -> list[EdgeView]:
    return sorted(edges, key=lambda e: (e.at, e.src, e.dst))


@strawberry.interface(description="A lot or a serial: material with a part, quantity and status.")
class Item(Node):
    @strawberry.field
    def part(self) -> str | None:
        return _text(self.view, "part")

    @strawberry.field(description="Quantity made, exact decimal as text.")
    def qty(self) -> str | None:
        return _text(self.view, "qty")

    @strawberry.field(description="Quantity not yet consumed or shipped.")
    def available(self) -> str | None:
        return _text(self.view, "available")

    @strawberry.field
    def unit(self) -> str | None:
        return _text(self.view, "unit")

    @strawberry.field(description="released, quarantined, recalled, scrapped (or none yet).")
    def status(self) -> str | None:
        return _text(self.view, "status")

    @strawberry.field
    def site(self) -> str | None:
        return _text(self.view, "site")

    @strawberry.field
    def created_at(self) -> str | None:
        return _text(self.view, "created_at")

    @strawberry.field(description="The event that made it.")
    def created_by(self) -> str | None:
        return _text(self.view, "created_by")

    @strawberry.field(description="Its UDI, when its part has a GTIN; null otherwise.")
    async def udi(self, info: Info[Context, None]) -> Udi | None:
        found = await info.context.udis.load(self.view.gid)
        return None if found is None else Udi.of(found)

    @strawberry.field(description="Secondary marks struck on it.")
    async def marks(self, info: Info[Context, None]) -> list[SecondaryMark]:
        edges = await _context_edges(info, info.context.marks, self.view.gid)
        nodes = await nodes_of(info.context.nodes, [e.src for e in edges])
        return [n for n in nodes if isinstance(n, SecondaryMark)]

    @strawberry.field(description="Carts it was loaded into, each once.")
    async def carts(self, info: Info[Context, None]) -> list[Cart]:
        edges = await _context_edges(info, info.context.carts, self.view.gid)
        # One link per stay: a cart it rode in twice is still one cart.
        nodes = await nodes_of(info.context.nodes, list(dict.fromkeys(e.dst for e in edges)))
        return [n for n in nodes if isinstance(n, Cart)]


@strawberry.type
class Lot(Item):
    @strawberry.field
    def lot(self) -> str:
        return str(self.view.attrs["key"])

    @strawberry.field(description="Supplier, for a lot received from one.")
    def supplier(self) -> str | None:
        return _text(self.view, "supplier")

    @strawberry.field
    def supplier_lot(self) -> str | None:
        return _text(self.view, "supplier_lot")


@strawberry.type
class Serial(Item):
    @strawberry.field
    def serial(self) -> str:
        return str(self.view.attrs["key"])


@strawberry.type
class SupplierLot(Node):
    @strawberry.field
    def supplier(self) -> str | None:
        return _text(self.view, "supplier")

    @strawberry.field
    def supplier_lot(self) -> str | None:
        return _text(self.view, "supplier_lot")

    @strawberry.field
    def part(self) -> str | None:
        return _text(self.view, "part")


@strawberry.type
class ProcessStep(Node):
    @strawberry.field
    def step(self) -> str:
        return str(self.view.attrs["key"])

    @strawberry.field
    def operation(self) -> str | None:
        return _text(self.view, "operation")

    @strawberry.field
    def operator(self) -> str | None:
        return _text(self.view, "operator")

    @strawberry.field
    def work_order(self) -> str | None:
        return _text(self.view, "work_order")

    @strawberry.field
    def started_at(self) -> str | None:
        return _text(self.view, "started_at")

    @strawberry.field
    def finished_at(self) -> str | None:
        return _text(self.view, "finished_at")

    @strawberry.field
    def params(self) -> JSON | None:
        raw = _text(self.view, "params")
        return None if raw is None else json.loads(raw)

    @strawberry.field
    async def equipment(self, info: Info[Context, None]) -> Equipment | None:
        edges = await _context_edges(info, info.context.equipment, self.view.gid)
        nodes = await nodes_of(info.context.nodes, [e.dst for e in edges])
        return next((n for n in nodes if isinstance(n, Equipment)), None)


@strawberry.type
class Shipment(Node):
    @strawberry.field
    def shipment(self) -> str:
        return str(self.view.attrs["key"])

    @strawberry.field(description="The customer, where the caller may see it.")
    def customer(self) -> str | None:
        return _text(self.view, "customer")

    @strawberry.field(
        description="What it holds, in `unit`: null when its items are counted in several units "
        "(their quantities are on its inputs)."
    )
    def qty(self) -> str | None:
        return _text(self.view, "qty")

    @strawberry.field(description="The unit of `qty`: null when there is none.")
    def unit(self) -> str | None:
        return _text(self.view, "unit")

    @strawberry.field
    def shipped_at(self) -> str | None:
        return _text(self.view, "created_at")


@strawberry.type
class Company(Node):
    @strawberry.field
    def company(self) -> str:
        return str(self.view.attrs["key"])


@strawberry.type
class Equipment(Node):
    @strawberry.field
    def equipment(self) -> str:
        return str(self.view.attrs["key"])


@strawberry.type
class Cart(Node):
    @strawberry.field
    def cart(self) -> str:
        return str(self.view.attrs["key"])


@strawberry.type
class SecondaryMark(Node):
    @strawberry.field
    def code(self) -> str:
        return str(self.view.attrs["key"])

    @strawberry.field
    def scheme(self) -> str | None:
        return _text(self.view, "scheme")

    @strawberry.field(description="The lot or serial it marks.")
    async def marks(self, info: Info[Context, None]) -> Node | None:
        edges = await _edges(info, self.view.gid, into=False, types=("MARKS",))
        return await _node(info, edges[0].dst) if edges else None


@strawberry.type(description="A part of the registry, with its GTIN (the UDI-DI) if it has one.")
class Part(Node):
    @strawberry.field
    def part(self) -> str:
        return str(self.view.attrs["key"])

    @strawberry.field(description="GTIN-14.")
    def gtin(self) -> str | None:
        return _text(self.view, "gtin")

    @strawberry.field
    def description(self) -> str | None:
        return _text(self.view, "description")

    @strawberry.field(description="The company whose product it is, for a part bought in.")
    def supplier(self) -> str | None:
        return _text(self.view, "supplier")


NODE_TYPES: dict[str, Any] = {
    "lot": Lot,
    "serial": Serial,
    "supplier_lot": SupplierLot,
    "step": ProcessStep,
    "shipment": Shipment,
    "company": Company,
    "equipment": Equipment,
    "cart": Cart,
    "mark": SecondaryMark,
    "part": Part,
}
ALL_TYPES = (
    Lot,
    Serial,
    SupplierLot,
    ProcessStep,
    Shipment,
    Company,
    Equipment,
    Cart,
    SecondaryMark,
    Part,
)


def to_node(view: NodeView | None) -> Node | None:
    """Wrap a node view in its GraphQL type."""
    if view is None or view.kind not in NODE_TYPES:
        return None
    node: Node = NODE_TYPES[view.kind](view=view)
    return node
