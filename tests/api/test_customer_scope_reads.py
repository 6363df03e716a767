"""A customer's read of one item costs what that item links to, not all the customer received."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import Services
from api.settings import Settings
from tests.api.conftest import login, services_on
from tests.fixtures.events import Events

ASKED = ("lot:MINE", "shipment:SH-MINE", "lot:THEIRS", "shipment:SH-THEIRS", "company:HOSP-NORTH")


def plant(services: Services, more: int) -> None:
    """One lot shipped to HOSP-NORTH and one to another hospital, then `more` lots shipped to
    HOSP-NORTH, each in a shipment of its own."""
    events = Events()
    batch = [events.receive("L-1", 1000)]
    lots = ["MINE", "THEIRS", *(f"MORE-{n}" for n in range(more))]
    batch.append(events("split", lot="L-1", into=[{"lot": lot, "qty": "2"} for lot in lots]))
    for lot in lots:
        customer = "HOSP-SOUTH" if lot == "THEIRS" else "HOSP-NORTH"
        batch.append(
            events(
                "ship", shipment=f"SH-{lot}", customer=customer, items=[{"lot": lot, "qty": "2"}]
            )
        )
    services.ingest.ingest(batch)


def rows_read(services: Services, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, int], Any]:
    """What the customer sees of ASKED, and the edges and nodes the store returned for it."""
    counted = {"rows": 0}
    for name in ("links", "subgraph", "nodes", "node"):
        original = getattr(services.store, name)

        def counting(*args: Any, original: Any = original, **kwargs: Any) -> Any:
            found = original(*args, **kwargs)
            edges = getattr(found, "edges", found)
            counted["rows"] += len(edges) if isinstance(edges, list | dict) else 1
            return found

        monkeypatch.setattr(services.store, name, counting)
    app = create_app(Settings(store=services.store.url), services)
    with TestClient(app) as client:
        headers = login(client, "customer")
        counted["rows"] = 0
        seen = {
            gid: client.get(f"/api/v1/nodes/{gid}", headers=headers).status_code for gid in ASKED
        }
    return counted, seen


@pytest.fixture
def two_plants(tmp_path: Path) -> Iterator[tuple[Services, Services]]:
    small, large = services_on(tmp_path / "small.db"), services_on(tmp_path / "large.db")
    plant(small, 0)
    plant(large, 40)
    yield small, large
    small.close()
    large.close()


def test_a_customer_reading_one_item_reads_as_much_however_much_they_received(
    two_plants: tuple[Services, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    small, large = two_plants
    small_rows, small_seen = rows_read(small, monkeypatch)
    large_rows, large_seen = rows_read(large, monkeypatch)
    expected = {gid: 200 if "THEIRS" not in gid else 404 for gid in ASKED}
    assert small_seen == large_seen == expected
    assert large_rows == small_rows, "forty more shipments received made the same reads read more"
