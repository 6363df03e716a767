"""What each role may see and do: every read and write of REST and GraphQL goes through here.

- admin: everything, including accounts.
- analyst: reads everything, runs traces, impact and explanations, records status changes.
- operator: records events of their site on what their site holds (api.operator_scope); reads
  the plant floor of their site: no customers, recall cases, notices or supplier requests.
  Supplier lots and marks have no site: a site's operator sees those linked to what they see
  (lots received from it, the item a mark marks). Parts and equipment are the plant's: named
  by every site, they hold nothing of one (an equipment window lists only the site's steps).
- supplier (bound to a company): their own supplier lots and, as counts and statuses by stage,
  where those went; item ids only where the plant's sharing policy for them says so.
- customer (bound to a company): what was shipped to them, with its status; never suppliers.
Anything outside a caller's scope is "not found", so its existence is not revealed.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from api.auth.models import COMPANY_ROLES, Company, Principal, Role
from api.auth.service import AuthService
from api.federation.models import (
    PROCESSED_INTO,
    STATUS_TEXT,
    STUB_KIND,
    FedEdge,
    FederatedTrace,
    FedNode,
)
from api.graphql.cost import MAX_LISTED
from api.operator_scope import (
    SEEN_THROUGH,
    account_site_refused,
    for_site,
    recorded_for,
    seen_through_site,
    unseen_by,
    without_others,
)
from api.recall import Case, CasePage, Notice, RecallService
from api.supplier_portal import (
    SupplierCasePage,
    SupplierPortal,
    SupplierRequest,
    Upload,
    answer_ids_taken,
)
from graph.analysis import MAX_PATHS, Impact, Origin, Path, impact, origin, paths
from graph.carts import CartInfo, CartService, Contents, SharedCart
from graph.clock import utc_text
from graph.epcis import FULL_VIEW, EpcisView
from graph.epcis_export import EpcisExporter, Keeps, made_view
from graph.errors import BadRequest, Conflict, Forbidden, NotFound
from graph.ids import KINDS, supplier_lot_gid
from graph.ids import gid as make_gid
from graph.lot_codes import (
    Candidate,
    Decoding,
    LotCodeService,
    LotScheme,
    LotSchemeSpec,
    Match,
    Minted,
)
from graph.quantities import Amount, by_unit, one_total
from graph.store import (
    FLOW_TYPES,
    NODE_CONTEXT,
    CartStay,
    Direction,
    DocumentRow,
    EdgeView,
    GraphStore,
    NodeView,
    StepUse,
    StoredEvent,
    Subgraph,
    listed,
    plain,
)
from graph.trace import Trace, TraceNode, TraceService, checked_gid
from graph.trace_cache import TRACES
from graph.udi import IdentifierService, Resolved, Udi
from ingest.epcis_capture import CaptureReport, capture
from ingest.epcis_import import EpcisReader, gtin_map, gtin_parts
from ingest.errors import BatchRejected, EventForbidden, Problem
from ingest.models import Event, ItemRef
from ingest.parse import SentRulesRefused
from ingest.service import IngestReport, IngestService
from marking.models import IssuedMark, Resolution, ResolveQuery, SchemeUsage
from marking.schemes import Scheme
from marking.service import ACCESS as MARKING_ACCESS
from marking.service import MarkingService
from scheduler.carts import CartSizing, CartSizingInput, size_carts

READERS = frozenset({Role.ADMIN, Role.ANALYST})
MAX_WINDOW = timedelta(days=366)
COMPANY_ROLES_SET = frozenset(COMPANY_ROLES)
WRITERS = frozenset({Role.ADMIN, Role.OPERATOR})
# Who records events at all (analysts: status events only, checked per event).
RECORDERS = WRITERS | {Role.ANALYST}
# What an operator reads (of their site): the plant floor. Customers are companies; recall cases,
# notices and supplier requests are the analysts' (operators see the holds as item statuses).
OPERATOR_KINDS = frozenset(KINDS) - {"company", "case", "notice", "supplier_request"}
# The part registry is the plant's, not a site's: a part defined at one site is read at every
# site (its `site` says only where it was defined).
PLANT_WIDE_KINDS = frozenset({"part"})
# The marking service's actions (marking.service.ACCESS), as a refusal says them.
MARKING_ACTIONS = {
    "issue_mark": "issue marks",
    "resolve": "resolve marks",
    "schemes": "read mark code schemes",
    "scheme_usage": "read the usage of mark code schemes",
    "decide": "decide which parts to mark",
    "define_scheme": "define mark code schemes",
}
# What a customer sees besides their company: what was shipped to it, and the items in that.
CUSTOMER_ITEM_KINDS = frozenset({"shipment", "lot", "serial"})
# What a customer is told of an item's status.
CUSTOMER_STATUS = {"quarantined": "under_investigation"}
# Supplier requests and answers enter through the portal, which checks who asks and answers.
# Recall cases are run by analysts (and answered by suppliers) through their own services; an
# operator's raw event feed must not open, close or answer a case.
CASE_EVENT_PREFIX = "recall_"
PARTNER_ATTRS = frozenset(
    {"key", "lot", "serial", "shipment", "part", "qty", "unit", "status", "created_at"}
    | {"expiry", "manufactured"}  # UDI dates: printed on the label anyway
)
# What a partner instance may see of an upstream trace (docs/federation.md); steps only if shared.
UPSTREAM_KINDS = frozenset({"lot", "serial", "supplier_lot", STUB_KIND})
UPSTREAM_ATTRS = PARTNER_ATTRS | {"supplier", "supplier_lot"}
STEP_KINDS = frozenset({"step", "equipment"})
STEP_ATTRS = frozenset({"operation", "equipment", "started_at", "finished_at"})
STUB_ATTRS = frozenset({"status", "message", "at", "partner", "code"})


# Nodes and edges one trace's answer over REST may list (a federated one's too), as many as a
# GraphQL request may: the GraphQL trace gives a larger one a page at a time. It bounds the
# answer, not the work: the trace is walked whole before it is counted (max_depth too, whose
# exposure counts all of it). Read as each answer is counted.
MAX_TRACE_LISTED = MAX_LISTED


# What else a trace refused for its length may be asked as (TraceTooLong's `instead`).
PAGED_TRACE = "page through them with the GraphQL trace (its nodes and links take first and after)"
FEWER_FEDERATED = "ask the GraphQL federatedTrace for fewer lists (its nodes or its links alone)"
# How a REST trace's refusal names the way to ask for fewer levels (its query parameter).
REST_DEPTH = "max_depth"


class TraceTooLong(BadRequest):
    """A trace's answer that would list more nodes and edges than its caller's limit: refused
    whole, never cut short; `instead` says how else to ask it (the GraphQL trace pages a longer
    one; a federated trace is not paged, but GraphQL counts only the lists it asks for)."""

    def __init__(
        self, listed: int, limit: int, instead: str = PAGED_TRACE, *, depth: str = REST_DEPTH
    ) -> None:
        super().__init__(
            f"this trace lists {listed:,} nodes and edges, more than {limit:,}: "
            f"ask for fewer with {depth}, or {instead}"
        )


def within_limit(trace: Trace, limit: int | None, *, depth: str = REST_DEPTH) -> Trace:
    """Return `trace`, or raise TraceTooLong where it lists more nodes and edges than `limit`
    (None: no limit); `depth` names the caller's way to ask for fewer levels."""
    listed = len(trace.nodes) + len(trace.edges)
    if limit is not None and listed > limit:
        raise TraceTooLong(listed, limit, depth=depth)
    return trace


