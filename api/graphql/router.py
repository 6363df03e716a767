"""The GraphQL endpoint: strawberry's FastAPI router, reading request bodies as we read others."""

from __future__ import annotations

from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from fastapi.routing import APIWebSocketRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.types import QueryParams
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.unset import UNSET

from api.strict_json import repeated_names
from graph.errors import DomainError
from ingest.json_text import JsonRefused, strict_loads

# Where the endpoint is served. Every path under it is GraphQL's to the middleware (its
# credentials checked first, its bodies as large as GraphQL's), "/graphql/" among them.
PATH = "/graphql"
# What a GraphQL GET reads of its query string: any other name is not read.
GET_PARAMETERS = frozenset({"query", "variables", "operationName", "extensions"})


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

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        # Strawberry answers what is no GraphQL request (no query, a batch, a body that is not
        # JSON) in plain text; it is refused here in the API's shape, its code saying why.
        try:
            return await super().run(request, context, root_value)
        except HTTPException as refused:
            raise NoRequest.of(refused) from None

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

    def parse_query_params(self, params: QueryParams) -> dict[str, Any]:
        # Starlette's parameters, of which a Mapping shows each name once: the last given. One
        # of GraphQL's given twice is refused (api.strict_json); another name is not read.
        given = params.multi_items() if isinstance(params, ImmutableMultiDict) else params.items()
        if repeated := repeated_names([item for item in given if item[0] in GET_PARAMETERS]):
            message = f"the query parameter `{repeated[0]}` is given more than once: send it once"
            raise NoRequest(400, "duplicate_parameter", message)
        # Strawberry reads a GET's `variables` and `extensions` with `parse_json`, whose refusal
        # speaks of a whole request: each is read here, named. An empty one is as none sent;
        # strawberry then refuses one that is no object, by its name, as it does in a body.
        found: dict[str, Any] = dict(params)
        for name in ("variables", "extensions"):
            if name in found:
                text = found[name]
                found[name] = _parameter(name, text) if text else None
        return found

    def decode_json(self, data: str | bytes) -> object:
        # Strawberry answers a JSONDecodeError in plain text with a fixed message; a domain error
        # reaches the API's handlers, which say why in the one shape.
        try:
            found = strict_loads(data)
        except JsonRefused as error:
            raise NoRequest(400, error.code, error.message) from None
        if not isinstance(found, dict | list):  # "x" or 5 is no request (a list is a batch)
            raise NoRequest(400, "not_a_request", "a GraphQL request is a JSON object")
        return found


def _parameter(name: str, text: str) -> object:
    """Return the JSON a GET's parameter `name` holds, read as a body is."""
    try:
        return strict_loads(text)
    except JsonRefused as error:
        raise NoRequest(400, error.code, f"`{name}`: {error.message}") from None


NO_QUERY = "no GraphQL query: send it as `query`, in the JSON body of a POST or the URL of a GET"
# Strawberry's refusals by their fixed reason: our status, code and message.
REFUSALS = {
    # A GET without a query that would take a page (a browser's, curl's): strawberry would show
    # its IDE there; ours is a page of its own, /graphiql.
    "Not Found": (404, "no_query", NO_QUERY),
    "No GraphQL query found in the request": (400, "no_query", NO_QUERY),
    "Batching is not enabled": (400, "batch_not_taken", "send one GraphQL request at a time"),
    "Unsupported content type": (
        415,
        "unsupported_media_type",
        "a GraphQL request is POSTed as application/json",
    ),
}

CAUSES: dict[type[object], str] = {
    InvalidOperationTypeError: "operation_not_allowed",
    CannotGetOperationTypeError: "unknown_operation",
}


class NoRequest(DomainError):
    """What strawberry refuses before a query runs, and a body we do not read (its code says
    why: ingest.json_text), in the API's shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status
        self.code = code

    @classmethod
    def of(cls, refused: HTTPException) -> NoRequest:
        if refused.reason in REFUSALS:
            return cls(*REFUSALS[refused.reason])
        # The rest say what was wrong in their reason: a mutation in a GET, an operation the
        # document does not hold, a `query` that is not text, and the like.
        code = CAUSES.get(type(refused.__cause__), "not_a_request")
        return cls(refused.status_code, code, refused.reason)
