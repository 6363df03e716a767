"""The EPCIS reader on documents the schema allows: each is read or refused by name."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from graph.epcis import CONTEXTS, dumps
from graph.epcis_schema import schema_problems
from ingest.epcis_import import EpcisReader, Translation
from ingest.errors import MAX_PROBLEMS, BatchRejected
from ingest.json_text import strict_loads

LOT = "urn:tracegraph:lot:L1"
SSCC = "urn:epc:id:sscc:9506000.0000000001"


def document(*events: dict[str, Any], header: dict[str, Any] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "@context": CONTEXTS,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-02T09:00:00Z",
    }
    if header is not None:
        found["epcisHeader"] = header
    found["epcisBody"] = {"eventList": list(events)}
    assert schema_problems(found) == []  # each case is one the standard allows
    return found


def event(kind: str, number: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{number:012d}",
        "eventTime": "2026-03-02T08:00:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        **fields,
    }


def read(doc: dict[str, Any]) -> Translation:
    return EpcisReader(lambda gtin: None, {}).translate(doc)


def refused(doc: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(BatchRejected) as caught:
        read(doc)
    problem = caught.value.problems[0]
    return problem.field, problem.code


def test_a_status_of_ours_without_a_disposition_or_reason_is_read() -> None:
    observed = event(
        "ObjectEvent",
        1,
        action="OBSERVE",
        quantityList=[{"epcClass": LOT}],
        **{"tg:type": "status", "tg:status": "quarantined"},
    )
    (status,) = read(document(observed)).events
    assert status["status"] == "quarantined"
    assert status["reason"] == "EPCIS status observation"


def test_master_data_attributes_without_values_are_passed_over() -> None:
    gtin = "https://id.gs1.org/01/09506000134352"
    header = {
        "epcisMasterData": {
            "vocabularyList": [
                {
                    "type": "urn:epcglobal:epcis:vtype:EPCClass",
                    "vocabularyElementList": [{"id": gtin, "attributes": [{"id": "tg:part"}]}],
                }
            ]
        }
    }
    observed = event("ObjectEvent", 2, action="OBSERVE", epcList=[])
    assert read(document(observed, header=header)).events == []


def test_a_packed_sscc_as_a_transformation_output_is_refused_by_name() -> None:
    packed = event(
        "AggregationEvent",
        3,
        action="ADD",
        parentID=SSCC,
        childQuantityList=[{"epcClass": LOT, "quantity": 5}],
    )
    made = event(
        "TransformationEvent",
        4,
        inputQuantityList=[{"epcClass": LOT, "quantity": 5}],
        outputEPCList=[SSCC],
    )
    assert refused(document(packed, made)) == ("outputEPCList[0]", "shape")


def test_events_that_change_no_genealogy_are_ignored_whatever_items_they_name() -> None:
    unknown = "https://id.gs1.org/01/09506000134352/21/SN1"  # a GTIN no part has
    events = [
        event("ObjectEvent", 7, action="ADD", bizStep="commissioning", epcList=[unknown]),
        event("ObjectEvent", 8, action="ADD", bizStep="commissioning", epcList=[SSCC]),
        event("AggregationEvent", 9, action="OBSERVE", parentID=SSCC, childEPCs=[unknown]),
        event("AggregationEvent", 10, action="DELETE", parentID=SSCC, childEPCs=[unknown]),
        event(
            "AggregationEvent",
            11,
            action="DELETE",
            parentID="urn:tracegraph:serial:P1",
            childEPCs=[unknown],
        ),
    ]
    found = read(document(*events))
    assert found.events == []
    assert [i.index for i in found.ignored] == [0, 1, 2, 3, 4]
    # With the lot that makes it a serialization, the GTIN must name a part.
    events[0]["ilmd"] = {"cbvmda:lotNumber": "L1"}
    assert refused(document(events[0])) == ("epcList[0]", "unknown_gtin")


def test_an_assembly_reads_the_dates_and_part_given_for_its_parent() -> None:
    parent = "urn:tracegraph:serial:P1"
    assembled = event(
        "AggregationEvent",
        5,
        action="ADD",
        parentID=parent,
        childQuantityList=[{"epcClass": LOT, "quantity": 1}],
        **{"tg:parts": {parent: "KIT"}, "tg:dates": {parent: {"expiry": "2030-01-01"}}},
    )
    (process,) = read(document(assembled)).events
    assert process["outputs"] == [{"serial": "P1", "part": "KIT", "expiry": "2030-01-01"}]


def test_event_time_is_kept_at_the_offset_the_event_happened_at() -> None:
    observed = event(
        "ObjectEvent",
        6,
        action="OBSERVE",
        disposition="recalled",
        quantityList=[{"epcClass": LOT}],
    )
    observed |= {"eventTime": "2026-03-02T07:00:00Z", "eventTimeZoneOffset": "+02:00"}
    (status,) = read(document(observed)).events
    assert status["occurred_at"] == "2026-03-02T09:00:00+02:00"
    observed |= {"eventTime": "2026-03-02T09:00:00.5+02:00"}
    (status,) = read(document(observed)).events
    assert status["occurred_at"] == "2026-03-02T09:00:00.5+02:00"  # already so: as sent


def test_event_time_in_a_lowercase_z_is_kept_at_the_event_offset_too() -> None:
    # RFC 3339 lets "z" stand for "Z", and the event contract reads it so: the offset is kept.
    observed = event(
        "ObjectEvent",
        7,
        action="OBSERVE",
        disposition="recalled",
        quantityList=[{"epcClass": LOT}],
    )
    observed |= {"eventTime": "2026-03-02t07:00:00z", "eventTimeZoneOffset": "+05:45"}
    (status,) = read(document(observed)).events
    assert status["occurred_at"] == "2026-03-02T12:45:00+05:45"


@pytest.mark.parametrize(
    ("moment", "offset", "kept"),
    [
        ("2026-03-02T07:00:00Z", "-00:00", "2026-03-02T07:00:00-00:00"),
        ("2026-03-02T08:00:00+01:00", "-00:00", "2026-03-02T07:00:00-00:00"),
        ("2026-03-02T07:00:00-00:00", "-00:00", "2026-03-02T07:00:00-00:00"),
        ("2026-03-02T07:00:00-00:00", "+00:00", "2026-03-02T07:00:00+00:00"),
        ("2026-03-02T07:00:00Z", "+00:00", "2026-03-02T07:00:00Z"),
    ],
)
def test_an_offset_of_minus_zero_is_kept_apart_from_plus_zero(
    moment: str, offset: str, kept: str
) -> None:
    observed = event(
        "ObjectEvent", 8, action="OBSERVE", disposition="recalled", quantityList=[{"epcClass": LOT}]
    )
    observed |= {"eventTime": moment, "eventTimeZoneOffset": offset}
    (status,) = read(document(observed)).events
    assert status["occurred_at"] == kept


@pytest.mark.parametrize(
    ("moment", "offset"),
    [("9999-12-31T23:30:00Z", "+05:45"), ("0001-01-01T00:30:00Z", "-03:30")],
)
def test_event_time_its_offset_takes_out_of_the_years_1_to_9999_is_refused(
    moment: str, offset: str
) -> None:
    # Kept in UTC it would lose the offset the next export writes (docs/epcis.md).
    observed = event(
        "ObjectEvent",
        8,
        action="OBSERVE",
        disposition="recalled",
        quantityList=[{"epcClass": LOT}],
    )
    observed |= {"eventTime": moment, "eventTimeZoneOffset": offset}
    with pytest.raises(BatchRejected) as caught:
        read(document(observed))
    (problem,) = caught.value.problems
    assert (problem.field, problem.code) == ("eventTime", "out_of_range")
    assert problem.message == f"{moment} at {offset} is outside the years 1 to 9999"


def test_a_pack_is_read_only_when_a_shipment_names_it() -> None:
    unknown = "https://id.gs1.org/01/09506000134352/21/SN1"  # a GTIN no part has
    packed = event("AggregationEvent", 12, action="ADD", parentID=SSCC, childEPCs=[unknown])
    found = read(document(packed))
    assert found.events == [] and [i.index for i in found.ignored] == [0]
    shipped = event(
        "ObjectEvent",
        13,
        action="OBSERVE",
        bizStep="shipping",
        epcList=[LOT.replace("lot", "serial"), SSCC],
        destinationList=[{"type": "owning_party", "destination": "urn:tracegraph:company:H"}],
    )
    with pytest.raises(BatchRejected) as caught:
        read(document(packed, shipped))
    (problem,) = caught.value.problems
    assert (problem.index, problem.field, problem.code) == (1, "epcList[1]", "unknown_gtin")
    assert "packed by event 0, childEPCs[0]" in problem.message


def test_a_logistic_unit_packed_into_itself_is_refused_by_name() -> None:
    looped = event("AggregationEvent", 14, action="ADD", parentID=SSCC, childEPCs=[SSCC])
    shipped = event(
        "ObjectEvent",
        15,
        action="OBSERVE",
        bizStep="shipping",
        epcList=[SSCC],
        destinationList=[{"type": "owning_party", "destination": "urn:tracegraph:company:H"}],
    )
    assert refused(document(looped, shipped)) == ("epcList[0]", "shape")


def exactly(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as capture reads it off the wire: numbers exact, as Decimals."""
    read_back: dict[str, Any] = strict_loads(dumps(doc), exact_numbers=True)
    return read_back


