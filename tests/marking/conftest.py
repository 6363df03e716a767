"""A small plant with schemes, on each store."""

from __future__ import annotations

import pytest

from graph.store import GraphStore
from ingest.service import IngestService
from marking.models import SchemeSpec
from marking.service import MarkingService
from tests.fixtures.events import Events

SCREWS = SchemeSpec(name="SCREWS", kind="sequential", length=3, parts=["SCREW-*"])


@pytest.fixture
def marking(store: GraphStore) -> MarkingService:
    return define_schemes(store)


def define_schemes(store: GraphStore) -> MarkingService:
    """Define the plant's schemes in `store`; return its marking service."""
    service = MarkingService(store)
    service.define_scheme(SCREWS)
    service.define_scheme(
        SchemeSpec(name="PLATES", kind="sequential", length=3, check=True, parts=["PLATE-9"])
    )
    service.define_scheme(
        SchemeSpec(
            name="IMPLANTS",
            kind="hashids",
            salt="plant 7",
            capacity=10_000,
            check=True,
            parts=["IMPLANT"],
        )
    )
    return service


def receive_lots(store: GraphStore, events: Events, part: str, lots: list[str]) -> None:
    """Receive one lot of 10 per id, of one part."""
    IngestService(store).ingest(
        [events.receive(lot, 10, part=part, supplier_lot=f"A-{part}") for lot in lots]
    )
