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
        started.append(throttle.attempt("ana", "10.0.0.1").failed())
        clock.now += 1
    # The third failure starts the lockout, and says so once, with how long it lasts.
    assert started == [[], [], [Lockout("account", 3, 60, 59)]]
    with pytest.raises(TooManyAttempts) as refused:
        throttle.attempt("ana", "10.0.0.9")  # from anywhere
    assert refused.value.retry_after == 58
    throttle.attempt("otto", "10.0.0.1").succeeded()  # another account is not held back
    clock.now += 58
    throttle.attempt("ana", "10.0.0.1").succeeded()


def test_a_client_guessing_across_accounts_is_held_back() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_account=100, per_client=4, window_s=60, clock=clock)
    started = []
    for name in ("a", "b", "c", "d"):
        started.append(throttle.attempt(name, "10.0.0.1").failed())
        clock.now += 1
    assert started == [[], [], [], [Lockout("client", 4, 60, 58)]]
    with pytest.raises(TooManyAttempts):
        throttle.attempt("e", "10.0.0.1")
    throttle.attempt("e", "10.0.0.2").succeeded()
    # Once the window has let the oldest failure go, failing again starts a new lockout.
    clock.now += 56
    assert throttle.attempt("e", "10.0.0.1").failed() == [Lockout("client", 4, 60, 2)]


def test_a_success_clears_the_accounts_failures() -> None:
    throttle = LoginThrottle(per_account=2, per_client=100, window_s=60, clock=Clock())
    throttle.attempt("ana", None).failed()
    throttle.attempt("ana", None).succeeded()
    throttle.attempt("ana", None).failed()
    throttle.attempt("ana", None).succeeded()


@pytest.mark.parametrize(
    ("kind", "per_account", "per_client"), [("account", 3, 100), ("client", 100, 3)]
)
def test_checks_under_way_count_against_the_limits(
    kind: str, per_account: int, per_client: int
) -> None:
    throttle = LoginThrottle(per_account=per_account, per_client=per_client, clock=Clock())
    first, second, third = (throttle.attempt("ana", "10.0.0.1") for _ in range(3))
    # Three checks under way fill the limit: a fourth waits for them to end.
    with pytest.raises(TooManyAttempts, match="being checked") as refused:
        throttle.attempt("ana", "10.0.0.1")
    assert refused.value.retry_after == 1
    # A success gives its place back and is no failure: the lockout takes three failures.
    second.succeeded()
    fourth = throttle.attempt("ana", "10.0.0.1")
    assert first.failed() == third.failed() == []
    assert fourth.failed() == [Lockout(kind, 3, 600, 601)]
    with pytest.raises(TooManyAttempts, match="failed logins"):
        throttle.attempt("ana", "10.0.0.1")


def test_a_check_that_could_not_be_made_gives_its_place_back() -> None:
    throttle = LoginThrottle(per_account=1, per_client=100, clock=Clock())
    with pytest.raises(OSError), throttle.attempt("ana", None):
        raise OSError("the store went away")
    with throttle.attempt("ana", None) as attempt:
        attempt.succeeded()
    assert throttle.attempt("ana", None).failed() == [Lockout("account", 1, 600, 601)]
    with pytest.raises(RuntimeError, match="already ended"):
        attempt.failed()


def test_names_tried_long_ago_are_forgotten() -> None:
    # Every name typed at a login is counted; once its window has passed it is dropped, or a
    # guesser trying names at random would grow the process's memory for good.
    clock = Clock()
    throttle = LoginThrottle(per_account=5, per_client=10_000, window_s=60, clock=clock)
    for i in range(1000):
        throttle.attempt(f"name-{i}", "10.0.0.1").failed()
    assert len(throttle._failures) == 1001  # each name, and the client
    clock.now += 61
    throttle.attempt("ana", "10.0.0.2").succeeded()
    assert len(throttle._failures) <= 2
