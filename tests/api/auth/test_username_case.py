"""A login name is one account whatever its case, on both account stores: `Ana` is refused
while `ana` exists, and `ANA` logs in as `ana`, as long as that names one account (a store
from before may hold both, and then each logs in by its exact name alone)."""

from __future__ import annotations

import pytest

from api.auth.models import Role, UserInfo, UserRecord
from api.auth.service import AuthService
from api.auth.store import AccountStore
from api.auth.throttle import PER_ACCOUNT, LoginThrottle, TooManyAttempts
from graph.errors import BadRequest, Conflict, Unauthenticated
from tests.api.conftest import FAST_HASHER

T0 = "2026-01-01T00:00:00.000000Z"
ANAS, OTHERS = "password-of-ana", "password-of-Ana"


@pytest.fixture
def auth(accounts: AccountStore) -> AuthService:
    return AuthService(accounts, hasher=FAST_HASHER)


def _as_stored(accounts: AccountStore, username: str, password: str) -> None:
    """Keep `username` as an older store (or a copy of one) may hold it, beside one alike."""
    info = UserInfo(username, Role.ANALYST, None, None, False, T0, T0)
    accounts.add_user(UserRecord(info, FAST_HASHER.hash(password)), copied=True)


def test_a_name_alike_in_case_is_refused_by_name_and_changes_nothing(
    accounts: AccountStore, auth: AuthService
) -> None:
    auth.add_user("ana", ANAS, "analyst")
    before = accounts.account_events()

    with pytest.raises(Conflict, match=r"^username 'Ana' is taken: by 'ana'"):
        auth.add_user("Ana", OTHERS, "admin")

    assert [user.info.username for user in accounts.users()] == ["ana"]
    assert accounts.account_events() == before


def test_the_first_admin_alike_in_case_is_refused_too(auth: AuthService) -> None:
    auth.add_user("root", ANAS, "analyst")

    with pytest.raises(Conflict, match=r"^username 'ROOT' is taken: by 'root'"):
        auth.add_first_admin("ROOT", OTHERS)


def test_a_name_held_exactly_beside_one_alike_is_refused_as_taken(
    accounts: AccountStore, auth: AuthService
) -> None:
    auth.add_user("ana", ANAS, "analyst")
    _as_stored(accounts, "Ana", OTHERS)

    with pytest.raises(Conflict, match=r"^username 'ana' is taken$"):
        auth.add_user("ana", ANAS, "analyst")


def test_a_name_alike_in_case_is_checked_after_the_company_and_the_admin(
    auth: AuthService,
) -> None:
    auth.add_first_admin("root", ANAS)
    auth.put_company("c1", "Customer One", "customer")
    auth.add_user("acme", ANAS, "analyst")

    with pytest.raises(Conflict, match=r"^an admin exists already"):
        auth.add_first_admin("ROOT", OTHERS)
    with pytest.raises(BadRequest, match=r"^company 'c1' is a customer, not a supplier"):
        auth.add_user("ACME", OTHERS, "supplier", company="c1")


def test_a_login_in_another_case_is_the_accounts_own(
    accounts: AccountStore, auth: AuthService
) -> None:
    auth.add_user("ana", ANAS, "analyst", must_change=False)

    token = auth.login("ANA", ANAS, client="10.0.0.9").access_token

    assert auth.principal_from_token(token).username == "ana"
    logged = accounts.account_events()[-1]
    assert (logged.action, logged.subject, logged.actor) == ("logged_in", "ana", "ana")


def test_a_password_change_in_another_case_changes_the_accounts_own(auth: AuthService) -> None:
    auth.add_user("ana", ANAS, "analyst")

    auth.change_password("Ana", ANAS, "a-new-password")

    assert auth.login("ana", "a-new-password").access_token


def test_names_alike_in_case_held_from_before_log_in_by_their_exact_names_alone(
    accounts: AccountStore, auth: AuthService
) -> None:
    auth.add_user("ana", ANAS, "analyst")
    _as_stored(accounts, "Ana", OTHERS)

    assert auth.principal_from_token(auth.login("ana", ANAS).access_token).username == "ana"
    assert auth.principal_from_token(auth.login("Ana", OTHERS).access_token).username == "Ana"
    for password in (ANAS, OTHERS):
        with pytest.raises(Unauthenticated, match="wrong username or password"):
            auth.login("ANA", password)


