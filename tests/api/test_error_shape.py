"""Every failure is answered in one JSON shape: {"error": code, "message": text[, "errors"]}."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import login


def _refused(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error and body["message"], body
    assert "detail" not in body  # FastAPI's own shape, which clients would have to read too
    return body


def test_a_request_refused_before_our_code_runs_names_each_field(client: TestClient) -> None:
    analyst = login(client, "analyst")
    body = _refused(
        client.get("/api/v1/trace", params={"direction": "sideways"}, headers=analyst),
        422,
        "invalid_request",
    )
    assert body["errors"] == [
        {"field": "query.id", "code": "missing", "message": "Field required"},
        {
            "field": "query.direction",
            "code": "literal_error",
            "message": "Input should be 'up' or 'down'",
        },
    ]
    assert body["message"] == (
        "invalid request: query.id: Field required; query.direction: Input should be 'up' or 'down'"
    )


def test_a_long_list_of_problems_is_named_in_part_and_listed_whole(client: TestClient) -> None:
    orders = [{"id": f"O{i}"} for i in range(7)]  # each lacks its operations
    body = _refused(
        client.post(
            "/api/v1/schedules",
            json={"problem": {"machines": [], "orders": orders}},
            headers=login(client, "analyst"),
        ),
        422,
        "invalid_request",
    )
    assert len(body["errors"]) > 5
    assert body["message"].endswith(f"(and {len(body['errors']) - 5} more)")


def test_paths_methods_and_jobs_that_do_not_exist(client: TestClient) -> None:
    analyst = login(client, "analyst")
    _refused(client.get("/api/v1/no-such-thing", headers=analyst), 404, "not_found")
    wrong = client.put("/api/v1/trace", headers=analyst)
    _refused(wrong, 405, "method_not_allowed")
    assert wrong.headers["allow"] == "GET"
    job = client.get("/api/v1/schedules/nope", headers=login(client, "analyst"))
    assert _refused(job, 404, "not_found")["message"] == "no scheduling job 'nope'"
    node = client.get("/api/v1/nodes/lot:NOPE", headers=analyst)
    assert _refused(node, 404, "not_found")["message"] == "no node 'lot:NOPE'"
