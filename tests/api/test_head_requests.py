"""HEAD answers wherever GET does: the same status and headers, no body, the same checks."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import login


@pytest.mark.parametrize("path", ["/", "/docs", "/graphiql", "/healthz"])
def test_head_of_a_public_page_is_its_get_without_the_body(client: TestClient, path: str) -> None:
    got, head = client.get(path), client.head(path)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == str(len(got.content))


def test_head_of_an_api_route_is_checked_as_its_get(client: TestClient) -> None:
    path = "/api/v1/me"
    assert client.head(path).status_code == 401  # no credentials
    bad = client.head(path, headers={"Authorization": "Bearer nonsense"})
    assert (bad.status_code, bad.content) == (401, b"")
    headers = login(client, "analyst")
    got, head = client.get(path, headers=headers), client.head(path, headers=headers)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(got.content))
    # Out of scope reads alike for both.
    node = "/api/v1/nodes/lot:NOPE"
    assert client.head(node, headers=headers).status_code == 404
    # Where GET is not answered, neither is HEAD.
    assert client.head("/api/v1/auth/token").status_code == 405


def test_the_audit_logs_a_head_as_a_head(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    headers = login(client, "analyst")
    caplog.clear()  # the login's line, when another test left the audit log at INFO
    with caplog.at_level(logging.INFO, logger="tracegraph.audit"):
        client.head("/api/v1/me", headers=headers)
    (record,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tracegraph.audit"]
    assert (record["method"], record["path"], record["user"], record["status"]) == (
        "HEAD",
        "/api/v1/me",
        "ana",
        200,
    )
