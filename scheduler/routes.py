"""REST endpoints for background scheduling jobs (mounted at /api/v1/schedules)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel

from scheduler.errors import SchedulerError
from scheduler.jobs import JobManager, JobView, default_manager
from scheduler.models import Problem, SolveOptions

router = APIRouter(tags=["schedules"])

Manager = Annotated[JobManager, Depends(default_manager)]


class ScheduleRequest(BaseModel):
    """A problem to schedule and how long to search."""

    problem: Problem
    options: SolveOptions = SolveOptions()


def _http(exc: SchedulerError) -> HTTPException:
    return HTTPException(status_code=exc.status_code, detail=exc.message)


@router.post("", status_code=status.HTTP_202_ACCEPTED)
def submit(request: ScheduleRequest, manager: Manager) -> JobView:
    """Queue a scheduling job."""
    try:
        return manager.submit(request.problem, request.options)
    except SchedulerError as exc:
        raise _http(exc) from exc


@router.get("/{job_id}")
def get_job(job_id: str, manager: Manager) -> JobView:
    """Return a job's status, progress, best makespan so far and result when done."""
    try:
        return manager.get(job_id)
    except SchedulerError as exc:
        raise _http(exc) from exc


@router.delete("/{job_id}")
def delete_job(job_id: str, manager: Manager) -> JobView:
    """Cancel a job."""
    return cancel_job(job_id, manager)


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, manager: Manager) -> JobView:
    """Cancel a job; the best schedule found so far is kept."""
    try:
        return manager.cancel(job_id)
    except SchedulerError as exc:
        raise _http(exc) from exc
