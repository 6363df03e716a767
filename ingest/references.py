"""Which existing nodes an event reads, and through which of its fields."""

from __future__ import annotations

import hashlib

from graph.ids import gid, supplier_lot_gid
from ingest.models import (
    CartLoad,
    CartUnload,
    Event,
    ItemRef,
    Mark,
    Merge,
    Mix,
    Process,
    RecallAck,
    RecallHold,
    RecallNotice,
    RecallOpen,
    RecallScope,
    RecallStateChange,
    RecallSupplierAnswer,
    RecallSupplierRequest,
    Receive,
    Serialize,
    SetStatus,
    Ship,
    Split,
)


def describe(item_gid: str) -> str:
    """Name a node in a problem's message: `lot "L-1"`."""
    kind, _, key = item_gid.partition(":")
    return f'{kind.replace("_", " ")} "{key}"'


def item_field(prefix: str, ref: ItemRef) -> str:
    """Return the field of a reference to a lot or serial, as problems name it."""
    return f"{prefix}.{'lot' if ref.lot is not None else 'serial'}"


def references(event: Event) -> list[tuple[str, str]]:
    """Return (field, global id) of each existing node an event reads."""
    if type(event) is Receive:
        return [
            ("supplier_lot", supplier_lot_gid(event.supplier, event.supplier_lot)),
            ("supplier", gid("company", event.supplier)),
        ]
    if type(event) is Split:
        return [("lot", gid("lot", event.lot)), *landing_carts(event)]
    if type(event) is Serialize:
        return [("lot", gid("lot", event.lot))]
    if type(event) is Merge or type(event) is Mix:
        found = [(f"from[{i}].lot", gid("lot", source.lot)) for i, source in enumerate(event.from_)]
        return [*found, *landing_carts(event)]
    if type(event) is Process:
        found = [(item_field(f"inputs[{i}]", s), s.gid) for i, s in enumerate(event.inputs)]
        if event.equipment:
            found.append(("equipment", gid("equipment", event.equipment)))
        return found
    if type(event) is Ship:
        found = [(item_field(f"items[{i}]", e), e.gid) for i, e in enumerate(event.items)]
        return [*found, ("customer", gid("company", event.customer))]
    if type(event) is SetStatus:
        return [(item_field("target", event.target), event.target.gid)]
    if type(event) is CartLoad or type(event) is CartUnload:
        return [("lot", gid("lot", event.lot)), ("cart", gid("cart", event.cart))]
    if type(event) is Mark:
        return [
            (item_field("target", event.target), event.target.gid),
            ("code", gid("mark", event.code)),
        ]
    if type(event) is RecallOpen or type(event) is RecallScope:
        found = [(f"suspects[{i}].id", s.id) for i, s in enumerate(event.suspects)]
        return [*found, ("case", gid("case", event.case))]
    if type(event) is RecallStateChange:
        return [("case", gid("case", event.case))]
    if type(event) is RecallHold:
        found = [(item_field(f"items[{i}]", e), e.gid) for i, e in enumerate(event.items)]
        return [*found, ("case", gid("case", event.case))]
    if type(event) is RecallNotice:
        return [("case", gid("case", event.case)), ("customer", gid("company", event.customer))]
    if type(event) is RecallAck:
        return [("notice", gid("notice", event.notice))]
    if type(event) is RecallSupplierRequest or type(event) is RecallSupplierAnswer:
        lot = supplier_lot_gid(event.supplier, event.supplier_lot)
        return [
            ("case", gid("case", event.case)),
            ("supplier_lot", lot),
            ("supplier_lot", supplier_request_gid(event.case, lot)),
        ]
    return []


def landing_carts(event: Split | Merge | Mix) -> list[tuple[str, str]]:
    """Return (field, global id) of the carts the new lots of a split, merge or mix land in:
    the event reads what they hold, as a load does."""
    if type(event) is Split:
        return [
            (f"into[{i}].cart", gid("cart", child.cart))
            for i, child in enumerate(event.into)
            if child.cart is not None
        ]
    assert type(event) is Merge or type(event) is Mix
    return [("into.cart", gid("cart", event.into.cart))] if event.into.cart is not None else []


def referenced(event: Event) -> list[str]:
    """Return the global ids of the existing nodes an event reads, as `references` does.

    Ingest plans every event with these. The most frequent events skip the field names, which
    cost about 1 us an event; tests/ingest/test_references.py checks the two agree.
    """
    if type(event) is Process:
        found = [source.gid for source in event.inputs]
        if event.equipment:
            found.append(gid("equipment", event.equipment))
        return found
    if type(event) is SetStatus:
        return [event.target.gid]
    if type(event) is Mark:
        return [event.target.gid, gid("mark", event.code)]
    return [node for _, node in references(event)]


def supplier_request_gid(case_id: str, supplier_lot: str) -> str:
    """Return the id of a case's request node for one supplier lot.

    Both ids may hold "/", so the key carries a digest of the pair to stay unambiguous.
    """
    digest = hashlib.sha256(f"{case_id}\x00{supplier_lot}".encode()).hexdigest()[:20]
    return gid("supplier_request", f"{case_id}/{digest}")
