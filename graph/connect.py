"""Open the store a URL names: `sqlite:///path.db` (embedded) or `neo4j://host:7687`."""

from __future__ import annotations

from graph.errors import BadRequest
from graph.store import GraphStore

DEFAULT_URL = "sqlite:///tracegraph.db"


def open_store(
    url: str, *, user: str = "neo4j", password: str = "", database: str | None = None
) -> GraphStore:
    """Open a store by URL; raise BadRequest for a URL of no known kind."""
    if url.startswith("sqlite:///"):
        from graph.embedded_store import EmbeddedStore

        return EmbeddedStore(url.removeprefix("sqlite:///"))
    if url.split("://", 1)[0] in ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"):
        from graph.neo4j_store import Neo4jStore

        return Neo4jStore(url, user=user, password=password, database=database)
    raise BadRequest(f"unknown store URL {url!r}: use sqlite:///path/to.db or neo4j://host:7687")
