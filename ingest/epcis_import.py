"""Read EPCIS 2.0 JSON-LD capture documents into events of our contract (docs/epcis.md).

ObjectEvent ADD `receiving` -> receive; ADD `commissioning` of serials with the lot in the ILMD
-> serialize; `shipping` -> ship; OBSERVE with a disposition we know -> status.
TransformationEvent -> split, merge, mix, process (named by our `tg:type` when we wrote the
document, else told apart by its shape). AggregationEvent: a cart (or returnable asset) as
parent -> cart_load / cart_unload; a serial as parent -> the assembly that makes it; an SSCC as
parent -> a logistic unit whose children a later shipping event in the document may name.
Anything else the standard allows but that changes no genealogy is listed as ignored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from graph.clock import utc_text
from graph.epcis import (
    DISPOSITIONS,
    EPC_CLASS,
    EXPIRY,
    INPUT_ORDER,
    ITEM_ORDER,
    LOT_NUMBER,
    MANUFACTURED,
    OPERATION_STEPS,
    OUTPUT_ORDER,
    PART,
    PROCESS_EXTENSIONS,
    QUANTITY,
    STATED,
    UDI_DATES,
    UNIT,
    UOM_UNITS,
)
from graph.epcis_ids import Identity, UnknownIdentifier, parse
from graph.epcis_schema import document_events
from graph.errors import BadRequest
from graph.ids import gid, split_gid
from graph.store import GraphStore, StoredEvent
from ingest import gs1
from ingest.errors import MAX_PROBLEMS, BatchRejected, Problem, at_most_named
from ingest.times import UNKNOWN_OFFSET, read_time, time_text

GtinPart = Callable[[str], str | None]
# The lot each of some serials (by key) was serialized from, where the store has one (by key).
SerialLots = Callable[[Sequence[str]], Mapping[str, str]]
# Which of some event ids the store has logged (GraphStore.logged, or a caller's scope of it).
Logged = Callable[[Sequence[str]], Mapping[str, StoredEvent]]
# One of our events as read, with (our field, EPCIS field) pairs for its error messages.
Made = tuple[dict[str, Any], list[tuple[str, str]]]
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransformationEvent")
IGNORED_TYPES = ("TransactionEvent", "AssociationEvent")
MAX_ID = 200
_JSON = json.JSONEncoder(ensure_ascii=False)
# What an event's digest leaves out: the sender's bookkeeping, a later declaration that the
# event was wrong, and how it was sent (alone, an event carries the document's @context). Its
# eventTime is digested as the instant, in UTC (_instant).
UNDIGESTED = ("recordTime", "errorDeclaration", "@context")
# Earlier versions digested eventTime as spelled, and before that left out recordTime only; an
# event they captured is found by those digests (without the declaration that makes a resend
# of it a retraction).
UNDIGESTED_BEFORE = ("recordTime", "errorDeclaration")
STATUSES = {disposition: status for status, disposition in DISPOSITIONS.items()}
OPERATIONS = {step: operation for operation, step in OPERATION_STEPS.items()}
LOT_NUMBER_KEYS = (
    LOT_NUMBER,
    "tg:lot",
    "https://ref.gs1.org/cbv/MDA-lotNumber",
    "urn:epcglobal:cbv:mda#lotNumber",
)
# Vocabulary terms may come bare ("receiving") or as CBV 1.x URNs or CBV 2.0 web URIs.
TERM_PREFIXES = (
    "urn:epcglobal:cbv:bizstep:",
    "urn:epcglobal:cbv:disp:",
    "https://ref.gs1.org/cbv/BizStep-",
    "https://ref.gs1.org/cbv/Disp-",
    "https://gs1.org/voc/BizStep-",
    "https://gs1.org/voc/Disp-",
)
PARTY_TYPES = ("owning_party", "possessing_party", "location")
# Where the fields every one of our events has come from (EpcisReader._envelope).
ENVELOPE_FIELDS = (("site", "bizLocation"), ("actor", "tg:actor"), ("note", "tg:note"))


class _Refused(Exception):
    """One thing wrong with one EPCIS event; the reader collects them all."""

    def __init__(self, path: str, code: str, message: str) -> None:
        super().__init__(message)
        self.path, self.code, self.message = path, code, message


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one of our events came from: the EPCIS event's index, eventID and field names."""

    index: int
    epcis_id: str | None
    fields: tuple[tuple[str, str], ...] = ()

    def epcis_field(self, ours: str) -> str | None:
        """Return the EPCIS field that our field `ours` was read from, if known."""
        best = None
        for prefix, path in self.fields:
            matches = ours == prefix or ours.startswith((prefix + ".", prefix + "["))
            if matches and (best is None or len(prefix) > len(best[0])):
                best = (prefix, path)
        if best is None:
            return None
        path, rest = best[1], ours[len(best[0]) :]
        # Our names for an item's parts, said the way the EPCIS entry says them.
        in_quantities = path.endswith("]") and "uantityList[" in path
        if rest in (".lot", ".serial"):
            rest = ".epcClass" if in_quantities else ""
        elif rest == ".qty" and in_quantities:
            rest = ".quantity"
        elif rest == ".unit" and in_quantities:
            rest = ".uom"
        return path + rest


@dataclass(frozen=True, slots=True)
class Ignored:
    index: int
    epcis_id: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "eventID": self.epcis_id, "reason": self.reason}


@dataclass
class Translation:
    """Our events read from one document, each with where it came from, and what was skipped."""

    events: list[dict[str, Any]] = field(default_factory=list)
    origins: list[Origin] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Thing:
    """An item named in an event: what it is to us, where it was named, and what we know."""

    kind: str
    key: str
    path: str
    uri: str  # as the event named it: `tg:parts`, `tg:units` and `tg:dates` are keyed by it
    part: str | None = None
    qty: Decimal | None = None
    unit: str | None = None
    # What our event stated of the item, as `tg:stated` names it; None: what the entry gives.
    stated: frozenset[str] | None = None
    lot: str | None = None  # the lot a Digital Link names beside a serial (AI 10)

    def ref(self) -> dict[str, str]:
        return {self.kind: self.key}


@dataclass(frozen=True, slots=True)
class _NamedLot:
    """A serial an event names with a lot (AI 10 of its Digital Link), and where."""

    index: int
    epcis_id: str | None
    path: str
    serial: str
    lot: str


