"""Requests to the API are authenticated before anything else of them is looked at, and again
once their body has arrived.

Route dependencies (and so authentication) run after FastAPI has read and parsed the body, and
checks of the query (a parameter given twice, a number written loosely) may come before a
route's own check of who may use it: a caller with no account could make the server spool
64 MiB of multipart files, or parse JSON, only to be told 401, and would learn a route's
parameters and limits from what it was told first. So a request to the API with neither header
is answered at once, and one with credentials has them checked here: without valid ones it is
told 401 (a path that does not exist included), and with them its caller is known to the route
(api.deps.principal), which takes it from here.

A body may take as long to arrive as its sender likes (the server sets no time limit on it), and
the session it was sent in may end meanwhile: a logout, a disabled account, a new password, a
revoked key. So the credentials are checked again as the body's last part arrives, before anything
reads it whole: a body FastAPI reads for a route's parameters, a form, and one a route reads
itself (events, EPCIS documents, schedules, GraphQL), alike. A session ended by then is told 401
and nothing is written. That check reads the stores as the first does: a SHA-256 digest and
indexed rows, no password hash.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import authenticate
from api.errors import RefusedWhileRead, render
from api.no_store import API_PREFIXES

# What answers without a login: the token exchange itself, and replacing an expired password
# (it gives the current one, checked and throttled as a login).
OPEN = frozenset({"/api/v1/auth/token", "/api/v1/auth/password"})


class CredentialsFirst:
    """Pure ASGI middleware (it checks the body's arrival as `receive` hands it on): refuse a
    request to the API whose credentials are not valid, before it is read and once it has been."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(API_PREFIXES) or path in OPEN:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            # None, both a key and a token, or one that is no one's: refused (api.deps).
            await run_in_threadpool(authenticate, request)  # the account store is read
        except Exception as error:  # outside the app's handlers: answered as they would
            await (await render(request, error))(scope, receive, send)
            return

        async def arrived() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                try:
                    await run_in_threadpool(authenticate, request)
                except Exception as error:  # in the app, where its reader passes it on
                    raise RefusedWhileRead(error) from error
            return message

        await self.app(scope, arrived, send)
