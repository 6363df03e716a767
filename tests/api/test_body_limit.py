"""Request bodies are bounded as they stream in: events, multipart answers and GraphQL alike,
each refused in the API's error shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from api.app import create_app
from api.body_limit import SMALL_BODY, BodyLimit
from api.deps import Services
from api.settings import Settings
from tests.api.conftest import login
from tests.api.test_supplier_portal import ACME_LOT, OPEN, data

LIMIT = 4096
URL = "/api/v1/recalls/RC-1/answers"


@pytest.fixture
def small(plant: Services) -> Iterator[TestClient]:
    """A client of an app that takes bodies of at most LIMIT bytes."""
    app = create_app(Settings(store=plant.store.url, max_body_bytes=LIMIT), plant)
    with TestClient(app) as test_client:
        yield test_client


REFUSAL = {
    "error": "content_too_large",
    "message": f"the request body is over the limit of {LIMIT:,} bytes",
}


def refused(response: Response) -> bool:
    """Tell whether the response is the body limit's refusal, in the shape of every error."""
    return response.status_code == 413 and response.json() == REFUSAL


def pdf(size: int) -> bytes:
    return b"%PDF-" + b"0" * (size - 5)


def answer(client: TestClient, content: bytes) -> Response:
    form = {"supplier_lot": ACME_LOT, "text": "certificate"}
    files = [("documents", ("cert.pdf", content, "application/pdf"))]
    return client.post(URL, data=form, files=files, headers=login(client, "supplier"))


def events(plant: Services) -> int:
    return plant.store.counts()["events"]


def test_an_oversized_answer_is_refused_and_a_small_one_taken(
    small: TestClient, plant: Services
) -> None:
    data(small, login(small, "analyst"), OPEN, s=[{"id": ACME_LOT}])
    before = events(plant)
    assert refused(answer(small, pdf(LIMIT)))
    assert events(plant) == before, "nothing of a refused answer is written"
    taken = answer(small, pdf(LIMIT // 2))
    assert taken.status_code == 201, taken.text
    assert events(plant) == before + 1


def test_a_streamed_body_without_length_is_cut_at_the_limit(
    small: TestClient, plant: Services
) -> None:
    data(small, login(small, "analyst"), OPEN, s=[{"id": ACME_LOT}])
    headers = login(small, "supplier")
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="supplier_lot"\r\n\r\n'
        f"{ACME_LOT}\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="documents"; filename="cert.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()

    def chunks(size: int) -> Iterator[bytes]:
        yield head + b"%PDF-"
        for _ in range(size // 1024):
            yield b"0" * 1024
        yield f"\r\n--{boundary}--\r\n".encode()

    multipart = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    before = events(plant)
    cut = small.post(URL, content=chunks(64 * LIMIT), headers=headers | multipart)
    assert refused(cut), cut.text
    assert events(plant) == before
    taken = small.post(URL, content=chunks(LIMIT // 2), headers=headers | multipart)
    assert taken.status_code == 201, taken.text


def test_an_oversized_event_batch_is_refused(small: TestClient, plant: Services) -> None:
    operator = login(small, "operator")
    before = events(plant)
    padding = "x" * LIMIT
    big = small.post("/api/v1/events", json={"events": [], "padding": padding}, headers=operator)
    assert refused(big), big.text
    assert events(plant) == before
    empty = small.post("/api/v1/events", json={"events": []}, headers=operator)
    assert empty.status_code != 413, empty.text


def test_an_oversized_graphql_request_is_refused(small: TestClient, plant: Services) -> None:
    supplier = login(small, "supplier")
    padding = "#" + "x" * LIMIT + "\n"
    big = small.post("/graphql", json={"query": padding + "{ __typename }"}, headers=supplier)
    assert refused(big), big.text
    ok = small.post("/graphql", json={"query": "{ __typename }"}, headers=supplier)
    assert ok.json() == {"data": {"__typename": "Query"}}, "positive control"


def test_an_oversized_epcis_document_is_refused(small: TestClient, plant: Services) -> None:
    operator = login(small, "operator") | {"Content-Type": "application/ld+json"}
    before = events(plant)
    big = small.post("/api/v1/epcis/capture", content=b" " * LIMIT + b"{}", headers=operator)
    assert refused(big), big.text
    assert events(plant) == before
    small_body = small.post("/api/v1/epcis/capture", content=b"{}", headers=operator)
    assert small_body.status_code not in (413, 500), small_body.text  # read, then judged on merit


def test_a_streamed_graphql_request_is_cut_at_the_limit(small: TestClient) -> None:
    supplier = login(small, "supplier") | {"Content-Type": "application/json"}

    def chunks() -> Iterator[bytes]:
        yield b'{"query": "#'
        for _ in range(8):
            yield b"x" * 1024
        yield b'\\n{ __typename }"}'

    big = small.post("/graphql", content=chunks(), headers=supplier)
    assert refused(big), big.text


@pytest.mark.parametrize("path", ["/api/v1/events", "/graphql", "/graphql/"])
def test_a_caller_without_credentials_is_told_so_before_the_length_matters(
    small: TestClient, path: str
) -> None:
    big = small.post(path, content=b"x" * (2 * LIMIT), follow_redirects=False)
    assert big.status_code == 401 and big.json()["error"] == "unauthenticated"


async def _reads_everything(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that reads the stream itself, with no handler to answer for it."""
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await PlainTextResponse("read")(scope, receive, send)


def test_a_body_cut_where_no_handler_answers_is_still_refused_in_the_shape() -> None:
    client = TestClient(BodyLimit(_reads_everything, limit=LIMIT, large=("/",)))
    streamed = client.post("/", content=(b"x" * 1024 for _ in range(8)))
    assert refused(streamed), streamed.text
    assert client.post("/", content=(b"x" * 1024 for _ in range(2))).text == "read"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/admin/users"),
        ("PUT", "/api/v1/admin/companies"),
        ("POST", "/api/v1/lot-schemes"),
    ],
)
def test_a_route_of_small_bodies_refuses_a_large_one_before_it_is_read(
    client: TestClient, method: str, path: str
) -> None:
    # FastAPI parses a route's body before its dependencies check the role: a customer's 64 MiB
    # would be parsed on the event loop before the 403. Streamed or declared, it is cut at 1 MiB.
    customer = login(client, "customer")
    body = b'{"pad": "' + b"x" * SMALL_BODY + b'"}'
    for content in (body, (body[i : i + 65536] for i in range(0, len(body), 65536))):
        response = client.request(method, path, content=content, headers=customer)
        assert response.status_code == 413, response.text
        assert response.json()["message"] == "the request body is over the limit of 1,048,576 bytes"
    # Positive control: a body under the limit is read, and the role then refused.
    response = client.request(method, path, json={"pad": "x" * 1000}, headers=customer)
    assert response.status_code in (403, 422), response.text
