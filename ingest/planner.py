"""Turn validated events into graph changes, checking every rule against the graph as it stands.

The planner keeps an overlay of the items a batch touches, so event N sees what events 0..N-1 of
the same batch did. It never writes: the service hands the resulting `Changes` to the store in the
same transaction the state was read in, or nothing at all when a problem was found.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any, NamedTuple

import orjson

from graph.clock import utc_text
from graph.ids import gid, supplier_lot_gid
from graph.quantities import COUNT
from graph.recall import HELD, Scope, found_over_shipped
from graph.store import (
    EXACT,
    CartClose,
    CartStay,
    Changes,
    DocumentRow,
    EdgeRow,
    EventRow,
    ItemState,
    NodeRow,
    StatusRow,
    StoredEvent,
    Submission,
    VoidRow,
    WriteTx,
    latest_statuses,
    plain,
)
from ingest.errors import Problem
from ingest.models import (
    CartDefine,
    CartLoad,
    CartUnload,
    Event,
    ItemRef,
    Mark,
    Merge,
    Mix,
    PartDefine,
    Process,
    ProcessOutput,
    RecallAck,
    RecallHold,
    RecallNotice,
    RecallOpen,
    RecallScope,
    RecallState,
    RecallStateChange,
    RecallSupplierAnswer,
    RecallSupplierRequest,
    Receive,
    Serialize,
    SetStatus,
    Ship,
    Split,
    Suspect,
    Void,
)
from ingest.parse import EVENT_ADAPTER
from ingest.references import (
    describe,
    item_field,
    landing_carts,
    referenced,
    supplier_request_gid,
)
from marking.schemes import Scheme, family_scheme, index_text

# Context nodes made on first mention, by the links that make them in a replay of the log...
INTRODUCERS: dict[str, frozenset[str]] = {
    "supplier_lot": frozenset({"RECEIVED_AS"}),
    "company": frozenset({"SHIPPED_TO", "FROM"}),
    "equipment": frozenset({"ON"}),
}
# ...and the links of recall events, which need them to exist.
RECALL_LINKS = frozenset({"SUSPECTS", "TO", "ABOUT"})
ONE = Decimal(1)
ZERO = Decimal(0)
# Quantities are planned exactly (graph.store.EXACT, which says why).
# Shares are ratios, rounded by nature: to 28 digits, as they always were.
SHARES = Context(prec=28, rounding=ROUND_HALF_EVEN)


@dataclass(slots=True)
class Item:
    """An item as the batch sees it so far."""

    gid: str
    kind: str
    part: str | None
    unit: str | None
    qty: Decimal | None
    consumed: Decimal
    status: str | None  # as the store held it before the batch (see `_statuses_at`)
    created_by: str | None
    created_at: str | None  # when it came to be (UTC text); None for context nodes

    @property
    def available(self) -> Decimal:
        return (self.qty or ZERO) - self.consumed

    @classmethod
    def of(cls, state: ItemState) -> Item:
        return cls(
            state.gid,
            state.kind,
            state.part,
            state.unit,
            state.qty,
            state.consumed,
            state.status,
            state.created_by,
            state.created_at,
        )


@dataclass(slots=True)
class Effects:
    """What an event did, logged with it so a void can undo exactly that."""

    creates: list[str] = field(default_factory=list)
    consumes: dict[str, Decimal] = field(default_factory=dict)
    # -- carts: stays opened and closed, as [lot, cart, compartment, qty]
    loads: list[list[str | None]] = field(default_factory=list)
    unloads: list[list[str | None]] = field(default_factory=list)
    # -- marks: the scheme a mark was read by and its index there, as [scheme, index]; [] when
    # no scheme read it; None for other events (and marks logged before this was kept)
    mark: list[str] | None = None

    def to_json(self) -> str:
        consumes = {key: format(value, "f") for key, value in self.consumes.items()}
        body: dict[str, object] = {"creates": self.creates, "consumes": consumes}
        if self.loads:
            body["loads"] = self.loads
        if self.unloads:
            body["unloads"] = self.unloads
        if self.mark is not None:
            body["mark"] = self.mark
        # orjson: one effects row per event, and the standard encoder took about 3 us for one.
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()

    @classmethod
    def from_json(cls, text: str) -> Effects:
        raw = json.loads(text)
        consumes = {key: Decimal(value) for key, value in raw.get("consumes", {}).items()}
        return cls(
            list(raw.get("creates", [])),
            consumes,
            list(raw.get("loads", [])),
            list(raw.get("unloads", [])),
            raw.get("mark"),
        )


class _CartRule(NamedTuple):
    """A cart rule a placement breaks: the field, code and message of its refusal, and the lots
    whose quantities the message counts and the cart it names when that may be another site's
    (said without them to a caller who may not read them)."""

    field: str
    code: str
    message: str
    names: tuple[str, ...] = ()


class _Step:
    """Bookkeeping for the event being planned: its problems and its effects."""

    __slots__ = ("at", "effects", "event", "event_id", "index", "problems", "site")

    def __init__(self, index: int, event: Event) -> None:
        self.index = index
        self.event = event
        self.event_id = event.event_id
        self.at = utc_text(event.occurred_at)
        self.site = site_of(event)  # read once: every node the event creates carries it
        self.problems: list[Problem] = []
        self.effects = Effects()

    def fail(self, field_name: str, code: str, message: str, names: tuple[str, ...] = ()) -> None:
        self.problems.append(
            Problem(self.index, self.event.event_id, field_name, code, message, names)
        )


class Planner:
    """Validate events in order and collect the changes they make."""

    def __init__(
        self,
        tx: WriteTx,
        documents: Sequence[DocumentRow] = (),
        recorded: Mapping[str, Effects] | None = None,
        submission: Submission | None = None,
        scopes: Mapping[str, Scope] | None = None,
        hidden: Collection[str] = (),
        hidden_events: Collection[str] = (),
    ) -> None:
        self._tx = tx
        # The scopes of the cases' suspects that answers are checked against, traced before the
        # batch (ingest.answers), by the suspects as a case stores them.
        self._scopes = scopes or {}
        self._scoped: set[str] = set()  # cases the batch gives suspects: none traced for them
        # Whether an event planned so far ships or voids: the scopes traced before do not see it.
        self._shipped = False
        # Nodes and logged events the sender may not read (ingest.service.Unseen): named as
        # ones that do not exist, though their ids stay taken.
        self._hidden = frozenset(hidden)
        self._hidden_events = frozenset(hidden_events)
        self._submission = submission  # who sent the batch, and when: logged with each event
        # Replaying the log: what each event did when it was first applied. Where an event left
        # an amount to the state of the moment (all a lot holds, carts a used-up lot leaves), the
        # replay does what was done then, not what the state says now: a void since may have
        # changed that state (voids of what such an amount followed from are refused now, but a
        # log may hold earlier ones), and the rebuilt graph must be the live one.
        self._recorded = recorded or {}
        # Rules added since an event was logged are not applied to it again: the log holds
        # what was valid when it was written.
        self._replaying = recorded is not None
        # Documents sent with the batch, kept only if an event of it attaches them, and those
        # attached so far: they stay sent, for a later event of the batch to attach too.
        self._offered = {document.sha256: document for document in documents}
        self._kept: set[str] = set()
        self._items: dict[str, Item | None] = {}
        self._open_carts: dict[str, set[str]] = {}
        self._carts: dict[str, _Cart] = {}  # -- carts: what each cart holds, as planned so far
        # -- carts: stays that have ended, per cart and per lot: those the store holds (read when
        # a check needs them) and those this batch closed
        self._ended: dict[str, list[CartStay]] = {}
        self._ended_here: dict[str, list[CartStay]] = {}
        # The latest end among each cart's or lot's ended stays (never lowered: a bound), so a
        # stay from a time past it is known to overlap none without a scan of them all.
        self._latest_end: dict[str, str] = {}
        self._rejected_creations: dict[str, int] = {}
        # Which events of this batch touched each item: only a void reads it, so it is kept only
        # for batches that hold one.
        self._touched_by: dict[str, set[str]] = {}
        # Which events of this batch closed each (lot, cart) stay, kept with `_touched_by`.
        self._closed_by: dict[tuple[str, str], set[str]] = {}
        # Which event of this batch used each lot up and took it out of its carts, kept with it.
        self._used_up_by: dict[str, str] = {}
        self._tracking = False
        # The site of each event of this batch, kept with `_touched_by`: a cart a load made is
        # its site's (see `_cart_site_dependents`).
        self._batch_sites: dict[str, str | None] = {}
        # Carts a void of this batch left linked to no event, with the voided event and the
        # cart's site: the store drops them after the batch (see `_place`).
        self._unmade: dict[str, tuple[str, str | None]] = {}
        self._batch_ids: set[str] = set()
        self._batch: Sequence[tuple[int, Event, tuple[str, str] | None]] = ()
        self._made_by: dict[str, list[int]] | None = None  # see `_creators`
        self._voided: set[str] = set()
        # Context nodes the events voided in this batch brought in, with each void, the event
        # it voids and, for a receipt's company, its supplier lot; and this batch's links to
        # context nodes so far, indexed up to `_links_read` of its edges (see `_batch_links`):
        # read only by voids and by recall events after one.
        self._void_context: dict[str, list[tuple[str, str, str | None]]] = {}
        self._links_here: dict[str, list[tuple[int, str, str]]] = {}
        self._links_read = 0
        self.changes = Changes()
        self.problems: list[Problem] = []
        self._props: dict[str, dict[str, str]] = {}  # properties of cases and notices, as changed
        self._told: dict[str, set[str]] = {}  # customers each case sent a notice to, so far
        self._marks: _MarkBook | None = None  # secondary marks: loaded at the first mark event
        self._gtins: dict[str, str] = {}  # -- part registry: GTIN -> part gid, as planned so far

    # -- public -------------------------------------------------------------------------------

    def plan(self, events: Sequence[tuple[int, Event, tuple[str, str] | None]]) -> Changes:
        """Plan every event; afterwards `problems` lists what was wrong (empty when all is well).

        Each event comes with its index in the batch and, when it is to be logged, its stored
        payload and digest.
        """
        with localcontext(EXACT):
            return self._plan(events)

    def _plan(self, events: Sequence[tuple[int, Event, tuple[str, str] | None]]) -> Changes:
        self._preload(event for _, event, _ in events)
        self._batch_ids = {event.event_id for _, event, _ in events}
        self._batch = events  # read only to explain a refusal (`_creators`)
        self._tracking = any(type(event) is Void for _, event, _ in events)
        if self._tracking:
            self._batch_sites = {event.event_id: event.site for _, event, _ in events}
        by, at = self._submission or (None, None)
        for index, event, logged in events:
            step = _Step(index, event)
            self._plan_one(step)
            if step.problems:
                self.problems.extend(step.problems)
                for created in _creations(event):
                    self._rejected_creations.setdefault(created, index)
                continue
            if logged is not None:
                payload, digest = logged
                self.changes.events.append(
                    EventRow(
                        event_id=event.event_id,
                        type=event.type,
                        at=step.at,
                        payload=payload,
                        digest=digest,
                        voids=event.voids if type(event) is Void else None,
                        effects=step.effects.to_json(),
                        recorded_by=by,
                        recorded_at=at,
                    )
                )
        return self.changes

    # -- state ----------------------------------------------------------------------------------

    def _preload(self, events: Iterable[Event]) -> None:
        wanted: set[str] = set()
        cart_lots: set[str] = set()
        named_carts: set[str] = set()
        histories: set[str] = set()  # -- carts: whose ended stays the checks of a new event read
        marks: list[str] = []
        marked: list[str] = []
        for event in events:
            wanted.update(referenced(event))
            wanted.update(_creations(event))
            if type(event) is CartLoad or type(event) is CartUnload:
                cart_lots.add(gid("lot", event.lot))
                named_carts.add(gid("cart", event.cart))
                if type(event) is CartLoad:
                    histories.update((gid("lot", event.lot), gid("cart", event.cart)))
            elif type(event) is Split or type(event) is Merge or type(event) is Mix:
                # -- carts: sources may leave carts
                sources = _sources(event)
                landings = [cart for _, cart in landing_carts(event)]
                cart_lots.update(sources)
                named_carts.update(landings)
                histories.update(sources, landings)
            elif type(event) is Mark:
                marks.append(gid("mark", event.code))
                marked.append(event.target.gid)
        self._load(wanted)
        if marks:  # one read for the whole batch, not one per mark event
            self._marks = _MarkBook(self._tx)
            self._marks.prefetch(marks, marked)
        if cart_lots:
            for lot, carts in self._tx.open_carts(sorted(cart_lots)).items():
                self._open_carts[lot] = set(carts)
                named_carts.update(carts)
            for lot in cart_lots:
                self._open_carts.setdefault(lot, set())
        if named_carts:
            self._prefetch_carts(named_carts)
        if histories and not self._replaying:  # one read for the batch, not one per event
            self._read_ended(histories)

    def _prefetch_carts(self, carts: Iterable[str]) -> None:
        """Read the settings and contents of every cart a batch names in two calls, not two each."""
        wanted = sorted(cart for cart in carts if cart not in self._carts)
        props = self._tx.node_props(wanted)
        stays: dict[str, list[CartStay]] = {}
        for stay in self._tx.open_stays(wanted):
            stays.setdefault(stay.cart, []).append(stay)
        for cart in wanted:
            self._carts[cart] = _Cart.of(cart, props.get(cart, {}), stays.get(cart, []))

    def _load(self, gids: Iterable[str]) -> None:
        missing = sorted(g for g in gids if g not in self._items)
        if not missing:
            return
        found = self._tx.items(missing)
        for item_gid in missing:
            state = found.get(item_gid)
            self._items[item_gid] = Item.of(state) if state else None

    def _get(self, item_gid: str) -> Item | None:
        if item_gid not in self._items:
            self._load([item_gid])
        return self._items[item_gid]

    def _exists(self, item_gid: str) -> bool:
        return self._get(item_gid) is not None

    def _touch(self, step: _Step, *gids: str) -> None:
        if self._tracking:
            for item_gid in gids:
                self._touched_by.setdefault(item_gid, set()).add(step.event.event_id)

    def _require(self, step: _Step, field_name: str, item_gid: str, kind: str) -> Item | None:
        """Return the live item, or record why it cannot be used."""
        item = None if item_gid in self._hidden else self._get(item_gid)
        if item is None or item.kind != kind:
            rejected = self._rejected_creations.get(item_gid)
            if rejected is not None:
                why = f" (event {rejected} of this batch, which creates it, is rejected)"
            elif (
                later := next((i for i in self._creators(item_gid) if i > step.index), None)
            ) is not None:
                why = (
                    f" yet: event {later} of this batch creates it, after this one (an event "
                    "uses what events before it in its batch made)"
                )
            else:
                why = ""
            step.fail(field_name, "unknown_item", f"{describe(item_gid)} does not exist{why}")
            return None
        if self._too_early(step, field_name, item):
            return None
        if self._tracking:
            self._touch(step, item_gid)
        return item

    def _creators(self, item_gid: str) -> list[int]:
        """The indices of the batch's events that create an item, in order; read once, at the
        first refusal that needs them."""
        if self._made_by is None:
            self._made_by = {}
            for index, event, _ in self._batch:
                for made in _creations(event):
                    self._made_by.setdefault(made, []).append(index)
        return self._made_by.get(item_gid, [])

    def _too_early(self, step: _Step, field_name: str, item: Item) -> bool:
        """Refuse a new event dated before an item it uses came to be: the graph as of any
        time would show the item used before it existed. (Logs of earlier versions may hold
        such events: they replay.)"""
        created = item.created_at
        if created is None or step.at >= created or self._replaying:
            return False
        step.fail(
            field_name,
            "time_order",
            f"{describe(item.gid)} came to be at {created}, after this event's time {step.at}",
        )
        return True

    def _require_new(self, step: _Step, field_name: str, item_gid: str) -> bool:
        if self._exists(item_gid):
            step.fail(field_name, "exists", f"{describe(item_gid)} already exists")
            return False
        return True

    def _create(self, step: _Step, node: NodeRow) -> None:
        node_gid = node.gid
        self._items[node_gid] = Item(
            node_gid,
            node.kind,
            node.part,
            node.unit,
            node.qty,
            ZERO,
            None,
            node.created_by,
            node.created_at,
        )
        self.changes.nodes.append(node)
        step.effects.creates.append(node_gid)
        if self._tracking:
            self._touch(step, node_gid)

    def _ensure_context(self, node: NodeRow) -> None:
        """Create a shared context node (company, equipment, ...) on first mention."""
        if not self._exists(node.gid):
            self._items[node.gid] = Item(
                node.gid, node.kind, node.part, node.unit, None, ZERO, None, None, None
            )
            self.changes.nodes.append(node)

    def _ensure_equipment(self, name: str) -> str:
        """Return the equipment's gid, creating its node on first mention."""
        equipment = gid("equipment", name)
        if self._items.get(equipment) is None:  # the row is built only when it is missing
            self._ensure_context(NodeRow(equipment, "equipment", props={"equipment": name}))
        return equipment

    def _consume(self, step: _Step, item: Item, qty: Decimal) -> None:
        consumed = item.consumed = item.consumed + qty
        self.changes.consumed[item.gid] = consumed
        consumes = step.effects.consumes
        consumes[item.gid] = consumes.get(item.gid, ZERO) + qty

    def _check_take(self, step: _Step, field_name: str, item: Item, qty: Decimal) -> bool:
        # Replaying, what a logged event took was checked when it was logged: earlier versions
        # summed in 28 digits, and an event they let through by rounding must still replay.
        if qty > item.available and not self._replaying:
            step.fail(
                field_name,
                "over_consumption",
                f"takes {format(qty, 'f')} from {describe(item.gid)}, which holds only "
                f"{format(item.available, 'f')} {item.unit or ''}".rstrip(),
            )
            return False
        return True

    def _check_unit(self, step: _Step, field_name: str, item: Item, unit: str | None) -> bool:
        """A quantity given in a stated unit must be in the unit the lot is counted in.

        Most quantities state none: callers test for that first, on the hot path.
        """
        if unit is None or unit == item.unit:
            return True
        step.fail(
            field_name,
            "unit_mismatch",
            f'{describe(item.gid)} is counted in "{item.unit}", not "{unit}"',
        )
        return False

    def _node(
        self,
        step: _Step,
        kind: str,
        key: str,
        *,
        part: str | None = None,
        unit: str | None = None,
        qty: Decimal | None = None,
        props: dict[str, str] | None = None,
    ) -> NodeRow:
        """Describe a node this event creates, keyed as DESIGN names it (Lot: lot)."""
        node_props = {kind: key, **step.site}
        if props:
            node_props.update(props)
        return NodeRow(gid(kind, key), kind, part, unit, qty, step.event_id, step.at, node_props)

    def _edge(
        self,
        step: _Step,
        src: str,
        dst: str,
        kind: str,
        *,
        at: str | None = None,
        qty: Decimal | None = None,
        share: float | None = None,
        part: str | None = None,
        until: str | None = None,
        compartment: str | None = None,
    ) -> None:
        self.changes.edges.append(
            EdgeRow(
                src, dst, kind, at or step.at, step.event_id, qty, share, part, until, compartment
            )
        )

    # -- dispatch -------------------------------------------------------------------------------

    def _plan_one(self, step: _Step) -> None:
        _HANDLERS[step.event.type](self, step, step.event)

    # -- event types ----------------------------------------------------------------------------

    def _receive(self, step: _Step, event: Receive) -> None:
        lot_gid = gid("lot", event.lot)
        if not self._require_new(step, "lot", lot_gid):
            return
        source = supplier_lot_gid(event.supplier, event.supplier_lot)
        company = gid("company", event.supplier)
        if not self._exists(source):
            props = {"supplier": event.supplier, "supplier_lot": event.supplier_lot}
            self._ensure_context(
                NodeRow(source, "supplier_lot", part=event.part, unit=event.unit, props=props)
            )
            self._ensure_context(NodeRow(company, "company", props={"company": event.supplier}))
            self._edge(step, source, company, "FROM")
        elif (known := self._get(source)) is not None:
            if self._voided and self._unreceived_here(step, event, source, known):
                return
            if known.part not in (None, event.part):
                step.fail(
                    "part",
                    "part_mismatch",
                    f"{describe(source)} was received before as part "
                    f'"{known.part}", not "{event.part}"',
                    names=(source,),
                )
                return
            # Deliveries of one supplier lot are counted in one unit, so what it sent adds up
            # (one received before it kept its unit has none to compare with). Logs written
            # before this rule still replay.
            if known.unit not in (None, event.unit) and not self._replaying:
                step.fail(
                    "unit",
                    "unit_mismatch",
                    f'{describe(source)} was received before in "{known.unit}", not "{event.unit}"',
                    names=(source,),
                )
                return
        self._touch(step, source)
        node = self._node(
            step,
            "lot",
            event.lot,
            part=event.part,
            unit=event.unit,
            qty=event.qty,
            props={"supplier": event.supplier, "supplier_lot": event.supplier_lot}
            | dates_of(event),
        )
        self._create(step, node)
        self._edge(step, source, lot_gid, "RECEIVED_AS", qty=event.qty, share=1.0, part=event.part)

    def _unreceived_here(self, step: _Step, event: Receive, source: str, known: Item) -> bool:
        """Refuse a receipt of another part or unit than a supplier lot's when every receipt of
        it is voided earlier in this batch: the node keeps what it was received as until the
        end of the batch, while a replay of the log, which skips the voided receipts, makes it
        anew from this one. Sent in a later batch, it is received afresh."""
        if known.part in (None, event.part) and known.unit in (None, event.unit):
            return False
        if self._touched_by.get(source):
            return False  # an event of this batch uses it: it is compared as it stands
        links = self._tx.links_by_others([source], "")
        receipts = {event_id for _, kind, event_id in links if kind == "RECEIVED_AS"}
        if not receipts or not receipts <= self._voided:
            return False
        what = "part" if known.part not in (None, event.part) else "unit"
        step.fail(
            what,
            "void_same_batch",
            f"{describe(source)} was received only by {_quoted(receipts)}, which this batch "
            f"voids: it keeps the {what} it was received as until the end of the batch; send "
            "this receipt in a later batch",
            names=tuple(sorted(receipts)),
        )
        return True

    def _split(self, step: _Step, event: Split) -> None:
        parent = self._require(step, "lot", gid("lot", event.lot), "lot")
        children = [gid("lot", child.lot) for child in event.into]
        if gid("lot", event.lot) in children:
            step.fail(
                "into", "cycle", f"{describe(gid('lot', event.lot))} cannot be split into itself"
            )
            return
        fresh = self._distinct_new(step, children, lambda i: f"into[{i}].lot")
        if parent is None or not fresh:
            return
        stated = [
            self._check_unit(step, f"into[{i}].unit", parent, child.unit)
            for i, child in enumerate(event.into)
            if child.unit is not None
        ]
        total = sum((child.qty for child in event.into), ZERO)
        if not all(stated) or not self._check_take(step, "into", parent, total):
            return
        self._consume(step, parent, total)
        for child, child_gid in zip(event.into, children, strict=True):
            node = self._node(
                step, "lot", child.lot, part=parent.part, unit=parent.unit, qty=child.qty
            )
            self._create(step, node)
            self._edge(
                step,
                parent.gid,
                child_gid,
                "SPLIT_INTO",
                qty=child.qty,
                share=1.0,
                part=parent.part,
            )
        # -- carts: a used-up parent leaves its carts; a child may land in a cart of its own
        self._leave_carts_if_used_up(step, parent)
        for i, child in enumerate(event.into):
            if child.cart is not None:
                self._place(
                    step,
                    f"into[{i}]",
                    gid("lot", child.lot),
                    gid("cart", child.cart),
                    child.compartment,
                    child.qty,
                )

    def _combine(self, step: _Step, event: Merge | Mix) -> None:
        verb = "merged" if type(event) is Merge else "mixed"
        into_gid = gid("lot", event.into.lot)
        sources: list[Item] = []
        seen: set[str] = set()
        for i, source in enumerate(event.from_):
            source_gid = gid("lot", source.lot)
            if source_gid == into_gid:
                step.fail(
                    f"from[{i}].lot", "cycle", f"{describe(into_gid)} cannot be {verb} into itself"
                )
                return
            if source_gid in seen:
                step.fail(
                    f"from[{i}].lot",
                    "duplicate_reference",
                    f"{describe(source_gid)} is listed twice",
                )
                continue
            seen.add(source_gid)
            item = self._require(step, f"from[{i}].lot", source_gid, "lot")
            if item is None or not self._check_take(step, f"from[{i}].lot", item, source.qty):
                continue
            if source.unit is not None and not self._check_unit(
                step, f"from[{i}].unit", item, source.unit
            ):
                continue
            sources.append(item)
        self._require_new(step, "into.lot", into_gid)
        if step.problems:
            return
        first = sources[0]
        for i, item in enumerate(sources[1:], start=1):
            if type(event) is Merge and item.part != first.part:
                step.fail(
                    f"from[{i}].lot",
                    "part_mismatch",
                    f'a merge combines one part: {describe(item.gid)} is "{item.part}", '
                    f'{describe(first.gid)} is "{first.part}" (use mix for different parts)',
                )
            if item.unit != first.unit:
                step.fail(
                    f"from[{i}].lot",
                    "unit_mismatch",
                    f'{describe(item.gid)} is counted in "{item.unit}", '
                    f'{describe(first.gid)} in "{first.unit}"',
                )
        if step.problems:
            return
        total = sum((source.qty for source in event.from_), ZERO)
        part = event.into.part if type(event) is Mix else first.part
        self._create(
            step, self._node(step, "lot", event.into.lot, part=part, unit=first.unit, qty=total)
        )
        kind = "MERGED_INTO" if type(event) is Merge else "MIXED_INTO"
        for source, item in zip(event.from_, sources, strict=True):
            self._consume(step, item, source.qty)
            share = _share(source.qty, total)
            self._edge(step, item.gid, into_gid, kind, qty=source.qty, share=share, part=item.part)
        # -- carts: used-up sources leave their carts; the new lot lands in the cart given
        for item in sources:
            self._leave_carts_if_used_up(step, item)
        if event.into.cart is not None:
            cart = gid("cart", event.into.cart)
            self._place(step, "into", into_gid, cart, event.into.compartment, total)

    def _distinct_new(self, step: _Step, gids: list[str], field_of: Callable[[int], str]) -> bool:
        """Check that new items are named once each and do not exist yet.

        `field_of` names the field of the i-th item; it is called only for a problem.
        """
        ok = True
        seen: set[str] = set()
        for i, item_gid in enumerate(gids):
            if item_gid in seen:
                step.fail(
                    field_of(i), "duplicate_reference", f"{describe(item_gid)} is listed twice"
                )
                ok = False
                continue
            seen.add(item_gid)
            if self._exists(item_gid):
                step.fail(field_of(i), "exists", f"{describe(item_gid)} already exists")
                ok = False
        return ok

    def _process(self, step: _Step, event: Process) -> None:
        step_gid = gid("step", event.step)
        self._require_new(step, "step", step_gid)
        output_gids = [output.gid for output in event.outputs]
        outputs = set(output_gids)
        takes: list[tuple[Item, Decimal]] = []
        seen: set[str] = set()
        items, tracking, hidden = self._items, self._tracking, self._hidden
        for i, source in enumerate(event.inputs):
            source_gid = source.gid
            kind = "lot" if source.lot is not None else "serial"
            item = items.get(source_gid)
            # An assembly names many inputs, nearly always known items named once: those are
            # checked inline here, anything else goes through the checks that name the problem.
            if (
                item is None
                or item.kind != kind
                or tracking
                or source_gid in outputs
                or source_gid in seen
                or source_gid in hidden  # told as missing, by _require
                or (item.created_at or "") > step.at
            ):
                item = self._process_input(step, i, source_gid, kind, outputs, seen)
                if item is None:
                    continue
            seen.add(source_gid)
            if source.unit is not None and not self._check_unit(
                step, f"inputs[{i}].unit", item, source.unit
            ):
                continue
            available = item.available
            qty = source.qty
            if qty is None:
                qty = self._all_of(step, item) if self._recorded else available
            if ZERO < qty <= available:
                takes.append((item, qty))
            elif qty <= ZERO:
                step.fail(
                    f"inputs[{i}].{kind}", "over_consumption", f"{describe(item.gid)} is used up"
                )
            elif self._check_take(step, f"inputs[{i}].{kind}", item, qty):
                takes.append((item, qty))
        if not self._replaying:  # logs written before this rule still replay
            self._check_part_units(step, event, takes)
        outputs_of = event.outputs
        self._distinct_new(
            step,
            output_gids,
            lambda i: f"outputs[{i}].{'lot' if outputs_of[i].lot is not None else 'serial'}",
        )
        started = utc_text(event.started_at) if event.started_at else step.at
        finished = utc_text(event.finished_at) if event.finished_at else step.at
        if finished < started and not self._replaying:  # logs of earlier versions replay
            self._check_step_times(step, event)
        if step.problems:
            return
        props = {"operation": event.operation, "started_at": started, "finished_at": finished}
        for name in ("equipment", "operator", "work_order"):
            value = getattr(event, name)
            if value is not None:
                props[name] = value
        if event.params:
            props["params"] = json.dumps(event.params, sort_keys=True)
        self._create(step, self._node(step, "step", event.step, props=props))
        at, event_id, edges = step.at, step.event_id, self.changes.edges
        if event.equipment is not None:
            equipment = self._ensure_equipment(event.equipment)
            edges.append(EdgeRow(step_gid, equipment, "ON", started, event_id, until=finished))
        # A lot's share is its weight among the lots of its part; a consumed serial is an
        # identified unit, a component of its own (graph.exposure), so it is left out of that
        # mean and weighs 1.
        groups = [
            (item, qty, item.gid if item.kind == "serial" else item.part) for item, qty in takes
        ]
        group_totals: dict[str | None, Decimal] = {}
        for _, qty, group in groups:
            group_totals[group] = group_totals.get(group, ZERO) + qty
        for item, qty, group in groups:
            self._consume(step, item, qty)
            share = _share(qty, group_totals[group])
            edges.append(
                EdgeRow(item.gid, step_gid, "CONSUMED_BY", at, event_id, qty, share, item.part)
            )
        for output, output_gid in zip(event.outputs, output_gids, strict=True):
            kind, key = output_gid.split(":", 1)
            made = output.qty or ONE  # the contract requires qty on lots; a serial is one unit
            # This default, and a step's times and params above, are mirrored where resends are
            # compared (ingest.canonical._with_defaults).
            node = self._node(
                step,
                kind,
                key,
                part=output.part,
                unit=output.unit or COUNT,
                qty=made,
                props=dates_of(output),
            )
            self._create(step, node)
            edges.append(
                EdgeRow(step_gid, output_gid, "PRODUCED", at, event_id, made, 1.0, output.part)
            )

    def _check_part_units(
        self, step: _Step, event: Process, takes: list[tuple[Item, Decimal]]
    ) -> None:
        """A step's lots of one part are weighed against each other (their shares), so they are
        counted in one unit, as merged lots are: 1000 g is not a thousand times 1 kg."""
        first_of: dict[str | None, Item] = {}
        for item, _ in takes:
            if item.kind != "lot":
                continue
            first = first_of.setdefault(item.part, item)
            if item.unit != first.unit:
                i = next(i for i, source in enumerate(event.inputs) if source.gid == item.gid)
                step.fail(
                    f"inputs[{i}].lot",
                    "unit_mismatch",
                    f'{describe(item.gid)} is counted in "{item.unit}", '
                    f'{describe(first.gid)} in "{first.unit}"',
                )

    @staticmethod
    def _check_step_times(step: _Step, event: Process) -> None:
        """Refuse a step that finishes before it starts through the time it leaves out (the
        contract compares two given ones): it would fall out of every equipment window."""
        occurred = event.occurred_at.isoformat()
        if event.started_at is not None:
            step.fail(
                "started_at",
                "time_order",
                f"the step starts at {event.started_at.isoformat()}, after it finishes "
                f"(finished_at is left out: occurred_at, {occurred})",
            )
        elif event.finished_at is not None:
            step.fail(
                "finished_at",
                "time_order",
                f"the step finishes at {event.finished_at.isoformat()}, before it starts "
                f"(started_at is left out: occurred_at, {occurred})",
            )

    def _process_input(
        self, step: _Step, i: int, source_gid: str, kind: str, outputs: set[str], seen: set[str]
    ) -> Item | None:
        """Return a process input's live item, or record why it cannot be used."""
        field_name = f"inputs[{i}].{kind}"
        if source_gid in outputs:
            step.fail(field_name, "cycle", f"{describe(source_gid)} is both an input and an output")
            return None
        if source_gid in seen:
            step.fail(field_name, "duplicate_reference", f"{describe(source_gid)} is listed twice")
            return None
        seen.add(source_gid)
        return self._require(step, field_name, source_gid, kind)

    def _serialize(self, step: _Step, event: Serialize) -> None:
        lot = self._require(step, "lot", gid("lot", event.lot), "lot")
        serials = [gid("serial", serial) for serial in event.serials]
        fresh = self._distinct_new(step, serials, lambda i: f"serials[{i}]")
        if lot is None or not fresh:
            return
        if not self._check_take(step, "serials", lot, Decimal(len(serials))):
            return
        self._consume(step, lot, Decimal(len(serials)))
        # A serialize event makes hundreds of serials alike but for their key: what they share
        # is read once, and each row is built directly.
        part, lot_gid, at, event_id = lot.part, lot.gid, step.at, step.event_id
        shared = {**step.site, **dates_of(event)}
        edges = self.changes.edges
        for serial, serial_gid in zip(event.serials, serials, strict=True):
            props = {"serial": serial, **shared}
            self._create(step, NodeRow(serial_gid, "serial", part, "ea", ONE, event_id, at, props))
            edges.append(
                EdgeRow(lot_gid, serial_gid, "SERIALIZED_AS", at, event_id, ONE, 1.0, part)
            )

    def _ship(self, step: _Step, event: Ship) -> None:
        self._shipped = True
        shipment_gid = gid("shipment", event.shipment)
        self._require_new(step, "shipment", shipment_gid)
        takes: list[tuple[Item, Decimal]] = []
        seen: set[str] = set()
        for i, entry in enumerate(event.items):
            field_name = item_field(f"items[{i}]", entry)
            if entry.gid in seen:
                step.fail(
                    field_name, "duplicate_reference", f"{describe(entry.gid)} is listed twice"
                )
                continue
            seen.add(entry.gid)
            kind = "lot" if entry.lot is not None else "serial"
            item = self._require(step, field_name, entry.gid, kind)
            qty = entry.qty if entry.qty is not None else ONE
            if (
                item is not None
                and (
                    entry.unit is None
                    or self._check_unit(step, f"items[{i}].unit", item, entry.unit)
                )
                and self._check_take(step, field_name, item, qty)
            ):
                takes.append((item, qty))
        if step.problems:
            return
        company = gid("company", event.customer)
        self._ensure_context(NodeRow(company, "company", props={"company": event.customer}))
        # Quantities are added up per unit: kilograms and pieces make no total. The shipment
        # has a quantity (and unit) only when what it holds is counted in one unit.
        totals: dict[str | None, Decimal] = {}
        for item, qty in takes:
            totals[item.unit] = totals.get(item.unit, ZERO) + qty
        (unit, total) = next(iter(totals.items())) if len(totals) == 1 else (None, None)
        node = self._node(
            step,
            "shipment",
            event.shipment,
            unit=unit,
            qty=total,
            props={"customer": event.customer},
        )
        self._create(step, node)
        for item, qty in takes:
            self._consume(step, item, qty)
            self._edge(
                step,
                item.gid,
                shipment_gid,
                "SHIPPED_IN",
                qty=qty,
                share=_share(qty, totals[item.unit]),
                part=item.part,
            )
        self._edge(step, shipment_gid, company, "SHIPPED_TO", qty=total, share=1.0)
        self._touch(step, company)

    def _target(self, step: _Step, target: ItemRef) -> Item | None:
        kind = "lot" if target.lot is not None else "serial"
        return self._require(step, item_field("target", target), target.gid, kind)

    def _status(self, step: _Step, event: SetStatus) -> None:
        item = self._target(step, event.target)
        if item is None:
            return
        self.changes.statuses.append(
            StatusRow(item.gid, event.status.value, event.reason, step.at, event.event_id)
        )

    # -- carts -------------------------------------------------------------------------------

    def _cart_define(self, step: _Step, event: CartDefine) -> None:
        cart = gid("cart", event.cart)
        if (unmade := self._unmade.get(cart)) is not None and not self._replaying:
            # The store drops the cart only after the batch; a replay of the log, which skips
            # the voided event, finds no cart here and would define it.
            step.fail(
                "cart",
                "void_same_batch",
                f'{describe(cart)} was made by event "{unmade[0]}", which this batch voids: '
                "it is dropped at the end of the batch; send the definition in a later batch",
            )
            return
        if self._exists(cart):
            step.fail(
                "cart",
                "exists",
                f"{describe(cart)} is already defined or in use: define a cart before it is used",
            )
            return
        props: dict[str, str] = {}
        if event.group is not None:
            props["group"] = event.group
        if event.seq is not None:
            props["seq"] = str(event.seq)
        if event.compartments is not None:
            props["compartments"] = json.dumps(event.compartments)
        if event.capacity is not None:
            props["capacity"] = format(event.capacity, "f")
        self._create(step, self._node(step, "cart", event.cart, props=props))
        self._carts[cart] = _Cart.of(cart, props, [])

    def _cart(self, cart: str) -> _Cart:
        """Return a cart as the batch sees it, reading its settings and contents once."""
        known = self._carts.get(cart)
        if known is None:
            props = self._tx.node_props([cart]).get(cart, {})
            known = self._carts[cart] = _Cart.of(cart, props, self._tx.open_stays([cart]))
        return known

    def _hidden_cart(
        self, step: _Step, field_name: str, cart: str, unloaded: str | None = None
    ) -> bool:
        """Refuse a cart the sender may not read as the batch's rules refuse one that does not
        exist: a lot is `unloaded` from it as from a cart it is not in; a load into it, which
        would make a cart that does not exist, finds its id taken, as a definition does."""
        if cart not in self._hidden:
            return False
        if unloaded is not None:
            step.fail(field_name, "not_in_cart", f"{describe(unloaded)} is not in {describe(cart)}")
        else:
            step.fail(field_name, "exists", f"{describe(cart)} is already defined or in use")
        return True

    def _lot_carts(self, lot: str) -> set[str]:
        carts = self._open_carts.get(lot)
        if carts is None:
            carts = self._open_carts[lot] = set(self._tx.open_carts([lot]).get(lot, []))
        return carts

    def _place(
        self,
        step: _Step,
        prefix: str,
        lot: str,
        cart: str,
        compartment: str | None,
        qty: Decimal | None,
    ) -> None:
        """Put a lot into a cart (or one of its compartments), or record which rule forbids it."""
        where = f"{prefix}." if prefix else ""
        if self._hidden_cart(step, where + "cart", cart):
            return
        if (unmade := self._unmade.get(cart)) is not None and not self._replaying:
            made_by, site = unmade
            if step.site.get("site") != site:
                # The store keeps the cart as it was made, but a replay of the log, which skips
                # the voided event, makes it with this event's site.
                step.fail(
                    where + "cart",
                    "void_same_batch",
                    f'{describe(cart)} was made by event "{made_by}", which this batch voids: '
                    "a load of another site makes it afresh as that site's; send this event in "
                    "a later batch",
                )
                return
        problem = self._placement_problem(lot, cart, compartment, qty)
        if problem is None and not self._replaying:
            # A new lot (a split's child, what a merge makes) has no stays of its own to read.
            problem = self._span_problem(lot, cart, compartment, qty, step.at, lot_stays=not prefix)
        if problem is not None:
            step.fail(where + problem.field, problem.code, problem.message, problem.names)
            return
        self._lot_carts(lot).add(cart)
        self._cart(cart).contents[lot] = (compartment, qty)
        self._cart(cart).loaded[lot] = (step.at, step.event.event_id)
        # A cart its first load creates is the load's site's, as what other events create is:
        # another site's operators neither read it nor load it.
        props = {"cart": cart.partition(":")[2], **step.site}
        self._ensure_context(NodeRow(cart, "cart", props=props))
        self._unmade.pop(cart, None)  # loaded for its site again: a replay makes it so too
        self._touch(step, cart)
        self._edge(step, lot, cart, "IN_CART", qty=qty, compartment=compartment)
        step.effects.loads.append([lot, cart, compartment, _text(qty)])

    def _placement_problem(
        self, lot: str, cart: str, compartment: str | None, qty: Decimal | None
    ) -> _CartRule | None:
        """Return the first cart rule a placement breaks, if any."""
        state = self._cart(cart)
        if cart in self._lot_carts(lot):
            return _CartRule(
                "cart", "already_in_cart", f"{describe(lot)} is already in {describe(cart)}"
            )
        if (
            compartment is not None
            and state.compartments is not None
            and compartment not in state.compartments
        ):
            names = ", ".join(state.compartments)
            return _CartRule(
                "compartment",
                "unknown_compartment",
                f'{describe(cart)} has no compartment "{compartment}" (it has {names})',
            )
        # Replaying, occupancy is not checked again: earlier versions let a void put a lot back
        # into a cart another lot had taken and left since, so its log holds a load into a cart
        # that the replay (which skips voided events) still sees taken; both stays stand as logged.
        for other, (taken, _) in () if self._replaying else sorted(state.contents.items()):
            if other != lot and (compartment is None or taken is None or taken == compartment):
                place = f'compartment "{taken}" of ' if taken is not None else ""
                hint = (
                    "load it into a free compartment"
                    if state.compartments is not None
                    else "unload it first"
                )
                return _CartRule(
                    "compartment" if compartment is not None else "cart",
                    "cart_occupied",
                    f"{place}{describe(cart)} holds {describe(other)}: one lot at a time; {hint}",
                )
        # Replaying, groups are not compared again: earlier versions took a group named like
        # an ungrouped cart's id for that cart's own group.
        for other_cart in sorted(self._lot_carts(lot)) if not self._replaying else ():
            group = self._cart(other_cart).group
            if group != state.group:
                return _CartRule(
                    "cart",
                    "cart_group_mismatch",
                    f"{describe(lot)} is in {describe(other_cart)}, not of the group of "
                    f"{describe(cart)}: a lot rides in one cart or in carts of one group at once",
                )
        # Replaying, a logged load was checked when it was logged (as in `_check_take`).
        if state.capacity is not None and not self._replaying:
            problem = self._unit_problem(lot, cart, [(other, "") for other in state.contents])
            if problem is not None:
                return problem
        if state.capacity is not None and qty is not None and not self._replaying:
            held = sum((q or ZERO for _, q in state.contents.values()), ZERO)
            if held + qty > state.capacity:
                return _CartRule(
                    "cart",
                    "over_capacity",
                    f"{describe(cart)} holds {format(held, 'f')} of its capacity "
                    f"{format(state.capacity, 'f')}: {format(qty, 'f')} more does not fit",
                    tuple(sorted(state.contents)),
                )
        return None

    def _unit_problem(
        self, lot: str, cart: str, others: Sequence[tuple[str, str]], tense: str = "holds"
    ) -> _CartRule | None:
        """Return the rule a lot breaks beside lots a cart with a capacity holds (or held, with
        when) if it is counted in another unit: the capacity is in the unit of the lots the
        cart carries, and kilograms and pieces make no total to weigh against it."""
        others = [(other, when) for other, when in others if other != lot]
        if not others:
            return None
        self._load([lot, *(other for other, _ in others)])
        mine = self._items[lot]
        unit = mine.unit if mine is not None else None
        for other, when in sorted(others):
            theirs = self._items[other]
            # A lot logged before lots kept a unit has none to compare with.
            if unit is None or theirs is None or theirs.unit in (None, unit):
                continue
            return _CartRule(
                "cart",
                "cart_unit_mismatch",
                f'{describe(cart)} {tense} {describe(other)}{when}, counted in "{theirs.unit}": '
                f'{describe(lot)} is counted in "{unit}", and a capacity is in the unit of the '
                "lots a cart carries",
                (other,),
            )
        return None

    def _take_out(self, step: _Step, lot: str, cart: str) -> None:
        """Close a lot's stay in a cart at this event."""
        state = self._cart(cart)
        compartment, qty = state.contents.pop(lot, (None, None))
        loaded, load_event = state.loaded.pop(lot, (None, None))
        event_id = step.event.event_id
        if loaded is not None and load_event is not None:
            stay = CartStay(lot, cart, compartment, qty, loaded, step.at, load_event, event_id)
            for key in (cart, lot):
                self._ended_here.setdefault(key, []).append(stay)
                self._ended_by(key, step.at)
        self._lot_carts(lot).discard(cart)
        self.changes.cart_closes.append(CartClose(lot, cart, step.at, event_id, load_event))
        step.effects.unloads.append([lot, cart, compartment, _text(qty)])
        if self._tracking:  # a void later in the batch may undo the load this closes
            self._closed_by.setdefault((lot, cart), set()).add(step.event.event_id)

    def _leave_carts_if_used_up(self, step: _Step, item: Item) -> None:
        recorded = self._recorded.get(step.event_id)
        if recorded is not None:
            left = {cart for lot, cart, _, _ in recorded.unloads if lot == item.gid}
            for cart in sorted(c for c in left & self._lot_carts(item.gid) if c is not None):
                self._take_out(step, item.gid, cart)
            return
        if item.available <= 0:
            if not self._replaying and self._in_a_cart_after(step, item.gid):
                return
            if self._tracking:  # a void later in the batch may put the lot back in a cart
                self._used_up_by[item.gid] = step.event_id
            for cart in sorted(self._lot_carts(item.gid)):
                self._take_out(step, item.gid, cart)

    def _in_a_cart_after(self, step: _Step, lot: str) -> bool:
        """Refuse using a lot up before a time it is recorded in a cart: the stay this event
        closes would end before it began, or one that ended later would outlast the lot."""
        self._read_ended([lot])
        for stay in self._ended_stays(lot):
            if stay.until is not None and stay.until > step.at:
                step.fail(
                    "occurred_at",
                    "time_order",
                    f"{describe(lot)} was in {describe(stay.cart)} until {stay.until}: it is "
                    "not used up before",
                    (stay.cart,),
                )
                return True
        for cart in sorted(self._lot_carts(lot)):
            loaded = self._cart(cart).loaded.get(lot, (None, None))[0]
            if loaded is not None and loaded > step.at:
                step.fail(
                    "occurred_at",
                    "time_order",
                    f"{describe(lot)} was loaded into {describe(cart)} at {loaded}: it is not "
                    "used up before",
                    (cart,),
                )
                return True
        return False

    def _all_of(self, step: _Step, item: Item) -> Decimal:
        """What "all the lot holds" took: all it holds now, or on replay what it took then."""
        recorded = self._recorded.get(step.event_id)
        if recorded is not None and item.gid in recorded.consumes:
            return recorded.consumes[item.gid]
        return item.available

    def _loaded(self, step: _Step, lot: Item, cart: str) -> Decimal:
        """What a load of "all the lot holds" put in: all it holds now, or on replay as then."""
        recorded = self._recorded.get(step.event_id)
        for loaded, into, _, qty in recorded.loads if recorded is not None else ():
            if loaded == lot.gid and into == cart and qty is not None:
                return Decimal(qty)
        return lot.available

    def _cart_load(self, step: _Step, event: CartLoad) -> None:
        lot = self._require(step, "lot", gid("lot", event.lot), "lot")
        if lot is None:
            return
        cart = gid("cart", event.cart)
        qty = event.qty if event.qty is not None else self._loaded(step, lot, cart)
        if not self._check_unit(step, "unit", lot, event.unit):
            return
        if event.qty is not None and not self._check_take(step, "qty", lot, event.qty):
            return
        if qty <= 0 and not self._replaying:  # "all the lot holds" of a lot used up
            step.fail(
                "lot",
                "over_consumption",
                f"{describe(lot.gid)} is used up: it holds nothing to load",
            )
            return
        self._place(step, "", lot.gid, cart, event.compartment, qty)

    def _cart_unload(self, step: _Step, event: CartUnload) -> None:
        lot = self._require(step, "lot", gid("lot", event.lot), "lot")
        cart = gid("cart", event.cart)
        if lot is None or self._hidden_cart(step, "cart", cart, lot.gid):
            return
        if cart not in self._lot_carts(lot.gid):
            step.fail("cart", "not_in_cart", f"{describe(lot.gid)} is not in {describe(cart)}")
            return
        loaded = self._cart(cart).loaded.get(lot.gid, (None, None))[0]
        if not self._replaying and loaded is not None and step.at < loaded:
            step.fail(
                "occurred_at",
                "time_order",
                f"{describe(lot.gid)} was loaded into {describe(cart)} at {loaded}: it is not "
                "unloaded before",
            )
            return
        taken = self._cart(cart).contents.get(lot.gid, (None, None))[0]
        if event.compartment is not None and taken != event.compartment and not self._replaying:
            where = f'is in compartment "{taken}"' if taken is not None else "takes the whole"
            step.fail(
                "compartment",
                "not_in_cart",
                f"{describe(lot.gid)} {where} of {describe(cart)}, not "
                f'compartment "{event.compartment}"',
            )
            return
        self._take_out(step, lot.gid, cart)

    def _ended_stays(self, gid_: str) -> list[CartStay]:
        """The stays of a cart or lot that have ended, as planned so far (see `_read_ended`)."""
        return [*self._ended.get(gid_, ()), *self._ended_here.get(gid_, ())]

    def _read_ended(self, gids: Iterable[str]) -> None:
        """Read the ended stays of carts and lots the batch has not read yet, in one call."""
        missing = sorted({g for g in gids if g not in self._ended})
        if not missing:
            return
        for g in missing:
            self._ended[g] = []
        for stay in self._tx.cart_stays(missing):
            if stay.until is None:
                continue
            for key in {stay.cart, stay.lot}.intersection(missing):
                self._ended[key].append(stay)
                self._ended_by(key, stay.until)

    def _ended_by(self, gid_: str, until: str) -> None:
        if until > self._latest_end.get(gid_, ""):
            self._latest_end[gid_] = until

    def _span_problem(
        self,
        lot: str,
        cart: str,
        compartment: str | None,
        qty: Decimal | None,
        start: str,
        *,
        lot_stays: bool = True,
        skip: CartStay | None = None,
    ) -> _CartRule | None:
        """Return the first cart rule a stay from `start` on breaks against stays that ended.

        A load reported late (or a stay a void reopens) holds the lot in the cart from `start`
        until an unload that has not come yet: every ended stay that ran past `start` overlaps
        it, whenever it began. (`_placement_problem` checks the stays open now.)
        """
        state = self._cart(cart)
        keys = [cart, lot] if lot_stays else [cart]
        self._read_ended(keys)
        if all(self._latest_end.get(key, "") <= start for key in keys):
            return None  # every ended stay ended by `start`: none overlaps it
        since = [s for s in self._ended_stays(cart) if s != skip and (s.until or "") > start]
        if lot_stays:
            for stay in self._ended_stays(lot):
                if stay == skip or (stay.until or "") <= start:
                    continue
                was = f"{describe(lot)} was in {describe(stay.cart)} from {stay.at} to {stay.until}"
                if stay.cart == cart:
                    return _CartRule(
                        "cart", "already_in_cart", f"{was}: a lot is loaded into a cart once"
                    )
                if self._cart(stay.cart).group != state.group:
                    return _CartRule(
                        "cart",
                        "cart_group_mismatch",
                        f"{was}, not of the group of {describe(cart)}: a lot rides in one cart "
                        "or in carts of one group at once",
                    )
        for stay in since:
            same_place = compartment is None or stay.compartment in (None, compartment)
            if stay.lot != lot and same_place:
                return _CartRule(
                    "compartment" if compartment is not None else "cart",
                    "cart_occupied",
                    f"{describe(cart)} held {describe(stay.lot)} from {stay.at} to {stay.until}: "
                    "one lot at a time",
                )
        if state.capacity is not None and since:
            held_then = [(s.lot, f" from {s.at} to {s.until}") for s in since]
            problem = self._unit_problem(lot, cart, held_then, "held")
            if problem is not None:
                return problem
        if state.capacity is None or qty is None or not since:
            return None
        # What the cart held at each moment from `start` on: it is greatest where a stay begins.
        spans = [(s.lot, s.at, s.until, s.qty or ZERO) for s in since if s.lot != lot]
        for other, (_, held) in state.contents.items():
            spans.append((other, state.loaded.get(other, ("", ""))[0], None, held or ZERO))
        for moment in sorted({start, *(at for _, at, _, _ in spans if at > start)}):
            there = [s for s in spans if s[1] <= moment and (s[2] is None or moment < s[2])]
            held = sum((q for _, _, _, q in there), ZERO)
            if held + qty > state.capacity:
                return _CartRule(
                    "cart",
                    "over_capacity",
                    f"{describe(cart)} held {format(held, 'f')} of its capacity "
                    f"{format(state.capacity, 'f')} at {moment}: {format(qty, 'f')} more does "
                    "not fit",
                    tuple(sorted({other for other, _, _, _ in there})),
                )
        return None

    def _recall_dependents(self, target_id: str, voided: Event) -> set[str]:
        """Recall events naming a supplier lot, company or equipment only `voided` brought in.

        Such a node is made on first mention and outlives the void, but a replay of the log
        without the voided event would not make it, and a recall event (never voided) naming it
        before another event brings it in would then name nothing: the void must wait, as for
        any event depending on it. The recall events of this batch count as logged after all
        others, so one sent with the void, before it, is found too.
        """
        context = [node for node in referenced(voided) if node.partition(":")[0] in INTRODUCERS]
        if not context:
            return set()
        stored = self._stored_links(context, target_id)
        here = self._batch_links()
        named = {node for node, kind, _ in stored if kind in RECALL_LINKS}
        named.update(
            node
            for node in context
            if any(kind in RECALL_LINKS for _, kind, _ in here.get(node, ()))
        )
        if not named:  # the common case: nothing needs the places of the links in the log
            return set()
        relinked = _relinked(voided)
        wanted = named | {relinked[node] for node in named if node in relinked}
        logged = self._tx.find_events(sorted({e for node, _, e in stored if node in wanted}))
        links: dict[str, list[tuple[tuple[int, int], str, str]]] = {}
        for node, kind, event in stored:
            if node in wanted and event in logged:
                links.setdefault(node, []).append(((0, logged[event].seq), kind, event))
        for node in wanted:  # this batch's links count after the logged ones, in its order
            links.setdefault(node, []).extend(((1, o), k, e) for o, k, e in here.get(node, ()))
        found: set[str] = set()
        for node in named:
            kinds = INTRODUCERS[node.partition(":")[0]]
            places = [at for at, kind, _ in links[node] if kind in kinds]
            if node in relinked:
                places += [at for at, kind, _ in links[relinked[node]] if kind == "RECEIVED_AS"]
            introduced = min(places, default=None)
            found.update(
                event
                for at, kind, event in links[node]
                if kind in RECALL_LINKS and (introduced is None or at < introduced)
            )
        return found

    def _stored_links(self, nodes: Sequence[str], voided: str) -> list[tuple[str, str, str]]:
        """(node, kind, event) of the stored links to these nodes of events other than `voided`
        that this batch does not void: a replay skips the voided events."""
        skip = {voided, *self._voided}
        return [link for link in self._tx.links_by_others(nodes, voided) if link[2] not in skip]

    def _batch_links(self) -> dict[str, list[tuple[int, str, str]]]:
        """This batch's links to context nodes so far, as (ordinal, kind, event) by node: each
        edge is indexed once however many voids and recall events read them."""
        edges = self.changes.edges
        for ordinal in range(self._links_read, len(edges)):
            edge = edges[ordinal]
            for end in (edge.src, edge.dst):
                if end.partition(":")[0] in INTRODUCERS:
                    self._links_here.setdefault(end, []).append((ordinal, edge.type, edge.event))
        self._links_read = len(edges)
        return self._links_here

    def _brought_in_by_void(self, step: _Step, field_name: str, node: str) -> bool:
        """Refuse a recall event naming a context node that only events voided earlier in
        this batch brought in: the node stays until the end of the batch, but a replay of the
        log, which skips the voided events, finds none here (nor does an event sent in a later
        batch, once the store has dropped it)."""
        voids = self._void_context.get(node)
        if not voids:
            return False
        kinds = INTRODUCERS[node.partition(":")[0]]
        # A company a voided receipt linked stays linked through another receipt of its lot.
        lots = sorted({lot for _, _, lot in voids if lot is not None})
        here = self._batch_links()
        for other, kind, _ in self._stored_links([node, *lots], voids[0][1]):
            if kind in kinds if other == node else kind == "RECEIVED_AS":
                return False  # another event brings it in before this one
        if any(kind in kinds for _, kind, _ in here.get(node, ())):
            return False
        if any(kind == "RECEIVED_AS" for lot in lots for _, kind, _ in here.get(lot, ())):
            return False
        # Each void that undid what brought it in: all of them, or "nothing else" is untrue.
        undone = " and ".join(
            f'"{void}"{" (earlier in this batch)" if i == 0 else ""} voids "{voided}"'
            for i, (void, voided, _) in enumerate(voids)
        )
        step.fail(
            field_name,
            "unknown_item",
            f"{describe(node)} does not exist once {undone}; nothing else brought it in before "
            "this event",
        )
        return True

    def _cart_site_dependents(
        self, voided: StoredEvent, effects: Effects
    ) -> tuple[set[str], dict[str, str | None]]:
        """Events loading into a cart the voided event made that would make it another site's,
        and the carts the void leaves linked to no event, with their site.

        A cart no definition made is made by the first event that loads into it, with that
        event's site, and outlives a void of that event while other events load into it; a
        replay of the log without the voided event makes it with the next one's site. Those of
        a site other than the cart's are voided first, or the rebuilt cart is another site's.
        """
        carts = sorted({cart for _, cart, _, _ in effects.loads if cart is not None})
        self._load(carts)  # one read for them all, not one per cart
        made = [cart for cart in carts if (item := self._get(cart)) and item.created_by is None]
        if not made:
            return set(), {}
        linked: dict[str, set[str]] = {}
        for cart, _, event_id in self._tx.links_by_others(made, voided.event_id):
            linked.setdefault(cart, set()).add(event_id)
        logged = self._tx.find_events(sorted(set().union(*linked.values()) - self._voided))
        props = self._tx.node_props(made)
        found: set[str] = set()
        unmade: dict[str, str | None] = {}
        for cart in made:
            others = [logged[e] for e in linked.get(cart, ()) if e in logged]
            if any(e.seq < voided.seq for e in others):
                continue  # an earlier event made it
            site = props.get(cart, {}).get("site")
            found.update(e.event_id for e in others if json.loads(e.payload).get("site") != site)
            here = self._touched_by.get(cart, set())
            found.update(e for e in here if self._batch_sites.get(e) != site)
            if not others and not here:
                unmade[cart] = site
        return found, unmade

    def _undo_cart_effects(self, step: _Step, stored: StoredEvent, effects: Effects) -> bool:
        """Undo a voided event's cart stays in the plan; False when one cannot be put back."""
        loads, unloads = effects.loads, effects.unloads
        if not loads and not unloads and stored.type in ("cart_load", "cart_unload"):
            # Logged before effects named stays: the payload says which one.
            payload = json.loads(stored.payload)
            row = [gid("lot", payload["lot"]), gid("cart", payload["cart"])]
            named = [*row, payload.get("compartment"), payload.get("qty")]
            loads, unloads = ([named], []) if stored.type == "cart_load" else ([], [named])
        # (lot, cart, what it held, when and by which event it was loaded) of each stay undone
        opened: list[
            tuple[str, str, tuple[str | None, Decimal | None] | None, tuple[str, str] | None]
        ] = []
        for lot, cart, _, _ in loads:
            assert lot is not None and cart is not None
            state = self._cart(cart)
            opened.append((lot, cart, state.contents.pop(lot, None), state.loaded.pop(lot, None)))
            self._lot_carts(lot).discard(cart)
        put_back: list[tuple[str, str, CartStay | None]] = []
        for lot, cart, compartment, qty in unloads:
            assert lot is not None and cart is not None
            stay = self._closed_stay(stored.event_id, lot, cart)
            problem = self._put_back_problem(
                stored, effects, lot, cart, compartment, _decimal(qty), stay
            )
            if problem is not None:
                step.fail(problem.field, problem.code, problem.message, problem.names)
                for back, into, _ in put_back:  # leave the plan as it was
                    self._cart(into).contents.pop(back, None)
                    self._cart(into).loaded.pop(back, None)
                    self._lot_carts(back).discard(into)
                for back, into, held, loaded in opened:
                    if held is not None:
                        self._cart(into).contents[back] = held
                        self._lot_carts(back).add(into)
                    if loaded is not None:
                        self._cart(into).loaded[back] = loaded
                return False
            state = self._cart(cart)
            state.contents[lot] = (compartment, _decimal(qty))
            if stay is not None:
                state.loaded[lot] = (stay.at, stay.event)
            self._lot_carts(lot).add(cart)
            put_back.append((lot, cart, stay))
        for lot, cart, stay in put_back:  # open again: no longer among the ended stays
            for key in (cart, lot):
                self._ended[key] = [s for s in self._ended.get(key, []) if s != stay]
        return True

    def _closed_stay(self, event_id: str, lot: str, cart: str) -> CartStay | None:
        """The stay of a lot in a cart that a logged event closed."""
        self._read_ended([cart, lot])
        for stay in self._ended[cart]:
            if stay.lot == lot and stay.closed_by == event_id:
                return stay
        return None

    def _put_back_problem(
        self,
        voided: StoredEvent,
        effects: Effects,
        lot: str,
        cart: str,
        compartment: str | None,
        qty: Decimal | None,
        stay: CartStay | None,
    ) -> _CartRule | None:
        """Return the rule a stay a void would open again breaks (its field: `voids`).

        Open again, the stay runs from its load until an unload that has not come yet: the cart
        must be free of other lots (and fit it) over all that time, not only now, and the lot
        must not have been used up since by what would have taken it out.
        """
        problem = self._placement_problem(lot, cart, compartment, qty)
        if problem is None and stay is not None and not self._replaying:
            problem = self._span_problem(lot, cart, compartment, qty, stay.at, skip=stay)
        if problem is not None:
            # The voided event's cart may be another site's (an event of no site may unload a
            # site's lot from it): every refusal of putting the lot back carries that cart.
            message = f"cannot put it back: {problem.message}"
            return problem._replace(field="voids", message=message, names=(cart, *problem.names))
        taker = self._used_up_by_since(voided, effects, lot)
        if taker is None:
            return None
        return _CartRule(
            "voids",
            "void_has_dependents",
            f'{describe(lot)} was used up since, by "{taker}", which takes a lot out of its '
            f'carts: put back, it would stay in {describe(cart)}; void "{taker}" first',
        )

    def _used_up_by_since(self, voided: StoredEvent, effects: Effects, lot: str) -> str | None:
        """The split, merge or mix that used a lot up, if that is what its last use did."""
        item = self._get(lot)
        if item is None or item.available + effects.consumes.get(lot, ZERO) > 0:
            return None
        if lot in self.changes.consumed:  # this batch took the last of it
            return self._used_up_by.get(lot)
        linked = {event for _, _, event in self._tx.links_by_others([lot], voided.event_id)}
        logged = self._tx.find_events(sorted(linked - self._voided - {item.created_by or ""}))
        takers = [
            e
            for e in logged.values()
            if e.voided_by is None and lot in Effects.from_json(e.effects).consumes
        ]
        last = max(takers, key=lambda e: e.seq, default=None)
        return last.event_id if last is not None and last.type in _CARRIERS else None

    def _mark(self, step: _Step, event: Mark) -> None:
        item = self._target(step, event.target)
        if item is None:
            return
        mark = gid("mark", event.code)
        props = self._mark_props(step, event, item)
        if props is None:
            return
        self._ensure_context(NodeRow(mark, "mark", props=props))
        self._edge(step, mark, item.gid, "MARKS")

    def _void(self, step: _Step, event: Void) -> None:
        self._shipped = True
        target_id = event.voids
        if target_id in self._batch_ids:
            step.fail(
                "voids",
                "void_same_batch",
                f'event "{target_id}" is in this batch: send the void in a later batch',
            )
            return
        stored = (
            None
            if target_id in self._hidden_events
            else self._tx.find_events([target_id]).get(target_id)
        )
        if stored is None:
            step.fail("voids", "unknown_event", f'event "{target_id}" does not exist')
            return
        if stored.type.startswith("recall_"):
            step.fail(
                "voids",
                "void_of_recall",
                f'event "{target_id}" is part of a recall case: correct it with new recall events',
            )
            return
        if stored.type == "void":
            step.fail(
                "voids",
                "void_of_void",
                f'event "{target_id}" is a void, and a void is not undone: record the event '
                "it voids again under a new event_id (sent again under its own, it is a "
                "duplicate and changes nothing)",
            )
            return
        if stored.voided_by is not None or target_id in self._voided:
            by = stored.voided_by or "an earlier event of this batch"
            step.fail(
                "voids",
                "already_voided",
                f'event "{target_id}" is already voided by "{by}"',
                names=(stored.voided_by,) if stored.voided_by else (),
            )
            return
        effects = Effects.from_json(stored.effects)
        voided_event = EVENT_ADAPTER.validate_json(stored.payload)
        dependents = set(self._tx.dependents(target_id)) - self._voided
        for created in effects.creates:
            dependents.update(self._touched_by.get(created, set()))
        for lot, cart, _, _ in effects.loads:  # stays it opened that this batch closed
            assert lot is not None and cart is not None
            dependents.update(self._closed_by.get((lot, cart), set()))
        site_dependents, unmade = self._cart_site_dependents(stored, effects)
        dependents.update(site_dependents)
        dependents.discard(target_id)
        # A recall case's events are never voided: those depending on it, or naming a node it
        # brought in, cannot be "voided first"; the void is refused with why.
        logged = self._tx.find_events(sorted(dependents)) if dependents else {}
        cases = {e for e, found in logged.items() if found.type.startswith("recall_")}
        if dependents - logged.keys():  # events of this batch
            cases.update(
                event.event_id
                for _, event, _ in self._batch
                if event.event_id in dependents and event.type.startswith("recall_")
            )
        dependents -= cases
        cases |= self._recall_dependents(target_id, voided_event)
        if dependents:
            step.fail(
                "voids",
                "void_has_dependents",
                f'later events depend on "{target_id}": {_quoted(dependents)}; void them first',
                names=tuple(sorted(dependents)),
            )
        took_the_rest = {
            event_id: how
            for event_id, how in self._took_the_rest_since(stored, effects).items()
            if event_id not in dependents
        }
        if took_the_rest:
            what = "; ".join(f'"{e}" {how}' for e, how in sorted(took_the_rest.items()))
            step.fail(
                "voids",
                "void_has_dependents",
                f'what later events took follows from what "{target_id}" took: {what}; void '
                "them first, then record them again",
                names=tuple(sorted(took_the_rest)),
            )
        if cases:
            sent = cases & self._batch_ids
            named = "; ".join(
                part
                for part in (
                    _quoted(cases - sent),
                    f"sent earlier in this batch: {_quoted(sent)}" if sent else "",
                )
                if part
            )
            step.fail(
                "voids",
                "void_has_dependents",
                f'recall case events ({named}) name what "{target_id}" made or brought '
                "in, and a case's events are never voided: "
                f'"{target_id}" stays as recorded (say what was wrong on the case)',
            )
        if dependents or cases or took_the_rest:
            return
        if not self._undo_cart_effects(step, stored, effects):
            return
        self._voided.add(target_id)
        relinked = _relinked(voided_event)
        for node in referenced(voided_event):  # see `_brought_in_by_void`
            if node.partition(":")[0] in INTRODUCERS:
                undone = (step.event_id, target_id, relinked.get(node))
                self._void_context.setdefault(node, []).append(undone)
        self._unmade.update((cart, (target_id, site)) for cart, site in unmade.items())
        # The carts its loads and unloads named too (a split's child may land in a cart it
        # brought in): the sweep of orphans after the void must see them.
        carts = {cart for _, cart, _, _ in [*effects.loads, *effects.unloads] if cart}
        touched = {
            *referenced(voided_event),
            *_creations(voided_event),
            *effects.consumes,
            *carts,
        }
        self.changes.voided.append(VoidRow(target_id, tuple(sorted(touched))))
        self._load(effects.creates)
        for created in effects.creates:
            self._items[created] = None
            if created.startswith("cart:"):
                # A voided definition: a later load of the batch makes the cart afresh, with no
                # group, capacity or compartments, as in a later batch or a replay. The store
                # still holds the definition's settings until the end of the batch.
                self._carts[created] = _Cart.of(created, {}, [])
        self._load(effects.consumes)
        for consumed_gid, qty in effects.consumes.items():
            item = self._items.get(consumed_gid)
            if item is not None:
                item.consumed -= qty
                self.changes.consumed[consumed_gid] = item.consumed

    def _took_the_rest_since(self, voided: StoredEvent, effects: Effects) -> dict[str, str]:
        """Later live events whose amount of a lot followed from what `voided` took of it.

        One that took or loaded "all the lot holds" took what the voided event left, and a
        split, merge or mix that used the lot up took it out of its carts: the log without the
        voided event has them take more, or leave the lot in its carts. Given back its quantity,
        the lot would not match them, so they are voided first. Returns what each one did.
        """
        lots = set(effects.consumes)
        if not lots or self._replaying:  # replays plan no voids: old logs rebuild as logged
            return {}
        # Only those logged after it: a supplier lot's history may hold thousands of events.
        later = [
            (e.event_id, e.type, e.payload, e.effects)
            for e in self._tx.linking_events_after(sorted(lots), voided.seq)
            if e.event_id not in self._voided
        ]
        here = {event for lot in lots for event in self._touched_by.get(lot, ())}
        later += [
            (row.event_id, row.type, row.payload, row.effects)
            for row in self.changes.events
            if row.event_id in here
        ]
        found: dict[str, str] = {}
        for event_id, kind, payload, logged in later:
            how = _took_the_rest(kind, payload, Effects.from_json(logged), lots)
            if how is not None:
                found[event_id] = how
        return found

    # -- secondary marks ------------------------------------------------------------------------

    def _mark_props(self, step: _Step, event: Mark, item: Item) -> dict[str, str] | None:
        """Check a mark against its scheme and the codes in use; return the mark's properties."""
        if self._marks is None:
            self._marks = _MarkBook(self._tx)
        book = self._marks
        if not self._replaying and event.code != event.code.upper():
            # Readings are taken in capitals (marking.resolve): "ab7" could never be found, and
            # beside "AB7" it would be a second code for what reads as one. Older logs may hold
            # such codes, so only new marks are refused.
            step.fail(
                "code",
                "bad_mark",
                f'"{event.code}" is not in capitals: marks are read in capitals, '
                f'so it would never be found (send "{event.code.upper()}")',
            )
            return None
        mark = gid("mark", event.code)
        holders = [
            holder
            for holder, by in book.holders(mark)
            if holder != item.gid and by not in self._voided
        ]
        if holders:
            message = f'mark "{event.code}" already marks {describe(holders[0])}'
            step.fail("code", "mark_taken", message, names=(holders[0],))
            return None
        recorded = self._recorded.get(step.event_id)
        step.effects.mark = []
        if recorded is not None and recorded.mark is not None:
            # Replaying: read as it was then, though the part family may have another scheme now.
            scheme = book.schemes.get(recorded.mark[0]) if recorded.mark else None
        elif event.scheme is not None:
            scheme = book.schemes.get(event.scheme)
            if scheme is None:
                step.fail("scheme", "unknown_scheme", f'no code scheme "{event.scheme}"')
                return None
        else:
            scheme = family_scheme(item.part, book.schemes.values())
        props = {"code": event.code}
        if scheme is not None:
            problem = scheme.problem(event.code)
            if problem is not None:
                step.fail("code", "bad_mark", problem)
                return None
            index = scheme.index_of(event.code)
            assert index is not None  # no problem means the code has an index
            props |= {"scheme": scheme.name, "index": index_text(index)}
            step.effects.mark = [scheme.name, index_text(index)]
        # Replaying, the log holds what was valid when written: older versions let a code's node,
        # not the scheme its event was read by, decide these checks, and their logs still replay.
        if not self._replaying and not self._fresh_mark(step, book, event, item, scheme):
            return None
        book.take(mark, item.gid, event.event_id, props.get("scheme"))
        return props

    def _fresh_mark(
        self, step: _Step, book: _MarkBook, event: Mark, item: Item, scheme: Scheme | None
    ) -> bool:
        """Refuse a sent mark its target carries already, or one read unlike the code's node.

        A code's node keeps the scheme and index its first mark was read by, voided or not; a
        mark read by another scheme would count for neither, and be issued again on each request.
        """
        mark = gid("mark", event.code)
        if any(holder == item.gid and by not in self._voided for holder, by in book.holders(mark)):
            step.fail(
                "code",
                "already_marked",
                f'{describe(item.gid)} already carries mark "{event.code}" '
                "(void that mark event first)",
            )
            return False
        known, first = book.first_read(mark)
        if known and scheme is not None and first != scheme.name:
            struck = f'scheme "{first}"' if first is not None else "a mark of no scheme"
            step.fail(
                "code",
                "mark_taken",
                f'mark "{event.code}" was struck first by {struck}, and that mark voided: '
                f'the code keeps what it was read as then, so scheme "{scheme.name}" cannot '
                "take it (it may still be stamped on a part)",
            )
            return False
        if scheme is None:
            return True
        # One live mark per scheme on an item: checked here, in the write transaction, so
        # concurrent issuers cannot both mark it.
        carried = [
            other
            for other, of, by in book.marks_on(item.gid)
            if of == scheme.name and by not in self._voided
        ]
        if carried:
            step.fail(
                "code",
                "already_marked",
                f'{describe(item.gid)} already carries mark "{carried[0].partition(":")[2]}" '
                f'of scheme "{scheme.name}": one mark per scheme (void that mark event first)',
            )
            return False
        return True

    # -- part registry --------------------------------------------------------------------------

    def _part_define(self, step: _Step, event: PartDefine) -> None:
        part = gid("part", event.part)
        if not self._require_new(step, "part", part):  # correct a definition by voiding it
            return
        props: dict[str, str] = {}
        if event.gtin is not None:
            owner = self._gtin_owner(event.gtin)
            if owner is not None:
                step.fail(
                    "gtin",
                    "gtin_taken",
                    f"GTIN {event.gtin} already belongs to {describe(owner)}: "
                    "a GTIN identifies one part",
                )
                return
            props["gtin"] = event.gtin
            self._gtins[event.gtin] = part
        if event.description is not None:
            props["description"] = event.description
        if event.supplier is not None:
            props["supplier"] = event.supplier
        self._create(step, self._node(step, "part", event.part, props=props))

    def _gtin_owner(self, gtin: str) -> str | None:
        """Return the live part that holds a GTIN, this batch's definitions and voids included."""
        if gtin not in self._gtins:
            self._gtins |= self._tx.parts_with_gtins([gtin])
        owner = self._gtins.get(gtin)
        return owner if owner is not None and self._exists(owner) else None

    # -- recall cases -----------------------------------------------------------------------------

    def _recall_scope(self, step: _Step, event: RecallScope) -> None:
        self._scoped.add(gid("case", event.case))
        case = self._open_case(step, event.case)
        if case is not None and self._suspects_exist(step, event.suspects):
            scoped = {"suspects": suspects_json(event.suspects), "scoped_by": step.event.event_id}
            self._merge_props(case, scoped)
            self._suspect_links(step, case, event.suspects)

    def _recall_open(self, step: _Step, event: RecallOpen) -> None:
        case = gid("case", event.case)
        self._scoped.add(case)
        fresh = self._require_new(step, "case", case)
        if not self._suspects_exist(step, event.suspects) or not fresh:
            return
        props = {
            "title": event.title,
            "reason": event.reason,
            "suspects": suspects_json(event.suspects),
            "state": RecallState.OPEN.value,
        }
        if event.actor is not None:
            props["opened_by"] = event.actor
        self._create(step, self._node(step, "case", event.case, props=props))
        self._props[case] = dict(props)  # later events of the batch read the new case
        self._suspect_links(step, case, event.suspects)

    def _suspect_links(self, step: _Step, case: str, suspects: Sequence[Suspect]) -> None:
        """Link a case to what it suspects, so a supplier finds the cases about their lots."""
        for suspect in sorted({s.id for s in suspects}):
            self._edge(step, case, suspect, "SUSPECTS")

    def _suspects_exist(self, step: _Step, suspects: Sequence[Suspect]) -> bool:
        ok = True
        for i, suspect in enumerate(suspects):
            if suspect.id in self._hidden or self._get(suspect.id) is None:
                step.fail(
                    f"suspects[{i}].id", "unknown_item", f"{describe(suspect.id)} does not exist"
                )
                ok = False
            elif self._void_context and self._brought_in_by_void(
                step, f"suspects[{i}].id", suspect.id
            ):
                ok = False
            else:
                self._touch(step, suspect.id)
        return ok

    def _open_case(self, step: _Step, case_id: str) -> str | None:
        """Return the global id of a case that may still change, or record why not."""
        case = gid("case", case_id)
        if self._require(step, "case", case, "case") is None:
            return None
        if self._case_props(case).get("state") == RecallState.CLOSED.value:
            step.fail("case", "case_closed", f"{describe(case)} is closed: open a new case")
            return None
        return case

    def _case_props(self, node_gid: str) -> dict[str, str]:
        known = self._props.get(node_gid)
        if known is None:
            found = self._tx.node_props([node_gid]).get(node_gid, {})
            known = self._props[node_gid] = dict(found)
        return known

    def _merge_props(self, node_gid: str, props: dict[str, str]) -> None:
        self._case_props(node_gid).update(props)
        self.changes.props.setdefault(node_gid, {}).update(props)

    def _recall_state(self, step: _Step, event: RecallStateChange) -> None:
        case = self._open_case(step, event.case)
        if case is None:
            return
        now = RecallState(self._case_props(case).get("state", RecallState.OPEN.value))
        order = list(RecallState)
        if order.index(event.state) < order.index(now):
            step.fail(
                "state",
                "state_order",
                f'{describe(case)} is "{now}": it cannot go back to "{event.state}"',
            )
            return
        self._merge_props(case, {"state": event.state.value, f"{event.state.value}_at": step.at})

    def _recall_hold(self, step: _Step, event: RecallHold) -> None:
        """Record in the case what its hold held: sent, each item named must be held at the
        hold's time, as the store will hold it after the events before the hold in its batch
        (`_statuses_at`). Replayed, it stands as it was made, though a status or an item it
        names was voided since: the case's history keeps that the hold was made."""
        if self._replaying or self._open_case(step, event.case) is None:
            return
        statuses = self._statuses_at([ref.gid for ref in event.items], step.at)
        listed: set[str] = set()
        for i, ref in enumerate(event.items):
            name = item_field(f"items[{i}]", ref)
            if ref.gid in listed:
                step.fail(name, "duplicate_reference", f"{describe(ref.gid)} is listed twice")
                continue
            listed.add(ref.gid)
            item = self._require(step, name, ref.gid, "lot" if ref.lot is not None else "serial")
            status = statuses.get(ref.gid)
            if item is not None and status not in HELD:
                then = f'"{status}"' if status else "of no status"
                step.fail(
                    name,
                    "not_held",
                    f"{describe(ref.gid)} is {then} at {step.at}, not held: a hold names the "
                    "items status events quarantined, recalled or scrapped by its time",
                )

    def _statuses_at(self, gids: Sequence[str], at: str) -> dict[str, str]:
        """Return the status each live item among `gids` holds at `at` once the events planned
        so far are written: the latest in time of its live status events dated by then, as the
        store decides it (graph.store.latest_statuses). A status event dated later is not yet
        the item's, and a void of the batch takes its status away."""
        items = {g: item for g in gids if (item := self._get(g)) is not None}
        # The store's rows first (the batch's are logged after them), read only where it holds
        # a status: an item of none has no row.
        stored = sorted(g for g, item in items.items() if item.status is not None)
        rows: list[StatusRow] = []
        if stored:
            rows = [r for r in self._tx.status_rows(stored) if r.event not in self._voided]
        rows += [row for row in self.changes.statuses if row.gid in items]
        return latest_statuses([row for row in rows if row.at <= at])

    def _recall_notice(self, step: _Step, event: RecallNotice) -> None:
        case = self._open_case(step, event.case)
        notice = gid("notice", event.notice)
        company = gid("company", event.customer)
        fresh = self._require_new(step, "notice", notice)
        customer = self._require(step, "customer", company, "company")
        if customer is not None and self._void_context:
            customer = None if self._brought_in_by_void(step, "customer", company) else customer
        if case is None or customer is None or not fresh:
            return
        if not self._replaying:  # a log written before this rule may tell a customer twice
            told = self._customers_told(case)
            if event.customer in told:
                step.fail(
                    "customer",
                    "already_notified",
                    f"{describe(case)} has already sent a notice to {describe(company)}",
                )
                return
            told.add(event.customer)
        props = {
            "case": event.case,
            "customer": event.customer,
            "message": event.message,
            "state": "sent",
        }
        self._create(step, self._node(step, "notice", event.notice, props=props))
        self._props[notice] = dict(props)  # later events of the batch read the new notice
        self._edge(step, case, notice, "NOTICE")
        self._edge(step, notice, company, "TO")

    def _customers_told(self, case: str) -> set[str]:
        """Return the customers the case has sent a notice to, as planned so far.

        Read from the log under the write lock: a notice sent since the caller read the case is
        seen, so two actions telling the same customers at once cannot both do it.
        """
        told = self._told.get(case)
        if told is None:
            links = self._tx.links_by_others([case], "")  # by any event: none has an empty id
            notices = {event for _, kind, event in links if kind == "NOTICE"}
            sent = self._tx.find_events(sorted(notices)).values()
            told = self._told[case] = {str(json.loads(e.payload)["customer"]) for e in sent}
        return told

    def _recall_ack(self, step: _Step, event: RecallAck) -> None:
        notice = gid("notice", event.notice)
        if self._require(step, "notice", notice, "notice") is None:
            return
        case = gid("case", self._case_props(notice).get("case", ""))
        # A replay takes logged answers as they stand: the release before did not read a notice
        # sent in its batch, and let in an answer after its case closed in that batch.
        closed = self._case_props(case).get("state") == RecallState.CLOSED.value
        if closed and not self._replaying:
            step.fail("notice", "case_closed", f"{describe(case)} is closed")
            return
        # A log may hold answers from before this rule: a replay does not check them again.
        found = event.found_qty
        if not self._replaying and found and not self._found_shipped(step, notice, case, found):
            return
        answer = {
            "state": "acknowledged",
            # One spelling, as the digest reads them: "-0" and "5.00" are 0 and 5.
            "found_qty": plain(event.found_qty),
            "returned_qty": plain(event.returned_qty),
            "acknowledged_at": step.at,
        }
        # A correction replaces the whole answer: a note or actor it leaves out is cleared
        # ("" reads as none), not kept from the answer it corrects.
        before = self._case_props(notice)
        for key, value in (("acknowledged_by", event.actor), ("ack_note", event.note)):
            if value is not None or key in before:
                answer[key] = value or ""
        self._merge_props(notice, answer)

    def _found_shipped(self, step: _Step, notice: str, case: str, found: Decimal) -> bool:
        """Check an answer finds no more than its case's scope shipped the customer, against the
        scope traced before the batch (ingest.answers) from the suspects the case has now."""
        if case in self._scoped:  # of suspects, maybe of items, the trace before did not see
            step.fail(
                "notice",
                "scoped_in_batch",
                f"{describe(case)} is given its suspects earlier in this batch: send an answer "
                "finding something in a later batch, once its scope is stored",
            )
            return False
        if self._shipped:  # the only events that change what a scope shipped
            step.fail(
                "notice",
                "shipped_in_batch",
                "an event earlier in this batch ships or voids, which the scope of "
                f"{describe(case)} was traced without: send an answer finding something in a "
                "later batch",
            )
            return False
        scope = self._scopes.get(self._case_props(case).get("suspects", "[]"))
        if scope is None:  # rescoped, or made, by another batch since it was traced
            step.fail(
                "notice",
                "rescoped",
                f"{describe(case)} changed while this answer was checked: send it again",
            )
            return False
        told = self._case_props(notice)
        over = found_over_shipped(scope, told.get("case", ""), told.get("customer", ""), found)
        if over is not None:
            step.fail("found_qty", "found_over_shipped", over)
            return False
        return True

    # -- supplier requests and answers ------------------------------------------------------------

    def _case_and_lot(
        self, step: _Step, event: RecallSupplierRequest | RecallSupplierAnswer
    ) -> tuple[str, Item] | None:
        """Return the open case and the supplier lot an event names, or record why not."""
        case = self._open_case(step, event.case)
        lot_gid = supplier_lot_gid(event.supplier, event.supplier_lot)
        lot = self._require(step, "supplier_lot", lot_gid, "supplier_lot")
        if lot is not None and self._void_context:
            lot = None if self._brought_in_by_void(step, "supplier_lot", lot_gid) else lot
        return None if case is None or lot is None else (case, lot)

    def _supplier_request(self, step: _Step, event: RecallSupplierRequest) -> None:
        found = self._case_and_lot(step, event)
        if found is None:
            return
        lot = found[1]
        request = self._request_node(step, event.case, lot.gid, event.supplier)
        asked = {
            "question": event.question,
            "due_by": utc_text(event.due_by),
            "requested_at": step.at,
            # A question waits for an answer of its own: one given before it answered another.
            "state": "requested",
        }
        if event.actor is not None:
            asked["requested_by"] = event.actor
        self._merge_props(request, asked)

    def _supplier_answer(self, step: _Step, event: RecallSupplierAnswer) -> None:
        found = self._case_and_lot(step, event)
        if found is None:
            return
        case, lot = found
        request = supplier_request_gid(event.case, lot.gid)
        suspects = {s["id"] for s in json.loads(self._case_props(case).get("suspects", "[]"))}
        # An answer makes the request node too: only a question asks. A log may hold answers
        # given, before this rule, about a lot rescoped out that had only been answered.
        asked = (
            self._exists(request) if self._replaying else "question" in self._case_props(request)
        )
        if lot.gid not in suspects and not asked:
            step.fail(
                "supplier_lot",
                "not_in_case",
                f"{describe(case)} neither suspects {describe(lot.gid)} nor asks about it",
            )
            return
        if not self._documents_known(step, event):
            return
        self._request_node(step, event.case, lot.gid, event.supplier)
        known = self._case_props(request)
        answer = event.model_dump(
            mode="json", include={"text", "upstream", "documents"}, exclude_none=True
        )
        answer |= {"event": event.event_id, "answered_at": step.at}
        if event.actor is not None:
            answer["answered_by"] = event.actor
        attached = sorted(
            set(json.loads(known.get("documents", "[]"))) | {d.sha256 for d in event.documents}
        )
        # The bytes are kept once; the media type belongs to each reference, and a download is
        # served as one of the references made of the bytes in this request says.
        types: dict[str, list[str]] = json.loads(known.get("document_types", "{}"))
        for ref in event.documents:
            types[ref.sha256] = sorted({*types.get(ref.sha256, []), ref.media_type})
        self._merge_props(
            request,
            {
                "state": "answered",
                "answer": json.dumps(answer, sort_keys=True),
                "answers": str(int(known.get("answers", "0")) + 1),
                "documents": json.dumps(attached),
                "document_types": json.dumps(types, sort_keys=True),
            },
        )

    def _documents_known(self, step: _Step, event: RecallSupplierAnswer) -> bool:
        """Check every attached document was sent with the batch or is stored, as described.

        Bytes sent with the batch were checked to be what the reference says, whatever media type
        they were first stored as (each reference keeps its own). Bytes not sent are taken only as
        stored, except on a replay: the logged event was checked when it was written.
        """
        stored = self._tx.documents(
            [d.sha256 for d in event.documents if d.sha256 not in self._offered]
        )
        ok = True
        for i, ref in enumerate(event.documents):
            sent = self._offered.get(ref.sha256)
            found = sent or stored.get(ref.sha256)
            # On a replay nothing is offered and a stored type may differ from the logged one.
            vouched = self._replaying and sent is None
            if found is None:
                step.fail(
                    f"documents[{i}].sha256",
                    "unknown_document",
                    f'document "{ref.name}" ({ref.sha256}) was not sent and is not stored',
                )
                ok = False
            elif found.size != ref.size or (found.media_type != ref.media_type and not vouched):
                # Told in the sender's terms: the bytes they sent, or those stored before.
                bytes_are = "was sent as" if sent is not None else "is stored as"
                step.fail(
                    f"documents[{i}]",
                    "document_mismatch",
                    f'document "{ref.name}" is described as {ref.media_type}, {ref.size} bytes, '
                    f"but {bytes_are} {found.media_type}, {found.size} bytes",
                )
                ok = False
        if ok:
            for ref in event.documents:
                if ref.sha256 in self._offered and ref.sha256 not in self._kept:
                    self._kept.add(ref.sha256)
                    self.changes.documents.append(self._offered[ref.sha256])
        return ok

    def _request_node(self, step: _Step, case_id: str, lot: str, supplier: str) -> str:
        """Return the node of a case's dealings with one supplier lot, made on first need."""
        request = supplier_request_gid(case_id, lot)
        if not self._exists(request):
            props = {"case": case_id, "supplier": supplier, "supplier_lot": lot, "state": "open"}
            key = request.partition(":")[2]
            self._create(step, self._node(step, "supplier_request", key, props=props))
            self._case_props(request).update(props)
            self._edge(step, gid("case", case_id), request, "ASKS")
            self._edge(step, request, lot, "ABOUT")
        return request


