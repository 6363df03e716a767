"""The store port: what the service layer needs from a graph store, and the rows it passes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

from graph.errors import StoreUnavailable

T = TypeVar("T")
Direction = Literal["up", "down"]

# Kinds of node that hold a quantity others consume from.
MATERIAL: frozenset[str] = frozenset({"lot", "serial"})
# Context nodes made on the first mention of them, which a void deletes once nothing links to
# them any more: a supplier lot whose only receipt is voided is received again afresh. Parts
# carry no edges (items name their part), and a mark stays so its code is never issued again.
ORPHAN_KINDS: frozenset[str] = frozenset({"supplier_lot", "company", "equipment", "cart"})
# Material-flow relationship types: traces follow these and nothing else.
FLOW_TYPES: tuple[str, ...] = (
    "RECEIVED_AS",
    "SPLIT_INTO",
    "MERGED_INTO",
    "MIXED_INTO",
    "CONSUMED_BY",
    "PRODUCED",
    "SERIALIZED_AS",
    "SHIPPED_IN",
    "SHIPPED_TO",
)
# Context relationships: describe material, never carry it.
CONTEXT_TYPES: tuple[str, ...] = (
    "ON",
    "MARKS",
    "IN_CART",
    "FROM",
    "NOTICE",
    "TO",
    "SUSPECTS",
    # -- supplier requests: (case)-[:ASKS]->(supplier_request)-[:ABOUT]->(supplier_lot)
    "ASKS",
    "ABOUT",
)
EDGE_TYPES: tuple[str, ...] = FLOW_TYPES + CONTEXT_TYPES
# A node's context links of one type that are read alone, (type, into the node), each with the
# kind of node at its far end: the marks struck on an item, the carts it rode in, the equipment
# a step ran on.
NODE_CONTEXT: Mapping[tuple[str, bool], str] = MappingProxyType(
    {("MARKS", True): "mark", ("IN_CART", False): "cart", ("ON", False): "equipment"}
)


def refused_unfinished(where: str, source: str) -> StoreUnavailable:
    """Why the store at `where`, marked an unfinished copy of `source`, is not opened: part of a
    plant is not to be served, added to or asked as if it were the plant."""
    return StoreUnavailable(
        f"{where} is an unfinished copy of {source}: run copy-store --resume to finish it, "
        "or remove it"
    )


# The rows a batch writes are named tuples, not frozen dataclasses: a batch builds tens of
# thousands of them, and a frozen dataclass costs several times more to build.
class NodeRow(NamedTuple):
    """A node to create. `props` are kind-specific text properties."""

    gid: str
    kind: str
    part: str | None = None
    unit: str | None = None
    qty: Decimal | None = None
    created_by: str | None = None
    created_at: str | None = None
    # Never mutated: a row is built once and only read, so a shared empty default is safe.
    props: dict[str, str] = {}


class EdgeRow(NamedTuple):
    """A relationship to create, from source material to what was made of it.

    `share` is the edge's weight when its target combines several inputs (see graph.exposure);
    `part` is the source's part, which groups the inputs of an assembly.
    """

    src: str
    dst: str
    type: str
    at: str
    event: str
    qty: Decimal | None = None
    share: float | None = None
    part: str | None = None
    until: str | None = None
    compartment: str | None = None


class StatusRow(NamedTuple):
    gid: str
    status: str
    reason: str
    at: str
    event: str


@dataclass(frozen=True, slots=True)
class CartClose:
    """Close the open IN_CART interval of a lot in a cart: the one `loaded` opened.

    Named by its load event: a batch may unload a lot and load it into the same cart again,
    and only the stay it means must end.
    """

    lot: str
    cart: str
    at: str
    event: str
    loaded: str | None = None


class Submission(NamedTuple):
    """Who sent a batch (the authenticated account, not the `actor` its events name) and when
    the store took it."""

    by: str
    at: str


class EventRow(NamedTuple):
    """One entry of the append-only event log."""

    event_id: str
    type: str
    at: str
    payload: str
    digest: str
    voids: str | None
    effects: str
    # Beside the payload, outside the digest: a resend by someone else is the same event.
    recorded_by: str | None = None
    recorded_at: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event_id: str
    seq: int
    type: str
    at: str
    payload: str
    digest: str
    effects: str
    voided_by: str | None
    # None for events logged before the store kept who sent them.
    recorded_by: str | None = None
    recorded_at: str | None = None


class ItemState(NamedTuple):
    """What validation needs to know about an existing node."""

    gid: str
    kind: str
    part: str | None
    unit: str | None
    qty: Decimal | None
    consumed: Decimal
    status: str | None
    created_by: str | None
    created_at: str | None = None


@dataclass(frozen=True, slots=True)
class VoidRow:
    """Remove a voided event's projection; `gids` are the nodes its relationships touch."""

    event_id: str
    gids: tuple[str, ...]


