"""Requests that bring no credentials at all, or two (api.deps), are refused before their
bodies are read.

Route dependencies (and so authentication) run after FastAPI has read and parsed the body: a
caller with no account could make the server spool 64 MiB of multipart files, or parse JSON,
only to be told 401. A request to the API with neither header is answered at once; one with
credentials is checked, as before, by the route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from api.deps import NO_CREDENTIALS, TWO_CREDENTIALS, TwoCredentials, two_credentials
from api.errors import error_response
from api.no_store import API_PREFIXES

# What answers without a login: the token exchange itself, and replacing an expired password
# (it gives the current one, checked and throttled as a login).
OPEN = frozenset({"/api/v1/auth/token", "/api/v1/auth/password"})


async def credentials_first(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    path = request.url.path
    guarded = path.startswith(API_PREFIXES) and path not in OPEN
    has_any = "authorization" in request.headers or "x-api-key" in request.headers
    if guarded and not has_any:
        return error_response(
            "unauthenticated", NO_CREDENTIALS, 401, {"WWW-Authenticate": "Bearer"}
        )
    if guarded and two_credentials(request.headers):
        return error_response(TwoCredentials.code, TWO_CREDENTIALS, TwoCredentials.status_code)
    return await call_next(request)
