"""A query parameter given twice is refused by name, as a key given twice in a JSON body is.

Readers differ on which of two counts (the first, the last, or both): `?id=lot:A&id=lot:B`
answered for one of them reads as the answer for the other to whoever checked the first.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.datastructures import FormData
from starlette.requests import Request

from api.deps import Services
from tests.api.conftest import login

ROOT = "supplier_lot:ACME-STEEL/H70001"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (f"/api/v1/trace?id={ROOT}&direction=down&id=lot:L00001-BAR", "id"),
        (f"/api/v1/trace?id={ROOT}&direction=down&direction=up", "direction"),
        ("/api/v1/events?after=0&limit=1&after=900", "after"),
        ("/api/v1/lots/decode?code=H70001&code=H70002", "code"),
        ("/api/v1/identifiers/resolve?code=00761234000029&code=00761234000050", "code"),
        (
            "/api/v1/equipment/LATHE-1/window?from=2026-01-01T00:00:00Z"
            "&to=2026-01-02T00:00:00Z&from=2026-01-01T12:00:00Z",
            "from",
        ),
        (f"/api/v1/federated-trace?id={ROOT}&max_depth=1&max_depth=2", "max_depth"),
    ],
)
def test_a_rest_parameter_given_twice_is_refused_by_name(
    client: TestClient, plant: Services, path: str, name: str
) -> None:
    headers = login(client, "analyst")
    response = client.get(path, headers=headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["errors"] == [
        {
            "field": f"query.{name}",
            "code": "duplicate_parameter",
            "message": "given more than once: send it once",
        }
    ]
    # Positive control: each value alone is answered.
    once = path.rpartition("&")[0]
    assert client.get(once, headers=headers).status_code == 200, once


def test_a_graphql_parameter_given_twice_is_refused_by_name(
    client: TestClient, plant: Services
) -> None:
    headers = login(client, "analyst")
    twice = "/graphql?query={me{username}}&query={me{role}}"
    response = client.get(twice, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "duplicate_parameter",
        "message": "the query parameter `query` is given more than once: send it once",
    }
    once = client.get("/graphql?query={me{role}}", headers=headers)
    assert once.json() == {"data": {"me": {"role": "analyst"}}}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/me?x=1&x=2",
        f"/api/v1/trace?id={ROOT}&direction=down&cache_buster=1&cache_buster=2",
        "/graphql?query={me{role}}&_=1&_=2",
    ],
)
def test_a_name_no_route_reads_is_ignored_however_often_given(
    client: TestClient, plant: Services, path: str
) -> None:
    """Only what a route reads is ambiguous given twice: a cache-busting `_` a client adds
    to every request is not its business."""
    response = client.get(path, headers=login(client, "analyst"))
    assert response.status_code == 200, response.text


TWICE = [("username", "x"), ("username", "ana"), ("password", "demo-analyst-pass")]


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_a_form_field_given_twice_is_refused_by_name(
    client: TestClient, services: Services, encoding: str
) -> None:
    """A login whose form names two users is not one of theirs."""
    if encoding == "urlencoded":
        sent = client.post(
            "/api/v1/auth/token",
            content="&".join(f"{name}={value}" for name, value in TWICE),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    else:
        parts = [(name, (None, value)) for name, value in TWICE]
        sent = client.post("/api/v1/auth/token", files=parts)
    assert sent.status_code == 422, sent.text
    assert sent.json()["errors"] == [
        {
            "field": "body.username",
            "code": "duplicate_field",
            "message": "given more than once: send it once",
        }
    ]
    # Positive control: the form with each field once logs in.
    once = dict(TWICE[1:])
    assert client.post("/api/v1/auth/token", data=once).status_code == 200


def test_a_form_field_given_twice_is_refused_however_starlette_reads_the_form(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check is on Request.form, which FastAPI awaits, not on what Starlette's form awaits
    in turn (a private method a new release may name, or do, otherwise)."""
    read = Request._get_form

    async def form(request: Request, **limits: Any) -> FormData:
        return await read(request, **limits)  # the same reading, by another way

    monkeypatch.setattr(Request, "form", form)
    sent = client.post(
        "/api/v1/auth/token",
        content="&".join(f"{name}={value}" for name, value in TWICE),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert sent.status_code == 422, sent.text
    assert sent.json()["errors"][0]["code"] == "duplicate_field"
    # Positive control: the form with each field once logs in.
    assert client.post("/api/v1/auth/token", data=dict(TWICE[1:])).status_code == 200
