"""Canonical forms of an event: what is stored, and what two deliveries are compared by."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from graph.clock import utc_text
from graph.errors import BadRequest
from graph.quantities import COUNT
from graph.store import StoredEvent, plain
from ingest.models import (
    Event,
    Process,
    ProcessInput,
    ProcessOutput,
    RecallAck,
    RecallOpen,
    RecallScope,
    RecallSupplierRequest,
    Ship,
    ShipItem,
)
from ingest.parse import EVENT_ADAPTER
from ingest.times import OFFSET_RULE, offset_too_far

_Item = TypeVar("_Item", ProcessInput, ProcessOutput, ShipItem)
TIME_FIELDS = ("occurred_at", "started_at", "finished_at")


class TimeOutOfRange(ValueError):
    """An event's time that UTC cannot write; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# The time fields each event type has: asking for one it lacks goes through pydantic's slow
# attribute fallback.
_TIME_FIELDS_OF: dict[type[BaseModel], tuple[str, ...]] = {}


def payload_and_digest(event: Event) -> tuple[str, str]:
    """Return the payload as stored (the sender's values, unset fields left out) and its digest.

    Quantities are already spelled one way by the contract's serializer (a recall_ack's counts
    are spelled one way in the digest); times are compared as instants, so the digest reads them
    in UTC while the stored payload keeps the sender's offset. Both are sorted, compact JSON as
    the standard library's encoder writes it (`_dumps`): digests stored by earlier versions stay
    comparable (and see `digest_now` for those that read recall fields by spelling).
    """
    body = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    names = _time_fields(type(event))
    # JSON writes a time read at "-00:00" as UTC ("Z"): the payload keeps what was sent.
    for name in names:
        text = body.get(name)
        if type(text) is str and text[-1] == "Z" and getattr(event, name).tzname() == "-00:00":
            body[name] = f"{text[:-1]}-00:00"
    if type(event) is RecallOpen or type(event) is RecallScope:
        for i, suspect in enumerate(event.suspects):
            window = body["suspects"][i]
            for key, moment in (("from", suspect.from_), ("to", suspect.to)):
                if moment is not None:
                    window[key] = _as_sent(window[key], moment)
    elif type(event) is RecallSupplierRequest:
        body["due_by"] = _as_sent(body["due_by"], event.due_by)
    # orjson writes what `_dumps` writes, about ten times faster, for every string, key order,
    # boolean and integer up to 64 bits; it spells some floats otherwise (1e-7, not 1e-07). Only
    # a process's parameters hold floats or unbounded integers (tests/ingest/test_canonical.py
    # checks the contract for that), so those events take the standard encoder.
    if type(event) is Process and event.params is not None:
        return _payload_and_digest_standard(event, body, names)
    stored = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    _by_value(event, body, names)
    digested = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return stored.decode(), hashlib.sha256(digested).hexdigest()


def _payload_and_digest_standard(
    event: Event, body: dict[str, Any], names: tuple[str, ...]
) -> tuple[str, str]:
    """The same two forms, written by the standard library's encoder."""
    stored = _dumps(body)
    _by_value(event, body, names)
    return stored, hashlib.sha256(_dumps(body).encode()).hexdigest()


def _as_sent(text: str, moment: datetime) -> str:
    """`text`, JSON's spelling of `moment`, with the "-00:00" it was sent with where JSON wrote
    "Z"."""
    if text[-1] == "Z" and moment.tzname() == "-00:00":
        return f"{text[:-1]}-00:00"
    return text


def digest_now(payload: str) -> str | None:
    """Return the digest a stored payload has now; None when it no longer reads.

    Earlier versions digested a suspect's window, a supplier request's deadline and an ack's
    counts as spelled, so the digest they stored differs from the one an exact resend of the
    event gets now: the stored payload, digested again, is what the resend is compared with.
    """
    read = _read_logged(payload)
    return None if read is None else read[1]


def logged_as(payload: str, event: Event, digest: str) -> bool:
    """Tell whether the event logged as `payload` is `event` (its digest `digest`), once the
    digest logged beside it was found to differ.

    It is if this release digests the payload so (see `digest_now`), or if the two differ only
    in optional fields one spells out at their defaults (`same_content`). Read only when the
    digests differ: a resend as logged, the common case, costs nothing more.
    """
    read = _read_logged(payload)
    if read is None:
        return False
    logged, now = read
    return now == digest or same_content(logged, now, event, digest)


def stored_as(logged: StoredEvent | None, event: Event, digest: str) -> bool:
    """Tell whether an event is `logged` with the content of `event` (digest `digest`): its
    digest as stored, or else as `logged_as` reads the stored payload."""
    return logged is not None and (
        logged.digest == digest or logged_as(logged.payload, event, digest)
    )


def _read_logged(payload: str) -> tuple[Event, str] | None:
    """The event a stored payload holds and the digest it has now; None when it no longer
    reads."""
    try:
        logged = EVENT_ADAPTER.validate_json(payload)
        return logged, payload_and_digest(logged)[1]
    except (ValidationError, TimeOutOfRange):
        return None


