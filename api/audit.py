"""Audit of access: one structured log line per request: who, what, when, and the outcome."""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from starlette.requests import ClientDisconnect

from api.deps import client_host
from graph.clock import now_text

audit_log = logging.getLogger("tracegraph.audit")
# A client that closed the connection before its request was read whole (nginx's code for it):
# no fault of the server's, and no one is left to answer.
CLIENT_GONE = 499


async def audit_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Log every request under tracegraph.audit as one JSON object."""
    started = time.perf_counter()
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        return response
    except ClientDisconnect:
        status = CLIENT_GONE
        return Response(status_code=CLIENT_GONE)
    finally:
        who = getattr(request.state, "principal", None)
        # A GraphQL request answers 200 with its refusals inside: the schema says what they were.
        graphql_outcome = getattr(request.state, "graphql_outcome", None)
        record = {
            "at": now_text(),
            "user": who.username if who else getattr(request.state, "login_user", None),
            "role": who.role.value if who else None,
            "via": who.via if who else None,
            "key": who.key_id if who else None,
            "method": request.method,
            "path": request.url.path,
            "graphql": bool(getattr(request.state, "graphql", False)),
            "status": status,
            "outcome": _outcome(status, graphql_outcome),
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "client": client_host(request),
        }
        audit_log.info(json.dumps(record, sort_keys=True))


def _outcome(status: int, graphql_outcome: str | None) -> str:
    if status == CLIENT_GONE:
        return "client_gone"
    if graphql_outcome:
        return graphql_outcome
    return "ok" if status < 400 else "denied" if status in (401, 403) else "error"


def server_log_config() -> dict[str, Any]:
    """Uvicorn's own logging, with the audit log on standard output, one JSON line a request.

    Without a handler and a level, Python drops the audit's INFO records: the server passes
    this to uvicorn, which applies it.
    """
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["audit"] = {"format": "%(message)s"}
    config["handlers"]["audit"] = {
        "class": "logging.StreamHandler",
        "formatter": "audit",
        "stream": "ext://sys.stdout",
    }
    config["loggers"][audit_log.name] = {"handlers": ["audit"], "level": "INFO", "propagate": False}
    return config
