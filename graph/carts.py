"""Carts that travel with material: what a cart holds at a time, where a lot rides, shared carts.

Every answer is computed here from the IN_CART stays a store returns, so both stores agree.
A stay covers the half-open interval [at, until): a lot unloaded at T is no longer in the cart
at T, and a lot loaded at T is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from graph.errors import NotFound
from graph.quantities import Amount, by_unit, one_total
from graph.store import CartStay, GraphStore, NodeView


@dataclass(frozen=True, slots=True)
class CartInfo:
    """A cart's settings: its group and number in it, compartments and capacity."""

    id: str
    key: str
    group: str | None
    seq: int | None
    compartments: list[str] | None
    capacity: Decimal | None

    @property
    def label(self) -> str:
        """How the floor names it: `1-2` for the second cart of group 1, else its key."""
        if self.group is not None and self.seq is not None:
            return f"{self.group}-{self.seq}"
        return self.key

    @classmethod
    def of(cls, view: NodeView) -> CartInfo:
        attrs: dict[str, Any] = view.attrs
        compartments = attrs.get("compartments")
        seq = attrs.get("seq")
        capacity = attrs.get("capacity")
        return cls(
            view.gid,
            str(attrs["key"]),
            attrs.get("group"),
            int(seq) if seq is not None else None,
            list(json.loads(compartments)) if compartments else None,
            Decimal(str(capacity)) if capacity is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Contents:
    """What a cart holds at one time (None: now); `units` has the unit of each lot in it."""

    cart: CartInfo
    at: str | None
    stays: list[CartStay]
    units: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def held_by_unit(self) -> list[Amount]:
        """What its lots hold, per unit: a cart of no capacity may carry kilograms beside
        pieces, which make no one total."""
        return by_unit((self.units.get(s.lot), s.qty) for s in self.stays if s.qty is not None)

    @property
    def held(self) -> Decimal | None:
        """What its lots hold as one number; None when they are counted in several units."""
        return one_total(self.held_by_unit)


@dataclass(frozen=True, slots=True)
class SharedCart:
    """Another lot that shared a cart with a suspect lot while both were in it."""

    lot: str
    cart: str
    suspect: str
    compartment: str | None
    suspect_compartment: str | None
    from_: str
    to: str | None

    @property
    def same_compartment(self) -> bool:
        return self.compartment is None or self.compartment == self.suspect_compartment


def holds_at(stay: CartStay, at: str | None) -> bool:
    """Whether a stay covers a time (None: now, that is, the stay is still open)."""
    if at is None:
        return stay.until is None
    return stay.at <= at and (stay.until is None or at < stay.until)


def _overlap(a: CartStay, b: CartStay) -> tuple[str, str | None] | None:
    start = max(a.at, b.at)
    ends = [u for u in (a.until, b.until) if u is not None]
    end = min(ends) if ends else None
    if end is not None and end <= start:
        return None
    return start, end


def shared_carts(
    suspect_stays: Sequence[CartStay], cart_stays: Iterable[CartStay], suspects: set[str]
) -> list[SharedCart]:
    """Pair each suspect stay with the stays of other lots in the same cart at an overlapping
    time; lots among `suspects` are left out (their link is material flow, not a shared cart)."""
    by_cart: dict[str, list[CartStay]] = {}
    for stay in cart_stays:
        if stay.lot not in suspects:
            by_cart.setdefault(stay.cart, []).append(stay)
    found: dict[tuple[str, str, str, str], SharedCart] = {}
    for mine in suspect_stays:
        for other in by_cart.get(mine.cart, []):
            window = _overlap(mine, other)
            if window is None:
                continue
            key = (other.lot, other.cart, mine.lot, window[0])
            found.setdefault(
                key,
                SharedCart(
                    other.lot,
                    other.cart,
                    mine.lot,
                    other.compartment,
                    mine.compartment,
                    window[0],
                    window[1],
                ),
            )
    return sorted(found.values(), key=lambda s: (s.from_, s.cart, s.lot, s.suspect))


class CartService:
    """Read carts and their stays from a store."""

    def __init__(self, store: GraphStore) -> None:
        self._store = store

    def cart(self, cart: str) -> CartInfo:
        """Return a cart's settings; NotFound when no such cart was ever defined or used."""
        view = self._store.node(cart)
        if view is None or view.kind != "cart":
            raise NotFound(f'no cart "{cart.partition(":")[2]}"')
        return CartInfo.of(view)

    def contents(self, cart: str, at: str | None = None) -> Contents:
        """Return what a cart holds now, or at time `at` (UTC text)."""
        info = self.cart(cart)
        stays = [s for s in self._store.cart_stays([cart]) if s.cart == cart and holds_at(s, at)]
        lots = self._store.nodes(sorted({s.lot for s in stays})) if stays else {}
        return Contents(info, at, stays, {g: v.attrs.get("unit") for g, v in lots.items()})

    def cart_history(self, cart: str) -> list[CartStay]:
        """Return every stay in a cart, in load order."""
        return [s for s in self._store.cart_stays([cart]) if s.cart == cart]

    def history(self, lot: str) -> list[CartStay]:
        """Return every cart a lot rode in, in load order; open stays are where it is now.

        NotFound for a lot that does not exist, as for a cart: a mistyped lot is not one that
        rode in no cart.
        """
        stays = [s for s in self._store.cart_stays([lot]) if s.lot == lot]
        if not stays and self._store.node(lot) is None:
            raise NotFound(f"no lot {lot.partition(':')[2]!r}")
        return stays

    def where_now(self, lot: str) -> list[CartStay]:
        """Return the stays of a lot that are still open."""
        return [s for s in self.history(lot) if s.until is None]

    def carts(self, gids: Sequence[str]) -> dict[str, CartInfo]:
        """Return the settings of the carts among `gids`."""
        return {g: CartInfo.of(v) for g, v in self._store.nodes(gids).items() if v.kind == "cart"}

    def shared(
        self, lots: Iterable[str], as_of: str | None = None
    ) -> tuple[list[CartStay], list[SharedCart]]:
        """Return the stays of the given lots, and the other lots that shared those carts.

        With `as_of` (UTC text), as they stood then: stays begun later are left out, and one
        ended later is still open.
        """
        suspects = {lot for lot in lots if lot.startswith("lot:")}
        if not suspects:
            return [], []
        own = [s for s in self._store.cart_stays(sorted(suspects)) if s.lot in suspects]
        own = _as_of(own, as_of)
        carts = sorted({s.cart for s in own})
        others = _as_of(self._store.cart_stays(carts), as_of) if carts else []
        return own, shared_carts(own, others, suspects)


def _as_of(stays: list[CartStay], at: str | None) -> list[CartStay]:
    if at is None:
        return stays
    return [
        replace(s, until=None, closed_by=None) if s.until is not None and s.until > at else s
        for s in stays
        if s.at <= at
    ]
