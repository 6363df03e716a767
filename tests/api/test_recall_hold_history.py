"""Every hold made from a case is in the case's history: who held what, when and why."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.deps import Services
from api.recall import HOLD_REASON_CUT, MAX_CLOCK_AHEAD, RecallService
from graph.clock import utc_text
from graph.recall import Scope
from graph.store import StatusRow
from ingest.errors import BatchRejected
from tests.api.conftest import login

# Two lots of one heat, the second found only after the case was held.
PLANT = [
    {"event_id": "E-1", "type": "receive", "occurred_at": "2026-03-02T08:00:00Z",
     "supplier": "ACME-STEEL", "supplier_lot": "H1", "part": "BAR", "lot": "L-1", "qty": "10"},
    {"event_id": "E-2", "type": "receive", "occurred_at": "2026-03-02T08:00:00Z",
     "supplier": "ACME-STEEL", "supplier_lot": "H9", "part": "BAR", "lot": "L-9", "qty": "5"},
]  # fmt: skip


@pytest.fixture
def recalls(services: Services) -> RecallService:
    services.ingest.ingest(PLANT)
    recalls = RecallService(services.store, services.ingest)
    recalls.open("RC-1", "Heat H1", "certificate withdrawn", [{"id": "lot:L-1"}], "ana")
    return recalls


def holds(history: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, str]]]]:
    return [(h["actor"], h["reason"], h["items"]) for h in history if h["type"] == "recall_hold"]


@pytest.mark.parametrize("state", ["holding", "notifying"])
def test_a_hold_after_a_widening_rescope_is_in_the_history(
    services: Services, recalls: RecallService, state: str
) -> None:
    assert recalls.hold("RC-1", "suspect heat", "ana") == 1
    if state == "notifying":
        recalls.notify("RC-1", "stop using", "ana")
    wider = [{"id": "lot:L-1"}, {"id": "lot:L-9"}]
    recalls.rescope("RC-1", wider, "heat H9 made from the same melt", "ana")
    assert recalls.case("RC-1").state == state  # the second hold moves the case no more
    assert recalls.hold("RC-1", "H9 too", "bob") == 1
    found = holds(recalls.history("RC-1"))
    assert found == [
        ("ana", "suspect heat", [{"lot": "L-1"}]),
        ("bob", "H9 too", [{"lot": "L-9"}]),
    ]
    # The history is the log's: a rebuild reads the same, and makes the case and its holds
    # again as they were.
    before = recalls.history("RC-1")
    services.ingest.rebuild()
    assert recalls.history("RC-1") == before
    assert recalls.case("RC-1").state == state
    assert services.store.node("lot:L-9").attrs["status"] == "quarantined"


@pytest.mark.parametrize("role", ["operator", "analyst"])
def test_a_hold_is_recorded_only_from_the_case(
    client: TestClient, services: Services, recalls: RecallService, role: str
) -> None:
    at = "2026-03-03T08:00:00Z"
    quarantine = {"event_id": "Q-1", "type": "status", "occurred_at": at, "reason": "bad cert",
                  "target": {"lot": "L-9"}, "status": "quarantined"}  # fmt: skip
    hold = {"event_id": "H-1", "type": "recall_hold", "occurred_at": at, "case": "RC-1",
            "reason": "H9 too", "items": [{"lot": "L-9"}]}  # fmt: skip
    sent = client.post("/api/v1/events", json=[quarantine, hold], headers=login(client, role))
    assert sent.status_code == 403, sent.text
    assert sent.json()["message"].startswith('event 1 ("H-1"), type: '), sent.text
    assert holds(recalls.history("RC-1")) == []
    assert "status" not in services.store.node("lot:L-9").attrs  # type: ignore[union-attr]


def test_a_hold_of_items_recorded_ahead_of_the_servers_clock_holds_them_all(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    # The floor's clock runs an hour ahead of the server's: L-2 came to be in the server's
    # future. Dated at the server's time, its quarantine would precede it (time_order), and the
    # whole hold, L-1 with it, would be refused.
    ahead = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    split = {"event_id": "E-3", "type": "split", "occurred_at": ahead.isoformat(), "lot": "L-1",
             "into": [{"lot": "L-2", "qty": "4"}]}  # fmt: skip
    services.ingest.ingest([*PLANT, split])
    recalls = RecallService(services.store, services.ingest)
    recalls.open("RC-1", "Heat H1", "certificate withdrawn", [{"id": "lot:L-1"}], "ana")
    with caplog.at_level(logging.WARNING, logger="tracegraph.recall"):
        assert recalls.hold("RC-1", "suspect heat", "ana") == 2
    for lot in ("lot:L-1", "lot:L-2"):
        assert services.store.node(lot).attrs["status"] == "quarantined"  # type: ignore[union-attr]
    made = utc_text(ahead)
    # L-2 is held at the time it came to be, L-1 at the server's; the case's hold after both.
    logged = [json.loads(e.payload) for e in services.store.events(0, 100)]
    held = {e["target"]["lot"]: e["occurred_at"] for e in logged if e["type"] == "status"}
    assert utc_text(datetime.fromisoformat(held["L-2"])) == made, held
    assert utc_text(datetime.fromisoformat(held["L-1"])) < made, held
    (hold,) = [h for h in recalls.history("RC-1") if h["type"] == "recall_hold"]
    assert utc_text(datetime.fromisoformat(hold["occurred_at"])) == made
    assert f"lot:L-2 came to be at {made}, after the server's clock" in caplog.text


def _split_at(services: Services, at: datetime) -> RecallService:
    """L-1 split at `at` (L-2 came to be then), and case RC-1 suspecting L-1."""
    split = {"event_id": "E-3", "type": "split", "occurred_at": at.isoformat(), "lot": "L-1",
             "into": [{"lot": "L-2", "qty": "4"}]}  # fmt: skip
    services.ingest.ingest([*PLANT, split])
    recalls = RecallService(services.store, services.ingest)
    recalls.open("RC-1", "Heat H1", "certificate withdrawn", [{"id": "lot:L-1"}], "ana")
    return recalls


def test_a_hold_that_held_nothing_in_the_end_warns_of_nothing(
    services: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The first try would hold L-2, ahead of the server's clock; both lots are quarantined
    # meanwhile (not by a hold), so the try made again holds nothing, and says nothing of L-2.
    ahead = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    recalls = _split_at(services, ahead)
    at = (ahead + timedelta(minutes=1)).isoformat()
    quarantine = [
        {"event_id": f"Q-{lot}", "type": "status", "occurred_at": at, "reason": "bad cert",
         "target": {"lot": lot}, "status": "quarantined"}
        for lot in ("L-1", "L-2")
    ]  # fmt: skip
    scope = RecallService.scope
    tries: list[int] = []

    def quarantined_meanwhile(self: RecallService, case_id: str) -> Scope:
        found = scope(self, case_id)
        if not tries:
            services.ingest.ingest(quarantine)
        tries.append(1)
        return found

    monkeypatch.setattr(RecallService, "scope", quarantined_meanwhile)
    with caplog.at_level(logging.WARNING, logger="tracegraph.recall"):
        assert recalls.hold("RC-1", "suspect heat", "ana") == 0
    assert len(tries) == 2
    assert recalls.case("RC-1").state == "holding"
    assert "after the server's clock" not in caplog.text, caplog.text


def test_a_hold_takes_a_floor_clock_up_to_a_day_ahead(
    services: Services,
) -> None:
    # Just inside the skew a hold takes, L-2 is held at the time it came to be.
    inside = (datetime.now(UTC) + MAX_CLOCK_AHEAD - timedelta(minutes=5)).replace(microsecond=0)
    recalls = _split_at(services, inside)
    assert recalls.hold("RC-1", "suspect heat", "ana") == 2
    (hold,) = [h for h in recalls.history("RC-1") if h["type"] == "recall_hold"]
    assert utc_text(datetime.fromisoformat(hold["occurred_at"])) == utc_text(inside)


@pytest.mark.parametrize("made", ["just beyond", "9999-12-31"])
def test_a_hold_of_an_item_dated_beyond_any_clock_skew_is_refused_naming_it(
    services: Services, made: str
) -> None:
    # A lot dated 9999-12-31 is a wrong date, not a clock running ahead: held at that time,
    # the case's hold would come after its close in its history. The hold is refused whole.
    beyond = datetime.now(UTC) + MAX_CLOCK_AHEAD + timedelta(minutes=5)
    recalls = _split_at(
        services, beyond if made == "just beyond" else datetime(9999, 12, 31, tzinfo=UTC)
    )
    with pytest.raises(BatchRejected) as refused:
        recalls.hold("RC-1", "suspect heat", "ana")
    codes = {(p.code, p.message.split(" came to be")[0]) for p in refused.value.problems}
    assert ("time_order", 'lot "L-2"') in codes, refused.value.problems
    assert holds(recalls.history("RC-1")) == []
    for lot in ("lot:L-1", "lot:L-2"):
        assert "status" not in services.store.node(lot).attrs  # type: ignore[union-attr]
    assert recalls.case("RC-1").state == "open"


def _released_at(services: Services, at: datetime) -> RecallService:
    """Case RC-1 suspecting L-1, quarantined on the floor, then released at `at`."""
    statuses = [
        {"event_id": "Q-1", "type": "status", "occurred_at": "2026-03-03T08:00:00Z",
         "target": {"lot": "L-1"}, "status": "quarantined", "reason": "bad cert"},
        {"event_id": "R-1", "type": "status", "occurred_at": at.isoformat(),
         "target": {"lot": "L-1"}, "status": "released", "reason": "cert found"},
    ]  # fmt: skip
    services.ingest.ingest([*PLANT, *statuses])
    recalls = RecallService(services.store, services.ingest)
    recalls.open("RC-1", "Heat H1", "certificate withdrawn", [{"id": "lot:L-1"}], "ana")
    return recalls


def test_a_hold_of_an_item_released_ahead_of_the_servers_clock_holds_it(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    # Released by a floor clock an hour ahead: a quarantine dated at the server's time would be
    # logged yet not become L-1's status, and the case would say it held a released lot.
    ahead = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    recalls = _released_at(services, ahead)
    with caplog.at_level(logging.WARNING, logger="tracegraph.recall"):
        assert recalls.hold("RC-1", "suspect heat", "ana") == 1
    assert services.store.node("lot:L-1").attrs["status"] == "quarantined"  # type: ignore[union-attr]
    (hold,) = [h for h in recalls.history("RC-1") if h["type"] == "recall_hold"]
    assert utc_text(datetime.fromisoformat(hold["occurred_at"])) == utc_text(ahead)
    made = utc_text(ahead)
    assert f"lot:L-1 holds a status dated {made}, after the server's clock" in caplog.text
    services.ingest.rebuild()
    assert services.store.node("lot:L-1").attrs["status"] == "quarantined"  # type: ignore[union-attr]


def test_a_hold_made_again_after_a_status_dated_ahead_came_meanwhile(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # L-1 is released by a floor clock ahead while the hold is made from its scope: the
    # hold's quarantine, dated before it, would not be L-1's status, so the hold is made again.
    ahead = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    recalls = _released_at(services, datetime(2026, 3, 4, tzinfo=UTC))
    release = {"event_id": "R-2", "type": "status", "occurred_at": ahead.isoformat(),
               "target": {"lot": "L-1"}, "status": "released", "reason": "again"}  # fmt: skip
    rows = services.store.status_rows
    tries: list[int] = []

    def released_meanwhile(gids: Sequence[str]) -> list[StatusRow]:
        found = rows(gids)
        if not tries:
            services.ingest.ingest([release])
        tries.append(1)
        return found

    monkeypatch.setattr(services.store, "status_rows", released_meanwhile)
    assert recalls.hold("RC-1", "suspect heat", "ana") == 1
    assert len(tries) == 2
    assert services.store.node("lot:L-1").attrs["status"] == "quarantined"  # type: ignore[union-attr]
    (hold,) = [h for h in recalls.history("RC-1") if h["type"] == "recall_hold"]
    assert utc_text(datetime.fromisoformat(hold["occurred_at"])) == utc_text(ahead)


def test_a_hold_of_an_item_whose_status_is_dated_beyond_any_clock_skew_is_refused(
    services: Services,
) -> None:
    beyond = (datetime.now(UTC) + MAX_CLOCK_AHEAD + timedelta(minutes=5)).replace(microsecond=0)
    recalls = _released_at(services, beyond)
    # And L-2 came to be as far ahead: each is named, so both are set right before a hold.
    split = {"event_id": "E-3", "type": "split", "occurred_at": beyond.isoformat(),
             "lot": "L-1", "into": [{"lot": "L-2", "qty": "4"}]}  # fmt: skip
    services.ingest.ingest([split])
    with pytest.raises(BatchRejected) as refused:
        recalls.hold("RC-1", "suspect heat", "ana")
    at = utc_text(beyond)
    assert [(p.code, p.message.split(", more than")[0]) for p in refused.value.problems] == [
        ("time_order", f'lot "L-1" holds a status dated {at}'),
        ("time_order", f'lot "L-2" came to be at {at}'),
    ]
    assert holds(recalls.history("RC-1")) == []
    assert services.store.node("lot:L-1").attrs["status"] == "released"  # type: ignore[union-attr]
    assert recalls.case("RC-1").state == "open"


@pytest.mark.parametrize("length", [1995, 2000])
def test_a_hold_takes_a_reason_up_to_its_limit_and_keeps_it_whole(
    services: Services, recalls: RecallService, length: int
) -> None:
    # Each item's quarantine names the case before the reason: a reason near the limit is cut
    # there (its status event's reason has the same limit), never refused, and the case's
    # recall_hold, which names the items, keeps it whole.
    reason = "x" * (length - 1) + "y"
    assert recalls.hold("RC-1", reason, "ana") == 1
    assert holds(recalls.history("RC-1")) == [("ana", reason, [{"lot": "L-1"}])]
    logged = [json.loads(e.payload) for e in services.store.events(0, 100)]
    (status,) = [e["reason"] for e in logged if e["type"] == "status"]
    assert len(status) == 2000, status
    assert status.startswith("recall case RC-1: xxx"), status
    assert status.endswith(HOLD_REASON_CUT), status
    assert services.store.node("lot:L-1").attrs["status"] == "quarantined"  # type: ignore[union-attr]


def test_a_hold_reason_that_fits_with_its_case_is_not_cut(
    services: Services, recalls: RecallService
) -> None:
    # "recall case RC-1: " and the reason make exactly the limit: kept whole.
    reason = "x" * (2000 - len("recall case RC-1: "))
    assert recalls.hold("RC-1", reason, "ana") == 1
    logged = [json.loads(e.payload) for e in services.store.events(0, 100)]
    assert [e["reason"] for e in logged if e["type"] == "status"] == [f"recall case RC-1: {reason}"]


def test_a_hold_reason_is_not_cut_between_a_letter_and_its_accents(
    services: Services, recalls: RecallService
) -> None:
    reason = "e\u0301" * 1000
    assert recalls.hold("RC-1", reason, "ana") == 1
    logged = [json.loads(e.payload) for e in services.store.events(0, 100)]
    (status,) = [e["reason"] for e in logged if e["type"] == "status"]
    kept = status.removesuffix(HOLD_REASON_CUT)
    assert kept != status and kept.endswith("e\u0301"), status[-60:]
