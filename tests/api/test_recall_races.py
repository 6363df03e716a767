"""Recall actions on one case at once end as they would one after the other.

Each race is played out in order: the first action stops at its slow step (computing the scope),
the second runs whole meanwhile, then the first goes on from what it had read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

import api.recall
import ingest.answers
from api.deps import Services
from api.recall import RACE_RETRIES, CaseBusy, RecallService
from graph.recall import Scope, compute_scope
from graph.trace import TraceService
from ingest.errors import BatchRejected

# A lot whose screws went to two hospitals, and another lot that went to a third.
PLANT = [
    {"event_id": "E-1", "type": "receive", "occurred_at": "2026-03-02T08:00:00Z",
     "supplier": "ACME-STEEL", "supplier_lot": "H1", "part": "BAR", "lot": "L-1", "qty": "10"},
    {"event_id": "E-2", "type": "ship", "occurred_at": "2026-03-02T10:00:00Z", "shipment": "SH-1",
     "customer": "HOSP-NORTH", "items": [{"lot": "L-1", "qty": "2"}]},
    {"event_id": "E-3", "type": "ship", "occurred_at": "2026-03-02T11:00:00Z", "shipment": "SH-2",
     "customer": "HOSP-EAST", "items": [{"lot": "L-1", "qty": "3"}]},
    {"event_id": "E-4", "type": "receive", "occurred_at": "2026-03-02T08:00:00Z",
     "supplier": "ACME-STEEL", "supplier_lot": "H2", "part": "BAR", "lot": "L-2", "qty": "10"},
    {"event_id": "E-5", "type": "ship", "occurred_at": "2026-03-02T12:00:00Z", "shipment": "SH-3",
     "customer": "HOSP-WEST", "items": [{"lot": "L-2", "qty": "4"}]},
]  # fmt: skip


@pytest.fixture
def recalls(services: Services) -> RecallService:
    services.ingest.ingest(PLANT)
    recalls = RecallService(services.store, services.ingest)
    recalls.open("RC-1", "Heat H1", "certificate withdrawn", [{"id": "lot:L-1"}], "ana")
    return recalls


def while_scoping(
    monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], Any], where: ModuleType = api.recall
) -> list[Any]:
    """Run `meanwhile` once, inside the next scope computation `where` makes (a case's
    actions; ingest.answers for an answer); return what it returned."""
    done: list[Any] = []
    started: list[bool] = []

    def slow_scope(traces: TraceService, suspects: Sequence[dict[str, str]]) -> Scope:
        found = compute_scope(traces, suspects)
        if not started:
            started.append(True)
            done.append(meanwhile())
        return found

    monkeypatch.setattr(where, "compute_scope", slow_scope)
    return done


def test_two_notifies_at_once_tell_each_customer_once(
    services: Services, recalls: RecallService, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = RecallService(services.store, services.ingest)
    first = while_scoping(monkeypatch, lambda: other.notify("RC-1", "stop using", "bob"))
    second = recalls.notify("RC-1", "stop using", "ana")
    assert second == first[0]
    assert sorted((n.id, n.customer) for n in second) == [
        ("notice:RC-1-HOSP-EAST", "HOSP-EAST"),
        ("notice:RC-1-HOSP-NORTH", "HOSP-NORTH"),
    ]
    told = [e for e in recalls.history("RC-1") if e["type"] == "recall_notice"]
    assert len(told) == 2


def test_a_hold_racing_a_close_holds_nothing(
    services: Services, recalls: RecallService, monkeypatch: pytest.MonkeyPatch
) -> None:
    recalls.notify("RC-1", "stop using", "ana")  # past holding: the hold moves the case no more
    other = RecallService(services.store, services.ingest)
    while_scoping(monkeypatch, lambda: other.close("RC-1", "all answered", "bob"))
    with pytest.raises(BatchRejected) as refused:
        recalls.hold("RC-1", "suspect heat", "ana")
    assert [(p.field, p.code) for p in refused.value.problems] == [("case", "case_closed")]
    assert [e.type for e in services.store.events(0, 100)][-1] == "recall_state"
    assert services.store.node("lot:L-1").attrs.get("status") != "quarantined"  # type: ignore[union-attr]


def _narrowed_meanwhile(
    services: Services, recalls: RecallService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Open RC-2 on both lots; the next scope computed is of both, and L-2 is cleared meanwhile."""
    both = [{"id": "lot:L-1"}, {"id": "lot:L-2"}]
    recalls.open("RC-2", "Heats H1, H2", "certificates withdrawn", both, "ana")
    other = RecallService(services.store, services.ingest)
    narrow = [{"id": "lot:L-1"}]
    while_scoping(monkeypatch, lambda: other.rescope("RC-2", narrow, "H2 cleared", "bob"))


def test_a_notify_racing_a_narrowing_rescope_tells_only_who_the_new_scope_reaches(
    services: Services, recalls: RecallService, monkeypatch: pytest.MonkeyPatch
) -> None:
    _narrowed_meanwhile(services, recalls, monkeypatch)
    sent = recalls.notify("RC-2", "stop using", "ana")
    assert sorted(n.customer for n in sent) == ["HOSP-EAST", "HOSP-NORTH"]
    assert recalls.case("RC-2").state == "notifying"


