"""Recall cases: open, scope, hold, notify, acknowledge, reconcile, export, close.

Every action is an event in the log (so the case's history says who did what, when and why) and
goes through ingest like any other event; the scope is computed from the graph as it stands.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from api.recall_report import render_report
from graph.carts import CartService, SharedCart
from graph.clock import now_text, utc_text
from graph.epcis_export import EpcisExporter
from graph.errors import Conflict, NotFound
from graph.ids import gid
from graph.recall import (
    HELD,
    Reconciliation,
    Scope,
    ScopeDiff,
    ScopeItem,
    compute_scope,
    diff,
    parse_suspects,
    reconcile,
)
from graph.store import CartStay, GraphStore, NodeView, WriteTx, plain
from graph.trace import TraceService
from ingest.errors import BatchRejected, Problem
from ingest.models import MAX_REASON, Event
from ingest.parse import parse_events
from ingest.references import describe
from ingest.service import Guard, IngestReport, IngestService

if TYPE_CHECKING:
    from api.supplier_portal import SupplierRequest

log = logging.getLogger("tracegraph.recall")

MAX_CASES = 500  # cases in one page of the list
# Refusals that mean another action moved the case, rescoped it (or told its customers) first:
# the batch is made again, this often, from the case as it then is.
RACED = frozenset(
    {"state_order", "exists", "already_notified", "rescoped", "moved", "held", "status_ahead"}
)
RACE_RETRIES = 3
# A notice's key is an id in its recall_notice event (ingest.models.Id): at most this long.
MAX_NOTICE_KEY = 200
# How far ahead of the server's clock a floor clock may run and its items still be held at the
# time they came to be (a hold dated then): a clock set to the wrong zone is up to 14 hours out.
# An item dated later than this is a wrong date, and a hold naming it is refused (time_order).
MAX_CLOCK_AHEAD = timedelta(days=1)
# Ends an item's quarantine reason cut to fit (MAX_REASON with the case named before it).
HOLD_REASON_CUT = " [cut: whole in the case's recall_hold]"


@dataclass(frozen=True, slots=True)
class Notice:
    id: str
    case: str
    customer: str
    message: str
    state: str
    sent_at: str | None
    found_qty: Decimal | None
    returned_qty: Decimal | None
    note: str | None

    @classmethod
    def of(cls, view: NodeView) -> Notice:
        attrs = view.attrs
        found, returned = attrs.get("found_qty"), attrs.get("returned_qty")
        return cls(
            id=view.gid,
            case=str(attrs.get("case", "")),
            customer=str(attrs.get("customer", "")),
            message=str(attrs.get("message", "")),
            state=str(attrs.get("state", "sent")),
            sent_at=attrs.get("created_at"),
            found_qty=None if found is None else Decimal(str(found)),
            returned_qty=None if returned is None else Decimal(str(returned)),
            note=attrs.get("ack_note") or None,
        )


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    title: str
    reason: str
    state: str
    suspects: list[dict[str, str]]
    opened_by: str | None
    opened_at: str | None

    @classmethod
    def of(cls, view: NodeView) -> Case:
        attrs = view.attrs
        return cls(
            id=view.gid,
            title=str(attrs.get("title", "")),
            reason=str(attrs.get("reason", "")),
            state=str(attrs.get("state", "open")),
            suspects=parse_suspects(str(attrs.get("suspects", "[]"))),
            opened_by=attrs.get("opened_by"),
            opened_at=attrs.get("created_at"),
        )


@dataclass(frozen=True, slots=True)
class CasePage:
    cases: list[Case]
    more: bool  # cases follow the last of this page


def _plain(value: Any) -> Any:
    """Make dataclass dumps JSON-ready: decimals as exact text, one way however a sum was
    reached (10, not 10.0 from 4.5 + 1.5 + 4)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return plain(value)
    return value


