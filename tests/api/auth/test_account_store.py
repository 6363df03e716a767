"""One behavioural suite for every account store: the embedded one and a real Neo4j."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from api.auth import rows
from api.auth.connect import open_account_store
from api.auth.embedded import EmbeddedAccountStore
from api.auth.models import (
    ApiKeyInfo,
    ApiKeyRecord,
    Company,
    Role,
    TokenRecord,
    UserInfo,
    UserRecord,
)
from api.auth.store import AccountStore
from graph.embedded_store import EmbeddedStore
from graph.errors import BadRequest, Conflict
from tests.conftest import neo4j_or_skip

T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-01T00:00:01.000000Z"
T2 = "2026-01-01T00:00:02.000000Z"
T3 = "2026-01-01T00:00:03.000000Z"

# Ids that would break a query built by pasting text; a store must keep them as plain data.
AWKWARD = [
    "o'brien",
    'say "hi"',
    "{braces} and [brackets]",
    "$username",
    "back\\slash",
    "x'}) MATCH (n) DETACH DELETE n //",
    'x"; DROP TABLE users; --',
    "' OR '1'='1",
    "tab\tnew\nline",
    "ünïcødé 漢字",
]
LONG = "k" * 10_000


def user(
    username: str,
    role: Role = Role.ANALYST,
    *,
    company: str | None = None,
    site: str | None = None,
    disabled: bool = False,
    password_hash: str = "hash",
) -> UserRecord:
    return UserRecord(UserInfo(username, role, company, site, disabled, T0), password_hash)


def key(
    key_id: str,
    username: str = "alice",
    *,
    created_at: str = T0,
    label: str = "ci",
    revoked_at: str | None = None,
) -> ApiKeyRecord:
    return ApiKeyRecord(ApiKeyInfo(key_id, username, label, created_at, revoked_at), "secret")


def company(company_id: str, name: str = "Acme", kind: str = "supplier") -> Company:
    return Company(company_id, name, kind, share_lot_ids=False, created_at=T0)


# Users


def test_added_user_reads_back(accounts: AccountStore) -> None:
    record = user("sam", Role.SUPPLIER, company="acme", site="plant-1", password_hash="h$1")
    accounts.add_user(record)
    assert accounts.user("sam") == record


def test_user_without_company_or_site_reads_back_with_none(accounts: AccountStore) -> None:
    accounts.add_user(user("alice", Role.ADMIN))
    found = accounts.user("alice")
    assert found is not None
    assert (found.info.company, found.info.site, found.info.role) == (None, None, Role.ADMIN)


def test_unknown_user_is_none(accounts: AccountStore) -> None:
    assert accounts.user("nobody") is None


def test_users_are_ordered_by_username(accounts: AccountStore) -> None:
    names = ["bob", "alice", "Zed", "émile", "carol", "alice2", "10", "9"]
    for name in names:
        accounts.add_user(user(name))
    assert [record.info.username for record in accounts.users()] == sorted(names)


def test_no_users_is_an_empty_list(accounts: AccountStore) -> None:
    assert accounts.users() == []


def test_taken_username_conflicts_and_changes_nothing(accounts: AccountStore) -> None:
    original = user("alice", Role.ADMIN, password_hash="first")
    accounts.add_user(original)
    with pytest.raises(Conflict):
        accounts.add_user(user("alice", Role.CUSTOMER, company="evil", password_hash="second"))
    assert accounts.user("alice") == original
    assert accounts.users() == [original]


def test_disable_then_enable(accounts: AccountStore) -> None:
    accounts.add_user(user("alice"))
    assert accounts.set_disabled("alice", True) is True
    disabled = accounts.user("alice")
    assert disabled is not None and disabled.info.disabled is True
    assert accounts.set_disabled("alice", False) is True
    enabled = accounts.user("alice")
    assert enabled is not None and enabled.info.disabled is False


def test_disabling_ends_the_users_sessions_only(accounts: AccountStore) -> None:
    accounts.add_user(user("alice"))
    accounts.add_user(user("bob"))
    for token_hash, owner in (("th1", "alice"), ("th2", "alice"), ("th3", "bob")):
        accounts.add_token(TokenRecord(token_hash, owner, T1))
    assert accounts.set_disabled("alice", False) is True  # enabling ends none
    assert accounts.token("th1") == TokenRecord("th1", "alice", T1)
    assert accounts.set_disabled("alice", True) is True
    assert accounts.token("th1") is None and accounts.token("th2") is None
    assert accounts.token("th3") == TokenRecord("th3", "bob", T1)


def test_disabling_twice_is_still_true(accounts: AccountStore) -> None:
    accounts.add_user(user("alice"))
    assert accounts.set_disabled("alice", True) is True
    assert accounts.set_disabled("alice", True) is True


def test_disabling_an_unknown_user_is_false_and_creates_nobody(accounts: AccountStore) -> None:
    assert accounts.set_disabled("nobody", True) is False
    assert accounts.user("nobody") is None
    assert accounts.users() == []


# API keys


def test_added_key_reads_back(accounts: AccountStore) -> None:
    record = key("k1", "alice", label="nightly export")
    accounts.add_key(record)
    assert accounts.key("k1") == record


def test_unknown_key_is_none(accounts: AccountStore) -> None:
    assert accounts.key("missing") is None


def test_taken_key_id_conflicts_and_changes_nothing(accounts: AccountStore) -> None:
    original = key("k1", "alice")
    accounts.add_key(original)
    with pytest.raises(Conflict):
        accounts.add_key(key("k1", "mallory", created_at=T1, label="other"))
    assert accounts.key("k1") == original
    assert accounts.keys(None) == [original]


def test_keys_of_one_user_are_ordered_by_creation_then_id(accounts: AccountStore) -> None:
    accounts.add_key(key("k-c", "alice", created_at=T1))
    accounts.add_key(key("k-b", "alice", created_at=T0))
    accounts.add_key(key("k-a", "alice", created_at=T1))
    accounts.add_key(key("k-z", "bob", created_at=T0))
    assert [k.info.key_id for k in accounts.keys("alice")] == ["k-b", "k-a", "k-c"]
    assert [k.info.key_id for k in accounts.keys("bob")] == ["k-z"]


def test_all_keys_are_ordered_by_creation_then_id(accounts: AccountStore) -> None:
    accounts.add_key(key("k-3", "bob", created_at=T2))
    accounts.add_key(key("k-2", "alice", created_at=T1))
    accounts.add_key(key("k-1", "bob", created_at=T1))
    accounts.add_key(key("k-0", "carol", created_at=T0))
    assert [k.info.key_id for k in accounts.keys(None)] == ["k-0", "k-1", "k-2", "k-3"]


def test_keys_of_a_user_without_keys_is_empty(accounts: AccountStore) -> None:
    accounts.add_key(key("k1", "alice"))
    assert accounts.keys("bob") == []


def test_revoke_marks_a_live_key_once(accounts: AccountStore) -> None:
    accounts.add_key(key("k1"))
    assert accounts.revoke_key("k1", T1) is True
    revoked = accounts.key("k1")
    assert revoked is not None and revoked.info.revoked_at == T1
    assert accounts.revoke_key("k1", T2) is False
    again = accounts.key("k1")
    assert again is not None and again.info.revoked_at == T1


def test_revoking_an_unknown_key_is_false(accounts: AccountStore) -> None:
    assert accounts.revoke_key("missing", T1) is False
    assert accounts.keys(None) == []


def test_revoking_a_key_stored_revoked_is_false(accounts: AccountStore) -> None:
    accounts.add_key(key("k1", revoked_at=T0))
    assert accounts.revoke_key("k1", T1) is False
    stored = accounts.key("k1")
    assert stored is not None and stored.info.revoked_at == T0


def test_revoked_keys_are_still_listed(accounts: AccountStore) -> None:
    accounts.add_key(key("k1"))
    accounts.revoke_key("k1", T1)
    assert [k.info.revoked_at for k in accounts.keys("alice")] == [T1]


def test_concurrent_revokes_of_one_key_succeed_once(accounts: AccountStore) -> None:
    accounts.add_key(key("k1"))
    moments = [f"2026-01-01T00:00:{second:02d}.000000Z" for second in range(1, 9)]
    with ThreadPoolExecutor(max_workers=len(moments)) as pool:
        results = list(pool.map(lambda at: accounts.revoke_key("k1", at), moments))
    assert results.count(True) == 1
    stored = accounts.key("k1")
    assert stored is not None and stored.info.revoked_at == moments[results.index(True)]


# Access tokens


def test_added_token_reads_back(accounts: AccountStore) -> None:
    token = TokenRecord("th1", "alice", T1)
    accounts.add_token(token)
    assert accounts.token("th1") == token


def test_a_login_token_is_added_only_while_its_password_is_the_users(
    accounts: AccountStore,
) -> None:
    accounts.add_user(user("alice", password_hash="current"))
    accounts.add_user(user("bob", password_hash="bobs", disabled=True))
    assert accounts.add_token(TokenRecord("th1", "alice", T1), password_hash="current") is True
    assert accounts.add_token(TokenRecord("th2", "alice", T1), password_hash="replaced") is False
    assert accounts.add_token(TokenRecord("th3", "bob", T1), password_hash="bobs") is False
    assert accounts.add_token(TokenRecord("th4", "ghost", T1), password_hash="any") is False
    assert accounts.token("th1") == TokenRecord("th1", "alice", T1)
    assert [accounts.token(t) for t in ("th2", "th3", "th4")] == [None, None, None]
    with pytest.raises(Conflict):
        accounts.add_token(TokenRecord("th1", "alice", T3), password_hash="current")
    assert accounts.token("th1") == TokenRecord("th1", "alice", T1)


def test_unknown_token_is_none(accounts: AccountStore) -> None:
    assert accounts.token("missing") is None


def test_stored_token_hash_conflicts_and_changes_nothing(accounts: AccountStore) -> None:
    original = TokenRecord("th1", "alice", T1)
    accounts.add_token(original)
    with pytest.raises(Conflict):
        accounts.add_token(TokenRecord("th1", "mallory", T3))
    assert accounts.token("th1") == original


def test_drop_expired_tokens_drops_those_due_by_now(accounts: AccountStore) -> None:
    accounts.add_token(TokenRecord("past", "alice", T0))
    accounts.add_token(TokenRecord("now", "alice", T1))
    accounts.add_token(TokenRecord("future", "alice", T2))
    assert accounts.drop_expired_tokens(T1) == 2
    assert accounts.token("past") is None
    assert accounts.token("now") is None
    assert accounts.token("future") == TokenRecord("future", "alice", T2)
    assert accounts.drop_expired_tokens(T1) == 0


def test_drop_expired_tokens_compares_times_not_lengths(accounts: AccountStore) -> None:
    # Fixed-width ISO UTC strings order as times: a later day beats more micro-seconds.
    accounts.add_token(TokenRecord("late-in-day", "alice", "2025-12-31T23:59:59.999999Z"))
    accounts.add_token(TokenRecord("next-year", "alice", "2026-01-02T00:00:00.000000Z"))
    assert accounts.drop_expired_tokens(T0) == 1
    assert accounts.token("late-in-day") is None
    assert accounts.token("next-year") is not None


# Companies


def test_put_company_reads_back(accounts: AccountStore) -> None:
    profile = Company("acme", "Acme Castings", "supplier", share_lot_ids=True, created_at=T0)
    accounts.put_company(profile)
    assert accounts.company("acme") == profile


def test_status_sharing_reads_back(accounts: AccountStore) -> None:
    profile = Company("acme", "Acme", "supplier", created_at=T0, share_statuses=True)
    accounts.put_company(profile)
    assert accounts.company("acme") == profile
    accounts.put_company(Company("acme", "Acme", "supplier", created_at=T1))
    assert accounts.company("acme") == Company("acme", "Acme", "supplier", created_at=T1)


def test_older_file_gains_the_status_sharing_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE companies (company TEXT PRIMARY KEY, name TEXT NOT NULL, "
            "kind TEXT NOT NULL, share_lot_ids INTEGER NOT NULL DEFAULT 0, "
            "created_at TEXT NOT NULL)"
        )
        old.execute("INSERT INTO companies VALUES ('acme', 'Acme', 'supplier', 1, ?)", (T0,))
    opened = EmbeddedAccountStore(path)
    assert opened.company("acme") == Company("acme", "Acme", "supplier", True, T0, False)
    opened.close()


def test_put_company_replaces_the_profile(accounts: AccountStore) -> None:
    accounts.put_company(Company("acme", "Acme", "supplier", share_lot_ids=True, created_at=T0))
    replacement = Company("acme", "Acme Medical", "customer", share_lot_ids=False, created_at=T1)
    accounts.put_company(replacement)
    assert accounts.company("acme") == replacement
    assert accounts.companies() == [replacement]


def test_unknown_company_is_none(accounts: AccountStore) -> None:
    assert accounts.company("nobody") is None


def test_companies_are_ordered_by_id(accounts: AccountStore) -> None:
    for company_id in ["zeta", "acme", "Beta", "mid"]:
        accounts.put_company(company(company_id))
    assert [c.company for c in accounts.companies()] == ["Beta", "acme", "mid", "zeta"]


# Awkward ids are data


@pytest.mark.parametrize("text", AWKWARD, ids=lambda text: repr(text)[:24])
def test_awkward_text_is_stored_as_plain_data(accounts: AccountStore, text: str) -> None:
    person = user(text, Role.SUPPLIER, company=text, site=text, password_hash=text)
    accounts.add_user(person)
    api_key = key(text, text, label=text)
    accounts.add_key(api_key)
    token = TokenRecord(text, text, T1)
    accounts.add_token(token)
    profile = Company(text, text, "customer", share_lot_ids=True, created_at=T0)
    accounts.put_company(profile)

    assert accounts.user(text) == person
    assert accounts.users() == [person]
    assert accounts.token(text) == token
    assert accounts.set_disabled(text, True) is True
    assert accounts.token(text) is None  # its session ended with it
    assert accounts.key(text) == api_key
    assert accounts.keys(text) == [api_key]
    assert accounts.revoke_key(text, T2) is True
    assert accounts.company(text) == profile
    assert accounts.companies() == [profile]
    with pytest.raises(Conflict):
        accounts.add_user(person)


def test_ten_kilobyte_text_is_stored_as_plain_data(accounts: AccountStore) -> None:
    person = user("alice", Role.CUSTOMER, company=LONG, site=LONG, password_hash=LONG)
    accounts.add_user(person)
    api_key = ApiKeyRecord(ApiKeyInfo("k1", "alice", LONG, T0, None), LONG)
    accounts.add_key(api_key)
    profile = Company("acme", LONG, "customer", share_lot_ids=False, created_at=T0)
    accounts.put_company(profile)
    assert accounts.user("alice") == person
    assert accounts.key("k1") == api_key
    assert accounts.company("acme") == profile


# The limit counts UTF-8 bytes, not characters: 1365 three-byte characters fit, as do 4096 ASCII.
AT_THE_LIMIT = ["k" * rows.MAX_ID_BYTES, "漢" * (rows.MAX_ID_BYTES // 3)]


@pytest.mark.parametrize("text", AT_THE_LIMIT, ids=["ascii", "three-byte"])
def test_ids_up_to_the_limit_are_stored(accounts: AccountStore, text: str) -> None:
    accounts.add_user(user(text))
    accounts.add_key(key(text, text))
    accounts.add_token(TokenRecord(text, text, T1))
    accounts.put_company(company(text))
    assert accounts.user(text) == user(text)
    assert accounts.keys(text) == [key(text, text)]
    assert accounts.token(text) == TokenRecord(text, text, T1)
    assert accounts.company(text) == company(text)


def test_over_long_ids_are_refused_and_nothing_is_written(accounts: AccountStore) -> None:
    too_long = "k" * (rows.MAX_ID_BYTES + 1)
    with pytest.raises(BadRequest):
        accounts.add_user(user(too_long))
    with pytest.raises(BadRequest):
        accounts.add_key(key(too_long))
    with pytest.raises(BadRequest):
        accounts.add_key(key("k1", too_long))
    with pytest.raises(BadRequest):
        accounts.add_token(TokenRecord(too_long, "alice", T1))
    with pytest.raises(BadRequest):
        accounts.put_company(company(LONG))
    assert accounts.users() == []
    assert accounts.keys(None) == []
    assert accounts.drop_expired_tokens(T3) == 0
    assert accounts.companies() == []


def test_over_long_ids_are_simply_not_found(accounts: AccountStore) -> None:
    assert accounts.user(LONG) is None
    assert accounts.set_disabled(LONG, True) is False
    assert accounts.key(LONG) is None
    assert accounts.keys(LONG) == []
    assert accounts.revoke_key(LONG, T1) is False
    assert accounts.token(LONG) is None
    assert accounts.company(LONG) is None


def test_awkward_ids_do_not_match_each_other(accounts: AccountStore) -> None:
    for text in AWKWARD:
        accounts.add_user(user(text))
    assert [r.info.username for r in accounts.users()] == sorted(AWKWARD)
    assert accounts.user("%") is None
    assert accounts.user("*") is None


# The embedded store's file


def test_embedded_accounts_share_the_graph_store_file(tmp_path: Path) -> None:
    path = tmp_path / "trace.db"
    graph = EmbeddedStore(path)
    accounts = EmbeddedAccountStore(path)
    try:
        accounts.add_user(user("alice"))
        assert graph.counts()["events"] == 0
        assert accounts.user("alice") is not None
    finally:
        accounts.close()
        graph.close()


def test_embedded_accounts_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "trace.db"
    first = EmbeddedAccountStore(path)
    first.add_user(user("alice"))
    first.add_key(key("k1"))
    first.close()
    second = EmbeddedAccountStore(path)
    try:
        assert second.user("alice") == user("alice")
        assert second.key("k1") == key("k1")
    finally:
        second.close()


def test_embedded_store_serves_many_threads(tmp_path: Path) -> None:
    accounts = EmbeddedAccountStore(tmp_path / "trace.db")
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda n: accounts.add_user(user(f"user-{n:03d}")), range(64)))
        assert len(accounts.users()) == 64
    finally:
        accounts.close()


# Opening by URL


def test_sqlite_url_opens_the_embedded_store(tmp_path: Path) -> None:
    accounts = open_account_store(f"sqlite:///{tmp_path / 'trace.db'}")
    try:
        assert isinstance(accounts, EmbeddedAccountStore)
    finally:
        accounts.close()


def test_neo4j_url_opens_the_neo4j_store(request: pytest.FixtureRequest) -> None:
    target = neo4j_or_skip(request)
    from api.auth.neo4j import Neo4jAccountStore

    accounts = open_account_store(target.uri, user=target.user, password=target.password)
    try:
        assert isinstance(accounts, Neo4jAccountStore)
    finally:
        accounts.close()


def test_unknown_url_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        open_account_store("postgres://localhost/trace")


def test_a_users_tokens_are_dropped_together_and_only_theirs(accounts: AccountStore) -> None:
    for token_hash, user in (("th1", "alice"), ("th2", "alice"), ("th3", "bob")):
        accounts.add_token(TokenRecord(token_hash, user, T1))
    assert accounts.drop_tokens("alice") == 2
    assert accounts.token("th1") is None and accounts.token("th2") is None
    assert accounts.token("th3") == TokenRecord("th3", "bob", T1)


def test_a_new_password_ends_that_users_sessions_only(accounts: AccountStore) -> None:
    accounts.add_user(user("alice", password_hash="old"))
    accounts.add_user(user("bob", password_hash="bobs"))
    for token_hash, owner in (("th1", "alice"), ("th2", "alice"), ("th3", "bob")):
        accounts.add_token(TokenRecord(token_hash, owner, T1))
    assert accounts.set_password("alice", "new", T1) is True
    found = accounts.user("alice")
    assert found is not None and found.password_hash == "new"
    assert (found.info.password_set_at, found.previous_hashes) == (T1, ("old",))
    assert not found.info.must_change_password
    assert accounts.set_password("alice", "newer", T1, must_change=True) is True
    again = accounts.user("alice")
    assert again is not None and again.info.must_change_password
    assert again.previous_hashes == ("new", "old")
    assert accounts.token("th1") is None and accounts.token("th2") is None
    assert accounts.token("th3") == TokenRecord("th3", "bob", T1)
    bob = accounts.user("bob")
    assert bob is not None and bob.password_hash == "bobs"


def test_a_new_password_for_nobody_is_false_and_creates_nobody(accounts: AccountStore) -> None:
    accounts.add_token(TokenRecord("th1", "ghost", T1))
    assert accounts.set_password("ghost", "new", T1) is False
    assert accounts.user("ghost") is None
    assert accounts.token("th1") == TokenRecord("th1", "ghost", T1)


def test_one_token_is_dropped_alone(accounts: AccountStore) -> None:
    accounts.add_token(TokenRecord("th1", "alice", T1))
    accounts.add_token(TokenRecord("th2", "alice", T1))
    assert accounts.drop_token("th1") is True
    assert accounts.drop_token("th1") is False
    assert accounts.token("th1") is None
    assert accounts.token("th2") == TokenRecord("th2", "alice", T1)
