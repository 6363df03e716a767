"""What an operator bound to a site may record and read: events of their site, on what their
site holds."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import replace

from api.auth.service import site_refused
from api.validation_text import problem_message
from graph.store import GraphStore, StoredEvent, WriteTx
from ingest.errors import BatchRejected, Problem
from ingest.models import Event, Void
from ingest.references import describe, references
from ingest.service import Unseen


def for_site(events: Sequence[Event], site: str) -> list[Event]:
    """Return the batch as recorded for `site`, or raise BatchRejected naming events of others.

    An event naming another site is refused. An event naming none is recorded for `site`, so what
    it creates is the site's (and hidden from other sites' operators).
    """
    elsewhere = [
        Problem(i, e.event_id, "site", "wrong_site", f"you record events for site {site!r}")
        for i, e in enumerate(events)
        if e.site not in (None, site)
    ]
    if elsewhere:
        raise BatchRejected(elsewhere)
    unsited = [(i, e) for i, e in enumerate(events) if e.site is None]
    refused = account_site_refused(site) if unsited else None
    if refused is not None:
        code, message = refused
        raise BatchRejected([Problem(i, e.event_id, "site", code, message) for i, e in unsited])
    return [e if e.site is not None else e.model_copy(update={"site": site}) for e in events]


def unseen_by(site: str) -> Unseen:
    """Find the items and voided events of another site that a batch names (ingest.service).

    The planner takes them for ones that do not exist, and says so in its words, with every
    other problem of the batch, after duplicates and conflicts are told apart: naming one, an
    operator cannot tell the two apart. Ids are plant-wide, though: an id another site uses,
    sent for something new (an item or an event_id), is refused as taken, which tells the
    operator that the id is in use and nothing about what it names. Found under the write lock,
    so an item another site creates meanwhile is not taken for a missing one.
    """

    def unseen(tx: WriteTx, events: Sequence[Event]) -> list[Problem]:
        problems = _foreign_items(tx, events, site) + _foreign_voids(tx, events, site)
        return sorted(problems, key=lambda p: -1 if p.index is None else p.index)

    return unseen


def _foreign_items(tx: WriteTx, events: Sequence[Event], site: str) -> list[Problem]:
    read = [(i, e, name, node) for i, e in enumerate(events) for name, node in references(e)]
    found = tx.node_props(sorted({node for *_, node in read}))
    return [
        Problem(i, e.event_id, name, "unknown_item", f"{describe(node)} does not exist", (node,))
        for i, e, name, node in read
        if node in found and found[node].get("site") not in (None, site)
    ]


def _foreign_voids(tx: WriteTx, events: Sequence[Event], site: str) -> list[Problem]:
    voids = [(i, e) for i, e in enumerate(events) if isinstance(e, Void)]
    if not voids:
        return []
    logged = tx.find_events(sorted({e.voids for _, e in voids}))
    return [
        Problem(
            i,
            e.event_id,
            "voids",
            "unknown_event",
            f'event "{e.voids}" does not exist',
            (e.voids,),
        )
        for i, e in voids
        if e.voids in logged and not recorded_for(logged[e.voids], site)
    ]


def recorded_for(stored: StoredEvent, site: str) -> bool:
    """Tell whether a logged event is one `site`'s operators may void: theirs, or of no site."""
    return json.loads(stored.payload).get("site") in (None, site)


# Refusals whose messages name what holds a cart or a mark, or the cart a lot rides in: for an
# operator bound to a site that may be another site's, so they are said without it.
HOLDERS_UNNAMED = {
    "cart_occupied": "the cart (or that compartment of it) holds another lot: one lot at a time",
    "cart_group_mismatch": "the lot is in a cart of another group, or was while this stay runs: "
    "a lot rides in one cart or in carts of one group at once",
    "mark_taken": "this mark already marks another item",
}
# A code struck first under another scheme (or none), that mark voided, is refused naming that
# scheme, which may be another site's: said without it. It names no holder, as nothing holds it:
# the holder a mark_taken refusal carries only tells the two apart (both texts name nothing).
STRUCK_UNNAMED = (
    "this code was struck first under another scheme (or by a mark of no scheme), and that mark "
    "voided: the code keeps what it was read as then, so this item's scheme cannot take it (it "
    "may still be stamped on a part)"
)
# Refusals of a void whose messages name the events that depend on or voided its event: said as
# they are when every event they name is the operator's to read (their site's, of no site, or of
# the batch), else naming only the voided event (the operator's own).
VOIDERS_UNNAMED = {
    "void_has_dependents": 'later events depend on "{}": it cannot be voided while they stand',
    "already_voided": 'event "{}" is already voided',
}