def receipt(lot: str, quantity: Any) -> dict[str, Any]:
    received = event(
        "ObjectEvent",
        0,
        action="ADD",
        bizStep="receiving",
        quantityList=[
            {"epcClass": f"urn:tracegraph:lot:{lot}", "quantity": quantity, "uom": "KGM"}
        ],
        sourceList=[{"type": "owning_party", "source": "urn:tracegraph:company:ACME"}],
        ilmd={"tg:part": "BAR"},
    )
    del received["eventID"]  # named by the digest of what happened
    return received


def _spelled_digests(doc: dict[str, Any]) -> list[str]:
    """The digests earlier versions named events without eventID by: of their JSON as read
    with floats, the event time as spelled."""
    floats = json.loads(json.dumps(doc))["epcisBody"]["eventList"]
    return [
        "epcis:sha256:"
        + hashlib.sha256(
            json.dumps(
                {k: v for k, v in e.items() if k not in ("recordTime", "errorDeclaration")},
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
            ).encode()
        ).hexdigest()
        for e in floats
    ]


def test_numbers_read_exactly_keep_the_digest_a_float_gave_them() -> None:
    # Events without eventID are stored under a digest of their JSON: the numbers a float holds
    # must spell it as they did when they were read as floats, or a resend is a new event.
    doc = document(receipt("L1", 12.5), receipt("L2", 3), receipt("L3", 1e-7))
    before = _spelled_digests(doc)
    found = set(before)
    reader = EpcisReader(lambda gtin: None, {})
    logged = reader.translate(exactly(doc), logged=lambda ids: {i: i for i in ids if i in found})
    assert [e["event_id"] for e in logged.events] == before
    assert [e["qty"] for e in read(exactly(doc)).events] == ["12.5", "3", "0.0000001"]


