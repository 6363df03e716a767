"""What depends on who asks is never stored by a cache; public pages and files may be."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import PASSWORDS, login


def test_a_login_and_a_new_api_key_are_not_stored(client: TestClient) -> None:
    username, password = PASSWORDS["admin"]
    token = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert token.headers["cache-control"] == "no-store"
    admin = {"Authorization": f"Bearer {token.json()['access_token']}"}
    created = client.post("/api/v1/admin/keys", json={"username": "ana"}, headers=admin)
    assert (created.status_code, created.headers["cache-control"]) == (201, "no-store")


def test_answers_to_an_api_key_are_not_stored(client: TestClient) -> None:
    admin = login(client, "admin")
    key = client.post("/api/v1/admin/keys", json={"username": "ana"}, headers=admin).json()["key"]
    keyed = {"X-API-Key": key}
    answers = [
        client.get("/api/v1/me", headers=keyed),
        client.get("/api/v1/nodes/lot:NOPE", headers=keyed),
        client.post("/graphql", json={"query": "{ me { username } }"}, headers=keyed),
        client.get("/graphql", params={"query": "{ me { username } }"}, headers=keyed),
        client.head("/api/v1/me", headers=keyed),
    ]
    assert [a.status_code for a in answers] == [200, 404, 200, 200, 200]
    assert {a.headers.get("cache-control") for a in answers} == {"no-store"}
    # A refusal of the API is not stored either; public pages and files may be.
    assert client.get("/api/v1/me").headers["cache-control"] == "no-store"
    for path in ("/", "/healthz", "/static/graphiql.html", "/openapi.json"):
        assert "cache-control" not in client.get(path).headers, path
