"""EPCIS 2.0 JSON-LD for our events: what a partner's system or a regulator can read.

Items get URIs in our own namespace (`urn:tracegraph:lot:L-1`), since lots and serials need not
carry GS1 keys. Material changes become TransformationEvents (inputs and outputs with
quantities), receiving and shipping ObjectEvents with business steps, statuses ObjectEvents
with a disposition.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
CBV = "https://ref.gs1.org/cbv"
DISPOSITIONS = {
    "released": "active",
    "quarantined": "non_sellable_other",
    "recalled": "recalled",
    "scrapped": "destroyed",
}


def uri(kind: str, key: str) -> str:
    """Return the URI of one of our items."""
    return f"urn:tracegraph:{kind}:{key}"


def _qty(kind: str, key: str, qty: str | None, unit: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"epcClass": uri(kind, key), "quantity": float(qty or 1)}
    if unit and unit != "ea":
        entry["uom"] = unit
    return entry


def _ref(item: dict[str, Any]) -> tuple[str, str]:
    return ("lot", item["lot"]) if "lot" in item else ("serial", item["serial"])


def _base(event: dict[str, Any], kind: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": kind,
        "eventTime": event["occurred_at"],
        "eventTimeZoneOffset": _offset(event["occurred_at"]),
        "eventID": uri("event", event["event_id"]),
    }
    if event.get("site"):
        body["readPoint"] = {"id": uri("site", event["site"])}
        body["bizLocation"] = {"id": uri("site", event["site"])}
    return body


def _offset(moment: str) -> str:
    if moment.endswith("Z"):
        return "+00:00"
    return moment[-6:]


def _transformation(
    event: dict[str, Any], inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]
) -> dict[str, Any]:
    body = _base(event, "TransformationEvent")
    lots_in = [q for q in inputs if "epcClass" in q]
    lots_out = [q for q in outputs if "epcClass" in q]
    if serials := [q["epc"] for q in inputs if "epc" in q]:
        body["inputEPCList"] = serials
    if lots_in:
        body["inputQuantityList"] = lots_in
    if serials := [q["epc"] for q in outputs if "epc" in q]:
        body["outputEPCList"] = serials
    if lots_out:
        body["outputQuantityList"] = lots_out
    body["transformationID"] = uri("transformation", event["event_id"])
    return body


def to_epcis(event: dict[str, Any]) -> dict[str, Any] | None:
    """Map one of our events (as stored) to an EPCIS 2.0 event, or None if it has no EPCIS form."""
    kind = event["type"]
    if kind == "receive":
        body = _base(event, "ObjectEvent")
        body |= {
            "action": "ADD",
            "bizStep": "receiving",
            "quantityList": [_qty("lot", event["lot"], event["qty"], event.get("unit"))],
            "sourceList": [{"type": "owning_party", "source": uri("company", event["supplier"])}],
            "ilmd": {"supplierLot": event["supplier_lot"], "part": event["part"]},
        }
        return body
    if kind == "split":
        outputs = [_qty("lot", c["lot"], c["qty"]) for c in event["into"]]
        total = sum(float(c["qty"]) for c in event["into"])
        return _transformation(
            event, [{"epcClass": uri("lot", event["lot"]), "quantity": total}], outputs
        )
    if kind in ("merge", "mix"):
        inputs = [_qty("lot", s["lot"], s["qty"]) for s in event["from"]]
        total = sum(float(s["qty"]) for s in event["from"])
        return _transformation(
            event, inputs, [{"epcClass": uri("lot", event["into"]["lot"]), "quantity": total}]
        )
    if kind == "process":
        inputs = [
            {"epc": uri("serial", i["serial"])}
            if "serial" in i
            else _qty("lot", i["lot"], i.get("qty"))
            for i in event.get("inputs", [])
        ]
        outputs = [
            {"epc": uri("serial", o["serial"])}
            if "serial" in o
            else _qty("lot", o["lot"], o["qty"], o.get("unit"))
            for o in event.get("outputs", [])
        ]
        return _transformation(event, inputs, outputs)
    if kind == "serialize":
        outputs = [{"epc": uri("serial", s)} for s in event["serials"]]
        return _transformation(
            event, [_qty("lot", event["lot"], str(len(event["serials"])))], outputs
        )
    if kind == "ship":
        body = _base(event, "ObjectEvent")
        serials = [uri("serial", i["serial"]) for i in event["items"] if "serial" in i]
        lots = [_qty("lot", i["lot"], i["qty"]) for i in event["items"] if "lot" in i]
        body |= {"action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit"}
        if serials:
            body["epcList"] = serials
        if lots:
            body["quantityList"] = lots
        body["destinationList"] = [
            {"type": "owning_party", "destination": uri("company", event["customer"])}
        ]
        return body
    if kind == "status":
        body = _base(event, "ObjectEvent")
        target = _ref(event["target"])
        body |= {"action": "OBSERVE", "disposition": DISPOSITIONS[event["status"]]}
        body["epcList" if target[0] == "serial" else "quantityList"] = (
            [uri(*target)] if target[0] == "serial" else [{"epcClass": uri(*target), "quantity": 0}]
        )
        return body
    return None


def document(events: Iterable[dict[str, Any]], created: str) -> dict[str, Any]:
    """Wrap events (as stored, in order) in an EPCIS 2.0 JSON-LD document."""
    mapped = [m for m in (to_epcis(e) for e in events) if m is not None]
    return {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisBody": {"eventList": mapped},
    }
