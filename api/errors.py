"""How every failure is answered: one JSON shape, `{"error": code, "message": text}`.

`error` is a stable code to branch on, `message` is for people, and `errors`, where there are
several problems, lists each with the field it is about. Domain errors carry their own status
and code. A request FastAPI refuses before our code runs (a missing query parameter, a body of
the wrong shape), a path or method that does not exist, and the scheduler's errors are put in
the same shape, so a client reads one. So is an embedded store that cannot read or write its
file (a full disk): 503 `store_unavailable`. A refusal that the same request may get past
later carries `Retry-After` (`store_busy`, a Neo4j failure its server calls transient among
them, `too_many_attempts`, `scheduler_busy`); one it would
meet again (`store_time_limit`), or that no one can time (`read_terminated`), does not.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from api.strict_json import BodyRefused
from api.validation_text import problem_message
from graph.errors import DomainError, InvalidRequest, Unauthenticated
from graph.sqlite_schema import logged_fault
from scheduler.errors import SchedulerError


def install(app: FastAPI) -> None:
    """Render every failure of `app` in the one shape."""
    for kind in (DomainError, RequestValidationError, HTTPException, SchedulerError):
        app.add_exception_handler(kind, render)
    app.add_exception_handler(UnicodeEncodeError, render)
    app.add_exception_handler(sqlite3.Error, render)


class RefusedWhileRead(HTTPException):
    """A failure raised as a body arrives (api.credentials_first), carried as an HTTPException:
    FastAPI passes those on from its reading of a body as they are, where it answers any other
    400 without saying why. Answered as the failure it carries."""

    def __init__(self, error: Exception) -> None:
        super().__init__(getattr(error, "status_code", 500))
        self.error = error


async def render(_: Request, error: Exception) -> JSONResponse:
    """Answer a failure in the one shape (re-raise what is no failure we answer: a 500)."""
    if isinstance(error, RefusedWhileRead):
        error = error.error
    if isinstance(error, BodyRefused):  # a body read strictly: refused as one misshapen
        error = RequestValidationError(error.problems)
    if isinstance(error, RequestValidationError):
        error = _invalid_request(error)
    if isinstance(error, DomainError):
        return _domain_error(error)
    if isinstance(error, HTTPException):  # a path or method that does not exist, and the like
        if isinstance(error.__cause__, ClientDisconnect):
            # FastAPI's 400 for a body it reads itself (a form, JSON) that never came whole: the
            # client went away, which the audit logs as such, with no one left to answer.
            raise error.__cause__
        return http_error(error)
    if isinstance(error, SchedulerError):
        headers = _retry_after(error.retry_after)
        return error_response(error.code, error.message, error.status_code, headers)
    if isinstance(error, UnicodeEncodeError):
        # JSON can spell half a UTF-16 surrogate pair (an escape like \ud800 alone); it decodes
        # but no store can keep it, and the write it reached rolled back. Event bodies are
        # checked up front with the field named (ingest.parse) and pydantic refuses it in
        # string fields; this covers free JSON values that reach a store any other way.
        message = "a string holds half a UTF-16 surrogate pair (an escape like \\ud800 alone)"
        return error_response("not_text", message, 422)
    if (fault := logged_fault(error)) is not None:
        return _domain_error(fault)
    raise error


# The names RFC 9110 gave statuses that Python 3.11's HTTPStatus still calls otherwise.
RFC_9110_NAMES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def http_error(error: HTTPException) -> JSONResponse:
    """Answer an HTTP exception (Starlette's, FastAPI's or ours) in the one shape, its code
    being its status's name: `not_found`, `method_not_allowed`, `content_too_large`."""
    name = RFC_9110_NAMES.get(error.status_code) or HTTPStatus(error.status_code).phrase
    code = name.lower().replace(" ", "_").replace("-", "_")
    return error_response(code, str(error.detail), error.status_code, error.headers)


def error_response(
    code: str, message: str, status: int, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The one shape of every failure, for those answered outside the handlers too."""
    return _ErrorResponse({"error": code, "message": message}, status_code=status, headers=headers)


class _ErrorResponse(JSONResponse):
    """A failure's JSON, which may quote the half surrogate pair it refuses.

    Such a string has no UTF-8 form; as a JSON escape (\\ud800) it travels, and the answer
    keeps the event and field it names.
    """

    def render(self, content: object) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


def _domain_error(error: DomainError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthenticated) else None
    headers = _retry_after(error.retry_after) or headers
    return _ErrorResponse(error.to_dict(), status_code=error.status_code, headers=headers)


def _retry_after(seconds: int | None) -> dict[str, str] | None:
    """The header saying when to ask again, where waiting helps (None: the same request would
    meet the same refusal)."""
    return None if seconds is None else {"Retry-After": str(seconds)}


def _invalid_request(error: RequestValidationError) -> InvalidRequest:
    # FastAPI's own answer echoes each bad value, and JSON readers accept NaN and Infinity,
    # which JSON writers refuse: that answer failed as a 500. This one names the field and
    # what is wrong with it, without the value.
    problems = [
        {
            "field": ".".join(str(part) for part in problem["loc"]),
            "code": problem["type"],
            "message": problem_message(problem),
        }
        for problem in error.errors()
    ]
    return InvalidRequest.of(problems)
