"""REST endpoints for GS1 identifiers: resolve a scanned code, the part registry, UDIs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AccessDep
from graph.trace import node_dict
from graph.udi import resolved_dict, udi_dict

router = APIRouter(prefix="/api/v1", tags=["identifiers"])

Code = Annotated[str, Query(min_length=1, max_length=2000, description="the scanned code")]


@router.get("/identifiers/resolve")
def resolve(code: Code, access: AccessDep) -> dict[str, Any]:
    """Resolve a GS1 Digital Link, element string or GTIN to our part, lot and serial."""
    return resolved_dict(access.resolve_identifier(code))


@router.get("/parts")
def parts(access: AccessDep) -> list[dict[str, Any]]:
    """List the part registry with GTINs (plant roles)."""
    return [node_dict(part) for part in access.parts()]


@router.get("/udi/{node_id:path}")
def udi(node_id: str, access: AccessDep) -> dict[str, Any]:
    """Return the UDI of a lot or serial (`udi` is null when its part has no GTIN)."""
    found = access.udi(node_id)
    return {"id": node_id, "udi": None if found is None else udi_dict(found)}
