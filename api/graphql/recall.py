"""GraphQL for recall cases: the analyst's case, the customer's notices, the supplier's view."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry
from pydantic import TypeAdapter, ValidationError
from strawberry.scalars import JSON
from strawberry.types import Info

from api import recall
from api.graphql.carts import SharedCarts
from api.graphql.case_ids import CaseArgument, NewCaseArgument
from api.graphql.context import Context
from api.graphql.results import PageInfo, cursor_key, key_cursor, page_info, page_size
from api.graphql.run import mutate, run
from api.graphql.supplier_portal import SupplierRequest
from api.graphql.times import utc_argument
from api.validation_text import problem_message
from graph import recall as scope_of
from graph.errors import BadRequest
from graph.store import plain
from ingest.models import Count

# An answer's quantities are those of its recall_ack event: read by the same type.
COUNT: TypeAdapter[Decimal] = TypeAdapter(Count)


def _ids(values: list[str]) -> list[strawberry.ID]:
    return [strawberry.ID(value) for value in values]


def _qty(value: Decimal | None) -> str | None:
    """An amount as text, one way however it was reached (6, not 6.0 from 4.5 + 1.5)."""
    return None if value is None else plain(value)


@strawberry.type(description="A suspect: a node, or an equipment over a time window.")
class Suspect:
    id: strawberry.ID
    from_: str | None = strawberry.field(name="from")
    to: str | None


@strawberry.input
class SuspectInput:
    id: strawberry.ID
    from_: Annotated[datetime | None, strawberry.argument(name="from")] = strawberry.field(
        default=None, name="from"
    )
    to: datetime | None = None

    def as_dict(self, where: str) -> dict[str, str]:
        """The suspect as the recall events take it; `where` names it in refusals."""
        row = {"id": str(self.id)}
        # Each as given, so the event refuses half a window rather than lose it unseen. GraphQL's
        # DateTime takes a time without an offset (and a date alone): refused, as trace's asOf
        # is, rather than read in the server's zone.
        if self.from_ is not None:
            row["from"] = utc_argument(f"{where}.from", self.from_)
        if self.to is not None:
            row["to"] = utc_argument(f"{where}.to", self.to)
        return row


def _rows(suspects: list[SuspectInput]) -> list[dict[str, str]]:
    return [s.as_dict(f"suspects[{i}]") for i, s in enumerate(suspects)]


@strawberry.type(description="An affected lot or serial in a case's scope.")
class ScopeEntry:
    id: strawberry.ID
    kind: str
    part: str | None
    exposure: float | None = strawberry.field(
        description="1.0 certainly contains, less may contain; null: share unknown (an item "
        "reached only through an equipment window), may contain."
    )
    certain: bool
    basis: str = strawberry.field(description='"material", or "equipment window" (share unknown)')
    qty: str
    available: str
    unit: str | None
    status: str | None
    shipped: JSON = strawberry.field(description="Quantity shipped, by shipment id.")


@strawberry.type
class ScopeShipment:
    id: strawberry.ID
    customer: str
    exposure: float | None = strawberry.field(
        description="That of its most exposed item; null when an item of unknown share may be more."
    )
    items: JSON


@strawberry.type
class CaseScope:
    items: list[ScopeEntry]
    shipments: list[ScopeShipment]
    customers: list[str]
    in_plant: int = strawberry.field(description="Items still in the plant (to hold).")


def _scope(found: scope_of.Scope) -> CaseScope:
    return CaseScope(
        items=[
            ScopeEntry(
                id=strawberry.ID(i.id),
                kind=i.kind,
                part=i.part,
                exposure=i.exposure,
                certain=i.certain,
                basis=i.basis,
                qty=plain(i.qty),
                available=plain(i.available),
                unit=i.unit,
                status=i.status,
                shipped=JSON({k: plain(v) for k, v in i.shipped.items()}),
            )
            for i in found.items
        ],
        shipments=[
            ScopeShipment(
                id=strawberry.ID(s.id),
                customer=s.customer,
                exposure=s.exposure,
                items=JSON({k: plain(v) for k, v in s.items.items()}),
            )
            for s in found.shipments
        ],
        customers=found.customers,
        in_plant=sum(1 for i in found.items if i.in_plant),
    )


@strawberry.type(description="The mock-recall measure in one unit.")
class UnitReconciliation:
    unit: str | None = strawberry.field(
        description="null: answers of customers shipped items of several units (no unit said)."
    )
    expected: str
    held_in_plant: str
    found_by_customers: str
    returned_by_customers: str
    scrapped: str
    accounted: str
    percent: float

    @classmethod
    def of(cls, found: scope_of.UnitReconciliation) -> UnitReconciliation:
        return cls(
            unit=found.unit,
            expected=plain(found.expected),
            held_in_plant=plain(found.held_in_plant),
            found_by_customers=plain(found.found_by_customers),
            returned_by_customers=plain(found.returned_by_customers),
            scrapped=plain(found.scrapped),
            accounted=plain(found.accounted),
            percent=round(found.percent, 2),
        )


@strawberry.type(
    description="Quantity accounted for: the mock-recall measure (99.5-104 %), per unit "
    "(`units`). The single numbers are the one unit's, null when the scope counts in several; "
    "`percent` is then the lowest of the units'."
)
class Reconciliation:
    units: list[UnitReconciliation]
    expected: str | None
    held_in_plant: str | None
    found_by_customers: str | None
    returned_by_customers: str | None
    scrapped: str | None
    accounted: str | None
    percent: float


@strawberry.type
class ScopeChange:
    added: list[strawberry.ID]
    removed: list[strawberry.ID]
    changed: list[strawberry.ID]


@strawberry.type(description="A recall notice to one customer, and their answer.")
class Notice:
    id: strawberry.ID
    case: str
    customer: str
    message: str
    state: str
    sent_at: str | None
    found_qty: str | None
    returned_qty: str | None
    note: str | None

    @classmethod
    def of(cls, notice: recall.Notice) -> Notice:
        return cls(
            id=strawberry.ID(notice.id),
            case=notice.case,
            customer=notice.customer,
            message=notice.message,
            state=notice.state,
            sent_at=notice.sent_at,
            found_qty=_qty(notice.found_qty),
            returned_qty=_qty(notice.returned_qty),
            note=notice.note,
        )


@strawberry.type(description="A recall case.")
class RecallCase:
    case: strawberry.Private[recall.Case]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.case.id)

    @strawberry.field
    def title(self) -> str:
        return self.case.title

    @strawberry.field
    def reason(self) -> str:
        return self.case.reason

    @strawberry.field(description="open, scoped, holding, notifying, closed")
    def state(self) -> str:
        return self.case.state

    @strawberry.field
    def opened_by(self) -> str | None:
        return self.case.opened_by

    @strawberry.field
    def opened_at(self) -> str | None:
        return self.case.opened_at

    @strawberry.field
    def suspects(self) -> list[Suspect]:
        return [
            Suspect(id=strawberry.ID(s["id"]), from_=s.get("from"), to=s.get("to"))
            for s in self.case.suspects
        ]

    @strawberry.field(description="What the suspects reached, as of now.")
    async def scope(self, info: Info[Context, None]) -> CaseScope | None:
        key = self.case.id.partition(":")[2]
        found = await run(lambda: info.context.access.recalls().scope(key))
        return None if found is None else _scope(found)

    @strawberry.field(description="Other lots that shared carts with the scope's lots (a risk).")
    async def shared_carts(self, info: Info[Context, None]) -> SharedCarts | None:
        key = self.case.id.partition(":")[2]
        found = await run(lambda: info.context.access.recalls().shared_carts(key))
        return None if found is None else SharedCarts.of(*found)

    @strawberry.field
    async def notices(self, info: Info[Context, None]) -> list[Notice]:
        found = await info.context.case_notices.load(self.case.id.partition(":")[2])
        return [Notice.of(n) for n in found]

    @strawberry.field
    async def reconciliation(self, info: Info[Context, None]) -> Reconciliation | None:
        key = self.case.id.partition(":")[2]
        found = await run(lambda: info.context.access.recalls().reconciliation(key))
        if found is None:
            return None
        return Reconciliation(
            units=[UnitReconciliation.of(unit) for unit in found.units],
            expected=_qty(found.expected),
            held_in_plant=_qty(found.held_in_plant),
            found_by_customers=_qty(found.found_by_customers),
            returned_by_customers=_qty(found.returned_by_customers),
            scrapped=_qty(found.scrapped),
            accounted=_qty(found.accounted),
            percent=round(found.percent, 2),
        )

    @strawberry.field(
        description="The supplier lots the case suspects or asks about, and their answers."
    )
    async def supplier_requests(self, info: Info[Context, None]) -> list[SupplierRequest]:
        found = await info.context.case_requests.load(self.case)
        return [SupplierRequest.of(r) for r in found]

    @strawberry.field(description="Who did what, when and why: the case's events.")
    async def history(self, info: Info[Context, None]) -> JSON:
        key = self.case.id.partition(":")[2]
        return JSON(await run(lambda: info.context.access.recalls().history(key)) or [])


@strawberry.type
class RecallCaseEdge:
    cursor: str
    node: RecallCase


@strawberry.type(description="Recall cases in id order, a page at a time.")
class RecallCaseConnection:
    edges: list[RecallCaseEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, found: recall.CasePage) -> RecallCaseConnection:
        edges = [
            RecallCaseEdge(cursor=key_cursor("c", c.id), node=RecallCase(case=c))
            for c in found.cases
        ]
        return cls(edges=edges, page_info=page_info(edges, found.more))


@strawberry.type
class RecallQuery:
    @strawberry.field(description="One recall case (analysts).")
    async def recall_case(self, info: Info[Context, None], id: CaseArgument) -> RecallCase | None:
        def work() -> recall.Case:
            cases = info.context.access.recalls()
            return cases.case(cases.case_key(id))

        found = await run(work)
        return None if found is None else RecallCase(case=found)

    @strawberry.field(
        description="All recall cases, in id order, a page at a time (at most "
        f"{recall.MAX_CASES}): page on with `after` set to `pageInfo.endCursor` while "
        "`hasNextPage` (analysts)."
    )
    async def recall_cases(
        self, info: Info[Context, None], first: int = 100, after: str | None = None
    ) -> RecallCaseConnection:
        def work() -> recall.CasePage:
            # The role first: a caller who may not read cases hears nothing of its arguments.
            cases = info.context.access.recalls()
            return cases.cases(page_size(first, recall.MAX_CASES), cursor_key(after, "c"))

        found = await run(work)
        return RecallCaseConnection.of(found or recall.CasePage([], False))

    @strawberry.field(description="For customers: the recall notices sent to you.")
    async def my_notices(self, info: Info[Context, None]) -> list[Notice]:
        found = await run(info.context.access.my_notices)
        return [Notice.of(n) for n in found or []]

    @strawberry.field(
        description="For suppliers: the cases that suspect or ask about your lots (title, state, "
        "your suspect lots; mySupplierCases has the questions), paged as mySupplierCases."
    )
    async def cases_about_my_lots(
        self, info: Info[Context, None], first: int = 100, after: str | None = None
    ) -> RecallCaseConnection:
        def work() -> recall.CasePage:
            access = info.context.access
            access.may_read_my_supplier_cases()  # the role before the arguments
            return access.recall_cases_about_me(
                page_size(first, recall.MAX_CASES), cursor_key(after, "c")
            )

        found = await run(work)
        return RecallCaseConnection.of(found or recall.CasePage([], False))


@strawberry.type
class RecallMutation:
    @strawberry.mutation(description="Open a recall case from one or more suspects.")
    async def open_recall(
        self,
        info: Info[Context, None],
        id: NewCaseArgument,
        title: str,
        reason: str,
        suspects: list[SuspectInput],
    ) -> RecallCase | None:
        who = info.context.access.principal.username
        found = await mutate(
            lambda: info.context.access.recalls().open(id, title, reason, _rows(suspects), who)
        )
        return RecallCase(case=found)

    @strawberry.mutation(description="Replace a case's suspects; returns the change in scope.")
    async def rescope_recall(
        self,
        info: Info[Context, None],
        id: CaseArgument,
        reason: str,
        suspects: list[SuspectInput],
    ) -> ScopeChange | None:
        who = info.context.access.principal.username

        def work() -> scope_of.ScopeDiff:
            cases = info.context.access.recalls()
            rows = _rows(suspects)  # a suspect refused by name, case or no case
            return cases.rescope(cases.case_key(id), rows, reason, who)

        found = await mutate(work)
        return ScopeChange(
            added=_ids(found.added), removed=_ids(found.removed), changed=_ids(found.changed)
        )

    # No such case is an error (NOT_FOUND), as for the case's other mutations: 0 and [] would
    # read as "nothing left to do".
    @strawberry.mutation(
        description="Quarantine every in-plant item of the scope; returns how many."
    )
    async def hold_recall(
        self, info: Info[Context, None], id: CaseArgument, reason: str
    ) -> int | None:
        who = info.context.access.principal.username

        def work() -> int:
            cases = info.context.access.recalls()
            return cases.hold(cases.case_key(id), reason, who)

        return await mutate(work)

    @strawberry.mutation(description="Send a notice to each customer the scope reached.")
    async def notify_recall(
        self, info: Info[Context, None], id: CaseArgument, message: str
    ) -> list[Notice] | None:
        who = info.context.access.principal.username

        def work() -> list[recall.Notice]:
            cases = info.context.access.recalls()
            return cases.notify(cases.case_key(id), message, who)

        return [Notice.of(n) for n in await mutate(work)]

    @strawberry.mutation(
        description="A customer's answer to a notice: quantity found and returned."
    )
    async def acknowledge_notice(
        self,
        info: Info[Context, None],
        id: str,
        found_qty: str,
        returned_qty: str,
        note: str | None = None,
    ) -> Notice | None:
        def work() -> recall.Notice:
            return info.context.access.acknowledge(
                id, _quantity("foundQty", found_qty), _quantity("returnedQty", returned_qty), note
            )

        return Notice.of(await mutate(work))

    @strawberry.mutation(description="Close a case; its history stays.")
    async def close_recall(
        self, info: Info[Context, None], id: CaseArgument, reason: str
    ) -> RecallCase | None:
        who = info.context.access.principal.username

        def work() -> recall.Case:
            cases = info.context.access.recalls()
            key = cases.case_key(id)
            cases.close(key, reason, who)
            return cases.case(key)

        return RecallCase(case=await mutate(work))


def _quantity(name: str, text: str) -> Decimal:
    """Read a quantity argument as the event contract reads it (ingest.models.Count): the
    spellings it refuses (a full-width 5, "5_0", " 5") are refused here too, with its message."""
    try:
        return COUNT.validate_python(text)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        raise BadRequest(f"{name}: {problem_message(first)}") from None
