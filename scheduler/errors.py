"""Domain errors of the scheduler; each carries the HTTP status it maps to."""

from __future__ import annotations


class SchedulerError(Exception):
    """Base class of scheduler errors."""

    status_code: int = 400
    code: str = "bad_request"  # stable, for clients to branch on
    # Seconds after which the same request may get past this refusal (REST: Retry-After).
    retry_after: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidProblem(SchedulerError):
    """The problem data is malformed or inconsistent."""

    status_code = 422
    code = "invalid_problem"


class InstanceFormatError(InvalidProblem):
    """A benchmark instance file cannot be parsed."""


class SchedulerBusy(SchedulerError):
    """Too many jobs wait or run: a new one would wait behind hours of search."""

    status_code = 429
    code = "scheduler_busy"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JobNotFound(SchedulerError):
    """No background scheduling job has the given id."""

    status_code = 404
    code = "not_found"
