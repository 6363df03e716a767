"""Background scheduling jobs with progress and cancellation."""

from __future__ import annotations

import math
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from scheduler.errors import InvalidProblem, JobNotFound, SchedulerBusy
from scheduler.flat import Flat, flatten
from scheduler.models import Problem, Solution, SolveOptions
from scheduler.solver import Progress, solve_flat

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]


class JobView(BaseModel):
    """What a client sees of a job."""

    id: str
    status: JobStatus
    progress: float
    best_makespan: int | None
    submitted_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    result: Solution | None = None


class _Job:
    def __init__(self, flat: Flat, options: SolveOptions, owner: str | None) -> None:
        self.id = uuid.uuid4().hex
        # Who submitted it: only they (or a caller who sees every job) read or cancel it.
        self.owner = owner
        # The problem in index form, made to check it before the job was queued and solved
        # as it is. Held only until the job starts: a finished job keeps what its view shows,
        # and a problem can be tens of megabytes, times the jobs kept.
        self.flat: Flat | None = flat
        self.options = options
        self.status: JobStatus = "queued"
        self.progress = 0.0
        self.started: float | None = None  # time.monotonic() when it began to run
        self.best_makespan: int | None = None
        self.submitted_at = datetime.now(UTC)
        self.finished_at: datetime | None = None
        self.error: str | None = None
        self.result: Solution | None = None
        self.cancel = threading.Event()

    def view(self) -> JobView:
        return JobView(
            id=self.id,
            status=self.status,
            progress=round(self._progress(), 3),
            best_makespan=self.best_makespan,
            submitted_at=self.submitted_at,
            finished_at=self.finished_at,
            error=self.error,
            result=self.result,
        )

    def _progress(self) -> float:
        """The share of its time limit a job has run: the solve reports it only with a better
        plan, and one found early would hold it there while the search runs on. Below 1 until
        the job ends (a solve may end a little past its limit)."""
        if self.status != "running" or self.started is None:
            return self.progress
        ran = (time.monotonic() - self.started) / self.options.time_limit
        return min(max(self.progress, ran), 0.99)


class JobManager:
    """Run solves on a small thread pool and keep their state in memory."""

    def __init__(self, max_parallel: int = 1, keep: int = 200, max_open: int = 8) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="schedule")
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._keep = keep
        self._max_open = max_open

    def submit(self, problem: Problem, options: SolveOptions, owner: str | None = None) -> JobView:
        """Queue a problem for `owner`; bad input, or a full queue, raises before anything is
        queued."""
        flat = flatten(problem)
        cores = os.cpu_count() or 1
        if options.workers > cores:
            raise InvalidProblem(
                f"workers: {options.workers} asked, this server has {cores} cores: at most {cores}"
            )
        job = _Job(flat, options, owner)
        with self._lock:
            open_jobs = [j for j in self._jobs.values() if j.status in ("queued", "running")]
            if len(open_jobs) >= self._max_open:
                raise SchedulerBusy(
                    f"{len(open_jobs)} scheduling jobs are queued or running: wait for one, "
                    "or cancel one",
                    retry_after=_first_place_free(open_jobs),
                )
            self._jobs[job.id] = job
            self._forget_old()
        self._pool.submit(self._run, job)
        return job.view()

    def get(self, job_id: str, owner: str | None = None) -> JobView:
        """Return a job's state: of a job of `owner`'s, or of any job when `owner` is None."""
        return self._job(job_id, owner).view()

    def cancel(self, job_id: str, owner: str | None = None) -> JobView:
        """Ask a job of `owner`'s (any job: None) to stop; it keeps the best schedule found so
        far."""
        job = self._job(job_id, owner)
        job.cancel.set()
        if job.status == "queued":
            job.status = "cancelled"
            job.finished_at = datetime.now(UTC)
            # Ended: its problem goes now, not when the pool comes to it behind the jobs ahead.
            job.flat = None
        return job.view()

    def shutdown(self) -> None:
        """Cancel every job and wait for the pool to stop."""
        with self._lock:
            for job in self._jobs.values():
                job.cancel.set()
        self._pool.shutdown(wait=True)

    def _job(self, job_id: str, owner: str | None) -> _Job:
        with self._lock:
            job = self._jobs.get(job_id)
        # Another planner's job reads as no job: its id says nothing to who may not see it.
        if job is None or (owner is not None and job.owner != owner):
            raise JobNotFound(f"no scheduling job {job_id!r}")
        return job

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.finished_at is not None]
        for job in sorted(finished, key=lambda j: j.submitted_at)[: -self._keep or None]:
            if len(self._jobs) <= self._keep:
                break
            del self._jobs[job.id]

    def _run(self, job: _Job) -> None:
        flat, job.flat = job.flat, None
        if job.cancel.is_set() or flat is None:
            return
        job.started = time.monotonic()
        job.status = "running"

        def on_progress(p: Progress) -> None:
            job.progress = p.fraction
            job.best_makespan = p.makespan

        try:
            result = solve_flat(
                flat, job.options, progress=on_progress, should_stop=job.cancel.is_set
            )
        except Exception as exc:  # a failed job must report, never kill the worker thread
            job.error = f"{type(exc).__name__}: {exc}"
            job.progress = 1.0  # before the status: a poll never reads an end below 1
            job.status = "failed"
        else:
            job.result = result
            job.best_makespan = result.makespan
            job.progress = 1.0
            # The job says it was cancelled; its result, what the solve had shown by then (an
            # infeasibility proven stays `infeasible`, its explanation saying if it was cut short).
            job.status = "cancelled" if job.cancel.is_set() else "done"
        job.finished_at = datetime.now(UTC)


def _first_place_free(open_jobs: list[_Job]) -> int:
    """Seconds, rounded up, until the first running job reaches its time limit (one asked to
    stop: now), and so frees a place in the queue; a job may end sooner, having proved its
    plan best, or a little later. While none has started yet, the shortest limit of those
    waiting: one starts as soon as the pool takes it."""
    now = time.monotonic()
    left = [
        0.0 if j.cancel.is_set() else j.started + j.options.time_limit - now
        for j in open_jobs
        if j.started is not None
    ] or [j.options.time_limit for j in open_jobs]
    return max(1, math.ceil(min(left)))


_default: JobManager | None = None


def default_manager() -> JobManager:
    """Return the process-wide job manager."""
    global _default
    if _default is None:
        _default = JobManager()
    return _default


def shutdown_default() -> None:
    """Cancel the process-wide manager's jobs and wait for them, if it was ever made: a server
    that stops ends its solves, rather than stay alive until their time limits."""
    global _default
    stopping, _default = _default, None  # a server started after this gets a new manager
    if stopping is not None:
        stopping.shutdown()
