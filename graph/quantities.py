"""Quantities by unit: a total never adds kilograms to pieces.

A lot is counted in its own unit (`ea` unless its receipt or step said otherwise), so quantities
of different lots are added up per unit, each total exact (graph.store.EXACT). One number stands
for them all only when there is one unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from graph.store import EXACT

COUNT = "ea"  # the unit of a serial, and of a lot that states none


@dataclass(frozen=True, slots=True)
class Amount:
    """A quantity and the unit it is counted in."""

    qty: Decimal
    unit: str


def by_unit(quantities: Iterable[tuple[str | None, Decimal]]) -> list[Amount]:
    """Add up (unit, quantity) pairs per unit, exactly; ordered by unit."""
    totals: dict[str, Decimal] = {}
    with localcontext(EXACT):
        for unit, qty in quantities:
            key = unit or COUNT
            totals[key] = totals.get(key, Decimal(0)) + qty
    return [Amount(totals[unit], unit) for unit in sorted(totals)]


def one_total(amounts: Sequence[Amount]) -> Decimal | None:
    """The total when there is at most one unit (0 for none); None when there are several."""
    if len(amounts) > 1:
        return None
    return amounts[0].qty if amounts else Decimal(0)
