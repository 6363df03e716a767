"""The GraphQL schema: recall queries, scoped views for partners, and ingest.

Resolvers are thin: they call Access (which applies the caller's role and scope) off the event
loop and wrap what comes back. Expected failures come back typed (IngestRejected), as null
from a query (not found, which is also what out-of-scope ids look like) or as an error with
`extensions.code` NOT_FOUND from a mutation; a role that may not ask gets an error with
`extensions.code` FORBIDDEN.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, TypeVar

import strawberry
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.scalars import JSON
from strawberry.tools import merge_types
from strawberry.types import Info

from api.access import LotPage, ReceivedPage
from api.federation.graphql import FederationQuery
from api.graphql.carts import CartQuery
from api.graphql.context import Context, forgetting_after_each
from api.graphql.cost import (
    NARROW_RECEIVED,
    NARROW_SUPPLIER_LOTS,
    NARROW_WINDOW,
    HeavyFieldLimit,
    asks,
)
from api.graphql.counts import BIG_INT, BigInt
from api.graphql.errors import AuditOutcome, CodeRefusals, HideInternals, Schema
from api.graphql.identifiers import IdentifierQuery
from api.graphql.literal_errors import NameRefusedLiterals
from api.graphql.lot_codes import LotCodeMutation, LotCodeQuery
from api.graphql.marking import MarkingMutation, MarkingQuery
from api.graphql.nodes import ALL_TYPES, NODE_TYPES, Node, Shipment, SupplierLot, to_node
from api.graphql.recall import RecallMutation, RecallQuery
from api.graphql.results import (
    Contributor,
    Direction,
    EventOutcome,
    EventProblem,
    Explanation,
    Impact,
    ImpactTotals,
    IngestRejected,
    IngestResult,
    IngestSuccess,
    MaterialPath,
    Me,
    Origin,
    ReceivedShipment,
    ReceivedShipmentConnection,
    ReceivedShipmentEdge,
    StepRun,
    SupplierLotUse,
    SupplierLotUseConnection,
    SupplierLotUseEdge,
    Trace,
    affected,
    as_node,
    contributor,
    cursor_key,
    depth_argument,
    key_cursor,
    page_info,
    page_size,
    quantities,
)
from api.graphql.run import as_graphql_error, run
from api.graphql.supplier_portal import SupplierPortalMutation, SupplierPortalQuery
from api.graphql.times import DATE, DATE_TIME, with_offset
from api.graphql.validation import AliasLimit, DepthLimit, ValidateOffLoop
from graph.errors import DomainError
from graph.store import NodeView, plain
from ingest.errors import BatchRejected
from ingest.parse import events_of

T = TypeVar("T")
MAX_LOTS = 500  # supplier lots in one page of supplierLots: all it reaches is read
MAX_RECEIVED = 500  # shipments in one page of received


async def _run(info: Info[Context, None], work: Callable[[], T]) -> T | None:
    """Run blocking service work off the loop (see api.graphql.run)."""
    return await run(work)


def _total(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def _node_of(view: NodeView) -> Node:
    wrapped = to_node(view)
    assert wrapped is not None
    return wrapped


@strawberry.type
class Query:
    @strawberry.field(
        description="Any node by global id (lot:L-1, serial:SN-9, ...); null if unknown."
    )
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return to_node(await _run(info, lambda: info.context.access.node(str(id))))

    @strawberry.field(description="Trace up (where from) or down (where used).")
    async def trace(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        direction: Direction,
        max_depth: Annotated[
            int | None,
            strawberry.argument(
                description="List nodes this many steps away at most; exposure counts all paths."
            ),
        ] = None,
        as_of: datetime | None = None,
    ) -> Trace | None:
        result = await _run(
            info,
            lambda: info.context.access.trace(
                str(id),
                direction.value,
                max_depth=depth_argument(max_depth),
                as_of=with_offset("asOf", as_of),
            ),
        )
        if result is None or result.root.partition(":")[0] not in NODE_TYPES:
            # A recall case, notice or supplier request is no Node here (`node` reads it null):
            # its trace, the root alone, reads null too.
            return None
        return Trace(result=result)

    @strawberry.field(description="What a suspect item reached, with exposure and quantities.")
    async def impact(
        self, info: Info[Context, None], id: strawberry.ID, as_of: datetime | None = None
    ) -> Impact | None:
        found = await _run(
            info, lambda: info.context.access.impact(str(id), with_offset("asOf", as_of))
        )
        if found is None:
            return None

        def items(group: list[Any]) -> list[Any]:
            return [affected(item, as_node(item.node)) for item in group]

        totals = found.totals
        return Impact(
            root=strawberry.ID(found.root),
            lots=items(found.lots),
            serials=items(found.serials),
            shipments=items(found.shipments),
            customers=items(found.customers),
            totals=ImpactTotals(
                lots=totals.lots,
                serials=totals.serials,
                shipments=totals.shipments,
                customers=totals.customers,
                certain=totals.certain,
                may_contain=totals.may_contain,
                in_plant=quantities(totals.in_plant),
                shipped=quantities(totals.shipped),
                in_plant_qty=_total(totals.in_plant_qty),
                shipped_qty=_total(totals.shipped_qty),
            ),
        )

    @strawberry.field(
        description="What went into an item: supplier lots, steps, equipment, operators."
    )
    async def where_from(self, info: Info[Context, None], id: strawberry.ID) -> Origin | None:
        found = await _run(info, lambda: info.context.access.where_from(str(id)))
        if found is None:
            return None
        wrap: Callable[[Any], Contributor] = lambda c: contributor(c, as_node(c.node))  # noqa: E731
        return Origin(
            root=strawberry.ID(found.root),
            supplier_lots=[wrap(c) for c in found.supplier_lots],
            steps=[wrap(c) for c in found.steps],
            equipment=found.equipment,
            operators=found.operators,
        )

    @strawberry.field(description="What was processed on an equipment between two times.")
    async def equipment_window(
        self,
        info: Info[Context, None],
        equipment: strawberry.ID,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> list[StepRun]:
        budget = info.context.budget
        # Only the lists asked are read, and no more of them than the budget has left as this
        # field starts: it spends at least what they list, so a window that lists more is
        # refused unread past that (a year on a busy machine is not read to be refused). The
        # bound is per field: aliased windows run side by side, each bounded by what was left
        # before any spent, so they read at most MAX_HEAVY times it (each is an analysis).
        left = budget.left
        # (The field asked twice under one name is answered once, with both selections.)
        inputs, outputs = asks(info, "inputs"), asks(info, "outputs")
        uses = await _run(
            info,
            lambda: info.context.access.equipment_window_within(
                str(equipment),
                from_,
                to,
                left,
                inputs=inputs,
                outputs=outputs,
            ),
        )
        # None is past the budget: nothing here is not found (an unknown equipment ran nothing).
        if uses is None:
            budget.refuse(NARROW_WINDOW)
        # The steps count as listed nodes, as their inputs and outputs do where they are asked.
        budget.spend(len(uses), NARROW_WINDOW)
        return [StepRun(step=_node_of(use.step), use=use) for use in uses]

    @strawberry.field(description="The material paths that connect one item to another.")
    async def explain(
        self,
        info: Info[Context, None],
        from_: Annotated[strawberry.ID, strawberry.argument(name="from")],
        to: strawberry.ID,
    ) -> Explanation:
        found = await _run(info, lambda: info.context.access.explain(str(from_), str(to)))
        routes, truncated = found or ([], False)
        return Explanation(
            paths=[MaterialPath(path=path) for path in routes],
            truncated=truncated,
        )

    @strawberry.field(
        description="For suppliers: where each of your lots went, as shared, in id order, a "
        f"page at a time (at most {MAX_LOTS}): page on with `after` set to "
        "`pageInfo.endCursor` while `hasNextPage`."
    )
    async def supplier_lots(
        self, info: Info[Context, None], first: int = 100, after: str | None = None
    ) -> SupplierLotUseConnection:
        access = info.context.access

        def page() -> LotPage:
            access.may_read_supplier_lots()  # the role before the arguments
            return access.supplier_lot_page(page_size(first, MAX_LOTS), cursor_key(after, "u"))

        found = await _run(info, page) or LotPage([], False)
        # Each lot counts as a listed node, under every alias: before what it reaches is read.
        info.context.budget.spend(len(found.lots), NARROW_SUPPLIER_LOTS)
        uses = await _run(info, lambda: access.supplier_lot_uses(found.lots)) or []
        edges = [
            SupplierLotUseEdge(
                cursor=key_cursor("u", use.node.gid),
                node=SupplierLotUse(
                    supplier_lot=SupplierLot(view=use.node),
                    received=quantities(use.received),
                    received_qty=use.received_qty,
                    items_by_kind=JSON(use.items_by_kind),
                    items_by_stage=JSON(use.items_by_stage),
                    stages=JSON(use.stages),
                    shipments=use.shipments,
                    shipped=quantities(use.shipped),
                    shipped_units=use.shipped_units,
                    statuses=None if use.statuses is None else JSON(use.statuses),
                    under_investigation=use.under_investigation,
                ),
            )
            for use in uses
        ]
        return SupplierLotUseConnection(edges=edges, page_info=page_info(edges, found.more))

    @strawberry.field(
        description="For customers: your shipments and what was in them, with status, in id "
        f"order, a page at a time (at most {MAX_RECEIVED}): page on with `after` set to "
        "`pageInfo.endCursor` while `hasNextPage`."
    )
    async def received(
        self, info: Info[Context, None], first: int = 100, after: str | None = None
    ) -> ReceivedShipmentConnection:
        access = info.context.access

        def page() -> ReceivedPage:
            access.may_read_received()  # the role before the arguments
            return access.received(page_size(first, MAX_RECEIVED), cursor_key(after, "s"))

        found = await _run(info, page) or ReceivedPage([], False)
        # The shipments count as listed nodes, as their items do where they are asked.
        info.context.budget.spend(len(found.shipments), NARROW_RECEIVED)
        edges = [
            ReceivedShipmentEdge(
                cursor=key_cursor("s", r.shipment.gid),
                node=ReceivedShipment(shipment=Shipment(view=r.shipment), item_ids=r.items),
            )
            for r in found.shipments
        ]
        return ReceivedShipmentConnection(edges=edges, page_info=page_info(edges, found.more))

    @strawberry.field(description="Who you are.")
    def me(self, info: Info[Context, None]) -> Me:
        who = info.context.access.principal
        return Me(username=who.username, role=who.role.value, company=who.company, site=who.site)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Ingest a batch of events atomically, as over REST.")
    async def ingest(self, info: Info[Context, None], events: JSON) -> IngestResult:
        try:
            raw = events_of(events)
            report = await asyncio.to_thread(info.context.access.ingest, raw)
        except BatchRejected as error:
            return IngestRejected(
                code=error.code,
                message=error.message,
                problems=[
                    EventProblem(
                        index=p.index,
                        event_id=p.event_id,
                        field=p.field,
                        code=p.code,
                        message=p.message,
                    )
                    for p in error.problems
                ],
            )
        except DomainError as error:
            raise as_graphql_error(error) from error
        return IngestSuccess(
            created=report.created,
            duplicates=report.duplicates,
            results=[EventOutcome(event_id=r.event_id, status=r.status) for r in report.results],
        )


schema = Schema(
    query=merge_types(
        "Query",
        (
            Query,
            MarkingQuery,
            RecallQuery,
            CartQuery,
            IdentifierQuery,
            FederationQuery,
            LotCodeQuery,
            SupplierPortalQuery,
        ),
    ),
    mutation=forgetting_after_each(
        merge_types(
            "Mutation",
            (Mutation, MarkingMutation, RecallMutation, LotCodeMutation, SupplierPortalMutation),
        )
    ),
    types=list(ALL_TYPES),
    scalar_overrides={datetime: DATE_TIME, date: DATE, BigInt: BIG_INT},
    extensions=[
        # First, so that it reads each error's code last (an operation's end runs them in turn
        # from the last listed), once the extensions below have given it.
        AuditOutcome,
        partial(MaxTokensLimiter, max_token_count=4000),
        # Our own depth and alias rules: strawberry's walk every fragment spread again.
        partial(AddValidationRules, [DepthLimit, AliasLimit, HeavyFieldLimit]),
        NameRefusedLiterals,
        ValidateOffLoop,
        HideInternals,
        CodeRefusals,
    ],
)
