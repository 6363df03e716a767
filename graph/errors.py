"""Domain errors: each carries the HTTP status it maps to; one handler renders them all."""

from __future__ import annotations

import unicodedata
from typing import Any


def character_name(char: str) -> str:
    """Say which character it is, in words a log line or an error body can carry (a refused
    character may be one a reader cannot see)."""
    return f"U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')})"


class DomainError(Exception):
    """Base of every expected failure; `code` is stable, `message` is for people."""

    status_code = 400
    code = "bad_request"
    # Seconds after which the same request may get past this refusal (REST: Retry-After); None
    # where asking again as it is does not help, or no one can say when it would.
    retry_after: int | None = None
    # The account a refused login or password change was to, as stored, where one was found:
    # the request log names it rather than what was typed (another case of it, or anything).
    account: str | None = None

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            body["errors"] = self.details
        return body


# How many problems an invalid request's message names; its details list them all.
NAMED = 5


class InvalidRequest(DomainError):
    """The request is not what the endpoint or command takes (parameters, body shape)."""

    status_code = 422
    code = "invalid_request"

    @classmethod
    def of(cls, problems: list[dict[str, Any]]) -> InvalidRequest:
        """Refuse `problems` (each `field`, `code`, `message`), naming the first few."""
        named = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:NAMED])
        more = f" (and {len(problems) - NAMED} more)" if len(problems) > NAMED else ""
        return cls(f"invalid request: {named}{more}", details=problems)


def text_within(value: str, field: str, most: int) -> str:
    """Return `value`, or raise InvalidRequest naming `field` where it is empty or longer than
    `most` characters: said as REST says it of a query parameter (pydantic's words), so every
    way in refuses the same text alike."""
    if not value:
        problem = ("string_too_short", "String should have at least 1 character")
    elif len(value) > most:
        problem = ("string_too_long", f"String should have at most {most} characters")
    else:
        return value
    code, message = problem
    raise InvalidRequest.of([{"field": field, "code": code, "message": message}])


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class BadRequest(DomainError):
    status_code = 400
    code = "bad_request"


class StoreUnavailable(DomainError):
    status_code = 503
    code = "store_unavailable"


class StoreBusy(DomainError):
    """Another write has held the store's write lock past the busy timeout (a rebuild, say), the
    store ended a write before it was done, or failed one for now (Neo4j's transient errors: a
    cluster member behind, a deadlock): nothing was written, and it may be sent again (but for
    a Neo4j write failed as it may have committed, which says so). Its subclasses are reads the
    store ended, which asking again as they are may not help."""

    status_code = 503
    code = "store_busy"
    retry_after: int | None = 5


class StoreTimeLimit(StoreBusy):
    """The store ended a read at its time limit on a transaction (Neo4j's
    `db.transaction.timeout`): the same read meets it again; a smaller one may not."""

    code = "store_time_limit"
    retry_after = None


class ReadTerminated(StoreBusy):
    """Someone ended a read on the store's server as it ran (Neo4j's `TERMINATE TRANSACTIONS`,
    by its administrator or another process): when to ask again, if at all, is theirs to say."""

    code = "read_terminated"
    retry_after = None


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Unauthenticated(DomainError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
