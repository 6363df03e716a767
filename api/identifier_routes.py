"""REST endpoints for identifiers: scanned GS1 codes, the part registry, UDIs, lot codes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.deps import AccessDep
from api.strict_json import StrictJsonRoute
from graph.lot_codes import (
    MAX_LOT_CODE,
    LotSchemeSpec,
    decoding_dict,
    minted_dict,
    scheme_dict,
)
from graph.trace import node_dict
from graph.udi import MAX_SCANNED_CODE, resolved_dict, udi_answer

router = APIRouter(prefix="/api/v1", tags=["identifiers"], route_class=StrictJsonRoute)

Code = Annotated[
    str, Query(min_length=1, max_length=MAX_SCANNED_CODE, description="the scanned code")
]


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
    return udi_answer(node_id, access.udi(node_id))


# -- lot code schemes


@router.get("/lots/decode")
def decode_lot(
    access: AccessDep, code: Annotated[str, Query(min_length=1, max_length=MAX_LOT_CODE)]
) -> dict[str, Any]:
    """Decode a lot code with every registered scheme: parts, partner, candidate lots."""
    return decoding_dict(access.decode_lot(code))


class MintRequest(BaseModel):
    """What to mint: the scheme, the partner whose link code goes in, other field values."""

    model_config = ConfigDict(extra="forbid")

    scheme: str
    partner: str
    values: dict[str, str] = {}


@router.post("/lots/mint", status_code=201)
def mint_lot(body: MintRequest, access: AccessDep) -> dict[str, Any]:
    """Mint our next lot code with the partner's link code embedded (admins, operators)."""
    return minted_dict(access.mint_lot(body.scheme, body.partner, dict(body.values)))


@router.get("/lot-schemes")
def lot_schemes(access: AccessDep) -> list[dict[str, Any]]:
    """List the registered lot code schemes."""
    return [scheme_dict(s) for s in access.lot_schemes()]


@router.post("/lot-schemes", status_code=201)
def define_lot_scheme(body: LotSchemeSpec, access: AccessDep) -> dict[str, Any]:
    """Register a company's lot code scheme and link code (admins)."""
    return scheme_dict(access.define_lot_scheme(body))
