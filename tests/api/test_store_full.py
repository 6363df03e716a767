"""An embedded store that cannot write its file (a full disk) is a 503 and exit code 3 naming the
problem, not a crash; what failed is not stored.

SQLite's cap on a file's pages, set at the file's size, stands in for the full disk: a write
that needs one more page fails as on a full disk (SQLITE_FULL), deterministically.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.embedded import EmbeddedAccountStore
from api.cli import EXIT_UNAVAILABLE, main
from api.deps import Services
from api.settings import Settings
from graph import embedded_store
from graph.embedded_store import EmbeddedStore
from tests.api.conftest import login, services_on
from tests.fixtures.events import Events

FULL = "the embedded store cannot read or write its file (database or disk is full)"


def _disk_full_from_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections to a graph store opened from now on may not grow its file."""
    capped = (*embedded_store.PRAGMAS, "PRAGMA max_page_count = 1")  # 1: no more pages than now
    monkeypatch.setattr(embedded_store, "PRAGMAS", capped)


def _receipts(events: Events, count: int) -> list[dict[str, Any]]:
    """Enough events to need new pages in the log and the graph."""
    return [events.receive(f"L-{n}", 10, supplier_lot=f"H-{n}") for n in range(count)]


def _logged(path: Path) -> int:
    store = EmbeddedStore(path)
    try:
        return store.counts()["events"]
    finally:
        store.close()


@pytest.fixture
def full_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    path = tmp_path / "full.db"
    services_on(path).close()
    _disk_full_from_now(monkeypatch)
    services = Services.for_stores(EmbeddedStore(path), EmbeddedAccountStore(path))
    with TestClient(create_app(Settings(store=f"sqlite:///{path}"), services)) as client:
        yield client
    services.close()


def test_an_ingest_into_a_full_store_is_a_503_in_the_error_shape(
    full_client: TestClient, tmp_path: Path, events: Events
) -> None:
    headers = login(full_client, "operator")

    answer = full_client.post("/api/v1/events", json=_receipts(events, 300), headers=headers)

    assert answer.status_code == 503, answer.text
    assert answer.json() == {
        "error": "store_unavailable",
        "message": f"{FULL}: free space on its disk, or check the disk and the file, then try "
        "again",
    }
    assert _logged(tmp_path / "full.db") == 0


def test_an_ingest_into_a_full_store_over_graphql_says_so(
    full_client: TestClient, tmp_path: Path, events: Events
) -> None:
    headers = login(full_client, "operator")
    query = "mutation($e: JSON!) { ingest(events: $e) { __typename } }"
    body = {"query": query, "variables": {"e": _receipts(events, 300)}}

    (error,) = full_client.post("/graphql", json=body, headers=headers).json()["errors"]

    assert error["message"].startswith(FULL)
    assert error["extensions"] == {"code": "STORE_UNAVAILABLE", "status": 503}
    assert error["path"] == ["ingest"]
    assert _logged(tmp_path / "full.db") == 0


def test_a_full_store_is_logged_once_for_the_operator_over_rest_and_graphql(
    full_client: TestClient, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    headers = login(full_client, "operator")
    query = "mutation($e: JSON!) { ingest(events: $e) { __typename } }"
    body = {"query": query, "variables": {"e": _receipts(events, 300)}}

    with caplog.at_level(logging.ERROR):
        full_client.post("/api/v1/events", json=_receipts(events, 300), headers=headers)
        full_client.post("/graphql", json=body, headers=headers)

    failed = [r for r in caplog.records if "store failed" in r.getMessage()]
    assert [r.name for r in failed] == ["tracegraph.store", "tracegraph.store"]


def test_an_ingest_into_a_full_store_on_the_command_line_is_one_line_and_exit_3(
    tmp_path: Path,
    events: Events,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "full.db"
    EmbeddedStore(path).close()
    _disk_full_from_now(monkeypatch)
    batch = tmp_path / "events.json"
    batch.write_text(json.dumps(_receipts(events, 300)))

    assert main(["ingest", str(batch), "--store", f"sqlite:///{path}"]) == EXIT_UNAVAILABLE

    err = capsys.readouterr().err
    assert err.startswith(f"error: {FULL}") and len(err.strip().splitlines()) == 1
    assert _logged(path) == 0