def _reconciliation(found: Reconciliation) -> dict[str, Any]:
    """The measure per unit, and as single numbers (None when the scope counts in several)."""
    return {
        "units": [
            asdict(unit) | {"accounted": unit.accounted, "percent": round(unit.percent, 2)}
            for unit in found.units
        ],
        "expected": found.expected,
        "held_in_plant": found.held_in_plant,
        "found_by_customers": found.found_by_customers,
        "returned_by_customers": found.returned_by_customers,
        "scrapped": found.scrapped,
        "accounted": found.accounted,
        "percent": round(found.percent, 2),
    }


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _event(kind: str, actor: str, at: str | None = None, **fields: Any) -> dict[str, Any]:
    """Return an action's event, dated `at` (UTC text), or now."""
    return {
        "event_id": f"{kind}-{uuid.uuid4().hex[:16]}",
        "type": kind,
        "occurred_at": at or _now(),
        "actor": actor,
        **fields,
    }


def _notice_name(case_id: str, customer: str, n: int) -> str:
    """Return the `n`th name tried for a case's notice to a customer, `{case}-{customer}`.

    A case and a customer id may each take all of an id's 200 characters: a longer name keeps
    what fits of it, then a digest of the whole, so customers cut to one prefix differ.
    """
    suffix = f"-{n}" if n > 1 else ""
    name = f"{case_id}-{customer}"
    if len(name) + len(suffix) <= MAX_NOTICE_KEY:
        return name + suffix
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name[: MAX_NOTICE_KEY - len(suffix) - len(digest) - 1]}-{digest}{suffix}"


def _quarantine_reason(case_id: str, reason: str) -> str:
    """Return the reason of an item's quarantine by a hold of the case: the case, then the
    hold's reason, cut to fit a status's reason (HOLD_REASON_CUT): the hold's own recall_hold,
    naming the items, keeps it whole, so a reason the case takes is never refused here."""
    why = f"recall case {case_id}: {reason}"
    if len(why) <= MAX_REASON:
        return why
    cut = MAX_REASON - len(HOLD_REASON_CUT)
    # Not between a letter and the accents combined with it.
    while cut and unicodedata.combining(why[cut]):
        cut -= 1
    return why[:cut] + HOLD_REASON_CUT


def case_address(case_id: str) -> str:
    """Return what names the case keyed `case_id` in an address or argument (read by
    `RecallService.case_keys`): its key, or its id where the key would read as another case's
    id (a key beginning "case:", logged before such keys were refused)."""
    return gid("case", case_id) if case_id.startswith("case:") else case_id


def _closed(case_id: str) -> BatchRejected:
    message = f'case "{case_id}" is closed: open a new case'
    return BatchRejected([Problem(0, None, "case", "case_closed", message)])


def _raced(code: str, message: str) -> BatchRejected:
    return BatchRejected([Problem(0, None, "case", code, message)])


def _dated_beyond(dates: list[tuple[str, str, str]]) -> BatchRejected:
    """Items that came to be, or whose status is dated, beyond any floor clock's skew: a hold's
    quarantine dated before either would be refused (time_order) or not become the item's
    status, and dated after it would follow the case's close. Each (item, what, when) is
    named, so all are set right before the hold is made again."""
    skew = f"{MAX_CLOCK_AHEAD.total_seconds() / 3600:g} hours"
    return BatchRejected(
        [
            Problem(
                0,
                None,
                "case",
                "time_order",
                f"{describe(item)} {what} {at}, more than {skew} after the server's clock: "
                "a wrong date, to be set right (void it, record it again) before a hold",
            )
            for item, what, at in dates
        ]
    )


class CaseBusy(Conflict):
    """Other actions changed a case each time an action was made from it: the caller tries
    again later (what changed it is in the case's history), not with another request."""

    code = "case_busy"

    def __init__(self, case_id: str, last: BatchRejected) -> None:
        why = last.what_was_wrong
        super().__init__(
            f'case "{case_id}" changed under this action {RACE_RETRIES} times ({why}): '
            "nothing was done; try again"
        )


