"""A request to the API without valid credentials is answered 401 and nothing else.

Whatever else is wrong with it (a parameter given twice, a number written loosely, a body of
the wrong shape or over the size limit, a path that does not exist) is the business of a caller
the API knows: told first, a stranger would learn a route's parameters and limits. A session
that ends while the request's body is on its way is told 401 too, once the body has arrived.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from api.body_limit import SMALL_BODY
from api.deps import Services
from scheduler.jobs import JobManager, default_manager
from scheduler.readers import read_jsp
from tests.api.conftest import PASSWORDS, login
from tests.fixtures.epcis import PARTIES, PARTS, gs1_document
from tests.fixtures.events import Events
from tests.scheduler.conftest import FT06

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


# A request that would write, by path: its body (JSON) as the admin sends it.
WRITES: dict[str, Any] = {
    # A body FastAPI reads itself, before the route's dependencies run.
    "/api/v1/admin/keys": {"username": "admin", "label": "sent as the session ended"},
    # Bodies the route reads itself, after its dependencies.
    "/api/v1/events": [Events().receive("L-1", 10)],
    "/api/v1/epcis/capture": {"document": gs1_document(), "gtins": PARTS, "parties": PARTIES},
    "/graphql": {
        "query": "mutation($events: JSON!) { ingest(events: $events) { __typename } }",
        "variables": {"events": [Events().receive("L-1", 10)]},
    },
    "/api/v1/schedules": {
        "problem": read_jsp(FT06, "ft06").model_dump(),
        "options": {"time_limit": 1, "workers": 1},
    },
}
NEW_PASSWORD = "another good password"
# How the admin's session ends while the body is on its way: (the credential it ends, how).
ENDINGS: dict[str, tuple[str, Callable[[Services, str, str], None]]] = {
    "logged out": ("token", lambda svc, token, _: svc.auth.logout(token)),
    "disabled": ("token", lambda svc, _, __: svc.auth.set_disabled("admin", True)),
    "password changed": (
        "token",
        lambda svc, _, __: svc.auth.change_password("admin", PASSWORDS["admin"][1], NEW_PASSWORD),
    ),
    "key revoked": ("key", lambda svc, _, key_id: svc.auth.revoke_key(key_id)),
}


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("path", WRITES)
def test_a_session_that_ends_while_the_body_arrives_writes_nothing(
    client: TestClient, services: Services, path: str, ending: str
) -> None:
    status, answer = _posted_while_ending(client, services, path, ending)
    assert status == 401, answer
    assert json.loads(answer)["error"] == "unauthenticated"
    assert services.store.events(0, 1) == []
    assert [k.label for k in services.auth.keys("admin")] == ["the caller's"]


@pytest.mark.parametrize("path", WRITES)
def test_a_session_that_lasts_while_the_body_arrives_writes(
    client: TestClient, services: Services, path: str
) -> None:
    # Positive control: sent the same way, with the session still on, the request goes through.
    status, answer = _posted_while_ending(client, services, path, None)
    assert status in (200, 201, 202), answer
    assert b'"errors"' not in answer  # GraphQL's refusals come with 200


def _posted_while_ending(
    client: TestClient, services: Services, path: str, ending: str | None
) -> tuple[int, bytes]:
    """POST `path` its body as the admin, in two parts, the session ending (`ending`, if any)
    between them; return the answer's status and body."""
    manager = JobManager()
    client.app.dependency_overrides[default_manager] = lambda: manager  # type: ignore[attr-defined]
    token = login(client, "admin")["Authorization"].removeprefix("Bearer ")
    key = services.auth.create_key("admin", "the caller's")
    credential, end = ENDINGS[ending] if ending else ("token", None)
    header = (
        (b"authorization", f"Bearer {token}".encode())
        if credential == "token"
        else (b"x-api-key", key.key.encode())
    )
    body = json.dumps(WRITES[path]).encode()
    # The first byte, then (the session ended meanwhile) the rest: a body may be sent slowly.
    arriving: list[Message] = [
        {"type": "http.request", "body": body[:1], "more_body": True},
        {"type": "http.request", "body": body[1:], "more_body": False},
    ]

    async def receive() -> Message:
        if len(arriving) == 1 and end is not None:
            end(services, token, key.info.key_id)
        return arriving.pop(0) if arriving else {"type": "http.disconnect"}

    try:
        return _sent(client, "POST", path, [header], body, receive)
    finally:
        manager.shutdown()


def _sent(
    client: TestClient,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    receive: Callable[[], Awaitable[Message]],
) -> tuple[int, bytes]:
    """Send a request to the app as a server would, reading its body with `receive`; return
    the status and body of the answer."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]
    start = next(message for message in sent if message["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent[1:])
