"""A request to the API without valid credentials is answered 401 and nothing else.

Whatever else is wrong with it (a parameter given twice, a number written loosely, a body of
the wrong shape or over the size limit, a path that does not exist) is the business of a caller
the API knows: told first, a stranger would learn a route's parameters and limits.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.body_limit import SMALL_BODY
from api.deps import Services
from tests.api.conftest import login

USERS = "/api/v1/admin/users"
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/v1/events?after=0&after=1", {}),
    ("GET", "/api/v1/events?limit=5_0", {}),
    ("GET", "/api/v1/trace?id=lot:L00001-BAR&direction=down&max_depth=x", {}),
    ("POST", USERS, {"content": b'{"username": "a", "username": "b"}'}),
    ("POST", USERS, {"content": b"{not json"}),
    ("POST", USERS, {"content": json.dumps({"pad": "x" * SMALL_BODY}).encode()}),
    ("POST", "/api/v1/recalls/RC-1/answers", {"data": {"text": ["a", "b"]}}),
    ("GET", "/api/v1/no-such-route", {}),
    ("GET", "/graphql?query={me{role}}&query={me{role}}", {}),
]
WRONG = [
    {"Authorization": "Bearer tga_no-such-token"},
    {"X-API-Key": "tgk_0123456789abcdef_no-such-secret"},
]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_a_request_without_valid_credentials_is_told_401_first(
    client: TestClient, plant: Services, method: str, path: str, body: dict[str, Any]
) -> None:
    headers = {"Content-Type": "application/json"} if "content" in body else {}
    for wrong in WRONG:
        answer = client.request(method, path, headers=headers | wrong, **body)
        assert answer.status_code == 401, (wrong, answer.text)
        assert answer.json()["error"] == "unauthenticated"
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    # Positive control: an admin, who may use every route, is told what else is wrong.
    answer = client.request(method, path, headers=headers | login(client, "admin"), **body)
    assert answer.status_code in (400, 403, 404, 413, 422), answer.text


def test_a_disabled_account_is_told_401_first(client: TestClient, plant: Services) -> None:
    token = login(client, "analyst")
    admin = login(client, "admin")
    assert client.post("/api/v1/admin/users/ana/disable", headers=admin).status_code == 200
    answer = client.get("/api/v1/events?after=0&after=1", headers=token)
    assert answer.status_code == 401 and answer.json()["error"] == "unauthenticated"