@dataclass(slots=True)
class Changes:
    """Everything one batch writes, applied by a store in a single transaction.

    Order of application: voided events' projections are removed first, then nodes, edges, cart
    closes and status rows are added, then `consumed` values and `props` are set and statuses
    recomputed.
    """

    events: list[EventRow] = field(default_factory=list)
    nodes: list[NodeRow] = field(default_factory=list)
    edges: list[EdgeRow] = field(default_factory=list)
    statuses: list[StatusRow] = field(default_factory=list)
    cart_closes: list[CartClose] = field(default_factory=list)
    consumed: dict[str, Decimal] = field(default_factory=dict)
    voided: list[VoidRow] = field(default_factory=list)
    # Properties merged into existing nodes (recall cases and notices change state).
    props: dict[str, dict[str, str]] = field(default_factory=dict)
    # Attached documents, kept by digest outside the projection (a rebuild keeps them).
    documents: list[DocumentRow] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.events
            or self.nodes
            or self.edges
            or self.statuses
            or self.cart_closes
            or self.consumed
            or self.voided
            or self.props
            or self.documents
        )


@dataclass(frozen=True, slots=True)
class NodeView:
    """A node as read back: kind, key and its properties as plain values."""

    gid: str
    kind: str
    attrs: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EdgeView:
    src: str
    dst: str
    type: str
    qty: Decimal | None
    share: float | None
    part: str | None
    at: str
    event: str


@dataclass(frozen=True, slots=True)
class Subgraph:
    """What a traversal reached: nodes with their BFS depth, and the edges between them."""

    root: NodeView
    depths: dict[str, int]
    nodes: dict[str, NodeView]
    edges: list[EdgeView]


@dataclass(frozen=True, slots=True)
class Reach:
    """What a walk from many roots reached (`reached`): the nodes, roots among them, and the
    flow edges leaving (down) or entering (up) them."""

    nodes: dict[str, NodeView]
    edges: list[EdgeView]

    def from_each(self, roots: Iterable[str], direction: Direction) -> dict[str, Subgraph]:
        """The part of it each of `roots` reaches, as a walk from it alone (`subgraph`, whole
        and as of now) reads it: the nodes it leads to and the edges leaving (down) or entering
        (up) them. A root not reached is left out."""
        ahead: dict[str, list[EdgeView]] = {}
        for edge in self.edges:
            ahead.setdefault(edge.src if direction == "down" else edge.dst, []).append(edge)
        found: dict[str, Subgraph] = {}
        for root in roots:
            if root not in self.nodes or root in found:
                continue
            seen = {root}
            edges: list[EdgeView] = []
            frontier = [root]
            while frontier:
                near = frontier.pop()
                for edge in ahead.get(near, ()):
                    edges.append(edge)
                    far = edge.dst if direction == "down" else edge.src
                    if far not in seen:
                        seen.add(far)
                        frontier.append(far)
            nodes = {gid: self.nodes[gid] for gid in seen}
            depths = bfs_depths(root, direction, edges)
            found[root] = Subgraph(self.nodes[root], depths, nodes, edges)
        return found


