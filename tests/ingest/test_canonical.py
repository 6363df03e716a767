"""Payload and digest are what the standard encoder writes, so stored digests stay valid."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from ingest.canonical import payload_and_digest
from ingest.errors import BatchRejected
from ingest.parse import EVENT_ADAPTER, parse_events

PROCESS: dict[str, Any] = {
    "event_id": "EV-1",
    "type": "process",
    "occurred_at": "2026-01-05T08:24:00+02:00",
    "actor": "dara",
    "step": "S1",
    "operation": "cut",
    "started_at": "2026-01-05T06:22:00Z",
    "finished_at": "2026-01-05T07:53:00.250+01:00",
    "inputs": [{"lot": "L1", "qty": "2.50"}],
    "outputs": [{"lot": "L1-C", "part": "BLANK", "qty": "10.0"}],
}


def _expected(raw: dict[str, Any], utc: dict[str, str]) -> tuple[str, str]:
    """Encode the payload and the digest body each on its own, the definition of both."""
    (event,) = parse_events([raw])
    body = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
    stored = encode(body)
    digest = hashlib.sha256(encode(body | utc).encode()).hexdigest()
    return stored, digest


def test_stored_payload_keeps_offsets_and_digest_reads_utc() -> None:
    (event,) = parse_events([PROCESS])
    stored, digest = payload_and_digest(event)
    assert json.loads(stored)["occurred_at"] == "2026-01-05T08:24:00+02:00"
    assert json.loads(stored)["inputs"] == [{"lot": "L1", "qty": "2.5"}]
    utc = {
        "occurred_at": "2026-01-05T06:24:00.000000Z",
        "started_at": "2026-01-05T06:22:00.000000Z",
        "finished_at": "2026-01-05T06:53:00.250000Z",
    }
    assert (stored, digest) == _expected(PROCESS, utc)


def test_same_instant_in_another_offset_has_the_same_digest() -> None:
    shifted = PROCESS | {"occurred_at": "2026-01-05T06:24:00Z"}
    first = payload_and_digest(parse_events([PROCESS])[0])
    second = payload_and_digest(parse_events([shifted])[0])
    assert first[1] == second[1]
    assert first[0] != second[0]


def test_an_offset_of_minus_zero_is_kept_as_sent_and_digested_as_utc() -> None:
    # RFC 3339's "-00:00" (UTC, the local offset not said) is what EPCIS may send as an
    # eventTimeZoneOffset: the payload keeps it, for an export to give it back.
    utc, unknown = (
        PROCESS | {"occurred_at": f"2026-01-05T06:24:00{offset}"} for offset in ("Z", "-00:00")
    )
    stored = [payload_and_digest(parse_events([raw])[0]) for raw in (utc, unknown)]
    assert [json.loads(payload)["occurred_at"] for payload, _ in stored] == [
        "2026-01-05T06:24:00Z",
        "2026-01-05T06:24:00-00:00",
    ]
    assert len({digest for _, digest in stored}) == 1
    # As logged, it reads back the same; so does a logged "-0000" (sent, it is refused).
    assert payload_and_digest(EVENT_ADAPTER.validate_json(stored[1][0])) == stored[1]
    colonless = json.dumps(unknown | {"occurred_at": "2026-01-05T06:24:00-0000"})
    assert payload_and_digest(EVENT_ADAPTER.validate_json(colonless)) == stored[1]


def test_text_that_needs_escaping_is_written_as_the_standard_encoder_writes_it() -> None:
    raw = {
        "event_id": 'EV-2 "quoted" \\ é 😀',
        "type": "status",
        "occurred_at": "2026-01-05T08:00:00+01:00",
        "actor": "dara",
        "note": "".join(chr(code) for code in range(0x20)) + "\x7f\u2028\u2029\ufeff\U0010ffff",
        "target": {"lot": "L1"},
        "status": "quarantined",
        "reason": "\x00occurred_at",
    }
    (event,) = parse_events([raw])
    assert payload_and_digest(event) == _expected(
        raw, {"occurred_at": "2026-01-05T07:00:00.000000Z"}
    )


def test_floats_and_large_integers_in_parameters_are_written_as_the_standard_encoder_does() -> None:
    raw = PROCESS | {"params": {"feed": 1e-07, "speed": 1e16, "count": 2**70, "ok": True}}
    utc = {
        "occurred_at": "2026-01-05T06:24:00.000000Z",
        "started_at": "2026-01-05T06:22:00.000000Z",
        "finished_at": "2026-01-05T06:53:00.250000Z",
    }
    stored, digest = payload_and_digest(parse_events([raw])[0])
    assert '"feed":1e-07' in stored
    assert (stored, digest) == _expected(raw, utc)


def test_only_process_parameters_can_hold_numbers_other_than_bounded_integers() -> None:
    # payload_and_digest writes every other event with orjson, which spells some floats unlike
    # the standard encoder: a new float field must take the standard path too.
    schema = EVENT_ADAPTER.json_schema(mode="serialization", by_alias=True)
    assert sorted(_number_places(schema)) == [
        "$defs/Process/properties/params/anyOf/0/additionalProperties/anyOf/2"
    ]


def _number_places(node: Any, path: str = "") -> list[str]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "number":
            found.append(path.lstrip("/"))
        for key, value in node.items():
            found += _number_places(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _number_places(value, f"{path}/{index}")
    return found


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_parameters_are_json_numbers_not_nan_or_infinity(value: float) -> None:
    # json.loads reads NaN, Infinity and 1e400 into these; stored, no JSON reader could read them.
    with pytest.raises(BatchRejected) as refused:
        parse_events([PROCESS | {"params": {"feed": value}}])
    (problem,) = refused.value.problems
    assert problem.field == "params" and '"feed"' in problem.message and "finite" in problem.message


def test_a_recall_time_of_minus_zero_is_kept_as_sent() -> None:
    # A supplier request's deadline and a suspect window are times too: kept as sent, read as UTC.
    unknown = "2026-01-05T06:24:00-00:00"
    common = {"event_id": "EV-2", "occurred_at": unknown, "actor": "ana", "case": "C-1"}
    request = common | {
        "type": "recall_supplier_request",
        "supplier": "ACME",
        "supplier_lot": "A-1",
        "question": "which heat?",
        "due_by": unknown,
    }
    window = {"id": "equipment:LATHE-1", "from": unknown, "to": unknown}
    opened = common | {
        "type": "recall_open",
        "title": "lathe",
        "reason": "drift",
        "suspects": [window],
    }
    (sent, digest), (utc, same) = (
        payload_and_digest(parse_events([raw])[0])
        for raw in (request, request | {"due_by": "2026-01-05T06:24:00Z"})
    )
    assert json.loads(sent)["due_by"] == unknown and json.loads(utc)["due_by"].endswith("Z")
    assert digest == same
    stored = json.loads(payload_and_digest(parse_events([opened])[0])[0])
    assert stored["suspects"][0] == window
