"""The shipped EPCIS 2.0 JSON Schema: GS1's file, unmodified, and validating offline."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from graph.epcis import CONTEXTS
from graph.epcis_schema import SCHEMA_FILE, SCHEMA_SHA256, schema_problems


def test_the_shipped_schema_is_gs1s_epcis_2_0_artefact_unmodified() -> None:
    data = SCHEMA_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256
    schema = json.loads(data)
    assert schema["$id"] == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-json-schema.json"
    refs = [part for part in data.decode().split('"$ref": "')[1:]]
    assert all(ref.startswith("#/definitions/") for ref in refs), "no reference leaves the file"


def _document(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": CONTEXTS,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-02T08:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def _receipt(**extra: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-03-02T08:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "eventID": "urn:tracegraph:event:E-1",
        "action": "ADD",
        "bizStep": "receiving",
        "quantityList": [{"epcClass": "urn:tracegraph:lot:L-1", "quantity": 5, "uom": "KGM"}],
        **extra,
    }


def test_a_well_formed_document_has_no_problems() -> None:
    assert (
        schema_problems(_document(_receipt(), _receipt(eventID="urn:tracegraph:event:E-2"))) == []
    )
    assert schema_problems(_document(_receipt())) == []


def test_problems_name_the_event_its_id_and_the_field() -> None:
    problems = schema_problems(
        _document(_receipt(), _receipt(eventID="urn:tracegraph:event:E-2", action="MOVE"))
    )
    assert [(p.event_index, p.event_id, p.path) for p in problems] == [
        (1, "urn:tracegraph:event:E-2", "eventList[1].action")
    ]


def test_formats_are_checked_not_just_shapes() -> None:
    bad_time = _receipt(eventTime="yesterday")
    bad_uri = _receipt(quantityList=[{"epcClass": "not a uri", "quantity": 1}])
    assert schema_problems(_document(bad_time))
    assert schema_problems(_document(bad_uri))
