"""Canonical forms of an event: what is stored, and what two deliveries are compared by."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from graph.clock import utc_text
from ingest.models import Event

TIME_FIELDS = ("occurred_at", "started_at", "finished_at")


def payload_and_digest(event: Event) -> tuple[str, str]:
    """Return the payload as stored (the sender's values, unset fields left out) and its digest.

    Quantities are already spelled one way by the contract's serializer; times are compared as
    instants, so the digest reads them in UTC while the stored payload keeps the sender's offset.
    """
    body = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    stored = _dumps(body)
    fields = type(event).model_fields
    for name in TIME_FIELDS:
        # A field the event type lacks would go through pydantic's slow attribute fallback.
        moment = getattr(event, name) if name in fields else None
        if isinstance(moment, datetime):
            body[name] = utc_text(moment)
    digest = hashlib.sha256(_dumps(body).encode()).hexdigest()
    return stored, digest


# One encoder for every event: json.dumps would build a new one per call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _dumps(body: dict[str, Any]) -> str:
    return _ENCODER.encode(body)
