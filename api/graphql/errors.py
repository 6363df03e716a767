"""Errors a GraphQL answer may carry: what the service refuses, never what broke inside it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types import ExecutionContext

from api.graphql.run import as_graphql_error
from graph.errors import DomainError
from graph.sqlite_schema import file_fault, logged_fault

log = logging.getLogger("tracegraph.graphql")


def unexpected(error: GraphQLError) -> bool:
    """An exception that is no answer of the service's (domain errors say what was refused)."""
    raised = error.original_error
    return raised is not None and not isinstance(raised, GraphQLError | DomainError)


class Schema(strawberry.Schema):
    """Log what broke inside the service, once, with its traceback.

    strawberry logs every error at ERROR with a traceback, refusals included: a wrong id or a
    denied field would read as a failure of the service. Refusals are answers; the audit line
    records how each operation ended.
    """

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if unexpected(error) and logged_fault(error.original_error) is None:
                log.error(
                    "GraphQL resolver failed: %r",
                    error.original_error,
                    exc_info=error.original_error,
                )


class HideInternals(MaskErrors):
    """Answer an unexpected exception as an internal error (`Schema` has logged it).

    Its text may name a query, a host or a file, which are no caller's business.
    """

    def __init__(self) -> None:
        super().__init__(should_mask_error=unexpected, error_message="internal error")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if (fault := file_fault(error.original_error)) is not None:  # as over REST
            said = as_graphql_error(fault)
            return GraphQLError(
                said.message, error.nodes, path=error.path, extensions=said.extensions
            )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL", "status": 500}
        return masked


# What a request GraphQL itself refuses is said as: as REST says a request FastAPI refuses before
# our code runs (api.errors), a parameter or body of the wrong shape.
REFUSED_REQUEST: dict[str, Any] = {"code": "INVALID_REQUEST", "status": 422}


class CodeRefusals(SchemaExtension):
    """Give every refusal a code a client can branch on.

    graphql-core says a query that does not parse or validate, a variable or argument value a
    type refuses (a Date not YYYY-MM-DD, an id that is no text) and one over our limits (depth,
    aliases, analyses, what it lists) with a message alone; the service's refusals carry their
    own codes (api.graphql.run), one a resolver raised as is among them, and what broke inside
    is INTERNAL (HideInternals).
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in (getattr(result, "errors", None) or []) if result is not None else []:
            if unexpected(error) or "code" in (error.extensions or {}):
                continue
            said = REFUSED_REQUEST
            if isinstance(raised := error.original_error, DomainError):  # not through `run`
                said = as_graphql_error(raised).extensions or {}
            error.extensions = {**said, **(error.extensions or {})}


DENIED = frozenset({"FORBIDDEN", "UNAUTHENTICATED"})


class AuditOutcome(SchemaExtension):
    """Tell the audit log how an operation ended: GraphQL answers 200 with its refusals inside.

    Listed before the extensions that give errors their codes (api.graphql.schema), so that
    it reads them after.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = (getattr(result, "errors", None) or []) if result is not None else []
        request = getattr(self.execution_context.context, "request", None)
        if request is None or not errors:
            return
        codes = {str((e.extensions or {}).get("code", "")) for e in errors}
        request.state.graphql_outcome = "denied" if codes & DENIED else "error"
