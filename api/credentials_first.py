"""Requests to the API are authenticated before anything else of them is looked at.

Route dependencies (and so authentication) run after FastAPI has read and parsed the body, and
after our routes have checked the query (a parameter given twice, a number written loosely): a
caller with no account could make the server spool 64 MiB of multipart files, or parse JSON,
only to be told 401, and would learn a route's parameters and limits from what it was told
first. So a request to the API with neither header is answered at once, and one with
credentials has them checked here: without valid ones it is told 401 (a path that does not
exist included), and with them its caller is known to the route (api.deps.principal), which
takes it from here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import authenticate
from api.errors import render
from api.no_store import API_PREFIXES

# What answers without a login: the token exchange itself, and replacing an expired password
# (it gives the current one, checked and throttled as a login).
OPEN = frozenset({"/api/v1/auth/token", "/api/v1/auth/password"})


async def credentials_first(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    path = request.url.path
    if path.startswith(API_PREFIXES) and path not in OPEN:
        try:
            # None, both a key and a token, or one that is no one's: refused (api.deps).
            await run_in_threadpool(authenticate, request)  # the account store is read
        except Exception as error:  # outside the app's handlers: answered as they would
            return await render(request, error)
    return await call_next(request)
