"""The links an event's payload makes, read from the payload as ingest.planner makes them.

The export reads them to map events, and the stores to index voided events by the nodes they
named: a void removes the links from the graph, and only the log still says where they were.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from graph.ids import gid, supplier_lot_gid
from graph.store import StoredEvent


def links(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return the material links (from, to) an event makes, as ingest.planner makes them."""
    kind = body["type"]
    if kind == "receive":
        return [(supplier_lot_gid(body["supplier"], body["supplier_lot"]), f"lot:{body['lot']}")]
    if kind == "split":
        return [(f"lot:{body['lot']}", f"lot:{c['lot']}") for c in body["into"]]
    if kind in ("merge", "mix"):
        into = f"lot:{body['into']['lot']}"
        return [(f"lot:{s['lot']}", into) for s in body["from"]]
    if kind == "serialize":
        return [(f"lot:{body['lot']}", f"serial:{s}") for s in body["serials"]]
    if kind == "process":
        step = gid("step", body["step"])
        return [(ref(i), step) for i in body.get("inputs", [])] + [
            (step, ref(o)) for o in body.get("outputs", [])
        ]
    if kind == "ship":
        shipment = gid("shipment", body["shipment"])
        return [(ref(i), shipment) for i in body["items"]] + [
            (shipment, gid("company", body["customer"]))
        ]
    return []


def ref(target: Mapping[str, str]) -> str:
    """Return the global id of an item reference (a lot or a serial)."""
    return f"lot:{target['lot']}" if "lot" in target else f"serial:{target['serial']}"


def ends(body: Mapping[str, Any]) -> list[str]:
    """Return every node an event's links join, and a status's target."""
    joined = [n for link in links(body) for n in link]
    return [*joined, ref(body["target"])] if body["type"] == "status" else joined


def void_names(voided: Iterable[StoredEvent]) -> list[tuple[str, str]]:
    """Return (node, event) for every node each of the voided events names (`ends`)."""
    return sorted({(node, e.event_id) for e in voided for node in ends(json.loads(e.payload))})
