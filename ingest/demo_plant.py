"""A seeded demo plant: orthopaedic screw kits made from bar stock, moulded handles and plates.

Each campaign receives supplier lots, splits bar into work lots that ride in carts through
cutting, turning (on one of several lathes) and passivation (pairs of lots merged), serializes
screws, mixes polymer granule lots and moulds handles, mills plates, assembles kits from
components of different parts, marks them, and ships them to hospitals. Every event is valid by
construction, so the same seed always yields the same plant, at any size.

`scale=True` gives the shape benchmarks need at 10^4 to 10^6 items (the default output for a seed
stays as it is): bar deliveries from a few dozen to a few thousand units, heats delivered more than
once, granule left-overs mixed into the next campaign's blend, and extra levels (a heat treatment,
a split before serialization) in some campaigns, so supplier lots feed from tens to thousands of
items and genealogies run 6 to 12 items deep. Marks then have five letters.

Before the first campaign the plant registers its parts (finished and bought-in, with GTIN-14s of
a made-up company prefix) and defines its carts; kits carry UDI dates (made on, expiry). These
opening events have ids of their own (`PD-`, `CD-`) and draw nothing from the random generator,
so the campaigns' events and ids are the same as without them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.gs1 import with_check_digit

START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
SUPPLIERS = {"bar": "ACME-STEEL", "rod": "TITAN-METALS", "granule": "POLYMED", "tray": "PACKCO"}
HOSPITALS = tuple(f"HOSP-{name}" for name in ("NORTH", "SOUTH", "EAST", "WEST", "CITY", "UNI"))
LATHES = ("LATHE-1", "LATHE-2", "LATHE-3")
CART_ROWS, CARTS_PER_ROW = 40, 3  # carts CART-1-1 .. CART-40-3, a group per row
KIT_SHELF_LIFE = timedelta(days=5 * 365)  # sterile kits: expiry five years after assembly
# Made-up GS1 company prefix; item references in the order below, check digits computed.
GTIN_PREFIX = "0761234"
# (part, description, supplier of a part bought in)
PARTS = (
    ("SCREW-KIT", "Bone screw kit, sterile", None),
    ("SCREW", "Cortical bone screw, passivated", None),
    ("HANDLE", "PEEK screwdriver handle", None),
    ("PLATE", "Titanium bone plate", None),
    ("BAR-316L", "Stainless steel bar 316L", SUPPLIERS["bar"]),
    ("ROD-TI6AL4V", "Titanium rod Ti-6Al-4V", SUPPLIERS["rod"]),
    ("PEEK-GRANULE", "PEEK granule, implant grade", SUPPLIERS["granule"]),
    ("TRAY", "Sterile barrier tray", SUPPLIERS["tray"]),
)
GTINS = {
    part: with_check_digit(f"0{GTIN_PREFIX}{n + 1:05d}") for n, (part, _, _) in enumerate(PARTS)
}
ALPHABET = "ACDEFGHJKMNPQRTUVWXY"  # no look-alikes: the marks are struck by hand
# The kits' secondary marks: four letters of ALPHABET in sequence (register before ingesting).
KIT_MARKS = {
    "name": "KIT4",
    "kind": "sequential",
    "length": 4,
    "alphabet": ALPHABET,
    "parts": ["SCREW-KIT"],
}


@dataclass
class _Lot:
    lot: str
    part: str
    qty: int


@dataclass
class DemoPlant:
    """Generate the events of a plant of at least `size` items (lots plus serials), in whole
    campaigns (about 400 to 700 items each)."""

    size: int = 2000
    seed: int = 7
    items: int = 0
    scale: bool = False
    _rng: random.Random = field(init=False)
    _clock: datetime = field(init=False)
    _count: int = field(init=False, default=0)
    _marks: int = field(init=False, default=0)
    _leftovers: list[_Lot] = field(init=False, default_factory=list)
    _heat: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._clock = START

    # -- public -------------------------------------------------------------------------------

    def events(self) -> Iterator[dict[str, Any]]:
        """Yield the plant's events in the order they happened."""
        yield from self._opening()
        campaign = 0
        while self.items < self.size:
            campaign += 1
            yield from self._campaign(campaign)

    def batches(self, size: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """Yield the events in batches of at most `size`."""
        batch: list[dict[str, Any]] = []
        for event in self.events():
            batch.append(event)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    # -- building blocks ------------------------------------------------------------------------

    def _event(self, kind: str, minutes: int = 3, **fields: Any) -> dict[str, Any]:
        self._count += 1
        self._clock += timedelta(minutes=minutes)
        if "from_" in fields:
            fields["from"] = fields.pop("from_")
        return {
            "event_id": f"EV-{self.seed}-{self._count:08d}",
            "type": kind,
            "occurred_at": self._clock.isoformat(),
            "actor": self._rng.choice(("ana", "bo", "chen", "dara")),
            "site": "PLANT-1",
            **fields,
        }

    def _opening(self) -> Iterator[dict[str, Any]]:
        """Register the parts and define the carts, the day before the first campaign."""
        at = (START - timedelta(days=1)).isoformat()
        base = {"occurred_at": at, "actor": "admin", "site": "PLANT-1"}
        for n, (part, description, supplier) in enumerate(PARTS):
            event = {
                "event_id": f"PD-{self.seed}-{n + 1:03d}",
                "type": "part_define",
                **base,
                "part": part,
                "gtin": GTINS[part],
                "description": description,
            }
            if supplier is not None:
                event["supplier"] = supplier
            yield event
        for row in range(1, CART_ROWS + 1):
            for seq in range(1, CARTS_PER_ROW + 1):
                yield {
                    "event_id": f"CD-{self.seed}-{row:02d}-{seq}",
                    "type": "cart_define",
                    **base,
                    "cart": f"CART-{row}-{seq}",
                    "group": str(row),
                    "seq": seq,
                    "compartments": ["A", "B"],
                }

    def _lot(self, lot: str, part: str, qty: int) -> _Lot:
        self.items += 1
        return _Lot(lot, part, qty)

    def _mark(self) -> str:
        self._marks += 1
        value, code = self._marks, ""
        for _ in range(5 if self.scale else 4):
            value, digit = divmod(value, len(ALPHABET))
            code = ALPHABET[digit] + code
        return code

    def _process(
        self,
        step: str,
        operation: str,
        inputs: list[dict[str, Any]],
        outputs: list[dict[str, Any]],
        equipment: str | None = None,
    ) -> dict[str, Any]:
        started = self._clock + timedelta(minutes=1)
        finished = started + timedelta(minutes=self._rng.randint(20, 90))
        fields: dict[str, Any] = {
            "step": step,
            "operation": operation,
            "operator": self._rng.choice(("ana", "bo", "chen", "dara")),
            "started_at": started.isoformat(),
            "finished_at": finished.isoformat(),
            "inputs": inputs,
            "outputs": outputs,
        }
        if equipment is not None:
            fields["equipment"] = equipment
        event = self._event("process", **fields)
        self._clock = max(self._clock, finished)
        return event

    # -- one campaign -----------------------------------------------------------------------------

    def _campaign(self, c: int) -> Iterator[dict[str, Any]]:
        rng = self._rng
        tag = f"{c:05d}"
        if self.scale:
            bar_qty = _delivery(rng)
            rod_qty, tray_qty = max(40, bar_qty // 6), max(400, bar_qty // 3)
            if c == 1 or rng.random() >= 0.3:  # else another delivery of the last heat
                self._heat = c
        else:
            bar_qty = rng.randint(300, 600)
            rod_qty, tray_qty = rng.randint(40, 80), 400
            self._heat = c
        bar = self._lot(f"L{tag}-BAR", "BAR-316L", bar_qty)
        rod = self._lot(f"L{tag}-ROD", "ROD-TI6AL4V", rod_qty)
        granules = [self._lot(f"L{tag}-GR{i}", "PEEK-GRANULE", 50) for i in (1, 2)]
        tray = self._lot(f"L{tag}-TRAY", "TRAY", tray_qty)
        yield self._event(
            "receive",
            supplier=SUPPLIERS["bar"],
            supplier_lot=f"H{70000 + self._heat}",
            part=bar.part,
            lot=bar.lot,
            qty=str(bar.qty),
        )
        yield self._event(
            "receive",
            supplier=SUPPLIERS["rod"],
            supplier_lot=f"T-{c // 3 + 1}",  # one heat of rod feeds three campaigns
            part=rod.part,
            lot=rod.lot,
            qty=str(rod.qty),
        )
        for i, granule in enumerate(granules):
            yield self._event(
                "receive",
                supplier=SUPPLIERS["granule"],
                supplier_lot=f"PM-{2 * c + i}",
                part=granule.part,
                lot=granule.lot,
                qty=str(granule.qty),
                unit="kg",
            )
        yield self._event(
            "receive",
            supplier=SUPPLIERS["tray"],
            supplier_lot=f"PK-{c}",
            part=tray.part,
            lot=tray.lot,
            qty=str(tray.qty),
        )

        # Bar: split into work lots that travel in carts through cut, turn and passivate.
        work_sizes = _partition(rng, bar.qty, rng.randint(3, 6))
        work = [self._lot(f"{bar.lot}-W{i + 1}", bar.part, q) for i, q in enumerate(work_sizes)]
        yield self._event(
            "split", lot=bar.lot, into=[{"lot": w.lot, "qty": str(w.qty)} for w in work]
        )
        turned: list[_Lot] = []
        for i, w in enumerate(work):
            cart = f"CART-{(c * 7 + i) % CART_ROWS + 1}-{i % CARTS_PER_ROW + 1}"
            yield self._event("cart_load", cart=cart, lot=w.lot, compartment="A")
            blank = self._lot(f"{w.lot}-C", "BLANK-316L", w.qty)
            yield self._process(
                f"S{tag}-CUT{i + 1}",
                "cut",
                [{"lot": w.lot}],
                [{"lot": blank.lot, "part": blank.part, "qty": str(blank.qty)}],
                equipment="SAW-1",
            )
            yield self._event("cart_unload", cart=cart, lot=w.lot, compartment="A")
            body = self._lot(f"{w.lot}-T", "SCREW-BODY", max(1, blank.qty - rng.randint(0, 3)))
            yield self._process(
                f"S{tag}-TURN{i + 1}",
                "turn",
                [{"lot": blank.lot}],
                [{"lot": body.lot, "part": body.part, "qty": str(body.qty)}],
                equipment=rng.choice(LATHES),
            )
            if self.scale and rng.random() < 0.3:
                hardened = self._lot(f"{w.lot}-H", "SCREW-BODY", body.qty)
                yield self._process(
                    f"S{tag}-HEAT{i + 1}",
                    "heat_treat",
                    [{"lot": body.lot}],
                    [{"lot": hardened.lot, "part": hardened.part, "qty": str(hardened.qty)}],
                    equipment="OVEN-1",
                )
                body = hardened
            turned.append(body)
        screws: list[str] = []
        for i in range(0, len(turned), 2):
            pair = turned[i : i + 2]
            source = pair[0]
            if len(pair) == 2:
                source = self._lot(f"L{tag}-M{i // 2 + 1}", "SCREW-BODY", pair[0].qty + pair[1].qty)
                yield self._event(
                    "merge",
                    from_=[{"lot": p.lot, "qty": str(p.qty)} for p in pair],
                    into={"lot": source.lot},
                )
            done = self._lot(f"{source.lot}-P", "SCREW", source.qty)
            yield self._process(
                f"S{tag}-PASS{i // 2 + 1}",
                "passivate",
                [{"lot": source.lot}],
                [{"lot": done.lot, "part": done.part, "qty": str(done.qty)}],
                equipment="PASS-1",
            )
            portions = [done]
            if self.scale and done.qty >= 20 and rng.random() < 0.3:
                halves = _partition(rng, done.qty, 2)
                portions = [
                    self._lot(f"{done.lot}-{k + 1}", done.part, q) for k, q in enumerate(halves)
                ]
                yield self._event(
                    "split",
                    lot=done.lot,
                    into=[{"lot": p.lot, "qty": str(p.qty)} for p in portions],
                )
            for portion in portions:
                serials = [f"SN{tag}{len(screws) + k:05d}" for k in range(portion.qty)]
                self.items += len(serials)
                screws.extend(serials)
                yield self._event("serialize", lot=portion.lot, serials=serials)

        # Polymer: two granule lots mixed, moulded into handles.
        blend = self._lot(f"L{tag}-BLEND", "PEEK-BLEND", 0)
        takes = [rng.randint(20, 50) for _ in granules]
        sources = list(zip(granules, takes, strict=True))
        if self.scale:
            # The rest of the last campaign's granules goes into this blend.
            sources += [(g, g.qty) for g in self._leftovers if g.qty > 0]
            self._leftovers = [
                _Lot(g.lot, g.part, g.qty - q) for g, q in zip(granules, takes, strict=True)
            ]
        blend.qty = sum(q for _, q in sources)
        yield self._event(
            "mix",
            from_=[{"lot": g.lot, "qty": str(q)} for g, q in sources],
            into={"lot": blend.lot, "part": blend.part},
        )
        handles = self._lot(f"L{tag}-HANDLE", "HANDLE", blend.qty * 4)
        yield self._process(
            f"S{tag}-MOLD",
            "mould",
            [{"lot": blend.lot, "qty": str(blend.qty)}],
            [{"lot": handles.lot, "part": handles.part, "qty": str(handles.qty)}],
            equipment="PRESS-1",
        )
        plates = self._lot(f"L{tag}-PLATE", "PLATE", rod.qty * 2)
        yield self._process(
            f"S{tag}-MILL",
            "mill",
            [{"lot": rod.lot}],
            [{"lot": plates.lot, "part": plates.part, "qty": str(plates.qty)}],
            equipment="MILL-1",
        )

        # Kits: four screws, a plate, a handle and a tray each; marked and released.
        kit_count = min(len(screws) // 4, plates.qty, handles.qty, tray.qty)
        kits: list[str] = []
        for k in range(kit_count):
            kit = f"KIT{tag}{k:04d}"
            self.items += 1
            inputs = [{"serial": s} for s in screws[4 * k : 4 * k + 4]]
            inputs += [{"lot": lot.lot, "qty": "1"} for lot in (plates, handles, tray)]
            made = self._clock.date()
            output = {
                "serial": kit,
                "part": "SCREW-KIT",
                "manufactured": made.isoformat(),
                "expiry": (made + KIT_SHELF_LIFE).isoformat(),
            }
            yield self._process(
                f"S{tag}-KIT{k:04d}",
                "assemble",
                inputs,
                [output],
                equipment=f"BENCH-{k % 4 + 1}",
            )
            yield self._event("mark", target={"serial": kit}, code=self._mark())
            yield self._event(
                "status", target={"serial": kit}, status="released", reason="final QA passed"
            )
            kits.append(kit)
        if c % 5 == 0 and kits:
            yield self._event(
                "status",
                target={"serial": kits[-1]},
                status="quarantined",
                reason="torque test out of tolerance",
            )
            kits.pop()

        # Shipments: kits to hospitals, plus spare handles now and then.
        for s, start in enumerate(range(0, len(kits), 12)):
            items: list[dict[str, Any]] = [{"serial": kit} for kit in kits[start : start + 12]]
            if s == 0 and handles.qty > kit_count + 10:
                items.append({"lot": handles.lot, "qty": "10"})
            yield self._event(
                "ship",
                shipment=f"SH{tag}-{s + 1}",
                customer=HOSPITALS[(c + s) % len(HOSPITALS)],
                items=items,
                minutes=30,
            )


def _delivery(rng: random.Random) -> int:
    """Draw a bar delivery: mostly a few hundred units, some a few dozen, some thousands."""
    band = rng.random()
    if band < 0.3:
        return rng.randint(24, 120)
    if band < 0.85:
        return rng.randint(300, 800)
    return rng.randint(1500, 3000)


def _partition(rng: random.Random, total: int, parts: int) -> list[int]:
    """Split `total` into `parts` sizes within a fifth of an even share of it."""
    even = total // parts
    sizes = [even + rng.randint(-even // 5, even // 5) for _ in range(parts - 1)]
    return [*sizes, total - sum(sizes)]
