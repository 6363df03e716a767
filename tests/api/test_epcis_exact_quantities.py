"""EPCIS quantities over REST are exact: a trace captured elsewhere keeps every digit."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from api.deps import Services
from api.recall import RecallService
from tests.api.conftest import login
from tests.fixtures.epcis import PARTIES, PARTS, gs1_document

# A lot weighed to the microgram of a ton, split into its whole and its fraction: a float holds
# about 17 digits, so 1234567890.123456789 would be written 1234567890.1234567.
WEIGHED = [
    {
        "event_id": "R1",
        "type": "receive",
        "occurred_at": "2026-03-02T08:00:00Z",
        "supplier": "ACME-STEEL",
        "supplier_lot": "H1",
        "part": "BAR",
        "lot": "L1",
        "qty": "1234567890.123456789",
        "unit": "kg",
    },
    {
        "event_id": "S1",
        "type": "split",
        "occurred_at": "2026-03-02T09:00:00Z",
        "lot": "L1",
        "into": [{"lot": "C1", "qty": "1234567890"}, {"lot": "C2", "qty": "0.123456789"}],
    },
]
LD = {"Content-Type": "application/ld+json"}


def quantities(client: TestClient, lots: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    headers = login(client, "admin")
    found = {}
    for lot in lots:
        node = client.get(f"/api/v1/nodes/lot:{lot}", headers=headers).json()
        found[lot] = (node["qty"], node["available"])
    return found


def test_a_trace_exported_and_captured_elsewhere_keeps_every_digit(
    client: TestClient, elsewhere: TestClient
) -> None:
    written = client.post("/api/v1/events", json=WEIGHED, headers=login(client, "admin"))
    assert written.status_code == 201, written.text
    exported = client.get(
        "/api/v1/trace/supplier_lot:ACME-STEEL/H1/epcis",
        params={"direction": "down", "closure": "true"},
        headers=login(client, "admin"),
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("application/ld+json")
    assert '"quantity":1234567890.123456789' in exported.text
    captured = elsewhere.post(
        "/api/v1/epcis/capture", content=exported.text, headers=login(elsewhere, "admin") | LD
    )
    assert captured.status_code == 201, captured.text
    lots = ("L1", "C1", "C2")
    assert quantities(elsewhere, lots) == quantities(client, lots)
    assert quantities(elsewhere, lots)["C2"] == ("0.123456789", "0.123456789")


def test_a_partners_quantity_is_read_to_the_last_digit(client: TestClient) -> None:
    # Read as a float, 50.0000000000000001 kg would be 50.
    body = json.dumps({"document": gs1_document(), "gtins": PARTS, "parties": PARTIES})
    finer = body.replace('"quantity": 50,', '"quantity": 50.0000000000000001,')
    assert finer.count("50.0000000000000001") == 1
    headers = login(client, "operator") | LD
    response = client.post("/api/v1/epcis/capture", content=finer, headers=headers)
    assert response.status_code == 201, response.text
    assert quantities(client, ("G1",))["G1"][0] == "50.0000000000000001"
    # Still in a float's range: 1e-999999999, written out, would be a billion zeros.
    tiny = body.replace('"quantity": 50,', '"quantity": 1e-999999999,')
    response = client.post("/api/v1/epcis/capture", content=tiny, headers=headers)
    assert response.status_code == 400, response.text
    assert "1e-999999999 is out of the range" in response.json()["message"]


def test_a_recall_cases_epcis_export_keeps_every_digit(
    client: TestClient, services: Services
) -> None:
    services.ingest.ingest(WEIGHED)
    suspect = [{"id": "supplier_lot:ACME-STEEL/H1"}]
    RecallService(services.store, services.ingest).open("RC-1", "t", "r", suspect, "ana")
    exported = client.get(
        "/api/v1/recalls/RC-1/export", params={"format": "epcis"}, headers=login(client, "analyst")
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("application/ld+json")
    assert exported.text.count('"quantity":1234567890.123456789') == 2  # receipt and split
