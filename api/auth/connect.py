"""Open the account store a URL names: `sqlite:///path.db` (embedded) or `neo4j://host:7687`."""

from __future__ import annotations

from api.auth.store import AccountStore
from graph.connect import check_store_url


def open_account_store(
    url: str, *, user: str = "neo4j", password: str = "", database: str | None = None
) -> AccountStore:
    """Open an account store by URL; raise BadRequest for a URL of no known kind, or malformed."""
    check_store_url(url)
    if url.startswith("sqlite:///"):
        from api.auth.embedded import EmbeddedAccountStore

        return EmbeddedAccountStore(url.removeprefix("sqlite:///"))
    from api.auth.neo4j import Neo4jAccountStore

    return Neo4jAccountStore(url, user=user, password=password, database=database)
