"""Neo4j goes away while the service runs: REST, GraphQL and the command line say so, in seconds.

A request is a 503 `store_unavailable` in the one JSON shape (GraphQL: STORE_UNAVAILABLE), a
command one line and exit code 3; before, each waited half a minute or more in the driver's
retries, then failed as an internal error (a traceback, on the command line).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.neo4j import Neo4jAccountStore
from api.auth.service import AuthService
from api.cli import main
from api.demo_accounts import seed_demo_accounts
from api.deps import Services
from api.settings import Settings
from graph.neo4j_store import Neo4jStore
from tests.api.conftest import FAST_HASHER, login
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events
from tests.fixtures.neo4j_server import Neo4jTarget
from tests.fixtures.tcp_proxy import Proxy

pytestmark = pytest.mark.neo4j

SAID_WITHIN = 10.0  # the driver's defaults took 30 s and more; a lost server is said in some 3 s


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Neo4jTarget:
    return neo4j_or_skip(request)


def proxy_to(target: Neo4jTarget) -> Proxy:
    where = urlsplit(target.uri)
    return Proxy((where.hostname or "localhost", where.port or 7687))


class Plant:
    """An app whose graph and accounts each reach Neo4j through a proxy of their own."""

    def __init__(self, target: Neo4jTarget) -> None:
        self.graph, self.accounts = proxy_to(target), proxy_to(target)
        auth = {"user": target.user, "password": target.password}
        store = Neo4jStore(f"bolt://127.0.0.1:{self.graph.port}", **auth)
        accounts = Neo4jAccountStore(f"bolt://127.0.0.1:{self.accounts.port}", **auth)
        store.wipe()
        accounts.wipe()
        self.services = Services.for_stores(
            store, accounts, AuthService(accounts, hasher=FAST_HASHER)
        )
        seed_demo_accounts(self.services.auth)
        self.services.ingest.ingest([Events().receive("L-1", 10)])
        self.client = TestClient(create_app(Settings(store=store.url), self.services))

    def close(self) -> None:
        self.graph.cut()
        self.accounts.cut()
        self.services.close()


@pytest.fixture
def plant(target: Neo4jTarget) -> Iterator[Plant]:
    built = Plant(target)
    with built.client:
        yield built
    built.close()


def _timed(call: Any) -> Any:
    started = time.monotonic()
    answer = call()
    assert time.monotonic() - started < SAID_WITHIN
    return answer


def _unavailable(answer: Any, holds: str) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["error"] == "store_unavailable"
    assert body["message"].startswith(f"Neo4j, which holds {holds}, does not answer")


def test_requests_to_a_lost_graph_are_503_store_unavailable(plant: Plant) -> None:
    client = plant.client
    admin = login(client, "admin")
    plant.graph.cut()
    node = _timed(lambda: client.get("/api/v1/nodes/lot:L-1", headers=admin))
    _unavailable(node, "the graph")
    written = _timed(
        lambda: client.post("/api/v1/events", json=[Events().receive("L-2", 5)], headers=admin)
    )
    _unavailable(written, "the graph")
    _unavailable(_timed(lambda: client.get("/api/v1/events", headers=admin)), "the graph")
    query = {"query": '{ node(id: "lot:L-1") { id } }'}
    answer = _timed(lambda: client.post("/graphql", json=query, headers=admin))
    assert answer.status_code == 200, answer.text
    (error,) = answer.json()["errors"]
    assert error["extensions"] == {"code": "STORE_UNAVAILABLE", "status": 503}
    assert error["message"].startswith("Neo4j, which holds the graph, does not answer")


def test_logins_and_keys_on_lost_accounts_are_503_store_unavailable(plant: Plant) -> None:
    client = plant.client
    admin = login(client, "admin")
    made = client.post("/api/v1/admin/keys", json={"username": "ana"}, headers=admin)
    keyed = {"X-API-Key": made.json()["key"]}
    plant.accounts.cut()
    tried = {"username": "ana", "password": "demo-analyst-pass"}
    _unavailable(_timed(lambda: client.post("/api/v1/auth/token", data=tried)), "the accounts")
    _unavailable(_timed(lambda: client.get("/api/v1/me", headers=keyed)), "the accounts")
    _unavailable(_timed(lambda: client.get("/api/v1/me", headers=admin)), "the accounts")


def test_a_command_whose_neo4j_goes_away_says_so_on_one_line(
    neo4j_login: Neo4jTarget,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = proxy_to(neo4j_login)
    opened = Services.from_settings

    def then_lost(settings: Settings, sender: str, **options: bool) -> Services:
        services = opened(settings, sender, **options)
        proxy.cut()
        return services

    monkeypatch.setattr(Services, "from_settings", then_lost)
    neo4j_log = logging.getLogger("neo4j")
    level = neo4j_log.level
    try:
        argv = ["trace", "--lot", "L-1", "--down", "--store", f"bolt://127.0.0.1:{proxy.port}"]
        assert _timed(lambda: main(argv)) == 3
    finally:
        neo4j_log.setLevel(level)
        proxy.cut()
    err = capsys.readouterr().err
    assert err.startswith("error: Neo4j, which holds the graph, does not answer"), err
    assert len(err.strip().splitlines()) == 1
    # Nor did the driver note its retries on the way (they went to standard error).
    assert not [r for r in caplog.records if r.name.startswith("neo4j")]
