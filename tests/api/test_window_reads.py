"""An equipment window reads from the store at most one more than the caller may be listed: the
REST limit, what the GraphQL request's budget has left, counted over the caller's own steps."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import routes
from api.deps import Services
from api.graphql import cost
from graph.store import StepUse, listed
from tests.api.conftest import login
from tests.fixtures.events import Events

# Two steps of PLANT-1 (6 listed) among a hundred of PLANT-2, before, between and after them.
SHARED = ["PLANT-2"] * 50 + ["PLANT-1"] + ["PLANT-2"] * 10 + ["PLANT-1"] + ["PLANT-2"] * 40
SPAN = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-31T00:00:00Z"}
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


def shared_lathe(services: Services, events: Events, sites: list[str], first: int = 0) -> None:
    """A step on LATHE-1 for each of `sites` (S-first on), each turning one part of its site's
    lot (L-1 of PLANT-1, L-2 of PLANT-2, received with the first steps) into a lot: three listed
    each."""
    batch = []
    if not first:
        batch += [
            events.receive("L-1", 1000, site="PLANT-1"),
            events.receive("L-2", 1000, site="PLANT-2", supplier_lot="A-2"),
        ]
    for s, site in enumerate(sites, start=first):
        lot = "L-1" if site == "PLANT-1" else "L-2"
        turn = {"step": f"S-{s}", "operation": "turn", "equipment": "LATHE-1", "site": site}
        outputs = [{"lot": f"P-{s}", "part": "SCREW", "qty": "1"}]
        batch.append(events("process", **turn, inputs=[{"lot": lot, "qty": "1"}], outputs=outputs))
    services.ingest.ingest(batch)


def window(client: TestClient, role: str) -> Any:
    return client.get("/api/v1/equipment/LATHE-1/window", params=SPAN, headers=login(client, role))


def ask(client: TestClient, fields: str, role: str = "analyst", more: str = "") -> dict[str, Any]:
    """Ask LATHE-1's window for `fields` of each step run (`more`: fragments)."""
    query = WINDOW.format(fields=fields) + more
    response = client.post("/graphql", json={"query": query}, headers=login(client, role))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_operator_window_reads_their_own_steps_to_one_past_the_limit(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_lathe(services, events, SHARED)
    read = counted(services, monkeypatch)
    monkeypatch.setattr(routes, "MAX_WINDOW_LISTED", 6)
    answer = window(client, "operator")
    assert answer.status_code == 200, answer.text
    assert [s["id"] for s in answer.json()["steps"]] == ["step:S-50", "step:S-61"]
    assert read == [6]
    monkeypatch.setattr(routes, "MAX_WINDOW_LISTED", 5)
    read.clear()
    refused = window(client, "operator")
    assert refused.status_code == 400 and "more than 5 steps" in refused.text
    assert read == [6]
    # More of another site's steps change neither the answer nor the refusal, nor what is read.
    shared_lathe(services, events, ["PLANT-2"] * 20, first=102)
    monkeypatch.setattr(routes, "MAX_WINDOW_LISTED", 6)
    read.clear()
    assert window(client, "operator").json() == answer.json() and read == [6]
    monkeypatch.setattr(routes, "MAX_WINDOW_LISTED", 5)
    read.clear()
    assert window(client, "operator").json() == refused.json() and read == [6]


def test_an_operator_step_that_used_another_site_lot_is_counted_as_they_see_it(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_lathe(services, events, ["PLANT-2"] * 30 + ["PLANT-1"] + ["PLANT-2"] * 30)
    # A PLANT-1 step that also used PLANT-2's lot: 4 listed in the store, 3 as the operator sees
    # (with S-30's, 7 and 6).
    both = [{"lot": "L-1", "qty": "1"}, {"lot": "L-2", "qty": "1"}]
    outputs = [{"lot": "P-X", "part": "SCREW", "qty": "1"}]
    turn = {"step": "S-X", "operation": "turn", "equipment": "LATHE-1", "site": "PLANT-1"}
    services.ingest.ingest([events("process", **turn, inputs=both, outputs=outputs)])
    read = counted(services, monkeypatch)
    monkeypatch.setattr(routes, "MAX_WINDOW_LISTED", 6)
    answer = window(client, "operator")
    assert answer.status_code == 200, answer.text
    (_, mixed) = answer.json()["steps"]
    assert [i["from"] for i in mixed["inputs"]] == ["lot:L-1"]
    # One past the limit, filled by a lot the operator does not see: only the whole tells, read
    # again of their site's steps alone.
    assert read == [7, 7]
    monkeypatch.setattr(routes, "MAX_WINDOW_LISTED", 5)
    read.clear()
    refused = window(client, "operator")
    assert refused.status_code == 400 and "more than 5 steps" in refused.text
    assert read == [6, 7]  # the first read, cut at 6, lists 5 as they see it


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


def test_an_operator_graphql_window_counts_their_own_steps(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_lathe(services, events, SHARED)
    read = counted(services, monkeypatch)
    monkeypatch.setattr(cost, "MAX_LISTED", 6)
    answer = ask(client, ALL, "operator")
    assert [r["step"]["id"] for r in answer["data"]["equipmentWindow"]] == [
        "step:S-50",
        "step:S-61",
    ]
    assert read == [6]
    monkeypatch.setattr(cost, "MAX_LISTED", 5)
    read.clear()
    assert ask(client, ALL, "operator")["data"] is None and read == [6]


@pytest.mark.parametrize("other", ["lot:L-0", "step:S-0", "part:SCREW"])
def test_a_graphql_window_of_an_id_that_is_no_equipment_is_refused_by_name(
    client: TestClient, services: Services, events: Events, other: str
) -> None:
    # A lot ran nothing on itself: an empty list would read as a machine idle all month.
    busy_lathe(services, events, steps=1, lots=1)
    query = WINDOW.replace("equipment:LATHE-1", other).format(fields="step { id }")
    response = client.post("/graphql", json={"query": query}, headers=login(client, "analyst"))
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST", "status": 400}
    assert error["message"] == f"not an equipment id: {other!r} (equipment:NAME)"
    ok = client.post(
        "/graphql",
        json={"query": WINDOW.format(fields="step { id }")},
        headers=login(client, "analyst"),
    )
    assert ok.json() == {"data": {"equipmentWindow": [{"step": {"id": "step:S-0"}}]}}
