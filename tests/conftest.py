"""Shared fixtures: every store-touching test runs on the real embedded store and real Neo4j."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from tests.fixtures.events import Events
from tests.fixtures.neo4j_server import (
    Neo4jTarget,
    Neo4jUnavailable,
    last_failure,
    provide_neo4j,
    with_setting,
)

STORE_KINDS = ("embedded", "neo4j")


def neo4j_required() -> bool:
    return os.environ.get("TRACEGRAPH_REQUIRE_NEO4J") == "1"


def neo4j_or_skip(request: pytest.FixtureRequest) -> Neo4jTarget:
    """Return the session's Neo4j, or skip (fail, where CI requires Neo4j) saying why not."""
    target: Neo4jTarget | None = request.getfixturevalue("neo4j_target")
    if target is None:
        message = f"no Neo4j server: {last_failure()}"
        if neo4j_required():
            pytest.fail(message)
        pytest.skip(message)
    return target


@contextmanager
def transaction_timeout(request: pytest.FixtureRequest, seconds: float) -> Iterator[Neo4jTarget]:
    """A server whose transactions may last `seconds` (db.transaction.timeout) while the block
    runs; skip (fail, where CI requires Neo4j) if none is to be had."""
    try:
        with with_setting(
            neo4j_or_skip(request), "db.transaction.timeout", f"{seconds:g}s"
        ) as target:
            _schemas_made(target)
            yield target
    except Neo4jUnavailable as error:
        if neo4j_required():
            raise
        pytest.skip(f"no server with a transaction timeout of its own: {error}")


# How many opens may be ended by a short time limit before the schemas stand (each statement
# of a schema commits apart, so every open gets further).
SCHEMA_OPENS = 10


def _schemas_made(target: Neo4jTarget) -> None:
    """Open the graph and the accounts on `target` until their schemas stand: on a server just
    started on a busy machine, a statement of a schema can outlast a test's short time limit,
    and these tests are about the limit on their own statements, not on a first open."""
    from api.auth.neo4j import Neo4jAccountStore
    from graph.errors import StoreBusy
    from graph.neo4j_store import Neo4jStore

    for opened in (Neo4jStore, Neo4jAccountStore):
        for attempt in range(1, SCHEMA_OPENS + 1):
            try:
                opened(target.uri, user=target.user, password=target.password).close()
                break
            except StoreBusy:
                if attempt == SCHEMA_OPENS:
                    raise


@pytest.fixture(scope="session")
def neo4j_target() -> Iterator[Neo4jTarget | None]:
    """A real Neo4j server for the whole run: from NEO4J_URI, testcontainers or a local server."""
    with provide_neo4j() as target:
        yield target


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """A fresh, empty store of each kind."""
    if request.param == "embedded":
        embedded = EmbeddedStore(tmp_path / "trace.db")
        yield embedded
        embedded.close()
        return
    target = neo4j_or_skip(request)
    from graph.neo4j_store import Neo4jStore

    neo4j = Neo4jStore(target.uri, user=target.user, password=target.password)
    neo4j.wipe()
    yield neo4j
    neo4j.close()


@pytest.fixture
def events() -> Events:
    return Events()