def bfs_depths(root: str, direction: Direction, edges: Iterable[EdgeView]) -> dict[str, int]:
    """The fewest steps from `root` to each node the edges lead to in `direction`."""
    ahead: dict[str, list[str]] = {}
    for edge in edges:
        near, far = (edge.src, edge.dst) if direction == "down" else (edge.dst, edge.src)
        ahead.setdefault(near, []).append(far)
    depths = {root: 0}
    frontier = [root]
    while frontier:
        reached = []
        for near in frontier:
            for far in ahead.get(near, ()):
                if far not in depths:
                    depths[far] = depths[near] + 1
                    reached.append(far)
        frontier = reached
    return depths


@dataclass(frozen=True, slots=True)
class StepUse:
    """A process step run on an equipment, with what it consumed and produced."""

    step: NodeView
    inputs: list[EdgeView]
    outputs: list[EdgeView]


def listed(uses: Sequence[StepUse]) -> int:
    """The steps, inputs and outputs an equipment window lists."""
    return sum(1 + len(use.inputs) + len(use.outputs) for use in uses)


class WriteTx(Protocol):
    """Reads and the final write of one ingest transaction."""

    def find_events(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]: ...

    def items(self, gids: Sequence[str]) -> dict[str, ItemState]: ...

    def node_props(self, gids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Return the properties of the nodes that exist among `gids`."""
        ...

    def open_carts(self, lots: Sequence[str]) -> dict[str, list[str]]:
        """Return, per lot, the carts it is in now (open IN_CART intervals)."""
        ...

    def links_by_others(self, gids: Sequence[str], event_id: str) -> list[tuple[str, str, str]]:
        """Return (node gid, link type, event) of the links of these nodes that other events
        than `event_id` made."""
        ...

    def linking_events_after(self, gids: Sequence[str], seq: int) -> list[StoredEvent]:
        """Return the live events logged after position `seq` that made links of these nodes
        (the links `links_by_others` returns), in log order; none logged before is read."""
        ...

    def dependents(self, event_id: str) -> list[str]:
        """Return ids of live events other than `event_id` that touch what it created or closed."""
        ...

    def status_rows(self, gids: Sequence[str]) -> list[StatusRow]:
        """Return the live status rows of `gids`, in the order `latest_statuses` reads them: by
        instant, of equal ones by their events' order in the log."""
        ...

    def apply(self, changes: Changes) -> None: ...

    # -- carts

    def open_stays(self, carts: Sequence[str]) -> list[CartStay]:
        """Return the open IN_CART intervals of the given carts (what they hold now)."""
        ...

    def cart_stays(self, gids: Sequence[str]) -> list[CartStay]:
        """Return every IN_CART interval of the given carts or lots, open or closed."""
        ...

    # -- documents

    def documents(self, digests: Sequence[str]) -> dict[str, StoredDocument]:
        """Return the stored documents among `digests`, without their bytes."""
        ...

    # -- secondary marks

    def mark_schemes(self) -> list[MarkSchemeRow]:
        """Return every registered code scheme."""
        ...

    def save_mark_scheme(self, row: MarkSchemeRow) -> None:
        """Create or replace a code scheme in the registry."""
        ...

    def marks_in_use(self, marks: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """Return, per mark gid, the (item gid, event id) of each live MARKS relationship."""
        ...

    def item_marks(self, items: Sequence[str]) -> dict[str, list[tuple[str, str | None, str]]]:
        """Return, per item gid, the (mark gid, scheme, event id) of each live mark on it."""
        ...

    # -- part registry

    def parts_with_gtins(self, gtins: Sequence[str]) -> dict[str, str]:
        """Return, per GTIN among `gtins` that a part holds, that part's gid."""
        ...

    # -- lot code schemes

    def lot_schemes(self) -> list[LotSchemeRow]:
        """Return every registered lot code scheme, ordered by name."""
        ...

    def save_lot_scheme(self, row: LotSchemeRow) -> None:
        """Create or replace a lot code scheme."""
        ...

    def save_lot_sequence(self, key: str, last: int) -> None:
        """Set the sequence `key` to `last`, or leave it if it is further: never issue twice."""
        ...

    def next_lot_sequence(self, key: str) -> int:
        """Advance the sequence `key` (1 on first use) and return its new value."""
        ...


class GraphStore(Protocol):
    """The port both stores implement; answers must be identical between them."""

    url: str

    def write(self, work: Callable[[WriteTx], T]) -> T:
        """Run `work` in one write transaction; an exception rolls everything back."""
        ...

    def node(self, gid: str) -> NodeView | None: ...

    def nodes(self, gids: Sequence[str]) -> dict[str, NodeView]:
        """Return the nodes that exist among `gids` (one round trip, for DataLoaders)."""
        ...

    def status_rows(self, gids: Sequence[str]) -> list[StatusRow]:
        """Return the status rows of `gids` as `WriteTx.status_rows` does, read outside a
        write (a hold's dates are made from them, then checked under the write lock)."""
        ...

    def links(self, gids: Sequence[str]) -> list[EdgeView]:
        """Return every flow and context edge touching any of `gids`, each once."""
        ...

    def context_links(
        self, gids: Sequence[str], type_: str, *, into: bool, limit: int | None = None
    ) -> list[EdgeView]:
        """Return the edges of `type_` into (or out of) any of `gids`, (type_, into) one of
        NODE_CONTEXT; with `limit`, no more than that of them (in no set order): the rest are
        not read, however many flow links, or links of this type, a node has."""
        ...

    def serialized_from(self, serials: Sequence[str]) -> list[tuple[NodeView, NodeView]]:
        """Return (serial, lot) for each serial among `serials` (by id) that was serialized
        from a lot: the two nodes of each SERIALIZED_AS edge, in one round trip. Each serial
        once, however often it is asked, in no set order."""
        ...

    def nodes_of_kind(self, kind: str, limit: int, after: str | None = None) -> list[NodeView]:
        """Return up to `limit` nodes of one kind, ordered by id, those after the id `after`
        when it is given (for short lists, and a page at a time: cases)."""
        ...

    def subgraph(
        self, root: str, direction: Direction, max_depth: int | None, as_of: str | None
    ) -> Subgraph | None: ...

    def reached(self, roots: Sequence[str], direction: Direction) -> Reach:
        """Return what a walk from any of `roots` reaches, whole and as of now, as `subgraph`
        reads it from one (roots not found reach nothing): one read for many roots, which
        `Reach.from_each` parts again; what they share is returned once, though a store may
        walk it once per root (Neo4j does), so callers read a bounded number of roots at a
        time (graph.trace.ROOTS_PER_READ)."""
        ...

    def equipment_window(
        self,
        equipment: str,
        start: str,
        end: str,
        limit: int | None = None,
        *,
        site: str | None = None,
        inputs: bool = True,
        outputs: bool = True,
    ) -> list[StepUse]:
        """Return the steps run on `equipment` that overlap [start, end], in the order they
        started, with what each consumed and produced. With `limit`, the read stops once it
        holds one more than `limit` steps, inputs and outputs (`listed`): an answer past the
        limit is cut short, a step may miss inputs and outputs, and it is only to be refused.
        With `site`, only the steps recorded at that site or at none (what its operators see)
        are read and counted. Without `inputs` (or `outputs`) every step's list of them is left
        empty, neither read nor counted: for a caller who does not list them."""
        ...

    def events(self, after_seq: int, limit: int) -> list[StoredEvent]: ...

    def recall_events(self, after_seq: int, limit: int) -> list[StoredEvent]:
        """Return the logged recall events (types recall_*) after `after_seq`, in log order."""
        ...

    def recall_events_of(self, case: str, notices: Sequence[str]) -> list[StoredEvent]:
        """Return the logged recall events whose `case` is `case` or whose `notice` is one of
        `notices` (a case's answers name only their notice), in log order."""
        ...

    def logged(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        """Return the logged events among `event_ids` (a read, outside any write)."""
        ...

    def voided_events(self) -> list[StoredEvent]:
        """Return every voided event of the log, in log order (corrections are rare)."""
        ...

    def voided_naming(self, gids: Sequence[str]) -> list[StoredEvent]:
        """Return the voided events that named any of `gids` (graph.event_links.ends: a node
        one of their links joined, or the target of a status), in log order. Read through an
        index of the voided events' nodes, so a plant's other voids are not read."""
        ...

    def status_setters(self, gids: Sequence[str]) -> list[str]:
        """Return the ids of the live events that set a status on any of `gids`, each once."""
        ...

    def statuses_at(self, gids: Sequence[str], at: str) -> dict[str, str]:
        """Return the status each of `gids` had at UTC instant `at` (none set yet: absent),
        decided as the current status is: the latest instant, of equal ones the later event."""
        ...

    def linked_by(self, gid: str, at: str) -> bool:
        """Tell whether a link of `gid`, in either direction and of any type, was made by UTC
        instant `at`; reads only until it finds one. A link holds when its event happened, but a
        step's ON link holds when the step started, which its event may record before or after
        it happened: that one is dated by its step, which holds its event's time."""
        ...

    def clear_projection(self) -> None:
        """Delete every node and edge but keep the event log (for rebuild)."""
        ...

    def projection_version(self) -> int | None:
        """Return the version of the projection that made the graph (graph.projection), None
        for a store from before versions were recorded."""
        ...

    def stamp_projection(self, version: int) -> None:
        """Record that `version` of the projection made the graph (a rebuild's last write)."""
        ...

    def atomically(self) -> AbstractContextManager[bool]:
        """Make the writes of the block one transaction where the store can; say whether it can.

        The embedded store can (a rebuild that stops leaves the graph as it was); on Neo4j each
        write commits on its own, as a transaction must fit the server's memory. One such block
        runs at a time on a store: it takes `one_rebuild` unless this thread holds it.
        """
        ...

    def one_rebuild(self) -> AbstractContextManager[None]:
        """Hold off every other `atomically` block of the store (another waits a bounded time,
        then is StoreBusy) without marking the graph as being rebuilt yet: for a caller that
        looks at the graph once no rebuild runs, then decides whether to rebuild it."""
        ...

    def taking_over_rebuild(self) -> AbstractContextManager[None]:
        """Let this thread's writes in the block pass a rebuild that stopped unfinished.

        On Neo4j a rebuild marks the graph while it commits chunk by chunk, and one that
        stopped (its process died, or a logged event no longer replays) leaves its mark, which
        refuses every other write until a rebuild runs to the end: for a caller that rebuilds
        next anyway, in the block (a copy resumed). There the block holds `one_rebuild`, so the
        mark of a rebuild still running elsewhere is not taken over: this waits for it a
        bounded time, then is StoreBusy. The embedded store's rebuild is one transaction, so
        none stops unfinished there.
        """
        ...

    def held_for_copy(self) -> AbstractContextManager[None]:
        """Keep other copies out of this store for the block: a copy (api.cli_copy) holds its
        target from its check that the target is empty to its end, as two started at once had
        each found it empty and written into it. Another copy is StoreBusy, naming the holder.

        On Neo4j the block holds a lock in a transaction of its own, which goes with its
        process. The embedded store's copy holds the file itself (its flock), from before the
        store is opened, so this holds nothing more there.
        """
        ...

    def mark_copy(self, source: str | None) -> None:
        """Mark this store an unfinished copy of `source`, or with None, a finished one: a copy
        (api.cli_copy) marks its target before its first write and clears the mark once the copy
        is whole and checked, so that one killed outright leaves the part it carried marked.
        Opening a store so marked raises `refused_unfinished`, unless the copy that finishes it
        opens it. In `held_for_copy`, a copy whose hold was lost on the way is StoreBusy rather
        than marked finished: another copy may have written beside it."""
        ...

    def counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...

    # -- secondary marks

    def mark_schemes(self) -> list[MarkSchemeRow]:
        """Return every registered code scheme."""
        ...

    def mark_usage(self, scheme: str) -> tuple[int, int | None]:
        """Return how many codes of `scheme` are recorded and the highest index among them."""
        ...

    def marks_seen_by(self, scheme: str, site: str) -> int:
        """Return how many codes of `scheme` mark an item of `site` or of no site (live MARKS
        relationships only): the codes that site's operators may read."""
        ...

    def last_mark_index(self, scheme: str) -> int | None:
        """Return the highest index of a recorded code of `scheme` (None when there is none)."""
        ...

    def marks_used(
        self, schemes: Sequence[str], site: str | None = None
    ) -> dict[str, tuple[int, int | None]]:
        """Return, for each of `schemes`, how many of its codes are recorded and the highest
        index among them, as `mark_usage` does; with `site`, the count is of the codes that
        site's operators may read, as `marks_seen_by` counts them. One read for all: a list of
        schemes costs no store call per scheme."""
        ...

    def marked_items(self, marks: Sequence[str]) -> list[MarkedItem]:
        """Return the items the given mark gids mark (live MARKS relationships only)."""
        ...

    def items_matching(
        self, prefix: str, pattern: str, limit: int, after: str = ""
    ) -> list[NodeView]:
        """Return nodes whose gid starts with `prefix` and matches `pattern` (`?`: any one
        character), in gid order after `after`, at most `limit` of them."""
        ...

    def item_links(self, gids: Sequence[str]) -> list[ItemLink]:
        """Return the relationships touching the given nodes, with the node at the other end."""
        ...

    # -- part registry

    def part_for_gtin(self, gtin: str) -> NodeView | None:
        """Return the part whose GTIN (UDI-DI) this is, if one is registered."""
        ...

    def parts(self) -> list[NodeView]:
        """Return every registered part, ordered by id."""
        ...

    # -- lot code schemes

    def lot_schemes(self) -> list[LotSchemeRow]:
        """Return every registered lot code scheme, ordered by name."""
        ...

    def lot_sequences(self) -> dict[str, int]:
        """Return every sequence's last issued value, by key."""
        ...

    def partner_lots(
        self, company: str, *, received_before: str | None = None, keep: Sequence[str] = ()
    ) -> list[PartnerLot]:
        """Return the supplier lots of a company with their arrivals, in one round trip.

        With `received_before` (UTC text), only lots never received or first received before
        it, and the lots in `keep` whenever they arrived.
        """
        ...

    def shipped_to(self, companies: Sequence[str]) -> set[str]:
        """Return those of these company ids we have shipped anything to (our customers,
        registered or not)."""
        ...

    # -- carts

    def cart_stays(self, gids: Sequence[str]) -> list[CartStay]:
        """Return every IN_CART interval of the given lots and carts, ordered by load time."""
        ...

    # -- documents

    def document(self, digest: str) -> DocumentRow | None:
        """Return a stored document with its bytes, or None."""
        ...

    def document_digests(self) -> list[str]:
        """Return the sha256 of every stored document, in order."""
        ...


# Log and trail positions are 64-bit integers in either store: past this one none can be read.
LAST_POSITION = 2**63 - 1

# Quantities are exact. A contract quantity has at most 28 digits, none below 1e-28
# and none reaching 1e28 (models.Qty), so a sum or difference of them needs at most 56 digits,
# plus one per tenfold of terms: 100 holds every sum a batch or a lot's history can form. The
# default context keeps 28 and rounds silently, so a 28-digit lot split into itself and 0.4 was
# taken as whole; Inexact is trapped, so no rounding can ever pass unnoticed again. The
# planner plans in it, and what adds up or subtracts quantities for an answer uses it too.
EXACT = Context(
    prec=100,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)


# Kept as graph.clock keeps time texts: a plant's batch writes a few hundred distinct quantities
# thousands of times (a node's, what is consumed of it, its edges'), and a trace reads them per
# edge; equal quantities have one text, so one cached for 1.0 serves 1 and 1E+0.
@lru_cache(maxsize=8192)
def plain(value: Decimal) -> str:
    """A quantity as text, one way however it was reached or sent: 4.0 (2.5 - 1.5 + 3, after a
    void), 4.00 (as a sender spelled it) and 4 (what a rebuild adds up) are all "4".

    Trailing zeros are cut from the text, not by normalize(), which rounds to the context's
    precision."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def node_view(
    gid: str,
    kind: str,
    *,
    part: str | None,
    unit: str | None,
    qty: Decimal | None,
    consumed: Decimal | None,
    status: str | None,
    created_at: str | None,
    created_by: str | None,
    props: dict[str, str],
) -> NodeView:
    """Build the one read-back shape of a node that every store returns."""
    attrs: dict[str, Any] = {"key": gid.partition(":")[2]}
    # By name: Neo4j returns a node's properties in an order of its own; the embedded store
    # writes them sorted, but an update's json_patch (MERGE_PROPS) puts the fields it adds
    # after them. So a node reads the same from either (`trace --json` is the same text). About
    # a microsecond a node of more than one, within the noise of its read.
    attrs.update(sorted(props.items()) if len(props) > 1 else props)
    if part is not None:
        attrs["part"] = part
    if qty is not None:
        attrs["qty"] = plain(qty)
        if kind == "lot" or kind == "serial":
            attrs["available"] = plain(EXACT.subtract(qty, consumed or Decimal(0)))
    if unit is not None:
        attrs["unit"] = unit
    if status is not None:
        attrs["status"] = status
    if created_at is not None:
        attrs["created_at"] = created_at
    if created_by is not None:
        attrs["created_by"] = created_by
    return NodeView(gid, kind, attrs)


def decimal_or_none(text: str | None) -> Decimal | None:
    """Read a stored decimal text back."""
    return None if text is None else Decimal(text)


def latest_statuses(statuses: Sequence[StatusRow]) -> dict[str, str]:
    """Return the status each node is left in by these rows, in the order of their events.

    The latest instant wins, and of equal instants the later event: the order in which each
    store recomputes a status from its log.
    """
    latest: dict[str, StatusRow] = {}
    for row in statuses:
        held = latest.get(row.gid)
        if held is None or row.at >= held.at:
            latest[row.gid] = row
    return {gid: row.status for gid, row in latest.items()}


def decimal_text(value: Decimal | None) -> str | None:
    """Store a decimal as exact text."""
    return None if value is None else plain(value)


# -- secondary marks


@dataclass(frozen=True, slots=True)
class MarkSchemeRow:
    """A code scheme as the registry keeps it: its name and its settings as JSON."""

    name: str
    definition: str


@dataclass(frozen=True, slots=True)
class MarkedItem:
    """A secondary mark and the item it marks."""

    mark: str
    scheme: str | None
    item: NodeView


@dataclass(frozen=True, slots=True)
class ItemLink:
    """A relationship touching `item`: `outgoing` when the item is its source."""

    item: str
    outgoing: bool
    type: str
    until: str | None
    compartment: str | None
    other: NodeView


# -- lot code schemes


@dataclass(frozen=True, slots=True)
class LotSchemeRow:
    """A lot code scheme as the registry keeps it: its name and its settings as JSON."""

    name: str
    definition: str


@dataclass(frozen=True, slots=True)
class PartnerLot:
    """A supplier lot and its arrivals: (received at, our lot gid), earliest first."""

    supplier_lot: NodeView
    arrivals: list[tuple[str, str]]


def partner_lots(rows: Iterable[tuple[NodeView, str | None, str | None]]) -> list[PartnerLot]:
    """Group (supplier lot, received at, lot) rows into one entry per supplier lot, by id."""
    found: dict[str, PartnerLot] = {}
    for view, at, lot in rows:
        entry = found.setdefault(view.gid, PartnerLot(view, []))
        if at is not None and lot is not None:
            entry.arrivals.append((at, lot))
    for entry in found.values():
        entry.arrivals.sort()
    return [found[key] for key in sorted(found)]


# -- carts


@dataclass(frozen=True, slots=True)
class CartStay:
    """A lot's stay in a cart: loaded at `at`, unloaded at `until` (None: still there)."""

    lot: str
    cart: str
    compartment: str | None
    qty: Decimal | None
    at: str
    until: str | None
    event: str
    closed_by: str | None


def sorted_stays(stays: Sequence[CartStay]) -> list[CartStay]:
    """Order stays one way for every store: by load time, cart, lot, event."""
    return sorted(set(stays), key=lambda s: (s.at, s.cart, s.lot, s.event))


# -- documents


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A stored document's description: what events say of it."""

    sha256: str
    media_type: str
    size: int


@dataclass(frozen=True, slots=True)
class DocumentRow:
    """A document's bytes, kept once by their sha256."""

    sha256: str
    media_type: str
    size: int
    content: bytes = field(repr=False)
