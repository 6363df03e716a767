"""Recall exports over REST: CSV (one sortable row per affected item) and JSON."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from api.deps import AccessDep
from graph.recall import scope_csv

router = APIRouter(prefix="/api/v1/recalls", tags=["recall"])


def _plain(value: Any) -> Any:
    """Make dataclass dumps JSON-ready: decimals as exact text."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


@router.get("/{case_id}/export")
def export(case_id: str, access: AccessDep, format: Literal["csv", "json"] = "csv") -> Response:
    """Export a case's scope (analysts): CSV for spreadsheets, JSON with everything."""
    recalls = access.recalls()
    case = recalls.case(case_id)
    scope = recalls.scope(case_id)
    if format == "csv":
        headers = {"Content-Disposition": f'attachment; filename="{case_id}-scope.csv"'}
        return PlainTextResponse(scope_csv(scope), media_type="text/csv", headers=headers)
    reconciliation = recalls.reconciliation(case_id)
    body = {
        "case": asdict(case),
        "scope": {
            "items": [asdict(i) for i in scope.items],
            "shipments": [asdict(s) for s in scope.shipments],
        },
        "notices": [asdict(n) for n in recalls.notices(case_id)],
        "reconciliation": asdict(reconciliation)
        | {"accounted": reconciliation.accounted, "percent": round(reconciliation.percent, 2)},
        "history": recalls.history(case_id),
    }
    return JSONResponse(_plain(body))