def test_a_hold_racing_a_narrowing_rescope_holds_only_the_new_scope(
    services: Services, recalls: RecallService, monkeypatch: pytest.MonkeyPatch
) -> None:
    _narrowed_meanwhile(services, recalls, monkeypatch)
    assert recalls.hold("RC-2", "suspect heat", "ana") == 1
    lots = services.store.nodes(["lot:L-1", "lot:L-2"])
    assert {gid: lot.attrs.get("status") for gid, lot in lots.items()} == {
        "lot:L-1": "quarantined",
        "lot:L-2": None,
    }
    assert recalls.case("RC-2").state == "holding"


def test_a_rescope_racing_a_notify_is_made_again_from_the_moved_case(
    services: Services, recalls: RecallService, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = RecallService(services.store, services.ingest)
    state_events = RecallService._state_events
    started: list[bool] = []

    def then_notify(self: RecallService, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        found = state_events(self, *args, **kwargs)  # made from the case still "open"
        if not started:
            started.append(True)
            other.notify("RC-1", "stop using", "bob")
        return found

    monkeypatch.setattr(RecallService, "_state_events", then_notify)
    changed = recalls.rescope("RC-1", [{"id": "lot:L-1"}, {"id": "lot:L-2"}], "H2 too", "ana")
    assert changed.added == ["lot:L-2"]
    assert recalls.case("RC-1").state == "notifying"
    assert [s["id"] for s in recalls.case("RC-1").suspects] == ["lot:L-1", "lot:L-2"]


QUARANTINE = {"event_id": "E-Q", "type": "status", "occurred_at": "2026-03-03T08:00:00Z",
              "target": {"lot": "L-1"}, "status": "quarantined", "reason": "bad cert"}  # fmt: skip


@pytest.mark.parametrize("before", ["open", "notifying", "quarantined"])
def test_two_holds_at_once_hold_once(
    services: Services, recalls: RecallService, monkeypatch: pytest.MonkeyPatch, before: str
) -> None:
    if before == "notifying":
        recalls.notify("RC-1", "stop using", "ana")  # the holds move the case no more
    if before == "quarantined":
        services.ingest.ingest([QUARANTINE])  # the holds quarantine nothing, but move the case
    other = RecallService(services.store, services.ingest)
    first = while_scoping(monkeypatch, lambda: other.hold("RC-1", "suspect heat", "bob"))
    assert recalls.hold("RC-1", "suspect heat", "ana") == 0
    assert first == [0 if before == "quarantined" else 1]
    logged = [(e.type, json.loads(e.payload)) for e in services.store.events(0, 100)]
    held = [body["event_id"] for kind, body in logged if kind == "status"]
    assert len(held) == 1
    moved = [body["state"] for kind, body in logged if kind == "recall_state"]
    assert moved == (["notifying"] if before == "notifying" else ["holding"])


def test_an_action_whose_case_changes_at_every_try_is_a_conflict_that_did_nothing(
    services: Services, recalls: RecallService, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = RecallService(services.store, services.ingest)
    scope = RecallService.scope
    suspects = [[{"id": "lot:L-1"}, {"id": "lot:L-2"}], [{"id": "lot:L-1"}]]
    rescopes: list[int] = []

    def rescoped_each_time(self: RecallService, case_id: str) -> Scope:
        found = scope(self, case_id)
        if self is recalls:  # each try of the hold is overtaken by another rescope
            rescopes.append(1)
            other.rescope("RC-1", suspects[len(rescopes) % 2], "new findings", "bob")
        return found

    monkeypatch.setattr(RecallService, "scope", rescoped_each_time)
    with pytest.raises(CaseBusy) as busy:
        recalls.hold("RC-1", "suspect heat", "ana")
    assert (busy.value.status_code, busy.value.code) == (409, "case_busy")
    assert "rescoped" in busy.value.message and "nothing was done" in busy.value.message
    assert len(rescopes) == RACE_RETRIES
    assert services.store.node("lot:L-1").attrs.get("status") != "quarantined"  # type: ignore[union-attr]


def test_an_answer_is_checked_against_the_scope_a_rescope_left(
    services: Services, recalls: RecallService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HOSP-EAST was shipped 3 of L-1 and 1 of L-2: 4 found is all of it while the case suspects
    # both, and too many once a rescope, made while the answer is checked, leaves L-1 alone.
    services.ingest.ingest(
        [{"event_id": "E-6", "type": "ship", "occurred_at": "2026-03-02T13:00:00Z",
          "shipment": "SH-4", "customer": "HOSP-EAST", "items": [{"lot": "L-2", "qty": "1"}]}]
    )  # fmt: skip
    recalls.rescope("RC-1", [{"id": "lot:L-1"}, {"id": "lot:L-2"}], "H2 too", "ana")
    recalls.notify("RC-1", "stop using", "ana")
    narrow = [{"id": "lot:L-1"}]
    while_scoping(
        monkeypatch,
        lambda: recalls.rescope("RC-1", narrow, "only H1", "ana"),
        where=ingest.answers,
    )
    with pytest.raises(BatchRejected) as refused:
        recalls.acknowledge("RC-1-HOSP-EAST", Decimal(4), Decimal(0), None, "east")
    assert refused.value.what_was_wrong.startswith(
        '4 found is more than the 3 shipped to company "HOSP-EAST"'
    ), refused.value
    (east,) = (n for n in recalls.notices("RC-1") if n.customer == "HOSP-EAST")
    assert east.state == "sent"
