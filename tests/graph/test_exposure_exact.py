"""Exposures and shares of small random plants, through ingest and traces, against the same
rules worked out in exact fractions: only a certain item reads 1, only an unreached one 0."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from random import Random
from typing import Any

import pytest

from graph.store import GraphStore
from graph.trace import TraceService
from ingest.service import IngestService
from tests.fixtures.events import Events

# From a ten-thousandth to a hundred million within a plant: shares stay far above float
# rounding, where ingest's shares, not the exposure math, would decide. Each plant counts them at
# a scale of its own, so quantities run from 1e-16 to 1e20 without widening that span.
AMOUNTS = ["1", "3", "0.15", "0.0001", "100000000"]
SCALES = ["0.000000000001", "1", "1000000000000"]
PARTS = ["BAR", "CAP"]


def text(qty: Decimal) -> str:
    return format(qty, "f")


class Plant:
    """Random events, and for each node how it combines what it came from (in fractions)."""

    def __init__(self, seed: int) -> None:
        self.rng = Random(seed)
        self.scale = Decimal(self.rng.choice(SCALES))
        self.events = Events()
        self.plant: list[dict[str, Any]] = []
        self.available: dict[str, Decimal] = {}  # lot id -> what is left of it
        self.part: dict[str, str] = {}
        self.serials: list[str] = []  # serials not consumed yet
        # node -> ("copy", parent) | ("mean", [(input, qty)]) | ("any", [[(input, qty)]])
        # | ("max", [inputs])
        self.recipe: dict[str, tuple[str, Any]] = {}
        self.sources: list[str] = []
        self.count = 0

    def _amount(self) -> Decimal:
        return Decimal(self.rng.choice(AMOUNTS)) * self.scale

    def _new(self, part: str, qty: Decimal) -> str:
        self.count += 1
        lot = f"L{self.count}"
        self.available[lot], self.part[lot] = qty, part
        return lot

    def _lots(self, part: str | None = None) -> list[str]:
        return [
            lot
            for lot, left in self.available.items()
            if left > 0 and (part is None or self.part[lot] == part)
        ]

    def build(self) -> Plant:
        for i, part in enumerate(PARTS * 2):
            qty = self._amount()
            lot = self._new(part, qty)
            source = f"supplier_lot:S{i}/H{i}"
            self.plant.append(
                self.events.receive(
                    lot, text(qty), part=part, supplier=f"S{i}", supplier_lot=f"H{i}"
                )
            )
            self.sources.append(source)
            self.recipe[f"lot:{lot}"] = ("copy", source)
        kinds = ["split", "merge", "merge", "mix", "serialize", "process", "process", "ship"]
        for _ in range(12):
            getattr(self, self.rng.choice(kinds))()
        return self

    def _take(self, lot: str) -> Decimal:
        qty = self.available[lot]
        if self.rng.random() < 0.5:
            qty = min(qty, self._amount())
        self.available[lot] -= qty
        return qty

    def split(self) -> None:
        lots = self._lots()
        if not lots:
            return
        parent = self.rng.choice(lots)
        half = self.available[parent] / 2
        children = [self._new(self.part[parent], half) for _ in range(2)]
        self.available[parent] = Decimal(0)
        into = [{"lot": child, "qty": text(half)} for child in children]
        self.plant.append(self.events("split", lot=parent, into=into))
        for child in children:
            self.recipe[f"lot:{child}"] = ("copy", f"lot:{parent}")

    def merge(self, mixed: bool = False) -> None:
        part = self.rng.choice(PARTS)
        lots = self._lots(None if mixed else part)
        if len(lots) < 2:
            return
        taken = [(lot, self._take(lot)) for lot in self.rng.sample(lots, 2)]
        into = self._new(part, sum((qty for _, qty in taken), Decimal(0)))
        sources = [{"lot": lot, "qty": text(qty)} for lot, qty in taken]
        if mixed:
            self.plant.append(self.events("mix", from_=sources, into={"lot": into, "part": part}))
        else:
            self.plant.append(self.events("merge", from_=sources, into={"lot": into}))
        self.recipe[f"lot:{into}"] = ("mean", [(f"lot:{lot}", qty) for lot, qty in taken])

    def mix(self) -> None:
        self.merge(mixed=True)

    def serialize(self) -> None:
        lots = [lot for lot in self._lots() if self.available[lot] >= 2]
        if not lots:
            return
        lot = self.rng.choice(lots)
        self.available[lot] -= 2
        serials = [f"SN{self.count + 1}", f"SN{self.count + 2}"]
        self.count += 2
        self.plant.append(self.events("serialize", lot=lot, serials=serials))
        for serial in serials:
            self.serials.append(serial)
            self.recipe[f"serial:{serial}"] = ("copy", f"lot:{lot}")

    def process(self) -> None:
        """Two inputs, lots or serials; a lot given without qty is used up entirely. Each serial
        is a component of its own, the lots of each part another."""
        items = [("lot", lot) for lot in self._lots()] + [("serial", s) for s in self.serials]
        if len(items) < 2:
            return
        inputs: list[dict[str, str]] = []
        groups: dict[str, list[tuple[str, Decimal]]] = {}
        for kind, key in self.rng.sample(items, 2):
            if kind == "serial":
                self.serials.remove(key)
                inputs.append({"serial": key})
                groups[f"serial:{key}"] = [(f"serial:{key}", Decimal(1))]
                continue
            if self.rng.random() < 0.3:
                qty, self.available[key] = self.available[key], Decimal(0)
                inputs.append({"lot": key})
            else:
                qty = self._take(key)
                inputs.append({"lot": key, "qty": text(qty)})
            groups.setdefault(self.part[key], []).append((f"lot:{key}", qty))
        self.count += 1
        step, part = f"step:P{self.count}", self.rng.choice(PARTS)
        if self.rng.random() < 0.5:
            out = f"serial:K{self.count}"
            self.serials.append(out[7:])
            outputs = [{"serial": out[7:], "part": part}]
        else:
            out = f"lot:{self._new(part, self._amount())}"
            outputs = [{"lot": out[4:], "part": part, "qty": text(self.available[out[4:]])}]
        self.plant.append(
            self.events("process", step=step[5:], operation="make", inputs=inputs, outputs=outputs)
        )
        kept = list(groups.values())
        self.recipe[step] = ("mean", kept[0]) if len(kept) == 1 else ("any", kept)
        self.recipe[out] = ("copy", step)

    def ship(self) -> None:
        items = [("lot", lot) for lot in self._lots()] + [("serial", s) for s in self.serials]
        if not items:
            return
        kind, key = self.rng.choice(items)
        self.count += 1
        shipment, customer = f"shipment:SH{self.count}", f"company:C{self.count % 2}"
        if kind == "serial":
            self.serials.remove(key)
            item = {"serial": key}
        else:
            item = {"lot": key, "qty": text(self._take(key))}
        self.plant.append(
            self.events("ship", shipment=shipment[9:], customer=customer[8:], items=[item])
        )
        self.recipe[shipment] = ("max", [f"{kind}:{key}"])
        kept = self.recipe.get(customer, ("max", []))[1]
        self.recipe[customer] = ("max", [*kept, shipment])

    def exposure(self, root: str) -> dict[str, Fraction]:
        """Every node's exposure to `root`, exactly."""
        found: dict[str, Fraction] = {root: Fraction(1)}

        def mean(weighted: list[tuple[str, Decimal]]) -> Fraction:
            total = sum((Fraction(qty) for _, qty in weighted), Fraction(0))
            return sum((get(n) * Fraction(qty) for n, qty in weighted), Fraction(0)) / total

        def get(node: str) -> Fraction:
            if node not in found:
                kind, how = self.recipe.get(node, ("none", None))
                if kind == "copy":
                    found[node] = get(how)
                elif kind == "mean":
                    found[node] = mean(how)
                elif kind == "any":
                    untouched = Fraction(1)
                    for group in how:
                        untouched *= 1 - mean(group)
                    found[node] = 1 - untouched
                elif kind == "max":
                    found[node] = max(get(n) for n in how)
                else:
                    found[node] = Fraction(0)
            return found[node]

        return {node: get(node) for node in [*self.recipe, *self.sources]}


