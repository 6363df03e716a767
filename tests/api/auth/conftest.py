"""The account store of each kind, fresh and empty: the embedded one and a real Neo4j."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.auth.embedded import EmbeddedAccountStore
from api.auth.store import AccountStore
from tests.conftest import STORE_KINDS, neo4j_or_skip


@pytest.fixture(params=STORE_KINDS)
def accounts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AccountStore]:
    """A fresh, empty account store of each kind."""
    if request.param == "embedded":
        embedded = EmbeddedAccountStore(tmp_path / "trace.db")
        yield embedded
        embedded.close()
        return
    target = neo4j_or_skip(request)
    from api.auth.neo4j import Neo4jAccountStore

    neo4j = Neo4jAccountStore(target.uri, user=target.user, password=target.password)
    neo4j.wipe()
    yield neo4j
    neo4j.close()
