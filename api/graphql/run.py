"""Run blocking service work from a resolver, mapping domain errors the GraphQL way.

A query reads "not found" as null; a mutation answers it as an error that says what was not
found.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

from graphql import GraphQLError
from pydantic import ValidationError

from api.validation_text import problem_text
from graph.errors import DomainError, NotFound
from ingest.errors import BatchRejected

T = TypeVar("T")


async def run(work: Callable[[], T], pool: Executor | None = None) -> T | None:
    """Run a query's `work` off the event loop (on `pool` if given, else the loop's default
    threads); not found is None, other refusals are GraphQL errors."""
    try:
        return await _settled(work, pool)
    except NotFound:
        return None


async def mutate(work: Callable[[], T], pool: Executor | None = None) -> T:
    """Run a mutation's `work` as `run` does, but answer not found as an error too (code
    NOT_FOUND, naming what was not found): a null alone would not say why nothing was done.

    Out of scope stays indistinguishable from missing: the services refuse both in one message.
    """
    try:
        return await _settled(work, pool)
    except NotFound as error:
        raise as_graphql_error(error) from error


async def _settled(work: Callable[[], T], pool: Executor | None) -> T:
    """Run `work` off the loop; refusals other than not found become GraphQL errors."""
    try:
        if pool is not None:
            return await asyncio.get_running_loop().run_in_executor(pool, work)
        return await asyncio.to_thread(work)
    except NotFound:
        raise
    except DomainError as error:
        raise as_graphql_error(error) from error
    except UnicodeEncodeError as error:  # "\ud800" alone decodes from JSON; no store keeps it
        message = "a string holds half a UTF-16 surrogate pair (an escape like \\ud800 alone)"
        raise GraphQLError(message, extensions={"code": "BAD_REQUEST", "status": 400}) from error
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        raise GraphQLError(
            problem_text(first), extensions={"code": "BAD_REQUEST", "status": 400}
        ) from error


def as_graphql_error(error: DomainError) -> GraphQLError:
    """Render a domain error as REST does (api.errors): its code and HTTP status in the
    extensions, and `errors`, the problems REST lists, where there are any (an event's refusal
    says why in its own code there, such as `case_closed`)."""
    extensions: dict[str, object] = {"code": error.code.upper(), "status": error.status_code}
    if error.details:
        extensions["errors"] = error.details
    return GraphQLError(refusal_message(error), extensions=extensions)


def refusal_message(error: DomainError) -> str:
    """Say what a mutation was refused for. Events refused here are those an action made
    (the `ingest` mutation answers its caller's batch itself): their refusal is said as what
    was wrong, not as a batch the caller never sent ("event 0")."""
    return error.what_was_wrong if isinstance(error, BatchRejected) else error.message
