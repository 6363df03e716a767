"""JSON request bodies read as strictly as events are (ingest.json_text), on every route.

FastAPI reads a body parameter with the standard library, which takes the last of a key given
twice and reads NaN: an account, a lot scheme or a partner would mean one thing to a gateway
that checked the body and another to us. Every router of ours is made with `StrictJsonRoute`,
whose requests read JSON with `strict_loads`; a body it refuses is answered as FastAPI answers
a body of the wrong shape (422 `invalid_request`, the problem's code being the refusal's, such
as `duplicate_key`), before the endpoint runs. The routes that read their body themselves (no
body parameter, so the route class reads nothing there) read it with `strict_loads` too:
events (api.routes, ingest.parse), EPCIS documents (api.epcis_routes) and schedules
(scheduler.routes, refused with `BodyRefused`); a recall's files come as a form
(api.recall_routes), its `upstream` field read so. GraphQL's router is strawberry's, and reads
its bodies as strictly itself (api.graphql.router).

A query parameter of the route given twice is refused as a key given twice is (422
`invalid_request`, the problem's code `duplicate_parameter`): FastAPI reads the last, a gateway
may read the first, and `?id=lot:A&id=lot:B` answered for one would read as the answer for the
other. None of our parameters takes a list; a name the route does not read is ignored, however
often given. A form field of the route given twice (a login's `username`, a supplier answer's
`text`) is refused too (`duplicate_field`), but for one that takes a list (an answer's
documents). A number a route reads from a query parameter or header is written in digits
(NUMBERS): one written as Python also reads it (`5_0`, `+5`, ` 5`, `5.0`) is refused naming the
parameter (422 `invalid_request`, the problem's code `int_parsing`), not read as another's 50 or
5. What these checks find is refused where FastAPI refuses a parameter it cannot read, listed
with its problems: after the route's dependencies, so a role a dependency refuses (an admin's
routes, a planner's) is told so, not what a parameter takes. A route that refuses a role as it
runs (api.access) is reached after both, as with FastAPI's own checks; only a caller without
valid credentials is told nothing of a route's parameters whatever its role
(api.credentials_first). GraphQL's GET refuses its own the same way (api.graphql.router).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from contextvars import ContextVar
from types import UnionType
from typing import Any, Union, get_args, get_origin

from fastapi import Request, Response, params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from ingest.json_text import JsonRefused, strict_loads

# How a number a query parameter or header holds is written, by the type the parameter takes:
# ASCII digits, a - before them for a negative one, which every reader of decimal numbers reads
# alike (`05` as 5, `-0` as 0). Python and pydantic also read `5_0` as 50, and `+5`, ` 5` and
# `5.0` as 5, where a gateway or cache that stops at the first character that is no digit reads
# `5_0` as 5, and another refuses them: each would see another request than ours. Our routes
# read integers alone; another kind of number would be listed here (the tests send every number
# a GET reads, found by its OpenAPI, written otherwise, and see it refused).
_INTEGER = re.compile(r"-?[0-9]+")
_INTEGER_TEXT = (
    "Input should be a valid integer: the digits 0-9 alone, a - before them for a negative "
    "one (no +, space, _ or point)"
)
# Each as pydantic names the problem of a number it cannot read.
NUMBERS: dict[type, tuple[re.Pattern[str], str, str]] = {
    int: (_INTEGER, "int_parsing", _INTEGER_TEXT),
}


class StrictJsonRoute(APIRoute):
    """A route whose JSON body, if it has one, is read by `strict_loads`, whose query
    parameters are each given once, and whose numbers are written in digits."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _after_dependencies(endpoint), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        reads_body = self.body_field is not None  # else FastAPI reads no body here
        own = _query_names(self.dependant)
        numbers = _numbers_read(self.dependant)
        once = _single_form_fields(self.dependant)

        async def strict(request: Request) -> Response:
            # Found now, refused where FastAPI refuses a parameter: once the dependencies ran.
            problems = _parameter_problems(request, own, numbers)
            if reads_body:
                request = _StrictRequest(request.scope, request.receive)
                request.form_fields_once = once
            pending = _PROBLEMS.set(problems)
            try:
                return await handler(request)
            except RequestValidationError as refused:
                if problems and not isinstance(refused, _ParameterProblems):  # FastAPI's own
                    raise RequestValidationError(_merged(problems, refused.errors())) from None
                raise
            finally:
                _PROBLEMS.reset(pending)

        return strict


# The parameter problems of the request being answered (`StrictJsonRoute`): its endpoint, called
# once the route's dependencies have run and FastAPI found nothing wrong, refuses them first.
_PROBLEMS: ContextVar[list[dict[str, Any]]] = ContextVar("parameter_problems")


class _ParameterProblems(RequestValidationError):
    """The problems `_PROBLEMS` holds, refused as the endpoint is called."""


