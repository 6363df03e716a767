"""Password guessing is bounded per account and per client, in a sliding window."""

from __future__ import annotations

import pytest

from api.auth.throttle import Lockout, LoginThrottle, TooManyAttempts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_account_that_failed_too_often_waits_out_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_account=3, per_client=100, window_s=60, clock=clock)
    started = []
    for _ in range(3):
        throttle.check("ana", "10.0.0.1")
        started.append(throttle.failed("ana", "10.0.0.1"))
        clock.now += 1
    # The third failure starts the lockout, and says so once, with how long it lasts.
    assert started == [[], [], [Lockout("account", 3, 60, 59)]]
    with pytest.raises(TooManyAttempts) as refused:
        throttle.check("ana", "10.0.0.9")  # from anywhere
    assert refused.value.retry_after == 58
    throttle.check("otto", "10.0.0.1")  # another account is not held back
    clock.now += 58
    throttle.check("ana", "10.0.0.1")


def test_a_client_guessing_across_accounts_is_held_back() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_account=100, per_client=4, window_s=60, clock=clock)
    started = []
    for name in ("a", "b", "c", "d"):
        started.append(throttle.failed(name, "10.0.0.1"))
        clock.now += 1
    assert started == [[], [], [], [Lockout("client", 4, 60, 58)]]
    with pytest.raises(TooManyAttempts):
        throttle.check("e", "10.0.0.1")
    throttle.check("e", "10.0.0.2")
    # Once the window has let the oldest failure go, failing again starts a new lockout.
    clock.now += 56
    throttle.check("e", "10.0.0.1")
    assert throttle.failed("e", "10.0.0.1") == [Lockout("client", 4, 60, 2)]


def test_a_success_clears_the_accounts_failures() -> None:
    throttle = LoginThrottle(per_account=2, per_client=100, window_s=60, clock=Clock())
    throttle.failed("ana", None)
    throttle.succeeded("ana")
    throttle.failed("ana", None)
    throttle.check("ana", None)
