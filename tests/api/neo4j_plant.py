"""An app on a Neo4j server for the API's Neo4j tests: a lot L-1 and the demo accounts."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.neo4j import Neo4jAccountStore
from api.auth.service import AuthService
from api.demo_accounts import seed_demo_accounts
from api.deps import Services
from api.settings import Settings
from graph.neo4j_store import Neo4jStore
from tests.api.conftest import FAST_HASHER
from tests.fixtures.events import Events
from tests.fixtures.neo4j_server import Neo4jTarget


class Plant:
    """An app on `target`'s server, wiped, with a lot L-1 and the demo accounts."""

    def __init__(self, target: Neo4jTarget) -> None:
        auth = {"user": target.user, "password": target.password}
        store = Neo4jStore(target.uri, **auth)
        accounts = Neo4jAccountStore(target.uri, **auth)
        store.wipe()
        accounts.wipe()
        self.store = store
        self.services = Services.for_stores(
            store, accounts, AuthService(accounts, hasher=FAST_HASHER)
        )
        seed_demo_accounts(self.services.auth)
        self.services.ingest.ingest([Events().receive("L-1", 10)])
        self.client = TestClient(create_app(Settings(store=store.url), self.services))