def _after_dependencies(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """`endpoint`, refusing the request's parameter problems first. FastAPI calls it after the
    route's dependencies (who may use the route, where one says: an admin's routes, a
    planner's), as it checks the parameters it reads itself: a role a dependency refuses is
    told so, not what a parameter takes. FastAPI reads the signature `wraps` leaves, and runs
    a function as the endpoint is (a coroutine on the event loop, another in a thread)."""

    def refuse() -> None:
        if problems := _PROBLEMS.get([]):
            raise _ParameterProblems(problems)

    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def checked_coroutine(*args: Any, **kwargs: Any) -> Any:
            refuse()
            return await endpoint(*args, **kwargs)

        return checked_coroutine

    @functools.wraps(endpoint)
    def checked(*args: Any, **kwargs: Any) -> Any:
        refuse()
        return endpoint(*args, **kwargs)

    return checked


def _merged(ours: list[dict[str, Any]], theirs: Sequence[Any]) -> list[dict[str, Any]]:
    """Our problems and FastAPI's, one per parameter: where both found one (`abc`, which
    neither reads), ours says how the number is written."""
    places = {tuple(problem["loc"]) for problem in ours}
    return [*ours, *(problem for problem in theirs if tuple(problem["loc"]) not in places)]


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    """A route's dependant and those of its dependencies, all the way down."""
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters a route reads, its dependencies' included."""
    return frozenset(field.alias for d in _dependants(dependant) for field in d.query_params)


Number = tuple[str, str, type]


def _numbers_read(dependant: Dependant) -> list[Number]:
    """The numbers a route reads, its dependencies' included: each where (`query`, `header`),
    its name and its type."""
    return [
        (where, field.alias, kind)
        for d in _dependants(dependant)
        for where, fields in (("query", d.query_params), ("header", d.header_params))
        for field in fields
        if len(kinds := _kinds(field.field_info.annotation)) == 1 and (kind := kinds[0]) in NUMBERS
    ]


def _single_form_fields(dependant: Dependant) -> frozenset[str]:
    """The form fields a route reads one value of, its dependencies' included (a list, such as
    a case answer's documents, takes several)."""
    return frozenset(
        field.alias
        for d in _dependants(dependant)
        for field in d.body_params
        if isinstance(field.field_info, params.Form)
        and not any(get_origin(kind) in SEVERAL for kind in _kinds(field.field_info.annotation))
    )


# What a form field that takes several values is annotated as: list[UploadFile], and the like.
SEVERAL = (list, tuple, set, frozenset, Sequence)


def _kinds(annotation: Any) -> list[Any]:
    """The types an annotation takes, None aside (int | None: [int])."""
    if get_origin(annotation) in (Union, UnionType):
        return [kind for kind in get_args(annotation) if kind is not type(None)]
    return [annotation]


def _parameter_problems(
    request: Request, own: frozenset[str], numbers: list[Number]
) -> list[dict[str, Any]]:
    """A query parameter of the route given twice, and a number not written in digits."""
    given = [item for item in request.query_params.multi_items() if item[0] in own]
    repeated = repeated_names(given)
    problems = [_given_twice("query", name) for name in repeated]
    for where, name, kind in numbers:
        source = request.query_params if where == "query" else request.headers
        pattern, code, message = NUMBERS[kind]
        if name not in repeated and not all(map(pattern.fullmatch, source.getlist(name))):
            # As pydantic names a problem (api.errors renders a RequestValidationError's list).
            problems.append({"type": code, "loc": (where, name), "msg": message, "input": None})
    return problems


def repeated_names(items: Iterable[tuple[str, object]]) -> list[str]:
    """The names of `items` (name, value) given more than once, in the order first given."""
    return [name for name, count in Counter(name for name, _ in items).items() if count > 1]


# What a name given twice is called where it was given: a query parameter, a form field.
TWICE = {"query": "duplicate_parameter", "body": "duplicate_field"}


def _given_twice(where: str, name: str) -> dict[str, Any]:
    # As pydantic names a problem (api.errors renders a RequestValidationError's list).
    return {
        "type": TWICE[where],
        "loc": (where, name),
        "msg": "given more than once: send it once",
        "input": None,
    }


class BodyRefused(HTTPException):
    """A body refused as it is read (JSON `strict_loads` refuses, a form field given twice);
    api.errors answers it as a body of the wrong shape.

    An HTTPException, as FastAPI passes those on as they are: any other error in reading a
    body it answers with a 400 that does not say why.
    """

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(422, str(problems[0]["msg"]))
        # As pydantic names problems (api.errors renders a RequestValidationError's list).
        self.problems = problems

    @classmethod
    def of(cls, error: JsonRefused) -> BodyRefused:
        """Refuse a JSON body as `strict_loads` refused it."""
        return cls([{"type": error.code, "loc": ("body",), "msg": error.message, "input": None}])


class _StrictRequest(Request):
    # The form fields of the route that take one value: one given twice is refused.
    form_fields_once: frozenset[str] = frozenset()

    async def json(self) -> Any:
        # Starlette's Request.json, reading with strict_loads into the attribute it keeps.
        if not hasattr(self, "_json"):
            try:
                self._json = strict_loads(await self.body())
            except JsonRefused as error:
                raise BodyRefused.of(error) from None
        return self._json

    # Awaited, as FastAPI reads a route's form (Starlette's may also be entered with `async
    # with`, which no reader of this request does). FastAPI reads the last of a field given twice.
    async def form(self, **limits: Any) -> FormData:  # type: ignore[override]
        form = await super().form(**limits)
        given = [item for item in form.multi_items() if item[0] in self.form_fields_once]
        if repeated := repeated_names(given):
            await form.close()  # its files, spooled to disk, are not left open
            raise BodyRefused([_given_twice("body", name) for name in repeated])
        return form
