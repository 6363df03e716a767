"""The GraphQL endpoint: strawberry's FastAPI router, reading request bodies as we read others."""

from __future__ import annotations

from typing import Any

from cross_web import AsyncHTTPRequestAdapter, StarletteRequestAdapter
from fastapi.routing import APIWebSocketRoute
from starlette.concurrency import run_in_threadpool
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type

from graph.errors import BadRequest
from ingest.json_text import JsonRefused, strict_loads

# Where the endpoint is served. Every path under it is GraphQL's to the middleware (its
# credentials checked first, its bodies as large as GraphQL's), "/graphql/" among them.
PATH = "/graphql"


class _DecodedBody(bytes):
    """A request body decoded already: `parse_json` gives back `value`, not decoding again."""

    value: object

    @classmethod
    def of(cls, value: object) -> _DecodedBody:
        body = cls()
        body.value = value
        return body


class _Request(StarletteRequestAdapter):
    """A request as strawberry reads it, whose body may have been decoded ahead."""

    decoded: _DecodedBody | None = None

    async def get_body(self) -> bytes:
        return self.decoded if self.decoded is not None else await super().get_body()


class Router(GraphQLRouter[Any, None]):
    """GraphQL over HTTP only, bodies read strictly (ingest.json_text): what we do not read is a
    bad request."""

    request_adapter_class = _Request

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["subscription_protocols"] = ()
        super().__init__(*args, **kwargs)
        # The schema has no subscriptions, and GraphQL over WebSocket would also run queries
        # and mutations past the per-request login, audit log and cost limits: no such route.
        self.routes = [r for r in self.routes if not isinstance(r, APIWebSocketRoute)]

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        # Strawberry decodes a JSON body on the event loop, where a large one would hold every
        # other request for seconds: it is decoded here in a worker thread first.
        content_type, _ = parse_content_type(request.content_type or "")
        json_post = request.method == "POST" and "application/json" in content_type
        if json_post and isinstance(request, _Request):
            found = await run_in_threadpool(self.parse_json, await request.get_body())
            request.decoded = _DecodedBody.of(found)
        return await super().parse_http_body(request)

    def parse_json(self, data: str | bytes) -> Any:
        if isinstance(data, _DecodedBody):
            return data.value
        return super().parse_json(data)

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
