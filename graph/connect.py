"""Open the store a URL names: `sqlite:///path.db` (embedded) or `neo4j://host:7687`."""

from __future__ import annotations

from pathlib import Path

from graph.errors import BadRequest, StoreUnavailable
from graph.store import GraphStore

DEFAULT_URL = "sqlite:///tracegraph.db"


def require_store(url: str) -> None:
    """Raise BadRequest if `url` names an embedded store file that does not exist, or an empty
    file: opening it would make an empty store (and its folders) where a mistyped path points,
    or write one into a file that SQLite reads as empty."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if path.name and not path.exists():
            raise BadRequest(
                f"there is no store file at {path} (`tracegraph init` makes a new store)"
            )
        if path.is_file() and path.stat().st_size == 0:
            raise BadRequest(
                f"there is no store at {path}, only an empty file (`tracegraph init` makes a "
                "new store in it)"
            )


def open_store(
    url: str, *, user: str = "neo4j", password: str = "", database: str | None = None
) -> GraphStore:
    """Open a store by URL; raise BadRequest for a URL of no known kind."""
    if url.startswith("sqlite:///"):
        import sqlite3

        from graph.embedded_store import EmbeddedStore

        path = url.removeprefix("sqlite:///")
        if not path:
            raise BadRequest("the store URL names no file: sqlite:///path/to.db")
        try:
            return EmbeddedStore(path)
        except sqlite3.DatabaseError as error:  # not a database, a folder, no permission
            raise StoreUnavailable(f"cannot open the embedded store {path}: {error}") from error
    if url.split("://", 1)[0] in ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"):
        from graph.neo4j_store import Neo4jStore

        return Neo4jStore(url, user=user, password=password, database=database)
    raise BadRequest(f"unknown store URL {url!r}: use sqlite:///path/to.db or neo4j://host:7687")
