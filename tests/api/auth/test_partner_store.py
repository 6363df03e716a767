"""Federation in the account stores: company policies, partners and cached answers, on both."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from api.auth import rows
from api.auth.embedded import EmbeddedAccountStore
from api.auth.models import Company, Partner, PartnerAnswer
from api.auth.store import AccountStore
from graph.errors import BadRequest
from tests.api.auth.test_account_store import AWKWARD, T0, T1
from tests.conftest import neo4j_or_skip

KEY = "tgk_0123456789abcdef_s3cr3t_with_underscores"


def partner(company: str = "ACME", **changes: object) -> Partner:
    fields: dict[str, object] = {
        "company": company,
        "base_url": "http://127.0.0.1:9001",
        "api_key": KEY,
        "timeout_s": 2.5,
        "cache_ttl_s": 60,
        "created_at": T0,
    }
    fields.update(changes)
    return Partner(**fields)  # type: ignore[arg-type]


def test_federation_flags_of_a_company_read_back(accounts: AccountStore) -> None:
    profile = Company(
        "HOSP",
        "Hospital",
        "customer",
        created_at=T0,
        share_upstream=True,
        share_steps=False,
        reshare=True,
    )
    accounts.put_company(profile)
    assert accounts.company("HOSP") == profile
    assert accounts.companies() == [profile]


def test_a_company_shares_nothing_upstream_by_default(accounts: AccountStore) -> None:
    accounts.put_company(Company("HOSP", "Hospital", "customer", created_at=T0))
    found = accounts.company("HOSP")
    assert found is not None
    assert (found.share_upstream, found.share_steps, found.reshare) == (False, False, False)


def test_partner_reads_back_with_its_key(accounts: AccountStore) -> None:
    accounts.put_partner(partner())
    assert accounts.partner("ACME") == partner()
    assert accounts.partner("ACME-2") is None


def test_put_partner_replaces_it(accounts: AccountStore) -> None:
    accounts.put_partner(partner())
    changed = partner(base_url="https://acme.example:8443", timeout_s=9.0, cache_ttl_s=0)
    accounts.put_partner(changed)
    assert accounts.partners() == [changed]


def test_partners_are_ordered_by_company(accounts: AccountStore) -> None:
    for company in ["zeta", "ACME", "beta"]:
        accounts.put_partner(partner(company))
    assert [p.company for p in accounts.partners()] == ["ACME", "beta", "zeta"]


def test_removing_a_partner_drops_its_cached_answers_only(accounts: AccountStore) -> None:
    accounts.put_partner(partner("ACME"))
    accounts.put_partner(partner("BOLT"))
    accounts.put_partner_answer(PartnerAnswer("ACME", "up|3|H1", '{"a": 1}', T0))
    accounts.put_partner_answer(PartnerAnswer("BOLT", "up|3|H1", '{"b": 1}', T0))
    assert accounts.remove_partner("ACME") is True
    assert accounts.remove_partner("ACME") is False
    assert accounts.partner_answer("ACME", "up|3|H1") is None
    assert accounts.partner_answer("BOLT", "up|3|H1") == PartnerAnswer(
        "BOLT", "up|3|H1", '{"b": 1}', T0
    )
    assert [p.company for p in accounts.partners()] == ["BOLT"]


@pytest.mark.parametrize(
    "moved", [{"base_url": "https://acme.example:8443"}, {"api_key": KEY + "2"}]
)
def test_a_partner_at_a_new_address_or_key_forgets_its_cached_answers(
    accounts: AccountStore, moved: dict[str, object]
) -> None:
    accounts.put_partner(partner("ACME"))
    accounts.put_partner(partner("BOLT"))
    accounts.put_partner_answer(PartnerAnswer("ACME", "up|3|H1", '{"a": 1}', T0))
    accounts.put_partner_answer(PartnerAnswer("BOLT", "up|3|H1", '{"b": 1}', T0))
    accounts.put_partner(partner("ACME", timeout_s=9.0, cache_ttl_s=0))  # same place: kept
    assert accounts.partner_answer("ACME", "up|3|H1") is not None
    accounts.put_partner(partner("ACME", **moved))
    assert accounts.partner_answer("ACME", "up|3|H1") is None
    assert accounts.partner_answer("BOLT", "up|3|H1") is not None
    assert accounts.partner("ACME") == partner("ACME", **moved)


def test_cached_answers_are_kept_per_partner_and_request(accounts: AccountStore) -> None:
    first = PartnerAnswer("ACME", "up|3|H1", '{"v": 1}', T0)
    accounts.put_partner_answer(first)
    accounts.put_partner_answer(PartnerAnswer("ACME", "up|2|H1", '{"v": 2}', T0))
    newer = PartnerAnswer("ACME", "up|3|H1", '{"v": 3}', T1)
    accounts.put_partner_answer(newer)
    assert accounts.partner_answer("ACME", "up|3|H1") == newer
    assert accounts.partner_answer("ACME", "up|2|H1") is not None


def test_dropping_a_code_forgets_its_answers_to_every_hop_budget_and_depth(
    accounts: AccountStore,
) -> None:
    # Requests name the instances their question passed, or (cached earlier) none.
    dropped = ["up|3|H1", "up|2|H1", "up<=4|3|H1", "up via a,b|3|H1", "up<=4 via a,b|3|H1"]
    # Codes may hold '|': one that ends like H1 or starts like it is another code.
    kept = ["up|3|X|H1", "up|3|H1|2", "up<=4|3|H", "up|3|H10", "up<=4 via a,b|3|H10"]
    for request in dropped + kept:
        accounts.put_partner_answer(PartnerAnswer("ACME", request, "{}", T0))
    accounts.put_partner_answer(PartnerAnswer("BOLT", "up|3|H1", "{}", T0))
    accounts.drop_partner_answers("ACME", "H1")
    accounts.drop_partner_answers("ACME", "H1")  # dropping nothing is no error
    assert [r for r in dropped if accounts.partner_answer("ACME", r)] == []
    assert [r for r in kept if accounts.partner_answer("ACME", r)] == kept
    assert accounts.partner_answer("BOLT", "up|3|H1") is not None
    accounts.drop_partner_answers("ACME", "X|H1")
    assert accounts.partner_answer("ACME", "up|3|X|H1") is None


def test_a_large_answer_is_stored_whole(accounts: AccountStore) -> None:
    body = '{"nodes": "' + "x" * 2_000_000 + '"}'
    accounts.put_partner_answer(PartnerAnswer("ACME", "up|3|H1", body, T0))
    found = accounts.partner_answer("ACME", "up|3|H1")
    assert found is not None and found.answer == body


@pytest.mark.parametrize("text", AWKWARD, ids=lambda text: repr(text)[:24])
def test_awkward_partner_text_is_plain_data(accounts: AccountStore, text: str) -> None:
    accounts.put_partner(partner(text, base_url=text, api_key=text))
    accounts.put_partner_answer(PartnerAnswer(text, text, text, T0))
    assert accounts.partner(text) == partner(text, base_url=text, api_key=text)
    assert accounts.partner_answer(text, text) == PartnerAnswer(text, text, text, T0)
    assert accounts.remove_partner(text) is True
    assert accounts.partner_answer(text, text) is None


def test_over_long_partner_ids_are_refused(accounts: AccountStore) -> None:
    too_long = "k" * (rows.MAX_ID_BYTES + 1)
    with pytest.raises(BadRequest):
        accounts.put_partner(partner(too_long))
    with pytest.raises(BadRequest):
        accounts.put_partner_answer(PartnerAnswer("ACME", too_long, "{}", T0))
    assert accounts.partners() == []


def test_the_key_is_not_in_the_partners_repr() -> None:
    assert "s3cr3t" not in repr(partner())
    assert partner().masked_key == "tgk_0123456789abcdef_****"
    assert partner(api_key="something-else").masked_key == "****"


def test_an_older_embedded_file_gains_the_policy_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE companies (company TEXT PRIMARY KEY, name TEXT NOT NULL, "
            "kind TEXT NOT NULL, share_lot_ids INTEGER NOT NULL DEFAULT 0, "
            "created_at TEXT NOT NULL)"
        )
        conn.execute("INSERT INTO companies VALUES ('ACME', 'Acme', 'supplier', 1, ?)", (T0,))
    conn.close()
    store = EmbeddedAccountStore(path)
    try:
        assert store.company("ACME") == Company("ACME", "Acme", "supplier", True, T0)
        upgraded = Company("HOSP", "Hosp", "customer", created_at=T1, share_upstream=True)
        store.put_company(upgraded)
        assert store.company("HOSP") == upgraded
    finally:
        store.close()


def test_an_older_neo4j_profile_shares_nothing_upstream(request: pytest.FixtureRequest) -> None:
    target = neo4j_or_skip(request)
    from api.auth.neo4j import Neo4jAccountStore

    store = Neo4jAccountStore(target.uri, user=target.user, password=target.password)
    try:
        store.wipe()
        # A profile as stored before the federation flags existed.
        store._driver.execute_query(
            "CREATE (:CompanyProfile {company: 'ACME', name: 'Acme', kind: 'supplier', "
            "share_lot_ids: true, created_at: $at})",
            at=T0,
        )
        assert store.company("ACME") == Company("ACME", "Acme", "supplier", True, T0)
    finally:
        store.wipe()
        store.close()
