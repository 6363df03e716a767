"""Password guessing, bounded: failed logins per account and per client, in a sliding window.

Each server process keeps its own counts (several workers each allow as many); what they bound
is guessing, not a determined attacker with many addresses, which argon2's cost then slows.
The failure that starts a lockout says so (`failed` returns it), for the account audit trail.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from graph.errors import DomainError

PER_ACCOUNT = 5
PER_CLIENT = 30
WINDOW_S = 600.0


class TooManyAttempts(DomainError):
    status_code = 429
    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Lockout:
    """An account or a client that has just failed too often: refused until its oldest
    failure in the window leaves it."""

    by: str  # "account" or "client"
    failures: int
    window_s: int
    retry_after_s: int


class LoginThrottle:
    """Refuse a login once an account, or a client, has failed too often lately."""

    def __init__(
        self,
        per_account: int = PER_ACCOUNT,
        per_client: int = PER_CLIENT,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"account": per_account, "client": per_client}
        self._window = window_s
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, username: str, client: str | None) -> None:
        """Raise TooManyAttempts if the account or the client may not try now."""
        now = self._clock()
        with self._lock:
            for key in self._keys(username, client):
                failures = self._recent(key, now)
                if len(failures) >= self._limits[key[0]]:
                    wait = self._wait(failures, now)
                    raise TooManyAttempts(
                        f"too many failed logins for this {key[0]}: try again in {wait} s", wait
                    )

    def failed(self, username: str, client: str | None) -> list[Lockout]:
        """Count a failure; return the lockouts it starts (the account's, the client's)."""
        now = self._clock()
        started = []
        with self._lock:
            for key in self._keys(username, client):
                failures = self._recent(key, now)
                failures.append(now)
                if len(failures) == self._limits[key[0]]:
                    window = int(self._window)
                    started.append(
                        Lockout(key[0], len(failures), window, self._wait(failures, now))
                    )
        return started

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("account", username), None)

    def _wait(self, failures: deque[float], now: float) -> int:
        return int(failures[0] + self._window - now) + 1

    def _keys(self, username: str, client: str | None) -> list[tuple[str, str]]:
        keys = [("account", username)]
        if client is not None:
            keys.append(("client", client))
        return keys

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        return failures
