"""Global node ids: `kind:key`, one namespace for every node in the graph."""

from __future__ import annotations

from typing import Final

KINDS: Final = (
    "lot",
    "serial",
    "supplier_lot",
    "step",
    "shipment",
    "company",
    "cart",
    "equipment",
    "mark",
    "part",
    "case",
    "notice",
    "supplier_request",
)


class BadId(ValueError):
    """A global id that does not parse."""


def gid(kind: str, key: str) -> str:
    """Build the global id of a node."""
    return f"{kind}:{key}"


def supplier_lot_gid(supplier: str, supplier_lot: str) -> str:
    """Build the global id of a supplier lot: the supplier id never holds a slash."""
    return f"supplier_lot:{supplier}/{supplier_lot}"


def split_gid(value: str) -> tuple[str, str]:
    """Return (kind, key) of a global id, or raise BadId."""
    kind, sep, key = value.partition(":")
    if not sep or kind not in KINDS or not key:
        raise BadId(f"not a node id: expected kind:key with kind one of {', '.join(KINDS)}")
    return kind, key
