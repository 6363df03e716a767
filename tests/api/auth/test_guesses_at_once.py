"""Wrong passwords sent at once are held to the throttle's limits as if sent one by one.

A password check takes a while (argon2): the guesses here are made to overlap every time by a
hasher whose checks wait until every guess the throttle turns away has been answered.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from argon2 import PasswordHasher

from api.auth.service import AuthService
from api.auth.store import AccountStore
from graph.errors import DomainError

PASSWORD = "a-long-enough-password"
GUESSES = 20
LET_THROUGH = 5  # the throttle's failures per account


class _HeldHasher(PasswordHasher):
    """A fast hasher whose password checks wait until `go` is set."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.go = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.go.wait(timeout=30)
        return super().verify(hash, password)


def _log_in(auth: AuthService, guess: str) -> None:
    auth.login("ana", guess, "10.0.0.1")


def _change(auth: AuthService, guess: str) -> None:
    auth.change_password("ana", guess, "another-long-password", "10.0.0.1")


@pytest.mark.parametrize(("attempt", "name"), [(_log_in, "login"), (_change, "password_change")])
def test_guesses_sent_at_once_pass_the_throttle_no_more_than_one_by_one(
    accounts: AccountStore, attempt: Callable[[AuthService, str], None], name: str
) -> None:
    hasher = _HeldHasher()
    auth = AuthService(accounts, hasher=hasher)
    auth.add_user("ana", PASSWORD, "analyst")
    outcomes: list[str] = []
    answered = threading.Semaphore(0)

    def guess(number: int) -> None:
        try:
            attempt(auth, f"wrong-guess-{number}")
        except DomainError as refusal:
            outcomes.append(refusal.code)
        finally:
            answered.release()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(GUESSES)]
    try:
        for thread in threads:
            thread.start()
        # Those held back are answered while the ones let through are still being checked.
        deadline, held_back = time.monotonic() + 10, 0
        while held_back < GUESSES - LET_THROUGH and answered.acquire(
            timeout=max(0.0, deadline - time.monotonic())
        ):
            held_back += 1
    finally:
        hasher.go.set()
        for thread in threads:
            thread.join()
    assert held_back == GUESSES - LET_THROUGH
    assert Counter(outcomes) == {
        "unauthenticated": LET_THROUGH,
        "too_many_attempts": GUESSES - LET_THROUGH,
    }
    # The checks end at once, so their entries may come in any order.
    trail = Counter(e.action for e in accounts.account_events(subject="ana"))
    assert trail == {"user_added": 1, f"{name}_failed": LET_THROUGH, "login_throttled": 1}
