"""The scopes a batch's answers to recall notices are checked against.

A customer's answer (`recall_ack`) finds no more than its case's scope shipped them
(graph.recall.found_over_shipped). The scope is a trace of the graph, too slow to run under the
write lock, which every writer waits on: it is traced before the lock is taken, from the graph
as it then stands and the suspects the case stores. The planner checks each answer against the
scope of the suspects its case has when the answer is planned; a case rescoped meanwhile has
none here, and the answer is refused (`rescoped`), to be sent again. A case the batch itself
gives suspects (recall_open, recall_scope) before an answer is not traced: those suspects may
be items the batch makes, and the planner refuses an answer finding something after them
(`scoped_in_batch`), to be sent in a later batch, as it does one after a ship or void of its
batch (`shipped_in_batch`). A shipment recorded or voided meanwhile by another batch changes no
case and is not traced again.
"""

from __future__ import annotations

from collections.abc import Sequence

from graph.ids import gid
from graph.recall import Scope, compute_scope, parse_suspects
from graph.store import GraphStore
from graph.trace import TraceService
from ingest.models import Event, RecallAck, RecallNotice, RecallOpen, RecallScope, RecallState


def finds_anything(events: Sequence[Event]) -> bool:
    """Tell whether an answer of the batch finds something: one that finds none is never more
    than was shipped, and has no scope to trace."""
    return any(type(e) is RecallAck and e.found_qty for e in events)


def answer_scopes(store: GraphStore, events: Sequence[Event]) -> dict[str, Scope]:
    """Return the scope of each case's suspects (as the case stores them) that an answer of the
    batch finding something is checked against; none for a batch without one."""
    answers = [e for e in events if type(e) is RecallAck and e.found_qty]  # finds_anything's
    if not answers:
        return {}
    # One logged already is a duplicate, or a conflict: neither is planned. So is a case's
    # opening or rescoping logged already: a batch sent again whole is checked as sent apart.
    scoping = [e for e in events if type(e) is RecallOpen or type(e) is RecallScope]
    logged = store.logged(sorted({e.event_id for e in [*answers, *scoping]}))
    answers = [a for a in answers if a.event_id not in logged]
    if not answers:
        return {}
    notices = store.nodes(sorted({gid("notice", a.notice) for a in answers}))
    case_of = {e.notice: e.case for e in events if type(e) is RecallNotice}
    for notice in notices.values():
        case_of.setdefault(notice.gid.partition(":")[2], str(notice.attrs.get("case", "")))
    cases = store.nodes(sorted({gid("case", case) for case in case_of.values()}))
    # The suspects of each case as stored: a closed case has none to check against (its answers
    # are refused), nor has one the batch gives suspects before the answer.
    suspects = {
        case.gid.partition(":")[2]: str(case.attrs.get("suspects", "[]"))
        for case in cases.values()
        if case.attrs.get("state") != RecallState.CLOSED.value
    }
    wanted: set[str] = set()
    for event in events:
        if type(event) is RecallOpen or type(event) is RecallScope:
            if event.event_id not in logged:
                suspects.pop(event.case, None)
        elif type(event) is RecallAck and event.found_qty and event.event_id not in logged:
            case = case_of.get(event.notice)
            if case is not None and case in suspects:
                wanted.add(suspects[case])
    # A case's stored suspects stand as long as it does: a void of what made one is refused.
    traces = TraceService(store)
    return {text: compute_scope(traces, parse_suspects(text)) for text in sorted(wanted)}
