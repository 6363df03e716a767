"""JSON request bodies read as strictly as events are (ingest.json_text), on every route.

FastAPI reads a body parameter with the standard library, which takes the last of a key given
twice and reads NaN: an account, a lot scheme or a partner would mean one thing to a gateway
that checked the body and another to us. Every router is made with `StrictJsonRoute`, whose
requests read JSON with `strict_loads`; a body it refuses is answered as FastAPI answers a body
of the wrong shape (422 `invalid_request`, the problem's code being the refusal's, such as
`duplicate_key`), before the endpoint runs. Routes that read their body themselves (events,
EPCIS, schedules) read it so already.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from ingest.json_text import JsonRefused, strict_loads


class StrictJsonRoute(APIRoute):
    """A route whose JSON body, if it has one, is read by `strict_loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:  # FastAPI reads no body here: nothing to read otherwise
            return handler

        async def strict(request: Request) -> Response:
            return await handler(_StrictJsonRequest(request.scope, request.receive))

        return strict


class BodyRefused(HTTPException):
    """A JSON body `strict_loads` refuses; api.errors answers it as a body of the wrong shape.

    An HTTPException, as FastAPI passes those on as they are: any other error in reading a
    body it answers with a 400 that does not say why.
    """

    def __init__(self, error: JsonRefused) -> None:
        super().__init__(422, error.message)
        # As pydantic names a problem (api.errors renders a RequestValidationError's list).
        self.problem = {"type": error.code, "loc": ("body",), "msg": error.message, "input": None}


class _StrictJsonRequest(Request):
    _strict_json: Any

    async def json(self) -> Any:
        if not hasattr(self, "_strict_json"):
            try:
                self._strict_json = strict_loads(await self.body())
            except JsonRefused as error:
                raise BodyRefused(error) from None
        return self._strict_json
