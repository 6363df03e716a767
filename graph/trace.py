"""Traces: where an item came from (up) and where it went (down), with exposure and shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

from graph.clock import utc_text
from graph.errors import BadRequest, NotFound
from graph.exposure import downstream_exposure, upstream_shares
from graph.ids import BadId, split_gid
from graph.store import (
    EXACT,
    MATERIAL,
    Direction,
    EdgeView,
    GraphStore,
    NodeView,
    StepUse,
    Subgraph,
    plain,
)
from graph.trace_cache import TraceCache


@dataclass(frozen=True, slots=True)
class TraceNode:
    id: str
    kind: str
    depth: int
    attrs: dict[str, Any]
    exposure: float | None = None
    share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "kind": self.kind, "depth": self.depth}
        if self.exposure is not None:
            body["exposure"] = self.exposure
        if self.share is not None:
            body["share"] = self.share
        body.update(self.attrs)
        return body


@dataclass(frozen=True, slots=True)
class Trace:
    root: str
    direction: Direction
    nodes: list[TraceNode]
    edges: list[EdgeView]

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "direction": self.direction,
            "nodes": [node.to_dict() for node in self.nodes],
            "edges": [edge_dict(edge) for edge in self.edges],
        }


def edge_dict(edge: EdgeView) -> dict[str, Any]:
    """Render an edge the way every interface shows it."""
    return {
        "from": edge.src,
        "to": edge.dst,
        "type": edge.type,
        "qty": None if edge.qty is None else plain(edge.qty),
        "event": edge.event,
        "at": edge.at,
    }


# The flows that take material out of a lot or serial (its shipments too).
TAKING = frozenset(
    {"SPLIT_INTO", "MERGED_INTO", "MIXED_INTO", "CONSUMED_BY", "SERIALIZED_AS", "SHIPPED_IN"}
)

# Roots walked by one store read (`subgraphs`). Neo4j returns once what roots share but walks
# from each root in turn, in one transaction: 321 supplier lots of a 40,000-item plant took
# 9 s there, past a 4 s transaction timeout that reads of one lot each (0.43 s at most) kept
# within. Both stores are read a part at a time alike, so a page costs a few reads.
ROOTS_PER_READ = 50


def node_dict(node: NodeView) -> dict[str, Any]:
    """Render a node the way every interface shows it."""
    return {"id": node.gid, "kind": node.kind} | node.attrs


def checked_gid(value: str) -> str:
    """Return a well-formed global id, or raise BadRequest saying what a good one looks like."""
    try:
        split_gid(value)
    except BadId as error:
        raise BadRequest(str(error)) from error
    return value


def within(graph: Subgraph, max_depth: int) -> list[EdgeView]:
    """The edges a traversal cut at `max_depth` follows: those between nodes within the limit."""
    depths, beyond = graph.depths, max_depth + 1
    return [
        e
        for e in graph.edges
        if depths.get(e.src, beyond) <= max_depth and depths.get(e.dst, beyond) <= max_depth
    ]


def node_order(node: TraceNode) -> tuple[int, str]:
    """A trace's nodes come in this order; pages of them are cut by it too."""
    return node.depth, node.id


def edge_order(edge: EdgeView) -> tuple[str, str, str, str]:
    """A trace's edges come in this order; pages of them are cut by it too."""
    return edge.src, edge.dst, edge.type, edge.event