def test_a_number_a_float_cannot_hold_has_a_digest_of_its_own() -> None:
    finer, rounded = (
        read(exactly(document(receipt("L1", q)))).events[0]
        for q in (Decimal("12.50000000000000001"), 12.5)
    )
    assert finer["qty"] == "12.50000000000000001"
    assert finer["event_id"] != rounded["event_id"]


def process(params: dict[str, Any]) -> dict[str, Any]:
    return event(
        "TransformationEvent",
        5,
        inputQuantityList=[{"epcClass": LOT, "quantity": 2}],
        outputEPCList=["urn:tracegraph:serial:S1"],
        transformationID="urn:tracegraph:step:ST-1",
        **{
            "tg:type": "process",
            "tg:operation": "weld",
            "tg:parts": {"urn:tracegraph:serial:S1": "WIDGET"},
            "tg:params": params,
        },
    )


def test_process_parameters_read_exactly_are_the_floats_they_were() -> None:
    (made,) = read(exactly(document(process({"temp": 21.5, "passes": 3, "ok": True})))).events
    assert made["params"] == {"temp": 21.5, "passes": 3, "ok": True}
    assert type(made["params"]["temp"]) is float


def test_a_process_parameter_a_float_cannot_hold_is_refused_by_name() -> None:
    long = Decimal("21.50000000000000001")
    assert refused(exactly(document(process({"temp": long})))) == ("tg:params", "not_exact")


