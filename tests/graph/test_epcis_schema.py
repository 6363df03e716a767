"""The shipped EPCIS 2.0 JSON Schema: GS1's file, unmodified, and validating offline."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pytest
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from graph.epcis import CONTEXTS
from graph.epcis_schema import (
    MAX_PROBLEMS,
    SCHEMA_FILE,
    SCHEMA_SHA256,
    inlined_schema,
    schema_problems,
    validator,
)


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


def test_numbers_read_exactly_are_numbers_and_said_as_numbers() -> None:
    # Capture reads a JSON number with a fraction as the Decimal written.
    exact = [{"epcClass": "urn:tracegraph:lot:L-1", "quantity": Decimal("0.123456789012345678")}]
    assert schema_problems(_document(_receipt(quantityList=exact))) == []
    (problem,) = schema_problems(_document(_receipt(eventTimeZoneOffset=Decimal("1.5"))))
    assert problem.message.startswith("1.5 is not of type 'string'"), problem.message


def test_problems_name_the_event_its_id_and_the_field() -> None:
    problems = schema_problems(
        _document(_receipt(), _receipt(eventID="urn:tracegraph:event:E-2", action="MOVE"))
    )
    assert [(p.event_index, p.event_id, p.path) for p in problems] == [
        (1, "urn:tracegraph:event:E-2", "eventList[1].action")
    ]


@pytest.mark.parametrize(
    ("event", "path", "says"),
    [
        # A bad action fails every action's branch too; the branches are not what is wrong.
        (_receipt(action="BOGUS", ilmd={"tg:part": "BAR"}), "action", "is not one of"),
        (_receipt(action="BOGUS"), "action", "is not one of"),
        # An ILMD where the action allows none: the field is named, and said not to belong.
        (_receipt(action="OBSERVE", ilmd={"tg:part": "BAR"}), "ilmd", "not allowed"),
        ({k: v for k, v in _receipt().items() if k != "action"}, "", "'action' is a required"),
        # A key the schema does not know: said to be a key (jsonschema says "is not a 'uri'").
        (_receipt(foo=1), "", "'foo' is no field the schema has here"),
    ],
    ids=["bad-action-with-ilmd", "bad-action", "ilmd-on-observe", "no-action", "unknown-key"],
)
def test_the_problem_named_is_the_field_that_is_wrong(
    event: dict[str, Any], path: str, says: str
) -> None:
    (problem,) = schema_problems(_document(event))
    assert problem.path == f"eventList[0]{'.' if path else ''}{path}"
    assert says in problem.message


def test_every_field_found_wrong_is_named_once() -> None:
    event = _receipt(action="MOVE", quantityList=[{"epcClass": "urn:tracegraph:lot:L-1"}])
    del event["eventTime"], event["eventTimeZoneOffset"]
    empty = {k: v for k, v in _receipt().items() if k != "quantityList"}
    problems = schema_problems(_document(_receipt(), event, empty))
    assert [(p.event_index, p.path, p.message) for p in problems] == [
        (1, "eventList[1].action", "'MOVE' is not one of ['OBSERVE', 'ADD', 'DELETE']"),
        (1, "eventList[1]", "'eventTime' is a required property"),
        (1, "eventList[1]", "'eventTimeZoneOffset' is a required property"),
        # Not "'epcList' is a required property": an ObjectEvent needs one of several.
        (2, "eventList[2]", "needs epcList, quantityList, or sensorElementList with readPoint"),
    ]


def test_past_the_bound_the_problems_not_named_are_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("graph.epcis_schema.MAX_PROBLEMS", 3)
    wrong = {"action": "MOVE", "eventTime": "x", "eventTimeZoneOffset": "CET", "no uri": 1}
    bad = [_receipt(eventID=f"urn:tracegraph:event:E-{i}", **wrong) for i in range(5)]
    problems = schema_problems(_document(*bad))
    assert [p.event_index for p in problems[:3]] == [0, 0, 0]
    (more,) = problems[3:]
    assert (more.event_index, more.event_id, more.path, more.more) == (
        0,
        "urn:tracegraph:event:E-0",
        "eventList[0]",
        True,
    )
    # The event list is checked until it has given the bound: the events after are not.
    assert more.message == (
        "1 more problems, from here on, are not named; the 4 items from eventList[1] on were "
        "not checked (at most 3 are named, and a list is checked until 3 problems are found "
        "in it)"
    )


def test_a_long_list_of_wrong_items_is_checked_until_the_bound_only() -> None:
    epcs = ["urn:epc:id:sgtin:0614141.107346.1", *range(50_000)]
    document = _document(_receipt(action="OBSERVE", epcList=epcs))
    # One error built per item checked: the items after the bound are not looked at.
    assert len(list(validator().iter_errors(document))) <= MAX_PROBLEMS + 2
    problems = schema_problems(document)
    assert len(problems) == MAX_PROBLEMS + 1
    assert {p.path for p in problems[:3]} == {f"eventList[0].epcList[{i}]" for i in (1, 2, 3)}
    more = problems[-1]
    assert (more.event_index, more.path, more.more) == (0, "eventList[0].epcList", True)
    assert more.message == (
        "the 49000 items from eventList[0].epcList[1001] on were not checked "
        f"(a list is checked until {MAX_PROBLEMS} problems are found in it)"
    )


def _query_document(*events: dict[str, Any]) -> dict[str, Any]:
    document = _document(*events)
    results = {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": list(events)}}
    return document | {"type": "EPCISQueryDocument", "epcisBody": {"queryResults": results}}


def test_a_query_documents_events_are_checked_and_named_the_same_way() -> None:
    assert schema_problems(_query_document(_receipt())) == []
    problems = schema_problems(
        _query_document(_receipt(), _receipt(eventID="urn:tracegraph:event:E-2", action="MOVE"))
    )
    assert [(p.event_index, p.event_id, p.path) for p in problems] == [
        (1, "urn:tracegraph:event:E-2", "eventList[1].action")
    ]
    broken = _query_document(_receipt())
    del broken["epcisBody"]["queryResults"]["queryName"]
    assert [p.path for p in schema_problems(broken)] == ["queryResults"]


def test_formats_are_checked_not_just_shapes() -> None:
    bad_time = _receipt(eventTime="yesterday")
    bad_uri = _receipt(quantityList=[{"epcClass": "not a uri", "quantity": 1}])
    assert schema_problems(_document(bad_time))
    assert schema_problems(_document(bad_uri))


def _stock_errors(document: Any) -> list[tuple[list[Any], str, str]]:
    stock = Draft7Validator(
        json.loads(SCHEMA_FILE.read_text(encoding="utf-8")),
        format_checker=Draft7Validator.FORMAT_CHECKER,
    )
    return _described(stock.iter_errors(document))


def _described(errors: Iterable[ValidationError]) -> list[tuple[list[Any], str, str]]:
    """Each error and the errors under it, by where in the document, what and which keyword."""
    found = []
    for error in errors:
        found.append((list(error.absolute_path), error.message, str(error.validator)))
        found.extend(_described(error.context))
    return sorted(found, key=repr)


BROKEN = {
    "action": _receipt(action="MOVE"),
    "uri": _receipt(quantityList=[{"epcClass": "not a uri", "quantity": 1}]),
    "time": _receipt(eventTime="yesterday"),
    "missing": {k: v for k, v in _receipt().items() if k != "eventTimeZoneOffset"},
    "key": _receipt(**{"not an extension": 1}),
    "type": _receipt(type="NoSuchEvent"),
    "quantity": _receipt(quantityList=[{"epcClass": "urn:tracegraph:lot:L-1", "quantity": "5"}]),
}


@pytest.mark.parametrize("event", list(BROKEN.values()), ids=list(BROKEN))
def test_the_inlined_schema_finds_what_gs1s_file_finds(event: dict[str, Any]) -> None:
    document = _document(_receipt(eventID="urn:tracegraph:event:E-0"), event)
    assert '"$ref"' not in json.dumps(inlined_schema())
    expected = _stock_errors(document)
    assert expected
    assert _described(validator().iter_errors(document)) == expected


def test_a_key_valid_in_one_event_type_is_still_checked_in_another() -> None:
    # "action" passed as an ObjectEvent key first; a TransformationEvent has no "action".
    transformation = {
        "type": "TransformationEvent",
        "eventTime": "2026-03-02T08:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "ADD",
    }
    problems = schema_problems(_document(_receipt(), transformation))
    assert [(p.event_index, p.path) for p in problems] == [(1, "eventList[1]")] * 2
    assert "'action' is no field" in problems[0].message
    assert problems[1].message == "needs inputEPCList or inputQuantityList"  # and no outputs
    assert _described(validator().iter_errors(_document(_receipt(), transformation))) == (
        _stock_errors(_document(_receipt(), transformation))
    )


def test_a_bad_key_is_reported_every_time() -> None:
    bad = _document(_receipt(**{"not an extension": 1}))
    assert schema_problems(bad) and schema_problems(bad) == schema_problems(bad)


def test_a_list_of_unique_items_is_checked_in_one_pass() -> None:
    # Objects beside a string cannot be sorted: jsonschema's own check compared every pair of
    # them, fifty million comparisons here (minutes).
    context = [*CONTEXTS, *({"tg": f"urn:tracegraph:ctx:{i}"} for i in range(10_000))]
    assert schema_problems({**_document(_receipt()), "@context": context}) == []
    twice = [*context, {"tg": "urn:tracegraph:ctx:7"}]
    (problem,) = schema_problems({**_document(_receipt()), "@context": twice})
    assert problem.path == "@context"
    # Items are the same where JSON Schema says they are equal: 1 and 1.0 are one number, true
    # is not 1, and objects compare whatever the order of their members.
    distinct = ["urn:epc:id:sgtin:0614141.107346.1", 1, True, {"a": [1], "b": 2}]
    for epcs, unique in ((distinct, True), ([*distinct, {"b": 2, "a": [Decimal("1.0")]}], False)):
        problems = schema_problems(_document(_receipt(action="OBSERVE", epcList=epcs)))
        said = [p.message for p in problems if p.path == "eventList[0].epcList"]
        assert [m.endswith("has non-unique elements") for m in said] == ([] if unique else [True])
