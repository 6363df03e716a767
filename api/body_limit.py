"""Request bodies are bounded as they stream in, and an oversized one is refused in our shape.

Starlette's own limit (FastAPI's `max_body_size`) sits outside every middleware and handler of
ours: it answers 413 in plain text, and when the declared length is over the limit it replaces
whatever answer the app gave. Here the declared length is checked first, and the bytes that
arrive are counted as the app reads them (JSON, NDJSON, multipart uploads, GraphQL alike), so a
body is refused before it is read whole or spooled to disk, with `{"error", "message"}`.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import http_error


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the bytes read pass the limit; FastAPI passes HTTPExceptions
    raised while it reads a body on to the handlers, which answer in the API's shape
    (`content_too_large`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the limit of {limit:,} bytes")


# What an account, a key, a company, a lot scheme or a mint request takes, with room to spare.
# FastAPI reads and parses a route's body before its dependencies check the caller's role, so a
# role refused there would have had tens of MiB parsed on the event loop first.
SMALL_BODY = 1024 * 1024


class BodyLimit:
    """Pure ASGI middleware: refuse HTTP request bodies of more than `limit` bytes, and of more
    than SMALL_BODY outside the paths that start with one of `large` (where bodies of events,
    documents, plans and GraphQL requests go)."""

    def __init__(self, app: ASGIApp, limit: int, large: tuple[str, ...]) -> None:
        self.app = app
        self.limit = limit
        self.large = large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.limit if path.startswith(self.large) else min(self.limit, SMALL_BODY)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await http_error(BodyTooLarge(limit))(scope, receive, send)
            return
        read = 0
        started = False

        async def counted() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    raise BodyTooLarge(limit)
            return message

        async def sent(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, sent)
        except BodyTooLarge as refused:
            # Read where no handler of ours answers it (a route that reads the stream itself).
            if started:
                raise
            await http_error(refused)(scope, receive, send)
