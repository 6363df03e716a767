"""Over REST, an event logged before a rule for events sent, resent unchanged, is a duplicate."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.deps import Services
from ingest.parse import EVENT_ADAPTER
from tests.api.conftest import login

RECEIVE = {
    "event_id": "R-1",
    "type": "receive",
    "occurred_at": "2026-03-02T13:45:00+0545",  # no colon: refused in an event sent now
    "supplier": "ACME",
    "supplier_lot": "A-1",
    "part": "BAR",
    "lot": "L-1",
    "qty": "500",
}
STATUS = {
    "event_id": "S-1",
    "type": "status",
    "occurred_at": "2026-03-02T14:00+05:45",  # no seconds
    "target": {"lot": "L-1"},
    "status": "quarantined",
    "reason": "bent",
}


def post(client: TestClient, role: str, batch: list[dict[str, Any]]) -> Any:
    return client.post("/api/v1/events", json=batch, headers=login(client, role))


@pytest.mark.parametrize(
    ("role", "resent"),
    [
        ("admin", RECEIVE | {"site": "PLANT-1"}),
        # An operator's event naming no site is recorded for theirs, PLANT-1.
        ("operator", RECEIVE),
        ("analyst", STATUS),
    ],
)
def test_an_event_logged_before_a_rule_is_a_duplicate_for_every_role(
    client: TestClient, services: Services, role: str, resent: dict[str, Any]
) -> None:
    # Not logged, it is refused by the rule.
    refused = post(client, role, [resent])
    assert refused.status_code == 422, refused.text
    assert [e["code"] for e in refused.json()["errors"]] == ["datetime_parsing"]
    # Logged as a release before the rule did: read as the log reads its events.
    logged = [RECEIVE | {"site": "PLANT-1"}, STATUS]
    services.ingest.ingest_events([EVENT_ADAPTER.validate_python(event) for event in logged])
    log = services.store.events(0, 100)
    response = post(client, role, [resent])
    assert response.status_code == 201, response.text
    assert response.json()["results"] == [{"event_id": resent["event_id"], "status": "duplicate"}]
    assert services.store.events(0, 100) == log
    # Under its id with another time, it keeps the refusal of the rule (not a conflict).
    changed = post(client, role, [resent | {"occurred_at": "2026-03-02T14:10:00+0545"}])
    assert changed.status_code == 422, changed.text
    assert [e["code"] for e in changed.json()["errors"]] == ["datetime_parsing"]
    assert services.store.events(0, 100) == log
