"""A request with both an API key and a bearer token is refused: it is not told whose it is."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import login


def _both(client: TestClient) -> dict[str, str]:
    admin = login(client, "admin")
    key = client.post("/api/v1/admin/keys", json={"username": "otto"}, headers=admin).json()
    return login(client, "analyst") | {"X-API-Key": key["key"]}


def _refused_naming_both(answer: Any) -> None:
    status, text = answer.status_code, answer.text
    assert status == 400, text
    assert "X-API-Key" in text and "Authorization" in text and "one" in text


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/me"), ("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/events")],
)
def test_a_key_and_a_token_together_are_refused_on_every_route(
    client: TestClient, method: str, path: str
) -> None:
    headers = _both(client)
    answer = client.request(method, path, headers=headers, json=[])
    _refused_naming_both(answer)
    # Each alone is its owner's, and the token's session was not ended by the refused logout.
    assert (
        client.get("/api/v1/me", headers={"X-API-Key": headers["X-API-Key"]}).json()["username"]
        == "otto"
    )
    token = {"Authorization": headers["Authorization"]}
    assert client.get("/api/v1/me", headers=token).json()["username"] == "ana"


def test_a_key_and_a_token_together_are_refused_by_graphql(client: TestClient) -> None:
    answer = client.post("/graphql", json={"query": "{ __typename }"}, headers=_both(client))
    _refused_naming_both(answer)


def test_a_refused_write_with_both_writes_nothing(client: TestClient) -> None:
    event = {"event_id": "R-1", "type": "receive", "occurred_at": "2026-03-02T08:00:00Z"} | {
        "supplier": "ACME-STEEL",
        "supplier_lot": "A1",
        "part": "BAR",
        "lot": "LA",
        "qty": "5",
    }
    _refused_naming_both(client.post("/api/v1/events", json=[event], headers=_both(client)))
    log = client.get("/api/v1/events", headers=login(client, "admin")).json()
    assert log["events"] == []


def test_both_are_refused_before_the_body_is_read(client: TestClient) -> None:
    headers = _both(client) | {"Content-Type": "application/json"}
    answer = client.post("/api/v1/me/password", content=b"{not json", headers=headers)
    _refused_naming_both(answer)
    assert answer.json()["error"] == "two_credentials"


def test_the_dependency_refuses_both_where_no_middleware_did_first(client: TestClient) -> None:
    # A route outside the prefixes the middleware guards still authenticates through `principal`.
    from fastapi.security import HTTPAuthorizationCredentials
    from starlette.requests import Request

    from api.deps import TwoCredentials, principal

    headers = _both(client)
    request = Request(
        {
            "type": "http",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
    )
    token = HTTPAuthorizationCredentials(
        scheme="Bearer", credentials=headers["Authorization"].partition(" ")[2]
    )
    services = client.app.state.services  # type: ignore[attr-defined]
    with pytest.raises(TwoCredentials, match="send one of them"):
        principal(request, services, token, headers["X-API-Key"])


@pytest.mark.parametrize("name", ["Authorization", "X-API-Key"])
@pytest.mark.parametrize(("method", "path"), [("GET", "/api/v1/me"), ("POST", "/graphql")])
def test_a_credential_header_given_twice_is_refused_naming_it(
    client: TestClient, name: str, method: str, path: str
) -> None:
    # Each a valid credential of its own account: read first, or last (as a gateway may), the
    # request would be another's. HTTP takes one Authorization line in a request (RFC 9110).
    admin = login(client, "admin")
    if name == "Authorization":
        values = [admin["Authorization"], login(client, "analyst")["Authorization"]]
    else:
        values = [
            client.post("/api/v1/admin/keys", json={"username": user}, headers=admin).json()["key"]
            for user in ("ana", "otto")
        ]
    headers = [(name, value) for value in values]
    answer = client.request(method, path, headers=headers, json={"query": "{ me { username } }"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "duplicate_header"
    assert f"{name} is sent more than once" in answer.json()["message"]
    # Positive control: each alone is its owner's.
    for value in values:
        assert client.get("/api/v1/me", headers={name: value}).status_code == 200
