"""The GraphQL endpoint: strawberry's FastAPI router, reading request bodies as we read others."""

from __future__ import annotations

import json
from typing import Any

from fastapi.routing import APIWebSocketRoute
from strawberry.fastapi import GraphQLRouter

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
        try:
            found = strict_loads(data)
        except JsonRefused as error:  # strawberry answers a JSONDecodeError with a 400
            raise json.JSONDecodeError(error.message, "", 0) from None
        if not isinstance(found, dict | list):  # "x" or 5 is no request (a list is a batch)
            raise json.JSONDecodeError("a GraphQL request is a JSON object", "", 0)
        return found