@dataclass(frozen=True, slots=True)
class SupplierLotUse:
    """Where one supplier lot went, as the supplier may see it: counts, statuses, stages.

    Quantities are by unit (graph.quantities); `received_qty` and `shipped_units` are the one
    unit's total as text, None when there are several. `statuses` and `under_investigation` are
    None unless the plant shares statuses with them.
    """

    node: NodeView
    received: list[Amount]
    items_by_kind: dict[str, int]
    items_by_stage: dict[str, dict[str, int]]
    stages: dict[str, int]
    shipments: int
    shipped: list[Amount]
    statuses: dict[str, int] | None
    under_investigation: bool | None

    @property
    def received_qty(self) -> str | None:
        total = one_total(self.received)
        return None if total is None else plain(total)

    @property
    def shipped_units(self) -> str | None:
        total = one_total(self.shipped)
        return None if total is None else plain(total)


@dataclass(frozen=True, slots=True)
class ReceivedShipment:
    shipment: NodeView
    items: list[str] = field(default_factory=list)  # ids: read when asked (received_items)


@dataclass(frozen=True, slots=True)
class ReceivedPage:
    shipments: list[ReceivedShipment]
    more: bool  # shipments follow the last of this page


@dataclass(frozen=True, slots=True)
class LotPage:
    lots: list[NodeView]
    more: bool  # lots follow the last of this page


