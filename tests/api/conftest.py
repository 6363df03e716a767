"""An app on real embedded stores, seeded with a small demo plant and one account per role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.embedded import EmbeddedAccountStore
from api.auth.service import AuthService
from api.demo_accounts import DEMO_ACCOUNTS, seed_demo_accounts
from api.deps import Services
from api.settings import Settings, get_settings
from graph.embedded_store import EmbeddedStore
from ingest.demo_plant import DemoPlant
from ingest.service import IngestService
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events
from tests.fixtures.neo4j_server import Neo4jTarget
from tests.fixtures.stores import emptied_neo4j

# Argon2 at its default cost is meant to be slow; tests log in hundreds of times.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORDS = {account.role.value: (account.username, account.password) for account in DEMO_ACCOUNTS}


def services_on(path: Path) -> Services:
    """Services on a new embedded store at `path`, with one demo account per role."""
    accounts = EmbeddedAccountStore(path)
    built = Services.for_stores(
        EmbeddedStore(path), accounts, AuthService(accounts, hasher=FAST_HASHER)
    )
    seed_demo_accounts(built.auth)
    return built


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = services_on(tmp_path / "api.db")
    yield built
    built.close()


@pytest.fixture
def plant(services: Services) -> Services:
    for batch in DemoPlant(size=900, seed=3).batches(1000):
        services.ingest.ingest(batch)
    return services


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    app = create_app(Settings(store=services.store.url), services)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[TestClient]:
    """A second app on an empty store of its own: where an exported document is captured."""
    services = services_on(tmp_path / "elsewhere.db")
    with TestClient(create_app(Settings(store=services.store.url), services)) as test_client:
        yield test_client
    services.close()


@pytest.fixture
def neo4j_login(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Neo4jTarget]:
    """The session's Neo4j (or skip), its login in the settings of every command, a child
    process's among them: the settings are read afresh with it, and again after the test. The
    database is emptied after it: a copy it left unfinished would not open for the next test."""
    target = neo4j_or_skip(request)
    monkeypatch.setenv("TRACEGRAPH_NEO4J_USER", target.user)
    monkeypatch.setenv("TRACEGRAPH_NEO4J_PASSWORD", target.password)
    get_settings.cache_clear()
    yield target
    get_settings.cache_clear()
    emptied_neo4j(target)


def login(client: TestClient, role: str) -> dict[str, str]:
    """Return the headers of a logged-in demo user of `role`."""
    username, password = PASSWORDS[role]
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def laptop_plant(tmp_path: Path, events: Events) -> str:
    """A small plant in `laptop.db` (a received lot split and serialized, an analyst): the
    source of the copy-store tests."""
    path = tmp_path / "laptop.db"
    store = EmbeddedStore(path)
    IngestService(store).ingest(
        [
            events.receive("L-1", 10, supplier_lot="A-77"),
            events("split", lot="L-1", into=[{"lot": "L-2", "qty": "4"}]),
            events("serialize", lot="L-2", serials=["SN-1"]),
        ]
    )
    store.close()
    accounts = EmbeddedAccountStore(path)
    AuthService(accounts).add_user("ana", "correct horse battery", "analyst")
    accounts.close()
    return f"sqlite:///{path}"
