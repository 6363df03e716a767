"""GraphQL for carts: a cart's settings and contents at a time, a lot's carts, shared-cart risks,
and cart load sizing."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.results import Quantity, quantities
from api.graphql.run import run
from api.graphql.times import with_offset
from graph import carts
from graph.store import CartStay as Stay
from graph.store import plain
from scheduler import carts as sizing

# Cart sizing searches for up to a minute: it waits for its own thread, so that a few sizing
# requests do not hold every thread that the other fields of every request run on.
SIZING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="size-carts")


@strawberry.type(
    description="A lot's stay in a cart: from its load to its unload (null: still in)."
)
class CartStay:
    lot: strawberry.ID
    cart: strawberry.ID
    compartment: str | None
    qty: str | None
    loaded_at: str
    unloaded_at: str | None
    loaded_by: str = strawberry.field(description="The event that loaded it.")
    unloaded_by: str | None

    @classmethod
    def of(cls, stay: Stay) -> CartStay:
        return cls(
            lot=strawberry.ID(stay.lot),
            cart=strawberry.ID(stay.cart),
            compartment=stay.compartment,
            qty=None if stay.qty is None else plain(stay.qty),
            loaded_at=stay.at,
            unloaded_at=stay.until,
            loaded_by=stay.event,
            unloaded_by=stay.closed_by,
        )


@strawberry.type(
    description="A cart: its group and number in it (label 1-2), compartments, capacity."
)
class CartInfo:
    id: strawberry.ID
    cart: str
    label: str
    group: str | None
    seq: int | None
    compartments: list[str] | None
    capacity: str | None

    @classmethod
    def of(cls, info: carts.CartInfo) -> CartInfo:
        return cls(
            id=strawberry.ID(info.id),
            cart=info.key,
            label=info.label,
            group=info.group,
            seq=info.seq,
            compartments=info.compartments,
            capacity=None if info.capacity is None else plain(info.capacity),
        )


@strawberry.type(description="What a cart holds at a time (at null: now).")
class CartContents:
    cart: CartInfo
    at: str | None
    held: str | None = strawberry.field(
        description="What its lots hold as one number: null when they are counted in several "
        "units (see `heldByUnit`)."
    )
    held_by_unit: list[Quantity] = strawberry.field(
        description="What its lots hold, by unit: a total never adds units of different kinds."
    )
    stays: list[CartStay]


@strawberry.type(
    description="A lot that shared a cart with a suspect lot: a risk, not material flow."
)
class SharedCartRisk:
    lot: strawberry.ID
    cart: strawberry.ID
    suspect: strawberry.ID
    compartment: str | None
    suspect_compartment: str | None
    same_compartment: bool
    from_: str = strawberry.field(name="from")
    to: str | None


@strawberry.type
class SharedCarts:
    rode: list[CartStay] = strawberry.field(description="The carts the suspect's lots rode in.")
    shared: list[SharedCartRisk]

    @classmethod
    def of(cls, rode: Sequence[Stay], shared: Sequence[carts.SharedCart]) -> SharedCarts:
        return cls(
            rode=[CartStay.of(s) for s in rode],
            shared=[
                SharedCartRisk(
                    lot=strawberry.ID(s.lot),
                    cart=strawberry.ID(s.cart),
                    suspect=strawberry.ID(s.suspect),
                    compartment=s.compartment,
                    suspect_compartment=s.suspect_compartment,
                    same_compartment=s.same_compartment,
                    from_=s.from_,
                    to=s.to,
                )
                for s in shared
            ],
        )


@strawberry.input(description="Rows are machines, columns batches; hours and parts.")
class SizeCartsInput:
    rates: list[list[float]]
    setups: list[list[float]]
    quantities: list[list[int]]
    due: list[float]
    day: list[float]
    capacity: int
    machines: list[str] | None = None
    batches: list[str] | None = None
    time_limit: float = 10.0


@strawberry.type
class BatchLoad:
    batch: str
    load: int
    carts: int


@strawberry.type
class MachineLoad:
    machine: str
    work_hours: float
    setup_hours: float
    load_hours: float
    day_hours: float
    due_hours: float
    utilisation: float | None
    slack_hours: float


@strawberry.type
class BindingConstraint:
    constraint: str
    machine: str | None
    message: str


@strawberry.type(description="Chosen cart loads, machine loads, or the constraints that bind.")
class CartSizing:
    status: str
    batches: list[BatchLoad]
    machines: list[MachineLoad]
    setup_hours: float | None
    binding: list[BindingConstraint]
    reason: str | None = strawberry.field(description="Why the status is unknown.")

    @classmethod
    def of(cls, found: sizing.CartSizing) -> CartSizing:
        return cls(
            status=found.status,
            batches=[BatchLoad(**b.model_dump()) for b in found.batches],
            machines=[MachineLoad(**m.model_dump()) for m in found.machines],
            setup_hours=found.setup_hours,
            binding=[BindingConstraint(**b.model_dump()) for b in found.binding],
            reason=found.reason,
        )


@strawberry.type
class CartQuery:
    @strawberry.field(description="A cart's settings and what it holds now; null if unknown.")
    async def cart(self, info: Info[Context, None], id: strawberry.ID) -> CartContents | None:
        found = await run(lambda: info.context.access.cart_contents(str(id)))
        return None if found is None else _contents(found)

    @strawberry.field(description="What a cart holds at a time (now when `at` is omitted).")
    async def cart_contents(
        self, info: Info[Context, None], id: strawberry.ID, at: datetime | None = None
    ) -> CartContents | None:
        found = await run(lambda: info.context.access.cart_contents(str(id), at))
        return None if found is None else _contents(found)

    @strawberry.field(
        description="Every cart a lot rode in; stays still open are where it is. Null for a "
        "lot that does not exist: a mistyped lot is not one that rode in no cart. An id that "
        "is not a lot's (a serial's, a cart's) is refused."
    )
    async def lot_carts(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> list[CartStay] | None:
        found = await run(lambda: info.context.access.lot_carts(str(id)))
        return None if found is None else [CartStay.of(s) for s in found]

    @strawberry.field(
        description="The carts a suspect's downstream lots rode in and the lots that shared them."
    )
    async def shared_carts(
        self, info: Info[Context, None], id: strawberry.ID, as_of: datetime | None = None
    ) -> SharedCarts | None:
        found = await run(
            lambda: info.context.access.shared_carts(str(id), with_offset("asOf", as_of))
        )
        if found is None:
            return None
        rode, shared = found
        return SharedCarts.of(rode, shared)

    @strawberry.field(
        description="Choose parts per cart so machines are neither overloaded nor starved."
    )
    async def size_carts(
        self, info: Info[Context, None], input: SizeCartsInput
    ) -> CartSizing | None:
        def work() -> sizing.CartSizing:
            problem = sizing.CartSizingInput.model_validate(strawberry.asdict(input))
            return info.context.access.size_carts(problem)

        found = await run(work, SIZING)
        return None if found is None else CartSizing.of(found)


def _contents(found: carts.Contents) -> CartContents:
    return CartContents(
        cart=CartInfo.of(found.cart),
        at=found.at,
        held=None if found.held is None else plain(found.held),
        held_by_unit=quantities(found.held_by_unit),
        stays=[CartStay.of(s) for s in found.stays],
    )
