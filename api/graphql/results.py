"""GraphQL result types: traces with cursor pages, impact and origin summaries, typed errors."""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import re
from array import array
from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any, Protocol

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.cost import NARROW_PATHS, NARROW_RECEIVED, NARROW_TRACE, NARROW_WINDOW
from api.graphql.nodes import Link, Node, Shipment, SupplierLot, linked, nodes_of, to_node
from api.graphql.run import as_graphql_error
from graph.analysis import MAX_PATHS, Affected, Contribution, Path
from graph.errors import BadRequest, Conflict
from graph.ids import split_gid
from graph.quantities import Amount
from graph.store import NodeView, StepUse, plain
from graph.trace import Trace as TraceResult
from graph.trace import TraceNode, edge_order, node_order


@strawberry.enum
class Direction(Enum):
    UP = "up"
    DOWN = "down"


NOT_A_CURSOR = BadRequest("not a cursor from this API")


def key_cursor(kind: str, key: str) -> str:
    """Encode the sort key of a listed object (a case id, ...) as an opaque cursor."""
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


# The node whose id each kind of listed object's cursor holds (a trace's cursors, "n" and "l",
# hold their trace's mark and a sort key, which `_bounds` reads).
CURSOR_NODES = {"c": "case", "s": "shipment", "u": "supplier_lot"}


def cursor_key(cursor: str | None, kind: str) -> str | None:
    """Decode a cursor of `key_cursor` back to its key: the next page starts after it.

    A key this API never writes is refused, not read as a place in the list: an empty one
    would start the list again, an id of another kind of node start it anywhere."""
    if cursor is None:
        return None
    try:
        found, colon, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if found == kind and colon and _written_key(kind, key):
            return key
    except (ValueError, UnicodeDecodeError):
        pass
    raise NOT_A_CURSOR


def _written_key(kind: str, key: str) -> bool:
    """Tell whether `key` is one a cursor of `kind` holds: the id of a node of its kind (a key
    that is no node id raises BadId, a ValueError)."""
    node = CURSOR_NODES.get(kind)
    return node is None or split_gid(key)[0] == node


def _sort_key(key: str, size: int) -> tuple[Any, ...]:
    """Read the sort key of a cursor (`json.dumps` of it): a tuple of `size` values, the last
    position before the next page. A key, not a position, so a page starts where the last
    ended even when the list has grown or shrunk in between."""
    try:
        values = json.loads(key)
    except (ValueError, RecursionError):  # a tampered cursor may nest deeper than json reads
        raise NOT_A_CURSOR from None
    if not isinstance(values, list) or len(values) != size:
        raise NOT_A_CURSOR
    return tuple(values)


def page_size(first: int, most: int) -> int:
    """The size of a page asked with `first`, at most `most`; below 1 it is refused: an empty
    page that says more follow would be asked for again and again."""
    if first < 1:
        raise BadRequest(f"first: ask for at least 1 (it was {first})")
    return min(first, most)


def depth_argument(max_depth: int | None) -> int | None:
    """Return the `maxDepth` argument, or raise BadRequest naming it: the services would name
    their own parameter (trace's max_depth), not the GraphQL argument."""
    if max_depth is not None and max_depth < 0:
        raise BadRequest("maxDepth must be 0 or more")
    return max_depth


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


class Cursored(Protocol):
    @property
    def cursor(self) -> str: ...


def page_info(edges: Sequence[Cursored], more: bool) -> PageInfo:
    """The page info of a page of `edges` (in order) of a list, and whether more follow it."""
    return PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None)


@strawberry.type(description="A node reached by a trace.")
class TraceEntry:
    node: Node
    depth: int
    exposure: float | None = strawberry.field(
        description="Downstream: probability one unit carries the root's material (1 = certain)."
    )
    share: float | None = strawberry.field(description="Upstream: the share this node contributed.")


@strawberry.type
class TraceEntryEdge:
    cursor: str
    node: TraceEntry


