"""Per-request GraphQL context: the caller's scoped services and DataLoaders.

Loaders batch every node and neighbour lookup of one request into one store call per tick, so
nested fields never cost a round trip per node; they read through Access, so nested fields are
filtered exactly like top-level ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from strawberry.dataloader import DataLoader
from strawberry.extensions import FieldExtension
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from api.access import Access
from api.deps import access
from api.graphql.cost import Budget
from api.graphql.run import as_graphql_error
from api.recall import Case, Notice
from api.supplier_portal import SupplierRequest
from graph.errors import DomainError
from graph.store import EdgeView, NodeView
from graph.udi import Udi
from marking.models import SchemeUsage
from marking.schemes import Scheme

T = TypeVar("T")
V = TypeVar("V")
# A node's links of one type, None where they are more than the request may list.
LinksLoader = DataLoader[str, list[EdgeView] | None]


class Context(BaseContext):
    """What every resolver gets: `access` for the caller and the request's loaders."""

    def __init__(self, request_access: Access) -> None:
        super().__init__()
        self.access = request_access
        self.budget = Budget()
        # Federated traces plan one after another, each with what those before it reserved
        # spent: planned at once, each would plan with the whole budget.
        self.federating = asyncio.Lock()
        self.nodes: DataLoader[str, NodeView | None] = DataLoader(
            load_fn=_by_gid(request_access.nodes)
        )
        self.links: DataLoader[str, list[EdgeView]] = DataLoader(load_fn=self._load_links)
        # A node's marks, carts and equipment: each read alone, no further than the budget
        # allows (None: more than it has left, with those of the nodes read beside it).
        self.marks: LinksLoader = DataLoader(load_fn=self._context_links("MARKS", into=True))
        self.carts: LinksLoader = DataLoader(load_fn=self._context_links("IN_CART", into=False))
        self.equipment: LinksLoader = DataLoader(load_fn=self._context_links("ON", into=False))
        self.received_items: DataLoader[str, NodeView | None] = DataLoader(
            load_fn=_by_gid(request_access.received_items)
        )
        self.udis: DataLoader[str, Udi | None] = DataLoader(load_fn=_by_gid(request_access.udis))
        self.case_notices: DataLoader[str, list[Notice]] = DataLoader(
            load_fn=self._load_case_notices
        )
        # Keyed by the case as listed (by its id): its suspects are among its requests.
        self.case_requests: DataLoader[Case, list[SupplierRequest]] = DataLoader(
            load_fn=self._load_case_requests, cache_key_fn=lambda case: case.id
        )

        # Keyed by the scheme as defined (by its name): the use of every scheme a request lists
        # is read at once, whichever field (or alias) lists it.
        self.scheme_usages: DataLoader[Scheme, SchemeUsage] = DataLoader(
            load_fn=self._load_scheme_usages, cache_key_fn=lambda scheme: scheme.name
        )

    def forget(self) -> None:
        """Drop what every loader holds: read before a mutation, it may be changed by it."""
        for value in vars(self).values():
            if isinstance(value, DataLoader):
                value.clear_all()

    async def _load_case_notices(self, case_ids: Sequence[str]) -> list[list[Notice]]:
        found = await _loaded(lambda: self.access.recalls().notices_of(list(case_ids)))
        return [found[case_id] for case_id in case_ids]

    async def _load_case_requests(self, cases: Sequence[Case]) -> list[list[SupplierRequest]]:
        found = await _loaded(lambda: self.access.supplier_portal().requests_of(cases))
        return [found[case.id] for case in cases]

    async def _load_scheme_usages(self, schemes: Sequence[Scheme]) -> list[SchemeUsage]:
        return await _loaded(lambda: self.access.mark_scheme_usages(schemes))

    async def _load_links(self, gids: Sequence[str]) -> list[list[EdgeView]]:
        edges = await _loaded(lambda: self.access.links(list(gids)))
        touching: dict[str, list[EdgeView]] = {gid: [] for gid in gids}
        for edge in edges:
            for end in {edge.src, edge.dst}:
                if end in touching:
                    touching[end].append(edge)
        return [touching[gid] for gid in gids]

    def _context_links(
        self, type_: str, *, into: bool
    ) -> Callable[[Sequence[str]], Awaitable[list[list[EdgeView] | None]]]:
        """A loader of the links of `type_` into (or out of) each node, read to one past what
        the budget has left as the batch starts. Every node of the batch has a field that
        spends what is found of it: where they are more than that, together, the request is
        refused whichever lists them, so each is told (None)."""

        async def load(gids: Sequence[str]) -> list[list[EdgeView] | None]:
            left = self.budget.left
            found = await _loaded(
                lambda: self.access.context_links(gids, type_, into=into, limit=left)
            )
            if found is None:
                return [None] * len(gids)
            of: dict[str, list[EdgeView]] = {gid: [] for gid in gids}
            for edge in found:
                of[edge.dst if into else edge.src].append(edge)
            return [of[gid] for gid in gids]

        return load


def _by_gid(
    read: Callable[[list[str]], Mapping[str, V]],
) -> Callable[[Sequence[str]], Awaitable[list[V | None]]]:
    """A loader of what `read` finds of each gid asked for, None for what it does not."""

    async def load(gids: Sequence[str]) -> list[V | None]:
        found = await _loaded(lambda: read(list(gids)))
        return [found.get(gid) for gid in gids]

    return load


async def _loaded(work: Callable[[], T]) -> T:
    """Run a loader's batch off the event loop. A refusal raised in a loader reaches the field
    as is, past `run`: rendered here, it keeps its code (and the audit log reads it as denied)
    like a refusal of any other resolver."""
    try:
        return await asyncio.to_thread(work)
    except DomainError as error:
        raise as_graphql_error(error) from error


def get_context(request: Request, scoped: Annotated[Access, Depends(access)]) -> Context:
    """Build the context of one GraphQL request (authentication happens in `access`)."""
    request.state.graphql = True
    return Context(scoped)


class ForgetLoadersAfter(FieldExtension):
    """A mutation's answer is read after it: what the request's loaders hold from the fields
    of an earlier mutation of the request (mutations run one after another) is dropped once a
    mutation's work is done, or failed, so a case closed after a request to its supplier lists
    it. A field extension of the mutations alone: queries' fields pay nothing for it."""

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Context, Any], **kwargs: Any
    ) -> Any:
        try:
            return next_(source, info, **kwargs)
        finally:
            info.context.forget()

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Context, Any],
        **kwargs: Any,
    ) -> Any:
        try:
            return await next_(source, info, **kwargs)
        finally:
            info.context.forget()


def forgetting_after_each(mutation: type[T]) -> type[T]:
    """Give every field of `mutation` (the schema's merged mutation type) ForgetLoadersAfter."""
    for field in mutation.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        field.extensions.append(ForgetLoadersAfter())
    return mutation
