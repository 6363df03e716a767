"""An equipment window reads from the store at most one more than the caller may be listed: the
REST limit, what the GraphQL request's budget has left."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.deps import Services
from api.graphql import cost
from graph.store import StepUse, listed
from tests.api.conftest import login
from tests.fixtures.events import Events

WINDOW = """{{ equipmentWindow(equipment: "equipment:LATHE-1", from: "2026-03-01T00:00:00Z",
    to: "2026-03-31T00:00:00Z") {{ {fields} }} }}"""
ALL = "step { id } inputs { source { id } } outputs { qty }"


def counted(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """What each store read of a window holds (store.listed), in the order they are read."""
    read: list[int] = []
    window = services.store.equipment_window

    def count(*args: Any, **kwargs: Any) -> list[StepUse]:
        uses = window(*args, **kwargs)
        read.append(listed(uses))
        return uses

    monkeypatch.setattr(services.store, "equipment_window", count)
    return read


def busy_lathe(services: Services, events: Events, steps: int, lots: int) -> None:
    """`steps` steps on LATHE-1, each turning one part of each of `lots` lots into one lot."""
    batch = [events.receive(f"L-{i}", 1000) for i in range(lots)]
    for s in range(steps):
        inputs = [{"lot": f"L-{i}", "qty": "1"} for i in range(lots)]
        outputs = [{"lot": f"P-{s}", "part": "SCREW", "qty": "1"}]
        turn = {"step": f"S-{s}", "operation": "turn", "equipment": "LATHE-1"}
        batch.append(events("process", **turn, inputs=inputs, outputs=outputs))
    services.ingest.ingest(batch)


def ask(client: TestClient, fields: str, role: str = "analyst", more: str = "") -> dict[str, Any]:
    """Ask LATHE-1's window for `fields` of each step run (`more`: fragments)."""
    query = WINDOW.format(fields=fields) + more
    response = client.post("/graphql", json={"query": query}, headers=login(client, role))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_graphql_window_past_the_budget_reads_what_it_has_left_plus_one(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_lathe(services, events, steps=20, lots=10)  # 240 listed
    read = counted(services, monkeypatch)
    monkeypatch.setattr(cost, "MAX_LISTED", 240)
    whole = ask(client, ALL)
    assert "errors" not in whole and len(whole["data"]["equipmentWindow"]) == 20
    assert read == [240]
    monkeypatch.setattr(cost, "MAX_LISTED", 100)
    read.clear()
    refused = ask(client, ALL)
    assert refused["data"] is None and read == [101]
    assert [e["message"] for e in refused["errors"]] == [
        "this query lists more than 100 links and nodes: ask for a shorter equipmentWindow, "
        "or fewer aliases"
    ]


def test_a_graphql_window_reads_and_counts_only_the_lists_asked(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_lathe(services, events, steps=20, lots=10)
    whole = ask(client, ALL)["data"]["equipmentWindow"]
    read = counted(services, monkeypatch)
    # The steps alone: 20 listed, as before, though their inputs are 200.
    monkeypatch.setattr(cost, "MAX_LISTED", 20)
    steps = ask(client, "step { id }")
    assert steps["data"]["equipmentWindow"] == [{"step": r["step"]} for r in whole]
    assert read == [20]
    monkeypatch.setattr(cost, "MAX_LISTED", 19)
    read.clear()
    assert ask(client, "step { id }")["data"] is None and read == [20]
    # Their outputs, under a fragment, with the inputs skipped: 40 listed.
    fields = "step { id } ...Made inputs @skip(if: true) { qty }"
    made_of = " fragment Made on StepRun { outputs { qty } }"
    monkeypatch.setattr(cost, "MAX_LISTED", 40)
    read.clear()
    made = ask(client, fields, more=made_of)
    assert made["data"]["equipmentWindow"] == [
        {"step": r["step"], "outputs": r["outputs"]} for r in whole
    ]
    assert read == [40]
    monkeypatch.setattr(cost, "MAX_LISTED", 39)
    read.clear()
    assert ask(client, fields, more=made_of)["data"] is None and read == [40]
