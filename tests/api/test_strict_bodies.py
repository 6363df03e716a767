"""Every JSON body the API reads is read as strictly as events are: a key given twice is refused.

Readers differ on which of two equal keys counts (the first, the last, or neither): a gateway
that checked a body could have read another account, scheme or partner than the one we would
write. Refused by name, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

import scheduler.routes
from api.app import create_app
from api.deps import Services
from api.graphql.router import Router as GraphQLRouter
from api.settings import Settings
from api.strict_json import StrictJsonRoute
from tests.api.conftest import login


def _json_bodies() -> list[tuple[str, str]]:
    """Every operation of the API that takes a JSON body, as (method, path)."""
    app = create_app(Settings(store="sqlite:///unused.db"))
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


JSON_BODIES = _json_bodies()


def _routers(routes: Sequence[BaseRoute]) -> Iterator[APIRouter]:
    """The routers included among `routes`, and theirs (FastAPI keeps each one whole)."""
    for route in routes:
        router = getattr(route, "original_router", None)
        if isinstance(router, APIRouter):
            yield router
            yield from _routers(router.routes)


def test_every_router_of_the_api_reads_json_strictly() -> None:
    """A body parameter added to any router's route is read strictly, the scheduler's too
    (GraphQL's router reads its bodies itself, as strictly)."""
    routers = list(_routers(create_app(Settings(store="sqlite:///unused.db")).routes))
    assert scheduler.routes.router in routers
    loose = [
        route.path
        for router in routers
        if not isinstance(router, GraphQLRouter)
        for route in router.routes
        if isinstance(route, APIRoute) and not isinstance(route, StrictJsonRoute)
    ]
    assert loose == []


def test_the_json_bodies_are_all_found() -> None:
    assert ("POST", "/api/v1/admin/users") in JSON_BODIES
    assert ("PUT", "/api/v1/admin/partners") in JSON_BODIES
    assert ("POST", "/api/v1/lots/mint") in JSON_BODIES
    assert len(JSON_BODIES) >= 10


@pytest.mark.parametrize(("method", "path"), JSON_BODIES, ids=[" ".join(m) for m in JSON_BODIES])
def test_a_key_twice_in_any_json_body_is_refused_by_name(
    client: TestClient, method: str, path: str
) -> None:
    headers = login(client, "admin") | {"content-type": "application/json"}
    url = path.replace("{username}", "admin")
    response = client.request(method, url, content=b'{"name": "a", "name": "b"}', headers=headers)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["errors"]
    assert problem["code"] == "duplicate_key"
    assert "'name' appears twice" in problem["message"]


def test_an_account_sent_with_a_key_twice_is_refused_and_not_made(
    client: TestClient, services: Services
) -> None:
    headers = login(client, "admin") | {"content-type": "application/json"}
    body = (
        b'{"username": "checked", "username": "written", "password": "a long passphrase 1",'
        b' "role": "analyst"}'
    )
    before = services.auth.users()
    response = client.post("/api/v1/admin/users", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert "the key 'username' appears twice in one object" in response.json()["message"]
    assert services.auth.users() == before
    fixed = body.replace(b'"username": "checked", ', b"")
    assert client.post("/api/v1/admin/users", content=fixed, headers=headers).status_code == 201


def test_the_other_json_refusals_hold_for_these_bodies_too(client: TestClient) -> None:
    headers = login(client, "admin") | {"content-type": "application/json"}
    for body, code in (
        (b'{"scheme": "S", "partner": "P", "values": {"n": NaN}}', "not_a_number"),
        (b'{"scheme": "S", "partner": "P", "values": {"n": 1.00000000000000001}}', "not_exact"),
    ):
        response = client.post("/api/v1/lots/mint", content=body, headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["code"] == code


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"\xff{}", "not UTF-8 text (byte 0)"),
        (b"\xff\xfe", "UTF-16 text, not UTF-8 (it begins with a UTF-16 byte order mark)"),
    ],
)
def test_a_body_that_is_not_utf_8_is_said_so_wherever_it_is_sent(
    client: TestClient, body: bytes, said: str
) -> None:
    headers = login(client, "admin") | {"content-type": "application/json"}
    mint = client.post("/api/v1/lots/mint", content=body, headers=headers)
    assert mint.status_code == 422 and said in mint.json()["message"], mint.text
    events = client.post("/api/v1/events", content=body, headers=headers)
    assert events.status_code == 400 and events.json()["message"] == f"the body is {said}"
    graphql = client.post("/graphql", content=body, headers=headers)
    assert graphql.status_code == 400, graphql.text
    assert graphql.json() == {"error": "not_json", "message": said}