# Each event goes to its handler by its type tag: a chain of isinstance checks cost microseconds
# per event, as pydantic models answer them through ABCMeta. The handlers are plain functions, not
# methods bound to a planner, which would hold it in a cycle that only the collector frees.
_HANDLERS: dict[str, Callable[[Planner, _Step, Any], None]] = {
    "receive": Planner._receive,
    "split": Planner._split,
    "merge": Planner._combine,
    "mix": Planner._combine,
    "process": Planner._process,
    "serialize": Planner._serialize,
    "ship": Planner._ship,
    "status": Planner._status,
    "cart_define": Planner._cart_define,
    "cart_load": Planner._cart_load,
    "cart_unload": Planner._cart_unload,
    "mark": Planner._mark,
    "void": Planner._void,
    "part_define": Planner._part_define,
    "recall_open": Planner._recall_open,
    "recall_scope": Planner._recall_scope,
    "recall_state": Planner._recall_state,
    "recall_hold": Planner._recall_hold,
    "recall_notice": Planner._recall_notice,
    "recall_ack": Planner._recall_ack,
    "recall_supplier_request": Planner._supplier_request,
    "recall_supplier_answer": Planner._supplier_answer,
}


def suspects_json(suspects: Sequence[Suspect]) -> str:
    """Store a case's suspects as canonical JSON: ids, and windows in UTC."""
    rows = []
    for suspect in suspects:
        row = {"id": suspect.id}
        if suspect.from_ is not None and suspect.to is not None:
            row |= {"from": utc_text(suspect.from_), "to": utc_text(suspect.to)}
        rows.append(row)
    return json.dumps(rows, sort_keys=True)


