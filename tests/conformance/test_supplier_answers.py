"""Supplier requests and answers on recall cases, and their documents, on every store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from graph.documents import MAX_DOCUMENT_BYTES as MAX_BYTES
from graph.documents import checked_document
from graph.store import DocumentRow, GraphStore
from ingest.errors import BatchRejected, Problem
from ingest.references import supplier_request_gid
from ingest.service import IngestService
from tests.conformance.helpers import rejected, state, three_supplier_lots
from tests.fixtures.events import Events

OPEN = {"case": "RC-1", "title": "Heat A-1", "reason": "certificate withdrawn"}
CERT = checked_document("cert.pdf", "application/pdf", b"%PDF-1.7 mill certificate A-1")
REPORT = checked_document("tensile.csv", "text/csv", b"sample,mpa\n1,612\n")
SUSPECT = "supplier_lot:ACME/A-1"
ASKED = "supplier_lot:POLY/P-1"


def ref(document: DocumentRow, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "media_type": document.media_type,
        "size": document.size,
        "sha256": document.sha256,
    }


def answer(
    events: Events, lot: str = "A-1", supplier: str = "ACME", **fields: Any
) -> dict[str, Any]:
    body = {"case": "RC-1", "supplier": supplier, "supplier_lot": lot, "actor": "acme"}
    return events("recall_supplier_answer", **(body | fields))


@pytest.fixture
def case(store: GraphStore, events: Events) -> IngestService:
    service = IngestService(store)
    service.ingest(
        [
            *three_supplier_lots(events),
            events("recall_open", suspects=[{"id": SUSPECT}], **OPEN, actor="ana"),
        ]
    )
    return service


def rejected_with(
    store: GraphStore, batch: Sequence[dict[str, Any]], documents: list[DocumentRow], code: str
) -> Problem:
    """Like `rejected`, with documents sent along: nothing, documents included, is written."""
    before = state(store)
    with pytest.raises(BatchRejected) as caught:
        IngestService(store).ingest(batch, documents)
    assert state(store) == before, "a rejected batch must write nothing"
    assert all(store.document(d.sha256) is None for d in documents)
    codes = [problem.code for problem in caught.value.problems]
    assert code in codes, f"expected {code}, got {caught.value.problems}"
    return next(p for p in caught.value.problems if p.code == code)


def test_request_and_answer_with_documents(
    store: GraphStore, events: Events, case: IngestService
) -> None:
    request = events(
        "recall_supplier_request",
        case="RC-1",
        supplier="POLY",
        supplier_lot="P-1",
        question="Send the resin batch records",
        due_by="2026-04-01T12:00:00+02:00",
        actor="ana",
    )
    case.ingest([request])
    node = supplier_request_gid("RC-1", ASKED)
    asked = store.node(node)
    assert asked is not None
    assert (asked.attrs["state"], asked.attrs["due_by"]) == (
        "requested",
        "2026-04-01T10:00:00.000000Z",
    )
    upstream = [
        {"lot": "R-77", "heat": "HX-1", "qty": "250.0", "unit": "kg", "made_on": "2026-01-05"}
    ]
    sent = answer(
        events,
        lot="P-1",
        supplier="POLY",
        text="Batch records attached",
        upstream=upstream,
        documents=[ref(CERT, "cert.pdf"), ref(REPORT, "tensile.csv")],
    )
    case.ingest([sent], [CERT, REPORT])
    answered = store.node(node)
    assert answered is not None and answered.attrs["state"] == "answered"
    body = json.loads(answered.attrs["answer"])
    assert body["text"] == "Batch records attached" and body["answered_by"] == "acme"
    assert body["upstream"][0]["qty"] == "250" and body["upstream"][0]["made_on"] == "2026-01-05"
    assert [d["name"] for d in body["documents"]] == ["cert.pdf", "tensile.csv"]
    assert answered.attrs["question"] == "Send the resin batch records"
    stored = store.document(CERT.sha256)
    assert stored == CERT and stored.content == CERT.content
    links = {(e.src, e.dst, e.type) for e in store.links([node])}
    assert links == {("case:RC-1", node, "ASKS"), (node, ASKED, "ABOUT")}


def test_a_second_answer_supersedes_the_first(
    store: GraphStore, events: Events, case: IngestService
) -> None:
    first = answer(events, text="first look", documents=[ref(CERT, "cert.pdf")])
    case.ingest([first], [CERT])
    case.ingest([answer(events, text="corrected", documents=[ref(REPORT, "t.csv")])], [REPORT])
    node = store.node(supplier_request_gid("RC-1", SUSPECT))
    assert node is not None
    assert json.loads(node.attrs["answer"])["text"] == "corrected"
    assert node.attrs["answers"] == "2"
    assert json.loads(node.attrs["documents"]) == sorted([CERT.sha256, REPORT.sha256])
    logged = [e.type for e in store.events(0, 100) if e.type == "recall_supplier_answer"]
    assert len(logged) == 2, "both answers stay in the log"


def test_resending_the_same_answer_is_a_duplicate(
    store: GraphStore, events: Events, case: IngestService
) -> None:
    sent = answer(events, text="once", documents=[ref(CERT, "cert.pdf")])
    assert case.ingest([sent], [CERT]).created == 1
    before = state(store)
    again = case.ingest([sent], [CERT])
    assert (again.created, again.duplicates) == (0, 1)
    assert state(store) == before
    node = store.node(supplier_request_gid("RC-1", SUSPECT))
    assert node is not None and node.attrs["answers"] == "1"


def test_answer_rules(store: GraphStore, events: Events, case: IngestService) -> None:
    docs = [ref(CERT, "cert.pdf")]
    unknown_case = answer(events, text="x", case="RC-9")
    assert rejected(store, [unknown_case], "unknown_item").field == "case"
    unknown_lot = answer(events, lot="A-404", text="x")
    assert rejected(store, [unknown_lot], "unknown_item").field == "supplier_lot"
    not_named = answer(events, lot="P-2", supplier="POLY", text="x")
    assert "neither suspects" in rejected(store, [not_named], "not_in_case").message
    not_sent = answer(events, documents=docs)
    assert rejected(store, [not_sent], "unknown_document").field == "documents[0].sha256"
    lying = answer(events, documents=[ref(CERT, "cert.pdf") | {"size": CERT.size + 1}])
    mismatch = rejected_with(store, [lying], [CERT], "document_mismatch")
    # The bytes came with the batch: the refusal says how they were sent, not stored.
    assert mismatch.message == (
        f'document "cert.pdf" is described as application/pdf, {CERT.size + 1} bytes, '
        f"but was sent as application/pdf, {CERT.size} bytes"
    )
    assert rejected(store, [answer(events)], "value_error")  # says nothing at all
    IngestService(store).ingest([events("recall_state", case="RC-1", state="closed", reason="ok")])
    closed = answer(events, documents=docs)
    assert rejected_with(store, [closed], [CERT], "case_closed")


def test_request_rules(store: GraphStore, events: Events, case: IngestService) -> None:
    ask = {"question": "q", "due_by": "2026-04-01T00:00:00Z"}
    unknown_lot = events(
        "recall_supplier_request", case="RC-1", supplier="POLY", supplier_lot="NOPE", **ask
    )
    assert rejected(store, [unknown_lot], "unknown_item").field == "supplier_lot"
    naive = events(
        "recall_supplier_request",
        case="RC-1",
        supplier="POLY",
        supplier_lot="P-1",
        question="q",
        due_by="2026-04-01T00:00:00",
    )
    assert rejected(store, [naive], "timezone_aware")


def test_two_answers_of_one_batch_attach_the_bytes_it_sends(
    store: GraphStore, events: Events, case: IngestService
) -> None:
    # The first answer stores the bytes; the second, in the same batch, finds them sent too.
    first = answer(events, text="see cert", documents=[ref(CERT, "cert.pdf")])
    second = answer(events, text="the cert again", documents=[ref(CERT, "cert.pdf")])
    report = case.ingest([first, second], [CERT])
    assert report.created == 2
    assert store.document(CERT.sha256) == CERT
    node = store.node(supplier_request_gid("RC-1", SUSPECT))
    assert node is not None and node.attrs["answers"] == "2"
    assert json.loads(node.attrs["documents"]) == [CERT.sha256]
    # A later reference in the batch is held to the bytes as they were sent.
    attached = answer(events, text="report", documents=[ref(REPORT, "t.csv")])
    wrong = answer(events, text="again", documents=[ref(REPORT, "t.csv") | {"size": 1}])
    mismatch = rejected_with(store, [attached, wrong], [REPORT], "document_mismatch")
    assert mismatch.index == 1 and f"but was sent as text/csv, {REPORT.size}" in mismatch.message


def test_documents_and_answers_survive_a_rebuild(
    store: GraphStore, events: Events, case: IngestService
) -> None:
    case.ingest([answer(events, text="see cert", documents=[ref(CERT, "cert.pdf")])], [CERT])
    node = supplier_request_gid("RC-1", SUSPECT)
    before = store.node(node)
    case.rebuild()
    assert store.node(node) == before
    assert store.document(CERT.sha256) == CERT
    assert store.document(REPORT.sha256) is None


def test_documents_offered_but_not_attached_are_not_kept(
    store: GraphStore, events: Events, case: IngestService
) -> None:
    case.ingest([answer(events, text="no attachments")], [CERT])
    assert store.document(CERT.sha256) is None


def test_a_document_at_the_size_limit_round_trips(
    store: GraphStore, events: Events, case: IngestService
) -> None:
    big = checked_document("scan.pdf", "application/pdf", b"%PDF-" + b"\x00" * (MAX_BYTES - 5))
    case.ingest([answer(events, documents=[ref(big, "scan.pdf")])], [big])
    stored = store.document(big.sha256)
    assert stored is not None and stored.size == MAX_BYTES and stored.content == big.content
