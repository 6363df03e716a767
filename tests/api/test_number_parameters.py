"""A number in a query parameter or header is written one way: ASCII digits, a - before them
for a negative one.

Python reads `5_0` as 50 and `+5`, ` 5` and `5.0` as 5: a gateway or cache that keys on the
text, or checks the number its own way, would read another request than ours.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.deps import Services
from tests.api.conftest import login

LAX = ["5_0", " 5", "5 ", "+5", "5.0", "\t5", "\u0665", "0x5", ""]  # \u0665: an Arabic-Indic 5


def numbered(client: TestClient) -> list[tuple[str, str, str]]:
    """Every (path, where, name) of a number a GET of the API reads, as its OpenAPI says."""
    found = []
    for path, operations in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        for parameter in operations.get("get", {}).get("parameters", []):
            schema = parameter["schema"]
            kinds = {s.get("type") for s in schema.get("anyOf", [schema])}
            if kinds & {"integer", "number"}:
                found.append((path, parameter["in"], parameter["name"]))
    return found


def test_every_number_a_route_reads_is_found(client: TestClient) -> None:
    assert sorted(numbered(client)) == [
        ("/api/v1/admin/audit", "query", "after"),
        ("/api/v1/admin/audit", "query", "limit"),
        ("/api/v1/events", "query", "after"),
        ("/api/v1/events", "query", "limit"),
        ("/api/v1/federated-trace", "query", "max_depth"),
        ("/api/v1/federation/trace", "header", "X-Tracegraph-Hops"),
        ("/api/v1/federation/trace", "query", "max_depth"),
        ("/api/v1/trace", "query", "max_depth"),
    ]


@pytest.mark.parametrize("text", LAX)
def test_a_number_written_otherwise_is_refused_by_name(
    client: TestClient, plant: Services, text: str
) -> None:
    headers = login(client, "admin")
    for path, where, name in numbered(client):
        if where == "query":
            response = client.get(f"{path}?{name}={quote(text)}", headers=headers)
        elif text.strip().isascii() and text.strip().isdigit():
            continue  # HTTP takes the spaces around a header's value away
        else:
            response = client.get(path, headers=headers | {name: text.encode()})
        assert response.status_code == 422, (path, name, response.text)
        body = response.json()
        assert body["error"] == "invalid_request"
        [problem] = [p for p in body["errors"] if p["field"] == f"{where}.{name}"]
        assert problem["code"] == "int_parsing", (path, name, problem)
        assert "digits 0-9" in problem["message"], problem


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events?after=0&limit=05",
        "/api/v1/admin/audit?after=0&limit=1",
        "/api/v1/trace?id=lot:L00001-BAR&direction=down&max_depth=2",
        "/api/v1/trace?id=lot:L00001-BAR&direction=down&max_depth=-0",  # 0 to every reader
        "/api/v1/federated-trace?id=lot:L00001-BAR&direction=down&max_depth=0",
    ],
)
def test_a_number_written_in_digits_is_read(client: TestClient, plant: Services, path: str) -> None:
    response = client.get(path, headers=login(client, "admin"))
    assert response.status_code == 200, response.text


def test_a_negative_number_is_refused_by_its_range(client: TestClient, plant: Services) -> None:
    path = "/api/v1/trace?id=lot:L00001-BAR&direction=down&max_depth=-1"
    response = client.get(path, headers=login(client, "admin"))
    assert response.status_code == 422
    [problem] = response.json()["errors"]
    assert problem == {
        "field": "query.max_depth",
        "code": "greater_than_equal",
        "message": "Input should be greater than or equal to 0",
    }


@pytest.mark.parametrize("query", ["limit=5_0", "after=0&after=1", "limit=abc", "limit=5"])
def test_a_role_the_route_refuses_is_told_so_before_what_its_parameters_take(
    client: TestClient, query: str
) -> None:
    """A customer may not read the account trail: what its parameters take, or that it has
    them, is not theirs to learn (as FastAPI checks them: after who may use the route)."""
    response = client.get(f"/api/v1/admin/audit?{query}", headers=login(client, "customer"))
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "forbidden"


def test_a_number_written_otherwise_is_listed_with_the_other_problems(
    client: TestClient, plant: Services
) -> None:
    path = "/api/v1/trace?direction=down&max_depth=5_0"  # and no id
    response = client.get(path, headers=login(client, "admin"))
    assert response.status_code == 422, response.text
    problems = {(p["field"], p["code"]) for p in response.json()["errors"]}
    assert problems == {("query.max_depth", "int_parsing"), ("query.id", "missing")}
