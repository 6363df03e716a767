"""A client that goes away before its request is read whole is no fault of the server's."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from tests.api.conftest import login


@pytest.mark.parametrize(
    ("path", "content_type", "user"),
    [
        ("/api/v1/events", "application/json", "otto"),
        ("/graphql", "application/json", "otto"),
        # Bodies FastAPI reads itself, before the route's dependencies run: it answered them
        # 400 "There was an error parsing the body". The caller is known before (a login's
        # only once its form is read).
        ("/api/v1/auth/token", "application/x-www-form-urlencoded", None),
        ("/api/v1/me/password", "application/json", "otto"),
    ],
)
def test_a_client_gone_mid_body_is_audited_as_gone_not_as_an_error(
    client: TestClient,
    path: str,
    content_type: str,
    user: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = login(client, "operator")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", headers["Authorization"].encode()),
            (b"content-type", content_type.encode()),
            (b"content-length", b"5000"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    # One byte of the 5,000 declared, then the connection closes.
    arriving: list[Message] = [
        {"type": "http.request", "body": b"[", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return arriving.pop(0) if arriving else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass  # no one is there to read it

    with caplog.at_level(logging.INFO, logger="tracegraph.audit"):
        asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]
    audited = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tracegraph.audit"]
    assert [(r["path"], r["status"], r["outcome"], r["user"]) for r in audited] == [
        (path, 499, "client_gone", user)
    ]
