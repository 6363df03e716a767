"""Neo4j that goes away under open stores: every call says so as StoreUnavailable, in seconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from api.auth.neo4j import Neo4jAccountStore
from graph.errors import StoreUnavailable
from graph.neo4j_store import Neo4jStore
from graph.store import StoredEvent
from ingest.service import IngestService
from tests.conftest import neo4j_or_skip
from tests.fixtures.neo4j_server import Neo4jTarget
from tests.fixtures.tcp_proxy import Proxy

pytestmark = pytest.mark.neo4j

# The driver's defaults held each call 30 s and more; a lost server is said in some 3 s.
SAID_WITHIN = 10.0


def proxy_to(target: Neo4jTarget) -> Proxy:
    where = urlsplit(target.uri)
    return Proxy((where.hostname or "localhost", where.port or 7687))


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Neo4jTarget:
    return neo4j_or_skip(request)


@pytest.fixture
def proxy(target: Neo4jTarget) -> Iterator[Proxy]:
    proxy = proxy_to(target)
    yield proxy
    proxy.cut()


def _receive(lot: str) -> dict[str, str]:
    return {
        "event_id": f"EV-{lot}",
        "type": "receive",
        "occurred_at": "2026-01-05T08:00:00Z",
        "supplier": "ACME",
        "supplier_lot": f"H-{lot}",
        "part": "BAR",
        "lot": lot,
        "qty": "10",
    }


def _said_unavailable(call: Callable[[], Any]) -> str:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as raised:
        call()
    assert time.monotonic() - started < SAID_WITHIN
    message = raised.value.message
    assert "\n" not in message and "127.0.0.1" not in message, message
    return message


def test_the_graph_store_says_a_lost_server_is_unavailable(
    target: Neo4jTarget, proxy: Proxy
) -> None:
    store = Neo4jStore(f"bolt://127.0.0.1:{proxy.port}", user=target.user, password=target.password)
    try:
        store.wipe()
        ingest = IngestService(store)
        ingest.ingest([_receive("L-1")])
        proxy.cut()
        said = _said_unavailable(lambda: store.node("lot:L-1"))
        assert said.startswith("Neo4j, which holds the graph, does not answer")
        _said_unavailable(lambda: ingest.ingest([_receive("L-2")]))
        _said_unavailable(lambda: store.subgraph("lot:L-1", "down", None, None))
        _said_unavailable(lambda: store.write(lambda tx: tx.next_lot_sequence('["S", "X"]')))
        _said_unavailable(lambda: ingest.rebuild())
    finally:
        store.close()


def test_the_account_store_says_a_lost_server_is_unavailable(
    target: Neo4jTarget, proxy: Proxy
) -> None:
    accounts = Neo4jAccountStore(
        f"bolt://127.0.0.1:{proxy.port}", user=target.user, password=target.password
    )
    try:
        accounts.user("nobody")
        proxy.cut()
        said = _said_unavailable(lambda: accounts.user("nobody"))
        assert said.startswith("Neo4j, which holds the accounts, does not answer")
        _said_unavailable(lambda: accounts.drop_tokens("nobody"))
    finally:
        accounts.close()


def test_a_server_that_cannot_be_reached_at_start_is_said_on_one_line(
    target: Neo4jTarget, proxy: Proxy
) -> None:
    proxy.cut()
    url = f"bolt://127.0.0.1:{proxy.port}"
    for opening in (Neo4jStore, Neo4jAccountStore):
        with pytest.raises(StoreUnavailable, match=f"cannot reach Neo4j at {url}: ") as raised:
            opening(url, user=target.user, password=target.password)
        assert "\n" not in raised.value.message


def test_a_rebuild_whose_server_went_away_says_it_is_unavailable(
    target: Neo4jTarget, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not that another rebuild may have taken over: the lease was lost with the server."""
    store = Neo4jStore(f"bolt://127.0.0.1:{proxy.port}", user=target.user, password=target.password)
    try:
        store.wipe()
        IngestService(store).ingest([_receive("L-1"), _receive("L-2")])
        read = store.events

        def then_gone(after_seq: int, limit: int) -> list[StoredEvent]:
            page = read(after_seq, limit)
            if after_seq > 0:  # the first chunk is written: the graph is part rebuilt
                proxy.cut()
            return page

        monkeypatch.setattr(store, "events", then_gone)
        said = _said_unavailable(lambda: IngestService(store).rebuild(chunk=1))
        assert said.startswith("Neo4j, which holds the graph, stopped answering during a rebuild")
        assert "run it again once Neo4j is back" in said
    finally:
        store.close()
