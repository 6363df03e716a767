"""EPCIS 2.0 both ways, on both stores: exports validate against GS1's schema, an equivalent
document gives the same trace as native events, and export -> import reproduces a trace."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.recall import RecallService
from graph.embedded_store import EmbeddedStore
from graph.epcis import FULL_VIEW, EpcisView, dumps
from graph.epcis_export import EpcisExporter
from graph.epcis_schema import schema_problems
from graph.store import GraphStore
from graph.trace import Trace, TraceService
from ingest.demo_plant import HOSPITALS, DemoPlant
from ingest.epcis_capture import ALREADY_VOIDED, NEVER_CAPTURED, capture
from ingest.epcis_import import EpcisReader, gtin_parts, serial_lots
from ingest.errors import BatchConflict, BatchRejected
from ingest.service import IngestService
from tests.conformance.helpers import state
from tests.fixtures.epcis import (
    PARTIES,
    PARTS,
    SCREW,
    dl,
    gs1_document,
    gtin,
    lgtin,
    native_events,
    trace_shape,
)
from tests.fixtures.events import Events

SUPPLIERS = ("ACME-STEEL", "TITAN-METALS", "POLYMED", "PACKCO")
UNKNOWN = gtin("0950600077777")


def reader(store: GraphStore | None = None) -> EpcisReader:
    lots = None if store is None else serial_lots(store)
    return EpcisReader(PARTS.get, PARTIES, serial_lots=lots)


def capture_into(store: GraphStore, document: Any) -> Any:
    return capture(document, reader(store), IngestService(store).ingest, store.logged)


@pytest.fixture
def native(tmp_path: Path) -> Iterator[GraphStore]:
    """The GS1 plant ingested natively into a store of its own."""
    store = EmbeddedStore(tmp_path / "native.db")
    IngestService(store).ingest(native_events())
    yield store
    store.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[GraphStore]:
    store = EmbeddedStore(tmp_path / "demo.db")
    for batch in DemoPlant(size=250, seed=5).batches(1000):
        IngestService(store).ingest(batch)
    yield store
    store.close()


def supplier_lots(store: GraphStore) -> list[str]:
    links = store.links([f"company:{s}" for s in SUPPLIERS])
    return sorted({e.src for e in links if e.type == "FROM"})


# -- import -----------------------------------------------------------------------------------


ROOTS = [
    ("supplier_lot:ACME/H-1", "down"),
    ("supplier_lot:POLYMED/PM-1", "down"),
    ("lot:B1", "down"),
    ("serial:KIT-1", "up"),
    ("company:HOSP-NORTH", "up"),
]


def test_an_equivalent_document_gives_the_same_traces_as_native_events(
    store: GraphStore, native: GraphStore
) -> None:
    report = capture_into(store, gs1_document())
    assert report.report.created == len(native_events())
    assert [i.index for i in report.ignored] == [10]  # packing into an SSCC makes no genealogy
    for root, direction in ROOTS:
        ours = TraceService(store).trace(root, direction)
        theirs = TraceService(native).trace(root, direction)
        assert trace_shape(ours) == trace_shape(theirs), (root, direction)
    kit = TraceService(store).trace("supplier_lot:POLYMED/PM-1", "down")
    assert {n.id: n.exposure for n in kit.nodes}["serial:KIT-1"] == pytest.approx(2 / 3)


def test_the_answer_to_an_epcis_query_captures_as_the_document_does(
    store: GraphStore, native: GraphStore
) -> None:
    # What a partner's EPCIS repository answers a query with: the same events, in queryResults.
    answer = _as_query_answer(gs1_document())
    report = capture_into(store, answer)
    assert report.report.created == len(native_events())
    for root, direction in ROOTS:
        ours = TraceService(store).trace(root, direction)
        theirs = TraceService(native).trace(root, direction)
        assert trace_shape(ours) == trace_shape(theirs), (root, direction)


def test_capturing_the_same_document_again_changes_nothing(store: GraphStore) -> None:
    capture_into(store, gs1_document())
    before = state(store)
    again = capture_into(store, gs1_document())
    assert again.report.created == 0
    assert again.report.duplicates == len(native_events())
    assert state(store) == before


def test_an_event_sent_again_with_other_content_is_a_conflict(store: GraphStore) -> None:
    capture_into(store, gs1_document())
    changed = gs1_document()
    changed["epcisBody"]["eventList"][0]["quantityList"][0]["quantity"] = 99
    before = state(store)
    with pytest.raises(BatchConflict) as caught:
        capture_into(store, changed)
    assert state(store) == before
    (problem,) = caught.value.problems
    assert (problem.index, problem.event_id, problem.code) == (
        0,
        changed["epcisBody"]["eventList"][0]["eventID"],
        "conflict",
    )


def test_events_without_an_event_id_are_recognised_by_their_content(store: GraphStore) -> None:
    document = gs1_document()
    for event in document["epcisBody"]["eventList"]:
        del event["eventID"]
    first = capture_into(store, document)
    ids = [r.event_id for r in first.report.results]
    assert all(i.startswith("epcis:sha256:") for i in ids)
    for event in document["epcisBody"]["eventList"]:
        event["recordTime"] = "2026-03-03T00:00:00Z"  # the sender's bookkeeping, not the event
    again = capture_into(store, document)
    assert [r.event_id for r in again.report.results] == ids
    assert again.report.created == 0


def test_an_event_without_an_event_id_resent_with_its_time_spelled_otherwise_is_the_same(
    store: GraphStore,
) -> None:
    document = gs1_document()
    for event in document["epcisBody"]["eventList"]:
        del event["eventID"]
    first = capture_into(store, document)
    before = state(store)
    for event in document["epcisBody"]["eventList"]:
        # The same instant, in UTC to the millisecond (as the CBV event hash writes it).
        at = datetime.fromisoformat(event["eventTime"]).astimezone(UTC)
        event["eventTime"] = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    again = capture_into(store, document)
    assert [r.event_id for r in again.report.results] == [r.event_id for r in first.report.results]
    assert again.report.created == 0
    assert state(store) == before


def test_an_event_captured_under_its_time_as_spelled_keeps_its_id(store: GraphStore) -> None:
    # Earlier versions digested an event time as spelled: such an event, in the log already,
    # is found under that id when sent again as it was.
    shipped = _without_id(_shipping("KGM"))
    text = json.dumps(shipped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    earlier = "epcis:sha256:" + hashlib.sha256(text.encode()).hexdigest()
    kilograms = {"epcClass": "urn:tracegraph:lot:RX-1", "quantity": 10, "uom": "KGM"}
    capture_into(store, _document(_receipt(quantityList=[kilograms])))
    (ship,) = reader().translate(_document(shipped)).events
    assert ship["event_id"] != earlier
    IngestService(store).ingest([ship | {"event_id": earlier, "shipment": earlier}])
    before = state(store)
    (resent,) = capture_into(store, _document(shipped)).report.results
    assert (resent.event_id, resent.status) == (earlier, "duplicate")
    assert state(store) == before


def _without_id(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "eventID"}


def test_an_event_without_an_event_id_is_the_same_alone_in_a_document_or_declared_wrong(
    store: GraphStore,
) -> None:
    receipt = _without_id(_receipt())
    alone = {"@context": gs1_document()["@context"], **receipt}
    (created,) = capture_into(store, alone).report.results
    (again,) = capture_into(store, _document(receipt)).report.results
    assert (again.event_id, again.status) == (created.event_id, "duplicate")
    declared = {"declarationTime": "2026-03-03T08:00:00Z", "reason": "incorrect_data"}
    retraction = _document(receipt | {"errorDeclaration": declared})
    assert capture_into(store, retraction).report.created == 1
    assert store.logged([created.event_id])[created.event_id].voided_by is not None


def test_an_event_captured_under_an_earlier_digest_keeps_its_id(store: GraphStore) -> None:
    # Earlier versions digested all but recordTime, so an event sent alone was digested
    # with its @context: such an event, in the log already, is found under that id.
    # A shipping event without bizTransactionList: its shipment is named by the event's id.
    alone = {"@context": gs1_document()["@context"], **_without_id(_shipping("KGM"))}
    text = json.dumps(alone, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    earlier = "epcis:sha256:" + hashlib.sha256(text.encode()).hexdigest()
    kilograms = {"epcClass": "urn:tracegraph:lot:RX-1", "quantity": 10, "uom": "KGM"}
    capture_into(store, _document(_receipt(quantityList=[kilograms])))
    (ship,) = reader().translate(alone).events
    assert ship["event_id"] != earlier
    IngestService(store).ingest([ship | {"event_id": earlier, "shipment": earlier}])
    before = state(store)
    (resent,) = capture_into(store, alone).report.results
    assert (resent.event_id, resent.status) == (earlier, "duplicate")
    assert state(store) == before
    declared = {"declarationTime": "2026-03-04T08:00:00Z"}
    assert capture_into(store, alone | {"errorDeclaration": declared}).report.created == 1
    assert store.logged([earlier])[earlier].voided_by == f"epcis:void:{earlier}"


def _receipt(**extra: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:7d2c0c1e-0000-4000-8000-00000000e001",
        "eventTime": "2026-03-02T08:00:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        "action": "ADD",
        "bizStep": "receiving",
        "quantityList": [{"epcClass": "urn:tracegraph:lot:RX-1", "quantity": 10}],
        "sourceList": [{"type": "owning_party", "source": "urn:tracegraph:company:ACME"}],
        "ilmd": {"tg:part": "BAR-316L"},
        **extra,
    }


def _document(*events: dict[str, Any]) -> dict[str, Any]:
    document = gs1_document()
    document["epcisBody"]["eventList"] = list(events)
    return document


def test_an_error_declaration_voids_the_event_it_declares_wrong(store: GraphStore) -> None:
    capture_into(store, _document(_receipt()))
    declared = {"declarationTime": "2026-03-03T08:00:00Z", "reason": "incorrect_data"}
    retraction = _document(_receipt(errorDeclaration=declared))
    report = capture_into(store, retraction).report
    assert report.created == 1
    original = store.logged([_receipt()["eventID"]])[_receipt()["eventID"]]
    assert original.voided_by is not None
    assert store.node("lot:RX-1") is None
    (void,) = store.logged([original.voided_by]).values()
    assert void.type == "void" and "incorrect_data" in void.payload
    # Declared again: the same void, a duplicate; nothing is applied twice.
    again = capture_into(store, retraction).report
    assert (again.created, again.duplicates) == (0, 1)


def test_an_error_declaration_of_an_event_never_captured_is_skipped(store: GraphStore) -> None:
    # A partner's document retracts what it sent earlier, which this store may never have had.
    declared = {"declarationTime": "2026-03-03T08:00:00Z"}
    other = _receipt(eventID="urn:uuid:7d2c0c1e-0000-4000-8000-0000000000f1")
    other["quantityList"] = [{"epcClass": "urn:tracegraph:lot:RX-2", "quantity": 4}]
    report = capture_into(store, _document(_receipt(errorDeclaration=declared), other))
    assert report.report.created == 1 and store.node("lot:RX-2") is not None
    assert [(i.index, i.epcis_id, i.reason) for i in report.ignored] == [
        (0, _receipt()["eventID"], NEVER_CAPTURED)
    ]
    assert store.logged([_receipt()["eventID"]]) == {}


def test_a_document_of_skipped_declarations_only_says_what_it_skipped(store: GraphStore) -> None:
    # Read and deliberately skipped, not lost: the answer lists each, as beside other events.
    declared = {"declarationTime": "2026-03-03T08:00:00Z"}
    before = state(store)
    report = capture_into(store, _document(_receipt(errorDeclaration=declared)))
    assert (report.report.created, report.report.duplicates) == (0, 0)
    assert [(i.index, i.epcis_id, i.reason) for i in report.ignored] == [
        (0, _receipt()["eventID"], NEVER_CAPTURED)
    ]
    assert report.to_dict()["ignored"] == [
        {"index": 0, "eventID": _receipt()["eventID"], "reason": NEVER_CAPTURED}
    ]
    assert state(store) == before


def test_an_error_declaration_of_an_event_voided_here_already_is_skipped(
    store: GraphStore,
) -> None:
    # Our own export of a voided event, captured back, or a partner's declaration of an event
    # we voided ourselves: the event is retracted already, and the rest of the document is read.
    capture_into(store, _document(_receipt()))
    our_id = _receipt()["eventID"]
    void = {"event_id": "V-1", "type": "void", "occurred_at": "2026-03-03T07:00:00Z"}
    IngestService(store).ingest([void | {"voids": our_id, "reason": "typo"}])
    declared = {"declarationTime": "2026-03-03T08:00:00Z", "reason": "incorrect_data"}
    other = _receipt(eventID="urn:uuid:7d2c0c1e-0000-4000-8000-0000000000f1")
    other["quantityList"] = [{"epcClass": "urn:tracegraph:lot:RX-2", "quantity": 4}]
    before = state(store)
    report = capture_into(store, _document(_receipt(errorDeclaration=declared), other))
    assert report.report.created == 1 and store.node("lot:RX-2") is not None
    assert [(i.index, i.epcis_id, i.reason) for i in report.ignored] == [
        (0, our_id, ALREADY_VOIDED)
    ]
    assert store.logged([our_id])[our_id].voided_by == "V-1"
    assert len(state(store)[1]) == len(before[1]) + 1


def test_our_export_of_an_event_voided_by_a_declaration_captures_back_as_nothing_new(
    store: GraphStore,
) -> None:
    # A partner declared our shipment wrong (did_not_occur); our export says incorrect_data, as
    # it does of every void, so its declaration reads as another reason: the same retraction.
    events = [
        {"event_id": "R-1", "type": "receive", "occurred_at": "2026-03-02T08:00:00Z",
         "supplier": "ACME", "supplier_lot": "H1", "part": "BAR", "lot": "L-1", "qty": "10"},
        {"event_id": "SH-1", "type": "ship", "occurred_at": "2026-03-02T09:00:00Z",
         "shipment": "D-1", "customer": "CLINIC", "items": [{"lot": "L-1", "qty": "3"}]},
    ]  # fmt: skip
    IngestService(store).ingest(events)
    traces, exporter = TraceService(store), EpcisExporter(store)

    def exported() -> list[dict[str, Any]]:
        trace = traces.trace("supplier_lot:ACME/H1", "down")
        events: list[dict[str, Any]] = exporter.trace_document(trace, FULL_VIEW)["epcisBody"][
            "eventList"
        ]
        return events

    (shipment,) = [e for e in exported() if e["eventID"].endswith(":SH-1")]
    declared = {"declarationTime": "2026-03-03T08:00:00Z", "reason": "did_not_occur"}
    capture_into(store, _document(shipment | {"errorDeclaration": declared}))
    assert store.logged(["SH-1"])["SH-1"].voided_by == "epcis:void:SH-1"
    document = exported()
    assert [e["errorDeclaration"]["reason"] for e in document if "errorDeclaration" in e] == [
        "incorrect_data"
    ]
    before = state(store)
    report = capture_into(store, _document(*document))
    assert (report.report.created, report.report.duplicates) == (0, 1)
    assert [(i.epcis_id, i.reason) for i in report.ignored] == [
        (shipment["eventID"], ALREADY_VOIDED)
    ]
    assert state(store) == before


def test_an_error_declaration_of_an_event_of_the_same_document_is_refused(
    store: GraphStore,
) -> None:
    declared = {"declarationTime": "2026-03-03T08:00:00Z", "reason": "incorrect_data"}
    document = _document(_receipt(), _receipt(errorDeclaration=declared))
    problem = _refused(store, document, "void_same_batch")
    assert (problem.index, problem.event_id) == (1, _receipt()["eventID"])
    assert problem.field == "errorDeclaration"
    assert "later document" in problem.message


def _shipping(uom: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:7d2c0c1e-0000-4000-8000-00000000e0{len(uom):02d}",
        "eventTime": "2026-03-03T08:00:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "quantityList": [{"epcClass": "urn:tracegraph:lot:RX-1", "quantity": 5, "uom": uom}],
        "destinationList": [{"type": "owning_party", "destination": "urn:tracegraph:company:HOSP"}],
    }


def test_a_quantity_in_another_unit_than_the_lots_is_refused(store: GraphStore) -> None:
    kilograms = {"epcClass": "urn:tracegraph:lot:RX-1", "quantity": 10, "uom": "KGM"}
    capture_into(store, _document(_receipt(quantityList=[kilograms])))
    problem = _refused(store, _document(_shipping("GRM")), "unit_mismatch")
    assert problem.field == "quantityList[0].uom"
    assert 'counted in "kg", not "g"' in problem.message
    assert capture_into(store, _document(_shipping("KGM"))).report.created == 1


def _refused(store: GraphStore, document: Any, code: str) -> Any:
    """Capture a document that must fail with `code`, writing nothing; return the problem."""
    before = state(store)
    with pytest.raises(BatchRejected) as caught:
        capture_into(store, document)
    assert state(store) == before, "a refused document must write nothing"
    found = [p for p in caught.value.problems if p.code == code]
    assert found, caught.value.problems
    return found[0]


def _with(change: Any) -> dict[str, Any]:
    document = gs1_document()
    change(document["epcisBody"]["eventList"])
    return document


def test_a_document_that_breaks_the_schema_is_refused(store: GraphStore) -> None:
    def bad_action(events: list[dict[str, Any]]) -> None:
        events[3]["type"] = "ObjectEvent"  # an ObjectEvent needs an action
        events[6]["action"] = "MOVE"

    problem = _refused(store, _with(bad_action), "schema")
    assert problem.index == 3
    assert problem.event_id == gs1_document()["epcisBody"]["eventList"][3]["eventID"]


def test_an_event_type_we_do_not_read_is_refused(store: GraphStore) -> None:
    def extension(events: list[dict[str, Any]]) -> None:
        events[2] = {
            "type": "https://example.com/epcis/CalibrationEvent",
            "eventTime": "2026-03-02T08:03:00+01:00",
            "eventTimeZoneOffset": "+01:00",
        }

    document = _with(extension)
    assert schema_problems(document) == []  # valid EPCIS, just not ours to read
    problem = _refused(store, document, "unknown_type")
    assert (problem.index, problem.field) == (2, "type")


def test_an_unknown_gtin_is_refused_naming_the_event_and_field(store: GraphStore) -> None:
    def unknown(events: list[dict[str, Any]]) -> None:
        events[4]["outputQuantityList"][0]["epcClass"] = lgtin(UNKNOWN, "M1")

    problem = _refused(store, _with(unknown), "unknown_gtin")
    assert (problem.index, problem.field) == (4, "outputQuantityList[0].epcClass")
    assert UNKNOWN in problem.message


def test_an_identifier_of_no_scheme_we_read_is_refused(store: GraphStore) -> None:
    def foreign(events: list[dict[str, Any]]) -> None:
        events[6]["epcList"][1] = "urn:example:widget:42"

    problem = _refused(store, _with(foreign), "unknown_identifier")
    assert (problem.index, problem.field) == (6, "epcList[1]")


@pytest.mark.parametrize("name", ["tg:units", "tg:parts"])
def test_an_extension_of_the_wrong_type_is_refused_by_name(store: GraphStore, name: str) -> None:
    def wrong(events: list[dict[str, Any]]) -> None:
        events[4][name] = ["not", "a", "map"]

    document = _with(wrong)
    assert schema_problems(document) == []  # extensions may hold any JSON
    problem = _refused(store, document, "not_an_object")
    assert (problem.index, problem.field) == (4, name)


@pytest.mark.parametrize("value", [[["quantity"]], [{"quantity": 1}], ["qty"], "quantity"])
def test_what_an_event_stated_that_is_not_a_list_of_names_is_refused_by_name(
    store: GraphStore, value: Any
) -> None:
    def wrong(events: list[dict[str, Any]]) -> None:
        output = events[4]["outputQuantityList"][0]["epcClass"]
        events[4]["tg:stated"] = {output: value}

    problem = _refused(store, _with(wrong), "not_an_object")
    assert (problem.index, problem.field) == (4, "tg:stated")


@pytest.mark.parametrize("value", [{"part": "BAR-316L"}, ["BAR-316L"]])
def test_parts_that_are_not_text_are_refused_by_name(store: GraphStore, value: Any) -> None:
    # A merge told apart by its shape: the parts given are compared with the GTINs' own.
    def wrong(events: list[dict[str, Any]]) -> None:
        output = events[4]["outputQuantityList"][0]["epcClass"]
        events[4]["tg:parts"] = {output: value}

    problem = _refused(store, _with(wrong), "not_an_object")
    assert (problem.index, problem.field) == (4, "tg:parts")
    assert problem.event_id == gs1_document()["epcisBody"]["eventList"][4]["eventID"]


def test_a_split_whose_input_quantity_is_not_what_its_outputs_hold_is_refused(
    store: GraphStore,
) -> None:
    capture_into(store, _document(_receipt()))  # lot RX-1, 10 ea

    def split(taken: int) -> dict[str, Any]:
        return {
            "type": "TransformationEvent",
            "eventID": f"urn:uuid:7d2c0c1e-0000-4000-8000-0000000005{taken:02d}",
            "eventTime": "2026-03-03T08:00:00+01:00",
            "eventTimeZoneOffset": "+01:00",
            "inputQuantityList": [{"epcClass": "urn:tracegraph:lot:RX-1", "quantity": taken}],
            "outputQuantityList": [{"epcClass": "urn:tracegraph:lot:RX-1A", "quantity": 3}],
        }

    problem = _refused(store, _document(split(6)), "quantity_mismatch")
    assert (problem.index, problem.field) == (0, "inputQuantityList[0].quantity")
    assert "6" in problem.message and "(3)" in problem.message
    assert capture_into(store, _document(split(3))).report.created == 1
    assert store.node("lot:RX-1").attrs["available"] == "7"  # type: ignore[union-attr]


def test_over_consumption_is_refused_in_terms_of_the_epcis_event(store: GraphStore) -> None:
    def greedy(events: list[dict[str, Any]]) -> None:
        events[4]["inputQuantityList"][0]["quantity"] = 61  # B1-A holds 60
        events[4]["outputQuantityList"][0]["quantity"] = 81  # what the merge takes, as it makes

    problem = _refused(store, _with(greedy), "over_consumption")
    assert problem.index == 4
    assert problem.field == "inputQuantityList[0].epcClass"
    assert "as our merge event" in problem.message


def test_a_trace_exported_and_imported_into_an_empty_store_is_the_same(
    store: GraphStore, tmp_path: Path
) -> None:
    for batch in DemoPlant(size=250, seed=5).batches(1000):
        IngestService(store).ingest(batch)
    traces = TraceService(store)
    cases = [("serial:KIT000010007", "up", False), ("supplier_lot:ACME-STEEL/H70001", "down", True)]
    for n, (root, direction, closure) in enumerate(cases):
        original = traces.trace(root, direction)
        document = EpcisExporter(store).trace_document(original, FULL_VIEW, closure=closure)
        fresh = EmbeddedStore(tmp_path / f"fresh-{n}.db")
        try:
            capture(document, EpcisReader(), IngestService(fresh).ingest, fresh.logged)
            copy_ = TraceService(fresh).trace(root, direction)
        finally:
            fresh.close()
        # Quantities still available differ: the fresh store saw only what the trace needed.
        compared = ("part", "qty", "unit", "status", "created_by", "operation", "equipment")
        compared += ("expiry", "manufactured")  # the kits' UDI dates
        assert trace_shape(copy_, attrs=compared) == trace_shape(original, attrs=compared)
    assert any("expiry" in n.attrs for n in original.nodes), "the kits carry dates"


def test_udi_dates_of_receipts_and_serials_survive_an_exchange(
    store: GraphStore, tmp_path: Path
) -> None:
    dated = {"expiry": "2031-03-01", "manufactured": "2026-02-27"}
    IngestService(store).ingest(
        [
            {
                "event_id": "R-1",
                "type": "receive",
                "occurred_at": "2026-03-02T08:00:00Z",
                "supplier": "ACME",
                "supplier_lot": "H-1",
                "part": "BAR",
                "lot": "L-1",
                "qty": "2",
                **dated,
            },
            {
                "event_id": "S-1",
                "type": "serialize",
                "occurred_at": "2026-03-02T09:00:00Z",
                "lot": "L-1",
                "serials": ["SN-1", "SN-2"],
                **dated,
            },
        ]
    )
    trace = TraceService(store).trace("lot:L-1", "down")
    document = EpcisExporter(store).trace_document(trace, FULL_VIEW, closure=True)
    fresh = EmbeddedStore(tmp_path / "fresh.db")
    try:
        capture(document, EpcisReader(), IngestService(fresh).ingest, fresh.logged)
        for gid in ("lot:L-1", "serial:SN-1"):
            node = fresh.node(gid)
            assert node is not None
            assert {k: node.attrs.get(k) for k in dated} == dated, gid
    finally:
        fresh.close()


def test_an_export_from_one_store_imports_into_the_other(
    store: GraphStore, demo: GraphStore
) -> None:
    original = TraceService(demo).trace("supplier_lot:POLYMED/PM-2", "down")
    document = EpcisExporter(demo).trace_document(original, FULL_VIEW, closure=True)
    capture(document, EpcisReader(), IngestService(store).ingest, store.logged)
    compared = ("part", "qty", "unit", "status", "created_by")
    copy_ = TraceService(store).trace("supplier_lot:POLYMED/PM-2", "down")
    assert trace_shape(copy_, attrs=compared) == trace_shape(original, attrs=compared)


def _screws_with_lot(lot: str | None, ilmd: dict[str, str] | None = None) -> dict[str, Any]:
    """The plant's document with its screws commissioned as Digital Links naming `lot` (AI 10)
    beside each serial, and the given ILMD (the plant's names lot T1 there)."""
    document = gs1_document()
    listed = document["epcisBody"]["eventList"]
    commissioning = listed[6]
    assert commissioning["bizStep"] == "commissioning"
    named = {dl(SCREW, serial=f"SN{n}"): dl(SCREW, lot=lot, serial=f"SN{n}") for n in range(1, 5)}
    commissioning["epcList"] = [named[uri] for uri in commissioning["epcList"]]
    if ilmd is None:
        commissioning.pop("ilmd")
    else:
        commissioning["ilmd"] = ilmd
    return document


def _lot_of_serial(store: GraphStore, serial: str) -> list[str]:
    return [e.src for e in store.links([serial]) if e.type == "SERIALIZED_AS"]


def test_a_digital_link_of_lot_and_serial_names_the_serial_of_that_lot(
    store: GraphStore, native: GraphStore
) -> None:
    # GS1 GS 3.4.1: a GTIN and serial name the item; the lot is its context, here the one
    # the ILMD serializes them from.
    report = capture_into(store, _screws_with_lot("T1", {"cbvmda:lotNumber": "T1"}))
    assert report.report.created == len(native_events())
    assert _lot_of_serial(store, "serial:SN1") == ["lot:T1"]
    for root, direction in ROOTS:
        ours = TraceService(store).trace(root, direction)
        theirs = TraceService(native).trace(root, direction)
        assert trace_shape(ours) == trace_shape(theirs), (root, direction)


def _commissioning(*listed: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:7d2c0c1e-0000-4000-8000-0000000000c1",
        "eventTime": "2026-03-02T08:08:30+01:00",
        "eventTimeZoneOffset": "+01:00",
        "action": "ADD",
        "bizStep": "commissioning",
        "epcList": list(listed),
    }


@pytest.mark.parametrize("batch", ["K1", "T1"])
def test_commissioning_an_assembly_named_with_its_batch_is_ignored(
    store: GraphStore, batch: str
) -> None:
    # Without a lot in the ILMD the kit comes into being when it is assembled, as without
    # its batch in the link; a lot that exists (T1) serializes nothing either.
    document = gs1_document()
    listed = document["epcisBody"]["eventList"]
    kit = listed[8]["parentID"]
    listed.insert(8, _commissioning(kit.replace("/21/", f"/10/{batch}/21/")))
    report = capture_into(store, document)
    assert report.report.created == len(native_events())
    assert [i.index for i in report.ignored] == [8, 11]
    assert _lot_of_serial(store, "serial:KIT-1") == []


def test_commissioning_a_product_of_an_unknown_gtin_named_with_its_batch_is_ignored(
    store: GraphStore,
) -> None:
    # A partner's own product: its GTIN is no part of ours, which is no reason to refuse.
    document = gs1_document()
    theirs = f"https://id.gs1.org/01/{UNKNOWN}/10/BATCH7/21/P-1"
    document["epcisBody"]["eventList"].append(_commissioning(theirs))
    report = capture_into(store, document)
    assert report.report.created == len(native_events())
    assert report.ignored[-1].index == len(native_events()) + 1


def test_commissioning_serials_some_named_with_a_lot_without_one_in_the_ilmd_is_ignored(
    store: GraphStore,
) -> None:
    listed = gs1_document()["epcisBody"]["eventList"][:6]  # lot T1 of screws
    named = [dl(SCREW, lot="T1", serial="SN8"), dl(SCREW, serial="SN9")]
    report = capture_into(store, _document(*listed, _commissioning(*named)))
    assert (report.report.created, [i.index for i in report.ignored]) == (6, [6])
    assert _lot_of_serial(store, "serial:SN8") == _lot_of_serial(store, "serial:SN9") == []


def test_a_serial_named_with_another_lot_than_the_ilmd_is_refused(store: GraphStore) -> None:
    problem = _refused(store, _screws_with_lot("T9", {"cbvmda:lotNumber": "T1"}), "lot_mismatch")
    assert (problem.index, problem.field) == (6, "epcList[0]")
    assert "'SN1' is named with lot 'T9'" in problem.message and "'T1'" in problem.message


def _observed(tag: str, *listed: str, **fields: Any) -> dict[str, Any]:
    """An observation of the listed items, a day after the plant's document, with `fields`."""
    return {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:7d2c0c1e-0000-4000-8000-0000000000{tag}",
        "eventTime": "2026-03-03T08:00:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        "action": "OBSERVE",
        "epcList": list(listed),
        **fields,
    }


def test_a_serial_named_with_another_lot_than_it_was_serialized_from_is_refused(
    store: GraphStore,
) -> None:
    capture_into(store, gs1_document())  # SN1 is serialized from lot T1
    observed = _observed("a1", dl(SCREW, lot="T9", serial="SN1"), disposition="recalled")
    problem = _refused(store, _document(observed), "lot_mismatch")
    assert (problem.index, problem.field) == (0, "epcList[0]")
    assert "'SN1' is named with lot 'T9'" in problem.message
    observed["epcList"] = [dl(SCREW, lot="T1", serial="SN1")]
    assert capture_into(store, _document(observed)).report.created == 1


def test_a_serial_named_with_another_lot_than_the_document_serializes_it_from_is_refused(
    store: GraphStore,
) -> None:
    document = gs1_document()
    quarantine = document["epcisBody"]["eventList"][12]
    assert quarantine["epcList"] == [dl(SCREW, serial="SN3")]
    quarantine["epcList"] = [dl(SCREW, lot="T9", serial="SN3")]
    problem = _refused(store, document, "lot_mismatch")
    assert (problem.index, problem.field) == (12, "epcList[0]")
    assert "'SN3' is named with lot 'T9'" in problem.message and "'T1'" in problem.message


def test_a_packed_serial_named_with_another_lot_is_refused_where_its_unit_ships(
    store: GraphStore,
) -> None:
    document = gs1_document()
    packing = document["epcisBody"]["eventList"][10]
    assert packing["bizStep"] == "packing"
    packing["childEPCs"].append(dl(SCREW, lot="T9", serial="SN3"))
    problem = _refused(store, document, "lot_mismatch")
    assert (problem.index, problem.field) == (11, "epcList[0]")
    assert "'SN3' is named with lot 'T9'" in problem.message


def test_a_serial_named_with_another_lot_by_an_ignored_event_is_not_checked(
    store: GraphStore,
) -> None:
    # A status observation that says no status makes nothing: what its links name is not read.
    capture_into(store, gs1_document())  # SN1 is serialized from lot T1
    recalled = _observed("a3", dl(SCREW, serial="SN2"), disposition="recalled")
    ignored = _observed("a4", dl(SCREW, lot="T9", serial="SN1"), **{"tg:type": "status"})
    report = capture_into(store, _document(ignored, recalled))
    assert (report.report.created, [i.index for i in report.ignored]) == (1, [0])


def test_an_event_refused_is_told_for_its_refusal_alone(store: GraphStore) -> None:
    # Its serial's lot is not checked as well: nothing of the event is read as it was sent.
    capture_into(store, gs1_document())  # SN1 is serialized from lot T1
    shipped = _observed("a2", dl(SCREW, lot="T9", serial="SN1"), bizStep="shipping")
    with pytest.raises(BatchRejected) as caught:
        capture_into(store, _document(shipped))
    assert [(p.index, p.code) for p in caught.value.problems] == [(0, "no_party")]


def _declared(event: dict[str, Any]) -> dict[str, Any]:
    return event | {
        "errorDeclaration": {"declarationTime": "2026-03-04T08:00:00Z", "reason": "incorrect_data"}
    }


def _sent_again_and_retracted(store: GraphStore, *events: dict[str, Any]) -> None:
    """Send again events the store holds, their links naming another lot than the serials
    are of (as capture took them before it read the lot of a link): they are duplicates, and
    an error declaration of the last voids it."""
    before = state(store)
    report = capture_into(store, _document(*events)).report
    assert (report.created, report.duplicates) == (0, len(events))
    assert state(store) == before
    (void,) = capture_into(store, _document(_declared(events[-1]))).report.results
    assert void.status == "created"
    ours = void.event_id.removeprefix("epcis:void:")
    assert store.logged([ours])[ours].voided_by == void.event_id


def test_a_commissioning_captured_before_its_links_lots_were_read_stays_the_same_event(
    store: GraphStore,
) -> None:
    # Read then as the serials alone (the ILMD's lot T1 serializing them), so as these were.
    listed = gs1_document()["epcisBody"]["eventList"][:7]
    capture_into(store, _document(*listed))
    listed = _screws_with_lot("T9", {"cbvmda:lotNumber": "T1"})["epcisBody"]["eventList"][:7]
    _sent_again_and_retracted(store, *listed)
    assert _lot_of_serial(store, "serial:SN1") == []  # voided with its commissioning


def test_a_serialization_captured_before_its_links_lots_were_read_stays_the_same_event(
    store: GraphStore,
) -> None:
    def serialization(lot: str | None) -> dict[str, Any]:
        return {
            "type": "TransformationEvent",
            "eventID": "urn:uuid:7d2c0c1e-0000-4000-8000-0000000000b2",
            "eventTime": "2026-03-02T08:30:00+01:00",
            "eventTimeZoneOffset": "+01:00",
            "inputQuantityList": [{"epcClass": lgtin(SCREW, "T1"), "quantity": 2}],
            "outputEPCList": [dl(SCREW, lot=lot, serial=f"SN{n}") for n in (8, 9)],
        }

    listed = gs1_document()["epcisBody"]["eventList"][:6]  # lot T1 of screws
    capture_into(store, _document(*listed, serialization(None)))
    _sent_again_and_retracted(store, *listed, serialization("T9"))


def _sn1_observed_with_lot_t9() -> dict[str, Any]:
    """An observation naming SN1 (of lot T1) in a Digital Link with lot T9."""
    return {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:7d2c0c1e-0000-4000-8000-0000000000b1",
        "eventTime": "2026-03-03T08:00:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        "action": "OBSERVE",
        "disposition": "recalled",
        "epcList": [dl(SCREW, lot="T9", serial="SN1")],
    }


@pytest.mark.parametrize("with_id", [True, False])
def test_an_observation_captured_before_its_links_lots_were_checked_stays_the_same_event(
    store: GraphStore, with_id: bool
) -> None:
    capture_into(store, gs1_document())  # SN1 is serialized from lot T1
    observed = _sn1_observed_with_lot_t9()
    observed = observed if with_id else _without_id(observed)
    # Capture did not ask the store which lot a serial is of: it took the observation.
    taken = capture(_document(observed), reader(), IngestService(store).ingest, store.logged)
    assert taken.report.created == 1
    _sent_again_and_retracted(store, observed)


def test_an_observation_captured_before_its_links_lots_were_checked_and_changed_is_a_conflict(
    store: GraphStore,
) -> None:
    capture_into(store, gs1_document())  # SN1 is serialized from lot T1
    observed = _sn1_observed_with_lot_t9()
    capture(_document(observed), reader(), IngestService(store).ingest, store.logged)
    before = state(store)
    with pytest.raises(BatchConflict):
        capture_into(store, _document(observed | {"disposition": "destroyed"}))
    assert state(store) == before


# -- export -----------------------------------------------------------------------------------


@pytest.fixture
def demo_in_store(store: GraphStore) -> GraphStore:
    for batch in DemoPlant(size=250, seed=5).batches(1000):
        IngestService(store).ingest(batch)
    return store


def test_exports_of_many_demo_plant_traces_validate_against_the_schema(
    demo_in_store: GraphStore,
) -> None:
    store = demo_in_store
    traces, exporter = TraceService(store), EpcisExporter(store)
    kits = sorted(v.gid for v in store.nodes_of_kind("serial", 10_000) if "KIT" in v.gid)
    roots = [(s, "down") for s in supplier_lots(store)]
    roots += [(k, "up") for k in kits[::12]]
    roots += [("lot:L00001-BLEND", "up"), ("lot:L00001-BAR-W2", "down"), ("lot:L00001-M1", "up")]
    kinds: set[str] = set()
    for root, direction in roots:
        document = exporter.trace_document(traces.trace(root, direction), FULL_VIEW)
        assert schema_problems(document) == [], (root, direction)
        assert document["epcisBody"]["eventList"], (root, direction)
        kinds |= {e["tg:type"] for e in document["epcisBody"]["eventList"]}
    assert len(roots) >= 15
    assert kinds == {"receive", "split", "merge", "mix", "process", "serialize", "ship", "status"}


def test_a_demo_plants_exports_captured_into_its_own_store_are_duplicates(
    store: GraphStore,
) -> None:
    """A plant's traces (one campaign), down from every supplier lot and up from every
    customer, captured back into the store they came from: each event is one we logged."""
    for batch in DemoPlant(size=1, seed=5).batches(1000):
        IngestService(store).ingest(batch)
    traces, exporter = TraceService(store), EpcisExporter(store)
    ways = {"down": supplier_lots(store), "up": [f"company:{h}" for h in HOSPITALS]}
    kinds: set[str] = set()
    before = state(store)
    for direction, roots in ways.items():
        found = [traces.trace(root, direction) for root in roots]
        # All of them as one trace: the events of each are written as in its own document,
        # and each is captured once, which keeps this quick.
        nodes = [node for trace in found for node in trace.nodes]
        whole = Trace(roots[0], direction, nodes, [e for trace in found for e in trace.edges])
        document = exporter.trace_document(whole, FULL_VIEW)
        events = document["epcisBody"]["eventList"]
        kinds |= {e["tg:type"] for e in events}
        report = capture(document, EpcisReader(), IngestService(store).ingest, store.logged)
        assert (report.report.created, report.report.duplicates) == (0, len(events)), direction
    assert kinds == {"receive", "split", "merge", "mix", "process", "serialize", "ship", "status"}
    assert state(store) == before


def test_export_reports_what_a_process_took_of_a_lot_it_named_without_a_quantity(
    demo_in_store: GraphStore,
) -> None:
    trace = TraceService(demo_in_store).trace("lot:L00001-BAR-W1-C", "up")
    document = EpcisExporter(demo_in_store).trace_document(trace, FULL_VIEW)
    (cut,) = [e for e in document["epcisBody"]["eventList"] if e.get("tg:operation") == "cut"]
    (taken,) = cut["inputQuantityList"]
    (edge,) = [e for e in trace.edges if e.type == "CONSUMED_BY"]
    assert taken["quantity"] == int(edge.qty or 0) > 1


def test_a_broken_export_would_be_caught_by_the_schema(demo_in_store: GraphStore) -> None:
    """Positive control for the validation test: the checks do reject what EPCIS forbids."""
    trace = TraceService(demo_in_store).trace("serial:KIT000010000", "up")
    document = EpcisExporter(demo_in_store).trace_document(trace, FULL_VIEW)
    assert schema_problems(document) == []
    for breakage in (
        lambda e: e.update({"quantityList": [{"epcClass": "x y", "quantity": 1}]}),
        lambda e: e.update({"eventTimeZoneOffset": "UTC"}),
        lambda e: e.update({"part": "not a namespaced extension"}),
        lambda e: e["quantityList"][0].update({"uom": "kg"}),
    ):
        broken = copy.deepcopy(document)
        receipt = next(e for e in broken["epcisBody"]["eventList"] if e["tg:type"] == "receive")
        breakage(receipt)
        assert schema_problems(broken), breakage


def test_recall_exports_validate_against_the_schema(demo_in_store: GraphStore) -> None:
    recalls = RecallService(demo_in_store, IngestService(demo_in_store))
    suspects = [{"id": "supplier_lot:ACME-STEEL/H70001"}, {"id": "supplier_lot:POLYMED/PM-2"}]
    recalls.open("RC-1", "Heat and granule", "supplier notice", suspects, "ana")
    document = recalls.epcis("RC-1")
    assert len(document["epcisBody"]["eventList"]) > 100
    assert schema_problems(document) == []


# -- GS1 identities from the part registry ----------------------------------------------------


def register_parts(store: GraphStore) -> None:
    IngestService(store).ingest(
        [
            {
                "event_id": f"P-{n}",
                "type": "part_define",
                "occurred_at": "2026-03-01T00:00:00Z",
                "part": part,
                "gtin": code,
            }
            for n, (code, part) in enumerate(PARTS.items())
        ]
    )


def test_registered_gtins_stand_for_their_parts_on_capture(store: GraphStore) -> None:
    register_parts(store)
    report = capture(
        gs1_document(),
        EpcisReader(gtin_parts(store, {}), PARTIES),
        IngestService(store).ingest,
        store.logged,
    )
    assert report.report.created == len(native_events())
    assert TraceService(store).node("serial:KIT-1").attrs["part"] == "SCREW-KIT"


def test_parts_with_gtins_export_as_digital_link_and_import_anywhere(
    store: GraphStore, tmp_path: Path
) -> None:
    register_parts(store)
    IngestService(store).ingest(native_events())
    original = TraceService(store).trace("serial:KIT-1", "up")
    document = EpcisExporter(store).trace_document(original, FULL_VIEW)
    assert schema_problems(document) == []
    text = dumps(document["epcisBody"]).decode()
    assert "https://id.gs1.org/01/" in text and "urn:tracegraph:lot:" not in text
    classes = document["epcisHeader"]["epcisMasterData"]["vocabularyList"][0]
    assert {e["attributes"][0]["attribute"] for e in classes["vocabularyElementList"]} == {
        "BAR-316L",
        "SCREW",
        "SCREW-KIT",
        "PEEK",
        "PEEK-BLEND",
    }
    # An empty store has no registry: the document's master data says which part is which.
    fresh = EmbeddedStore(tmp_path / "fresh.db")
    try:
        capture(
            document, EpcisReader(gtin_parts(fresh, {})), IngestService(fresh).ingest, fresh.logged
        )
        copy_ = TraceService(fresh).trace("serial:KIT-1", "up")
    finally:
        fresh.close()
    compared = ("part", "qty", "unit", "status", "created_by", "operation")
    assert trace_shape(copy_, attrs=compared) == trace_shape(original, attrs=compared)
    # The answer to a query carries its master data beside the events; it reads the same.
    answer = _as_query_answer(document)
    assert schema_problems(answer) == []
    queried = EmbeddedStore(tmp_path / "queried.db")
    try:
        capture(
            answer,
            EpcisReader(gtin_parts(queried, {})),
            IngestService(queried).ingest,
            queried.logged,
        )
        from_query = TraceService(queried).trace("serial:KIT-1", "up")
    finally:
        queried.close()
    assert trace_shape(from_query, attrs=compared) == trace_shape(original, attrs=compared)


def _as_query_answer(document: dict[str, Any]) -> dict[str, Any]:
    """The document's events as a partner's EPCIS repository answers a query with them."""
    answer = copy.deepcopy(document)
    body: dict[str, Any] = {"eventList": answer["epcisBody"]["eventList"]}
    if "epcisHeader" in answer:
        body["vocabularyList"] = answer.pop("epcisHeader")["epcisMasterData"]["vocabularyList"]
    results = {"queryName": "SimpleEventQuery", "resultsBody": body}
    return answer | {"type": "EPCISQueryDocument", "epcisBody": {"queryResults": results}}


def _down_document(store: GraphStore, view: EpcisView = FULL_VIEW) -> dict[str, Any]:
    trace = TraceService(store).trace("supplier_lot:ACME/A-1", "down")
    document = EpcisExporter(store).trace_document(trace, view, closure=True)
    assert schema_problems(document) == []
    return document


def test_a_void_reaches_a_partner_as_an_error_declaration(
    store: GraphStore, events: Events, tmp_path: Path
) -> None:
    ingest = IngestService(store).ingest
    ingest([events.receive("L-1", 10)])
    wrong = events("split", lot="L-1", into=[{"lot": "L-2", "qty": "6"}])
    ingest([wrong])
    partner = EmbeddedStore(tmp_path / "partner.db")
    capture_into(partner, _down_document(store))
    assert TraceService(partner).node("lot:L-2").attrs["qty"] == "6"
    # We find the split was of 4, not 6: void it and record it again (the same lot).
    ingest([events("void", voids=wrong["event_id"], reason="miscounted")])
    ingest([events("split", lot="L-1", into=[{"lot": "L-2", "qty": "4"}])])
    document = _down_document(store)
    first = document["epcisBody"]["eventList"][0]
    assert first["eventID"] == f"urn:tracegraph:event:{wrong['event_id']}"
    assert first["errorDeclaration"]["reason"] == "incorrect_data"
    assert first["errorDeclaration"]["tg:reason"] == "miscounted"
    # The partner who took the wrong split learns it was wrong, then takes the right one.
    report = capture_into(partner, document)
    assert report.report.created == 2 and not report.ignored
    assert partner.logged([wrong["event_id"]])[wrong["event_id"]].voided_by is not None
    assert TraceService(partner).node("lot:L-2").attrs["qty"] == "4"
    # A reader who never had it skips the declaration and gets the same graph as ours.
    fresh = EmbeddedStore(tmp_path / "fresh.db")
    report = capture_into(fresh, document)
    assert [i.reason for i in report.ignored] == [NEVER_CAPTURED]
    ours, theirs = (
        trace_shape(TraceService(s).trace("supplier_lot:ACME/A-1", "down")) for s in (store, fresh)
    )
    assert ours == theirs
    partner.close()
    fresh.close()


def test_a_retraction_shows_only_what_its_reader_may_see(store: GraphStore, events: Events) -> None:
    ingest = IngestService(store).ingest
    ingest([events.receive("L-1", 10), events.receive("L-9", 10, supplier_lot="A-9")])
    wrong = events("split", lot="L-9", into=[{"lot": "L-8", "qty": "6"}])
    ingest([wrong])
    ingest([events("void", voids=wrong["event_id"], reason="wrong lot scanned")])
    # Nothing of the voided split is in the trace from A-1: no declaration of it.
    listed = _down_document(store)["epcisBody"]["eventList"]
    assert all("errorDeclaration" not in e for e in listed)
    other = TraceService(store).trace("supplier_lot:ACME/A-9", "down")
    declared = EpcisExporter(store).trace_document(other, FULL_VIEW)["epcisBody"]["eventList"]
    assert declared[0]["errorDeclaration"]["tg:reason"] == "wrong lot scanned"
    outside = EpcisView(plant=False, people=False)
    hidden = EpcisExporter(store).trace_document(other, outside)["epcisBody"]["eventList"]
    assert "tg:reason" not in hidden[0]["errorDeclaration"]
    unseen = EpcisView(items=frozenset({"lot:L-9"}), plant=False)
    assert EpcisExporter(store).trace_document(other, unseen)["epcisBody"]["eventList"][0][
        "errorDeclaration"
    ]
