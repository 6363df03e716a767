"""Validate EPCIS 2.0 JSON-LD against the standard's JSON Schema, shipped in graph/schemas."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, best_match

SCHEMA_FILE = Path(__file__).parent / "schemas" / "epcis-json-schema.json"
SCHEMA_SHA256 = "cfabd8620cc4dd67a53e6aa397bc26379f8b05bb9147c8a37a60bbec69a62572"
MAX_PROBLEMS = 20


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    """One place where a document breaks the schema: `path` is like eventList[2].action."""

    event_index: int | None
    event_id: str | None
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@cache
def validator() -> Draft7Validator:
    """Return the validator of the shipped schema (all its references are inside the file)."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def schema_problems(document: Any) -> list[SchemaProblem]:
    """Return what is wrong with `document` under the EPCIS schema, at most one per event."""
    errors = list(validator().iter_errors(document))
    if not errors:
        return []
    events = _events_of(document)
    by_event: dict[int | None, list[ValidationError]] = {}
    for error in errors:
        by_event.setdefault(_event_index(error), []).append(error)
    problems = []
    for index in sorted(by_event, key=lambda i: -1 if i is None else i):
        # The schema is a web of if/then and anyOf: the deepest, most specific error reads best.
        error = best_match(by_event[index])
        while error.context:
            error = best_match(error.context)
        event_id = None
        if index is not None and index < len(events) and isinstance(events[index], dict):
            found = events[index].get("eventID")
            event_id = found if isinstance(found, str) else None
        problems.append(SchemaProblem(index, event_id, _path(error), error.message))
    return problems[:MAX_PROBLEMS]


def _events_of(document: Any) -> list[Any]:
    if isinstance(document, dict):
        body = document.get("epcisBody")
        if isinstance(body, dict) and isinstance(body.get("eventList"), list):
            return list(body["eventList"])
    return []


def _event_index(error: ValidationError) -> int | None:
    path = list(error.absolute_path)
    if len(path) >= 3 and path[:2] == ["epcisBody", "eventList"] and isinstance(path[2], int):
        return path[2]
    return None


def _path(error: ValidationError) -> str:
    text = ""
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    text = text.removeprefix(".epcisBody.")
    return text.lstrip(".") or "(document)"