def gtin_parts(store: GraphStore, mapping: Mapping[str, str]) -> GtinPart:
    """Say which part a GTIN is: the caller's mapping first, then the part registry."""

    def part_of(gtin: str) -> str | None:
        if gtin in mapping:
            return mapping[gtin]
        part = store.part_for_gtin(gtin)
        return None if part is None else str(part.attrs["key"])

    return part_of


def serial_lots(store: GraphStore) -> SerialLots:
    """Say which lot each of some serials was serialized from, as the store holds it."""

    def lots_of(serials: Sequence[str]) -> Mapping[str, str]:
        found = store.serialized_from([gid("serial", serial) for serial in serials])
        return {split_gid(serial.gid)[1]: split_gid(lot.gid)[1] for serial, lot in found}

    return lots_of


def gtin_map(raw: Mapping[str, str]) -> dict[str, str]:
    """Check a caller's GTIN -> part mapping and key it by GTIN-14; raise BadRequest if bad."""
    return {gs1.normalise_gtin(gtin): part for gtin, part in raw.items()}


def events_of_document(document: Any) -> list[Any]:
    """Return the EPCIS events of a document or query document, or a single event sent alone."""
    events = document_events(document)
    return [document] if events is None else events


class EpcisReader:
    """Translate EPCIS events to ours; GS1 product keys map to parts through `part_for_gtin`,
    and a serial named with a lot is checked against the lot `serial_lots` says it is of."""

    def __init__(
        self,
        part_for_gtin: GtinPart | None = None,
        parties: Mapping[str, str] | None = None,
        *,
        serial_lots: SerialLots | None = None,
    ) -> None:
        self._part_for_gtin = part_for_gtin or (lambda gtin: None)
        self._parties = parties or {}
        self._serial_lots = serial_lots or (lambda serials: {})
        # Serials named with a lot by the events read, and the lot each serial the document
        # serializes is serialized from (with the event and field that say it): checked
        # against each other, and the store, once read.
        self._named_lots: list[_NamedLot] = []
        self._serialized: dict[str, tuple[str, int, str]] = {}
        # Our ids of the events of ours each event read becomes (not a retraction), by index.
        self._made: dict[int, list[str]] = {}
        self._packs = 0  # how deep in logistic units being unpacked the reading is
        # Logistic units (SSCCs) packed earlier in the document, by the index and event of each
        # pack: read only when a later event names the unit (a pack alone makes no genealogy).
        self._units: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._index = 0  # the event being read, and its eventID
        self._event_id: str | None = None
        # GTIN -> part as the document's own master data says (the last word, after ours).
        self._classes: dict[str, str] = {}
        self._logged: Logged | None = None
        # The document's events the store has logged already, by our event id.
        self._stored: Mapping[str, StoredEvent] = {}
        # Our id of each of the document's events without eventID read so far, by its index.
        self._ids: dict[int, str] = {}

    def translate(self, document: Any, logged: Logged | None = None) -> Translation:
        """Return our events for a schema-valid document; raise BatchRejected naming problems.

        `logged` says which events the store holds, so an event without eventID captured under
        the digest of earlier versions keeps the id it was captured with.
        """
        out = Translation()
        problems: list[Problem] = []
        self._classes = _classes_of(document)
        self._logged = logged
        self._units = {}
        self._named_lots, self._serialized, self._made = [], {}, {}
        events = events_of_document(document)
        self._stored = self._already_logged(events)
        self._ids = self._ids_logged_earlier(events)
        for index, event in enumerate(events):
            if len(problems) >= MAX_PROBLEMS:  # enough to act on: the rest is not read
                raise BatchRejected(at_most_named(problems, unchecked=len(events) - index))
            self._index = index
            epcis_id = event.get("eventID")
            self._event_id = epcis_id if isinstance(epcis_id, str) else None
            named = len(self._named_lots)
            try:
                applied = self._one(index, event, out)
            except _Refused as refused:
                applied = False
                problems.append(
                    Problem(index, epcis_id, refused.path, refused.code, refused.message)
                )
            if not applied:  # ignored, retracted or refused: no lot its links name is checked
                del self._named_lots[named:]
        problems = sorted(problems + self._lots_disagreeing(), key=lambda p: p.index or 0)
        if problems:
            raise BatchRejected(at_most_named(problems))
        return out

    def _lots_disagreeing(self) -> list[Problem]:
        """Refuse each serial named with a lot (AI 10 of its Digital Link) other than the one
        it is serialized from: by this document, else as the store holds it. A serial of no
        lot (one a process makes) has none to disagree with."""
        named_lots = self._not_logged(self._named_lots)
        elsewhere = sorted({n.serial for n in named_lots} - self._serialized.keys())
        stored = self._serial_lots(elsewhere) if elsewhere else {}
        problems = []
        for named in named_lots:
            here = self._serialized.get(named.serial)
            recorded = here[0] if here is not None else stored.get(named.serial)
            if recorded is None or recorded == named.lot:
                continue
            # The store's lot is not named: a site's operator may not see it.
            which = "another lot"
            if here is not None:
                which = f"lot {recorded!r} in this document (event {here[1]}, {here[2]})"
            problems.append(
                Problem(
                    named.index,
                    named.epcis_id,
                    named.path,
                    "lot_mismatch",
                    f"serial {named.serial!r} is named with lot {named.lot!r} (AI 10 of its "
                    f"Digital Link), but is serialized from {which}",
                )
            )
        return problems

    def _not_logged(self, named_lots: list[_NamedLot]) -> list[_NamedLot]:
        """The serials named with a lot by events the store does not hold. One it holds was
        captured before the lot of a link was read: sent again, ingest answers it as a
        duplicate (or refuses it as changed), whatever lot its links name."""
        ours = sorted({event_id for n in named_lots for event_id in self._made[n.index]})
        if self._logged is None or not ours:
            return named_lots
        held = self._logged(ours)
        return [n for n in named_lots if not all(e in held for e in self._made[n.index])]

    def _already_logged(self, events: list[Any]) -> Mapping[str, StoredEvent]:
        named = {
            _our_key(epcis_id, "event") or epcis_id
            for event in events
            if isinstance(event, dict) and isinstance(epcis_id := event.get("eventID"), str)
        }
        return self._logged(sorted(named)) if self._logged is not None and named else {}

    def _ids_logged_earlier(self, events: list[Any]) -> dict[int, str]:
        """Our ids of the document's events without eventID, by index: the first digest of an
        earlier version (_earlier_digests) the store holds an event under, else today's. The
        store is asked once for the document; without a store, ids are digested as read."""
        if self._logged is None:
            return {}
        ids = {
            index: _digest(event, UNDIGESTED)
            for index, event in enumerate(events)
            if isinstance(event, dict) and not isinstance(event.get("eventID"), str)
        }
        earlier = {index: _earlier_digests(events[index], ours) for index, ours in ids.items()}
        named = {digest for digests in earlier.values() for digest in digests}
        if not named:
            return ids
        found = self._logged(sorted(named | {f"{digest}#1" for digest in named}))
        held = {event_id.removesuffix("#1") for event_id in found}
        for index, digests in earlier.items():
            ids[index] = next((digest for digest in digests if digest in held), ids[index])
        return ids

    def _ordered(
        self, event: dict[str, Any], order: str, things: list[_Thing], ours: tuple[str, str]
    ) -> list[_Thing]:
        """An event's items in the order it was written in, where EPCIS lists serials apart
        from lots: as `order` (which our export writes) names them. An event the store has
        logged as `ours` (type, list) keeps its serials and lots interleaved as logged: a
        document without `order` cannot say it, so the same event is not a changed one."""
        things = _in_order(things, event.get(order), order)
        epcis_id = event.get("eventID")
        if not isinstance(epcis_id, str):
            return things
        stored = self._stored.get(_our_key(epcis_id, "event") or epcis_id)
        if stored is None:
            return things
        logged = json.loads(stored.payload)
        return _interleaved(things, logged.get(ours[1]) if logged.get("type") == ours[0] else None)

    # -- one event -----------------------------------------------------------------------------

    def _one(self, index: int, event: dict[str, Any], out: Translation) -> bool:
        """Read one event into `out`; tell whether it is applied (not ignored or retracted)."""
        kind = event.get("type")
        epcis_id = event.get("eventID")
        # The schema lets an extension hold any JSON; these two are looked up by EPC URI, and
        # what they give is compared and stored as text.
        for name in ("tg:units", "tg:parts"):
            given = event.get(name, {})
            if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
                raise _Refused(name, "not_an_object", f"{name} maps EPC URIs to strings")
        stated = event.get(STATED, {})
        if not isinstance(stated, dict) or not all(
            isinstance(v, list) and all(name in (QUANTITY, UNIT) for name in v)
            for v in stated.values()
        ):
            raise _Refused(
                STATED,
                "not_an_object",
                f'{STATED} maps EPC URIs to lists of "{QUANTITY}", "{UNIT}"',
            )
        made: list[Made]
        if kind == "ObjectEvent":
            made = self._object(event)
        elif kind == "TransformationEvent":
            made = [self._transformation(event)]
        elif kind == "AggregationEvent":
            made = self._aggregation(event)
        elif kind in IGNORED_TYPES:
            made = []
        else:
            raise _Refused(
                "type",
                "unknown_type",
                f"event type {kind!r} is not one we read: "
                f"{', '.join(EVENT_TYPES + IGNORED_TYPES)} (the last two are ignored)",
            )
        if not made:
            out.ignored.append(Ignored(index, epcis_id, self._why_ignored(event)))
            return False
        base = self._our_id(event, len(made))
        ours = [base] if len(made) == 1 else [f"{base}#{n}" for n in range(1, len(made) + 1)]
        declared = event.get("errorDeclaration")
        if declared is not None:
            # EPCIS 2.0 7.4.1.2: the event, sent again with an error declaration, is asserted
            # to be wrong. Ours are voided (history keeps both); nothing of it is applied again.
            retracted = (
                ("voids", "errorDeclaration"),
                ("reason", "errorDeclaration.reason"),
                ("occurred_at", "errorDeclaration.declarationTime"),
                *ENVELOPE_FIELDS,
            )
            for our_id in ours:
                out.events.append(self._retraction(event, declared, our_id))
                out.origins.append(Origin(index, epcis_id, retracted))
            # What it names was read as it was, when it was captured, if it was.
            return False
        self._made[index] = ours
        for body, fields in made:
            if body["type"] == "serialize":
                said = (body["lot"], index, dict(fields)["lot"])
                self._serialized.update(dict.fromkeys(body["serials"], said))
        for our_id, (body, fields) in zip(ours, made, strict=True):
            out.events.append(self._envelope(event, our_id) | body)
            envelope = (("occurred_at", "eventTime"), *ENVELOPE_FIELDS)
            out.origins.append(Origin(index, epcis_id, (*fields, *envelope)))
        return True

    def _retraction(self, event: dict[str, Any], declared: Any, our_id: str) -> dict[str, Any]:
        """Our void of one of our events that an EPCIS error declaration retracts."""
        if not isinstance(declared, Mapping):
            raise _Refused("errorDeclaration", "not_an_object", "errorDeclaration is an object")
        void_id = f"epcis:void:{our_id}"
        if len(void_id) > MAX_ID:
            void_id = "epcis:void:sha256:" + hashlib.sha256(our_id.encode()).hexdigest()
        reason = "EPCIS error declaration"
        if isinstance(declared.get("reason"), str):
            reason += f": {_term(declared['reason'])}"
        corrective = declared.get("correctiveEventIDs")
        if isinstance(corrective, list) and corrective:
            reason += f"; corrected by {', '.join(str(c) for c in corrective)}"
        body = self._envelope(event, void_id)
        when = declared.get("declarationTime")
        if isinstance(when, str):
            said = "errorDeclaration.declarationTime"
        else:
            said, when = "eventTime", event["eventTime"]
        body["occurred_at"] = _local_time(when, event.get("eventTimeZoneOffset"), said)
        return body | {"type": "void", "voids": our_id, "reason": reason}

    def _why_ignored(self, event: dict[str, Any]) -> str:
        kind = event.get("type")
        if kind in IGNORED_TYPES:
            return f"a {kind} changes no genealogy"
        action, step = event.get("action"), _term(event.get("bizStep"))
        return f"a {kind} {action or ''} {step or ''} changes no genealogy".replace("  ", " ")

    def _our_id(self, event: dict[str, Any], count: int = 1) -> str:
        """The id of the EPCIS event as ours; `count` of ours are made of it, `#1`, `#2`, ...
        after the id when there are several."""
        epcis_id = event.get("eventID")
        if isinstance(epcis_id, str):
            ours = _our_key(epcis_id, "event") or epcis_id
            # Room for the longest suffix only where there is one: one of ours keeps the id.
            longest = MAX_ID - (len(f"#{count}") if count > 1 else 0)
            if len(ours) > longest:
                room = f", to leave room for the #{count} of the {count} events it becomes"
                why = room if count > 1 else ""
                raise _Refused("eventID", "too_long", f"eventID is longer than {longest}{why}")
            return ours
        # No eventID: a digest of what happened, so sending the same event again (alone or in a
        # document, declared wrong or not) is the same event; or the digest an earlier version
        # captured it under (_ids_logged_earlier). `event` is the one being read.
        digest = self._ids.get(self._index)
        if digest is None:
            digest = self._ids[self._index] = _digest(event, UNDIGESTED)
        return digest

    def _envelope(self, event: dict[str, Any], our_id: str) -> dict[str, Any]:
        when = _local_time(event["eventTime"], event.get("eventTimeZoneOffset"), "eventTime")
        body: dict[str, Any] = {"event_id": our_id, "occurred_at": when}
        for ours, theirs in (("actor", "tg:actor"), ("note", "tg:note")):
            if isinstance(event.get(theirs), str):
                body[ours] = event[theirs]
        location = (event.get("bizLocation") or {}).get("id")
        if location is not None:
            body["site"] = _our_key(location, "site") or location
        return body

    # -- ObjectEvent ---------------------------------------------------------------------------

    def _object(self, event: dict[str, Any]) -> list[Made]:
        action, step = event.get("action"), _term(event.get("bizStep"))
        tagged = event.get("tg:type")
        if tagged == "ship" or step == "shipping":
            return [self._ship(event)]
        if action == "ADD" and (tagged == "receive" or step == "receiving"):
            return self._receive(event)
        if action == "ADD" and (tagged == "serialize" or step == "commissioning"):
            return self._serialize(event)
        if action == "OBSERVE" and (
            tagged == "status" or _term(event.get("disposition")) in STATUSES
        ):
            return self._status(event)
        return []

    def _receive(self, event: dict[str, Any]) -> list[Made]:
        ilmd = event.get("ilmd") or {}
        lots = self._quantities(event, "quantityList")
        if not lots or event.get("epcList"):
            raise _Refused(
                "quantityList",
                "not_a_lot",
                "a receipt names the received lots in quantityList (serials are not received)",
            )
        supplier = self._party(event, "sourceList", "source")
        made = []
        dates = _ilmd_dates(ilmd)
        for lot in lots:
            if lot.kind != "lot" or lot.qty is None:
                raise _Refused(lot.path, "not_a_lot", "a received lot needs its quantity")
            part = ilmd.get("tg:part") or lot.part
            if part is None:
                raise _Refused(
                    lot.path,
                    "unknown_part",
                    f"the part of received lot {lot.key!r} is unknown: "
                    'give "tg:part" in the ILMD or a GS1 key with a registered GTIN',
                )
            supplier_lot = ilmd.get("tg:supplierLot") or _lot_number(ilmd) or lot.key
            body = {
                "type": "receive",
                "supplier": supplier,
                "supplier_lot": supplier_lot,
                "part": part,
                "lot": lot.key,
                "qty": format(lot.qty, "f"),
            } | dates
            if lot.unit is not None:
                body["unit"] = lot.unit
            fields = [("lot", lot.path), ("qty", lot.path), ("supplier", "sourceList")]
            made.append((body, [*fields, ("part", "ilmd"), ("supplier_lot", "ilmd")]))
        return made

    def _serialize(self, event: dict[str, Any]) -> list[Made]:
        lot = _lot_number(event.get("ilmd") or {})
        if lot is None or not event.get("epcList"):
            # Commissioning without a lot in the ILMD (or of lots): the item comes into being
            # when it is assembled or received, which its own event says, whatever lot its
            # Digital Link names beside the serial (a kit's batch, say). Ignored before its
            # EPCs are read, so a label or an item of a GTIN we do not know is no reason to
            # refuse.
            return []
        serials = self._epcs(event, "epcList")
        self._only(serials, "serial", "commissioned items")
        body = {"type": "serialize", "lot": lot, "serials": [s.key for s in serials]}
        body |= _ilmd_dates(event.get("ilmd") or {})
        fields = [("lot", "ilmd"), *((f"serials[{i}]", s.path) for i, s in enumerate(serials))]
        return [(body, [*fields, ("serials", "epcList")])]

    def _ship(self, event: dict[str, Any]) -> Made:
        items = self._epcs(event, "epcList") + self._quantities(event, "quantityList")
        items = _as_stated(event, self._ordered(event, ITEM_ORDER, items, ("ship", "items")))
        if not items:
            raise _Refused("epcList", "nothing_shipped", "a shipping event names what it ships")
        entries: list[dict[str, str]] = []
        fields: list[tuple[str, str]] = [("customer", "destinationList")]
        for i, item in enumerate(items):
            if item.kind == "lot" and item.qty is None:
                raise _Refused(item.path, "no_quantity", "a shipped lot needs its quantity")
            entries.append(item.ref() | _stated_qty(item) | _stated_unit(item))
            fields.append((f"items[{i}]", item.path))
        body = {
            "type": "ship",
            "shipment": self._shipment(event),
            "customer": self._party(event, "destinationList", "destination"),
            "items": entries,
        }
        return body, [*fields, ("shipment", "bizTransactionList")]

    def _status(self, event: dict[str, Any]) -> list[Made]:
        items = self._epcs(event, "epcList") + self._quantities(event, "quantityList")
        status = event.get("tg:status") or STATUSES.get(_term(event.get("disposition")) or "")
        if status is None:
            return []
        disposition = _term(event.get("disposition"))
        reason = event.get("tg:reason") or (
            f"EPCIS disposition {disposition}" if disposition else "EPCIS status observation"
        )
        made = []
        for item in items:
            body = {"type": "status", "target": item.ref(), "status": status, "reason": reason}
            made.append((body, [("target", item.path), ("status", "disposition")]))
        return made

    # -- TransformationEvent -------------------------------------------------------------------

    def _transformation(self, event: dict[str, Any]) -> Made:
        parts = event.get("tg:parts") or {}
        inputs = self._epcs(event, "inputEPCList") + self._quantities(event, "inputQuantityList")
        inputs = _as_stated(event, self._ordered(event, INPUT_ORDER, inputs, ("process", "inputs")))
        outputs = [
            _with_part(o, parts.get(o.uri))
            for o in self._epcs(event, "outputEPCList", unpack=False)
            + self._quantities(event, "outputQuantityList")
        ]
        outputs = self._ordered(event, OUTPUT_ORDER, outputs, ("process", "outputs"))
        outputs = _as_stated(event, outputs)
        for output in outputs:
            if output.kind == "sscc":
                raise _Refused(
                    output.path, "shape", "a transformation makes lots or serials, not an SSCC"
                )
        kind = event.get("tg:type") or _shape(inputs, outputs)
        if kind == "split":
            return self._split(inputs, outputs)
        if kind in ("merge", "mix"):
            return self._merge(kind, inputs, outputs)
        if kind == "serialize":
            self._only(inputs, "lot", "a serialization's input")
            self._only(outputs, "serial", "a serialization's outputs")
            body = {"type": "serialize", "lot": inputs[0].key, "serials": [o.key for o in outputs]}
            return body, [("lot", inputs[0].path), ("serials", "outputEPCList")]
        if kind != "process":
            raise _Refused("tg:type", "unknown_type", f"{kind!r} is not a transformation of ours")
        return self._process(event, inputs, outputs)

    def _split(self, inputs: list[_Thing], outputs: list[_Thing]) -> Made:
        if len(inputs) != 1:
            raise _Refused("inputQuantityList", "shape", "a split takes exactly one lot")
        self._only(inputs + outputs, "lot", "a split's lots")
        into = [{"lot": o.key, "qty": _qty_text(o)} | _stated_unit(o) for o in outputs]
        # A split takes from its lot what its outputs hold: an input quantity that says
        # otherwise (in the same unit) is not dropped silently.
        source, taken = inputs[0], sum((o.qty or Decimal(0) for o in outputs), Decimal(0))
        stated = source.qty
        if stated not in (None, taken) and all(o.unit == source.unit for o in outputs):
            raise _Refused(
                f"{source.path}.quantity",
                "quantity_mismatch",
                f"the input quantity, {format(stated, 'f')}, is not what the outputs hold "
                f"({format(taken, 'f')}): a split takes from lot {source.key!r} what it makes",
            )
        fields = [("lot", inputs[0].path), *((f"into[{i}]", o.path) for i, o in enumerate(outputs))]
        return {"type": "split", "lot": inputs[0].key, "into": into}, fields

    def _merge(self, kind: str, inputs: list[_Thing], outputs: list[_Thing]) -> Made:
        if len(outputs) != 1:
            raise _Refused("outputQuantityList", "shape", f"a {kind} makes exactly one lot")
        self._only(inputs + outputs, "lot", f"a {kind}'s lots")
        unlike = _unlike(kind, inputs, outputs[0])
        if unlike is not None:
            raise unlike
        into: dict[str, str] = {"lot": outputs[0].key}
        if kind == "mix":
            if outputs[0].part is None:
                raise _Refused(outputs[0].path, "unknown_part", "a mix names its blend's part")
            into["part"] = outputs[0].part
        sources = [{"lot": i.key, "qty": _qty_text(i)} | _stated_unit(i) for i in inputs]
        fields = [
            ("into", outputs[0].path),
            *((f"from[{i}]", s.path) for i, s in enumerate(inputs)),
        ]
        return {"type": kind, "from": sources, "into": into}, fields

    def _process(self, event: dict[str, Any], inputs: list[_Thing], outputs: list[_Thing]) -> Made:
        dated = event.get("tg:dates") or {}
        if not isinstance(dated, Mapping):
            raise _Refused("tg:dates", "not_an_object", "tg:dates maps output URIs to dates")
        body: dict[str, Any] = {
            "type": "process",
            "step": self._step(event),
            "operation": self._operation(event),
            "inputs": [i.ref() | _stated_qty(i) | _stated_unit(i) for i in inputs],
            "outputs": [
                self._output(o) | (_dates(dated.get(o.uri), "tg:dates") if dated else {})
                for o in outputs
            ],
        }
        equipment = event.get("tg:equipment") or _our_key(
            (event.get("readPoint") or {}).get("id", ""), "equipment"
        )
        if equipment:
            body["equipment"] = equipment
        for ours, theirs in PROCESS_EXTENSIONS.items() | {("operator", "tg:operator")}:
            if event.get(theirs) is not None:
                body[ours] = event[theirs]
        if isinstance(body.get("params"), dict):
            body["params"] = _params(body["params"])
        fields = [(f"inputs[{i}]", t.path) for i, t in enumerate(inputs)]
        fields += [(f"outputs[{i}]", t.path) for i, t in enumerate(outputs)]
        return body, [*fields, ("step", "transformationID")]

    def _output(self, thing: _Thing) -> dict[str, str]:
        if thing.part is None:
            raise _Refused(
                thing.path,
                "unknown_part",
                f"the part of output {thing.kind} {thing.key!r} is unknown: "
                'give it in "tg:parts" or use a GS1 key with a registered GTIN',
            )
        if thing.kind == "lot" and thing.qty is None:
            raise _Refused(thing.path, "no_quantity", "an output lot needs its quantity")
        return thing.ref() | {"part": thing.part} | _stated_qty(thing) | _stated_unit(thing)

    def _step(self, event: dict[str, Any]) -> str:
        if isinstance(event.get("tg:step"), str):
            return str(event["tg:step"])
        ident = event.get("transformationID")
        if isinstance(ident, str):
            return _our_key(ident, "step") or ident
        return self._our_id(event)

    def _operation(self, event: dict[str, Any]) -> str:
        if isinstance(event.get("tg:operation"), str):
            return str(event["tg:operation"])
        step = event.get("bizStep")
        if not isinstance(step, str):
            return "transform"
        ours = _our_key(step, "operation")
        if ours is not None:
            return ours
        term = _term(step) or step
        return OPERATIONS.get(term, term)

    # -- AggregationEvent ----------------------------------------------------------------------

    def _aggregation(self, event: dict[str, Any]) -> list[Made]:
        # What is ignored is told before the children are read: an observation names items
        # that need not be ours.
        action = str(event.get("action"))
        parent_uri = event.get("parentID")
        if action == "OBSERVE" or not isinstance(parent_uri, str):
            return []
        parent = self._identity(parent_uri, "parentID")
        if parent.kind == "sscc":
            if action == "ADD":
                self._units.setdefault(parent.key, []).append((self._index, event))
            else:
                self._units.pop(parent.key, None)
            return []
        if parent.kind in ("cart", "grai"):
            return self._cart(event, action, parent, self._children(event))
        if parent.kind in ("serial", "sgtin") and action == "ADD":
            return [self._assembly(event, parent_uri, self._children(event))]
        return []

    def _children(self, event: dict[str, Any]) -> list[_Thing]:
        children = self._epcs(event, "childEPCs", unpack=False)
        return children + self._quantities(event, "childQuantityList")

    def _cart(
        self, event: dict[str, Any], action: str, cart: Identity, children: list[_Thing]
    ) -> list[Made]:
        if not children:
            raise _Refused("childQuantityList", "shape", "name the lots loaded or unloaded")
        self._only(children, "lot", "what rides in a cart")
        made = []
        for child in children:
            body: dict[str, Any] = {
                "type": "cart_load" if action == "ADD" else "cart_unload",
                "cart": cart.key,
                "lot": child.key,
            }
            if isinstance(event.get("tg:compartment"), str):
                body["compartment"] = event["tg:compartment"]
            if action == "ADD" and child.qty is not None:
                body["qty"] = format(child.qty, "f")
                body |= _stated_unit(child)
            made.append((body, [("cart", "parentID"), ("lot", child.path), ("qty", child.path)]))
        return made

    def _assembly(self, event: dict[str, Any], parent_uri: str, children: list[_Thing]) -> Made:
        parts = event.get("tg:parts") or {}
        parent = _with_part(self._thing(parent_uri, "parentID"), parts.get(parent_uri))
        body, fields = self._process(event, self._unpacked(children), [parent])
        if "tg:operation" not in event and "bizStep" not in event:
            body["operation"] = "assemble"
        return body, [*fields, ("outputs[0]", "parentID")]

    # -- items ---------------------------------------------------------------------------------

    def _identity(self, value: str, path: str) -> Identity:
        try:
            found = parse(value)
        except UnknownIdentifier as error:
            raise _Refused(path, "unknown_identifier", str(error)) from error
        if found.scheme == "gs1" and found.kind == "grai":
            return Identity("gs1", "grai", found.key)
        return found

    def _thing(self, value: str, path: str) -> _Thing:
        found = self._identity(value, path)
        if found.scheme == "tracegraph" and found.kind in ("lot", "serial"):
            return _Thing(found.kind, found.key, path, value)
        if found.kind in ("lgtin", "sgtin") and found.gtin is not None:
            part = self._part_for_gtin(found.gtin) or self._classes.get(found.gtin)
            if part is None:
                raise _Refused(
                    path,
                    "unknown_gtin",
                    f"no part has GTIN {found.gtin} (from {value!r}): register the part's "
                    "GTIN or pass a mapping from GTIN to part",
                )
            if found.kind == "lgtin":
                return _Thing("lot", found.key, path, value, part)
            return self._noted(_Thing("serial", found.key, path, value, part, lot=found.lot))
        if found.kind == "sscc":
            return _Thing("sscc", found.key, path, value)
        raise _Refused(
            path,
            "not_an_item",
            f"{value!r} names a {found.kind}, not a lot or serial "
            "(a GTIN without lot or serial is a product class: name the lot)",
        )

    def _epcs(self, event: dict[str, Any], name: str, *, unpack: bool = True) -> list[_Thing]:
        named = [self._thing(value, f"{name}[{i}]") for i, value in enumerate(event.get(name, []))]
        return self._unpacked(named) if unpack else named

    def _quantities(self, event: dict[str, Any], name: str) -> list[_Thing]:
        units = event.get("tg:units") or {}
        found = []
        for i, entry in enumerate(event.get(name, [])):
            path = f"{name}[{i}]"
            thing = self._thing(entry["epcClass"], f"{path}.epcClass")
            if thing.kind != "lot":
                raise _Refused(f"{path}.epcClass", "not_a_lot", "a quantity is of a lot")
            qty = _decimal(entry.get("quantity"), f"{path}.quantity")
            uom = entry.get("uom")
            unit = units.get(entry["epcClass"]) or (UOM_UNITS.get(uom, uom) if uom else None)
            found.append(_Thing("lot", thing.key, path, thing.uri, thing.part, qty, unit))
        return found

    def _unpacked(self, things: list[_Thing], within: frozenset[str] = frozenset()) -> list[_Thing]:
        """Replace logistic units packed earlier in the document by what they hold, each item
        named where this event names its unit."""
        out = []
        for thing in things:
            if thing.kind != "sscc":
                out.append(thing)
            elif thing.key in within:
                raise _Refused(thing.path, "shape", f"SSCC {thing.key} is packed into itself")
            elif thing.key in self._units:
                for at, pack in self._units[thing.key]:
                    self._packs += 1
                    try:
                        held = self._unpacked(self._children(pack), within | {thing.key})
                    except _Refused as refused:
                        raise _Refused(
                            thing.path,
                            refused.code,
                            f"SSCC {thing.key}, as packed by event {at}, {refused.path}: "
                            f"{refused.message}",
                        ) from None
                    finally:
                        self._packs -= 1
                    out.extend(self._noted(replace(item, path=thing.path)) for item in held)
            else:
                raise _Refused(
                    thing.path,
                    "unknown_unit",
                    f"SSCC {thing.key} was not packed (AggregationEvent ADD) earlier in "
                    "this document, so what it holds is unknown",
                )
        return out

    def _noted(self, thing: _Thing) -> _Thing:
        """Note a serial named with a lot, where the event being read names it (a packed one
        where its logistic unit is named), to be checked once the document is read."""
        if thing.lot is not None and not self._packs:
            found = _NamedLot(self._index, self._event_id, thing.path, thing.key, thing.lot)
            self._named_lots.append(found)
        return thing

    def _only(self, things: list[_Thing], kind: str, what: str) -> None:
        for thing in things:
            if thing.kind != kind:
                raise _Refused(thing.path, "shape", f"{what} must be {kind}s, not a {thing.kind}")

    def _party(self, event: dict[str, Any], name: str, key: str) -> str:
        entries = event.get(name) or []
        ranked = sorted(
            (e for e in entries if e.get("type") in PARTY_TYPES),
            key=lambda e: PARTY_TYPES.index(e["type"]),
        )
        if not ranked:
            role = "supplier" if name == "sourceList" else "customer"
            raise _Refused(name, "no_party", f"name the {role} as an owning_party in {name}")
        value = str(ranked[0][key])
        if value in self._parties:
            return self._parties[value]
        found = self._identity(value, name)
        if found.scheme == "tracegraph" and found.kind == "company":
            return found.key
        if found.kind in ("gln", "party_gln"):
            return found.key
        raise _Refused(name, "unknown_party", f"{value!r} names no company (use a GLN or ours)")

    def _shipment(self, event: dict[str, Any]) -> str:
        for entry in event.get("bizTransactionList") or []:
            value = str(entry["bizTransaction"])
            return _our_key(value, "shipment") or value
        return self._our_id(event)