def _retried(case_id: str, write: Callable[[], None], raced: frozenset[str] = RACED) -> None:
    """Call `write`, which makes a batch from the case as it reads it and writes it, again while
    another action on the case overtakes it (a refusal coded in `raced`), RACE_RETRIES times
    at most: then the case is busy (CaseBusy). Any other refusal is raised as it is."""
    for attempt in range(1, RACE_RETRIES + 1):
        try:
            write()
            return
        except BatchRejected as error:
            if not any(p.code in raced for p in error.problems):
                raise
            if attempt == RACE_RETRIES:
                raise CaseBusy(case_id, error) from error


def _still_open(case_id: str, read: dict[str, Any], also: Guard | None = None) -> Guard:
    """Refuse a batch, inside its transaction, if the case it acts on is closed by then, or
    is no longer as the batch was made from it (`read`, its properties then): its suspects
    set by another rescope (`scoped_by`), or its state moved by another action; then `also`."""
    case = gid("case", case_id)

    def guard(tx: WriteTx, events: Sequence[Event]) -> None:
        now = tx.node_props([case]).get(case, {})
        if now.get("state") == "closed":
            raise _closed(case_id)
        if now.get("scoped_by") != read.get("scoped_by"):
            raised = f'case "{case_id}" was rescoped while this action was made from its scope'
            raise _raced("rescoped", raised)
        if now.get("state") != read.get("state"):
            moved = f'case "{case_id}" moved to "{now.get("state")}" while this action was made'
            raise _raced("moved", moved)
        if also is not None:
            also(tx, events)

    return guard


