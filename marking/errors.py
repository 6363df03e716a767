"""Domain errors of secondary marking; each carries its HTTP status."""

from __future__ import annotations

from graph.errors import BadRequest, Conflict, DomainError, NotFound


class UnknownScheme(NotFound):
    code = "unknown_scheme"


class NoScheme(BadRequest):
    """The target's part belongs to no family with a code scheme."""

    code = "no_scheme"


class SchemeExhausted(Conflict):
    """Every code of the scheme is issued: running out is an error, never a wrap."""

    code = "scheme_exhausted"


class SchemeConflict(Conflict):
    """A scheme's code-defining settings are fixed once saved, and a family has one scheme."""

    code = "scheme_conflict"


class IssueContention(DomainError):
    """Too many concurrent issuers took the codes this request tried; it may be retried."""

    status_code = 503
    code = "issue_contention"