def _digest(event: Mapping[str, Any], left_out: tuple[str, ...], *, spelled: bool = False) -> str:
    content = {k: v for k, v in event.items() if k not in left_out}
    if not spelled and isinstance(content.get("eventTime"), str):
        content["eventTime"] = _instant(content["eventTime"])
    return "epcis:sha256:" + hashlib.sha256(_canonical(content).encode()).hexdigest()


def _earlier_digests(event: Mapping[str, Any], ours: str) -> list[str]:
    """The digests earlier versions named an event without eventID by, newest first: its time
    as spelled, and before that with its @context; each only where it is not today's, `ours`."""
    found = [
        _digest(event, UNDIGESTED, spelled=True),
        _digest(event, UNDIGESTED_BEFORE, spelled=True),
    ]
    return [digest for digest in dict.fromkeys(found) if digest != ours]


def _instant(moment: str) -> str:
    """An event time as its digest takes it: the instant in UTC, as our events' digests write
    one (`2026-03-02T07:00:00.000000Z`), so a time spelled another way (`08:00:00+01:00`,
    `07:00:00.000Z`) is the same event, as the CBV event hash reads times. As spelled where it
    is not a time our events take (the contract then refuses the event)."""
    try:
        at = read_time(moment)
        return moment if at.tzinfo is None else utc_text(at)
    except (ValueError, BadRequest):
        return moment