def test_an_event_id_leaves_room_for_a_suffix_only_where_it_becomes_several_events() -> None:
    def receipt(event_id: str, lots: int) -> dict[str, Any]:
        return event(
            "ObjectEvent",
            0,
            eventID=event_id,
            action="ADD",
            bizStep="receiving",
            quantityList=[
                {"epcClass": f"urn:tracegraph:lot:L{n}", "quantity": 1} for n in range(lots)
            ],
            sourceList=[{"type": "owning_party", "source": "urn:tracegraph:company:ACME"}],
            ilmd={"tg:part": "BAR"},
        )

    def long(length: int) -> str:
        return "urn:x:" + "E" * (length - 6)  # a URI, as the schema wants

    assert [e["event_id"] for e in read(document(receipt(long(200), 1))).events] == [long(200)]
    assert read(document(receipt(long(198), 2))).events[1]["event_id"] == long(198) + "#2"
    assert refused(document(receipt(long(199), 2))) == ("eventID", "too_long")
    assert refused(document(receipt(long(198), 10))) == ("eventID", "too_long")


def stated_process(stated: Any) -> dict[str, Any]:
    return document(
        event(
            "TransformationEvent",
            1,
            inputQuantityList=[{"epcClass": LOT, "quantity": 4, "uom": "KGM"}],
            outputEPCList=["urn:tracegraph:serial:S1"],
            **{"tg:type": "process", "tg:parts": {"urn:tracegraph:serial:S1": "CAP"}},
            **{"tg:stated": stated},
        )
    )


def test_what_our_event_did_not_state_is_left_out_of_it() -> None:
    (taken,) = read(stated_process({LOT: []})).events[0]["inputs"]
    assert taken == {"lot": "L1"}  # all that remains of it, in its own unit
    (taken,) = read(stated_process({LOT: ["quantity"]})).events[0]["inputs"]
    assert taken == {"lot": "L1", "qty": "4"}


@pytest.mark.parametrize("stated", [["quantity"], {LOT: "quantity"}, {LOT: ["qty"]}])
def test_a_statement_of_what_our_event_stated_that_is_not_one_is_refused(stated: Any) -> None:
    assert refused(stated_process(stated)) == ("tg:stated", "not_an_object")


def test_past_the_bound_the_events_after_are_not_read() -> None:
    unknown = [event("ExtendedEvent", n) for n in range(MAX_PROBLEMS + 5)]
    doc = {**document(), "epcisBody": {"eventList": unknown}}
    with pytest.raises(BatchRejected) as caught:
        read(doc)
    problems = caught.value.problems
    assert [p.code for p in problems] == ["unknown_type"] * MAX_PROBLEMS + ["too_many_problems"]
    assert problems[-1].message == (
        f"5 more events were not checked (at most {MAX_PROBLEMS} problems are named)"
    )


@pytest.mark.parametrize(
    "moment",
    [
        "2026-03-02T07:00:00.000Z",
        "2026-03-02T07:00:00z",
        "2026-03-02T08:00:00+01:00",
        "2026-03-02T07:00:00+00:00",
    ],
)
def test_an_event_without_id_is_named_by_its_instant_not_its_spelling(moment: str) -> None:
    # The CBV event hash reads an event time as the instant in UTC: one time spelled another way
    # is the same event, and a resend of it is not stored twice.
    said = receipt("L1", 5) | {"eventTime": moment}
    (ours,) = read(exactly(document(said))).events
    (first,) = read(
        exactly(document(receipt("L1", 5) | {"eventTime": "2026-03-02T07:00:00Z"}))
    ).events
    assert ours["event_id"] == first["event_id"]
    other = receipt("L1", 5) | {"eventTime": "2026-03-02T07:00:00.001Z"}
    assert read(exactly(document(other))).events[0]["event_id"] != first["event_id"]


def test_an_event_without_id_captured_under_its_spelled_time_keeps_that_id() -> None:
    # Earlier versions digested the time as spelled: a resend finds the event by that digest.
    doc = document(receipt("L1", 5) | {"eventTime": "2026-03-02T08:00:00+01:00"})
    spelled = _spelled_digests(doc)[0]
    now = read(exactly(doc)).events[0]["event_id"]
    assert now != spelled
    asked: list[Sequence[str]] = []

    def logged(ids: Sequence[str]) -> dict[str, Any]:
        asked.append(ids)
        return {spelled: object()} if spelled in ids else {}

    reader = EpcisReader(lambda gtin: None, {})
    (resent,) = reader.translate(exactly(doc), logged=logged).events
    assert resent["event_id"] == spelled
    assert len(asked) == 1  # asked once for the document, not again as the event is read
