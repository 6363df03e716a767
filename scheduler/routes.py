"""REST endpoints for background scheduling jobs (mounted at /api/v1/schedules).

Scheduler errors carry their status and code; the app renders them (api.errors).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel

from scheduler.jobs import JobManager, JobView, default_manager
from scheduler.models import Problem, SolveOptions

router = APIRouter(tags=["schedules"])

Manager = Annotated[JobManager, Depends(default_manager)]


class ScheduleRequest(BaseModel):
    """A problem to schedule and how long to search."""

    problem: Problem
    options: SolveOptions = SolveOptions()


@router.post("", status_code=status.HTTP_202_ACCEPTED)
def submit(request: ScheduleRequest, manager: Manager) -> JobView:
    """Queue a scheduling job."""
    return manager.submit(request.problem, request.options)


@router.get("/{job_id}")
def get_job(job_id: str, manager: Manager) -> JobView:
    """Return a job's status, progress, best makespan so far and result when done."""
    return manager.get(job_id)


@router.delete("/{job_id}")
def delete_job(job_id: str, manager: Manager) -> JobView:
    """Cancel a job."""
    return cancel_job(job_id, manager)


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, manager: Manager) -> JobView:
    """Cancel a job; the best schedule found so far is kept."""
    return manager.cancel(job_id)