def _canonical(value: Any) -> str:
    """Write JSON as sorted, compact and unescaped (what digests were taken of before numbers
    were read exactly), a number read as a Decimal as the float it was read as then, where a
    float holds it (stored ids stay), else by its own digits."""
    if isinstance(value, dict):
        pairs = sorted(value.items())
        return "{" + ",".join(f"{_JSON.encode(k)}:{_canonical(v)}" for k, v in pairs) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    if isinstance(value, Decimal):
        held = _held(value)
        return repr(held) if held is not None else str(value)
    return _JSON.encode(value)


def _held(value: Decimal) -> float | None:
    """The float that is `value`, if one is."""
    held = float(value)
    return held if Decimal(repr(held)) == value else None


def _params(params: dict[str, Any]) -> dict[str, Any]:
    """A process's parameters, numbers read exactly as floats (what our events hold): one a
    float cannot hold as written is refused, as in every body we read."""
    read: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, Decimal):
            held = _held(value)
            if held is None:
                raise _Refused(
                    "tg:params",
                    "not_exact",
                    f'"{name}" is {value}: a parameter has more digits than it is read with',
                )
            value = held
        read[name] = value
    return read


def _classes_of(document: Any) -> dict[str, str]:
    """Read GTIN -> part from a document's master data (EPC classes with a `tg:part`)."""
    found: dict[str, str] = {}
    header = document.get("epcisHeader") if isinstance(document, dict) else None
    vocabularies = ((header or {}).get("epcisMasterData") or {}).get("vocabularyList") or []
    if isinstance(document, dict) and document.get("type") == "EPCISQueryDocument":
        # A query's answer carries master data beside its events.
        results = document["epcisBody"]["queryResults"]["resultsBody"]
        vocabularies = [*vocabularies, *(results.get("vocabularyList") or [])]
    for vocabulary in vocabularies:
        if vocabulary.get("type") != EPC_CLASS:
            continue
        for element in vocabulary.get("vocabularyElementList") or []:
            attributes = element.get("attributes") or []
            parts = [a.get("attribute") for a in attributes if a.get("id") == PART]
            try:
                identity = parse(str(element["id"]))
            except UnknownIdentifier:
                continue
            if identity.kind == "gtin" and parts and isinstance(parts[0], str):
                found[identity.key] = parts[0]
    return found


