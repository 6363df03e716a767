"""Password guessing, bounded: failed logins per account and per client, in a sliding window.

Each server process keeps its own counts (several workers each allow as many); what they bound
is guessing, not a determined attacker with many addresses, which argon2's cost then slows.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

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
                    wait = int(failures[0] + self._window - now) + 1
                    raise TooManyAttempts(
                        f"too many failed logins for this {key[0]}: try again in {wait} s", wait
                    )

    def failed(self, username: str, client: str | None) -> None:
        now = self._clock()
        with self._lock:
            for key in self._keys(username, client):
                self._recent(key, now).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(("account", username), None)

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
