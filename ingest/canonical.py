"""Canonical forms of an event: what is stored, and what two deliveries are compared by."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from graph.clock import utc_text
from ingest.models import Event


def stored_payload(event: Event) -> str:
    """Return the event as stored in the log: the sender's values, unset fields left out."""
    body = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_payload(event: Event) -> str:
    """Return the form two deliveries are compared by: 10 == 10.0, instants compared in UTC."""
    body = event.model_dump(mode="python", by_alias=True, exclude_none=True)
    return json.dumps(_normal(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_of(canonical: str) -> str:
    """Return the SHA-256 hex digest of a canonical payload."""
    return hashlib.sha256(canonical.encode()).hexdigest()


def _normal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, dict):
        return {str(key): _normal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(item) for item in value]
    if hasattr(value, "value") and not isinstance(value, bool | int | float | str):
        return value.value
    return value