class RecallService:
    """Run recall cases on a store; callers check roles (api.access) before calling."""

    def __init__(self, store: GraphStore, ingest: IngestService) -> None:
        self._store = store
        self._ingest = ingest
        self._traces = TraceService(store)

    # -- reads ---------------------------------------------------------------------------------

    def case(self, case_id: str) -> Case:
        return Case.of(self._case_view(case_id))

    def case_keys(self, named: str) -> list[str]:
        """Return the keys of the cases `named` names, read first as the id answers give
        (case:RC-1), then as a key (RC-1), in that order.

        A case key logged before keys beginning "case:" were refused may hold one, so one id can
        name two cases ("case:RC" is case RC's id and case "case:RC"'s key): callers take the
        first they may act on, so the id reading wins, as for notices.
        """
        readings = _readings("case", named)
        found = self._store.nodes(readings)
        return [reading.partition(":")[2] for reading in readings if reading in found]

    def case_key(self, named: str) -> str:
        """Return the key of the case `named` names (`case_keys`: the id reading wins): the
        entries that name an existing case read it so, and act on the case by its key."""
        keys = self.case_keys(named)
        if not keys:
            raise NotFound(f"no recall case {named!r}")
        return keys[0]

    def _case_view(self, case_id: str) -> NodeView:
        view = self._store.node(gid("case", case_id))
        if view is None:
            raise NotFound(f"no recall case {case_id!r}")
        return view

    def cases(self, first: int = MAX_CASES, after: str | None = None) -> CasePage:
        """Return up to `first` cases (callers hold it to MAX_CASES) in id order, those after the
        case id `after` (case:RC-1) when it is given, and whether more follow."""
        views = self._store.nodes_of_kind("case", first + 1, after)
        return CasePage([Case.of(v) for v in views[:first]], len(views) > first)

    def cases_about(self, gids: Sequence[str]) -> list[Case]:
        """Return the cases that ever suspected any of `gids`."""
        links = self._store.links(list(gids))
        cases = sorted({e.src for e in links if e.type == "SUSPECTS"})
        views = self._store.nodes(cases)
        return [Case.of(views[c]) for c in cases if c in views]

    def scope(self, case_id: str) -> Scope:
        return compute_scope(self._traces, self.case(case_id).suspects)

    def shared_carts(
        self, case_id: str, scope: Scope | None = None
    ) -> tuple[list[CartStay], list[SharedCart]]:
        """Return the carts the scope's lots rode in and the other lots that shared them.

        A shared cart is a risk of mix-up, not material flow: it is listed apart from the scope.
        """
        scope = scope or self.scope(case_id)
        return CartService(self._store).shared(i.id for i in scope.items)

    def notices(self, case_id: str) -> list[Notice]:
        self.case(case_id)
        return self.notices_of([case_id])[case_id]

    def notices_of(self, case_ids: Sequence[str]) -> dict[str, list[Notice]]:
        """Return the notices of each case, read for all of them in one links and one nodes
        call (a list of cases asks for them all)."""
        cases = {gid("case", case_id): case_id for case_id in case_ids}
        sent = [(e.src, e.dst) for e in self._store.links(sorted(cases)) if e.type == "NOTICE"]
        sent = sorted((case, notice) for case, notice in sent if case in cases)
        views = self._store.nodes(sorted({notice for _, notice in sent}))
        found: dict[str, list[Notice]] = {case_id: [] for case_id in case_ids}
        for case, notice in sent:
            if notice in views:
                found[cases[case]].append(Notice.of(views[notice]))
        return found

    def notices_to(self, company: str) -> list[Notice]:
        """Return the notices sent to a customer."""
        node = gid("company", company)
        sources = sorted(
            e.src for e in self._store.links([node]) if e.type == "TO" and e.dst == node
        )
        views = self._store.nodes(sources)
        return [Notice.of(views[n]) for n in sources if n in views]

    def notice(self, notice_id: str, customer: str | None = None) -> Notice:
        """Return a notice by its id as answers give it (notice:RC-1-HOSP-NORTH) or by its key
        (RC-1-HOSP-NORTH); given `customer`, only one sent to them.

        A case id may hold ":", so one id can name two notices ("notice:RC-HOSP-NORTH" is case
        RC's by its id and case "notice:RC"'s by its key): of those the caller may answer, the id
        reading wins, so another's notice never takes the name of the caller's own.
        """
        readings = _readings("notice", notice_id)
        views = self._store.nodes(readings)
        for reading in readings:
            if reading in views:
                found = Notice.of(views[reading])
                if customer is None or found.customer == customer:
                    return found
        raise NotFound(f"no notice {notice_id!r}")

    def reconciliation(
        self, case_id: str, scope: Scope | None = None, notices: Sequence[Notice] | None = None
    ) -> Reconciliation:
        """Reconcile the case; `scope` and `notices`, when given, as the caller read them, so
        an export's reconciliation counts the answers its notices list."""
        answers = [
            (n.customer, n.found_qty or Decimal(0), n.returned_qty or Decimal(0))
            for n in (self.notices(case_id) if notices is None else notices)
        ]
        return reconcile(scope or self.scope(case_id), answers)

    def history(self, case_id: str) -> list[dict[str, Any]]:
        """Return the case's events: who did what, when and why (those naming the case, and
        the answers to its notices, which name only their notice)."""
        self.case(case_id)
        notices = sorted(n.id.partition(":")[2] for n in self.notices(case_id))
        return [json.loads(e.payload) for e in self._store.recall_events_of(case_id, notices)]

    # -- exports -------------------------------------------------------------------------------

    def export_json(
        self, case_id: str, suppliers: Sequence[SupplierRequest] = ()
    ) -> dict[str, Any]:
        """Return everything about a case, JSON-ready (decimals as exact text).

        `suppliers` are the case's supplier requests and answers (api.supplier_portal).
        """
        # One scope and one read of the notices for all of it: under live ingest, reads made
        # twice could disagree (an answer counted in the reconciliation but not in its notice).
        case, scope, notices = self.case(case_id), self.scope(case_id), self.notices(case_id)
        reconciliation = self.reconciliation(case_id, scope, notices)
        now = now_text()
        body = {
            "case": asdict(case),
            "scope": {
                # `certain` as the CSV and the report say it: an exposure null is of unknown share.
                "items": [asdict(i) | {"certain": i.certain} for i in scope.items],
                "shipments": [asdict(s) for s in scope.shipments],
                "customers": scope.customers,
            },
            "notices": [asdict(n) for n in notices],
            "supplier_requests": [r.as_json(now) for r in suppliers],
            "shared_carts": [asdict(shared) for shared in self.shared_carts(case_id, scope)[1]],
            "reconciliation": _reconciliation(reconciliation),
        }
        dumped: dict[str, Any] = _plain(body)
        return dumped

    def epcis(self, case_id: str) -> dict[str, Any]:
        """Return the events behind the case's scope as an EPCIS 2.0 JSON-LD document."""
        scope = self.scope(case_id)
        return EpcisExporter(self._store).events_document({edge.event for edge in scope.edges})

    def report_html(self, case_id: str, suppliers: Sequence[SupplierRequest] = ()) -> str:
        """Return a printable report of the case with a picture of its scope's genealogy.

        `suppliers` are the case's supplier requests and answers (api.supplier_portal).
        """
        scope, notices = self.scope(case_id), self.notices(case_id)
        return render_report(
            self.case(case_id),
            scope,
            notices,
            self.reconciliation(case_id, scope, notices),
            self.shared_carts(case_id, scope)[1],
            # Fixed-width UTC text, as deadlines are stored: what is overdue compares with it.
            now_text(),
            suppliers,
        )

    # -- actions -------------------------------------------------------------------------------

    def open(
        self, case_id: str, title: str, reason: str, suspects: list[dict[str, str]], actor: str
    ) -> Case:
        """Open a case from one or more suspects (its key as the recall_open event takes it:
        no "/" and not "." or "..", as it is part of the case's web addresses)."""
        self._ingest.ingest(
            [
                _event(
                    "recall_open",
                    actor,
                    case=case_id,
                    title=title,
                    reason=reason,
                    suspects=suspects,
                )
            ]
        )
        return self.case(case_id)

    def rescope(
        self, case_id: str, suspects: list[dict[str, str]], reason: str, actor: str
    ) -> ScopeDiff:
        """Replace the suspects (narrow or widen the case) and report the change in scope."""
        before: list[Scope] = []

        def events_for(case: Case) -> list[dict[str, Any]]:
            before[:] = [self.scope(case_id)]
            return [_event("recall_scope", actor, case=case_id, suspects=suspects, reason=reason)]

        self._record(case_id, events_for, "scoped", reason, actor)
        return diff(before[0], self.scope(case_id))

    def hold(self, case_id: str, reason: str, actor: str) -> int:
        """Quarantine every in-plant item of the scope (status events); return how many.

        A `recall_hold` names in the case's history what the hold quarantined: the status
        events name no case, and a case already holding or notifying moves no more. A hold
        that finds nothing left to hold records nothing (beyond moving the case to holding).
        """
        targets: list[ScopeItem] = []
        # item -> when it came to be, or its latest status's date, after the server's clock
        ahead: dict[str, str] = {}
        status_ahead: dict[str, str] = {}  # item -> its latest status's date, if after it
        dated: dict[str, str] = {}  # item -> when this try quarantines it

        def events_for(case: Case) -> list[dict[str, Any]]:
            if case.state == "closed":
                # With nothing left to hold there is no event for the planner to refuse.
                raise _closed(case_id)
            for found in (ahead, status_ahead, dated):  # a try made again warns only of its own
                found.clear()
            targets[:] = self.scope(case_id).to_hold()
            if not targets:
                return []
            # An event is never dated before an item it names came to be (time_order): an item
            # recorded by a floor clock ahead of the server's is held at the time it came to
            # be, rather than the whole hold refused. The case's hold is dated after them all.
            # Beyond MAX_CLOCK_AHEAD an item's date is wrong, not skewed: the hold is refused
            # naming every such item (below), lest it follow the case's close.
            now = now_text()
            limit = utc_text(datetime.fromisoformat(now) + MAX_CLOCK_AHEAD)
            ids = [item.id for item in targets]
            made = {
                node: str(view.attrs.get("created_at") or "")
                for node, view in self._store.nodes(ids).items()
            }
            ahead.update((node, at) for node, at in made.items() if now < at <= limit)
            # A status dated after the quarantine would stay the item's status: the quarantine
            # is dated at it (of one instant the later event wins), within the skew a floor
            # clock may have; beyond it the date is wrong, and the hold is refused naming it.
            # Rows come by instant: the latest of each item is kept.
            status_ahead.update((r.gid, r.at) for r in self._store.status_rows(ids) if r.at > now)
            beyond = [(node, "came to be at", at) for node, at in made.items() if at > limit]
            beyond += [(node, "holds a status dated", at) for node, at in status_ahead.items()]
            if beyond := sorted(b for b in beyond if b[2] > limit):
                raise _dated_beyond(beyond)
            for node, at in status_ahead.items():
                ahead[node] = max(ahead.get(node, now), at)
            dated.update((item.id, ahead.get(item.id, now)) for item in targets)
            refs = [{item.kind: item.id.partition(":")[2]} for item in targets]
            why = _quarantine_reason(case_id, reason)
            held = [
                _event(
                    "status",
                    actor,
                    at=dated[item.id],
                    target=ref,
                    status="quarantined",
                    reason=why,
                )
                for item, ref in zip(targets, refs, strict=True)
            ]
            last = max(ahead.values(), default=now)
            held.append(
                _event("recall_hold", actor, at=last, case=case_id, reason=reason, items=refs)
            )
            return held

        def none_held_meanwhile(tx: WriteTx, events: Sequence[Event]) -> None:
            """Refuse to quarantine again what another hold (or a status) held meanwhile."""
            now = tx.items([item.id for item in targets])
            if any(found.status in HELD for found in now.values()):
                held = f'items of case "{case_id}" were held while this hold was made'
                raise _raced("held", held)
            if any(row.at > dated[row.gid] for row in tx.status_rows(sorted(dated))):
                dates = f'items of case "{case_id}" were given statuses dated after this hold'
                raise _raced("status_ahead", f"{dates} while it was made")

        self._record(case_id, events_for, "holding", reason, actor, also=none_held_meanwhile)
        for item, at in sorted(ahead.items()):
            what = "holds a status dated" if status_ahead.get(item) == at else "came to be at"
            log.warning(
                "recall case %r: %s %s %s, after the server's clock: held at that time",
                case_id,
                item,
                what,
                at,
            )
        return len(targets)

    def notify(self, case_id: str, message: str, actor: str) -> list[Notice]:
        """Send one notice to each customer the scope reached (once per customer)."""

        def events_for(case: Case) -> list[dict[str, Any]]:
            if case.state == "closed":
                # With every customer told (or none reached) there is no event for the planner
                # to refuse, and [] would read as "nobody left to tell".
                raise _closed(case_id)
            told = {n.customer for n in self.notices(case_id)}
            customers = [c for c in self.scope(case_id).customers if c not in told]
            ids = self._notice_ids(case_id, customers)
            return [
                _event(
                    "recall_notice",
                    actor,
                    case=case_id,
                    notice=ids[customer],
                    customer=customer,
                    message=message,
                )
                for customer in customers
            ]

        self._record(case_id, events_for, "notifying", "customers notified", actor)
        return self.notices(case_id)

    def _notice_ids(self, case_id: str, customers: Sequence[str]) -> dict[str, str]:
        """Name each customer's notice `{case}-{customer}`, unless another case's notice has
        that name ("RC-1" to "A-B" and "RC-1-A" to "B" both make "RC-1-A-B"): then `-2`, ...
        (a name too long for an id is cut, and ends in a digest of the whole: `_notice_name`).
        Nor does one customer take another's: "A-B" may be given "RC-1-A-B-2", the name of the
        notice to "A-B-2", which then takes the next free one."""
        ids: dict[str, str] = {}
        # Ten names per customer per round trip, all customers at once: a clash is rare, and
        # the store holds finitely many notices, so the count ends.
        for first in itertools.count(1, 10):
            names = {
                customer: [_notice_name(case_id, customer, n) for n in range(first, first + 10)]
                for customer in customers
                if customer not in ids
            }
            if not names:
                break
            taken = self._store.nodes([gid("notice", n) for tried in names.values() for n in tried])
            for customer, tried in names.items():
                given = set(ids.values())
                free = [n for n in tried if gid("notice", n) not in taken and n not in given]
                if free:
                    ids[customer] = free[0]
        return ids

    def _record(
        self,
        case_id: str,
        events_for: Callable[[Case], list[dict[str, Any]]],
        state: str,
        reason: str,
        actor: str,
        also: Guard | None = None,
    ) -> None:
        """Write an action on a case, with the state it moves the case to, as one batch.

        Both are made from the case as read; if another action moved the case, rescoped it
        (or sent its notices, or held its items: `also` checks what the case does not say)
        before this batch got the write lock, the batch is refused whole and made again from
        the case as it now is, so racing actions end as they would one after the other. One
        that closed it refuses the batch for good: a hold's status events name no case, so the
        case is read again under the write lock.
        """

        def write() -> None:
            view = self._case_view(case_id)  # read before `events_for` computes the scope
            case = Case.of(view)
            events = events_for(case)
            events += self._state_events(case_id, state, reason, actor, current=case.state)
            if events:
                guard = _still_open(case_id, view.attrs, also)
                self._ingest.ingest_events(parse_events(events), guard=guard)

        _retried(case_id, write)

    def acknowledge(
        self, notice_id: str, found: Decimal, returned: Decimal, note: str | None, actor: str
    ) -> Notice:
        """Record a customer's answer to a notice.

        The event refuses more returned than found, and more found than the case's scope shipped
        the customer (ingest.answers says against which scope); one refused because a rescope
        overtook the check is made again, against the new scope, as a case's actions are
        (`_record`).
        """
        fields: dict[str, Any] = {
            "notice": notice_id,
            "found_qty": str(found),
            "returned_qty": str(returned),
        }
        if note:
            fields["note"] = note
        told = self.notice(gid("notice", notice_id))

        def write() -> None:
            self._ingest.ingest_events(parse_events([_event("recall_ack", actor, **fields)]))

        # An answer moves no case: only a rescope overtakes what it was checked against.
        _retried(told.case, write, raced=frozenset({"rescoped"}))
        return self.notice(gid("notice", notice_id))  # the key as the event read it

    def close(self, case_id: str, reason: str, actor: str) -> IngestReport:
        """Close the case: its history stays, nothing more can change it."""
        return self._ingest.ingest(self._state_events(case_id, "closed", reason, actor))

    def _state_events(
        self, case_id: str, state: str, reason: str, actor: str, current: str | None = None
    ) -> list[dict[str, Any]]:
        order = ["open", "scoped", "holding", "notifying", "closed"]
        now = current or self.case(case_id).state
        if order.index(state) <= order.index(now) and state != "closed":
            return []  # already there (or past it): the action itself is still recorded
        return [_event("recall_state", actor, case=case_id, state=state, reason=reason)]


def _readings(kind: str, named: str) -> list[str]:
    """The node ids `named` may mean, in the order they are read: itself when it is an id of
    `kind` (as answers give them), then the id of the `kind` it is the key of."""
    return [named, gid(kind, named)] if named.startswith(f"{kind}:") else [gid(kind, named)]
