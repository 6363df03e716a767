"""Open the account store a URL names: `sqlite:///path.db` (embedded) or `neo4j://host:7687`."""

from __future__ import annotations

from api.auth.store import AccountStore
from graph.connect import check_store_url, store_file


def open_account_store(
    url: str, *, user: str = "neo4j", password: str = "", database: str | None = None
) -> AccountStore:
    """Open an account store by URL; raise BadRequest for a URL of no known kind, or malformed."""
    check_store_url(url)
    if (path := store_file(url)) is not None:
        from api.auth.embedded import EmbeddedAccountStore

        return EmbeddedAccountStore(path)
    from api.auth.neo4j import Neo4jAccountStore

    return Neo4jAccountStore(url, user=user, password=password, database=database)
