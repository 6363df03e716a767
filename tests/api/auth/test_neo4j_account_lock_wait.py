"""On Neo4j an account write waits a bounded time for a lock another client holds (the audit
trail's counter, which every audited write takes, a user's node), then is StoreBusy and changes
nothing, as a write of the graph does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Final

import pytest

from api.auth.models import AccountEvent, Company
from api.auth.neo4j import Neo4jAccountStore
from api.auth.rows import made_a_change
from graph import neo4j_driver
from graph.errors import StoreBusy
from tests.conftest import neo4j_or_skip
from tests.fixtures.neo4j_server import Neo4jTarget, lock_held

T0 = "2026-03-01T08:00:00Z"
# As an audited write takes it, in a transaction that hangs open (its client stopped).
TAKE_TRAIL: Final = "MERGE (c:AccountEventCounter {name: 'trail'}) SET c.seq = coalesce(c.seq, 0)"


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Neo4jTarget:
    return neo4j_or_skip(request)


@pytest.fixture
def accounts(target: Neo4jTarget, monkeypatch: pytest.MonkeyPatch) -> Iterator[Neo4jAccountStore]:
    monkeypatch.setattr(neo4j_driver, "LOCK_WAIT", 1.0)
    opened = Neo4jAccountStore(target.uri, user=target.user, password=target.password)
    opened.wipe()
    yield opened
    opened.close()


def test_an_audited_write_gives_up_waiting_for_the_trail(
    accounts: Neo4jAccountStore, target: Neo4jTarget
) -> None:
    accounts.note(AccountEvent(T0, "boss", "login_failed", "ana", {}))  # the trail exists
    with lock_held(target, TAKE_TRAIL, 6.0):
        began = time.monotonic()
        with pytest.raises(StoreBusy) as busy:
            accounts.note(AccountEvent(T0, "boss", "login_failed", "bob", {}))
        waited = time.monotonic() - began
    assert 1.0 <= waited < 4.0
    assert "held a lock of the accounts" in busy.value.message
    assert "still waited on 1 s or more after it began" in busy.value.message
    assert "nothing was changed" in busy.value.message
    assert [event.subject for event in accounts.account_events()] == ["ana"]
    with lock_held(target, TAKE_TRAIL, 0.3):  # had within the bound
        accounts.note(AccountEvent(T0, "boss", "login_failed", "bob", {}))
    assert [event.subject for event in accounts.account_events()] == ["ana", "bob"]


def test_a_write_that_blocks_only_after_the_bound_is_ended_too(
    accounts: Neo4jAccountStore, target: Neo4jTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not looked at once as the bound is reached: the write then between its statements (its
    client slow, say) is ended when it blocks on its next one."""
    accounts.note(AccountEvent(T0, "boss", "login_failed", "ana", {}))
    changed = made_a_change

    def slow(result: object) -> bool:  # between the change and its audit entry
        time.sleep(1.5)
        return changed(result)

    monkeypatch.setattr("api.auth.neo4j.made_a_change", slow)
    noted = AccountEvent(T0, "boss", "company_added", "ACME", {})
    with lock_held(target, TAKE_TRAIL, 8.0):
        began = time.monotonic()
        with pytest.raises(StoreBusy, match="held a lock of the accounts"):
            accounts.put_company(Company("ACME", "Acme", "supplier"), noted=noted)
        waited = time.monotonic() - began
    assert 1.5 <= waited < 5.0
    assert accounts.company("ACME") is None
    assert [event.subject for event in accounts.account_events()] == ["ana"]
