"""Answers that depend on who asks are marked `Cache-Control: no-store`.

A shared cache stores an answer to a request with an Authorization header only when told it may,
but not one to a request with X-API-Key, which it does not know for a credential: a proxy could
hand one caller's lots to the next. Every answer of the API (a login's token and a new API key
among them) and of any request that brings credentials is marked; the public pages and static
files stay cacheable.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.graphql.router import PATH as GRAPHQL

# The API's paths: each starts with one of these.
API_PREFIXES = ("/api/", GRAPHQL)
CREDENTIALS = ("authorization", "x-api-key")


def is_private(scope: Scope) -> bool:
    """Tell whether an answer to this request may hold what only its caller may see."""
    path: str = scope["path"]
    if path.startswith(API_PREFIXES):
        return True
    headers = Headers(scope=scope)
    return any(name in headers for name in CREDENTIALS)


class NoStore:
    """Pure ASGI middleware: add `Cache-Control: no-store` to answers of private requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_private(scope):
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                headers["Cache-Control"] = "no-store"
                message = {**message, "headers": headers.raw}
            await send(message)

        await self.app(scope, receive, marked)
