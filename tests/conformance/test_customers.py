"""Which companies are our customers: those we shipped to, registered or not, on every store."""

from __future__ import annotations

from graph.store import GraphStore
from ingest.service import IngestService
from tests.fixtures.events import Events


def test_a_company_is_a_customer_once_anything_was_shipped_to_it(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest(
        [
            events.receive("L-1", 5, supplier="ACME", supplier_lot="H-1"),
            events("ship", shipment="SH-1", customer="HOSP", items=[{"lot": "L-1", "qty": "2"}]),
            # A company that sends back what it got is a supplier of that lot too.
            events.receive("R-1", 1, supplier="HOSP", supplier_lot="L-1"),
        ]
    )
    assert store.shipped_to(["ACME", "HOSP", "NOBODY"]) == {"HOSP"}
    assert store.shipped_to([]) == set()