@strawberry.type
class TraceEntryConnection:
    edges: list[TraceEntryEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class LinkEdge:
    cursor: str
    node: Link


@strawberry.type
class LinkConnection:
    edges: list[LinkEdge]
    page_info: PageInfo
    total_count: int


MAX_PAGE = 1000


class TraceChanged(Conflict):
    """A trace's page asked after a cursor of another trace: start again from its first page."""

    code = "trace_changed"


TRACE_CHANGED = TraceChanged(
    "the trace changed since the page of this cursor was read (events reached it), or the "
    "cursor is of another trace: start again from the first page"
)
UNMARKED = TraceChanged(
    "this cursor does not say which trace it came from (an older API made it): "
    "start again from the first page"
)
MARK = re.compile(r"[0-9a-f]{16}")


def _mark(result: TraceResult, items: str, values: bytes = b"") -> str:
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{result.root}\0{result.direction}\0{items}".encode())
    digest.update(values)
    return digest.hexdigest()


# A fingerprint of what a connection of a trace lists, in its order: two reads of a trace with
# one mark list the same things in the same order, so a page may go on from the other's cursor.
# The items' own attributes (status, available, a link's quantity) are not in it: each page reads
# them as they stand. Joined strings and packed numbers, not a repr of tuples (a fifth of the
# cost): 0.7 ms for 4,000 nodes, 1.6 ms for 5,500 edges, against 80 ms or more to trace them.
def mark_of_nodes(result: TraceResult, nodes: list[TraceNode]) -> str:
    """The mark of the listed `nodes` of a trace: each one's id, depth, and exposure or share."""
    ids = "\0".join([n.id for n in nodes])
    depths = array("q", [n.depth for n in nodes]).tobytes()
    weight = [n.exposure if n.share is None else n.share for n in nodes]
    weights = array("d", [-1.0 if w is None else w for w in weight]).tobytes()
    return _mark(result, ids, depths + weights)


def mark_of_links(result: TraceResult, keys: list[tuple[str, str, str, str]]) -> str:
    """The mark of a trace's edges, by their keys (source, target, type and event) in order."""
    return _mark(result, "\0".join([x for key in keys for x in key]))


def _cursor(kind: str, mark: str, key: tuple[Any, ...]) -> str:
    return key_cursor(kind, f"{mark}:{json.dumps(key)}")


def _bounds(
    keys: list[tuple[Any, ...]], kind: str, size: int, mark: str, first: int, after: str | None
) -> tuple[int, int]:
    """The page of `first` items after the cursor `after` (a key of `size` values, of the trace
    marked `mark`), as positions in `keys` (in order); a refused argument is a GraphQL error
    with its code, as the resolvers that go through `run` answer it.

    A key alone would go on in a trace that changed since: a node that came nearer the root
    (a new shorter path) or was added before the key would be missed, one that went further
    (a void) read twice. So the cursor names its trace too, and one of another is refused."""
    try:
        most = page_size(first, MAX_PAGE)
        start = 0
        if (found := cursor_key(after, kind)) is not None:
            said, colon, key = found.partition(":")
            if not (colon and MARK.fullmatch(said)):
                _sort_key(found, size)  # a cursor of a key alone, as they once were?
                raise UNMARKED
            at = _sort_key(key, size)
            if said != mark:
                raise TRACE_CHANGED
            try:
                start = bisect.bisect_right(keys, at)
            except TypeError:  # a key of values of other types than the list's: not ours
                raise NOT_A_CURSOR from None
        return start, min(len(keys), start + most)
    except (BadRequest, TraceChanged) as error:
        raise as_graphql_error(error) from error


@strawberry.type(
    description="A trace: nodes in BFS order (depth, id) and the edges between them. Its pages "
    "walk one trace: a page after a cursor read before events changed what the connection lists "
    "is refused (code TRACE_CHANGED), to start again from the first page. A trace `asOf` a past "
    "time changes only by a void, or by an event dated before that time recorded since."
)
class Trace:
    # Each node is wrapped as its page lists it (as_node): a page of a hundred wraps a hundred.
    result: strawberry.Private[TraceResult]

    @strawberry.field
    def root(self) -> strawberry.ID:
        return strawberry.ID(self.result.root)

    @strawberry.field
    def direction(self) -> Direction:
        return Direction.UP if self.result.direction == "up" else Direction.DOWN

    # A page counts against the request's budget each time it is asked: under thirty aliases,
    # a page of a thousand is thirty thousand objects.
    @strawberry.field(description=f"Nodes, a page at a time (at most {MAX_PAGE}).")
    def nodes(
        self, info: Info[Context, None], first: int = 100, after: str | None = None
    ) -> TraceEntryConnection:
        entries = self.result.nodes
        keys = [node_order(n) for n in entries]  # the trace's order: (depth, id)
        mark = mark_of_nodes(self.result, entries)
        start, end = _bounds(keys, "n", 2, mark, first, after)
        info.context.budget.spend(end - start, NARROW_TRACE)
        return TraceEntryConnection(
            edges=[
                TraceEntryEdge(
                    cursor=_cursor("n", mark, keys[i]),
                    node=_entry(entries[i]),
                )
                for i in range(start, end)
            ],
            page_info=PageInfo(
                has_next_page=end < len(entries),
                end_cursor=_cursor("n", mark, keys[end - 1]) if end > start else None,
            ),
            total_count=len(entries),
        )

    @strawberry.field(description=f"Edges, a page at a time (at most {MAX_PAGE}).")
    async def links(
        self, info: Info[Context, None], first: int = 100, after: str | None = None
    ) -> LinkConnection:
        edges = self.result.edges
        keys = [edge_order(e) for e in edges]  # the trace's order: (src, dst, type, event)
        mark = mark_of_links(self.result, keys)
        start, end = _bounds(keys, "l", 4, mark, first, after)
        info.context.budget.spend(end - start, NARROW_TRACE)
        page = await linked(info, edges[start:end])
        return LinkConnection(
            edges=[
                LinkEdge(cursor=_cursor("l", mark, keys[i]), node=link)
                for i, link in enumerate(page, start)
            ],
            page_info=PageInfo(
                has_next_page=end < len(edges),
                end_cursor=_cursor("l", mark, keys[end - 1]) if end > start else None,
            ),
            total_count=len(edges),
        )


def as_node(node: TraceNode) -> Node:
    """A node of a trace (or of an impact or origin) as the GraphQL `Node` of its kind."""
    wrapped = to_node(NodeView(node.id, node.kind, node.attrs))
    assert wrapped is not None
    return wrapped


def _entry(node: TraceNode) -> TraceEntry:
    return TraceEntry(
        node=as_node(node), depth=node.depth, exposure=node.exposure, share=node.share
    )


@strawberry.type(description="A quantity and the unit it is counted in.")
class Quantity:
    qty: str = strawberry.field(description="Exact decimal, as text.")
    unit: str


def quantities(amounts: list[Amount]) -> list[Quantity]:
    """Build the GraphQL view of totals by unit."""
    return [Quantity(qty=plain(a.qty), unit=a.unit) for a in amounts]


@strawberry.type(description="An affected item: exposure 1.0 certainly contains, less may contain.")
class AffectedItem:
    node: Node
    exposure: float
    certain: bool
    qty: str | None = strawberry.field(
        description="In `unit`; a shipment's is null when it holds items of several units."
    )
    available: str | None = strawberry.field(description="Still in the plant.")
    shipped: str = strawberry.field(description="Quantity of it shipped out.")
    unit: str | None = strawberry.field(description="The unit its quantities are counted in.")


def affected(item: Affected, node: Node) -> AffectedItem:
    """Build the GraphQL view of one affected item."""
    unit = item.node.attrs.get("unit")
    return AffectedItem(
        node=node,
        exposure=item.exposure,
        certain=item.certain,
        qty=None if item.qty is None else plain(item.qty),
        available=None if item.available is None else plain(item.available),
        shipped=plain(item.shipped),
        unit=None if unit is None else str(unit),
    )


@strawberry.type(
    description="Counts, and quantities by unit: a total never adds units of different kinds."
)
class ImpactTotals:
    lots: int
    serials: int
    shipments: int
    customers: int
    certain: int
    may_contain: int
    in_plant: list[Quantity] = strawberry.field(description="Still in the plant, by unit.")
    shipped: list[Quantity] = strawberry.field(description="Shipped out, by unit.")
    in_plant_qty: str | None = strawberry.field(
        description="`inPlant` as one number: null when it holds several units."
    )
    shipped_qty: str | None = strawberry.field(
        description="`shipped` as one number: null when it holds several units."
    )


@strawberry.type(description="What a suspect item reached: the first answer a recall needs.")
class Impact:
    root: strawberry.ID
    lots: list[AffectedItem]
    serials: list[AffectedItem]
    shipments: list[AffectedItem]
    customers: list[AffectedItem]
    totals: ImpactTotals


@strawberry.type
class Contributor:
    node: Node
    share: float


def contributor(item: Contribution, node: Node) -> Contributor:
    """Build the GraphQL view of one upstream contributor."""
    return Contributor(node=node, share=item.share)


@strawberry.type(description="What went into an item: supplier lots, steps, machines, people.")
class Origin:
    root: strawberry.ID
    supplier_lots: list[Contributor]
    steps: list[Contributor]
    equipment: list[str]
    operators: list[str]


@strawberry.type(description="A step run on an equipment, with what it used and made.")
class StepRun:
    step: Node
    use: strawberry.Private[StepUse]

    # Counted against the request's budget each time they are asked, as a node's: a year on a
    # busy machine is thousands of steps, each with its inputs and outputs.
    @strawberry.field(description="Edges into the step: what it used.")
    async def inputs(self, info: Info[Context, None]) -> list[Link]:
        info.context.budget.spend(len(self.use.inputs), NARROW_WINDOW)
        return await linked(info, self.use.inputs)

    @strawberry.field(description="Edges out of the step: what it made.")
    async def outputs(self, info: Info[Context, None]) -> list[Link]:
        info.context.budget.spend(len(self.use.outputs), NARROW_WINDOW)
        return await linked(info, self.use.outputs)


@strawberry.type(description="One material path between two items.")
class MaterialPath:
    path: strawberry.Private[Path]

    # Counted against the request's budget before they are built, each time they are asked:
    # a hundred paths of a hundred links, under a few aliases, are a hundred thousand objects.
    @strawberry.field
    def node_ids(self, info: Info[Context, None]) -> list[strawberry.ID]:
        info.context.budget.spend(len(self.path.nodes), NARROW_PATHS)
        return [strawberry.ID(gid) for gid in self.path.nodes]

    @strawberry.field
    async def links(self, info: Info[Context, None]) -> list[Link]:
        info.context.budget.spend(len(self.path.edges), NARROW_PATHS)
        return await linked(info, self.path.edges)


@strawberry.type(
    description=f"The material paths from one item to another: the first {MAX_PATHS} found; "
    "`truncated` says more were left out."
)
class Explanation:
    paths: list[MaterialPath]
    truncated: bool


@strawberry.type(description="Where one of a supplier's lots went, as the plant shares it.")
class SupplierLotUse:
    supplier_lot: SupplierLot
    received: list[Quantity] = strawberry.field(description="Received, by unit.")
    received_qty: str | None = strawberry.field(
        description="`received` as one number: null when it holds several units."
    )
    items_by_kind: JSON
    items_by_stage: JSON = strawberry.field(
        description="Lots and serials made from it, by the operation that made them."
    )
    stages: JSON = strawberry.field(description="Process steps reached, by operation.")
    shipments: int
    shipped: list[Quantity] = strawberry.field(
        description="Its products shipped, by unit (a serial is one `ea`)."
    )
    shipped_units: str | None = strawberry.field(
        description="`shipped` as one number: null when it holds several units."
    )
    statuses: JSON | None = strawberry.field(
        description="Items by status; null unless the plant shares statuses with you."
    )
    under_investigation: bool | None = strawberry.field(
        description="Any item held or recalled; null unless the plant shares statuses."
    )


@strawberry.type(description="A shipment to you, and what was in it.")
class ReceivedShipment:
    shipment: Shipment
    item_ids: strawberry.Private[list[str]]

    # Counted against the request's budget each time they are asked, as a node's links, before
    # they are read: years of shipments of serials are tens of thousands of items. One read for
    # the items of every shipment of the page.
    @strawberry.field(description="The lots and serials shipped in it.")
    async def items(self, info: Info[Context, None]) -> list[Node]:
        info.context.budget.spend(len(self.item_ids), NARROW_RECEIVED)
        nodes = await nodes_of(info.context.received_items, self.item_ids)
        return [node for node in nodes if node is not None]


@strawberry.type
class ReceivedShipmentEdge:
    cursor: str
    node: ReceivedShipment


@strawberry.type(description="Your shipments in id order, a page at a time.")
class ReceivedShipmentConnection:
    edges: list[ReceivedShipmentEdge]
    page_info: PageInfo


@strawberry.type
class SupplierLotUseEdge:
    cursor: str
    node: SupplierLotUse


@strawberry.type(description="Your lots in id order, a page at a time.")
class SupplierLotUseConnection:
    edges: list[SupplierLotUseEdge]
    page_info: PageInfo


@strawberry.type
class EventOutcome:
    event_id: str
    status: str


@strawberry.type
class IngestSuccess:
    created: int
    duplicates: int
    results: list[EventOutcome]


@strawberry.type
class EventProblem:
    index: int | None  # None: the body as a whole, not one of its events
    event_id: str | None
    field: str
    code: str
    message: str


@strawberry.type(description="The batch was refused; nothing of it was written.")
class IngestRejected:
    code: str
    message: str
    problems: list[EventProblem]


IngestResult = Annotated[IngestSuccess | IngestRejected, strawberry.union("IngestResult")]


@strawberry.type
class Me:
    username: str
    role: str
    company: str | None
    site: str | None