def exposures_down(
    store: GraphStore, batch: list[dict[str, Any]], root: str
) -> dict[str, float | None]:
    IngestService(store).ingest(batch)
    return {n.id: n.exposure for n in TraceService(store).trace(root, "down").nodes}


def test_a_merge_wholly_of_the_source_through_a_trillionth_of_it_is_certain(
    store: GraphStore, events: Events
) -> None:
    # B's share in M is 1e-12: far above float rounding, so it counts, and M is all R.
    parts = [{"lot": "A", "qty": "1000000000000"}, {"lot": "B", "qty": "1"}]
    batch = [
        events.receive("R", "1000000000001"),
        events("split", lot="R", into=parts),
        events("merge", from_=parts, into={"lot": "M"}),
    ]
    assert exposures_down(store, batch, "lot:R")["lot:M"] == 1.0


def test_a_share_below_float_rounding_does_not_count(store: GraphStore, events: Events) -> None:
    # N's share in M, 2e-20, is below what rounding the shares to floats leaves; A's reads 1.
    batch = [
        events.receive("R", "100000000000000000001"),
        events.receive("X", "1", supplier_lot="A-2"),
        events(
            "split",
            lot="R",
            into=[{"lot": "A", "qty": "100000000000000000000"}, {"lot": "B", "qty": "1"}],
        ),
        events(
            "mix",
            from_=[{"lot": "B", "qty": "1"}, {"lot": "X", "qty": "1"}],
            into={"lot": "N", "part": "BAR"},
        ),
        events(
            "merge",
            from_=[{"lot": "A", "qty": "100000000000000000000"}, {"lot": "N", "qty": "2"}],
            into={"lot": "M"},
        ),
    ]
    got = exposures_down(store, batch, "lot:R")
    assert (got["lot:N"], got["lot:M"]) == (0.5, 1.0)


def reads(exact: Fraction) -> tuple[bool, bool]:
    return exact == 1, exact == 0


@pytest.mark.parametrize("seed", range(40))
def test_exposures_and_shares_are_the_exact_ones_to_twelve_digits(
    store: GraphStore, seed: int
) -> None:
    plant = Plant(seed).build()
    result = IngestService(store).ingest(plant.plant)
    assert result.created == len(plant.plant), result
    traces = TraceService(store)
    exact = {root: plant.exposure(root) for root in plant.sources}
    for root in plant.sources:
        down = {n.id: n.exposure for n in traces.trace(root, "down").nodes}
        for node, want in exact[root].items():
            got = down.get(node, 0.0)
            assert got is not None
            assert (got == 1.0, got == 0.0) == reads(want), (root, node, got, want)
            assert got == pytest.approx(float(want), rel=1e-9, abs=1e-12), (root, node)
    for node in plant.recipe:
        up = {n.id: n.share for n in traces.trace(node, "up").nodes}
        for root in plant.sources:
            got = up.get(root, 0.0)
            want = exact[root][node]
            assert got is not None
            assert (got == 1.0, got == 0.0) == reads(want), (node, root, got, want)
            assert got == pytest.approx(float(want), rel=1e-9, abs=1e-12), (node, root)
