"""An operator's EPCIS export: whole events of their site, that our capture takes back."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from api.deps import Services
from graph.epcis_schema import schema_problems
from tests.api.conftest import login

LD = {"Content-Type": "application/ld+json"}
KIT = "serial:KIT000010000"


def _export(client: TestClient, role: str, node: str, direction: str) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/trace/{node}/epcis", params={"direction": direction}, headers=login(client, role)
    )
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    assert schema_problems(document) == []
    return document


def _capture(client: TestClient, document: dict[str, Any]) -> Any:
    headers = login(client, "operator") | LD
    return client.post("/api/v1/epcis/capture", content=json.dumps(document), headers=headers)


def _events(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["eventID"].rpartition(":")[2]: e for e in document["epcisBody"]["eventList"]}


def test_an_operators_export_of_a_trace_is_captured_back_here_and_elsewhere(
    client: TestClient, plant: Services, elsewhere: TestClient
) -> None:
    """A split in a kit's upstream trace lists every lot it made at the operator's site, not
    only those of the trace: its input quantity is what they hold."""
    document = _export(client, "operator", KIT, "up")
    analyst = _events(_export(client, "analyst", KIT, "up"))
    splits = {k: e for k, e in _events(document).items() if e.get("tg:type") == "split"}
    assert splits
    for event_id, split in splits.items():
        whole = analyst[event_id]
        assert split["outputQuantityList"] == whole["outputQuantityList"]
        assert split["inputQuantityList"] == whole["inputQuantityList"]
    here = _capture(client, document)
    assert here.status_code == 201, here.text
    assert {r["status"] for r in here.json()["results"]} == {"duplicate"}
    there = _capture(elsewhere, document)
    assert there.status_code == 201, there.text
    assert there.json()["created"] == len(here.json()["results"])


def _at(day: int) -> str:
    return f"2026-03-0{day}T08:00:00Z"


def test_an_operators_export_names_nothing_of_another_site_and_says_no_sum_it_hides(
    client: TestClient, services: Services
) -> None:
    """A lot of PLANT-2 merged at PLANT-1: PLANT-1's operator gets the merge without it, and
    without the merged quantity, which their lots alone do not account for (and which would
    tell what the hidden lot gave)."""
    receive = {"type": "receive", "supplier": "ACME-STEEL", "part": "BAR", "unit": "kg"}
    services.ingest.ingest(
        [
            receive | {"event_id": "R-A", "occurred_at": _at(1), "site": "PLANT-1"}
            | {"supplier_lot": "A1", "lot": "LA", "qty": "100"},
            receive | {"event_id": "R-X", "occurred_at": _at(1), "site": "PLANT-2"}
            | {"supplier_lot": "X1", "lot": "LX", "qty": "50"},
            {"event_id": "M-1", "type": "merge", "occurred_at": _at(2), "site": "PLANT-1"}
            | {"from": [{"lot": "LA", "qty": "30"}, {"lot": "LX", "qty": "20"}]}
            | {"into": {"lot": "LM"}},
        ]
    )  # fmt: skip
    document = _export(client, "operator", "lot:LA", "down")
    text = json.dumps(document)
    assert "LX" not in text and "PLANT-2" not in text and "R-X" not in text
    merge = _events(document)["M-1"]
    assert [q["epcClass"] for q in merge["inputQuantityList"]] == ["urn:tracegraph:lot:LA"]
    assert "quantity" not in merge["outputQuantityList"][0]
    assert merge["transformationID"] == "urn:tracegraph:transformation:M-1"
    # The analyst's export of the same trace is the whole merge.
    whole = _events(_export(client, "analyst", "lot:LA", "down"))["M-1"]
    assert whole["outputQuantityList"][0]["quantity"] == 50
    # Voided, the merge and the receipt take LX out of the store: the retracted merge still
    # names it, and it is judged as the event that made it did (PLANT-2), not as one that
    # named it last (the merge, at PLANT-1).
    services.ingest.ingest(
        [
            {"event_id": "V-M", "type": "void", "occurred_at": _at(3), "voids": "M-1"}
            | {"reason": "wrong lot"},
            {"event_id": "V-X", "type": "void", "occurred_at": _at(4), "voids": "R-X"}
            | {"reason": "wrong lot"},
        ]
    )  # fmt: skip
    text = json.dumps(_export(client, "operator", "lot:LA", "down"))
    assert "M-1" in text and "LX" not in text and "PLANT-2" not in text
