"""Password guessing, bounded: failed logins per account and per client, in a sliding window.

Each server process keeps its own counts (several workers each allow as many); what they bound
is guessing, not a determined attacker with many addresses, which argon2's cost then slows.
The failure that starts a lockout says so (`Attempt.failed` returns it), for the account audit
trail.
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
    """Refuse a login once an account, or a client, has failed too often lately.

    A password check is slow (argon2), so the checks under way count against the limits too:
    guesses sent at once would otherwise all be let through before the first had failed.
    """

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
        # Each failure: when, and the account it was aimed at (None: at none, or at a client).
        self._failures: dict[tuple[str, str], deque[tuple[float, str | None]]] = {}
        self._under_way: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._swept = clock()

    def attempt(self, username: str, client: str | None) -> Attempt:
        """Hold a place for one password check of the account from the client, or raise
        TooManyAttempts if either has failed, or is being checked, as often as it may."""
        now = self._clock()
        keys = self._keys(username, client)
        with self._lock:
            self._sweep(now)
            for key in keys:
                failures = self._failures.get(key) or deque()
                self._forget_old(failures, now)
                limit = self._limits[key[0]]
                if len(failures) >= limit:
                    wait = self._wait(failures, now)
                    raise TooManyAttempts(
                        f"too many failed logins for this {key[0]}: try again in {wait} s", wait
                    )
                if len(failures) + self._under_way.get(key, 0) >= limit:
                    # The checks under way end within a second or so, failed or not.
                    raise TooManyAttempts(
                        f"too many logins for this {key[0]} are being checked: try again in 1 s",
                        1,
                    )
            for key in keys:
                self._under_way[key] = self._under_way.get(key, 0) + 1
        return Attempt(self, keys)

    def _failed(self, keys: list[tuple[str, str]], aimed: str | None) -> list[Lockout]:
        started = []
        with self._lock:
            now = self._clock()  # under the lock: each name's failures stay in time order
            self._release(keys)
            for key in keys:
                failures = self._recent(key, now)
                failures.append((now, aimed if key[0] == "account" else None))
                if len(failures) == self._limits[key[0]]:
                    window = int(self._window)
                    started.append(
                        Lockout(key[0], len(failures), window, self._wait(failures, now))
                    )
        return started

    def _succeeded(self, keys: list[tuple[str, str]], account: str | None) -> None:
        with self._lock:
            self._release(keys)
            failures = self._failures.pop(keys[0], None)  # the account's; the client's stay
            if failures is not None and account is not None:
                # Names alike in case share a count (an older store may hold `ana` and `Ana`):
                # a success forgives only what was aimed at its own account.
                kept = deque(f for f in failures if f[1] != account)
                if kept:
                    self._failures[keys[0]] = kept

    def _ended(self, keys: list[tuple[str, str]]) -> None:
        with self._lock:
            self._release(keys)

    def _release(self, keys: list[tuple[str, str]]) -> None:
        for key in keys:
            left = self._under_way[key] - 1
            if left:
                self._under_way[key] = left
            else:
                del self._under_way[key]

    def _wait(self, failures: deque[tuple[float, str | None]], now: float) -> int:
        return int(failures[0][0] + self._window - now) + 1

    def _keys(self, username: str, client: str | None) -> list[tuple[str, str]]:
        keys = [("account", username)]
        if client is not None:
            keys.append(("client", client))
        return keys

    def _recent(self, key: tuple[str, str], now: float) -> deque[tuple[float, str | None]]:
        failures = self._failures.setdefault(key, deque())
        self._forget_old(failures, now)
        return failures

    def _forget_old(self, failures: deque[tuple[float, str | None]], now: float) -> None:
        while failures and failures[0][0] <= now - self._window:
            failures.popleft()

    def _sweep(self, now: float) -> None:
        """Once a window, drop the accounts and clients with no failure left in it: every
        name ever typed at a login would otherwise stay counted, at zero, for good."""
        if now - self._swept < self._window:
            return
        self._swept = now
        cutoff = now - self._window
        for key in [
            k for k, failures in self._failures.items() if not failures or failures[-1][0] <= cutoff
        ]:
            del self._failures[key]


class Attempt:
    """One password check under way, counted against the limits until it ends: as a failure,
    which stays counted for the window; as a success, which does not; or, left as a context
    manager without either (the check could not be made), as nothing."""

    def __init__(self, throttle: LoginThrottle, keys: list[tuple[str, str]]) -> None:
        self._throttle = throttle
        self._keys: list[tuple[str, str]] | None = keys

    def failed(self, aimed: str | None = None) -> list[Lockout]:
        """Count the failure, aimed at the account so named (None: none was found); return the
        lockouts it starts (the account's, the client's)."""
        return self._throttle._failed(self._ending(), aimed)

    def succeeded(self, account: str | None = None) -> None:
        """End the check; the failures aimed at `account` are forgiven (with None, all the
        name's)."""
        self._throttle._succeeded(self._ending(), account)

    def _ending(self) -> list[tuple[str, str]]:
        if self._keys is None:
            raise RuntimeError("this attempt has already ended")
        keys, self._keys = self._keys, None
        return keys

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._keys is not None:
            self._throttle._ended(self._ending())
