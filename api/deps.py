"""Per-application wiring: the store and the services, reached from request handlers."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from api.settings import Settings
from graph.connect import open_store
from graph.store import GraphStore
from graph.trace import TraceService
from ingest.service import IngestService


@dataclass
class Services:
    store: GraphStore
    ingest: IngestService
    traces: TraceService

    @classmethod
    def for_store(cls, store: GraphStore) -> Services:
        return cls(store, IngestService(store), TraceService(store))

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        store = open_store(
            settings.store,
            user=settings.neo4j_user,
            password=settings.neo4j_password,
            database=settings.neo4j_database,
        )
        return cls.for_store(store)


def services(request: Request) -> Services:
    """Return the services of the running application."""
    found: Services = request.app.state.services
    return found
