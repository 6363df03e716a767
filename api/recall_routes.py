"""Recall exports over REST: CSV, JSON, EPCIS 2.0 JSON-LD and a printable HTML report."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from api.deps import AccessDep
from graph.recall import scope_csv

router = APIRouter(prefix="/api/v1/recalls", tags=["recall"])


@router.get("/{case_id}/export")
def export(
    case_id: str, access: AccessDep, format: Literal["csv", "json", "epcis", "html"] = "csv"
) -> Response:
    """Export a case (analysts): CSV rows per item, JSON, EPCIS events, or an HTML report."""
    recalls = access.recalls()
    if format == "csv":
        headers = {"Content-Disposition": f'attachment; filename="{case_id}-scope.csv"'}
        return PlainTextResponse(
            scope_csv(recalls.scope(case_id)), media_type="text/csv", headers=headers
        )
    if format == "epcis":
        return JSONResponse(recalls.epcis(case_id), media_type="application/ld+json")
    if format == "html":
        return HTMLResponse(recalls.report_html(case_id))
    return JSONResponse(recalls.export_json(case_id))
