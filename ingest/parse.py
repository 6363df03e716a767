"""Read event batches in their three body forms and check them against the contract."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ingest.errors import BATCH_WHOLE, MAX_PROBLEMS, BatchRejected, Problem, at_most_named
from ingest.json_text import BOM, JsonRefused, strict_loads
from ingest.models import EVENT_TYPES, SENT, Event

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

# A JSON escape of half a UTF-16 surrogate pair; decoded alone it is not text and cannot be stored.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


NO_EVENTS = "holds no events"


def _batch_problem(field: str, code: str, message: str) -> Problem:
    """A problem of the body as a whole: of no one event, so of no index (not event 0's)."""
    return Problem(None, None, field, code, message, whole=BATCH_WHOLE)


def _of_batch(field: str, code: str, message: str) -> BatchRejected:
    return BatchRejected([_batch_problem(field, code, message)])


def read_body(text: str) -> list[Any]:
    """Return the raw events of a JSON array, a `{"events": [...]}` object or NDJSON text."""
    # Without a byte order mark first (str.strip keeps U+FEFF), so a body with one is read as
    # the same body without: a JSON array is never read line by line.
    stripped = text.removeprefix(BOM).strip()
    if not stripped:
        raise _of_batch("", "empty", NO_EVENTS)
    try:
        return events_of(_loads(stripped))
    except JsonRefused as error:
        if error.code != "not_json" or stripped.startswith("["):
            raise _refused(error) from None
        whole_error = error
    events: list[Any] = []
    # Lines end at a line feed (or CR LF) only: str.splitlines() also splits at U+2028, U+2029
    # and NEL, which JSON strings may hold raw.
    for number, line in enumerate(stripped.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            events.append(_loads(line, number))
        except JsonRefused as error:
            # A first line that is no JSON value alone means the body was not NDJSON (a
            # document over several lines): the error of the whole says where it is.
            raise _refused(error, line=number) if events else _refused(whole_error) from None
    return events


def _loads(text: str, line: int | None = None) -> Any:
    decoded = strict_loads(text)
    if _SURROGATE_ESCAPE.search(text):
        where = _lone_surrogate(decoded, "")
        if where is not None:
            message = "holds half a UTF-16 surrogate pair (an escape like \\ud800 alone), not text"
            if line is not None:
                message = f"line {line}: {message}"
            raise _of_batch(where, "not_text", message)
    return decoded


def _lone_surrogate(value: Any, path: str) -> str | None:
    """Return where a string (or key) holding a lone surrogate is, if one does."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "(body)"
        return None
    if isinstance(value, list):
        items: list[tuple[str, Any]] = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    elif isinstance(value, dict):
        for key in value:
            if _lone_surrogate(key, "") is not None:
                return f"{path}.(key)" if path else "(key)"
        items = [(f"{path}.{k}" if path else k, v) for k, v in value.items()]
    else:
        return None
    for where, item in items:
        found = _lone_surrogate(item, where)
        if found is not None:
            return found
    return None


def events_of(body: Any) -> list[Any]:
    """Return the list of raw events from a decoded body, or raise BatchRejected."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        if "events" in body:
            # Another key (a flag such as "dry_run" we do not know) would pass unread.
            others = [
                _batch_problem(key, "extra_forbidden", 'is not a field of {"events": [...]}')
                for key in body
                if key != "events"
            ]
            if others:
                raise BatchRejected(others)
            if isinstance(body["events"], list):
                return body["events"]
            raise _of_batch("events", "type", "must be a list")
        if "type" in body:
            return [body]
    message = 'expected a JSON array of events, {"events": [...]}, or NDJSON'
    raise _of_batch("", "shape", message)


def parse_events(raw: Sequence[Any]) -> list[Event]:
    """Validate each raw event against the contract; raise BatchRejected naming every problem."""
    if not raw:
        raise _of_batch("", "empty", NO_EVENTS)
    events: list[Event] = []
    problems: list[Problem] = []
    for index, item in enumerate(raw):
        if len(problems) >= MAX_PROBLEMS:  # enough to act on: the rest is not looked at
            raise BatchRejected(at_most_named(problems, unchecked=len(raw) - index))
        event_id = _event_id_of(item)
        if isinstance(item, dict) and item.get("type") not in EVENT_TYPES:
            kind = item.get("type")
            message = f"unknown event type {kind!r}; expected one of {', '.join(EVENT_TYPES)}"
            problems.append(Problem(index, event_id, "type", "unknown_type", message))
            continue
        try:
            events.append(EVENT_ADAPTER.validate_python(item, context=SENT))
        except ValidationError as error:
            problems.extend(problems_of(index, event_id, error))
    if problems:
        raise _refusal(raw, events, problems)
    return events


class SentRulesRefused(BatchRejected):
    """A batch refused by rules for events sent alone (ingest.times.SENT): each event refused
    reads as the log reads its events, and `events` is the whole batch so read.

    An event so refused may have been logged before those rules: sent again unchanged, it is a
    duplicate, not an error (`IngestService.read`).
    """

    def __init__(
        self, problems: list[Problem], events: list[Event], refused: Sequence[int]
    ) -> None:
        super().__init__(problems)
        self.events = events
        self.refused = frozenset(refused)  # the positions of the events refused


def _refusal(raw: Sequence[Any], valid: list[Event], problems: list[Problem]) -> BatchRejected:
    """The refusal of a batch whose `problems` the contract named (`valid`, the events it
    read): SentRulesRefused if the log would read each refused event. Only refused batches are
    read again."""
    # Each problem here is one event's (a whole body's is refused before its events are read).
    refused = sorted({p.index for p in problems if p.index is not None})
    read: dict[int, Event] = {}
    for index in refused:
        try:
            read[index] = EVENT_ADAPTER.validate_python(raw[index])
        except ValidationError:
            return BatchRejected(problems)
    rest = iter(valid)
    batch = [read[index] if index in read else next(rest) for index in range(len(raw))]
    return SentRulesRefused(problems, batch, refused)


def _event_id_of(item: Any) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("event_id"), str):
        return str(item["event_id"])[:200]
    return None


def problems_of(index: int, event_id: str | None, error: ValidationError) -> list[Problem]:
    """The problems of one event the contract refused, as a refused batch names them."""
    problems = []
    for detail in error.errors(include_url=False, include_input=False):
        # Drop the discriminator tag pydantic puts first (e.g. "split"); "status" is also a field.
        location = list(detail["loc"])
        if location and location[0] in EVENT_TYPES:
            location = location[1:]
        if not location and (named := detail.get("ctx", {}).get("field")):
            location = [named]  # a rule over several fields names the one it refuses
        field = _dotted(location)
        message = str(detail["msg"])
        if detail["type"] == "missing":
            message = "is required"
        elif detail["type"] == "extra_forbidden":
            message = "is not a field of this event type"
        elif detail["type"] == "value_error":  # a validator's own words, as api.validation_text
            message = message.removeprefix("Value error, ")
        problems.append(
            Problem(index, event_id, field, str(detail["type"]), message, contract=True)
        )
    return problems


def _dotted(location: Sequence[int | str]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _refused(error: JsonRefused, line: int | None = None) -> BatchRejected:
    where = f"line {line}: " if line is not None else ""
    message = f"{where}{error.message}"
    if error.code == "too_deep":
        message += " to be events"
    elif error.code == "not_exact":  # the contract reads a quantity's text to the last digit
        message += ": send it as a string"
    return _of_batch("", error.code, message)
