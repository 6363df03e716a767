"""Logging in, API keys, and what happens without or with wrong credentials."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import service as auth_service
from api.auth.models import TEMPORARY_PASSWORD_HOURS
from api.auth.service import AuthService
from api.deps import Services
from api.settings import Settings
from tests.api.conftest import FAST_HASHER, PASSWORDS, login

PROTECTED = [
    ("GET", "/api/v1/trace?id=lot:L-1"),
    ("GET", "/api/v1/nodes/lot:L-1"),
    ("GET", "/api/v1/equipment/LATHE-1/window?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z"),
    ("POST", "/api/v1/events"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/admin/users"),
    ("POST", "/graphql"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_credentials_is_401(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, json={"query": "{ me { username } }"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    bad = client.request(method, path, headers={"Authorization": "Bearer tga_forged"})
    assert bad.status_code == 401


def test_login_and_me(client: TestClient) -> None:
    me = client.get("/api/v1/me", headers=login(client, "supplier")).json()
    assert me == {"username": "acme", "role": "supplier", "company": "ACME-STEEL", "site": None}


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient) -> None:
    wrong = client.post(
        "/api/v1/auth/token", data={"username": "ana", "password": "nope-nope-nope"}
    )
    unknown = client.post(
        "/api/v1/auth/token", data={"username": "zed", "password": "nope-nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_disabling_a_user_stops_their_token(client: TestClient) -> None:
    token = login(client, "analyst")
    admin = login(client, "admin")
    assert client.post("/api/v1/admin/users/ana/disable", headers=admin).status_code == 200
    assert client.get("/api/v1/me", headers=token).status_code == 401
    refused = client.post(
        "/api/v1/auth/token", data={"username": "ana", "password": "demo-analyst-pass"}
    )
    assert refused.status_code == 401
    client.post("/api/v1/admin/users/ana/enable", headers=admin)
    # Enabled again, the account logs in afresh: the token of before stays dead (it may have
    # been the reason to disable the account).
    assert client.get("/api/v1/me", headers=token).status_code == 401
    assert client.get("/api/v1/me", headers=login(client, "analyst")).status_code == 200


def test_api_keys_are_shown_once_and_can_be_revoked(client: TestClient) -> None:
    admin = login(client, "admin")
    created = client.post(
        "/api/v1/admin/keys", json={"username": "otto", "label": "scanner 3"}, headers=admin
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert client.get("/api/v1/me", headers={"X-API-Key": key}).json()["username"] == "otto"
    listed = client.get("/api/v1/admin/keys", headers=admin).json()
    assert [k["label"] for k in listed] == ["scanner 3"] and "key" not in listed[0]
    assert key not in str(listed)
    client.delete(f"/api/v1/admin/keys/{created.json()['key_id']}", headers=admin)
    assert client.get("/api/v1/me", headers={"X-API-Key": key}).status_code == 401
    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    assert client.get("/api/v1/me", headers={"X-API-Key": tampered}).status_code == 401


@pytest.mark.parametrize("role", ["analyst", "operator", "supplier", "customer"])
def test_only_admins_administer(client: TestClient, role: str) -> None:
    headers = login(client, role)
    assert client.get("/api/v1/admin/users", headers=headers).status_code == 403
    body = {"username": "mallory", "password": "long-enough-pass", "role": "admin"}
    assert client.post("/api/v1/admin/users", json=body, headers=headers).status_code == 403
    assert (
        client.post("/api/v1/admin/keys", json={"username": "admin"}, headers=headers).status_code
        == 403
    )


def test_admin_manages_users_and_companies(client: TestClient) -> None:
    admin = login(client, "admin")
    company = {"company": "TUBECO", "name": "Tube Co", "kind": "supplier"}
    assert client.put("/api/v1/admin/companies", json=company, headers=admin).status_code == 200
    user = {
        "username": "tube",
        "password": "tube-supplier-pass",
        "role": "supplier",
        "company": "TUBECO",
    }
    assert client.post("/api/v1/admin/users", json=user, headers=admin).status_code == 201
    again = client.post("/api/v1/admin/users", json=user, headers=admin)
    assert again.status_code == 409
    unbound = dict(user, username="tube2", company=None)
    assert (
        "bound to a company"
        in client.post("/api/v1/admin/users", json=unbound, headers=admin).json()["message"]
    )
    wrong_kind = dict(user, username="tube3", company="HOSP-NORTH")
    assert client.post("/api/v1/admin/users", json=wrong_kind, headers=admin).status_code == 400
    short = dict(user, username="tube4", password="short")
    assert client.post("/api/v1/admin/users", json=short, headers=admin).status_code == 400
    # "$" in a pattern also matches before a final newline: names are matched whole.
    newline = dict(user, username="tube5\n")
    assert client.post("/api/v1/admin/users", json=newline, headers=admin).status_code == 400
    trailing = dict(company, company="NEWCO\n")
    assert client.put("/api/v1/admin/companies", json=trailing, headers=admin).status_code == 400
    # TUBECO has a supplier account: turning it into a customer would make that account one.
    turned = dict(company, kind="customer")
    refused = client.put("/api/v1/admin/companies", json=turned, headers=admin)
    assert refused.status_code == 409 and "tube" in refused.json()["message"]
    assert client.put("/api/v1/admin/companies", json=company, headers=admin).status_code == 200


def test_analyst_records_status_events_only(client: TestClient) -> None:
    headers = login(client, "analyst")
    receive = {
        "event_id": "R-1",
        "type": "receive",
        "occurred_at": "2026-01-01T00:00:00Z",
        "supplier": "S",
        "supplier_lot": "A",
        "part": "P",
        "lot": "L-1",
        "qty": "1",
    }
    assert client.post("/api/v1/events", json=[receive], headers=headers).status_code == 403
    for role in ("supplier", "customer"):
        assert (
            client.post("/api/v1/events", json=[receive], headers=login(client, role)).status_code
            == 403
        )


def test_a_request_with_no_credentials_is_refused_before_its_body_is_read(
    client: TestClient,
) -> None:
    # A malformed multipart body would be a 400 if it were read; unread, it is a plain 401.
    bare = client.post(
        "/api/v1/recalls/RC-1/answers",
        content=b"--x\\r\\n" * 1000,
        headers={"content-type": "multipart/form-data"},
    )
    assert bare.status_code == 401 and bare.json()["error"] == "unauthenticated"
    assert client.post("/api/v1/admin/users", content=b"{bad json").status_code == 401
    assert client.post("/graphql", content=b"{bad json").status_code == 401
    # The token exchange itself stays open, and public pages need nothing.
    assert (
        client.post("/api/v1/auth/token", data={"username": "x", "password": "y"}).status_code
        == 401
    )
    assert client.get("/healthz").status_code == 200


def test_password_guessing_is_answered_429_with_a_time_to_wait(client: TestClient) -> None:
    for _ in range(5):
        wrong = client.post("/api/v1/auth/token", data={"username": "ana", "password": "guess"})
        assert wrong.status_code == 401
    held = client.post(
        "/api/v1/auth/token", data={"username": "ana", "password": "demo-analyst-pass"}
    )
    assert held.status_code == 429 and held.json()["error"] == "too_many_attempts"
    assert 0 < int(held.headers["Retry-After"]) <= 600
    # The trail keeps the failures and that the throttle started, not each refusal after it.
    admin = login(client, "admin")
    trail = client.get("/api/v1/admin/audit", params={"subject": "ana"}, headers=admin).json()
    assert [e["action"] for e in trail][-6:] == ["login_failed"] * 5 + ["login_throttled"]
    detail = trail[-1]["detail"]
    assert (detail["by"], detail["failures"], detail["window_s"]) == ("account", 5, 600)
    assert 0 < detail["retry_after_s"] <= 600 and detail["client"] == "testclient"


def test_logging_out_ends_that_session_only(client: TestClient) -> None:
    first, second = login(client, "analyst"), login(client, "analyst")
    answer = client.post("/api/v1/auth/logout", headers=first)
    assert answer.status_code == 200 and answer.json()["status"] == "logged out"
    assert client.get("/api/v1/me", headers=first).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=first).status_code == 401
    assert client.get("/api/v1/me", headers=second).status_code == 200
    trail = client.get("/api/v1/admin/audit", headers=login(client, "admin")).json()
    ended = [e for e in trail if e["action"] == "logged_out"]
    assert [(e["actor"], e["subject"], e["detail"]) for e in ended] == [
        ("ana", "ana", {"client": "testclient"})
    ]


def test_an_api_key_has_no_session_to_log_out(client: TestClient) -> None:
    admin = login(client, "admin")
    key = client.post("/api/v1/admin/keys", json={"username": "otto"}, headers=admin).json()
    refused = client.post("/api/v1/auth/logout", headers={"X-API-Key": key["key"]})
    assert refused.status_code == 400 and "revokes API keys" in refused.text
    assert client.get("/api/v1/me", headers={"X-API-Key": key["key"]}).status_code == 200


def _log_in(client: TestClient, username: str, password: str) -> int:
    form = {"username": username, "password": password}
    return client.post("/api/v1/auth/token", data=form).status_code


def test_changing_ones_password_needs_the_current_one_and_ends_every_session(
    client: TestClient,
) -> None:
    session, other = login(client, "operator"), login(client, "operator")
    admin = login(client, "admin")
    key = client.post("/api/v1/admin/keys", json={"username": "otto"}, headers=admin).json()
    change = {"current_password": "not-the-password", "new_password": "otto-new-pass-1"}
    wrong = client.post("/api/v1/me/password", json=change, headers=session)
    assert wrong.status_code == 401
    assert _log_in(client, "otto", "otto-new-pass-1") == 401  # nothing changed
    change["current_password"] = "demo-operator-pass"
    change["new_password"] = "short"
    assert client.post("/api/v1/me/password", json=change, headers=session).status_code == 400
    change["new_password"] = "demo-operator-pass"
    same = client.post("/api/v1/me/password", json=change, headers=session)
    assert same.status_code == 400 and "is the current one" in same.text
    change["new_password"] = "otto-new-pass-1"
    assert client.post("/api/v1/me/password", json=change, headers=session).status_code == 200
    assert client.get("/api/v1/me", headers=session).status_code == 401
    assert client.get("/api/v1/me", headers=other).status_code == 401
    assert client.get("/api/v1/me", headers={"X-API-Key": key["key"]}).status_code == 200
    assert _log_in(client, "otto", "demo-operator-pass") == 401
    assert _log_in(client, "otto", "otto-new-pass-1") == 200


def test_guessing_the_current_password_is_throttled_as_logins_are(client: TestClient) -> None:
    session = login(client, "analyst")
    change = {"current_password": "guess-0000", "new_password": "analyst-new-pass"}
    statuses = []
    for guess in range(12):
        change["current_password"] = f"guess-{guess:04d}"
        statuses.append(client.post("/api/v1/me/password", json=change, headers=session))
    assert statuses[0].status_code == 401 and statuses[-1].status_code == 429
    assert "retry-after" in statuses[-1].headers


def test_an_admin_sets_a_forgotten_password_which_the_user_replaces_before_logging_in(
    client: TestClient,
) -> None:
    admin, session = login(client, "admin"), login(client, "customer")
    body = {"password": "north-new-pass-1"}
    assert client.post("/api/v1/admin/users/north/password", json=body, headers=admin).is_success
    assert client.get("/api/v1/me", headers=session).status_code == 401
    form = {"username": "north", "password": "north-new-pass-1"}
    refused = client.post("/api/v1/auth/token", data=form)
    assert refused.status_code == 403 and refused.json()["error"] == "password_change_required"
    assert "POST /api/v1/auth/password" in refused.json()["message"]
    listed = client.get("/api/v1/admin/users", headers=admin).json()
    assert next(u for u in listed if u["username"] == "north")["must_change_password"] is True
    change = {
        "username": "north",
        "current_password": "north-new-pass-1",
        "new_password": "north-own-pass-2",
    }
    assert client.post("/api/v1/auth/password", json=change).status_code == 200
    assert _log_in(client, "north", "north-new-pass-1") == 401
    assert _log_in(client, "north", "north-own-pass-2") == 200
    listed = client.get("/api/v1/admin/users", headers=admin).json()
    assert next(u for u in listed if u["username"] == "north")["must_change_password"] is False
    # An admin may set a password the user keeps (a service account, say), saying so.
    kept = {"password": "north-kept-pass-3", "must_change_password": False}
    assert client.post("/api/v1/admin/users/north/password", json=kept, headers=admin).is_success
    assert _log_in(client, "north", "north-kept-pass-3") == 200
    missing = client.post("/api/v1/admin/users/nobody/password", json=body, headers=admin)
    assert missing.status_code == 404
    short = client.post("/api/v1/admin/users/north/password", json={"password": "x"}, headers=admin)
    assert short.status_code == 400
    forbidden = client.post(
        "/api/v1/admin/users/admin/password", json=body, headers=login(client, "analyst")
    )
    assert forbidden.status_code == 403
    assert _log_in(client, "admin", "north-new-pass-1") == 401


def test_a_new_account_sets_its_own_password_before_its_first_login(client: TestClient) -> None:
    admin = login(client, "admin")
    user = {"username": "newcomer", "password": "given-by-admin-1", "role": "analyst"}
    created = client.post("/api/v1/admin/users", json=user, headers=admin)
    assert created.status_code == 201 and created.json()["must_change_password"] is True
    assert _log_in(client, "newcomer", "given-by-admin-1") == 403
    # The admin's password is not the user's: it is not accepted as the new one either.
    same = {
        "username": "newcomer",
        "current_password": "given-by-admin-1",
        "new_password": "given-by-admin-1",
    }
    assert client.post("/api/v1/auth/password", json=same).status_code == 400
    assert _log_in(client, "newcomer", "given-by-admin-1") == 403
    own = same | {"new_password": "newcomers-own-2"}
    assert client.post("/api/v1/auth/password", json=own).status_code == 200
    assert _log_in(client, "newcomer", "newcomers-own-2") == 200
    machine = {"username": "scanner-7", "password": "kept-as-given-3", "role": "operator"}
    machine["must_change_password"] = False  # type: ignore[assignment]
    assert client.post("/api/v1/admin/users", json=machine, headers=admin).status_code == 201
    assert _log_in(client, "scanner-7", "kept-as-given-3") == 200


def test_a_password_an_admin_set_and_left_unused_lapses(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = login(client, "admin")
    user = {"username": "newcomer", "password": "given-by-admin-1", "role": "analyst"}
    assert client.post("/api/v1/admin/users", json=user, headers=admin).status_code == 201
    later = datetime.now(UTC) + timedelta(hours=TEMPORARY_PASSWORD_HOURS, minutes=1)
    monkeypatch.setattr(auth_service, "_now", lambda: later)
    form = {"username": "newcomer", "password": "given-by-admin-1"}
    change = {
        "username": "newcomer",
        "current_password": "given-by-admin-1",
        "new_password": "newcomers-own-2",
    }
    for refused in (
        client.post("/api/v1/auth/token", data=form),
        client.post("/api/v1/auth/password", json=change),
    ):
        assert refused.status_code == 403
        assert refused.json()["error"] == "temporary_password_expired"
        assert "ask an admin to set a new one" in refused.json()["message"]
    again = {"password": "given-again-3"}
    admin = login(client, "admin")
    assert client.post(
        "/api/v1/admin/users/newcomer/password", json=again, headers=admin
    ).is_success
    change |= {"current_password": "given-again-3"}
    assert client.post("/api/v1/auth/password", json=change).status_code == 200
    assert _log_in(client, "newcomer", "newcomers-own-2") == 200


def test_an_expired_password_is_changed_without_a_session_then_logs_in(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    aged = AuthService(services.accounts, hasher=FAST_HASHER, password_max_days=30)
    app = create_app(Settings(store=services.store.url), replace(services, auth=aged))
    later = datetime.now(UTC) + timedelta(days=31)
    monkeypatch.setattr(auth_service, "_now", lambda: later)
    username, password = PASSWORDS["analyst"]
    with TestClient(app) as client:
        form = {"username": username, "password": password}
        refused = client.post("/api/v1/auth/token", data=form)
        assert refused.status_code == 403 and refused.json()["error"] == "password_expired"
        assert "POST /api/v1/auth/password" in refused.json()["message"]
        change = {"username": username, "current_password": "guess-guess", "new_password": "x" * 12}
        wrong = client.post("/api/v1/auth/password", json=change)
        assert wrong.status_code == 401 and "wrong username or password" in wrong.text
        change["current_password"] = password
        changed = client.post("/api/v1/auth/password", json=change)
        assert changed.status_code == 200, changed.text
        form["password"] = "x" * 12
        assert client.post("/api/v1/auth/token", data=form).status_code == 200


def test_the_account_audit_trail_names_the_admin_and_is_for_admins_only(
    client: TestClient,
) -> None:
    admin = login(client, "admin")
    admin_name = PASSWORDS["admin"][0]
    user = {"username": "newcomer", "password": "given-by-admin-1", "role": "analyst"}
    assert client.post("/api/v1/admin/users", json=user, headers=admin).status_code == 201
    assert _log_in(client, "newcomer", "a-wrong-guess") == 401
    trail = client.get("/api/v1/admin/audit", params={"limit": 1000}, headers=admin)
    assert trail.status_code == 200, trail.text
    entries = trail.json()
    added = next(e for e in entries if e["action"] == "user_added" and e["subject"] == "newcomer")
    assert added["actor"] == admin_name and added["detail"]["role"] == "analyst"
    assert entries[-1]["action"] == "login_failed" and entries[-1]["subject"] == "newcomer"
    assert "given-by-admin-1" not in trail.text and "a-wrong-guess" not in trail.text
    mine = client.get("/api/v1/admin/audit", params={"subject": "newcomer"}, headers=admin)
    assert [e["action"] for e in mine.json()] == ["user_added", "login_failed"]
    later = client.get("/api/v1/admin/audit", params={"after": added["seq"]}, headers=admin)
    assert all(e["seq"] > added["seq"] for e in later.json())
    for limit in (0, 5000):  # a page's bounds, refused as the event log's are
        bad = client.get("/api/v1/admin/audit", params={"limit": limit}, headers=admin)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.limit"
    last = client.get("/api/v1/admin/audit", params={"after": 2**63 - 1}, headers=admin)
    assert last.status_code == 200 and last.json() == []
    for position in (-1, 2**63):  # before the trail, past any position a store can hold
        bad = client.get("/api/v1/admin/audit", params={"after": position}, headers=admin)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.after"
    for role in ("analyst", "operator", "supplier", "customer"):
        refused = client.get("/api/v1/admin/audit", headers=login(client, role))
        assert refused.status_code == 403
    assert client.get("/api/v1/admin/audit").status_code == 401


def test_a_new_password_the_rules_refuse_is_kept_in_the_trail_naming_the_rule(
    services: Services,
) -> None:
    kept = AuthService(services.accounts, hasher=FAST_HASHER, password_history=3)
    app = create_app(Settings(store=services.store.url), replace(services, auth=kept))
    username, password = PASSWORDS["operator"]
    with TestClient(app) as client:
        session, admin = login(client, "operator"), login(client, "admin")
        mine = {"current_password": password}
        for new in ("short", password):
            refused = client.post(
                "/api/v1/me/password", json=mine | {"new_password": new}, headers=session
            )
            assert refused.status_code == 400
        change = {"username": username, "current_password": password, "new_password": "otto-pass-2"}
        assert client.post("/api/v1/auth/password", json=change).status_code == 200
        back = change | {"current_password": "otto-pass-2", "new_password": password}
        assert client.post("/api/v1/auth/password", json=back).status_code == 400
        # An admin's own slip changes no account and tested no password: the request log has it.
        slip = client.post(
            "/api/v1/admin/users/otto/password", json={"password": "x"}, headers=admin
        )
        assert slip.status_code == 400
        trail = client.get("/api/v1/admin/audit", params={"subject": username}, headers=admin)
    entries = [(e["actor"], e["action"], e["detail"]) for e in trail.json()][-4:]

    def refused(rule: str) -> tuple[str, str, dict[str, str]]:
        return username, "password_change_refused", {"client": "testclient", "reason": rule}

    assert entries == [
        refused("too_short"),
        refused("same_as_current"),
        (username, "password_changed", {"client": "testclient"}),
        refused("recently_used"),
    ]
    assert password not in trail.text and "otto-pass-2" not in trail.text


def test_a_login_or_password_change_in_another_case_names_the_account_as_stored(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    username, password = PASSWORDS["analyst"]
    typed = username.upper()
    change = {"username": typed, "current_password": password, "new_password": "anas-new-pass-9"}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tracegraph.audit"):
        logged_in = client.post(
            "/api/v1/auth/token", data={"username": typed, "password": password}
        )
        changed = client.post("/api/v1/auth/password", json=change)

    assert logged_in.status_code == 200 and changed.status_code == 200
    assert changed.json()["username"] == username
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tracegraph.audit"]
    assert [(line["path"], line["user"]) for line in logged] == [
        ("/api/v1/auth/token", username),
        ("/api/v1/auth/password", username),
    ]


def _logged_users(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str | None]]:
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tracegraph.audit"]
    return [(line["path"], line["user"]) for line in logged]


def test_a_refused_login_or_password_change_in_another_case_names_the_account(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    username, password = PASSWORDS["analyst"]
    typed = username.upper()
    change = {"username": typed, "current_password": "nope-nope-nope", "new_password": "x" * 12}
    # The right password, and a new one the rules refuse: refused once the account is found.
    short = {"username": typed, "current_password": password, "new_password": "short"}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tracegraph.audit"):
        wrong = client.post(
            "/api/v1/auth/token", data={"username": typed, "password": "nope-nope-nope"}
        )
        unchanged = client.post("/api/v1/auth/password", json=change)
        refused = client.post("/api/v1/auth/password", json=short)

    assert (wrong.status_code, unchanged.status_code, refused.status_code) == (401, 401, 400)
    assert _logged_users(caplog) == [
        ("/api/v1/auth/token", username),
        ("/api/v1/auth/password", username),
        ("/api/v1/auth/password", username),
    ]


def test_a_refused_login_or_password_change_of_no_account_names_what_was_typed(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    change = {"username": "Zed", "current_password": "nope-nope-nope", "new_password": "x" * 12}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tracegraph.audit"):
        wrong = client.post("/api/v1/auth/token", data={"username": "Zed", "password": "nope"})
        unchanged = client.post("/api/v1/auth/password", json=change)

    assert wrong.status_code == unchanged.status_code == 401
    assert _logged_users(caplog) == [
        ("/api/v1/auth/token", "Zed"),
        ("/api/v1/auth/password", "Zed"),
    ]
