"""Where no middleware checked a request's credentials first (a route outside the prefixes it
guards, a router mounted alone), `principal` reads them as credentials_first reads them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.deps import PrincipalDep, Services
from api.errors import install as install_error_handlers
from tests.api.conftest import login


@pytest.fixture
def unguarded(services: Services) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.state.services = services

    @app.get("/api/v1/me")
    def me(who: PrincipalDep) -> dict[str, str]:
        return {"username": who.username}

    with TestClient(app) as test_client:
        yield test_client


def _answer(client: TestClient, headers: list[tuple[str, str]]) -> tuple[int, str]:
    answer = client.get("/api/v1/me", headers=headers)
    body = answer.json()
    return answer.status_code, body.get("username") or body.get("error")


def test_an_unguarded_route_tells_callers_as_the_guarded_app_does(
    client: TestClient, unguarded: TestClient
) -> None:
    token = login(client, "analyst")["Authorization"]
    admin = login(client, "admin")
    key = client.post("/api/v1/admin/keys", json={"username": "otto"}, headers=admin).json()["key"]
    cases = [
        [("Authorization", token)],
        [("X-API-Key", key)],
        [("Authorization", token), ("X-API-Key", key)],  # both: refused
        [("Authorization", token.replace("Bearer", "Basic")), ("X-API-Key", key)],  # no token
        [("Authorization", token), ("X-API-Key", "")],  # an empty key is none
        [("Authorization", "Bearer"), ("X-API-Key", key)],  # a scheme alone is no token
        [("X-API-Key", key), ("X-API-Key", key)],  # sent twice
        [("Authorization", "Basic b3R0bzpvdHRv")],  # none
        [],
    ]
    told = [_answer(client, headers) for headers in cases]
    assert told == [
        (200, "ana"),
        (200, "otto"),
        (400, "two_credentials"),
        (200, "otto"),
        (200, "ana"),
        (200, "otto"),
        (400, "duplicate_header"),
        (401, "unauthenticated"),
        (401, "unauthenticated"),
    ]
    assert [_answer(unguarded, headers) for headers in cases] == told