def test_the_store_finds_the_login_of_a_name_as_one_account_or_exactly(
    accounts: AccountStore,
) -> None:
    _as_stored(accounts, "bob", ANAS)
    _as_stored(accounts, "ana", ANAS)
    _as_stored(accounts, "Ana", OTHERS)

    found = {name: accounts.login_user(name) for name in ("BOB", "ana", "Ana", "ANA", "carol")}

    assert {name: record and record.info.username for name, record in found.items()} == {
        "BOB": "bob",
        "ana": "ana",
        "Ana": "Ana",
        "ANA": None,
        "carol": None,
    }


def test_guesses_in_other_cases_count_against_the_one_account(auth: AuthService) -> None:
    auth.add_user("ana", ANAS, "analyst")
    for guess, name in zip(range(PER_ACCOUNT), ["ana", "ANA", "Ana", "aNa", "anA"], strict=True):
        with pytest.raises(Unauthenticated):
            auth.login(name, f"wrong-guess-{guess}", client=f"10.0.0.{guess}")

    with pytest.raises(TooManyAttempts):
        auth.login("ana", ANAS, client="10.0.1.1")


def test_a_login_to_one_of_names_alike_forgives_its_own_failures_alone(
    accounts: AccountStore, auth: AuthService
) -> None:
    auth.add_user("ana", ANAS, "analyst")
    _as_stored(accounts, "Ana", OTHERS)
    for guess in range(PER_ACCOUNT - 1):
        with pytest.raises(Unauthenticated):
            auth.login("ana", f"wrong-guess-{guess}", client=f"10.0.0.{guess}")

    auth.login("Ana", OTHERS, client="10.0.1.1")  # Ana's own failures, none, are forgiven
    with pytest.raises(Unauthenticated):
        auth.login("ana", "one-guess-more", client="10.0.1.2")

    with pytest.raises(TooManyAttempts):
        auth.login("ana", ANAS, client="10.0.1.3")


def test_failures_in_another_case_are_kept_under_the_account_with_the_name_typed(
    accounts: AccountStore,
) -> None:
    auth = AuthService(accounts, hasher=FAST_HASHER, throttle=LoginThrottle(per_account=2))
    auth.add_user("ana", ANAS, "analyst")
    for name in ("ANA", "Ana"):
        with pytest.raises(Unauthenticated):
            auth.login(name, "wrong-guess-333", client="10.0.0.7")
    with pytest.raises(Unauthenticated):
        auth.login("nobody", "wrong-guess-333", client="10.0.0.7")

    trail = [
        (e.actor, e.action, e.subject, e.detail.get("typed")) for e in accounts.account_events()
    ]
    assert trail[1:] == [
        ("ana", "login_failed", "ana", "ANA"),
        ("ana", "login_failed", "ana", "Ana"),
        ("ana", "login_throttled", "ana", "Ana"),
        ("nobody", "login_failed", "nobody", None),
    ]


@pytest.mark.parametrize("also_stored", [False, True])
def test_a_refusal_tells_nothing_of_which_names_alike_exist(
    accounts: AccountStore, auth: AuthService, also_stored: bool
) -> None:
    # Whether a store from before also holds `Ana` must not change what a guesser is told.
    auth.add_user("ana", ANAS, "analyst")
    if also_stored:
        _as_stored(accounts, "Ana", OTHERS)
    for guess in range(PER_ACCOUNT):
        with pytest.raises(Unauthenticated):
            auth.login("ana", f"wrong-guess-{guess}", client=f"10.0.0.{guess}")

    with pytest.raises(TooManyAttempts):
        auth.login("Ana", "wrong-guess-9", client="10.0.1.1")


def test_a_refused_login_reads_no_account(
    accounts: AccountStore, auth: AuthService, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth.add_user("ana", ANAS, "analyst")
    for guess in range(PER_ACCOUNT):
        with pytest.raises(Unauthenticated):
            auth.login("ana", f"wrong-guess-{guess}", client=f"10.0.0.{guess}")
    read: list[str] = []
    login_user = accounts.login_user

    def reading(name: str) -> UserRecord | None:
        read.append(name)
        return login_user(name)

    monkeypatch.setattr(accounts, "login_user", reading)

    with pytest.raises(TooManyAttempts):
        auth.login("ANA", ANAS, client="10.0.1.1")
    assert read == []
