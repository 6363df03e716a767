"""REST endpoints for events and traces: thin, each parses, calls a service and returns."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

import api.access
from api.access import Access
from api.deps import AccessDep
from api.graphql.cost import MAX_LISTED
from api.ingest_reports import IngestReportBody, report_response
from api.strict_json import StrictJsonRoute
from graph.errors import BadRequest
from graph.store import LAST_POSITION, StoredEvent
from graph.trace import edge_dict, node_dict
from ingest.json_text import JsonRefused, utf8_text
from ingest.models import EventBatch
from ingest.parse import read_body
from ingest.service import IngestReport
from ingest.times import TimeText

router = APIRouter(route_class=StrictJsonRoute)
MAX_LOG_PAGE = 1000
# Steps, inputs and outputs one window may list, as many as a GraphQL request may: a year on a
# busy machine is thousands of steps, each with its inputs and outputs.
MAX_WINDOW_LISTED = MAX_LISTED

EVENTS_BODY: dict[str, Any] = {
    "description": 'A JSON array of events, `{"events": [...]}`, or NDJSON (one event per line).',
    "content": {
        "application/json": {"schema": EventBatch.model_json_schema()},
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
    "required": True,
}


@router.get("/healthz", tags=["ops"])
def healthz() -> dict[str, str]:
    """Report liveness."""
    return {"status": "ok"}


@router.post(
    "/api/v1/events",
    status_code=status.HTTP_201_CREATED,
    response_model=IngestReportBody,
    tags=["ingest"],
    openapi_extra={"requestBody": EVENTS_BODY},
    responses={
        401: {"description": "no or bad credentials"},
        403: {"description": "the caller's role may not record these events"},
        409: {"description": "an event_id was used before with another payload"},
        422: {"description": "the batch breaks the contract; nothing was written"},
    },
)
async def post_events(request: Request, access: AccessDep) -> Response:
    """Ingest a batch of events atomically (operators and admins; analysts: status only)."""
    access.may_record_events()
    body = await request.body()  # bounded by the app's max_body_size
    # Reading a large body takes seconds, and ingest does blocking store I/O: both off the
    # event loop, which answers other requests meanwhile.
    report = await run_in_threadpool(_ingest_body, access, body)
    return report_response(report)


def _ingest_body(access: Access, body: bytes) -> IngestReport:
    try:
        text = utf8_text(body)  # said as every JSON body is: where it is not UTF-8
    except JsonRefused as error:
        raise BadRequest(f"the body is {error.message}") from None
    return access.ingest(read_body(text))


@router.get(
    "/api/v1/events",
    tags=["ingest"],
    responses={403: {"description": "only analysts and admins read the event log"}},
)
def get_events(
    access: AccessDep,
    after: Annotated[
        int, Query(ge=0, le=LAST_POSITION, description="the log position to read after")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LOG_PAGE)] = 100,
) -> dict[str, Any]:
    """Read the event log in order: each event as sent, who sent it and when it was recorded,
    and the void that retracted it, if one did. Page on with `after` = `next_after`."""
    logged = access.event_log(after, limit)
    return {
        "events": [_logged_dict(stored) for stored in logged],
        "next_after": logged[-1].seq if len(logged) == limit else None,
    }


def _logged_dict(stored: StoredEvent) -> dict[str, Any]:
    return {
        "seq": stored.seq,
        "event_id": stored.event_id,
        "type": stored.type,
        "occurred_at": stored.at,
        "recorded_at": stored.recorded_at,
        "recorded_by": stored.recorded_by,
        "voided_by": stored.voided_by,
        "digest": stored.digest,
        "event": json.loads(stored.payload),
    }


@router.get("/api/v1/nodes/{node_id:path}", tags=["trace"])
def get_node(node_id: str, access: AccessDep) -> dict[str, Any]:
    """Return one node by global id (`lot:L-1`, `serial:SN-9`, `supplier_lot:ACME/A-77`, ...)."""
    return node_dict(access.node(node_id))


@router.get(
    "/api/v1/trace",
    tags=["trace"],
    responses={
        400: {
            "description": "the answer would list too much (counted once the trace is "
            "walked): ask a shorter one (max_depth), or page through it with GraphQL"
        }
    },
)
def get_trace(
    access: AccessDep,
    id: Annotated[str, Query(description="global id of the start node", max_length=1000)],
    direction: Literal["up", "down"] = "down",
    max_depth: Annotated[
        int | None,
        Query(ge=0, description="list nodes this many steps away at most; exposure counts all"),
    ] = None,
    # Read as the event contract reads times: a number is not a Unix time.
    as_of: TimeText | None = None,
) -> dict[str, Any]:
    """Trace up (where from) or down (where used), with exposure or shares; 400 when the answer
    would list more nodes and edges than a GraphQL request may (whose trace pages them). The
    limit bounds what one answer lists, not the work: the trace is walked whole first."""
    # Counted as the caller sees them once walked: the answer is refused whole, never cut short.
    # This bounds the response only; the walk is already paid for.
    limit = api.access.MAX_TRACE_LISTED
    trace = access.trace(id, direction, max_depth=max_depth, as_of=as_of, limit=limit)
    return trace.to_dict()


@router.get(
    "/api/v1/equipment/{equipment:path}/window",
    tags=["trace"],
    responses={
        400: {"description": "the window is too long, or lists too much: ask a shorter one"}
    },
)
def equipment_window(
    equipment: str,
    access: AccessDep,
    start: Annotated[TimeText, Query(alias="from")],
    end: Annotated[TimeText, Query(alias="to")],
) -> dict[str, Any]:
    """List what was processed on an equipment between two times: every step with its inputs
    and outputs, or 400 when they are more than a GraphQL request may list (ask a shorter
    window)."""
    uses = access.equipment_window(f"equipment:{equipment}", start, end, MAX_WINDOW_LISTED)
    return {
        "equipment": f"equipment:{equipment}",
        "steps": [
            node_dict(use.step)
            | {
                "inputs": [edge_dict(e) for e in use.inputs],
                "outputs": [edge_dict(e) for e in use.outputs],
            }
            for use in uses
        ],
    }
