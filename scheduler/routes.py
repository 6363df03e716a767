"""REST endpoints for background scheduling jobs (mounted at /api/v1/schedules).

Scheduler errors carry their status and code; the app renders them (api.errors).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool

from api.strict_json import BodyRefused, StrictJsonRoute
from ingest.json_text import JsonRefused, strict_loads
from scheduler.jobs import JobManager, JobView, default_manager
from scheduler.models import Problem, SolveOptions, said

# As every router of the API (api.strict_json). The route class reads only a body parameter's
# JSON: `submit` takes none and reads its body once, itself.
router = APIRouter(tags=["schedules"], route_class=StrictJsonRoute)

Manager = Annotated[JobManager, Depends(default_manager)]


_UNSAID = object()


def job_owner(request: Request) -> str | None:
    """Whose jobs the caller submits, reads and cancels: the name the app that mounts this
    router put in `request.state.job_owner` (api.deps.planner), or every job's when it put
    None there (an admin, or an app of no accounts). The scheduler knows no accounts of its
    own; a request the app said nothing of fails (a 500) rather than reach every job."""
    owner = getattr(request.state, "job_owner", _UNSAID)
    if owner is _UNSAID:
        raise RuntimeError("the app that mounts the scheduler's routes says no job owner")
    assert owner is None or isinstance(owner, str)
    return owner


Owner = Annotated[str | None, Depends(job_owner)]


class ScheduleRequest(BaseModel):
    """A problem to schedule and how long to search."""

    # As every scheduler model: a misspelt key is refused, not run with the defaults.
    model_config = ConfigDict(extra="forbid")

    problem: Problem
    options: SolveOptions = SolveOptions()


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with each definition written where it is used: in an OpenAPI document,
    `#/$defs/...` is read from the document's root, where there is none (no model here refers
    back to itself, so this ends)."""
    defs = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        found = {key: inline(value) for key, value in node.items() if key not in ("$defs", "$ref")}
        if "$ref" in node:
            return inline(defs[node["$ref"].removeprefix("#/$defs/")]) | found
        return found

    inlined: dict[str, Any] = inline(schema)
    return inlined


SCHEDULE_BODY: dict[str, Any] = {
    "content": {"application/json": {"schema": _inlined(ScheduleRequest.model_json_schema())}},
    "required": True,
}


@router.post("", status_code=status.HTTP_202_ACCEPTED, openapi_extra={"requestBody": SCHEDULE_BODY})
async def submit(request: Request, manager: Manager, owner: Owner) -> JobView:
    """Queue a scheduling job."""
    # Read here, not as a parameter: FastAPI parses a body parameter on the event loop, before
    # the router's dependencies (who may schedule) run. So a caller who may not schedule is
    # refused before the body is read, and a planner's is parsed and checked off the loop.
    body = await request.body()
    return await run_in_threadpool(_submit, body, manager, owner)


def _submit(body: bytes, manager: JobManager, owner: str | None) -> JobView:
    job = _schedule_request(body)
    return manager.submit(job.problem, job.options, owner)


def _schedule_request(body: bytes) -> ScheduleRequest:
    """Read a body as FastAPI reads a body parameter, refused in the same words."""
    if not body:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        # As every body is read: a key given twice, or a number a float cannot hold as written,
        # is refused, not read as its last value or rounded.
        found = strict_loads(body)
    except JsonRefused as error:
        raise BodyRefused.of(error) from None
    try:
        return ScheduleRequest.model_validate(found, from_attributes=True)
    except ValidationError as error:
        problems = [
            said(problem) | {"loc": ("body", *problem["loc"])} for problem in error.errors()
        ]
        raise RequestValidationError(problems) from None


@router.get("/{job_id}")
def get_job(job_id: str, manager: Manager, owner: Owner) -> JobView:
    """Return a job's status, progress, best makespan so far and result when done."""
    return manager.get(job_id, owner)


@router.delete("/{job_id}")
def delete_job(job_id: str, manager: Manager, owner: Owner) -> JobView:
    """Cancel a job."""
    return cancel_job(job_id, manager, owner)


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, manager: Manager, owner: Owner) -> JobView:
    """Cancel a job; the best schedule found so far is kept."""
    return manager.cancel(job_id, owner)
