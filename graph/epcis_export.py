"""Export the events behind a trace as an EPCIS 2.0 document (graph.epcis maps each event)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from graph.epcis import FULL_VIEW, EpcisView, EpcisWriter, Retraction, document
from graph.event_links import ends, links, ref
from graph.ids import gid
from graph.store import MATERIAL, GraphStore, NodeView, StoredEvent
from graph.trace import TAKING, Trace

# A logged event as read, and its payload.
Logged = dict[str, tuple[StoredEvent, dict[str, Any]]]
# Whether a reader's trace would keep a node (global id) as a voided event (its payload) linked
# it: a node the void removed is judged as that event made it.
Keeps = Callable[[str, Mapping[str, Any]], bool]
# Which of the lots and serials the events name (as stored, or as a voided event made them) the
# reader may see: where a reader sees by what a node holds (a site's operator) rather than by
# the trace's items, each event lists all of its items the reader may see.
Scope = Callable[[Sequence[NodeView]], Collection[str]]


class EpcisExporter:
    """Build EPCIS documents from traces; callers decide (api.access) what the reader may see."""

    def __init__(self, store: GraphStore) -> None:
        self._store = store

    def trace_document(
        self,
        trace: Trace,
        view: EpcisView,
        *,
        closure: bool = False,
        keeps: Keeps | None = None,
        scope: Scope | None = None,
    ) -> dict[str, Any]:
        """Return the events behind `trace` (its material links and its items' statuses).

        With `closure`, also the events that made every input those events consume, back to
        the receipts, and those that took from a lot before a process took all that remained
        of it, so the document can be imported into an empty store on its own. Only closure
        reaches beyond the trace: callers grant it to readers of every item alone.
        `keeps` says which nodes the reader's trace keeps, where that is not every node: a
        voided event comes in as its live self would have, through a link between two of them.
        `scope`, where given, says which items the events list in place of `view`'s items.
        """
        statused = frozenset(
            n.id for n in trace.nodes if view.statuses and "status" in n.attrs and view.sees(n.id)
        )
        retracted = self._retracted(frozenset(n.id for n in trace.nodes), keeps)
        return self.events_document(
            {edge.event for edge in trace.edges},
            statused,
            view,
            closure=closure,
            retracted=retracted,
            scope=scope,
        )

    def events_document(
        self,
        event_ids: Iterable[str],
        statused: frozenset[str] = frozenset(),
        view: EpcisView = FULL_VIEW,
        *,
        closure: bool = False,
        retracted: Sequence[tuple[StoredEvent, Retraction]] = (),
        scope: Scope | None = None,
    ) -> dict[str, Any]:
        """Return the given events, and the status events of the items in `statused`.

        `retracted` events (voided, as logged, with their voids) come first, each with an EPCIS
        error declaration: a reader that took one from an earlier document learns it was wrong
        before it reads what replaced it (which may make the same lots). `scope`, where given,
        says which of the items the events name they list (in place of `view`'s items).
        """
        events = self._payloads(event_ids)
        if closure:
            events = self._closed(events)
        if statused:
            events |= self._status_events(statused)
        ordered = [body for _, body in sorted(events.values(), key=lambda pair: pair[0].seq)]
        retractions = [retraction for _, retraction in retracted]
        named = self._named_nodes([*ordered, *(body for body, _ in retractions)])
        parts, units = _identities(named.values())
        if scope is not None:
            view = replace(view, items=frozenset(scope(list(named.values()))))
        # Each event as logged: who sent it, and when it was taken (EPCIS recordTime).
        recorded = {stored.event_id: stored for stored, _ in (*events.values(), *retracted)}
        gtins = self._gtins(set(parts.values()))
        writer = EpcisWriter(
            view,
            parts=parts,
            units=units,
            gtin_of=gtins.get,
            consumed=self._consumed(ordered),
            recorded=recorded,
        )
        return document(ordered, datetime.now(UTC).isoformat(), writer, retractions)

    def _retracted(
        self, items: frozenset[str], keeps: Keeps | None
    ) -> list[tuple[StoredEvent, Retraction]]:
        """Return the voided events that belong with a trace of `items` (`_belongs`), each
        with its void, in the order they were voided. Only those that named one of `items`
        can belong: the store finds them by the nodes they named."""
        voided = [
            (stored, body)
            for stored in self._store.voided_naming(sorted(items))
            if _belongs(body := json.loads(stored.payload), items, keeps)
        ]
        voids = self._store.logged(sorted({str(stored.voided_by) for stored, _ in voided}))
        found = []
        for stored, body in voided:
            void = voids.get(str(stored.voided_by))
            if void is not None:
                found.append((void.seq, stored, (body, json.loads(void.payload))))
        return [(stored, pair) for _, stored, pair in sorted(found, key=lambda row: row[0])]

    def _payloads(self, event_ids: Iterable[str]) -> Logged:
        logged = self._store.logged(sorted(event_ids))
        return {
            eid: (stored, json.loads(stored.payload))
            for eid, stored in logged.items()
            if stored.voided_by is None
        }

    def _closed(self, events: Logged) -> Logged:
        """Add, transitively, what the events need to be read elsewhere as they were here:
        the events that created the items they take from, and the events logged before a
        process that took from a lot it takes all that remains of (without them it would take
        more there)."""
        closed = dict(events)
        frontier = events
        while frontier:
            wanted = self._makers(frontier) | self._taken_before(frontier)
            frontier = self._payloads(sorted(wanted - closed.keys()))
            closed |= frontier
        return closed

    def _makers(self, events: Logged) -> set[str]:
        """Return the events that created the items the events take from."""
        used = sorted({g for _, body in events.values() for g in _taken(body)})
        return {
            str(view.attrs["created_by"])
            for view in self._store.nodes(used).values()
            if view.attrs.get("created_by")
        }

    def _taken_before(self, events: Logged) -> set[str]:
        """Return the live events that took from a lot before a process of `events` took all
        that remained of it: what remained depends on them."""
        # Of each lot, the last of the processes that took all of it: what was taken before it
        # was taken before one of them.
        last: dict[str, int] = {}
        for event_id, lot in _open_inputs(body for _, body in events.values()):
            last[lot] = max(last.get(lot, 0), events[event_id][0].seq)
        if not last:
            return set()
        takers = {
            (edge.event, edge.src)
            for edge in self._store.links(sorted(last))
            if edge.src in last and edge.type in TAKING
        }
        logged = self._store.logged(sorted({event for event, _ in takers}))
        return {taker for taker, lot in takers if taker in logged and logged[taker].seq < last[lot]}

    def _status_events(self, items: frozenset[str]) -> Logged:
        """Find the status events about `items` through the store's status history."""
        found: Logged = {}
        for stored in self._store.logged(self._store.status_setters(sorted(items))).values():
            # Only status events set statuses, each on its target; the checks keep that so.
            if stored.type != "status" or stored.voided_by is not None:
                continue
            body = json.loads(stored.payload)
            if ref(body["target"]) in items:
                found[stored.event_id] = (stored, body)
        return found

    def _named_nodes(self, events: Sequence[Mapping[str, Any]]) -> dict[str, NodeView]:
        """Return every lot and serial the events name, as stored; one a voided event of them
        made (removed with it) as that event made it (`made_view`). One removed that none of
        them made is left out: nothing here says whose it was."""
        found = self._store.nodes(sorted({g for body in events for g in _named(body)}))
        for body in events:
            for node in _named(body):
                if node not in found and (view := made_view(node, body)) is not None:
                    found[node] = view
        return found

    def _gtins(self, parts: set[str]) -> dict[str, str]:
        """Return the GTIN of each of `parts` the part registry knows one for."""
        views = self._store.nodes(sorted(gid("part", p) for p in parts))
        return {
            str(view.attrs["key"]): str(view.attrs["gtin"])
            for view in views.values()
            if view.attrs.get("gtin")
        }

    def _consumed(self, events: list[dict[str, Any]]) -> dict[tuple[str, str], Decimal]:
        """Return how much each process took of a lot it named without a quantity."""
        open_inputs = _open_inputs(events)
        if not open_inputs:
            return {}
        edges = self._store.links(sorted({gid for _, gid in open_inputs}))
        return {
            (edge.event, edge.src): edge.qty
            for edge in edges
            if edge.type == "CONSUMED_BY"
            and edge.qty is not None
            and (edge.event, edge.src) in open_inputs
        }


def _open_inputs(events: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """Return (event id, lot) of each lot a process takes all that remains of (no `qty`)."""
    return {
        (body["event_id"], f"lot:{i['lot']}")
        for body in events
        if body["type"] == "process"
        for i in body.get("inputs", [])
        if "lot" in i and "qty" not in i
    }


def _identities(named: Iterable[NodeView]) -> tuple[dict[str, str], dict[str, str]]:
    """Return the part of every lot and serial named (for GS1 identities), and the unit of
    every lot (each quantity says its unit)."""
    parts, units = {}, {}
    for view in named:
        if "part" in view.attrs:
            parts[view.gid] = str(view.attrs["part"])
        if view.kind == "lot" and view.attrs.get("unit") is not None:
            units[view.gid] = str(view.attrs["unit"])
    return parts, units


def _belongs(body: dict[str, Any], items: frozenset[str], keeps: Keeps | None) -> bool:
    """Tell whether a voided event belongs with a trace of `items`: it names one of them; and
    where the reader's trace `keeps` only some nodes, one of its links would join one of
    `items` to a node kept, as a live event's link must to be in that trace (a supplier, who
    sees no steps or shipments, gets no voided process or shipment either; a site's operator
    none recorded at another site)."""
    if keeps is None or body["type"] == "status":  # a status has no link (the view rules it)
        return not items.isdisjoint(_touched(body))
    return any(
        (src in items or dst in items) and keeps(src, body) and keeps(dst, body)
        for src, dst in links(body)
    )


def _taken(body: Mapping[str, Any]) -> list[str]:
    """Return the items an event takes material from."""
    return list(dict.fromkeys(src for src, _ in links(body) if _kind(src) in MATERIAL))


def _touched(body: Mapping[str, Any]) -> list[str]:
    """Return every node a trace could reach that an event names: lots, serials, the supplier
    lot a receipt came from."""
    kinds = MATERIAL | {"supplier_lot"}
    return [n for n in ends(body) if _kind(n) in kinds]


def made_view(node: str, body: Mapping[str, Any]) -> NodeView | None:
    """Return a node an event (its payload) made, removed from the store with the event's void,
    as the event made it: of the event's site. None when the event names it without making it:
    a merge names lots of any site, and only their making says whose they were."""
    if all(made != node for _, made in links(body)):
        return None
    return NodeView(node, _kind(node), {"site": body["site"]} if body.get("site") else {})


def _named(body: Mapping[str, Any]) -> list[str]:
    """Return every lot and serial an event names."""
    return [n for n in ends(body) if _kind(n) in MATERIAL]


def _kind(node: str) -> str:
    return node.partition(":")[0]