# The refusals said without the lots and carts they carry unless every one is the operator's to
# read. A code may also be that of refusals that carry none, as time_order is of events out of
# order on the operator's own items: with nothing to leave out, they are said as they are.
_NAMED_NODES = {
    # A cart's load past its capacity counts what its lots hold: said with the figures when
    # every lot counted is the operator's to read, else without them.
    "over_capacity": "the cart cannot take this quantity: with what it holds, or held while "
    "this stay runs, it would pass its capacity",
    # A lot of another unit than a cart with a capacity holds names the lot it holds, and its
    # unit: said with them when that lot is the operator's to read, else without them.
    "cart_unit_mismatch": "the cart holds, or held while this stay runs, a lot counted in "
    "another unit: a capacity is in the unit of the lots a cart carries",
    # These name the carts a lot is recorded in: said with them when every cart named is the
    # operator's to read (their site's, or of no site), as an admin may load a site's lot into
    # another site's cart (and an event of no site, which the operator may void, unload it).
    "time_order": "the lot is recorded in a cart after this event's time: it is not used up before",
    "already_in_cart": "the lot is in that cart again, or was while this stay runs: a lot is "
    "loaded into a cart once",
}

# A receipt of a supplier lot as another part or unit than it was received in names what it
# was: said without it unless the operator sees the supplier lot (received at their site, or
# at none), as one only other sites received is theirs alone.
RECEIVED_UNNAMED = {
    "part_mismatch": '{} was received before as another part than "{}"',
    "unit_mismatch": '{} was received before in another unit than "{}"',
}


def account_site_refused(site: str) -> tuple[str, str] | None:
    """The code and message refusing to record an operator's account site on an event, if it
    is not one an event may name: an account made before its site was checked, whose events
    would not replay."""
    refused = site_refused(site)
    if refused is None:
        return None
    message = (
        f"your account's site {site!r} is not one an event may name "
        f"({problem_message(refused)}): an admin gives you an account with another"
    )
    return refused["type"], message


def without_others(
    error: BatchRejected, events: Sequence[Event], store: GraphStore, site: str
) -> BatchRejected:
    """Return the refusal of `events` without naming what may be another site's: the holders of
    carts and marks, what another site's lots put in a cart, the carts of other sites a lot is
    recorded in, what only other sites received a supplier lot as, and the events of other
    sites that depend on or voided an event."""
    named = {n for p in error.problems if p.code in VOIDERS_UNNAMED for n in p.names}
    batch = {e.event_id for e in events}
    logged = store.logged(sorted(named - batch)) if named - batch else {}
    readable = batch | {e for e, stored in logged.items() if recorded_for(stored, site)}
    counted = {n for p in error.problems if p.code in _NAMED_NODES for n in p.names}
    received = {n for p in error.problems if p.code in RECEIVED_UNNAMED for n in p.names}
    found = store.nodes(sorted(counted | received)) if counted or received else {}
    # Lots and carts apart from events: an event may take any id, a lot's among them. A lot,
    # cart or supplier lot made in this batch is not in the store yet: the batch is the
    # operator's own.
    nodes = {n for n in counted if n not in found or found[n].attrs.get("site") in (None, site)}
    nodes |= {n for n in received if n not in found}
    nodes |= seen_through_site(store, received & found.keys(), site)
    return type(error)([_unnamed(p, events, readable, nodes) for p in error.problems])


def _unnamed(
    problem: Problem, events: Sequence[Event], readable: set[str], nodes: set[str]
) -> Problem:
    """`problem` said without what the operator may not read: `readable`, the events they may
    read; `nodes`, the lots counted in a cart, the carts and the supplier lots named that are
    theirs to read."""
    index = problem.index
    event = events[index] if index is not None and 0 <= index < len(events) else None
    if problem.code in RECEIVED_UNNAMED and not nodes.issuperset(problem.names):
        sent = getattr(event, problem.field, None)
        message = RECEIVED_UNNAMED[problem.code].format(describe(problem.names[0]), sent)
        return replace(problem, message=message)
    if problem.code == "mark_taken" and not problem.names:
        return replace(problem, message=STRUCK_UNNAMED)
    if problem.code in HOLDERS_UNNAMED:
        return replace(problem, message=HOLDERS_UNNAMED[problem.code])
    void = "cannot put it back: " if problem.field == "voids" else ""
    if problem.code in _NAMED_NODES and not nodes.issuperset(problem.names):
        return replace(problem, message=void + _NAMED_NODES[problem.code])
    if problem.code not in VOIDERS_UNNAMED or not isinstance(event, Void):
        return problem
    if problem.names and readable.issuperset(problem.names):
        return problem
    return replace(problem, message=VOIDERS_UNNAMED[problem.code].format(event.voids))


# Supplier lots and marks are shared context nodes with no site of their own: a site's operator
# sees one through what it is linked to, the lots received from it or the items it marks.
SEEN_THROUGH = {"supplier_lot": "RECEIVED_AS", "mark": "MARKS"}


def seen_through_site(store: GraphStore, gids: Collection[str], site: str) -> set[str]:
    """Return the supplier lots and marks among `gids` linked to an item of `site` (or of no
    site, which every site sees): one links and one nodes read, whatever their number."""
    wanted = {g for g in gids if _kind(g) in SEEN_THROUGH}
    if not wanted:
        return set()
    links = [
        e
        for e in store.links(sorted(wanted))
        if e.src in wanted and e.type == SEEN_THROUGH[_kind(e.src)]
    ]
    ends = store.nodes(sorted({e.dst for e in links}))
    return {e.src for e in links if e.dst in ends and ends[e.dst].attrs.get("site") in (None, site)}


def _kind(gid: str) -> str:
    return gid.partition(":")[0]