def _shape(inputs: list[_Thing], outputs: list[_Thing]) -> str:
    """Tell a transformation written by someone else apart by what goes in and out."""
    lots_only = all(t.kind == "lot" for t in inputs + outputs)
    parts = {t.part for t in inputs + outputs if t.part is not None}
    if lots_only and len(inputs) == 1 and outputs and len(parts) <= 1:
        return "split"
    if lots_only and len(inputs) >= 2 and len(outputs) == 1:
        # A lot named by our URN has no part here: an output part said beside such inputs is
        # a blend's part, which only a mix keeps.
        made = outputs[0].part
        known = {t.part for t in inputs}
        kind = "merge" if (len(parts) <= 1 if made is None else known == {made}) else "mix"
        # Making other than what the lots hold (400 caps of 15 kg) is what a process does.
        return kind if _unlike(kind, inputs, outputs[0]) is None else "process"
    if (
        len(inputs) == 1
        and inputs[0].kind == "lot"
        and outputs
        and all(o.kind == "serial" for o in outputs)
        and len(parts) <= 1
    ):
        return "serialize"
    return "process"


def _unlike(kind: str, inputs: list[_Thing], made: _Thing) -> _Refused | None:
    """Say how the lot a merge or mix makes, as stated, is not what its lots hold in their
    unit (all our merge and mix can make); None if it is, or nothing is stated."""
    units = {i.unit for i in inputs}
    if made.unit is not None and units != {made.unit}:
        theirs = ", ".join(sorted(f'"{u}"' if u else "an unstated unit" for u in units))
        return _Refused(
            f"{made.path}.uom",
            "unit_mismatch",
            f'the output is counted in "{made.unit}", the lots taken in {theirs}: '
            f"a {kind} makes what its lots hold, in their unit",
        )
    taken = [i.qty for i in inputs]
    if made.qty is None or any(q is None for q in taken):
        return None
    total = sum((q for q in taken if q is not None), Decimal(0))
    if made.qty != total:
        return _Refused(
            f"{made.path}.quantity",
            "quantity_mismatch",
            f"the output quantity, {format(made.qty, 'f')}, is not what the lots taken hold "
            f"({format(total, 'f')}): a {kind} makes what its lots hold",
        )
    return None


