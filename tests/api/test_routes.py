"""REST surface on the real embedded store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import Services
from api.settings import Settings
from graph.embedded_store import EmbeddedStore
from tests.fixtures.events import Events


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    store = EmbeddedStore(tmp_path / "api.db")
    app = create_app(Settings(store=store.url), Services.for_store(store))
    with TestClient(app) as test_client:
        yield test_client
    store.close()


def test_post_events_as_array_object_and_ndjson(client: TestClient, events: Events) -> None:
    first = [events.receive("L-1", 10)]
    response = client.post("/api/v1/events", json=first)
    assert response.status_code == 201
    assert response.json()["results"] == [{"event_id": "E-1", "status": "created"}]
    second = {"events": [events.receive("L-2", 5, supplier_lot="A-2"), first[0]]}
    assert [r["status"] for r in client.post("/api/v1/events", json=second).json()["results"]] == [
        "created",
        "duplicate",
    ]
    ndjson = "\n".join(
        json.dumps(e) for e in [events("split", lot="L-1", into=[{"lot": "L-3", "qty": "2"}])]
    )
    response = client.post(
        "/api/v1/events", content=ndjson, headers={"content-type": "application/x-ndjson"}
    )
    assert response.status_code == 201 and response.json()["created"] == 1


def test_rejected_batch_is_422_and_names_the_problem(client: TestClient, events: Events) -> None:
    response = client.post(
        "/api/v1/events", json=[events("split", lot="NOPE", into=[{"lot": "X", "qty": "1"}])]
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_events"
    assert body["errors"] == [
        {
            "index": 0,
            "event_id": "E-1",
            "field": "lot",
            "code": "unknown_item",
            "message": 'lot "NOPE" does not exist',
        }
    ]
    assert client.get("/healthz").json()["counts"] == {"edges": 0, "events": 0}


def test_conflict_is_409(client: TestClient, events: Events) -> None:
    event = events.receive("L-1", 10)
    client.post("/api/v1/events", json=[event])
    response = client.post("/api/v1/events", json=[dict(event, qty="9")])
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "conflict"


def test_malformed_bodies(client: TestClient) -> None:
    response = client.post(
        "/api/v1/events", content=b"[{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "not valid JSON" in response.json()["message"]
    assert (
        client.post(
            "/api/v1/events", content=b"\xff\xfe", headers={"content-type": "text/plain"}
        ).status_code
        == 400
    )
    assert client.post("/api/v1/events", json={"nope": 1}).status_code == 422
    assert client.post("/api/v1/events", json=[]).status_code == 422


def test_trace_node_and_window(client: TestClient, events: Events) -> None:
    client.post(
        "/api/v1/events",
        json=[
            events.receive("L-1", 10),
            events(
                "process",
                step="S-1",
                operation="turn",
                equipment="LATHE-1",
                inputs=[{"lot": "L-1"}],
                outputs=[{"lot": "P-1", "part": "PIN", "qty": "10"}],
            ),
        ],
    )
    trace = client.get(
        "/api/v1/trace", params={"id": "supplier_lot:ACME/A-1", "direction": "down"}
    ).json()
    assert [(n["id"], n["exposure"]) for n in trace["nodes"]][-1] == ("lot:P-1", 1.0)
    assert client.get("/api/v1/nodes/supplier_lot:ACME/A-1").json()["supplier"] == "ACME"
    assert client.get("/api/v1/nodes/lot:NOPE").status_code == 404
    assert client.get("/api/v1/nodes/NOPE").status_code == 400
    window = client.get(
        "/api/v1/equipment/LATHE-1/window",
        params={"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"},
    ).json()
    assert [s["id"] for s in window["steps"]] == ["step:S-1"]
    assert window["steps"][0]["outputs"][0]["to"] == "lot:P-1"


def test_landing_page_and_health(client: TestClient) -> None:
    assert "tracegraph" in client.get("/").text
    assert client.get("/healthz").json()["status"] == "ok"