class Access:
    """The services of one request, seen through its caller's role and scope."""

    def __init__(
        self,
        principal: Principal,
        store: GraphStore,
        ingest: IngestService,
        auth: AuthService,
        marking: MarkingService,
        identifiers: IdentifierService | None = None,
    ) -> None:
        self.principal = principal
        # Everything this caller writes is logged as sent by them.
        ingest = ingest.sent_by(principal.username)
        self._marking = marking.sent_by(principal.username)
        self._recalls = RecallService(store, ingest)
        self._portal = SupplierPortal(store, ingest, self._recalls)
        self._store = store
        self._ingest = ingest
        # The process's traces: a caller's view is cut from them on each read (_filtered).
        self._traces = TraceService(store, TRACES)
        self._identifiers = identifiers or IdentifierService(store)
        self._lot_codes = LotCodeService(store)
        self._auth = auth
        self._customer_scope: dict[str, bool] = {}  # whether each node asked is in it
        self._received_items: set[str] = set()  # of the `received` pages this request listed
        self._statuses_shared: bool | None = None
        # The supplier's own lots, read once for the request's every list of them; its
        # aliases run in threads at once, hence the lock.
        self._supplier_lots: list[str] | None = None
        self._supplier_lots_read = threading.Lock()

    # -- checks --------------------------------------------------------------------------------

    @property
    def role(self) -> Role:
        return self.principal.role

    def require(self, roles: frozenset[Role], what: str) -> None:
        """Raise Forbidden unless the caller has one of `roles`."""
        if self.role not in roles:
            raise Forbidden(f"the {self.role.value} role may not {what}")

    def may_record_events(self) -> None:
        """Raise Forbidden unless the caller's role records events: checked before a body of
        them is read, which for a role that records none would be work for nothing."""
        self.require(RECORDERS, "record events")

    def _received_by_caller(self, gids: Sequence[str]) -> set[str]:
        """Return those of `gids` in a customer's scope: their company, the shipments shipped to
        it, and the lots, serials and shipments that flow into those (the two flow links up from
        the company). Read from the asked nodes' own links and those of the shipments they went
        in, never by walking all the company received: that grows with the plant, not the ask.
        Each answer is kept for the request."""
        known = self._customer_scope
        company = make_gid("company", self.principal.company or "")
        asked = {g for g in gids if g not in known}
        # Made whole before it is kept: a request's aliases read at once, in threads.
        found = {g: g == company for g in asked}
        items = sorted(g for g in asked if g.partition(":")[0] in CUSTOMER_ITEM_KINDS)
        if items:
            # Only a shipment links to a company (SHIPPED_TO): the flow links out of the items
            # that end at a shipment are all a second step may take.
            out = self._flows_out(items)
            ends_of_all = {e for ends in out.values() for e in ends}
            shipments = sorted(e for e in ends_of_all if e.startswith("shipment:"))
            shipped = {s for s, ends in self._flows_out(shipments).items() if company in ends}
            for gid, ends in out.items():
                found[gid] = company in ends or bool(ends & shipped)
        known.update(found)
        return {g for g in gids if known[g]}

    def _flows_out(self, gids: Sequence[str]) -> dict[str, set[str]]:
        """The ends of the flow links out of each of `gids` (one read of their links)."""
        asked = set(gids)
        ends: dict[str, set[str]] = {g: set() for g in gids}
        for edge in self._store.links(gids) if gids else []:
            if edge.src in asked and edge.type in FLOW_TYPES:
                ends[edge.src].add(edge.dst)
        return ends

    def visible(self, view: NodeView) -> bool:
        """Tell whether the caller may see this node at all."""
        return bool(self._seen([view]))

    def _seen(self, views: Sequence[NodeView]) -> set[str]:
        """Return the ids of the nodes among `views` the caller may see (the batch of `visible`:
        a site's operator sees supplier lots and marks through one read for all of them)."""
        if self.role == Role.CUSTOMER:
            return self._received_by_caller([v.gid for v in views])
        seen = {v.gid for v in views if self._sees(v)}
        site = self.principal.site
        if self.role == Role.OPERATOR and site is not None:
            linked = {v.gid for v in views if v.kind in SEEN_THROUGH and v.gid in seen}
            seen -= linked - seen_through_site(self._store, linked, site)
        return seen

    def _sees_some(self, kind: str) -> bool:
        """Tell whether the caller may see some node of `kind` (a mark, a cart, an equipment),
        by what `_sees` says of one that holds nothing: a customer's scope holds companies,
        shipments and items alone, a supplier sees their lots and company alone."""
        return self._sees(NodeView(make_gid(kind, ""), kind, {}))

    def _sees(self, view: NodeView) -> bool:
        """Tell whether the caller may see a node by what it holds alone."""
        if self.role in READERS:
            return True
        if self.role == Role.OPERATOR:
            site = self.principal.site
            return view.kind in OPERATOR_KINDS and (
                site is None
                or view.kind in PLANT_WIDE_KINDS
                or view.attrs.get("site") in (None, site)
            )
        if self.role == Role.SUPPLIER:
            company = self.principal.company
            own_lot = view.kind == "supplier_lot" and view.attrs.get("supplier") == company
            return own_lot or view.gid == make_gid("company", company or "")
        return view.gid in self._received_by_caller([view.gid])

    def redact(self, view: NodeView) -> NodeView:
        """Drop the attributes the caller may not see."""
        if self.role in READERS:
            return view
        if self.role == Role.OPERATOR:
            if "customer" not in view.attrs:  # most nodes: kept as they are, not copied
                return view
            attrs = {k: v for k, v in view.attrs.items() if k != "customer"}
        elif self.role == Role.CUSTOMER:
            attrs = {k: v for k, v in view.attrs.items() if k in PARTNER_ATTRS | {"customer"}}
            if "status" in attrs:
                attrs["status"] = CUSTOMER_STATUS.get(attrs["status"], attrs["status"])
        else:
            # A supplier sees statuses (holds, recalls) only where the plant's policy shares them.
            shown = UPSTREAM_ATTRS if self._shares_statuses() else UPSTREAM_ATTRS - {"status"}
            attrs = {k: v for k, v in view.attrs.items() if k in shown}
        return NodeView(view.gid, view.kind, attrs)

    # -- reads ---------------------------------------------------------------------------------

    def node(self, gid: str) -> NodeView:
        """Return a node the caller may see, or raise NotFound."""
        found = self._store.node(checked_gid(gid))
        if found is None or not self.visible(found):
            raise NotFound(f"no node {gid!r}")
        return self.redact(found)

    def nodes(self, gids: Sequence[str]) -> dict[str, NodeView]:
        """Return the visible nodes among `gids`, redacted (for DataLoaders)."""
        found = self._store.nodes(list(gids))
        seen = self._seen(list(found.values()))
        return {g: self.redact(v) for g, v in found.items() if g in seen}

    def links(self, gids: Sequence[str]) -> list[EdgeView]:
        """Return the edges touching `gids` whose both ends the caller may see."""
        return self._links_seen(self._store.links(list(gids)))

    def context_links(
        self, gids: Sequence[str], type_: str, *, into: bool, limit: int
    ) -> list[EdgeView] | None:
        """Return the edges of `type_` into (or out of) `gids` (NODE_CONTEXT) whose both ends
        the caller may see, or None when those are more than `limit`. None are read where the
        caller sees no node of the kind at their far end (a customer or a supplier: no mark,
        cart or equipment). Else read to one past the limit at most, whatever else a node
        links to, and read whole only where that cut it short yet the caller sees no more than
        the limit (an operator, where some lead to another site's carts or equipment)."""
        if not self._sees_some(NODE_CONTEXT[type_, into]):
            return []
        found = self._store.context_links(gids, type_, into=into, limit=limit + 1)
        seen = self._links_seen(found)
        if len(found) > limit and len(seen) <= limit:
            # Cut short, yet within the limit as the caller sees it: only the whole tells.
            seen = self._links_seen(self._store.context_links(gids, type_, into=into))
        return None if len(seen) > limit else seen

    def _links_seen(self, edges: list[EdgeView]) -> list[EdgeView]:
        """The edges whose both ends the caller may see."""
        if self.role in READERS:
            return edges
        ends = self.nodes(sorted({e.src for e in edges} | {e.dst for e in edges}))
        return [e for e in edges if e.src in ends and e.dst in ends]

    def trace(
        self,
        gid: str,
        direction: Direction,
        *,
        max_depth: int | None = None,
        as_of: datetime | None = None,
        limit: int | None = None,
    ) -> Trace:
        """Trace within the caller's scope; with `limit`, raise TraceTooLong where it lists
        more nodes and edges than that as the caller sees them. The limit bounds the answer,
        not the work: the trace is walked whole before it is counted."""
        if self.role == Role.CUSTOMER:
            raise Forbidden("customers see what they received (the received query), not traces")
        root = self.node(gid)  # not found outside scope
        if self.role == Role.SUPPLIER:
            trace = self._supplier_trace(root, direction, max_depth, as_of)
        else:
            trace = self._filtered(
                self._traces.trace(root.gid, direction, max_depth=max_depth, as_of=as_of)
            )
        return within_limit(trace, limit)

    def _supplier_trace(
        self, root: NodeView, direction: Direction, max_depth: int | None, as_of: datetime | None
    ) -> Trace:
        if root.kind != "supplier_lot" or direction != "down":
            raise Forbidden("suppliers trace their own supplier lots downstream")
        if not self._policy().share_lot_ids:
            raise Forbidden("the plant shares counts and statuses with you: see supplierLots")
        trace = self._traces.trace(root.gid, "down", max_depth=max_depth, as_of=as_of)
        kept = [
            self._redacted_trace_node(n) for n in trace.nodes if _supplier_keeps(root.gid, n.id)
        ]
        ids = {n.id for n in kept}
        return Trace(
            trace.root,
            trace.direction,
            kept,
            [e for e in trace.edges if e.src in ids and e.dst in ids],
        )

    def _redacted_trace_node(self, node: TraceNode) -> TraceNode:
        view = self.redact(NodeView(node.id, node.kind, node.attrs))
        if view.attrs is node.attrs:  # nothing of it hidden from the caller
            return node
        return TraceNode(node.id, node.kind, node.depth, view.attrs, node.exposure, node.share)

    def _filtered(self, trace: Trace) -> Trace:
        if self.role in READERS:
            return trace
        seen = self._seen([NodeView(n.id, n.kind, n.attrs) for n in trace.nodes])
        kept = [self._redacted_trace_node(n) for n in trace.nodes if n.id in seen]
        ids = {n.id for n in kept}
        edges = [e for e in trace.edges if e.src in ids and e.dst in ids]
        return Trace(trace.root, trace.direction, kept, edges)

    # -- federation ------------------------------------------------------------------------------

    def federated_trace(
        self,
        gid: str,
        direction: Direction,
        federate: Callable[[Trace], FederatedTrace],
        *,
        max_depth: int | None = None,
        as_of: datetime | None = None,
    ) -> FederatedTrace:
        """Trace here, then on into partner instances through `federate` (analysts, admins),
        which bounds what it lists, ours among it."""
        self.require(READERS, "run federated traces")
        return federate(self.trace(gid, direction, max_depth=max_depth, as_of=as_of))

    def partner_trace(
        self, code: str, direction: Direction, reshare: Callable[[Trace], FederatedTrace]
    ) -> FederatedTrace:
        """Answer a partner instance: trace from what we shipped its company with code `code`.

        Upstream is for customers whose policy shares it, from a lot or serial shipped to them;
        `reshare` continues into our own partners when the policy allows. Downstream is a
        supplier's own lot, as `trace` gives it to them.
        """
        self.require(COMPANY_ROLES_SET, "answer partner instances")
        company = self.principal.company or ""
        if direction == "down":
            if self.role != Role.SUPPLIER:
                raise Forbidden("downstream partner traces start at a supplier's own lot")
            return FederatedTrace.local(self.trace(supplier_lot_gid(company, code), "down"))
        if self.role != Role.CUSTOMER:
            raise Forbidden("upstream partner traces start at what was shipped to a customer")
        policy = self._auth.company(company)
        if not policy.share_upstream:
            raise Forbidden(f"upstream traces are not shared with {company!r}")
        start = self._shipped_to_caller(code)
        trace = self._traces.trace(start, "up")
        # Our customers are the companies registered as such and any we shipped to: what one
        # sent back is received from it as from a supplier, and is not another customer's to read.
        senders = {str(n.attrs["supplier"]) for n in trace.nodes if n.kind == "supplier_lot"}
        customers = {c.company for c in self._auth.companies() if c.kind == "customer"}
        customers |= self._store.shipped_to(sorted(senders - customers))
        # Before resharing, so a customer's instance is not asked about what it sent us either.
        trace = _customers_unnamed(trace, customers)
        found = reshare(trace) if policy.reshare else FederatedTrace.local(trace)
        return _partner_view(found, policy)

    def _shipped_to_caller(self, code: str) -> str:
        """Return the lot or serial with key `code` that was shipped to the caller's company."""
        asked = [make_gid("serial", code), make_gid("lot", code)]
        scope = self._received_by_caller(asked)
        shipped = [g for g in asked if g in scope]
        if not shipped:
            raise NotFound(f"nothing with code {code!r} was shipped to you")
        if len(shipped) > 1:
            raise Conflict(f"both a lot and a serial {code!r} were shipped to you")
        return shipped[0]

    def impact(self, gid: str, as_of: datetime | None = None) -> Impact:
        """Summarise what a suspect item reached (analysts and admins)."""
        self.require(READERS, "run impact analyses")
        return impact(self._traces.trace(self.node(gid).gid, "down", as_of=as_of))

    def where_from(self, gid: str) -> Origin:
        """Summarise what went into an item (analysts and admins)."""
        self.require(READERS, "run origin analyses")
        return origin(self._traces.trace(self.node(gid).gid, "up"))

    def explain(self, source: str, target: str) -> tuple[list[Path], bool]:
        """Return the material paths from one item to another, the first MAX_PATHS, and whether
        more were left out (analysts and admins)."""
        self.require(READERS, "explain paths")
        start, end = self.node(source), self.node(target)
        # One more than is kept: found, it says the answer was cut.
        found = paths(self._traces.trace(start.gid, "down"), end.gid, MAX_PATHS + 1)
        return found[:MAX_PATHS], len(found) > MAX_PATHS

    def equipment_window(
        self, equipment: str, start: datetime, end: datetime, limit: int | None = None
    ) -> list[StepUse]:
        """Return what ran on an equipment in a window (operators: their site only); with
        `limit`, refuse whole one that lists more steps, inputs and outputs than that as the
        caller sees them (`equipment_window_within`)."""
        uses = self.equipment_window_within(equipment, start, end, limit)
        if uses is None:
            # Counted as the caller sees them: refused whole, never cut short.
            raise BadRequest(
                f"this window lists more than {limit:,} steps, inputs and outputs: "
                "ask for a shorter window"
            )
        return uses

    def equipment_window_within(
        self,
        equipment: str,
        start: datetime,
        end: datetime,
        limit: int | None,
        *,
        inputs: bool = True,
        outputs: bool = True,
    ) -> list[StepUse] | None:
        """Return what ran on an equipment in a window (operators: their site only), or None
        when it lists more than `limit` steps, inputs and outputs as the caller sees them.
        Without `inputs` (or `outputs`) those lists are left empty and not counted, for a
        caller who does not list them. The window is read to one past the limit at most, an
        operator's of their site's steps alone; read whole only where that cut it short yet
        lists no more than the limit as the caller sees it (their steps used or made items
        they may not see)."""
        self.require(READERS | {Role.OPERATOR}, "read equipment windows")
        # A time without an offset cannot be measured against one that has it: said first.
        if start.tzinfo is None or end.tzinfo is None:
            raise BadRequest("from and to need a UTC offset")
        if end - start > MAX_WINDOW:
            # A window lists every step in it with its inputs and outputs: a year is plenty.
            raise BadRequest(f"a window spans at most {MAX_WINDOW.days} days")
        gid = checked_gid(equipment)
        if gid.partition(":")[0] != "equipment":
            # Nothing runs on a lot or a step: an empty window would read as an idle machine.
            raise BadRequest(f"not an equipment id: {equipment!r} (equipment:NAME)")
        # An operator's site is the store's to filter by, so that the limit counts their steps
        # alone: another site's can neither cut their window short nor show in its refusal.
        site = self.principal.site if self.role == Role.OPERATOR else None

        def read(limit: int | None = None) -> list[StepUse]:
            return self._traces.equipment_window(
                gid, start, end, limit, site=site, inputs=inputs, outputs=outputs
            )

        found = read(limit)
        uses = self._window_seen(found)
        if limit is not None and listed(found) > limit and listed(uses) <= limit:
            # Cut short, yet within the limit as the caller sees it: only the whole tells.
            uses = self._window_seen(read())
        if limit is not None and listed(uses) > limit:
            return None
        return [StepUse(self.redact(u.step), u.inputs, u.outputs) for u in uses]

    def _window_seen(self, uses: list[StepUse]) -> list[StepUse]:
        """The steps of a window the caller may see, with the inputs and outputs they may."""
        steps = self._seen([u.step for u in uses])
        uses = [u for u in uses if u.step.gid in steps]
        if self.role not in READERS:
            # A step of the site may use or make items the caller may not see: not named here.
            seen = self.nodes(
                sorted(
                    {e.src for u in uses for e in u.inputs}
                    | {e.dst for u in uses for e in u.outputs}
                )
            )
            uses = [
                StepUse(
                    u.step,
                    [e for e in u.inputs if e.src in seen],
                    [e for e in u.outputs if e.dst in seen],
                )
                for u in uses
            ]
        return uses

    def _policy(self) -> Company:
        """Return what the plant shares with the caller's company (bound at account creation)."""
        return self._auth.company(self.principal.company or "")

    def _shares_statuses(self) -> bool:
        if self._statuses_shared is None:  # asked once per request, not once per node
            self._statuses_shared = self._policy().share_statuses
        return self._statuses_shared

    def may_read_supplier_lots(self) -> None:
        """Raise Forbidden unless the caller is a supplier (checked before a page's arguments)."""
        self.require(frozenset({Role.SUPPLIER}), "read supplier lots")

    def supplier_lot_page(self, first: int, after: str | None = None) -> LotPage:
        """Return, for a supplier, up to `first` of their lots (`my_supplier_lots`) in id
        order, those after the lot id `after` when it is given, and whether more follow: read,
        not walked yet, so that a request may count them before it pays for what they reach
        (`supplier_lot_uses`)."""
        self.may_read_supplier_lots()
        page, more = _page(self.my_supplier_lots(), first, after)
        lots = self._store.nodes(page)
        return LotPage([self.redact(lots[g]) for g in page if g in lots], more)

    def supplier_lot_uses(self, lots: Sequence[NodeView]) -> list[SupplierLotUse]:
        """Return, for a supplier, where each of `lots` (of their own: another's are dropped)
        went, as far as the plant shares: what each reaches downstream, read for many of them
        at once (a page costs a few reads, not one per lot: TraceService.subgraphs). Each lot
        is shown as the caller may see it, however it was read."""
        self.may_read_supplier_lots()
        own = [lot for lot in lots if self._sees(lot)]  # never another's, whoever passed them
        if not own:  # nothing to walk, nor a policy to read for it
            return []
        share_statuses = self._shares_statuses()
        reached = self._traces.subgraphs([lot.gid for lot in own], "down")
        return [
            self._use_of(self.redact(lot), reached[lot.gid], share_statuses)
            for lot in own
            if lot.gid in reached
        ]

    def my_supplier_lots(self) -> list[str]:
        """Return the global ids of the caller's company's supplier lots (those linked FROM
        it), read once per request however many of its lists ask."""
        with self._supplier_lots_read:
            if self._supplier_lots is None:
                self._supplier_lots = sorted(self._company_sources("FROM"))
            return list(self._supplier_lots)

    def _company_sources(self, edge_type: str) -> set[str]:
        """The nodes linked by `edge_type` to the caller's company (FROM and SHIPPED_TO both end
        at a company)."""
        company = make_gid("company", self.principal.company or "")
        links = self._store.links([company])
        return {e.src for e in links if e.type == edge_type and e.dst == company}

    def _use_of(self, lot: NodeView, graph: Subgraph, share_statuses: bool) -> SupplierLotUse:
        reached = {g: n for g, n in graph.nodes.items() if g != lot.gid}
        units = {g: n.attrs.get("unit") for g, n in graph.nodes.items()}
        received = by_unit(
            (units.get(e.dst), e.qty)
            for e in graph.edges
            if e.type == "RECEIVED_AS" and e.qty is not None
        )
        # A serial shipped is one unit whether or not the event gave a quantity.
        shipped = by_unit(
            (units.get(e.src), e.qty if e.qty is not None else Decimal(1))
            for e in graph.edges
            if e.type == "SHIPPED_IN"
        )
        statuses = Counter(str(n.attrs["status"]) for n in reached.values() if "status" in n.attrs)
        steps = {g: str(n.attrs.get("operation")) for g, n in reached.items() if n.kind == "step"}
        by_stage: dict[str, Counter[str]] = {}
        for edge in graph.edges:
            made = reached.get(edge.dst)
            if edge.type == "PRODUCED" and edge.src in steps and made is not None:
                by_stage.setdefault(steps[edge.src], Counter())[made.kind] += 1
        kinds = Counter(n.kind for n in reached.values() if n.kind in ("lot", "serial"))
        return SupplierLotUse(
            node=lot,
            received=received,
            items_by_kind=dict(sorted(kinds.items())),
            items_by_stage={k: dict(sorted(v.items())) for k, v in sorted(by_stage.items())},
            stages=dict(sorted(Counter(steps.values()).items())),
            shipments=sum(1 for n in reached.values() if n.kind == "shipment"),
            shipped=shipped,
            statuses=dict(sorted(statuses.items())) if share_statuses else None,
            under_investigation=(
                bool(statuses.get("quarantined") or statuses.get("recalled"))
                if share_statuses
                else None
            ),
        )

    def may_read_received(self) -> None:
        """Raise Forbidden unless the caller is a customer (checked before a page's arguments)."""
        self.require(frozenset({Role.CUSTOMER}), "read received shipments")

    def received(self, first: int, after: str | None = None) -> ReceivedPage:
        """Return, for a customer, up to `first` of their shipments in id order, those after the
        shipment id `after` when it is given, with the ids of what was in them, and whether more
        follow. The shipments' ids are read, then only the page's shipments and their links: the
        items are read where they are asked (`received_items`)."""
        self.may_read_received()
        page, more = _page(sorted(self._company_sources("SHIPPED_TO")), first, after)
        chosen = set(page)
        contents: dict[str, list[str]] = {}
        for edge in self._store.links(page):
            if edge.type == "SHIPPED_IN" and edge.dst in chosen:
                contents.setdefault(edge.dst, []).append(edge.src)
        views = self._store.nodes(page)
        shipments = [
            ReceivedShipment(self.redact(views[s]), sorted(contents.get(s, [])))
            for s in page
            if s in views
        ]
        self._received_items.update(i for r in shipments for i in r.items)
        return ReceivedPage(shipments, more)

    def received_items(self, gids: Sequence[str]) -> dict[str, NodeView]:
        """Return, for a customer, the items among `gids` of the shipments `received` listed in
        this request, redacted: those are theirs, which spares a walk of all they received."""
        self.may_read_received()
        theirs = sorted(set(gids) & self._received_items)
        return {g: self.redact(v) for g, v in self._store.nodes(theirs).items()}

    # -- secondary marks -------------------------------------------------------------------------

    def marking(self, action: str) -> MarkingService:
        """Return the marking service if the caller's role may perform `action` on it."""
        allowed = MARKING_ACCESS.get(action, frozenset()) | {Role.ADMIN.value}
        self.require(frozenset(Role(role) for role in allowed), MARKING_ACTIONS.get(action, action))
        return self._marking

    def mark_schemes(self) -> list[Scheme]:
        """Return the mark code schemes, by name (their use is read for many at once by
        `mark_scheme_usages`)."""
        return self.marking("schemes").defined()

    def mark_scheme_usages(self, schemes: Sequence[Scheme]) -> list[SchemeUsage]:
        """Return the use of each of `schemes`, in one read; an operator bound to a site counts
        the codes of what they may read (marking.service.MarkingService.scheme_usage)."""
        service = self.marking("schemes")
        site = self.principal.site if self.role == Role.OPERATOR else None
        return service.usages(schemes, site)

    def resolve_mark(self, query: ResolveQuery) -> Resolution:
        """Resolve a worn reading to candidates the caller may see."""
        service = self.marking("resolve")
        if self.role in READERS:
            return service.resolve(query)

        def visible(gids: Sequence[str]) -> set[str]:
            return set(self.nodes(list(gids)))

        return service.resolve(query, name_customers=False, visible=visible)

    def issue_mark(self, target: ItemRef) -> IssuedMark:
        """Issue the next free code of the target's scheme (operators at the target's site)."""
        service = self.marking("issue_mark")
        self.node(target.gid)  # out of scope is not found
        # Recorded for the operator's site, as the events they send are (api.operator_scope).
        site = self.principal.site if self.role == Role.OPERATOR else None
        refused = None if site is None else account_site_refused(site)
        if refused is not None:
            raise BadRequest(refused[1])
        return service.issue_mark(target, actor=self.principal.username, site=site)

    # -- GS1 identifiers -------------------------------------------------------------------------

    def parts(self) -> list[NodeView]:
        """Return the part registry (plant roles: admins, analysts, operators)."""
        self.require(READERS | {Role.OPERATOR}, "read the part registry")
        return self._store.parts()

    def _catalogue(self, part: NodeView) -> NodeView:
        """Return a part as the caller may see it: partners get no supplier identities."""
        if self.role in READERS or self.role == Role.OPERATOR:
            return part
        attrs = {k: v for k, v in part.attrs.items() if k in ("key", "gtin", "description")}
        return NodeView(part.gid, part.kind, attrs)

    def udi(self, gid: str) -> Udi | None:
        """Return the UDI of a lot or serial the caller may see (None: its part has no GTIN)."""
        self.node(gid)  # out of scope is not found
        found = self._store.node(checked_gid(gid))
        return None if found is None else self._identifiers.udi(found)

    def udis(self, gids: Sequence[str]) -> dict[str, Udi | None]:
        """Return the UDIs of the items the caller may see among `gids`, all at once."""
        found = self._store.nodes(list(gids))
        # Unredacted: a UDI is made of attributes a partner's view of the item may not show.
        seen = self._seen(list(found.values()))
        return self._identifiers.udis([v for g, v in found.items() if g in seen])

    def resolve_identifier(self, code: str) -> Resolved:
        """Resolve a scanned GS1 code to the part, lot and serial the caller may see."""
        found = self._identifiers.resolve(code)
        if self.role in READERS:
            return found
        items = [found.lot, found.serial, found.supplier_lot]
        named = [m for n in found.notes for m in n.mentions]
        seen = self.nodes([item.gid for item in items if item is not None] + named)
        shown = [seen.get(item.gid) if item is not None else None for item in items]
        # The part (catalogue data) is shown to the plant floor, and to partners only with an
        # item of it they may see, so scanning cannot probe the registry or anyone's lots.
        part = found.part
        if part is not None and self.role != Role.OPERATOR and not any(shown):
            part = None
        # A note naming a node the caller may not see would tell them it exists.
        notes = [
            n
            for n in found.notes
            if (n.about is None or n.about in seen) and all(m in seen for m in n.mentions)
        ]
        return replace(
            found,
            part=None if part is None else self._catalogue(part),
            lot=shown[0],
            serial=shown[1],
            supplier_lot=shown[2],
            notes=notes if part is not None or self.role == Role.OPERATOR else [],
        )

    # -- lot code schemes ------------------------------------------------------------------------

    def lot_schemes(self) -> list[LotScheme]:
        """Return the registered lot code schemes (plant roles)."""
        self.require(READERS | {Role.OPERATOR}, "read lot code schemes")
        return self._lot_codes.schemes()

    def define_lot_scheme(self, spec: LotSchemeSpec) -> LotScheme:
        """Register a company's lot code scheme and link code (admins)."""
        self.require(frozenset({Role.ADMIN}), "register lot code schemes")
        return self._lot_codes.define(spec)

    def mint_lot(self, scheme: str, partner: str, values: Mapping[str, str | date]) -> Minted:
        """Mint our next lot code with a partner's link code (admins and operators)."""
        self.require(frozenset({Role.ADMIN, Role.OPERATOR}), "mint lot codes")
        return self._lot_codes.mint(scheme, partner, values)

    def decode_lot(self, code: str) -> Decoding:
        """Decode a lot code; a supplier sees only codes of or about their own company."""
        self.require(READERS | {Role.OPERATOR, Role.SUPPLIER}, "decode lot codes")
        # Confirming which supplier lots are upstream of a lot of ours is genealogy: a supplier
        # gets it only where the plant shares lot ids with it.
        confirm = self.role != Role.SUPPLIER or self._policy().share_lot_ids
        # An operator's decoding reads only what they may see: another site's lot confirms
        # nothing and dates nothing, exactly as a lot that does not exist.
        scope = self.nodes if self.role == Role.OPERATOR else None
        found = self._lot_codes.decode(code, confirm=confirm, scope=scope)
        if self.role in READERS:
            return found
        matches, misses = found.matches, found.misses
        if self.role == Role.SUPPLIER:
            mine = self.principal.company
            matches = [m for m in matches if mine in (m.scheme.spec.company, m.partner)]
            # Their own scheme reads any link code: naming whom it points to would let them
            # learn, code by code, which other companies the plant deals with. Another
            # company's scheme that reads their link code is not named either, for the same
            # reason: they learn the code points to them, and which of their lots it may be.
            matches = [
                replace(m, partner=None)
                if m.partner != mine
                else m
                if m.scheme.spec.company == mine
                else replace(m, scheme=_unnamed(m.scheme))
                for m in matches
            ]
            own = {s.name for s in self._lot_codes.schemes() if s.spec.company == mine}
            misses = {name: why for name, why in misses.items() if name in own}
        wanted = [c.supplier_lot.gid for m in matches for c in m.candidates]
        wanted += [lot for m in matches for c in m.candidates for lot in c.lots]
        seen = self.nodes(wanted)
        return Decoding(found.code, [self._scoped_match(m, seen) for m in matches], misses)

    @staticmethod
    def _scoped_match(match: Match, seen: dict[str, NodeView]) -> Match:
        candidates = [
            Candidate(
                seen[c.supplier_lot.gid],
                c.received_at,
                [lot for lot in c.lots if lot in seen],
                c.confirmed,
                c.fields,
            )
            for c in match.candidates
            if c.supplier_lot.gid in seen
        ]
        # Cut only where the caller sees every candidate kept: the lots of a partner the caller
        # may not see are not there for it, and neither is how many of them there are.
        cut = match.truncated and len(candidates) == len(match.candidates)
        return Match(match.scheme, match.fields, match.link_code, match.partner, candidates, cut)

    # -- recall cases ----------------------------------------------------------------------------

    def recalls(self) -> RecallService:
        """Return the recall service for analysts and admins."""
        self.require(READERS, "run recall cases")
        return self._recalls

    def recall_cases_about_me(self, first: int, after: str | None = None) -> CasePage:
        """Return, for a supplier, a page of the cases that name their lots (title, state, own
        suspects), as `my_supplier_cases`."""
        page = self.my_supplier_cases(first, after)
        cases = [
            Case(
                c.id,
                c.title,
                "",
                c.state,
                [{"id": r.supplier_lot} for r in c.lots if r.suspect],
                None,
                c.opened_at,
            )
            for c in page.cases
        ]
        return CasePage(cases, page.more)

    # -- supplier requests and answers -----------------------------------------------------------

    def supplier_portal(self) -> SupplierPortal:
        """Return the supplier requests of cases for analysts and admins."""
        self.require(READERS, "run recall cases")
        return self._portal

    def may_read_my_supplier_cases(self) -> None:
        """Raise Forbidden unless the caller is a supplier: checked before a page's arguments
        are read, so another role hears of its role, not of them."""
        self.require(frozenset({Role.SUPPLIER}), "read the cases about a supplier's lots")

    def my_supplier_cases(self, first: int, after: str | None = None) -> SupplierCasePage:
        """Return, for a supplier, up to `first` of the cases that suspect or ask about one of
        their lots (`my_supplier_lots`), in id order, those after the case id `after` when it
        is given.

        They see the case's title and state and, of its lots, only their own, with the question
        put to them, the deadline and their latest answer; never the scope, customers or other
        suppliers' lots.
        """
        self.may_read_my_supplier_cases()
        page = self._portal.case_page(self.my_supplier_lots(), first, after)
        cases = [
            replace(c, lots=[replace(r, requested_by=None) for r in c.lots]) for c in page.cases
        ]
        return SupplierCasePage(cases, page.more)

    def answer_supplier_request(
        self,
        case_id: str,
        lot: str,
        *,
        text: str | None,
        upstream: list[dict[str, Any]],
        uploads: Sequence[Upload],
        answer_id: str | None = None,
    ) -> SupplierRequest:
        """Answer a case about one of the caller's lots (suppliers)."""
        self.require(frozenset({Role.SUPPLIER}), "answer supplier requests")
        if lot not in self.my_supplier_lots():
            raise NotFound(f"no supplier lot {lot!r} of yours")
        # A missing case and a case about other lots read alike, or case ids could be probed.
        # Of the cases `case_id` names (its id, then its key), the first that names the lot.
        for key in self._recalls.case_keys(case_id):
            asked = self._portal.request(key, lot)
            if asked is not None and asked.named:
                break
        else:
            raise NotFound(f"no recall case {case_id!r} about your lot {lot!r}")
        found = self._portal.answer(
            key,
            lot,
            text=text,
            upstream=upstream,
            uploads=uploads,
            actor=self.principal.username,
            answer_id=answer_id,
        )
        return replace(found, requested_by=None)

    def case_document(
        self, case_id: str, digest: str, media_type: str | None = None
    ) -> DocumentRow:
        """Return a document of a case: analysts any, a supplier those they attached.

        The case is named by its id or its key (RecallService.case_keys): for a supplier, the
        first of the cases so named that holds the document among theirs.
        """
        if self.role in READERS:
            key = self._recalls.case_key(case_id)
            return self._portal.document(key, digest, media_type=media_type)
        self.require(frozenset({Role.SUPPLIER}), "read recall case documents")
        mine = self.my_supplier_lots()
        for key in self._recalls.case_keys(case_id):
            try:
                return self._portal.document(key, digest, mine, media_type)
            except NotFound:
                continue
        raise NotFound(f"no document {digest!r} of yours on recall case {case_id!r}")

    def my_notices(self) -> list[Notice]:
        """Return, for a customer, the recall notices sent to them."""
        self.require(frozenset({Role.CUSTOMER}), "read recall notices")
        return self._recalls.notices_to(self.principal.company or "")

    def acknowledge(
        self, notice_id: str, found: Decimal, returned: Decimal, note: str | None
    ) -> Notice:
        """Answer one of the caller's notices (customers; admins for them)."""
        self.require(frozenset({Role.CUSTOMER, Role.ADMIN}), "answer recall notices")
        # A customer's id is read among their own notices: another's is "not found".
        mine = (self.principal.company or "") if self.role == Role.CUSTOMER else None
        notice = self._recalls.notice(notice_id, mine)
        key = notice.id.partition(":")[2]
        return self._recalls.acknowledge(key, found, returned, note, self.principal.username)

    # -- EPCIS ---------------------------------------------------------------------------------

    def epcis_trace(
        self, gid: str, direction: Direction, *, closure: bool = False
    ) -> dict[str, Any]:
        """Export the events behind a trace the caller may run, as they may see them (EPCIS 2.0).

        `closure` adds the events that made every input (and those that took from a lot before
        a step took all that remained of it), so the document stands on its own;
        it reaches beyond the trace, so only readers may ask for it.
        """
        if closure:
            self.require(READERS, "export beyond a trace (closure)")
        trace = self.trace(gid, direction)  # the trace's own scope rules: 403 or not found
        keeps = self._epcis_keeps(trace)
        if self.role in READERS:
            view = FULL_VIEW
        else:
            view = EpcisView(
                items=frozenset(n.id for n in trace.nodes if n.kind in ("lot", "serial")),
                customers=False,
                suppliers=True,
                people=self.role == Role.OPERATOR,
                plant=self.role == Role.OPERATOR,
                # As in the trace: a supplier sees holds and recalls, even voided ones, only
                # where the plant shares statuses with them.
                statuses=self.role == Role.OPERATOR or self._shares_statuses(),
            )
        # A site's operator reads every item of their site: each event lists all of its items
        # they may see, not only the trace's (a split lists each lot it made), so the document
        # is whole where the operator's scope is; a supplier sees their trace's items only.
        scope = self._seen if self.role == Role.OPERATOR else None
        exporter = EpcisExporter(self._store)
        return exporter.trace_document(trace, view, closure=closure, keeps=keeps, scope=scope)

    def _epcis_keeps(self, trace: Trace) -> Keeps | None:
        """Say which nodes the caller's trace keeps, so a voided event comes into its export
        as its live self would: through a link between two of them (None: every node)."""
        if self.role == Role.SUPPLIER:
            return lambda node, _: _supplier_keeps(trace.root, node)
        if self.role != Role.OPERATOR:
            return None
        # Whether the operator sees each node in the store (a voided shipment of k trace items
        # is asked about k times): the trace's own nodes are seen.
        seen: dict[str, bool] = dict.fromkeys((n.id for n in trace.nodes), True)

        def keeps(node: str, event: Mapping[str, Any]) -> bool:
            if node in seen:
                return seen[node]
            found = self._store.node(node)
            if found is not None:
                seen[node] = self.visible(found)
                return seen[node]
            # Removed with a void: judged as the voided event made it, if it did.
            made = made_view(node, event)
            return made is not None and self._sees(made)

        return keeps

    def capture_epcis(
        self,
        document: Any,
        gtins: dict[str, str] | None = None,
        parties: dict[str, str] | None = None,
    ) -> CaptureReport:
        """Capture an EPCIS 2.0 document as the caller, with the rules of `ingest`."""
        self.may_record_events()
        known = gtin_map(gtins or {})
        reader = EpcisReader(gtin_parts(self._store, known), parties, serial_lots=self._serial_lots)
        return capture(document, reader, self.ingest, self._logged)

    def _serial_lots(self, serials: Sequence[str]) -> Mapping[str, str]:
        """The lot each serial the caller may see was serialized from, where the caller may
        see that lot too (another site's serial is not there for a site's operator, as it is
        not in a batch of theirs; one from another site's lot reads as one of no lot)."""
        found = self._store.serialized_from([make_gid("serial", serial) for serial in serials])
        seen = self._seen([view for pair in found for view in pair])
        return {
            str(serial.attrs["key"]): str(lot.attrs["key"])
            for serial, lot in found
            if serial.gid in seen and lot.gid in seen
        }

    def _logged(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        """The logged events among `event_ids` the caller may void (another site's events are
        not there for a site's operator, as in a void sent natively)."""
        found = self._store.logged(event_ids)
        site = self.principal.site
        if self.role != Role.OPERATOR or site is None:
            return found
        return {i: stored for i, stored in found.items() if recorded_for(stored, site)}

    # -- the event log -------------------------------------------------------------------------

    def event_log(self, after: int, limit: int) -> list[StoredEvent]:
        """Return the log after a position, in order: every event as sent, voided or not, with
        who sent it and when (analysts and admins: it names every party)."""
        self.require(READERS, "read the event log")
        return self._store.events(after, limit)

    # -- writes --------------------------------------------------------------------------------

    def ingest(self, raw_events: Sequence[Any]) -> IngestReport:
        """Ingest events as the caller: operators and admins; analysts only status events."""
        self.may_record_events()
        taken = answer_ids_taken(raw_events)
        if taken:
            raise BatchRejected(taken)
        if self.role == Role.ANALYST:
            events, held = self._ingest.read(raw_events)
            wrong = [
                Problem(i, e.event_id, "type", "forbidden", "analysts record status events only")
                for i, e in enumerate(events)
                if e.type != "status"
            ]
            if wrong:
                raise EventForbidden(wrong[0])
            return self._ingest.ingest_events(events, held=held)
        if self.role == Role.OPERATOR:
            return self._ingest_as_operator(*self._ingest.read(raw_events))
        return self._ingest.ingest(raw_events)

    def _ingest_as_operator(
        self, events: Sequence[Event], held: SentRulesRefused | None
    ) -> IngestReport:
        """Refuse recall case events; keep a site's operator to their site (api.operator_scope)."""
        asked = [
            Problem(i, e.event_id, "type", "forbidden", "recall cases are run by analysts")
            for i, e in enumerate(events)
            if e.type.startswith(CASE_EVENT_PREFIX)
        ]
        if asked:
            raise EventForbidden(asked[0])
        site = self.principal.site
        if site is None:
            return self._ingest.ingest_events(events, held=held)
        try:
            return self._ingest.ingest_events(
                for_site(events, site), held=held, unseen=unseen_by(site)
            )
        except BatchRejected as error:
            raise without_others(error, events, self._store, site) from None

    # -- carts ---------------------------------------------------------------------------------

    def _carts(self, what: str) -> CartService:
        """Carts are plant-floor data: admins, analysts and operators."""
        self.require(READERS | {Role.OPERATOR}, what)
        return CartService(self._store)

    def cart(self, gid: str) -> CartInfo:
        """Return a cart's settings (another site's cart is not found, as by `node`)."""
        carts = self._carts("read carts")
        return carts.cart(self.node(gid).gid)

    def cart_contents(self, gid: str, at: datetime | None = None) -> Contents:
        """Return what a cart holds now or at a time; lots the caller may not see are left out."""
        carts = self._carts("read carts")
        # A time without an offset would be read in the server's zone: refused, as by trace.
        if at is not None and at.tzinfo is None:
            raise BadRequest("at needs a UTC offset, e.g. 2026-03-01T12:00:00Z")
        found = carts.contents(self.node(gid).gid, utc_text(at) if at is not None else None)
        visible = self.nodes([s.lot for s in found.stays])
        return replace(found, stays=[s for s in found.stays if s.lot in visible])

    def lot_carts(self, gid: str) -> list[CartStay]:
        """Return every cart a lot rode in, in load order (open stays: where it is now); carts
        the caller may not see are left out."""
        carts = self._carts("read carts")
        if checked_gid(gid).partition(":")[0] != "lot":
            # Only lots ride in carts: an empty list would read as a lot that rode in none.
            # Said from the id alone, so it tells no one whether such an item exists.
            raise BadRequest(f"not a lot id: {gid!r} (lot:CODE)")
        stays = carts.history(self.node(gid).gid)
        visible = self.nodes(sorted({s.cart for s in stays}))
        return [s for s in stays if s.cart in visible]

    def shared_carts(
        self, gid: str, as_of: datetime | None = None
    ) -> tuple[list[CartStay], list[SharedCart]]:
        """Return the carts a suspect's downstream lots rode in, and who shared them (readers)."""
        self.require(READERS, "run shared-cart analyses")
        trace = self._traces.trace(self.node(gid).gid, "down", as_of=as_of)
        horizon = None if as_of is None else utc_text(as_of)
        return CartService(self._store).shared((node.id for node in trace.nodes), horizon)

    def size_carts(self, problem: CartSizingInput) -> CartSizing:
        """Size cart loads (pure computation: the roles that read the plant floor)."""
        self.require(READERS | {Role.OPERATOR}, "size carts")
        return size_carts(problem)


def _page(ids: Sequence[str], first: int, after: str | None) -> tuple[list[str], bool]:
    """Return up to `first` of `ids` (in order) after the id `after` when it is given, and
    whether more follow: a key, not a position, so a page starts where the last one ended
    even when ids were added or removed in between."""
    start = 0 if after is None else bisect.bisect_right(ids, after)
    return list(ids[start : start + first]), start + first < len(ids)


def _supplier_keeps(root: str, node: str) -> bool:
    """Tell whether a supplier's trace from its lot `root` keeps a node: lots and serials, and
    no supplier lot but the root (not a step, shipment or company)."""
    return node.partition(":")[0] in ("lot", "serial") or node == root


def _unnamed(scheme: LotScheme) -> LotScheme:
    """Return a scheme whose name and company are not shown (empty): its format still reads."""
    return replace(scheme, spec=scheme.spec.model_copy(update={"name": "", "company": ""}))


def _customers_unnamed(trace: Trace, customers: set[str]) -> Trace:
    """Return an upstream trace with what our customers sent us (returns) not naming them.

    A supplier lot of a customer company becomes `supplier_lot:customer-N` (a real supplier
    lot's id always holds a slash: this one names none), and the lots received from it lose
    the supplier and its code; links, depths and shares stay as they are.
    """
    renamed: dict[str, str] = {}
    nodes: list[TraceNode] = []
    for node in trace.nodes:
        if node.attrs.get("supplier") not in customers:
            nodes.append(node)
            continue
        attrs = {k: v for k, v in node.attrs.items() if k not in ("supplier", "supplier_lot")}
        if node.kind == "supplier_lot":
            attrs["key"] = f"customer-{len(renamed) + 1}"
            renamed[node.id] = make_gid("supplier_lot", attrs["key"])
        nodes.append(replace(node, id=renamed.get(node.id, node.id), attrs=attrs))
    edges = [
        replace(e, src=renamed.get(e.src, e.src), dst=renamed.get(e.dst, e.dst))
        for e in trace.edges
    ]
    return Trace(renamed.get(trace.root, trace.root), trace.direction, nodes, edges)


def _partner_view(found: FederatedTrace, policy: Company) -> FederatedTrace:
    """Keep what `policy` shares of an upstream trace; hidden steps become PROCESSED_INTO links."""
    kinds = UPSTREAM_KINDS | (STEP_KINDS if policy.share_steps else frozenset())
    attrs = UPSTREAM_ATTRS | STUB_ATTRS | (STEP_ATTRS if policy.share_steps else frozenset())
    kept = [_shared_node(n, attrs) for n in found.nodes if n.kind in kinds]
    ids = {n.id for n in kept}
    edges = [e for e in found.edges if e.src in ids and e.dst in ids]
    edges += _bridges(found.edges, ids)
    branches = [replace(b, message=STATUS_TEXT[b.status]) for b in found.branches]
    return FederatedTrace(found.root, found.direction, kept, edges, branches)


def _shared_node(node: FedNode, attrs: frozenset[str]) -> FedNode:
    shared = {k: v for k, v in node.attrs.items() if k in attrs}
    if node.kind == STUB_KIND:
        shared["message"] = STATUS_TEXT.get(str(shared.get("status")), "")
    elif "status" in shared:
        # A customer's instance reads statuses as the customer's users do: a hold is an
        # investigation, not our internal quarantine.
        shared["status"] = CUSTOMER_STATUS.get(str(shared["status"]), shared["status"])
    return replace(node, attrs=shared)


def _bridges(edges: Sequence[FedEdge], kept: set[str]) -> list[FedEdge]:
    """Link kept items across the hidden nodes between them, so the material path stays whole.

    What each hidden node leads to is found once and shared by every path through it: a
    partner's answer of many lots over one long hidden chain costs its size, not their product.
    """
    out: dict[str, list[FedEdge]] = {}
    for edge in edges:
        out.setdefault(edge.src, []).append(edge)
    memo: dict[str, dict[str, FedEdge]] = {}
    bridges: dict[tuple[str, str], FedEdge] = {}
    for edge in edges:
        if edge.src not in kept or edge.dst in kept:
            continue
        for dst, step in _kept_beyond(edge.dst, out, kept, memo).items():
            # No event: the last link's is the hidden step's, and its id (often a work order or
            # a station) and which bridges share it would tell the step the policy withholds.
            bridges.setdefault(
                (edge.src, dst),
                FedEdge(edge.src, dst, PROCESSED_INTO, None, step.at, None, step.source),
            )
    return [bridges[key] for key in sorted(bridges)]


def _kept_beyond(
    hidden: str,
    out: dict[str, list[FedEdge]],
    kept: set[str],
    memo: dict[str, dict[str, FedEdge]],
) -> dict[str, FedEdge]:
    """Return the kept nodes reached from `hidden` through hidden nodes only, each with the
    last link into it; remembered in `memo` for every hidden node passed (a walk without
    recursion: a partner's chain may be long)."""
    if hidden in memo:
        return memo[hidden]
    found: dict[str, dict[str, FedEdge]] = {hidden: {}}
    stack = [(hidden, iter(out.get(hidden, [])))]
    while stack:
        node, steps = stack[-1]
        step = next(steps, None)
        if step is None:
            stack.pop()
            memo[node] = found.pop(node)
            if stack:
                for dst, last in memo[node].items():
                    found[stack[-1][0]].setdefault(dst, last)
            continue
        if step.dst in kept:
            found[node].setdefault(step.dst, step)
        elif step.dst in memo:
            for dst, last in memo[step.dst].items():
                found[node].setdefault(dst, last)
        elif step.dst not in found:  # not on the walk already (a partner's cycle ends here)
            found[step.dst] = {}
            stack.append((step.dst, iter(out.get(step.dst, []))))
    return memo[hidden]
