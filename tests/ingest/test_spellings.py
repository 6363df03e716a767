"""Times, dates and quantities in the spellings the contract documents, and no others."""

from __future__ import annotations

import sqlite3
from copy import deepcopy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from graph.embedded_store import EmbeddedStore
from ingest.canonical import digest_now, payload_and_digest
from ingest.demo_plant import DemoPlant
from ingest.errors import BatchRejected
from ingest.parse import EVENT_ADAPTER, parse_events
from ingest.service import IngestService
from ingest.times import read_time

AT = "2026-03-02T08:00:00Z"
RECEIVE = {
    "event_id": "R-1",
    "type": "receive",
    "occurred_at": AT,
    "supplier": "ACME",
    "supplier_lot": "A-1",
    "part": "BAR",
    "lot": "L-1",
    "qty": "500",
}
SUSPECT = {"id": "equipment:LATHE-1", "from": AT, "to": "2026-03-03T08:00:00Z"}
RECALL_OPEN = {
    "event_id": "C-1",
    "type": "recall_open",
    "occurred_at": AT,
    "case": "C-1",
    "title": "lathe",
    "reason": "drift",
    "suspects": [SUSPECT],
}
REQUEST = {
    "event_id": "Q-1",
    "type": "recall_supplier_request",
    "occurred_at": AT,
    "case": "C-1",
    "supplier": "ACME",
    "supplier_lot": "A-1",
    "question": "which heat?",
    "due_by": "2026-04-01T00:00:00Z",
}
ACK = {
    "event_id": "K-1",
    "type": "recall_ack",
    "occurred_at": AT,
    "notice": "N-1",
    "found_qty": "1",
    "returned_qty": 0,
}
ANSWER = {
    "event_id": "A-1",
    "type": "recall_supplier_answer",
    "occurred_at": AT,
    "case": "C-1",
    "supplier": "ACME",
    "supplier_lot": "A-1",
    "upstream": [{"lot": "H-1", "qty": "2.5", "made_on": "2026-01-02"}],
}


