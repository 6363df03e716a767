"""The supplier portal's reads on every store: which cases name a supplier's lots, documents."""

from __future__ import annotations

from datetime import datetime

import pytest

from api.recall import RecallService
from api.supplier_portal import SupplierCase, SupplierPortal, Upload
from graph.errors import NotFound
from graph.store import GraphStore
from ingest.service import IngestService
from tests.conformance.helpers import three_supplier_lots
from tests.fixtures.events import Events

ACME = "supplier_lot:ACME/A-1"
POLY = "supplier_lot:POLY/P-1"
OTHER = "supplier_lot:POLY/P-2"
DUE = "2026-04-01T00:00:00+00:00"


@pytest.fixture
def portal(store: GraphStore, events: Events) -> SupplierPortal:
    ingest = IngestService(store)
    ingest.ingest(three_supplier_lots(events))
    recalls = RecallService(store, ingest)
    recalls.open("RC-1", "Heat A-1", "cert withdrawn", [{"id": ACME}], "ana")
    recalls.open("RC-2", "Resin P-2", "moisture", [{"id": OTHER}], "ana")
    return SupplierPortal(store, ingest, recalls)


def _cases(portal: SupplierPortal, lots: list[str]) -> list[SupplierCase]:
    """Every case about `lots`, on one page."""
    page = portal.case_page(lots, 100)
    assert not page.more
    return page.cases


def test_cases_name_only_the_asking_suppliers_lots(portal: SupplierPortal) -> None:
    portal.ask("RC-1", POLY, "batch records?", datetime.fromisoformat(DUE), "ana")
    assert [(c.id, [r.supplier_lot for r in c.lots]) for c in _cases(portal, [ACME])] == [
        ("case:RC-1", [ACME])
    ]
    poly = _cases(portal, [POLY, OTHER])
    assert [(c.id, [r.supplier_lot for r in c.lots]) for c in poly] == [
        ("case:RC-1", [POLY]),
        ("case:RC-2", [OTHER]),
    ]
    asked = poly[0].lots[0]
    assert (asked.suspect, asked.question, asked.requested_by) == (False, "batch records?", "ana")
    assert [r.supplier_lot for r in portal.requests("RC-1")] == [ACME, POLY]


def test_a_lot_rescoped_out_and_never_asked_is_cleared(portal: SupplierPortal) -> None:
    portal.recalls.rescope("RC-2", [{"id": POLY}], "wrong resin lot", "ana")
    assert [c.id for c in _cases(portal, [OTHER])] == []
    assert [c.id for c in _cases(portal, [POLY])] == ["case:RC-2"]


def test_documents_are_read_only_through_the_answers_that_attach_them(
    portal: SupplierPortal,
) -> None:
    cert = Upload("cert.pdf", "application/pdf", b"%PDF-1.7 A-1")
    sent = portal.answer("RC-1", ACME, text="t", upstream=[], uploads=[cert], actor="acme")
    digest = sent.documents[0]
    assert portal.document("RC-1", digest).content == cert.content
    assert portal.document("RC-1", digest, [ACME]).media_type == "application/pdf"
    with pytest.raises(NotFound):
        portal.document("RC-1", digest, [POLY])
    with pytest.raises(NotFound):
        portal.document("RC-2", digest)


def test_a_suppliers_cases_are_read_in_a_few_calls(store: GraphStore, events: Events) -> None:
    ingest = IngestService(store)
    ingest.ingest(three_supplier_lots(events))
    recalls = RecallService(store, ingest)
    for n in range(12):
        recalls.open(f"RC-{n}", "Heat A-1", "cert withdrawn", [{"id": ACME}], "ana")
    calls = {"links": 0, "nodes": 0}

    class Counting:
        def __getattr__(self, name: str) -> object:
            if name in calls:
                calls[name] += 1
            return getattr(store, name)

    portal = SupplierPortal(Counting(), ingest, recalls)  # type: ignore[arg-type]
    assert len(_cases(portal, [ACME])) == 12
    assert calls["links"] + calls["nodes"] <= 5, calls


def test_a_page_of_cases_skips_those_that_no_longer_name_the_lots(
    portal: SupplierPortal,
) -> None:
    for n in range(3, 7):
        portal.recalls.open(f"RC-{n}", "Heat A-1", "cert withdrawn", [{"id": ACME}], "ana")
    for n in (3, 4):  # rescoped out, never asked about: touching ACME's lot, naming it no more
        portal.recalls.rescope(f"RC-{n}", [{"id": POLY}], "wrong heat", "ana")
    first = portal.case_page([ACME], 1)
    assert ([c.id for c in first.cases], first.more) == (["case:RC-1"], True)
    rest = portal.case_page([ACME], 1, "case:RC-1")
    assert ([c.id for c in rest.cases], rest.more) == (["case:RC-5"], True)
    last = portal.case_page([ACME], 5, "case:RC-5")
    assert ([c.id for c in last.cases], last.more) == (["case:RC-6"], False)
    assert [c.id for c in portal.case_page([ACME], 5).cases] == [
        "case:RC-1",
        "case:RC-5",
        "case:RC-6",
    ]
