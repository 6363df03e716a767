"""The EPCIS reader on documents the schema allows: each is read or refused by name."""

from __future__ import annotations

from typing import Any

import pytest

from graph.epcis import CONTEXTS
from graph.epcis_schema import schema_problems
from ingest.epcis_import import EpcisReader, Translation
from ingest.errors import BatchRejected

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