def _ilmd_dates(ilmd: Mapping[str, Any]) -> dict[str, Any]:
    """The UDI dates of what an event makes: the CBV expiry, and our day made."""
    return _dates({"expiry": ilmd.get(EXPIRY), "manufactured": ilmd.get(MANUFACTURED)}, "ilmd")


def _dates(given: Any, where: str) -> dict[str, Any]:
    """Keep the expiry and day made that are given (the contract checks they are dates)."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise _Refused(where, "not_an_object", f"{where} maps items to their dates")
    return {name: given[name] for name in UDI_DATES if given.get(name) is not None}


def _in_order(things: list[_Thing], order: Any, name: str) -> list[_Thing]:
    """The items in the order `order` names them by EPC URI, each once; as listed if none."""
    if order is None:
        return things
    wrong = _Refused(
        name, "shape", f"{name} lists the EPC URI of each item of the event once, in order"
    )
    if not isinstance(order, list) or len(order) != len(things):
        raise wrong
    by_uri: dict[str, list[_Thing]] = {}
    for thing in reversed(things):  # popped from the end: each URI's items in their order
        by_uri.setdefault(thing.uri, []).append(thing)
    ordered = []
    for named in order:
        left = by_uri.get(named) if isinstance(named, str) else None
        if not left:
            raise wrong
        ordered.append(left.pop())
    return ordered


def _interleaved(things: list[_Thing], logged: Any) -> list[_Thing]:
    """The items with serials and lots interleaved as in `logged` (our event's list of
    {"serial": ...} and {"lot": ...} entries), each kind in its own order; as they are if
    the list does not hold as many of each."""
    if not isinstance(logged, list) or len(logged) != len(things):
        return things
    pattern = [isinstance(entry, dict) and "serial" in entry for entry in logged]
    serials = [t for t in things if t.kind == "serial"]
    others = [t for t in things if t.kind != "serial"]
    if pattern.count(True) != len(serials):
        return things
    serial, other = iter(serials), iter(others)
    return [next(serial) if is_serial else next(other) for is_serial in pattern]


def _with_part(thing: _Thing, part: str | None) -> _Thing:
    return thing if part is None else replace(thing, part=part)


def _as_stated(event: Mapping[str, Any], things: list[_Thing]) -> list[_Thing]:
    """The items with what our event stated of each, where `tg:stated` names it."""
    stated = event.get(STATED) or {}
    return [replace(t, stated=frozenset(stated[t.uri])) if t.uri in stated else t for t in things]


def _local_time(moment: str, offset: Any, field: str) -> str:
    """The instant `moment`, said at the event's own offset (EPCIS eventTimeZoneOffset).

    Kept as sent where it is already said at that offset, or where either cannot be read (the
    contract then names what is wrong with the time). An offset of "-00:00" is kept apart from
    "+00:00" (ingest.times.UNKNOWN_OFFSET): it is what was sent, and the CBV event hash tells
    the two apart. Refused
    (`out_of_range`, naming `field`) where the offset takes it out of the years 1 to 9999: kept
    in UTC, it would lose the offset the next export writes.
    """
    if not isinstance(offset, str) or len(offset) != 6 or offset[0] not in "+-":
        return moment
    try:
        at = read_time(moment)  # as the contract reads it: "z" for "Z" too
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        delta = (-1 if offset[0] == "-" else 1) * timedelta(hours=hours, minutes=minutes)
        zone = UNKNOWN_OFFSET if offset == "-00:00" else timezone(delta)
    except ValueError:
        return moment
    if at.tzinfo is None or (
        at.utcoffset() == zone.utcoffset(None)
        and (at.tzname() == "-00:00") == (zone is UNKNOWN_OFFSET)
    ):
        return moment
    try:
        return time_text(at.astimezone(zone))
    except OverflowError:
        message = f"{moment} at {offset} is outside the years 1 to 9999"
        raise _Refused(field, "out_of_range", message) from None


def _our_key(value: str, kind: str) -> str | None:
    try:
        found = parse(value)
    except UnknownIdentifier:
        return None
    return found.key if found.scheme == "tracegraph" and found.kind == kind else None


def _term(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    for prefix in TERM_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def _lot_number(ilmd: Mapping[str, Any]) -> str | None:
    for key in LOT_NUMBER_KEYS:
        if isinstance(ilmd.get(key), str):
            return str(ilmd[key])
    return None


def _decimal(value: Any, path: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as error:
        raise _Refused(path, "not_a_number", f"{value!r} is not a quantity") from error


def _stated_qty(thing: _Thing) -> dict[str, str]:
    """The quantity our event states of an item: a lot's as given, unless `tg:stated` says the
    event stated none (all that remained of an input); a serial's only where it says it is 1."""
    if thing.stated is None:
        given = thing.qty if thing.kind == "lot" else None
        return {} if given is None else {"qty": format(given, "f")}
    if QUANTITY not in thing.stated:
        return {}
    return {"qty": _qty_text(thing) if thing.kind == "lot" else "1"}


def _stated_unit(thing: _Thing) -> dict[str, str]:
    """The unit a quantity was given in, for our event to check against the lot's own: as its
    entry gives it, unless `tg:stated` says the event named none, or a count ("ea")."""
    if thing.kind != "lot":
        return {}
    if thing.stated is None:
        return {"unit": thing.unit} if thing.unit is not None else {}
    return {"unit": thing.unit or "ea"} if UNIT in thing.stated else {}


def _qty_text(thing: _Thing) -> str:
    if thing.qty is None:
        raise _Refused(thing.path, "no_quantity", "a quantity is needed here")
    return format(thing.qty, "f")
