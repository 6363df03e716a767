"""HEAD is answered wherever GET is: the GET answer's status and headers, without its body.

FastAPI routes answer only the methods they name, so HEAD on a GET route was 405 (only Starlette's
own routes, /openapi.json and the static files, knew it). Here a HEAD request runs as the GET it
asks about, inside every check of ours (credentials, scope), and the body is left unsent, with the
Content-Length the GET would have given.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The messages that carry a body (a file sent by path included), all left unsent but the end.
BODY = frozenset({"http.response.body", "http.response.pathsend", "http.response.zerocopysend"})


class HeadAsGet:
    """Pure ASGI middleware: run HEAD requests as GET and send no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        # The state is shared, not copied: middleware outside reads what the route set there
        # (who asked, for the audit), and sees the request as the HEAD it was.
        scope.setdefault("state", {})

        async def headers_only(message: Message) -> None:
            if message["type"] not in BODY:
                await send(message)
            elif not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, receive, headers_only)
