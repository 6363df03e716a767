"""A write that cannot get the store within the busy timeout is a 503 to retry, not a crash."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.auth import embedded as account_store
from api.deps import Services
from graph import embedded_store
from graph.errors import StoreBusy
from tests.api.conftest import login


def _short_busy_timeout(pragmas: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(
        "PRAGMA busy_timeout = 200" if p.startswith("PRAGMA busy_timeout") else p for p in pragmas
    )


@pytest.fixture
def held(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The store's write lock held by another connection, as a long rebuild holds it."""
    monkeypatch.setattr(embedded_store, "PRAGMAS", _short_busy_timeout(embedded_store.PRAGMAS))
    monkeypatch.setattr(account_store, "PRAGMAS", _short_busy_timeout(account_store.PRAGMAS))
    yield


def _hold(services: Services) -> sqlite3.Connection:
    writer = sqlite3.connect(services.store.url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    return writer


def test_an_ingest_while_the_store_is_held_is_a_503_to_retry(
    held: None, services: Services, client: TestClient
) -> None:
    headers = login(client, "operator")
    writer = _hold(services)
    try:
        event = {
            "event_id": "EV-BUSY-1",
            "type": "receive",
            "occurred_at": "2026-01-05T08:00:00Z",
            "supplier": "ACME",
            "supplier_lot": "H-1",
            "part": "BAR",
            "lot": "L-BUSY",
            "qty": "10",
        }
        answer = client.post("/api/v1/events", json=[event], headers=headers)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "store_busy"
    assert answer.headers["Retry-After"] == "5"
    again = client.post("/api/v1/events", json=[event], headers=headers)
    assert again.status_code == 201, again.text


def test_the_account_store_says_so_too(held: None, services: Services) -> None:
    accounts = account_store.EmbeddedAccountStore(services.store.url.removeprefix("sqlite:///"))
    writer = _hold(services)
    try:
        with pytest.raises(StoreBusy):
            accounts.remove_partner("ACME")  # any write
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        accounts.close()
