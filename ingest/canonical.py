"""Canonical forms of an event: what is stored, and what two deliveries are compared by."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from graph.clock import utc_text
from ingest.models import Event

# One encoder for every event: json.dumps would build a new one per call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
TIME_FIELDS = ("occurred_at", "started_at", "finished_at")
# Stand-ins for the time fields while the body is encoded once for both forms, as they appear in
# the encoded text. A sender's text that is one too is caught by counting, and that event is
# encoded twice instead.
_MARKS = {name: "\x00" + name for name in TIME_FIELDS}
_ENCODED_MARKS = {name: _ENCODER.encode(mark) for name, mark in _MARKS.items()}
# The time fields each event type has: asking for one it lacks goes through pydantic's slow
# attribute fallback.
_TIME_FIELDS_OF: dict[type[BaseModel], tuple[str, ...]] = {}


def payload_and_digest(event: Event) -> tuple[str, str]:
    """Return the payload as stored (the sender's values, unset fields left out) and its digest.

    Quantities are already spelled one way by the contract's serializer; times are compared as
    instants, so the digest reads them in UTC while the stored payload keeps the sender's offset.
    """
    body = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    kind = type(event)
    names = _TIME_FIELDS_OF.get(kind)
    if names is None:
        names = _TIME_FIELDS_OF[kind] = tuple(n for n in TIME_FIELDS if n in kind.model_fields)
    # (encoded stand-in, encoded sender's value, encoded UTC value) of each time field; a time
    # is ISO 8601 text, which JSON holds unescaped, so quoting it is encoding it.
    swaps: list[tuple[str, str, str]] = []
    for name in names:
        moment = getattr(event, name)
        if isinstance(moment, datetime):
            swaps.append((_ENCODED_MARKS[name], f'"{body[name]}"', f'"{utc_text(moment)}"'))
            body[name] = _MARKS[name]
    text = _dumps(body)
    if all(text.count(mark) == 1 for mark, _, _ in swaps):
        stored = digested = text
        for mark, sent, utc in swaps:
            stored = stored.replace(mark, sent)
            digested = digested.replace(mark, utc)
        return stored, _sha256(digested)
    return _payload_and_digest_twice(event)


def _payload_and_digest_twice(event: Event) -> tuple[str, str]:
    """The same two forms, each encoded on its own (when a sender's text is a stand-in)."""
    body = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    stored = _dumps(body)
    fields = type(event).model_fields
    for name in TIME_FIELDS:
        moment = getattr(event, name) if name in fields else None
        if isinstance(moment, datetime):
            body[name] = utc_text(moment)
    return stored, _sha256(_dumps(body))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _dumps(body: Any) -> str:
    return _ENCODER.encode(body)
