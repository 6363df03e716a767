"""GraphQL for secondary marks: issue, resolve worn readings, schemes, and the mark-or-not model."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.counts import BigInt
from api.graphql.run import mutate, run
from ingest.models import ItemRef
from marking import models


@strawberry.type(description="A code struck on an item.")
class IssuedMark:
    code: str
    scheme: str
    target: str
    index: BigInt | None
    event_id: str
    created: bool = strawberry.field(description="False when the item already had a mark.")

    @classmethod
    def of(cls, mark: models.IssuedMark) -> IssuedMark:
        return cls(**mark.model_dump())


@strawberry.type(description="A lot or serial a reading may be, with how sure and why.")
class MarkCandidate:
    id: strawberry.ID
    kind: str
    key: str
    part: str | None
    status: str | None
    location: str
    mark: str | None
    scheme: str | None
    confidence: float
    reason: str
    matches: list[str]


@strawberry.type
class MarkResolution:
    candidates: list[MarkCandidate]
    truncated: bool

    @classmethod
    def of(cls, found: models.Resolution) -> MarkResolution:
        candidates = [MarkCandidate(**c.model_dump()) for c in found.candidates]
        return cls(candidates=candidates, truncated=found.truncated)


@strawberry.type(description="A code scheme, its capacity and how much is used.")
class MarkScheme:
    name: str
    kind: str
    capacity: BigInt
    used: BigInt
    next_index: BigInt
    remaining: BigInt
    check: bool
    parts: list[str]


@strawberry.type(description="Whether marking pays: mark when phi < 0.")
class MarkDecision:
    phi: float
    expected_loss_avoided: float
    break_even_count: float | None
    mark: bool
    p_unreadable: float
    p_failure: float


@strawberry.input(description="Rates per year (or any one time unit), life in that unit, costs.")
class MarkDecisionInput:
    wear_rate: float
    failure_rate: float
    life: float
    claim: float
    count: float
    setup_cost: float
    running_cost: float


@strawberry.input(description='An item: exactly one of "lot" or "serial".')
class ItemRefInput:
    lot: str | None = None
    serial: str | None = None


@strawberry.type
class MarkingQuery:
    @strawberry.field(
        description="Recover a lot or serial from what can still be read ('?' = worn)."
    )
    async def resolve_mark(
        self,
        info: Info[Context, None],
        mark: str | None = None,
        primary: str | None = None,
        part: str | None = None,
        cart: str | None = None,
        station: str | None = None,
        made_from: datetime | None = None,
        made_to: datetime | None = None,
        limit: int = 10,
    ) -> MarkResolution | None:
        def work() -> models.Resolution:
            query = models.ResolveQuery(
                mark=mark,
                primary=primary,
                part=part,
                cart=cart,
                station=station,
                made_from=made_from,
                made_to=made_to,
                limit=limit,
            )
            return info.context.access.resolve_mark(query)

        found = await run(work)
        return None if found is None else MarkResolution.of(found)

    @strawberry.field(description="The code schemes, their capacity and how much is used.")
    async def mark_schemes(self, info: Info[Context, None]) -> list[MarkScheme]:
        found = await run(info.context.access.mark_schemes)
        usages = await info.context.scheme_usages.load_many(found or [])
        return [MarkScheme(**s.model_dump()) for s in usages]

    @strawberry.field(description="Decide whether a part type deserves a secondary mark.")
    async def mark_decision(
        self, info: Info[Context, None], inputs: MarkDecisionInput
    ) -> MarkDecision | None:
        def work() -> models.Decision:
            values = models.DecisionInputs(**strawberry.asdict(inputs))
            return info.context.access.marking("decide").decide(values)

        found = await run(work)
        return None if found is None else MarkDecision(**found.model_dump())


@strawberry.type
class MarkingMutation:
    @strawberry.mutation(description="Strike the next free code of the item's scheme on it.")
    async def issue_mark(
        self, info: Info[Context, None], target: ItemRefInput
    ) -> IssuedMark | None:
        def work() -> models.IssuedMark:
            ref = ItemRef(lot=target.lot, serial=target.serial)
            return info.context.access.issue_mark(ref)

        return IssuedMark.of(await mutate(work))