def dates_of(source: Receive | Serialize | ProcessOutput) -> dict[str, str]:
    """Return the expiry and manufacturing dates an event gives the items it makes (UDI-PI)."""
    dates = {"expiry": source.expiry, "manufactured": source.manufactured}
    return {name: value.isoformat() for name, value in dates.items() if value is not None}


def site_of(event: Event) -> dict[str, str]:
    """Return the site property an event gives the nodes it creates (operators are site-scoped)."""
    return {"site": event.site} if event.site is not None else {}


class _MarkBook:
    """The code schemes, which items the marks a batch reads or makes are on, and the reverse."""

    def __init__(self, tx: WriteTx) -> None:
        self._tx = tx
        self.schemes = {row.name: Scheme.from_row(row) for row in tx.mark_schemes()}
        self._holders: dict[str, list[tuple[str, str]]] = {}
        self._carried: dict[str, list[tuple[str, str | None, str]]] = {}
        # Per code's node, whether it exists and the scheme its first mark was read by.
        self._first: dict[str, tuple[bool, str | None]] = {}

    def holders(self, mark: str) -> list[tuple[str, str]]:
        if mark not in self._holders:
            self._holders[mark] = self._tx.marks_in_use([mark]).get(mark, [])
        return self._holders[mark]

    def prefetch(self, marks: Iterable[str], items: Iterable[str] = ()) -> None:
        """Read which items many marks are on, and which marks many items carry, in a call each."""
        wanted = sorted({mark for mark in marks if mark not in self._holders})
        if wanted:
            found = self._tx.marks_in_use(wanted)
            for mark in wanted:
                self._holders[mark] = found.get(mark, [])
        self._read_first(marks)
        targets = sorted({item for item in items if item not in self._carried})
        if targets:
            carried = self._tx.item_marks(targets)
            for item in targets:
                self._carried[item] = carried.get(item, [])

    def marks_on(self, item: str) -> list[tuple[str, str | None, str]]:
        """The (mark gid, scheme, event id) of each mark on an item, this batch's included."""
        if item not in self._carried:
            self._carried[item] = self._tx.item_marks([item]).get(item, [])
        return self._carried[item]

    def first_read(self, mark: str) -> tuple[bool, str | None]:
        """Whether the code's node exists, and the scheme its first mark was read by."""
        if mark not in self._first:
            self._read_first([mark])
        return self._first[mark]

    def _read_first(self, marks: Iterable[str]) -> None:
        wanted = sorted({mark for mark in marks if mark not in self._first})
        if wanted:
            found = self._tx.node_props(wanted)
            for mark in wanted:
                props = found.get(mark)
                self._first[mark] = (
                    props is not None,
                    None if props is None else props.get("scheme"),
                )

    def take(self, mark: str, item: str, event_id: str, scheme: str | None) -> None:
        known, first = self.first_read(mark)
        if not known:  # this mark makes the code's node: it is read as this mark was
            self._first[mark] = (True, scheme)
            first = scheme
        self.holders(mark).append((item, event_id))
        # As the store lists it once written: by the scheme on the code's node.
        self.marks_on(item).append((mark, first, event_id))


