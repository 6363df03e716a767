"""Open the store a URL names: `sqlite:///path.db` (embedded) or `neo4j://host:7687`."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from graph.errors import BadRequest, StoreUnavailable
from graph.sqlite_files import check_no_store_beside
from graph.store import GraphStore

DEFAULT_URL = "sqlite:///tracegraph.db"
NEO4J_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")
NEO4J_FORM = "neo4j://host:7687"
SQLITE = "sqlite:///"


def store_file(url: str) -> Path | None:
    """The embedded store file `url` names (`sqlite:///path.db`), or None for a server's URL."""
    return Path(url.removeprefix(SQLITE)) if url.startswith(SQLITE) else None


def require_store(url: str) -> None:
    """Raise BadRequest if `url` names an embedded store file that does not exist, or an empty
    file: opening it would make an empty store (and its folders) where a mistyped path points,
    or write one into a file that SQLite reads as empty."""
    path = store_file(url)
    if path is not None:
        if path.name and not path.exists():
            raise BadRequest(
                f"there is no store file at {path} (`tracegraph init` makes a new store)"
            )
        if path.is_file() and path.stat().st_size == 0:
            raise BadRequest(
                f"there is no store at {path}, only an empty file (`tracegraph init` makes a "
                "new store in it)"
            )
        check_no_store_beside(path)


def check_store_url(url: str) -> None:
    """Raise BadRequest for a URL no store can be opened at, before anything is opened: a
    server's address is checked here, where the driver would fail with a traceback."""
    shown = _shown(url)
    if url.startswith(SQLITE):
        if not url.removeprefix(SQLITE):  # as a Path, "" would be the folder it runs in
            raise BadRequest("the store URL names no file: sqlite:///path/to.db")
        return
    if url.split("://", 1)[0] not in NEO4J_SCHEMES:
        raise BadRequest(f"unknown store URL {shown!r}: use sqlite:///path/to.db or {NEO4J_FORM}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:  # an unclosed [IPv6 address], a port that is not a number
        raise BadRequest(f"the store URL {shown!r} is not {NEO4J_FORM}: {error}") from error
    if parts.username is not None or parts.password is not None:
        raise BadRequest(
            f"the store URL {shown!r} carries a user name: Neo4j's credentials are "
            "TRACEGRAPH_NEO4J_USER and TRACEGRAPH_NEO4J_PASSWORD"
        )
    if not parts.hostname:
        raise BadRequest(f"the store URL {shown!r} names no host: {NEO4J_FORM}")
    if port == 0:
        raise BadRequest(f"the store URL {shown!r}: a port is from 1 to 65535")
    try:
        parts.hostname.encode("idna")  # as the driver's name lookup encodes it
    except UnicodeError as error:
        raise BadRequest(f"the store URL {shown!r} names no host name: {error}") from error


def _shown(url: str) -> str:
    """The URL without what comes before an @ in its address: it may hold a password."""
    return re.sub(r"^([^:/?#]*://)[^/?#]*@", r"\1...@", url)


def open_store(
    url: str,
    *,
    user: str = "neo4j",
    password: str = "",
    database: str | None = None,
    finishing_copy: bool = False,
) -> GraphStore:
    """Open a store by URL as it is (ingest.service.open_store_for_use also brings its graph up to
    date); raise BadRequest for a URL of no known kind, or malformed. A store a copy left
    unfinished opens only `finishing_copy` (GraphStore.mark_copy)."""
    check_store_url(url)
    path = store_file(url)
    if path is not None:
        import sqlite3

        from graph.embedded_store import EmbeddedStore

        try:
            return EmbeddedStore(path, finishing_copy=finishing_copy)
        except sqlite3.DatabaseError as error:  # not a database, a folder, no permission
            raise StoreUnavailable(f"cannot open the embedded store {path}: {error}") from error
    from graph.neo4j_store import Neo4jStore

    return Neo4jStore(
        url, user=user, password=password, database=database, finishing_copy=finishing_copy
    )
