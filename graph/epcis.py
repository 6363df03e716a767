"""EPCIS 2.0 JSON-LD for our events: what a partner's system or a regulator can read.

Each of our events becomes at most one EPCIS event (docs/epcis.md has the tables):
receive -> ObjectEvent ADD `receiving`; serialize -> ObjectEvent ADD `commissioning` with the lot
in the ILMD; split, merge, mix and process -> TransformationEvent; ship -> ObjectEvent OBSERVE
`shipping`; status -> ObjectEvent OBSERVE with a CBV disposition. Items are
`urn:tracegraph:lot:...` URNs, or GS1 Digital Link URIs for parts that have a GTIN. What EPCIS has
no field for (part numbers, steps, operations, actors) travels in `tg:` extension fields, so our
own import rebuilds the same events from a document we wrote. Cart events have no EPCIS form
here: a cart's loads mean nothing to a reader without its definition (docs/epcis.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from graph.epcis_ids import DIGITAL_LINK, digital_link, uri
from graph.store import StoredEvent, plain
from ingest.times import MAX_OFFSET, offset_too_far

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
TG = "https://tracegraph.dev/epcis/"
CONTEXTS: list[Any] = [CONTEXT, {"tg": TG}]
SCHEMA_VERSION = "2.0"
LOT_NUMBER = "cbvmda:lotNumber"
EXPIRY = "cbvmda:itemExpirationDate"
MANUFACTURED = "tg:manufactured"
# The UDI dates an event may give what it makes, as our events name them.
UDI_DATES = ("expiry", "manufactured")
# Master data: the part a GTIN stands for, as an attribute of the EPC class (the product).
EPC_CLASS = "urn:epcglobal:epcis:vtype:EPCClass"
PART = "tg:part"
# Why an event we voided was wrong, as a CBV 2.0 error reason: we keep the why in words.
INCORRECT_DATA = "incorrect_data"
# Our statuses as CBV 2.0 dispositions, and back.
DISPOSITIONS = {
    "released": "active",
    "quarantined": "non_sellable_other",
    "recalled": "recalled",
    "scrapped": "destroyed",
}
# Units as UN/CEFACT Recommendation 20 codes, the `uom` EPCIS quantities take. A count ("ea")
# has no uom: EPCIS reads a bare quantity as a number of instances.
UOM = {
    "kg": "KGM",
    "g": "GRM",
    "mg": "MGM",
    "t": "TNE",
    "l": "LTR",
    "ml": "MLT",
    "m": "MTR",
    "cm": "CMT",
    "mm": "MMT",
    "m2": "MTK",
    "m3": "MTQ",
}
# What the EPCIS schema takes as a uom: a UN/CEFACT Rec 20 common code.
_REC20 = re.compile(r"[A-Z0-9]{2,3}")
# What capture reads a uom as: our unit of the codes ours map to, a count ("ea") for each,
# piece and one; any other code as itself.
UOM_UNITS = {code: unit for unit, code in UOM.items()} | {"EA": "ea", "H87": "ea", "C62": "ea"}
# Operations that are CBV business steps; other operations are named by a URN of ours.
OPERATION_STEPS = {
    "assemble": "assembling",
    "pack": "packing",
    "inspect": "inspecting",
    "repair": "repairing",
    "repack": "repackaging",
    "sample": "sampling",
}

# Where an event lists both serials and lots, the order of its items, as EPC URIs: EPCIS keeps
# serials (epcList) apart from lots (quantityList).
INPUT_ORDER = "tg:inputOrder"
OUTPUT_ORDER = "tg:outputOrder"
ITEM_ORDER = "tg:itemOrder"
# Which of an item's quantity and unit our event states, where its EPCIS entry says otherwise:
# EPCIS readers get the quantity taken or made and the lot's unit, our capture the event.
STATED = "tg:stated"
QUANTITY, UNIT = "quantity", "unit"

# Process fields EPCIS has no place for, carried as extensions (the operator only for people).
PROCESS_EXTENSIONS = {
    "work_order": "tg:workOrder",
    "started_at": "tg:startedAt",
    "finished_at": "tg:finishedAt",
    "params": "tg:params",
}
# Which of those are times (read back as our events read times).
TIMES = ("started_at", "finished_at")
# The offsets "+HH:MM" and "-HH:MM" of at most MAX_OFFSET (_written): a time read ends with
# its offset, so one that ends in one of these is at most that far from UTC, or is not read.
_NEAR_OFFSETS = frozenset(
    f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    for sign in "+-"
    for minutes in range(MAX_OFFSET // timedelta(minutes=1) + 1)
)


@dataclass(frozen=True, slots=True)
class EpcisView:
    """What the reader of a document may see.

    `items`: the lots and serials (global ids) it may see, None for all; `customers` and
    `suppliers`: those parties' identities; `people`: actors and operators; `plant`: sites,
    steps, equipment, operations, work orders, parameters and free-text reasons and notes;
    `statuses`: status events (holds, recalls), live or voided.
    """

    items: frozenset[str] | None = None
    customers: bool = True
    suppliers: bool = True
    people: bool = True
    plant: bool = True
    statuses: bool = True

    def sees(self, gid: str) -> bool:
        return self.items is None or gid in self.items


FULL_VIEW = EpcisView()
# A voided event as stored, and the void that retracted it.
Retraction = tuple[Mapping[str, Any], Mapping[str, Any]]
PartGtin = Callable[[str], str | None]


def no_gtin(part: str) -> str | None:
    """Say no part has a GTIN (until parts are registered with theirs)."""
    return None


@dataclass(frozen=True, slots=True)
class _Item:
    gid: str
    qty: Decimal | None = None
    unit: str | None = None
    part: str | None = None
    # What the event states of the item (QUANTITY, UNIT): an input named without a quantity
    # takes all that remains, a lot's unit is only checked where stated, and a split's lot or
    # a merged lot holds what the event computes. None: a receipt, which states both.
    stated: frozenset[str] | None = None


class EpcisWriter:
    """Map our stored events to EPCIS events, as one view sees them."""

    def __init__(
        self,
        view: EpcisView = FULL_VIEW,
        *,
        parts: Mapping[str, str] | None = None,
        units: Mapping[str, str] | None = None,
        gtin_of: PartGtin = no_gtin,
        consumed: Mapping[tuple[str, str], Decimal] | None = None,
        recorded: Mapping[str, StoredEvent] | None = None,
    ) -> None:
        self._view = view
        self._recorded = recorded or {}  # event_id -> the event as logged, for recordTime
        self._parts = parts or {}  # gid -> part, for GS1 identity of existing items
        self._lot_units = units or {}  # gid -> unit of existing lots, for every quantity
        self._gtin_of = gtin_of
        self._consumed = consumed or {}  # (event_id, input gid) -> quantity taken
        self.classes: dict[str, str] = {}  # GTIN -> part, of the GS1 identities written

    # -- identifiers ---------------------------------------------------------------------------

    def item_uri(self, gid: str, part: str | None = None) -> str:
        """Return the URI of a lot or serial: Digital Link when its part has a GTIN."""
        kind, key = gid.split(":", 1)
        part = part or self._parts.get(gid)
        gtin = self._gtin_of(part) if part is not None and kind in ("lot", "serial") else None
        if gtin is None or part is None:
            return uri(kind, key)
        found = digital_link(gtin, **{"lot" if kind == "lot" else "serial": key})
        if found is None:
            return uri(kind, key)
        self.classes[gtin] = part  # what a reader needs to know our part by its GTIN
        return found

    def master_data(self) -> dict[str, Any] | None:
        """Return the EPCIS header naming our part for each GTIN the events used, if any."""
        if not self.classes:
            return None
        elements = [
            {"id": f"{DIGITAL_LINK}/01/{gtin}", "attributes": [{"id": PART, "attribute": part}]}
            for gtin, part in sorted(self.classes.items())
        ]
        vocabulary = {"type": EPC_CLASS, "vocabularyElementList": elements}
        return {"epcisMasterData": {"vocabularyList": [vocabulary]}}

    # -- events --------------------------------------------------------------------------------

    def event(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        """Map one stored event; None if it has no EPCIS form or nothing of it is visible."""
        kind = event["type"]
        mapper = self._MAPPERS.get(kind)
        if mapper is None:
            return None
        body = mapper(self, event)
        if body is None:
            return None
        return {"type": body.pop("type")} | self._envelope(event) | body

    def retraction(
        self, event: Mapping[str, Any], void: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Map a voided event as EPCIS 2.0 retracts one (7.4.1.2): the event as it was, with
        an error declaration at the time of its void; None if the view sees none of it."""
        body = self.event(event)
        if body is None:
            return None
        declaration = {"declarationTime": _written(void["occurred_at"]), "reason": INCORRECT_DATA}
        if self._view.plant:
            declaration["tg:reason"] = void["reason"]
        return body | {"errorDeclaration": declaration}

    def _envelope(self, event: Mapping[str, Any]) -> dict[str, Any]:
        when = _written(event["occurred_at"])
        body: dict[str, Any] = {
            "eventTime": when,
            "eventTimeZoneOffset": _offset(when),
            "eventID": uri("event", event["event_id"]),
            "tg:type": event["type"],
        }
        logged = self._recorded.get(event["event_id"])
        if logged is not None and logged.recorded_at is not None:
            body["recordTime"] = logged.recorded_at
        if self._view.people and event.get("actor"):
            body["tg:actor"] = event["actor"]
        if self._view.people and logged is not None and logged.recorded_by is not None:
            body["tg:recordedBy"] = logged.recorded_by
        if self._view.plant and event.get("note"):
            body["tg:note"] = event["note"]
        if self._view.plant and event.get("site"):
            body["bizLocation"] = {"id": uri("site", event["site"])}
            body["readPoint"] = {"id": uri("site", event["site"])}
        return body

    def _receive(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        lot = _Item(f"lot:{event['lot']}", Decimal(event["qty"]), event.get("unit"), event["part"])
        if not self._view.sees(lot.gid):
            return None
        body: dict[str, Any] = {
            "type": "ObjectEvent",
            "action": "ADD",
            "bizStep": "receiving",
            "quantityList": [self._quantity(lot)],
            "ilmd": {"tg:part": event["part"], "tg:supplierLot": event["supplier_lot"]}
            | _dates_ilmd(event),
        }
        if self._view.suppliers:
            source = uri("company", event["supplier"])
            body["sourceList"] = [{"type": "owning_party", "source": source}]
        return body | self._units([lot])

    def _serialize(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        lot = f"lot:{event['lot']}"
        serials = [s for s in event["serials"] if self._view.sees(f"serial:{s}")]
        if not serials or not self._view.sees(lot):
            return None
        part = self._parts.get(lot)
        return {
            "type": "ObjectEvent",
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "epcList": [self.item_uri(f"serial:{s}", part) for s in serials],
            "ilmd": {LOT_NUMBER: event["lot"]} | _dates_ilmd(event),
        }

    def _split(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        children = [
            _Item(f"lot:{c['lot']}", Decimal(c["qty"]), c.get("unit"), stated=_stated(c))
            for c in event["into"]
        ]
        total = self._whole(children)
        source = _Item(f"lot:{event['lot']}", total, stated=frozenset())
        return self._transformation(event, [source], children)

    def _merge(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        sources = [
            _Item(f"lot:{s['lot']}", Decimal(s["qty"]), s.get("unit"), stated=_stated(s))
            for s in event["from"]
        ]
        into = event["into"]
        made = _Item(
            f"lot:{into['lot']}", self._whole(sources), part=into.get("part"), stated=frozenset()
        )
        return self._transformation(event, sources, [made])

    def _whole(self, items: list[_Item]) -> Decimal | None:
        """Return what a split takes or a merge makes, the sum of the items on the other side;
        None where the view hides one of them: a sum the items listed do not account for would
        make the event refused by EPCIS readers that check it (ours among them), and tell what
        the hidden items hold. EPCIS leaves a quantity out where it is not said."""
        if not all(self._view.sees(i.gid) for i in items):
            return None
        return sum((i.qty or Decimal(0) for i in items), start=Decimal(0))

    def _process(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        inputs = [self._input(event["event_id"], i) for i in event.get("inputs", [])]
        outputs = [
            _Item(
                f"lot:{o['lot']}" if "lot" in o else f"serial:{o['serial']}",
                Decimal(o["qty"]) if "qty" in o else None,
                o.get("unit"),
                o["part"],
                _stated(o),
            )
            for o in event.get("outputs", [])
        ]
        body = self._transformation(event, inputs, outputs)
        if body is None:
            return None
        dates = {
            self.item_uri(item.gid, item.part): dated
            for item, o in zip(outputs, event.get("outputs", []), strict=True)
            if self._view.sees(item.gid) and (dated := _dates(o))
        }
        if dates:
            body["tg:dates"] = dates
        if not self._view.plant:
            # Step ids and operations are plant internals: the event keeps its own id.
            return body
        operation = event["operation"]
        body["bizStep"] = OPERATION_STEPS.get(operation) or uri("operation", operation)
        body["transformationID"] = uri("step", event["step"])
        body["tg:step"] = event["step"]
        body["tg:operation"] = operation
        if event.get("equipment"):
            body["readPoint"] = {"id": uri("equipment", event["equipment"])}
            body["tg:equipment"] = event["equipment"]
        for name, field in PROCESS_EXTENSIONS.items():
            if event.get(name) is not None:
                body[field] = _written(event[name]) if name in TIMES else event[name]
        if isinstance(body.get("tg:params"), dict):
            body["tg:params"] = {k: _wide(v) for k, v in body["tg:params"].items()}
        if self._view.people and event.get("operator"):
            body["tg:operator"] = event["operator"]
        return body

    def _input(self, event_id: str, entry: Mapping[str, Any]) -> _Item:
        if "serial" in entry:
            return _Item(f"serial:{entry['serial']}", stated=_stated(entry))
        gid = f"lot:{entry['lot']}"
        qty = Decimal(entry["qty"]) if "qty" in entry else self._consumed.get((event_id, gid))
        return _Item(gid, qty, entry.get("unit"), stated=_stated(entry))

    def _transformation(
        self, event: Mapping[str, Any], inputs: list[_Item], outputs: list[_Item]
    ) -> dict[str, Any] | None:
        seen_in = [i for i in inputs if self._view.sees(i.gid)]
        seen_out = [o for o in outputs if self._view.sees(o.gid)]
        if not seen_in and not seen_out:
            return None
        body: dict[str, Any] = {"type": "TransformationEvent"}
        sides = (("input", seen_in, INPUT_ORDER), ("output", seen_out, OUTPUT_ORDER))
        for side, items, order in sides:
            serials = [self.item_uri(i.gid, i.part) for i in items if i.gid.startswith("serial:")]
            lots = [self._quantity(i) for i in items if i.gid.startswith("lot:")]
            if serials:
                body[f"{side}EPCList"] = serials
            if lots:
                body[f"{side}QuantityList"] = lots
            body |= self._order(order, items)
        body["transformationID"] = uri("transformation", event["event_id"])
        parts = {self.item_uri(o.gid, o.part): o.part for o in seen_out if o.part is not None}
        if parts:
            body["tg:parts"] = parts
        return body | self._units(seen_in + seen_out) | self._stated(seen_in + seen_out)

    def _ship(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        items = [
            _Item(f"lot:{i['lot']}", Decimal(i["qty"]), i.get("unit"), stated=_stated(i))
            if "lot" in i
            else _Item(f"serial:{i['serial']}", stated=_stated(i))
            for i in event["items"]
        ]
        seen = [i for i in items if self._view.sees(i.gid)]
        if not seen:
            return None
        body: dict[str, Any] = {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "in_transit",
        }
        if serials := [self.item_uri(i.gid) for i in seen if i.gid.startswith("serial:")]:
            body["epcList"] = serials
        if lots := [self._quantity(i) for i in seen if i.gid.startswith("lot:")]:
            body["quantityList"] = lots
        body |= self._order(ITEM_ORDER, seen)
        shipment = uri("shipment", event["shipment"])
        body["bizTransactionList"] = [{"type": "desadv", "bizTransaction": shipment}]
        if self._view.customers:
            customer = uri("company", event["customer"])
            body["destinationList"] = [{"type": "owning_party", "destination": customer}]
        units = self._units(i for i in seen if i.gid.startswith("lot:"))
        return body | units | self._stated(seen)

    def _status(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        target = event["target"]
        gid = f"lot:{target['lot']}" if "lot" in target else f"serial:{target['serial']}"
        if not self._view.statuses or not self._view.sees(gid):
            return None
        body: dict[str, Any] = {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "disposition": DISPOSITIONS[event["status"]],
            "tg:status": event["status"],
        }
        if gid.startswith("serial:"):
            body["epcList"] = [self.item_uri(gid)]
        else:
            body["quantityList"] = [{"epcClass": self.item_uri(gid)}]
        if self._view.plant:
            body["tg:reason"] = event["reason"]
        return body

    # -- quantities ----------------------------------------------------------------------------

    def _unit(self, item: _Item) -> str | None:
        return item.unit or self._lot_units.get(item.gid)

    def _quantity(self, item: _Item) -> dict[str, Any]:
        entry: dict[str, Any] = {"epcClass": self.item_uri(item.gid, item.part)}
        if item.qty is not None:
            entry["quantity"] = item.qty  # written by dumps() to the last digit
        code = _uom(self._unit(item))
        if code is not None:
            entry["uom"] = code
        return entry

    def _order(self, name: str, items: list[_Item]) -> dict[str, Any]:
        """Name the items in our order where it is not serials first: EPCIS lists serials and
        lots apart, and our capture reads the order back, so the event stays as written."""
        serial_first = sorted(items, key=lambda i: not i.gid.startswith("serial:"))
        if serial_first == items:
            return {}
        return {name: [self.item_uri(i.gid, i.part) for i in items]}

    def _units(self, items: Iterable[_Item]) -> dict[str, Any]:
        """Name units that have no UN/CEFACT code, or one read back as another of our units
        (a lot counted in "EA" has uom EA, which reads as "ea"), in an extension keyed by
        item URI."""
        odd = {
            self.item_uri(i.gid, i.part): unit
            for i in items
            if (unit := self._unit(i)) is not None and unit != "ea" and _read_back(unit) != unit
        }
        return {"tg:units": odd} if odd else {}

    def _stated(self, items: list[_Item]) -> dict[str, Any]:
        """Say, by item URI, which of its quantity and unit our event states where the EPCIS
        entry says otherwise: a quantity the event left to the graph, the lot's unit where
        the event named none, a serial's quantity (1) or a count ("ea") the event named."""
        said = {}
        for item in items:
            if item.stated is None:
                continue
            lot = item.gid.startswith("lot:")
            shown = {QUANTITY} if lot and item.qty is not None else set()
            if lot and self._unit(item) not in (None, "ea"):
                shown.add(UNIT)  # a uom, or tg:units
            if shown != item.stated:
                said[self.item_uri(item.gid, item.part)] = sorted(item.stated)
        return {STATED: said} if said else {}

    _MAPPERS: Mapping[str, Callable[[EpcisWriter, Mapping[str, Any]], dict[str, Any] | None]] = {
        "receive": _receive,
        "serialize": _serialize,
        "split": _split,
        "merge": _merge,
        "mix": _merge,
        "process": _process,
        "ship": _ship,
        "status": _status,
    }


def _stated(entry: Mapping[str, Any]) -> frozenset[str]:
    """What an item's entry in our event states: its quantity, its unit."""
    return frozenset(name for name, ours in ((QUANTITY, "qty"), (UNIT, "unit")) if ours in entry)


def _dates(source: Mapping[str, Any]) -> dict[str, str]:
    """The UDI dates (AI 17 expiry, AI 11 made on) an event gives what it makes."""
    return {name: source[name] for name in UDI_DATES if source.get(name)}


def _dates_ilmd(event: Mapping[str, Any]) -> dict[str, str]:
    """Those dates as ILMD: the expiry by its CBV name, the day made as our extension."""
    dates = _dates(event)
    names = {"expiry": EXPIRY, "manufactured": MANUFACTURED}
    return {names[name]: value for name, value in dates.items()}


def _written(moment: str) -> str:
    """A logged time as the export writes it: as logged, but in UTC where its offset is past
    14:00, which earlier versions logged. EPCIS writes no such eventTimeZoneOffset, and our
    capture refuses one: the instant is kept, and so the event's digest and identity."""
    if moment.endswith("Z") or moment[-6:] in _NEAR_OFFSETS:
        return moment  # nearly every time: told without reading it
    try:
        at = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    if not offset_too_far(at):
        return moment
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _offset(moment: str) -> str:
    if moment.endswith(("Z", "z")):
        return "+00:00"
    return moment[-6:]


def _uom(unit: str | None) -> str | None:
    """The UN/CEFACT Rec 20 code of a unit: ours mapped, or a unit that is a code already.

    None for a count ("ea": EPCIS reads a quantity without uom as instances) and for units of
    our own words ("pcs"), which go in tg:units.
    """
    if unit is None or unit == "ea":
        return None
    if unit in UOM:
        return UOM[unit]
    return unit if _REC20.fullmatch(unit) else None


def _read_back(unit: str) -> str | None:
    """The unit capture reads from a unit's uom (None: it has none)."""
    code = _uom(unit)
    return None if code is None else UOM_UNITS.get(code, code)


def _wide(value: Any) -> Any:
    """A parameter as dumps() writes it: orjson writes integers of up to 64 bits, a Decimal
    of any length."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return Decimal(value)
    return value


def dumps(document: Mapping[str, Any], *, indent: bool = False) -> bytes:
    """Write a document as JSON text: every quantity a JSON number of its exact digits (a
    binary float holds about 17, and a lot may weigh 1234567890.123456789 kg), a count whole."""
    return orjson.dumps(document, default=_exact, option=orjson.OPT_INDENT_2 if indent else 0)


def _exact(value: Any) -> orjson.Fragment:
    if isinstance(value, Decimal):
        return orjson.Fragment(plain(value))
    raise TypeError(f"{type(value).__name__} is not JSON")


def document(
    events: Iterable[Mapping[str, Any]],
    created: str,
    writer: EpcisWriter | None = None,
    retracted: Iterable[Retraction] = (),
) -> dict[str, Any]:
    """Wrap events (as stored, in order) in an EPCIS 2.0 JSON-LD document, after the
    retractions of voided ones."""
    mapper = writer or EpcisWriter()
    declared = (mapper.retraction(event, void) for event, void in retracted)
    mapped = [m for m in (*declared, *(mapper.event(e) for e in events)) if m is not None]
    body: dict[str, Any] = {
        "@context": CONTEXTS,
        "type": "EPCISDocument",
        "schemaVersion": SCHEMA_VERSION,
        "creationDate": created,
    }
    if header := mapper.master_data():
        body["epcisHeader"] = header
    return body | {"epcisBody": {"eventList": mapped}}
