"""UDI of lots and serials, and scanned GS1 identifiers resolved to our parts, lots and serials."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from graph.errors import text_within
from graph.ids import gid, supplier_lot_gid
from graph.store import GraphStore, NodeView
from graph.trace import node_dict
from ingest import gs1

DEFAULT_DOMAIN = "https://id.gs1.org"
# The longest scanned code read: a Digital Link with every AI a label carries is far shorter.
MAX_SCANNED_CODE = 2000


@dataclass(frozen=True, slots=True)
class Udi:
    """A device's UDI: the DI (GTIN-14), the PI, and the whole as printed and as a URI."""

    di: str
    pi: str | None  # the bracketed forms: None where they would read as another identifier
    element_string: str
    human_readable: str | None
    digital_link: str

    @classmethod
    def of(cls, data: gs1.Gs1Data, domain: str = DEFAULT_DOMAIN) -> Udi:
        di = data.values["01"]
        pi = gs1.Gs1Data({ai: v for ai, v in data.values.items() if ai != "01"})
        readable = data.readable()
        return cls(
            di=di,
            pi=None if readable is None else pi.human_readable(),
            element_string=data.element_string(),
            human_readable=readable,
            digital_link=data.digital_link(domain),
        )


@dataclass(frozen=True, slots=True)
class Note:
    """Something a resolution found worth saying, about the node `about` (None: the code)."""

    about: str | None
    text: str
    mentions: tuple[str, ...] = ()  # other nodes the text names


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a scanned code says and which of our nodes it names."""

    code: str
    data: gs1.Gs1Data
    part: NodeView | None = None
    lot: NodeView | None = None
    serial: NodeView | None = None
    supplier_lot: NodeView | None = None
    notes: list[Note] = field(default_factory=list)
    domain: str = DEFAULT_DOMAIN

    @property
    def digital_link(self) -> str | None:
        """Return the code as a Digital Link URI on our domain (None without a GTIN)."""
        return None if self.data.gtin is None else self.data.digital_link(self.domain)


class IdentifierService:
    """GS1 identifiers over one store: UDIs of items, and resolution of scanned codes."""

    def __init__(self, store: GraphStore, domain: str = DEFAULT_DOMAIN) -> None:
        self.store = store
        self._domain = domain

    def udi(self, item: NodeView) -> Udi | None:
        """Return the UDI of a lot or serial whose part has a GTIN (None otherwise)."""
        return self.udis([item])[item.gid]

    def udis(self, items: Sequence[NodeView]) -> dict[str, Udi | None]:
        """Return the UDI of each item, reading the store a fixed number of times for all."""
        return {
            key: found if isinstance(found, Udi) else None
            for key, found in self.udis_or_reasons(items).items()
        }

    def udis_or_reasons(self, items: Sequence[NodeView]) -> dict[str, Udi | str]:
        """Return the UDI of each item, or why it has none."""
        wanted = [i for i in items if i.kind in ("lot", "serial") and i.attrs.get("part")]
        parts = self.store.nodes(sorted({gid("part", str(i.attrs["part"])) for i in wanted}))
        made_of = self._lots_of([i for i in wanted if i.kind == "serial"])
        found: dict[str, Udi | str] = {
            item.gid: "it is not a lot or serial of a part" for item in items
        }
        for item in wanted:
            part = parts.get(gid("part", str(item.attrs["part"])))
            if part is None or part.attrs.get("gtin") is None:
                found[item.gid] = "its part has no GTIN (define it with part_define)"
                continue
            lot = item if item.kind == "lot" else made_of.get(item.gid)
            try:
                data = gs1.udi(
                    str(part.attrs["gtin"]),
                    lot=None if lot is None else str(lot.attrs["key"]),
                    serial=str(item.attrs["key"]) if item.kind == "serial" else None,
                    expiry=_date(item, lot, "expiry"),
                    production=_date(item, lot, "manufactured"),
                )
            except gs1.Gs1Error as error:
                # A key outside the GS1 character set or length, or a date two digits cannot
                # carry: printed anyway, it would name another item or another date.
                found[item.gid] = error.message
                continue
            found[item.gid] = Udi.of(data, self._domain)
        return found

    def _lots_of(self, serials: Sequence[NodeView]) -> dict[str, NodeView]:
        """Return the lot each serial was serialized from, where it was."""
        if not serials:
            return {}
        return {
            serial.gid: lot for serial, lot in self.store.serialized_from([s.gid for s in serials])
        }

    def resolve(self, code: str) -> Resolved:
        """Parse a Digital Link, element string or GTIN and find the nodes it names."""
        data = gs1.parse(text_within(code, "code", MAX_SCANNED_CODE))
        notes: list[Note] = []
        if data.gtin is None:
            notes.append(Note(None, "the code carries no GTIN (AI 01)"))
            return Resolved(code, data, notes=notes, domain=self._domain)
        part = self.store.part_for_gtin(data.gtin)
        if part is None:
            notes.append(Note(None, f"no registered part has GTIN {data.gtin}"))
            return Resolved(code, data, notes=notes, domain=self._domain)
        key = str(part.attrs["key"])
        lot = self._item("lot", data.lot, key, notes)
        serial = self._item("serial", data.serial, key, notes)
        supplier_lot = None
        supplier = part.attrs.get("supplier")
        if data.lot is not None and supplier is not None:
            supplier_lot = self.store.node(supplier_lot_gid(str(supplier), data.lot))
        parent = None if serial is None else self._lots_of([serial]).get(serial.gid)
        if serial is not None and lot is not None and parent is not None and parent != lot:
            text = f"serial {data.serial} was made from {parent.gid}, not {lot.gid}"
            notes.append(Note(serial.gid, text, (parent.gid, lot.gid)))
        stated = data.expiry
        for item, its_lot in ((serial, parent), (lot, None)):
            recorded = None if item is None else _date(item, its_lot, "expiry")
            if item is not None and None not in (recorded, stated) and recorded != stated:
                # Said of the item: a serial and its lot may both differ, each in its own note.
                named = f"{item.kind} {item.attrs['key']}"
                text = f"the code's expiry {stated} differs from the recorded {recorded} of {named}"
                notes.append(Note(item.gid, text))
        return Resolved(code, data, part, lot, serial, supplier_lot, notes, self._domain)

    def _item(self, kind: str, key: str | None, part: str, notes: list[Note]) -> NodeView | None:
        if key is None:
            return None
        found = self.store.node(gid(kind, key))
        if found is None:
            notes.append(Note(gid(kind, key), f"no {kind} {key} of part {part}"))
            return None
        if found.attrs.get("part") != part:
            notes.append(
                Note(found.gid, f"{kind} {key} is of part {found.attrs.get('part')}, not {part}")
            )
            return None
        return found


def _date(item: NodeView, lot: NodeView | None, name: str) -> date | None:
    """Return an item's UDI date, or its lot's when the item has none of its own."""
    for source in (item, lot):
        value = None if source is None else source.attrs.get(name)
        if value is not None:
            return date.fromisoformat(str(value))
    return None


def resolved_dict(found: Resolved) -> dict[str, Any]:
    """Render a resolution the way REST and the CLI show it."""
    data = found.data
    return {
        "code": found.code,
        "elements": dict(data.values),
        "gtin": data.gtin,
        "lot": data.lot,
        "serial": data.serial,
        "expiry": None if data.expiry is None else data.expiry.isoformat(),
        "manufactured": None if data.production is None else data.production.isoformat(),
        "element_string": data.element_string(),
        "human_readable": data.readable(),
        "digital_link": found.digital_link,
        "nodes": {
            name: None if view is None else node_dict(view)
            for name, view in (
                ("part", found.part),
                ("lot", found.lot),
                ("serial", found.serial),
                ("supplier_lot", found.supplier_lot),
            )
        },
        "notes": [note.text for note in found.notes],
    }


def udi_answer(item: str, found: Udi | None) -> dict[str, Any]:
    """Render the UDI of the lot or serial `item` (None: it has none) as REST answers it and
    the CLI prints it."""
    return {"id": item, "udi": None if found is None else udi_dict(found)}


def udi_dict(found: Udi) -> dict[str, str | None]:
    """Render a UDI as REST and the CLI show it."""
    return {
        "di": found.di,
        "pi": found.pi,
        "element_string": found.element_string,
        "human_readable": found.human_readable,
        "digital_link": found.digital_link,
    }
