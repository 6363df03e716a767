"""A large request body holds no one else up: a role that may not send it is refused before it
is read, and what is read is parsed off the event loop, which answers other requests meanwhile."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

import api.epcis_routes
import api.graphql.router
import api.routes
import scheduler.routes
from tests.api.conftest import login

NOT_JSON = b"[1.5, 1.5, "


@pytest.mark.parametrize(
    ("path", "role", "what"),
    [
        ("/api/v1/events", "customer", "record events"),
        ("/api/v1/events", "supplier", "record events"),
        ("/api/v1/epcis/capture", "customer", "record events"),
        ("/api/v1/schedules", "operator", "schedule"),
    ],
)
def test_a_role_that_may_not_post_is_refused_before_its_body_is_read(
    client: TestClient, path: str, role: str, what: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Unreadable, so that a body parsed before the role is checked answers otherwise.
    headers = login(client, role) | {"content-type": "application/json"}
    with caplog.at_level(logging.INFO, logger="tracegraph.audit"):
        refused = client.post(path, content=NOT_JSON, headers=headers)
    assert refused.status_code == 403, refused.text
    assert refused.json() == {"error": "forbidden", "message": f"the {role} role may not {what}"}
    audited = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tracegraph.audit"]
    assert [(r["path"], r["status"], r["outcome"], r["role"]) for r in audited] == [
        (path, 403, "denied", role)
    ]


# Each endpoint's reader of its body, where the test holds the reading up.
READERS: dict[str, tuple[Any, str]] = {
    "/api/v1/events": (api.routes, "read_body"),
    "/api/v1/epcis/capture": (api.epcis_routes, "strict_loads"),
    "/graphql": (api.graphql.router, "strict_loads"),
    "/api/v1/schedules": (scheduler.routes, "strict_loads"),
}


@pytest.mark.parametrize(
    ("path", "role", "body", "status"),
    [
        ("/api/v1/events", "operator", [], 422),  # no events: refused, once read
        ("/api/v1/epcis/capture", "operator", [], 422),
        ("/graphql", "customer", {"query": "{ me { username } }"}, 200),
        ("/api/v1/schedules", "analyst", {}, 422),  # no problem
    ],
)
def test_other_requests_are_answered_while_a_body_is_parsed(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    role: str,
    body: Any,
    status: int,
) -> None:
    parsing, answered = threading.Event(), threading.Event()

    def held(read: Callable[..., Any]) -> Callable[..., Any]:
        def reading(*args: Any, **kwargs: Any) -> Any:
            parsing.set()
            # Parsed on the event loop, this waits in vain: no other request is answered.
            if not answered.wait(timeout=5):
                raise AssertionError("no other request was answered while the body was parsed")
            return read(*args, **kwargs)

        return reading

    module, name = READERS[path]
    monkeypatch.setattr(module, name, held(getattr(module, name)))
    headers = login(client, role)

    async def both() -> tuple[httpx2.Response, httpx2.Response]:
        transport = httpx2.ASGITransport(app=client.app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as http:

            async def health() -> httpx2.Response:
                await asyncio.to_thread(parsing.wait, 5)
                answer = await http.get("/healthz")
                answered.set()
                return answer

            posted, healthy = await asyncio.gather(
                http.post(path, json=body, headers=headers), health()
            )
            return posted, healthy

    posted, healthy = asyncio.run(both())
    assert parsing.is_set() and healthy.status_code == 200
    assert posted.status_code == status, posted.text
