"""A Neo4j database emptied for a benchmark's run, on the server a benchmark is given."""

from __future__ import annotations

import os

from graph.store import GraphStore


def wiped_neo4j(url: str) -> GraphStore:
    """Return the graph at `url`, emptied, signed in as NEO4J_USER / NEO4J_PASSWORD."""
    from graph.neo4j_store import Neo4jStore

    store = Neo4jStore(
        url,
        user=os.environ.get("NEO4J_USER", "neo4j"),
        password=os.environ.get("NEO4J_PASSWORD", ""),
    )
    store.wipe()
    return store
