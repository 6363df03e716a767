"""What an operator bound to a site may record: events of their site, on what their site holds."""

from __future__ import annotations

import json
from collections.abc import Sequence

from graph.store import GraphStore
from ingest.errors import BatchRejected, Problem
from ingest.models import Event, Void
from ingest.references import describe, references


def for_site(events: Sequence[Event], site: str, store: GraphStore) -> list[Event]:
    """Return the batch as recorded for `site`, or raise BatchRejected naming every refusal.

    An event naming another site is refused. An event naming none is recorded for `site`, so what
    it creates is the site's (and hidden from other sites' operators). An item, or an event to
    void, of another site is refused in the words the planner uses for one that does not exist:
    outside their scope an operator cannot tell the two apart, in a read or in a write.
    A node's site is set when it is created and never changes, so it is read before the batch's
    transaction.
    """
    elsewhere = [
        Problem(i, e.event_id, "site", "wrong_site", f"you record events for site {site!r}")
        for i, e in enumerate(events)
        if e.site not in (None, site)
    ]
    if elsewhere:
        raise BatchRejected(elsewhere)
    events = [e if e.site is not None else e.model_copy(update={"site": site}) for e in events]
    problems = _foreign_items(events, site, store) + _foreign_voids(events, site, store)
    if problems:
        raise BatchRejected(sorted(problems, key=lambda p: p.index))
    return events


def _foreign_items(events: Sequence[Event], site: str, store: GraphStore) -> list[Problem]:
    read = [(i, e, name, node) for i, e in enumerate(events) for name, node in references(e)]
    found = store.nodes(sorted({node for *_, node in read}))
    return [
        Problem(i, e.event_id, name, "unknown_item", f"{describe(node)} does not exist")
        for i, e, name, node in read
        if node in found and found[node].attrs.get("site") not in (None, site)
    ]


def _foreign_voids(events: Sequence[Event], site: str, store: GraphStore) -> list[Problem]:
    voids = [(i, e) for i, e in enumerate(events) if isinstance(e, Void)]
    if not voids:
        return []
    logged = store.logged(sorted({e.voids for _, e in voids}))
    return [
        Problem(i, e.event_id, "voids", "unknown_event", f'event "{e.voids}" does not exist')
        for i, e in voids
        if e.voids in logged and json.loads(logged[e.voids].payload).get("site") not in (None, site)
    ]