# The event classes are the leaves of the contract's union, so their exact types are checked here
# and in the planner's hot paths: isinstance on a pydantic model class goes through ABCMeta, about
# 0.2 us a check, and a chain of them ran for every event.
def _creations(event: Event) -> list[str]:
    """Global ids of the items an event creates."""
    if type(event) is Receive:
        return [gid("lot", event.lot)]
    if type(event) is Split:
        return [gid("lot", child.lot) for child in event.into]
    if type(event) is Merge or type(event) is Mix:
        return [gid("lot", event.into.lot)]
    if type(event) is Process:
        return [gid("step", event.step)] + [output.gid for output in event.outputs]
    if type(event) is Serialize:
        return [gid("serial", serial) for serial in event.serials]
    if type(event) is Ship:
        return [gid("shipment", event.shipment)]
    if type(event) is RecallOpen:
        return [gid("case", event.case)]
    if type(event) is RecallNotice:
        return [gid("notice", event.notice)]
    if type(event) is CartDefine:
        return [gid("cart", event.cart)]
    if type(event) is PartDefine:
        return [gid("part", event.part)]
    return []


# -- carts


@dataclass(slots=True)
class _Cart:
    """A cart as the batch sees it: its settings and what it holds (lot: compartment, qty)."""

    gid: str
    # ("group", name), or ("cart", its gid): a cart without a group is a group of its own, and
    # never the same as a group that happens to be named like it
    group: tuple[str, str]
    compartments: list[str] | None
    capacity: Decimal | None
    contents: dict[str, tuple[str | None, Decimal | None]]
    loaded: dict[str, tuple[str, str]]  # lot -> when and by which event (its stay's key)

    @classmethod
    def of(cls, cart: str, props: dict[str, Any], stays: Sequence[CartStay]) -> _Cart:
        compartments = props.get("compartments")
        capacity = props.get("capacity")
        return cls(
            cart,
            ("group", str(props["group"])) if props.get("group") is not None else ("cart", cart),
            list(json.loads(compartments)) if compartments else None,
            Decimal(capacity) if capacity is not None else None,
            {stay.lot: (stay.compartment, stay.qty) for stay in stays},
            {stay.lot: (stay.at, stay.event) for stay in stays},
        )