def _with(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `event` with the field at a dotted path (`suspects.0.from`) set to `value`."""
    copy = deepcopy(event)
    *parents, last = path.split(".")
    here: Any = copy
    for part in parents:
        here = here[int(part)] if isinstance(here, list) else here[part]
    here[last] = value
    return copy


@pytest.mark.parametrize(
    ("event", "path", "value", "field", "code"),
    [
        (RECEIVE, "occurred_at", 1700000000, "occurred_at", "datetime_parsing"),
        (RECEIVE, "occurred_at", "1700000000", "occurred_at", "datetime_parsing"),
        (RECEIVE, "occurred_at", 1.7e9, "occurred_at", "datetime_parsing"),
        (RECALL_OPEN, "suspects.0.from", "1700000000", "suspects[0].from", "datetime_parsing"),
        (REQUEST, "due_by", 1700000000, "due_by", "datetime_parsing"),
        (RECEIVE, "qty", "5_0", "qty", "decimal_parsing"),
        (RECEIVE, "qty", "\uff15", "qty", "decimal_parsing"),  # a full-width 5
        (RECEIVE, "qty", " 5", "qty", "decimal_parsing"),
        (ACK, "found_qty", "1_0", "found_qty", "decimal_parsing"),
        (RECEIVE, "expiry", "2026-01-01T00:00:00Z", "expiry", "date_parsing"),
        (RECEIVE, "expiry", 0, "expiry", "date_parsing"),
        (
            ANSWER,
            "upstream.0.made_on",
            "2026-01-02T00:00:00",
            "upstream[0].made_on",
            "date_parsing",
        ),
    ],
)
def test_a_spelling_the_contract_does_not_document_is_refused_by_name(
    event: dict[str, Any], path: str, value: Any, field: str, code: str
) -> None:
    with pytest.raises(BatchRejected) as refused:
        parse_events([_with(event, path, value)])
    (problem,) = refused.value.problems
    assert (problem.field, problem.code) == (field, code)
    assert event["event_id"] == problem.event_id


@pytest.mark.parametrize(
    ("path", "value", "read"),
    [
        ("qty", 12.5, Decimal("12.5")),
        ("qty", 12, Decimal(12)),
        ("qty", "1e2", Decimal(100)),
        ("qty", ".5", Decimal("0.5")),
        ("qty", Decimal("3"), Decimal(3)),
        ("occurred_at", "2026-03-02 09:00:00+01:00", datetime(2026, 3, 2, 8, tzinfo=UTC)),
        ("occurred_at", datetime(2026, 3, 2, 8, tzinfo=UTC), datetime(2026, 3, 2, 8, tzinfo=UTC)),
        ("expiry", "2027-01-31", date(2027, 1, 31)),
        ("expiry", date(2027, 1, 31), date(2027, 1, 31)),
    ],
)
def test_the_documented_spellings_are_read(path: str, value: Any, read: Any) -> None:
    (event,) = parse_events([_with(RECEIVE, path, value)])
    assert getattr(event, path) == read


def test_what_the_log_stores_reads_back_to_the_same_payload_and_digest() -> None:
    raw = [RECEIVE | {"expiry": "2027-01-31"}, RECALL_OPEN, REQUEST, ACK, ANSWER]
    for batch in DemoPlant(size=60, seed=3).batches(1000):
        raw.extend(batch)
    for event in parse_events(raw):
        payload, digest = payload_and_digest(event)
        assert payload_and_digest(EVENT_ADAPTER.validate_json(payload)) == (payload, digest)


SPELLED = 'a time is RFC 3339 text with its offset, such as "2026-03-02T08:10:00+01:00"'


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2016-12-31T23:59:60Z", "leap seconds (23:59:60) are not read"),
        ("2026-03-02T24:00:00Z", "24:00:00 is written 00:00:00 of the next day"),
        ("2026-02-29T10:00:00Z", "February 2026 has no day 29: its days run from 01 to 28"),
        ("2026-04-31T10:00:00+02:00", "April 2026 has no day 31: its days run from 01 to 30"),
        ("2026-13-02T10:00:00Z", "months run from 01 to 12, not 13"),
        ("0000-03-02T10:00:00Z", "years run from 0001 to 9999"),
        ("2026-03-02T25:00:00Z", "hours run from 00 to 23, not 25"),
        ("2026-03-02T10:60:00Z", "minutes run from 00 to 59, not 60"),
        ("2026-03-02T10:00:61Z", "seconds run from 00 to 59, not 61"),
        ("2026-03-02T08:00:00+05", None),
        ("2026-03-02T08:00:00+05:45:30", None),
        ("2026-03-02T08:00:00+24:00", None),
        ("2026-03-02T08:00:00Z ", None),
        ("2026-03-02T08:00:00+01:00[Europe/Paris]", None),
        ("2026-03-02T08:00:00 Europe/Paris", None),
    ],
)
def test_a_time_spelled_otherwise_is_refused_with_the_documented_code(
    value: str, why: str | None
) -> None:
    for event, path, field in (
        (RECEIVE, "occurred_at", "occurred_at"),
        (RECALL_OPEN, "suspects.0.to", "suspects[0].to"),
    ):
        with pytest.raises(BatchRejected) as refused:
            parse_events([_with(event, path, value)])
        (problem,) = refused.value.problems
        assert (problem.field, problem.code) == (field, "datetime_parsing")
        assert problem.message == (SPELLED if why is None else f"{SPELLED}; {why}")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2026-02-29", "; February 2026 has no day 29: its days run from 01 to 28"),
        ("2028-02-30", "; February 2028 has no day 30: its days run from 01 to 29"),
        ("2026-00-10", "; months run from 01 to 12, not 00"),
        ("2026-03-1x", ""),
    ],
)
def test_a_day_the_calendar_lacks_is_refused_as_a_date_saying_why(value: str, why: str) -> None:
    with pytest.raises(BatchRejected) as refused:
        parse_events([_with(RECEIVE, "expiry", value)])
    (problem,) = refused.value.problems
    assert (problem.field, problem.code) == ("expiry", "date_parsing")
    assert problem.message == f'a date is written YYYY-MM-DD, such as "2026-03-02"{why}'


def test_a_time_outside_an_event_says_which_number_is_out_of_range() -> None:
    # trace's as_of, a GraphQL window's from and to, each CLI option read times so.
    with pytest.raises(ValueError, match="February 2026 has no day 29") as refused:
        read_time("2026-02-29T10:00:00Z")
    assert str(refused.value).startswith(SPELLED)


@pytest.mark.parametrize("offset", ["+14:30", "-14:01", "+23:59"])
def test_a_time_outside_an_event_at_an_offset_no_event_takes_is_refused(offset: str) -> None:
    # Each CLI option, GraphQL's DateTime and EPCIS documents read times so.
    with pytest.raises(ValueError, match=r"^an offset is at most 14:00 from UTC either way$"):
        read_time(f"2026-03-02T10:00:00{offset}")
    assert read_time("2026-03-02T10:00:00-14:00").utcoffset() == -timedelta(hours=14)


def test_a_time_without_an_offset_keeps_its_own_code() -> None:
    with pytest.raises(BatchRejected) as refused:
        parse_events([_with(RECEIVE, "occurred_at", "2026-03-02T08:00:00")])
    (problem,) = refused.value.problems
    assert (problem.field, problem.code) == ("occurred_at", "timezone_aware")


# What ISO 8601 and pydantic read, and RFC 3339 (and so EPCIS's xsd:dateTime) does not write.
NO_SECONDS = 'a time of day is written with its seconds: "08:10:00", not "08:10"'
NOT_RFC_3339 = [
    ("2026-03-02T08:10:00+0545", 'an offset is written with its colon: "+05:45", not "+0545"'),
    ("2026-03-02T08:10:00.5-0000", 'an offset is written with its colon: "-00:00", not "-0000"'),
    ("2026-03-02T08:10+01:00", NO_SECONDS),
    ("2026-03-02 08:10Z", NO_SECONDS),
    ("2026-03-02T08:10:00,25Z", 'a fraction of a second follows a point: ".25", not ",25"'),
]


@pytest.mark.parametrize(("value", "why"), NOT_RFC_3339)
def test_a_time_rfc_3339_does_not_write_is_refused_by_name_and_writes_nothing(
    tmp_path: Path, value: str, why: str
) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    try:
        for event, path, field in (
            (RECEIVE, "occurred_at", "occurred_at"),
            (RECALL_OPEN, "suspects.0.from", "suspects[0].from"),
            (REQUEST, "due_by", "due_by"),
        ):
            with pytest.raises(BatchRejected) as refused:
                IngestService(store).ingest([_with(event, path, value)])
            (problem,) = refused.value.problems
            assert (problem.field, problem.code) == (field, "datetime_parsing")
            assert problem.message == f"{SPELLED}; {why}"
        assert store.counts()["events"] == 0
    finally:
        store.close()


@pytest.mark.parametrize(("value", "why"), NOT_RFC_3339)
def test_a_time_outside_an_event_that_rfc_3339_does_not_write_is_refused(
    value: str, why: str
) -> None:
    # Each CLI option, REST's and GraphQL's time parameters and EPCIS documents read times so.
    with pytest.raises(ValueError) as refused:
        read_time(value)
    assert str(refused.value) == f"{SPELLED}; {why}"


@pytest.mark.parametrize(
    "value",
    ["2026-03-02t08:10:00z", "2026-03-02 08:10:00.123456789+05:45", "2026-03-02T08:10:00-00:00"],
)
def test_the_spellings_rfc_3339_lets_an_application_take_are_read(value: str) -> None:
    # Its section 5.6: "t" and "z" in lower case, a space for the T, any number of decimals.
    assert parse_events([_with(RECEIVE, "occurred_at", value)])[0].occurred_at == read_time(value)


def test_a_log_holding_a_time_rfc_3339_does_not_write_still_rebuilds(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    step = {
        "event_id": "P-1",
        "type": "process",
        "occurred_at": "2026-03-02T09:00:00Z",
        "started_at": "2026-03-02T08:30:00Z",
        "step": "S-1",
        "operation": "turn",
        "inputs": [{"lot": "L-1", "qty": "1"}],
    }
    service.ingest([RECEIVE, step])
    # The service logs every time as RFC 3339 writes it; a log holding the same instants as
    # ISO 8601 writes them (one put together by hand) still replays: the rule is for senders.
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        for event_id, field, value in (
            ("R-1", "occurred_at", "2026-03-02T13:45+0545"),
            ("P-1", "started_at", "2026-03-02T08:30:00,000Z"),
        ):
            conn.execute(
                "UPDATE events SET payload = json_set(payload, ?, ?) WHERE event_id = ?",
                (f"$.{field}", value, event_id),
            )
    assert service.rebuild() == 2
    lot = store.node("lot:L-1")
    assert lot is not None and lot.attrs["created_at"] == "2026-03-02T08:00:00.000000Z"
    # Read back, each is the event sent: a resend of it is a duplicate.
    assert [digest_now(stored.payload) for stored in store.events(0, 10)] == [
        payload_and_digest(event)[1] for event in parse_events([RECEIVE, step])
    ]
    assert service.ingest([RECEIVE, step]).duplicates == 2
    store.close()