def same_content(first: Event, first_digest: str, second: Event, second_digest: str) -> bool:
    """Tell whether two events, with the digests they have and that differ, are one, each read
    with its defaults spelled out.

    The digest keeps a field as it was sent: one event sent with and without a default spelled
    out has two digests, though it changes the graph alike (a retrying client may fill in what
    it left out). Only a process and a shipment have such defaults; an event with none left to
    fill in keeps its digest. The times filled in are the event's `occurred_at`, digested
    already, so this raises no TimeOutOfRange.
    """
    if type(first) is not type(second) or (type(first) is not Process and type(first) is not Ship):
        return False
    return _filled_digest(first, first_digest) == _filled_digest(second, second_digest)


def _filled_digest(event: Event, digest: str) -> str:
    """The digest of `event` (its digest `digest`) read with its defaults spelled out."""
    filled = _with_defaults(event)
    return digest if filled is event else payload_and_digest(filled)[1]


def _with_defaults(event: Event) -> Event:
    """`event` with each optional field left out that has a default of its own (not one read
    from the graph) given that default, and a serial's quantity of one left out; `event`
    itself when there is none to fill in.

    A receipt's `unit` has its default in the contract; a process output lot's unit (COUNT), a
    step's start and finish (its `occurred_at`) and its parameters (none: `{}` records none
    either) have theirs in the planner (ingest.planner, Planner's process step: mirrored here,
    and tests/conformance/test_defaults_spelled_out.py checks the two agree). A serial is one
    unit, its `qty` of 1 optional. A stated unit of an input is a check against the lot's, and
    a lot's quantity left out is what remains of it: both read the graph, so they stay apart.
    """
    if type(event) is Ship:
        items = [_one_unit(item) for item in event.items]
        return event.model_copy(update={"items": items}) if _changed(items, event.items) else event
    if type(event) is not Process:
        return event
    update: dict[str, Any] = {}
    if event.params == {}:
        update["params"] = None
    if event.started_at is None:
        update["started_at"] = event.occurred_at
    if event.finished_at is None:
        update["finished_at"] = event.occurred_at
    inputs = [_one_unit(item) for item in event.inputs]
    if _changed(inputs, event.inputs):
        update["inputs"] = inputs
    # The planner's unit of an output lot that states none (ingest.planner): keep the two alike.
    outputs = [
        _one_unit(output)
        if output.serial is not None or output.unit
        else output.model_copy(update={"unit": COUNT})
        for output in event.outputs
    ]
    if _changed(outputs, event.outputs):
        update["outputs"] = outputs
    return event.model_copy(update=update) if update else event


def _one_unit(item: _Item) -> _Item:
    """A serial's item without its optional quantity (one unit, the only one it takes); the
    item itself when there is nothing to leave out."""
    if item.serial is None or item.qty is None:
        return item
    return item.model_copy(update={"qty": None})


def _changed(items: list[_Item], were: list[_Item]) -> bool:
    return any(item is not was for item, was in zip(items, were, strict=True))


def _time_fields(kind: type[BaseModel]) -> tuple[str, ...]:
    """The time fields of an event type (TIME_FIELDS it has)."""
    names = _TIME_FIELDS_OF.get(kind)
    if names is None:
        names = _TIME_FIELDS_OF[kind] = tuple(n for n in TIME_FIELDS if n in kind.model_fields)
    return names


def _by_value(event: Event, body: dict[str, Any], names: tuple[str, ...]) -> None:
    """Put the event's times (`names`) into the body as UTC text, and its counts in one
    spelling."""
    for name in names:
        moment = getattr(event, name)
        if isinstance(moment, datetime):
            body[name] = _utc(name, moment)
    if type(event) is RecallOpen or type(event) is RecallScope:
        for i, suspect in enumerate(event.suspects):
            window = body["suspects"][i]
            for name, moment in (("from", suspect.from_), ("to", suspect.to)):
                if moment is not None:
                    window[name] = _utc(f"suspects[{i}].{name}", moment)
    elif type(event) is RecallSupplierRequest:
        body["due_by"] = _utc("due_by", event.due_by)
    elif type(event) is RecallAck:
        body["found_qty"] = plain(event.found_qty)
        body["returned_qty"] = plain(event.returned_qty)


def _utc(name: str, moment: datetime) -> str:
    try:
        text = utc_text(moment)
    except BadRequest as error:  # 0001-01-01T00:00+14:00: a time in year 1, not in UTC
        raise TimeOutOfRange(name, error.message) from None
    # Checked here, on the way in, not by the contract's type: logs may hold such offsets, and
    # replays read them through that type.
    if offset_too_far(moment):
        raise TimeOutOfRange(name, f"{moment.isoformat()}: {OFFSET_RULE}")
    return text


# One encoder for every event: json.dumps would build a new one per call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _dumps(body: Any) -> str:
    return _ENCODER.encode(body)
