"""The GraphQL endpoint: strawberry's FastAPI router, reading request bodies as we read others."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIWebSocketRoute
from strawberry.fastapi import GraphQLRouter

from graph.errors import BadRequest
from ingest.json_text import JsonRefused, strict_loads


class Router(GraphQLRouter[Any, None]):
    """GraphQL over HTTP only, bodies read strictly (ingest.json_text): what we do not read is a
    bad request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["subscription_protocols"] = ()
        super().__init__(*args, **kwargs)
        # The schema has no subscriptions, and GraphQL over WebSocket would also run queries
        # and mutations past the per-request login, audit log and cost limits: no such route.
        self.routes = [r for r in self.routes if not isinstance(r, APIWebSocketRoute)]

    def decode_json(self, data: str | bytes) -> object:
        # Strawberry answers a JSONDecodeError in plain text with a fixed message; a domain error
        # reaches the API's handlers, which say why in the one shape.
        try:
            found = strict_loads(data)
        except JsonRefused as error:
            raise UnreadableBody(error.code, error.message) from None
        if not isinstance(found, dict | list):  # "x" or 5 is no request (a list is a batch)
            raise UnreadableBody("not_a_request", "a GraphQL request is a JSON object")
        return found


class UnreadableBody(BadRequest):
    """A GraphQL request body we do not read; `code` says why (ingest.json_text)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
