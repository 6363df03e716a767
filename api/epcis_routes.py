"""EPCIS 2.0 over REST: a trace's events as JSON-LD, and capture of EPCIS documents."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.access import Access
from api.deps import AccessDep
from api.strict_json import StrictJsonRoute
from graph.epcis import dumps
from graph.errors import BadRequest
from ingest.epcis_capture import CaptureReport
from ingest.json_text import JsonRefused, strict_loads

router = APIRouter(tags=["epcis"], route_class=StrictJsonRoute)
JSON_LD = "application/ld+json"

CAPTURE_BODY: dict[str, Any] = {
    "description": (
        "An EPCIS 2.0 JSON-LD document (EPCISDocument) or a single EPCIS event; or "
        '`{"document": <that>, "gtins": {"<GTIN>": "<part>"}, '
        '"parties": {"<URI>": "<company>"}}` to say which of our parts and companies '
        "GS1 keys stand for."
    ),
    "content": {"application/ld+json": {"schema": {"type": "object"}}},
    "required": True,
}


@router.get(
    "/api/v1/trace/{node_id:path}/epcis",
    response_class=JSONResponse,
    responses={
        200: {"content": {JSON_LD: {}}, "description": "an EPCIS 2.0 document"},
        403: {"description": "the caller's role may not trace from here"},
        404: {"description": "no such node in the caller's scope"},
    },
)
def trace_epcis(
    node_id: str,
    access: AccessDep,
    direction: Literal["up", "down"] = "down",
    closure: bool = False,
) -> Response:
    """Export the events behind a trace as EPCIS 2.0 JSON-LD (the trace's scope rules apply)."""
    document = access.epcis_trace(node_id, direction, closure=closure)
    return Response(dumps(document), media_type=JSON_LD)


@router.post(
    "/api/v1/epcis/capture",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={"requestBody": CAPTURE_BODY},
    responses={
        403: {"description": "the caller's role may not record these events"},
        409: {"description": "an event came before with another payload; nothing was written"},
        422: {"description": "the document breaks the EPCIS schema or our rules; nothing written"},
    },
)
async def capture_epcis(request: Request, access: AccessDep) -> dict[str, Any]:
    """Capture an EPCIS document as one atomic batch of our events (the roles that ingest)."""
    access.may_record_events()
    raw = await request.body()  # bounded by the app's max_body_size
    # Reading a large document takes seconds, and capture does blocking store I/O: both off
    # the event loop, which answers other requests meanwhile.
    report = await run_in_threadpool(_capture, access, raw)
    return report.to_dict()


def _capture(access: Access, raw: bytes) -> CaptureReport:
    try:
        body = strict_loads(raw, exact_numbers=True)  # quantities to the last digit
    except JsonRefused as error:
        raise BadRequest(f"the body is not JSON we read: {error.message}") from None
    document, gtins, parties = _unwrap(body)
    return access.capture_epcis(document, gtins, parties)


def _unwrap(body: Any) -> tuple[Any, dict[str, str], dict[str, str]]:
    """Split a wrapped body into the document and the caller's identifier mappings."""
    if not (isinstance(body, dict) and "document" in body):
        return body, {}, {}
    maps = []
    for name in ("gtins", "parties"):
        found = body.get(name, {})
        if not isinstance(found, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in found.items()
        ):
            raise BadRequest(f'"{name}" must map strings to strings')
        maps.append(found)
    return body["document"], maps[0], maps[1]
