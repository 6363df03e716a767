"""Recall cases over REST: exports (CSV, JSON, EPCIS, HTML), supplier answers, documents."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from api.deps import AccessDep
from api.strict_json import StrictJsonRoute
from api.supplier_portal import Upload
from graph import epcis
from graph.documents import MAX_DOCUMENT_BYTES, MEDIA_TYPES
from graph.errors import BadRequest
from graph.recall import scope_csv
from ingest.errors import BatchRejected
from ingest.json_text import JsonRefused, strict_loads

router = APIRouter(prefix="/api/v1/recalls", tags=["recall"], route_class=StrictJsonRoute)
# Case ids are path segments, percent-encoded; `path` still serves a case opened before ids
# holding "/" were refused (its %2F arrives decoded). The last segments say which route it is.


@router.get("/{case_id:path}/export")
def export(
    case_id: str, access: AccessDep, format: Literal["csv", "json", "epcis", "html"] = "csv"
) -> Response:
    """Export a case (analysts): CSV rows per item, JSON, EPCIS events, or an HTML report.

    The case is named by its id (case:RC-1) or its key (RC-1), the id reading first."""
    recalls = access.recalls()
    case_id = recalls.case_key(case_id)
    if format == "csv":
        headers = {"Content-Disposition": _attachment(f"{case_id}-scope.csv")}
        return PlainTextResponse(
            scope_csv(recalls.scope(case_id)), media_type="text/csv", headers=headers
        )
    if format == "epcis":
        return Response(epcis.dumps(recalls.epcis(case_id)), media_type="application/ld+json")
    suppliers = access.supplier_portal().requests(case_id)
    if format == "html":
        return HTMLResponse(recalls.report_html(case_id, suppliers))
    return JSONResponse(recalls.export_json(case_id, suppliers))


@router.get("/{case_id:path}/documents/{sha256}")
def document(
    case_id: str, sha256: str, access: AccessDep, media_type: str | None = None
) -> Response:
    """Download a document attached to a case (analysts; a supplier, those they sent).

    The same bytes may be attached under more than one media type: `media_type` says which of
    the types an answer gave them it is served as.
    """
    found = access.case_document(case_id, sha256, media_type)
    name = f"{found.sha256[:16]}{MEDIA_TYPES[found.media_type][0]}"
    headers = {
        "Content-Disposition": _attachment(name),
        "X-Content-Type-Options": "nosniff",
    }
    return Response(found.content, media_type=found.media_type, headers=headers)


@router.post("/{case_id:path}/answers", status_code=201)
def answer(
    case_id: str,
    access: AccessDep,
    supplier_lot: Annotated[str, Form(description="supplier_lot:SUPPLIER/LOT, one of yours")],
    text: Annotated[str | None, Form(max_length=10_000)] = None,
    upstream: Annotated[
        str | None, Form(description="a JSON array of your upstream lots (see docs/events.md)")
    ] = None,
    answer_id: Annotated[
        str | None, Form(max_length=100, description="resending the same answer changes nothing")
    ] = None,
    # A part sent without a file name arrives as text: taken, to be refused by name.
    documents: Annotated[list[UploadFile | str] | None, File()] = None,
) -> dict[str, Any]:
    """Answer a case about one of your lots, with documents (suppliers; multipart form)."""
    uploads = [_upload(file) for file in documents or []]
    try:
        found = access.answer_supplier_request(
            case_id,
            supplier_lot,
            text=text,
            upstream=_upstream(upstream),
            uploads=uploads,
            answer_id=answer_id or None,  # a form's empty field is no key
        )
    except BatchRejected as refused:  # the supplier sent a form, not a batch of events
        raise refused.of_action() from None
    return found.as_dict()


def _attachment(filename: str) -> str:
    """Return a Content-Disposition that saves as `filename`, whatever characters it holds."""
    # RFC 6266: a plain ASCII name for old clients (no quote, backslash or ';' to break out of
    # it), and the exact name UTF-8 percent-encoded (RFC 8187) for the rest.
    plain = "".join(
        char if char.isascii() and char.isprintable() and char not in '"\\;' else "_"
        for char in filename
    )
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _upload(file: UploadFile | str) -> Upload:
    if isinstance(file, str):
        return Upload("", None, file.encode())
    # Read one byte past the limit: enough to refuse an oversized file without holding it all.
    content = file.file.read(MAX_DOCUMENT_BYTES + 1)
    return Upload(file.filename or "", file.content_type, content)


def _upstream(text: str | None) -> list[dict[str, Any]]:
    if not text:
        return []
    try:
        rows = strict_loads(text)
    except JsonRefused as error:
        raise BadRequest(f"upstream is not JSON we read: {error.message}") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise BadRequest("upstream is a JSON array of objects")
    return rows
