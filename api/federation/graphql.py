"""GraphQL of federation: `federatedTrace`, a trace that goes on into partner instances."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.access import TraceTooLong
from api.deps import Services
from api.federation.models import Branch, FedEdge, FederatedTrace, FedNode
from api.federation.service import ListLimit
from api.graphql.context import Context
from api.graphql.cost import NARROW_FEDERATED, times_asked
from api.graphql.results import Direction, depth_argument
from api.graphql.run import run
from api.graphql.times import with_offset


@strawberry.type(description="A node of a federated trace, from this instance or a partner's.")
class FederatedNode:
    node: strawberry.Private[FedNode]

    @strawberry.field(description="Global id; a partner's ids are prefixed with its company.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.node.id)

    @strawberry.field(description="lot, serial, supplier_lot, step, ... or stub (a failed hop).")
    def kind(self) -> str:
        return self.node.kind

    @strawberry.field(description="The company whose instance holds this node.")
    def source(self) -> str | None:
        return self.node.source

    @strawberry.field
    def depth(self) -> int:
        return self.node.depth

    @strawberry.field(description="Upstream: the share this node contributed to the root.")
    def share(self) -> float | None:
        return self.node.share

    @strawberry.field(description="Downstream: the exposure to the root's material.")
    def exposure(self) -> float | None:
        return self.node.exposure

    @strawberry.field(description="From a cached answer used because the partner failed.")
    def stale(self) -> bool:
        return self.node.stale

    @strawberry.field(description="When the partner's answer that brought it was fetched.")
    def fetched_at(self) -> str | None:
        return self.node.fetched_at

    @strawberry.field(description="The node's properties as its source shares them.")
    def properties(self) -> JSON:
        return JSON(self.node.attrs)


@strawberry.type(description="A link of a federated trace; SUPPLIED_AS crosses into a partner.")
class FederatedLink:
    edge: strawberry.Private[FedEdge]

    @strawberry.field
    def type(self) -> str:
        return self.edge.type

    @strawberry.field
    def source_id(self) -> strawberry.ID:
        return strawberry.ID(self.edge.src)

    @strawberry.field
    def target_id(self) -> strawberry.ID:
        return strawberry.ID(self.edge.dst)

    @strawberry.field
    def qty(self) -> str | None:
        return self.edge.qty

    @strawberry.field
    def at(self) -> str | None:
        return self.edge.at

    @strawberry.field(description="The company whose instance holds this link.")
    def source(self) -> str | None:
        return self.edge.source


@strawberry.type(description="One partner asked about one supplier lot, and how that went.")
class PartnerBranch:
    branch: strawberry.Private[Branch]

    @strawberry.field
    def partner(self) -> str:
        return self.branch.partner

    @strawberry.field
    def code(self) -> str:
        return self.branch.code

    @strawberry.field(description="The node the partner's answer hangs from.")
    def attach(self) -> strawberry.ID:
        return strawberry.ID(self.branch.attach)

    @strawberry.field(
        description="ok, cached, stale, unreachable, refused, not_found, loop, hop_limit, error."
    )
    def status(self) -> str:
        return self.branch.status

    @strawberry.field
    def message(self) -> str:
        return self.branch.message

    @strawberry.field
    def at(self) -> str:
        return self.branch.at

    @strawberry.field
    def fetched_at(self) -> str | None:
        return self.branch.fetched_at


@strawberry.type(description="A trace that continues into partner instances where they share.")
class FederatedTraceResult:
    result: strawberry.Private[FederatedTrace]

    @strawberry.field
    def root(self) -> strawberry.ID:
        return strawberry.ID(self.result.root)

    @strawberry.field
    def direction(self) -> Direction:
        return Direction(self.result.direction)

    # Each list counts against the request's budget each time it is asked (under each alias).
    @strawberry.field
    def nodes(self, info: Info[Context, None]) -> list[FederatedNode]:
        info.context.budget.spend(len(self.result.nodes), NARROW_FEDERATED, reserved=True)
        return [FederatedNode(node=n) for n in self.result.nodes]

    @strawberry.field
    def links(self, info: Info[Context, None]) -> list[FederatedLink]:
        info.context.budget.spend(len(self.result.edges), NARROW_FEDERATED, reserved=True)
        return [FederatedLink(edge=e) for e in self.result.edges]

    @strawberry.field(description="Every partner asked, including those a partner asked in turn.")
    def branches(self, info: Info[Context, None]) -> list[PartnerBranch]:
        info.context.budget.spend(len(self.result.branches), NARROW_FEDERATED, reserved=True)
        return [PartnerBranch(branch=b) for b in self.result.branches]

    @strawberry.field(description="Branches that could not be followed, as stub nodes.")
    def stubs(self, info: Info[Context, None]) -> list[FederatedNode]:
        stubs = self.result.stubs
        info.context.budget.spend(len(stubs), NARROW_FEDERATED, reserved=True)
        return [FederatedNode(node=n) for n in stubs]


def _services(info: Info[Context, None]) -> Services:
    request = info.context.request
    assert request is not None
    found: Services = request.app.state.services
    return found


@strawberry.type
class FederationQuery:
    @strawberry.field(
        description="Trace here and on into partner instances (analysts and admins); "
        "a partner that is down or refuses gives a stub, never a failed trace. Its lists "
        "count against what one request may list: a trace here that lists more is refused, "
        "a partner's answer that would take it over is a stub."
    )
    async def federated_trace(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        direction: Direction = Direction.UP,
        max_depth: int | None = None,
        as_of: datetime | None = None,
    ) -> FederatedTraceResult | None:
        # Under several aliases, one after another: each plans with what the budget has left
        # once those before it reserved what they list.
        async with info.context.federating:
            return await _federated_trace(info, id, direction, max_depth, as_of)


async def _federated_trace(
    info: Info[Context, None],
    id: strawberry.ID,
    direction: Direction,
    max_depth: int | None,
    as_of: datetime | None,
) -> FederatedTraceResult | None:
    """Trace here and on into partners, within what the request's budget has left."""
    federation = _services(info).federation
    budget = info.context.budget
    # No more than the budget has left as this trace plans, of the lists asked for: ours
    # and what each question lists if no partner answers (a stub and its link, a branch)
    # spend at least that, so a trace that lists more is refused before partners are
    # asked. A list not asked is not listed, and bounds nothing: asking for none of those
    # a partner adds to, the trace asks no partner. A list asked under several aliases is
    # counted under each, as its resolver spends: an answer that fits once but not twice
    # is a stub, not the request refused once partners were read.
    limit = ListLimit(
        budget.left,
        nodes=times_asked(info, "nodes"),
        edges=times_asked(info, "links"),
        branches=times_asked(info, "branches"),
        stubs=times_asked(info, "stubs"),
        graphql=True,
    )

    def traced() -> FederatedTrace | TraceTooLong:
        try:
            return federation.trace(
                info.context.access,
                str(id),
                direction.value,
                max_depth=depth_argument(max_depth),
                as_of=with_offset("asOf", as_of),
                max_listed=limit,
            )
        except TraceTooLong as error:
            return error  # said as every list past the budget is, below

    found = await run(traced)
    if isinstance(found, TraceTooLong):
        budget.refuse(NARROW_FEDERATED)
    if found is None:
        return None
    # What its lists will spend, held from traces planned after it.
    budget.reserve(
        limit.count(len(found.nodes), len(found.edges), len(found.branches), len(found.stubs))
    )
    return FederatedTraceResult(result=found)