class TraceService:
    """Read side of the genealogy graph."""

    def __init__(self, store: GraphStore, cache: TraceCache | None = None) -> None:
        """With `cache`, a trace asked again while nothing was recorded is read from it (the
        pages of one trace): what it gives is shared, never to be changed."""
        self._store = store
        self._cache = cache

    def node(self, gid: str) -> NodeView:
        """Return one node, or raise NotFound."""
        found = self._store.node(checked_gid(gid))
        if found is None:
            raise NotFound(f"no node {gid!r}")
        return found

    def trace(
        self,
        root: str,
        direction: Direction,
        *,
        max_depth: int | None = None,
        as_of: datetime | None = None,
    ) -> Trace:
        """Trace from `root` up (where from) or down (where used); raise NotFound if absent.

        `max_depth` limits what is listed, not what is counted: exposure and shares come from
        every path, also those that leave the depth limit and come back into it, so an item the
        root certainly reaches never reads as "may contain" because the trace was cut short.
        """
        if max_depth is not None and max_depth < 0:
            raise BadRequest("max_depth must be 0 or more")
        if as_of is not None and as_of.tzinfo is None:
            raise BadRequest("as_of needs a UTC offset, e.g. 2026-03-01T12:00:00Z")
        horizon = utc_text(as_of) if as_of is not None else None
        checked_gid(root)
        if self._cache is None:
            return self._traced(root, direction, max_depth, horizon)
        return self._cache.trace(
            self._store,
            (root, direction, max_depth, horizon),
            lambda: self._traced(root, direction, max_depth, horizon),
        )

    def subgraphs(self, roots: Sequence[str], direction: Direction) -> dict[str, Subgraph]:
        """Return what each of `roots` reaches, whole and as of now, as a trace of it reads it
        alone, from one read of up to ROOTS_PER_READ of them at a time: a page of roots costs
        a few store calls, not one each, and what they share is returned once by each (on
        Neo4j still walked once per root). A root not found is left out."""
        for root in roots:
            checked_gid(root)
        unique = list(dict.fromkeys(roots))
        found: dict[str, Subgraph] = {}
        for start in range(0, len(unique), ROOTS_PER_READ):
            part = unique[start : start + ROOTS_PER_READ]
            found.update(self._store.reached(part, direction).from_each(part, direction))
        return found

    def _traced(
        self, root: str, direction: Direction, max_depth: int | None, horizon: str | None
    ) -> Trace:
        graph = self._store.subgraph(root, direction, None, horizon)
        if graph is None:
            raise NotFound(f"no node {root!r}")
        if horizon is not None:
            graph = self._as_of(graph, root, direction, horizon)
        kinds = {gid: view.kind for gid, view in graph.nodes.items()}
        if direction == "down":
            exposure = downstream_exposure(root, kinds, graph.edges)
            shares: dict[str, float] = {}
        else:
            exposure = {}
            shares = upstream_shares(root, kinds, graph.edges)
        nodes = [
            TraceNode(
                id=gid,
                kind=view.kind,
                depth=graph.depths[gid],
                attrs=view.attrs,
                exposure=exposure.get(gid) if direction == "down" else None,
                share=shares.get(gid, 0.0) if direction == "up" else None,
            )
            for gid, view in graph.nodes.items()
            if max_depth is None or graph.depths[gid] <= max_depth
        ]
        nodes.sort(key=node_order)
        edges = graph.edges if max_depth is None else within(graph, max_depth)
        edges = sorted(edges, key=edge_order)
        return Trace(root, direction, nodes, edges)

    def _as_of(self, graph: Subgraph, root: str, direction: Direction, horizon: str) -> Subgraph:
        """The traced items as they stood at `horizon`: the store keeps them as they are now.

        Statuses are read from their history. What a lot or serial held then is its quantity
        less what left it by then, which a downward trace holds whole (every edge out of what it
        reaches); an upward one does not, so it says nothing of what was available.
        """
        if not self._existed(graph, root, horizon):
            raise NotFound(f"no node {root!r} at {horizon}")
        statuses = self._store.statuses_at(sorted(graph.nodes), horizon)
        with localcontext(EXACT):  # what a lot held, to the last digit
            taken: dict[str, Decimal] = {}
            for edge in graph.edges:
                if edge.type in TAKING and edge.qty is not None:
                    taken[edge.src] = taken.get(edge.src, Decimal(0)) + edge.qty
            nodes = {}
            for gid, view in graph.nodes.items():
                attrs = {k: v for k, v in view.attrs.items() if k not in ("status", "available")}
                if gid in statuses:
                    attrs["status"] = statuses[gid]
                if direction == "down" and view.kind in MATERIAL and "qty" in attrs:
                    held = Decimal(str(attrs["qty"])) - taken.get(gid, Decimal(0))
                    attrs["available"] = plain(held)
                nodes[gid] = NodeView(gid, view.kind, attrs)
        return replace(graph, root=nodes[root], nodes=nodes)

    def _existed(self, graph: Subgraph, root: str, horizon: str) -> bool:
        """Tell whether `root` existed at `horizon`.

        A node an event makes holds when it came to be. A context node (supplier lot, company,
        equipment, cart or mark, made on first mention) holds no time of its own: it came to be
        with the first event that linked it, in either direction, by a link of any type.
        """
        made = graph.nodes[root].attrs.get("created_at")
        if made is not None:
            return str(made) <= horizon
        # The walk kept only the flows made by then: one of them touching the root dates it.
        if any(root in (edge.src, edge.dst) for edge in graph.edges):
            return True
        # Else a link the walk does not follow: the first made by then, not all the root has.
        return self._store.linked_by(root, horizon)

    def neighbourhood(self, root: str, direction: Direction, max_depth: int) -> Subgraph | None:
        """Return the nodes and edges within `max_depth` of `root`, without exposure or shares
        (what a caller's scope is made of: none of them is shown as a trace)."""
        return self._store.subgraph(checked_gid(root), direction, max_depth, None)

    def equipment_window(
        self,
        equipment: str,
        start: datetime,
        end: datetime,
        limit: int | None = None,
        *,
        site: str | None = None,
        inputs: bool = True,
        outputs: bool = True,
    ) -> list[StepUse]:
        """Return the steps run on an equipment that overlap [start, end]; with `limit`, the
        read stops one past it, and an answer that lists more is cut short (store.listed); with
        `site`, only its steps and those of no site; without `inputs` or `outputs`, those lists
        are left empty (GraphStore.equipment_window)."""
        if start.tzinfo is None or end.tzinfo is None:
            raise BadRequest("from and to need a UTC offset")
        if end < start:
            raise BadRequest("the window ends before it starts")
        return self._store.equipment_window(
            checked_gid(equipment),
            utc_text(start),
            utc_text(end),
            limit,
            site=site,
            inputs=inputs,
            outputs=outputs,
        )