# The events that take a lot they use up out of its carts.
_CARRIERS = frozenset({"split", "merge", "mix"})


def _took_the_rest(kind: str, payload: str, effects: Effects, lots: set[str]) -> str | None:
    """What a logged event did with what was left of one of `lots`, if its amount followed from
    it: took or loaded all the lot held, or used it up and so took it out of its carts."""
    if kind == "process" or kind == "cart_load":
        event = EVENT_ADAPTER.validate_json(payload)
        if type(event) is Process:
            for source in event.inputs:
                if source.lot is not None and source.qty is None and source.gid in lots:
                    return f"took all {describe(source.gid)} held"
        elif type(event) is CartLoad and event.qty is None and gid("lot", event.lot) in lots:
            return f"loaded all {describe(gid('lot', event.lot))} held"
    elif kind != "cart_unload":
        for lot, _, _, _ in effects.unloads:
            if lot in lots:
                return f"used {describe(lot)} up, taking it out of its carts"
    return None


def _sources(event: Split | Merge | Mix) -> list[str]:
    """Global ids of the lots a split, merge or mix takes from."""
    if type(event) is Split:
        return [gid("lot", event.lot)]
    assert type(event) is Merge or type(event) is Mix
    return [gid("lot", source.lot) for source in event.from_]


def _relinked(event: Event) -> dict[str, str]:
    """The company a receipt links its supplier lot to, with that lot: once the receipt is
    voided, the store links the lot to it again through its first receipt left in the log, as
    a replay of the log does, so each other live receipt of the lot brings the company in."""
    if type(event) is not Receive:
        return {}
    return {gid("company", event.supplier): supplier_lot_gid(event.supplier, event.supplier_lot)}


def _quoted(event_ids: set[str]) -> str:
    """Name up to five events, in order."""
    return ", ".join(f'"{e}"' for e in sorted(event_ids)[:5])


def _share(qty: Decimal, total: Decimal) -> float:
    """Return qty's share of total; the usual whole share without a decimal division."""
    return 1.0 if qty == total else float(SHARES.divide(qty, total))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
