"""REST endpoints of federation: the partner registry (admins), the endpoint partners call,
and federated traces."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, Field

import api.access
from api.admin_routes import AdminDep
from api.auth.models import Partner
from api.deps import AccessDep, ServicesDep
from api.federation.service import MAX_HOPS, MAX_URL, ListLimit, checked_visited
from api.strict_json import StrictJsonRoute
from ingest.times import TimeText

router = APIRouter(prefix="/api/v1", route_class=StrictJsonRoute)


class PartnerIn(BaseModel):
    company: str = Field(max_length=200)
    base_url: str = Field(max_length=MAX_URL)
    api_key: str = Field(max_length=500, description="the key this instance holds there")
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    cache_ttl_s: int = Field(default=300, ge=0, le=7 * 24 * 3600)


def partner_dict(partner: Partner) -> dict[str, Any]:
    """Show a partner with its key masked: the key is never given back."""
    shown = asdict(partner)
    shown["api_key"] = partner.masked_key
    return shown


@router.get("/admin/partners", tags=["federation"])
def list_partners(_: AdminDep, svc: ServicesDep) -> list[dict[str, Any]]:
    """List partner instances (keys masked)."""
    return [partner_dict(p) for p in svc.federation.partners()]


@router.put("/admin/partners", tags=["federation"])
def put_partner(body: PartnerIn, who: AdminDep, svc: ServicesDep) -> dict[str, Any]:
    """Register a partner instance of a registered company, or change it."""
    partner = svc.federation.acting_for(who.username).put_partner(
        body.company,
        body.base_url,
        body.api_key,
        timeout_s=body.timeout_s,
        cache_ttl_s=body.cache_ttl_s,
    )
    return partner_dict(partner)


@router.delete("/admin/partners/{company}", tags=["federation"])
def remove_partner(company: str, who: AdminDep, svc: ServicesDep) -> dict[str, str]:
    """Forget a partner instance and its cached answers."""
    svc.federation.acting_for(who.username).remove_partner(company)
    return {"company": company, "status": "removed"}


@router.get(
    "/federation/trace",
    tags=["federation"],
    responses={
        403: {"description": "the caller's company policy does not share this"},
        404: {"description": "nothing with this code was shipped to the caller's company"},
        409: {"description": "the request has been through this instance already (a loop)"},
        422: {
            "description": "invalid parameters, or an answer over what an instance reads of one"
            " (`answer_too_large`)"
        },
    },
)
def partner_trace(
    access: AccessDep,
    svc: ServicesDep,
    code: Annotated[str, Query(min_length=1, max_length=200)],
    direction: Literal["up", "down"] = "up",
    hops: Annotated[int, Header(alias="X-Tracegraph-Hops", ge=0, le=MAX_HOPS)] = 0,
    visited: Annotated[str | None, Header(alias="X-Tracegraph-Visited", max_length=2000)] = None,
    max_depth: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """For a partner instance: trace from what we shipped its company with code `code`
    (down to `max_depth` levels below it)."""
    answer = svc.federation.answer(
        access, code, direction, hops, checked_visited(visited), max_depth
    )
    return Response(answer, media_type="application/json")


@router.get(
    "/federated-trace",
    tags=["federation"],
    responses={
        400: {
            "description": "the answer would list too much, as a trace's would (counted once "
            "the trace here is walked, a stub and its link for each partner question among "
            "them): ask a shorter one (max_depth), or the GraphQL federatedTrace for fewer "
            "lists (asking no partner, page through it with the GraphQL trace)"
        }
    },
)
def federated_trace(
    access: AccessDep,
    svc: ServicesDep,
    id: Annotated[str, Query(description="global id of the start node", max_length=1000)],
    direction: Literal["up", "down"] = "up",
    max_depth: Annotated[int | None, Query(ge=0)] = None,
    # Read as the event contract reads times, as /api/v1/trace does: a number is not a Unix time.
    as_of: TimeText | None = None,
) -> dict[str, Any]:
    """Trace here and on into partner instances; every node says which company holds it.
    400 when ours would list more nodes and edges than a trace may: a partner's answer that
    would is a stub."""
    limit = ListLimit(api.access.MAX_TRACE_LISTED)
    found = svc.federation.trace(
        access, id, direction, max_depth=max_depth, as_of=as_of, max_listed=limit
    )
    return found.to_dict()
