"""A read of the embedded store that meets an I/O error of its file is a 503, and leaves the
connection it ran on fit for the next request.

SQLite cannot be made to fail a read on demand, so the graph store's connections fail one read
transaction as a failing disk would: its COMMIT, or a query after which SQLite rolled the
transaction back itself (as it does after an I/O error).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import login, services_on

IO_ERROR = "the embedded store cannot read or write its file (disk I/O error)"
WINDOW = "/api/v1/equipment/E-1/window?from=2024-01-01T00:00:00Z&to=2024-02-01T00:00:00Z"


class FailingDisk(sqlite3.Connection):
    """A connection whose next read transaction (BEGIN, not BEGIN IMMEDIATE) fails at `fails`."""

    fails: str | None = None  # "COMMIT", or "query"
    reading = False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
        if sql.startswith("BEGIN"):
            self.reading = sql == "BEGIN"
        elif self.reading and FailingDisk.fails in (sql, "query"):
            at, FailingDisk.fails = FailingDisk.fails, None
            if at == "query":
                super().execute("ROLLBACK")
            error = sqlite3.OperationalError("disk I/O error")
            error.sqlite_errorcode = sqlite3.SQLITE_IOERR  # type: ignore[attr-defined]
            raise error
        return super().execute(sql, *args)


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, **k, factory=FailingDisk))
    services = services_on(tmp_path / "api.db")
    with TestClient(create_app(Settings(store=services.store.url), services)) as test_client:
        yield test_client
    services.close()


@pytest.mark.parametrize("fails", ["COMMIT", "query"])
def test_a_read_that_meets_an_io_error_is_a_503_and_the_next_read_is_answered(
    client: TestClient, fails: str
) -> None:
    headers = login(client, "analyst")
    assert client.get(WINDOW, headers=headers).status_code == 200

    FailingDisk.fails = fails
    answer = client.get(WINDOW, headers=headers)

    assert answer.status_code == 503, answer.text
    assert answer.json()["message"].startswith(IO_ERROR)
    for _ in range(3):  # on whichever of the server's threads it lands
        again = client.get(WINDOW, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json() == {"equipment": "equipment:E-1", "steps": []}
