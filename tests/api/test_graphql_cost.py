"""A GraphQL request runs a few analyses at most, and lists a bounded number of objects."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.deps import Services
from api.graphql import cost
from tests.api.conftest import login

IMPACT = 'a{n}: impact(id: "supplier_lot:ACME-STEEL/H70001") {{ root }}'


def ask(client: TestClient, query: str, role: str = "analyst") -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query}, headers=login(client, role))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_request_runs_at_most_four_analyses(client: TestClient, plant: Services) -> None:
    four = "{ " + " ".join(IMPACT.format(n=n) for n in range(4)) + " }"
    assert "errors" not in ask(client, four)
    five = "{ " + " ".join(IMPACT.format(n=n) for n in range(5)) + " }"
    (error,) = ask(client, five)["errors"]
    assert "at most 4 analyses (impact)" in error["message"]


def test_analyses_in_fragments_count_too(client: TestClient, plant: Services) -> None:
    query = (
        "{ ...A ...B } "
        "fragment A on Query { " + " ".join(IMPACT.format(n=n) for n in range(3)) + " } "
        'fragment B on Query { t1: trace(id: "lot:L00001-BAR", direction: DOWN) { root } '
        't2: trace(id: "lot:L00001-BAR", direction: UP) { root } }'
    )
    (error,) = ask(client, query)["errors"]
    assert "it asks for 5" in error["message"]


def test_fanning_out_through_inputs_stops_at_the_budget(
    client: TestClient, plant: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = """{ node(id: "equipment:BENCH-1") { inputs { source { ... on ProcessStep {
        equipment { inputs { source { id } } } } } } } }"""
    whole = ask(client, query, "operator")
    assert "errors" not in whole
    steps = len(whole["data"]["node"]["inputs"])
    assert steps > 1
    # The same query with a budget below what it lists: refused, not cut short.
    monkeypatch.setattr(cost, "MAX_LISTED", steps * steps)
    errors = ask(client, query, "operator")["errors"]
    assert errors and all("lists more than" in e["message"] for e in errors)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ('{"query": "{ me { username } }", "variables": {"x": 1' + "0" * 5000 + "}}", "too_long"),
        (
            '{"query": "{ me { username } }", "variables": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "too_deep",
        ),
        # Which query would run? Readers disagree: the first, the last, or none.
        ('{"query": "{ me { username } }", "query": "{ nodes { id } }"}', "duplicate_key"),
        ('{"query": "{ me { username } }", "variables": {"x": NaN}}', "not_a_number"),
        ('{"query": "{ me { username } }",}', "not_json"),
    ],
)
def test_a_body_python_cannot_read_is_a_bad_request_that_says_why(
    client: TestClient, body: str, why: str
) -> None:
    headers = login(client, "analyst") | {"content-type": "application/json"}
    response = client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == why
    assert response.json()["message"]


def test_case_analyses_under_a_list_of_cases_are_refused(
    client: TestClient, plant: Services
) -> None:
    for query in (
        "{ recallCases { edges { node { id scope { inPlant } } } } }",
        "{ recallCases { edges { node { ...whole } } } } fragment whole on RecallCase { history }",
    ):
        answer = ask(client, query)
        assert answer.get("data") is None
        assert "ask one case at a time" in answer["errors"][0]["message"]


def test_case_analyses_count_at_any_depth_and_in_mutations(
    client: TestClient, plant: Services
) -> None:
    one = '{ recallCase(id: "RC-1") { scope { inPlant } reconciliation { customers } } }'
    assert "at most" not in str(ask(client, one).get("errors"))
    closes = " ".join(
        f'c{i}: closeRecall(id: "RC-{i}", reason: "r") {{ scope {{ inPlant }} }}' for i in range(5)
    )
    answer = ask(client, f"mutation {{ {closes} }}")
    assert answer.get("data") is None
    assert "at most 4 analyses" in answer["errors"][0]["message"]
