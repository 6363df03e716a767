"""Open the account store a URL names: `sqlite:///path.db` (embedded) or `neo4j://host:7687`."""

from __future__ import annotations

from api.auth.store import AccountStore
from graph.errors import BadRequest


def open_account_store(
    url: str, *, user: str = "neo4j", password: str = "", database: str | None = None
) -> AccountStore:
    """Open an account store by URL; raise BadRequest for a URL of no known kind."""
    if url.startswith("sqlite:///"):
        from api.auth.embedded import EmbeddedAccountStore

        return EmbeddedAccountStore(url.removeprefix("sqlite:///"))
    if url.split("://", 1)[0] in ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"):
        from api.auth.neo4j import Neo4jAccountStore

        return Neo4jAccountStore(url, user=user, password=password, database=database)
    raise BadRequest(f"unknown store URL {url!r}: use sqlite:///path/to.db or neo4j://host:7687")
