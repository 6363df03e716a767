"""An event logged before a rule for events sent came in, sent again unchanged, is a duplicate.

A client that retries across an upgrade resends what an older release logged: the rule holds
for events not yet logged, and the resend is acknowledged as the event it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graph.embedded_store import EmbeddedStore
from ingest.errors import BatchRejected
from ingest.parse import EVENT_ADAPTER, parse_events
from ingest.service import IngestService

RECEIVE = {
    "event_id": "R-1",
    "type": "receive",
    "occurred_at": "2026-03-02T13:45:00+05:45",
    "supplier": "ACME",
    "supplier_lot": "A-1",
    "part": "BAR",
    "lot": "L-1",
    "qty": "500",
}
NEW = {**RECEIVE, "event_id": "R-2", "lot": "L-2", "occurred_at": "2026-03-02T09:00:00Z"}
# What an older release logged and this one refuses in an event sent (ingest.times.SENT,
# ingest.models): an offset without its colon, no seconds, a comma fraction, an id that is not
# printable.
BEFORE_THE_RULES = {
    "offset without colon": {"occurred_at": "2026-03-02T13:45:00+0545"},
    "no seconds": {"occurred_at": "2026-03-02T13:45+05:45"},
    "comma fraction": {"occurred_at": "2026-03-02T13:45:00,000+05:45"},
    "id not printable": {"event_id": "R-1\u2028", "lot": "L-1\u00a0"},
}


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = EmbeddedStore(tmp_path / "plant.db")
    yield opened
    opened.close()


def logged_as_before(store: EmbeddedStore, *raw: dict[str, Any]) -> None:
    """Log events as a release before the rules for events sent did: read as the log reads."""
    IngestService(store).ingest_events([EVENT_ADAPTER.validate_python(event) for event in raw])


def refusal_of(raw: list[dict[str, Any]]) -> list[Any]:
    """The problems the contract names in `raw` sent to a store that logged none of it."""
    with pytest.raises(BatchRejected) as refused:
        parse_events(raw)
    return refused.value.problems


def log_of(store: EmbeddedStore) -> list[tuple[str, str]]:
    return [(event.event_id, event.payload) for event in store.events(0, 100)]


@pytest.mark.parametrize("spelled", BEFORE_THE_RULES.values(), ids=BEFORE_THE_RULES.keys())
def test_an_event_logged_before_a_rule_and_resent_unchanged_is_a_duplicate(
    store: EmbeddedStore, spelled: dict[str, Any]
) -> None:
    old = RECEIVE | spelled
    assert refusal_of([old])  # refused, sent now to a store that never logged it
    logged_as_before(store, old)
    log, counts = log_of(store), store.counts()
    report = IngestService(store).ingest([old])
    assert report.to_dict() == {
        "created": 0,
        "duplicates": 1,
        "results": [{"event_id": old["event_id"], "status": "duplicate"}],
    }
    assert (log_of(store), store.counts()) == (log, counts)


def test_a_resend_beside_new_events_is_a_duplicate_and_they_are_created(
    store: EmbeddedStore,
) -> None:
    old = RECEIVE | BEFORE_THE_RULES["offset without colon"]
    logged_as_before(store, old)
    ((_, payload),) = log_of(store)
    assert '"occurred_at":"2026-03-02T13:45:00+05:45"' in payload  # as RFC 3339 writes it
    # Sent as first sent, or as the log holds it: the same event.
    report = IngestService(store).ingest([NEW, old, RECEIVE])
    assert [(r.event_id, r.status) for r in report.results] == [
        ("R-2", "created"),
        ("R-1", "duplicate"),
        ("R-1", "duplicate"),
    ]
    assert [event_id for event_id, _ in log_of(store)] == ["R-1", "R-2"]


def test_an_id_logged_with_other_content_keeps_the_refusal_of_the_rule(
    store: EmbeddedStore,
) -> None:
    old = RECEIVE | BEFORE_THE_RULES["offset without colon"]
    logged_as_before(store, old)
    log = log_of(store)
    assert IngestService(store).ingest([old]).duplicates == 1
    # Another time, and one at an offset no event takes (it has no digest to compare).
    for occurred_at in ("2026-03-02T13:46:00+0545", "2026-03-02T23:00:00+1500"):
        changed = RECEIVE | {"occurred_at": occurred_at}
        with pytest.raises(BatchRejected) as refused:
            IngestService(store).ingest([changed])
        assert refused.value.status_code == 422
        assert refused.value.problems == refusal_of([changed])
    assert log_of(store) == log


@pytest.mark.parametrize(
    "others",
    [
        # Another event the rule refuses, not logged: the batch is refused as before.
        [NEW | {"occurred_at": "2026-03-02T09:00+00:00"}],
        # An event refused by a rule for every event (a quantity of zero).
        [NEW | {"qty": "0"}],
        # Another event the rule refuses, whose id is logged with other content.
        [RECEIVE | {"event_id": "R-0", "occurred_at": "2026-03-02T09:00+00:00"}],
    ],
    ids=["not logged", "invalid", "conflicting"],
)
def test_a_batch_with_other_refused_events_is_refused_whole_as_before(
    store: EmbeddedStore, others: list[dict[str, Any]]
) -> None:
    old = RECEIVE | BEFORE_THE_RULES["offset without colon"]
    logged_as_before(store, old, RECEIVE | {"event_id": "R-0", "lot": "L-0"})
    log = log_of(store)
    batch = [NEW | {"event_id": "R-3", "lot": "L-3"}, old, *others]
    with pytest.raises(BatchRejected) as refused:
        IngestService(store).ingest(batch)
    assert refused.value.status_code == 422
    assert refused.value.problems == refusal_of(batch)
    assert log_of(store) == log
    # Without them, the batch is written.
    assert IngestService(store).ingest(batch[:2]).to_dict()["created"] == 1


def test_a_resend_that_also_breaks_a_rule_of_the_graph_is_refused_for_it(
    store: EmbeddedStore,
) -> None:
    # The resend is let past the rule for events sent; the new event beside it is checked
    # against the graph as ever.
    logged_as_before(store, RECEIVE | BEFORE_THE_RULES["offset without colon"])
    with pytest.raises(BatchRejected) as refused:
        IngestService(store).ingest(
            [RECEIVE | BEFORE_THE_RULES["offset without colon"], NEW | {"lot": "L-1"}]
        )
    assert [(p.index, p.code) for p in refused.value.problems] == [(1, "exists")]


def test_a_case_logged_with_half_a_window_on_a_lot_is_read_and_its_resend_a_duplicate(
    store: EmbeddedStore,
) -> None:
    opened = {
        "event_id": "RC-1-OPEN",
        "type": "recall_open",
        "occurred_at": "2026-03-03T09:00:00Z",
        "case": "RC-1",
        "title": "t",
        "reason": "r",
        "suspects": [{"id": "lot:L-1", "from": "2026-03-01T00:00:00Z"}],
    }
    assert refusal_of([opened])
    logged_as_before(store, RECEIVE, opened)
    log = log_of(store)
    report = IngestService(store).ingest([opened])
    assert [(r.event_id, r.status) for r in report.results] == [("RC-1-OPEN", "duplicate")]
    assert log_of(store) == log
