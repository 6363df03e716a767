"""What an account's name and site, and a partner company's id, may be: not the service's own
name; a site is an operator's, one its events may name, and a company id one events may name,
as the event contract reads them."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.auth.models import Role, UserInfo, UserRecord
from api.deps import Services
from graph.errors import BadRequest
from tests.api.conftest import FAST_HASHER, login
from tests.fixtures.events import Events

REFUSED_SITES = {
    "": "at least 1 character",
    "P" * 201: "at most 200 characters",
    "PLANT-1\u200b": "U+200B (ZERO WIDTH SPACE)",
    "PLANT-1\x1b[31m": "pattern",
}


@pytest.mark.parametrize(("site", "said"), REFUSED_SITES.items())
def test_an_operator_site_an_event_could_not_name_is_refused(
    client: TestClient, services: Services, site: str, said: str
) -> None:
    before = services.auth.users()
    user = {"username": "op9", "password": "x" * 12, "role": "operator", "site": site}
    refused = client.post("/api/v1/admin/users", json=user, headers=login(client, "admin"))
    assert refused.status_code in (400, 422) and said in refused.text
    assert "site" in refused.text
    with pytest.raises(BadRequest, match=re.escape(said)):
        services.auth.add_user("op9", "x" * 12, "operator", site=site)
    assert services.auth.users() == before


def test_an_operator_of_a_site_from_before_records_nothing_the_log_could_not_replay(
    client: TestClient, services: Services, events: Events
) -> None:
    # An account kept before its site was checked: its events would be recorded with that site.
    info = UserInfo("old-op", Role.OPERATOR, None, "", False, "2026-01-01T00:00:00Z")
    services.accounts.add_user(UserRecord(info, FAST_HASHER.hash("old-operator-pass")))
    token = client.post(
        "/api/v1/auth/token", data={"username": "old-op", "password": "old-operator-pass"}
    ).json()["access_token"]
    refused = client.post(
        "/api/v1/events",
        json=[events.receive("L-1", 5)],
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 422
    problem = refused.json()["errors"][0]
    assert problem["field"] == "site" and "your account's site ''" in problem["message"]
    assert services.store.counts()["events"] == 0


@pytest.mark.parametrize(
    ("role", "article"), [("admin", "an"), ("analyst", "an"), ("supplier", "a"), ("customer", "a")]
)
def test_a_site_is_refused_for_a_role_it_would_not_limit(
    client: TestClient, services: Services, role: str, article: str
) -> None:
    before = services.auth.users()
    company = {"supplier": "ACME-STEEL", "customer": "HOSP-NORTH"}.get(role)
    user = {"username": "x9", "password": "x" * 12, "role": role, "site": "PLANT-9"}
    refused = client.post(
        "/api/v1/admin/users", json=user | {"company": company}, headers=login(client, "admin")
    )
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        f"{article} {role} user is not bound to a site: sites are for operators"
    )
    assert services.auth.users() == before


@pytest.mark.parametrize("name", ["system", "SYSTEM"])
def test_no_new_account_takes_the_name_the_log_gives_the_service(
    client: TestClient, services: Services, name: str
) -> None:
    before = services.auth.users()
    user = {"username": name, "password": "x" * 12, "role": "admin"}
    refused = client.post("/api/v1/admin/users", json=user, headers=login(client, "admin"))
    assert refused.status_code == 400 and "the service's own name" in refused.json()["message"]
    with pytest.raises(BadRequest, match="the service's own name"):
        services.auth.add_first_admin(name, "x" * 12)
    assert services.auth.users() == before
    # One a store kept from before the name was reserved still opens.
    info = UserInfo("system", Role.ANALYST, None, None, False, "2026-01-01T00:00:00Z")
    services.accounts.add_user(UserRecord(info, FAST_HASHER.hash("old-system-pass")))
    login_form = {"username": "system", "password": "old-system-pass"}
    assert client.post("/api/v1/auth/token", data=login_form).status_code == 200


@pytest.mark.parametrize(
    ("company", "said"),
    [
        ("ACME\u200b-STEEL", "U+200B (ZERO WIDTH SPACE)"),
        ("ACME\u202eLEETS", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("ACME\x85X", "U+0085"),
        ("ACME\u00a0STEEL", "U+00A0 (NO-BREAK SPACE)"),
    ],
)
def test_a_company_id_no_event_could_name_is_refused(
    client: TestClient, services: Services, company: str, said: str
) -> None:
    before = services.auth.companies()
    body = {"company": company, "kind": "supplier"}
    refused = client.put("/api/v1/admin/companies", json=body, headers=login(client, "admin"))
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("company: 1-200 printable characters")
    assert said in refused.json()["message"]
    assert services.auth.companies() == before
