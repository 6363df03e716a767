"""init, users, keys and companies on the command line, on a real embedded store."""

from __future__ import annotations

import getpass
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api import deps
from api.auth import service as auth_service
from api.auth.models import TEMPORARY_PASSWORD_HOURS, Role, UserInfo, UserRecord
from api.auth.service import PasswordChangeRequired
from api.auth.store import AccountStore
from api.cli import main
from api.deps import Services, command_line_sender
from api.settings import Settings
from graph.errors import StoreUnavailable, Unauthenticated
from graph.store import GraphStore
from ingest.service import open_store_for_use


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'accounts.db'}"


def run(args: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(args)


def test_init_users_and_keys(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            ["init", "root", "--password-stdin", "--store", store],
            monkeypatch,
            "first-admin-pass\n",
        )
        == 0
    )
    assert (
        run(
            ["init", "root2", "--password-stdin", "--store", store],
            monkeypatch,
            "first-admin-pass\n",
        )
        == 2
    )
    assert "an admin exists already" in capsys.readouterr().err
    assert (
        run(["companies", "add", "ACME", "--kind", "supplier", "--store", store], monkeypatch) == 0
    )
    add = [
        "users",
        "add",
        "acme",
        "--role",
        "supplier",
        "--company",
        "ACME",
        "--password-stdin",
        "--store",
        store,
    ]
    assert run(add, monkeypatch, "supplier-pass-123\n") == 0
    unbound = ["users", "add", "x1", "--role", "customer", "--password-stdin", "--store", store]
    assert run(unbound, monkeypatch, "customer-pass-123\n") == 2
    assert "bound to a company" in capsys.readouterr().err
    assert run(["users", "list", "--json", "--store", store], monkeypatch) == 0
    users = json.loads(capsys.readouterr().out)
    assert [(u["username"], u["role"], u["company"], u["must_change_password"]) for u in users] == [
        ("acme", "supplier", "ACME", True),
        ("root", "admin", None, False),
    ]
    assert run(["users", "list", "--store", store], monkeypatch) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "must set a password by 20" in listed[0] and "must set" not in listed[1]
    assert (
        run(
            ["keys", "create", "--user", "acme", "--label", "portal", "--store", store], monkeypatch
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    key_id = lines[0].split()[2]
    assert lines[1].startswith(f"tgk_{key_id}_")
    assert run(["keys", "revoke", key_id, "--store", store], monkeypatch) == 0
    assert run(["keys", "revoke", key_id, "--store", store], monkeypatch) == 1
    assert run(["users", "disable", "acme", "--store", store], monkeypatch) == 0
    assert run(["users", "disable", "nobody", "--store", store], monkeypatch) == 1


def test_an_admins_password_left_unused_is_listed_as_lapsed(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    init = ["init", "root", "--password-stdin", "--store", store]
    assert run(init, monkeypatch, "first-admin-pass\n") == 0
    add = ["users", "add", "ana", "--role", "analyst", "--password-stdin", "--store", store]
    hours = TEMPORARY_PASSWORD_HOURS + 1
    with monkeypatch.context() as earlier:
        earlier.setattr(auth_service, "_now", lambda: datetime.now(UTC) - timedelta(hours=hours))
        assert run(add, monkeypatch, "analyst-pass-123\n") == 0
    assert "sets a password of their own by 20" in capsys.readouterr().out
    assert run(["users", "list", "--store", store], monkeypatch) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "the admin's password lapsed unused: set a new one" in listed[0]
    password = ["users", "password", "ana", "--password-stdin", "--store", store]
    assert run(password, monkeypatch, "analyst-pass-456\n") == 0
    capsys.readouterr()
    assert run(["users", "list", "--store", store], monkeypatch) == 0
    assert "must set a password by 20" in capsys.readouterr().out.splitlines()[0]


def test_password_must_come_on_stdin(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["init", "root", "--password-stdin", "--store", store], monkeypatch, "") == 2
    assert "no password on standard input" in capsys.readouterr().err


def test_init_makes_no_folder_where_a_typo_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'typo' / 'accounts.db'}"
    init = ["init", "root", "--password-stdin", "--store", store]
    assert run(init, monkeypatch, "first-pass-1\n") == 2
    assert f"--store: there is no folder {tmp_path / 'typo'}" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize(
    ("username", "stdin", "said"),
    [
        ("root", "short\n", "at least 10 characters"),
        ("r", "first-admin-pass\n", "username: 2-64"),
        ("root", "", "no password on standard input"),
    ],
)
def test_a_refused_init_makes_no_store(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    username: str,
    stdin: str,
    said: str,
) -> None:
    path = tmp_path / "new" / "plant.db"
    store = f"sqlite:///{path}"
    assert run(["init", username, "--password-stdin", "--store", store], monkeypatch, stdin) == 2
    assert said in capsys.readouterr().err
    assert not path.parent.exists()
    assert run(["users", "list", "--store", store], monkeypatch) == 2
    assert "there is no store file" in capsys.readouterr().err


def test_setting_a_password_on_the_command_line(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(["init", "root", "--password-stdin", "--store", store], monkeypatch, "first-pass-1\n")
        == 0
    )
    password = ["users", "password", "root", "--password-stdin", "--store", store]
    assert run(password, monkeypatch, "second-pass-2\n") == 0
    said = capsys.readouterr().out
    assert "sessions have ended" in said and "sets a password of their own" in said
    assert run(password, monkeypatch, "short\n") == 2
    assert "at least 10 characters" in capsys.readouterr().err
    nobody = ["users", "password", "nobody", "--password-stdin", "--store", store]
    assert run(nobody, monkeypatch, "third-pass-33\n") == 1
    services = Services.from_settings(Settings(store=store))
    try:
        with pytest.raises(PasswordChangeRequired):
            services.auth.login("root", "second-pass-2")
        with pytest.raises(Unauthenticated):
            services.auth.login("root", "first-pass-1")
    finally:
        services.close()
    assert run([*password, "--permanent"], monkeypatch, "fourth-pass-4\n") == 0
    assert "sets a password" not in capsys.readouterr().out
    services = Services.from_settings(Settings(store=store))
    try:
        assert services.auth.login("root", "fourth-pass-4").access_token
    finally:
        services.close()


def test_a_password_piped_with_a_windows_line_end_is_the_password_without_it(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    init = ["init", "root", "--password-stdin", "--store", store]
    assert run(init, monkeypatch, "first-pass-1\r\n") == 0
    services = Services.from_settings(Settings(store=store))
    try:
        assert services.auth.login("root", "first-pass-1").access_token
    finally:
        services.close()
    password = ["users", "password", "root", "--password-stdin", "--permanent", "--store", store]
    assert run(password, monkeypatch, " second pass 2 \r\n") == 0  # only the line end goes
    services = Services.from_settings(Settings(store=store))
    try:
        assert services.auth.login("root", " second pass 2 ").access_token
        with pytest.raises(Unauthenticated):
            services.auth.login("root", " second pass 2 \r")
    finally:
        services.close()


def test_the_audit_trail_on_the_command_line_names_the_console_and_escapes_names(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    assert (
        run(["init", "root", "--password-stdin", "--store", store], monkeypatch, "first-pass-1\n")
        == 0
    )
    services = Services.from_settings(Settings(store=store))
    try:
        with pytest.raises(Unauthenticated):
            services.auth.login("evil\x1b[2J\nname", "wrong-guess-1")
    finally:
        services.close()
    capsys.readouterr()
    assert run(["audit", "--store", store], monkeypatch) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].split()[2:5] == ["cli:ops", "user_added", "root"]
    assert "first_admin=True" in lines[0] and "role=admin" in lines[0]
    assert "\x1b" not in lines[1] and "evil\\x1b[2J\\nname" in lines[1]
    assert run(["audit", "--json", "--after", "1", "--store", store], monkeypatch) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["seq"], e["action"], e["subject"]) for e in entries] == [
        (2, "login_failed", "evil\x1b[2J\nname")
    ]
    assert run(["audit", "--limit", "0", "--store", store], monkeypatch) == 2
    assert "limit must be between" in capsys.readouterr().err
    assert run(["audit", "--after", str(2**63), "--store", store], monkeypatch) == 2
    assert "after must be a position in the trail" in capsys.readouterr().err


def test_a_site_no_event_could_name_is_refused_on_the_command_line(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["init", "root", "--password-stdin", "--store", store], monkeypatch, "a" * 12) == 0
    add = ["users", "add", "op", "--role", "operator", "--site", "", "--password-stdin"]
    assert run([*add, "--store", store], monkeypatch, "operator-pass-1\n") == 2
    assert "error: site: String should have at least 1 character" in capsys.readouterr().err
    assert run(["users", "list", "--json", "--store", store], monkeypatch) == 0
    assert [u["username"] for u in json.loads(capsys.readouterr().out)] == ["root"]


def test_listings_escape_what_a_terminal_would_act_on(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["init", "root", "--password-stdin", "--store", store], monkeypatch, "a" * 12) == 0
    services = Services.from_settings(Settings(store=store))
    try:
        # A site kept from before sites were checked; a key's label and a company's name are
        # free text an admin's API request may fill.
        site = "PLANT-1\x1b]0;title\x07"
        info = UserInfo("op", Role.OPERATOR, None, site, False, "2026-01-01T00:00:00Z")
        services.accounts.add_user(UserRecord(info, "unused-hash"))
        services.auth.create_key("op", "scanner\x1b[2K\rFAKE LINE")
        services.auth.put_company("ACME", "Acme\x1b[31m", "supplier")
    finally:
        services.close()
    capsys.readouterr()
    for listing in (["users", "list"], ["keys", "list"], ["companies", "list"]):
        assert run([*listing, "--store", store], monkeypatch) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\r" not in out and "\x07" not in out, out
        assert "\\x1b" in out


@pytest.mark.parametrize(
    "command",
    [
        ["users", "disable", "\udcff"],
        ["keys", "revoke", "\udcff"],
        ["keys", "list", "--user", "\udcff"],
        ["keys", "create", "--user", "root", "--label", "\udcff"],
        ["audit", "--subject", "\udcff"],
    ],
)
def test_an_argument_that_is_not_utf8_is_named_and_changes_nothing(
    store: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    # Python hands a command line's bytes that are not UTF-8 (here 0xFF) on as lone surrogates.
    assert run(["init", "root", "--password-stdin", "--store", store], monkeypatch, "a" * 12) == 0
    capsys.readouterr()
    assert run([*command, "--store", store], monkeypatch) == 2
    assert capsys.readouterr().err == "error: b'\\xff' is not UTF-8 text\n"
    assert run(["keys", "list", "--store", store], monkeypatch) == 0
    assert capsys.readouterr().out == ""


def test_the_command_line_never_sends_under_a_name_an_account_could_have(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_login_name() -> str:
        raise KeyError("uid 1234")

    monkeypatch.setattr(getpass, "getuser", no_login_name)
    assert command_line_sender() == "cli:"
    assert not auth_service.USERNAME.fullmatch("cli:"), "no account is named so"


def test_a_graph_store_opened_for_accounts_that_fail_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = f"sqlite:///{tmp_path / 'plant.db'}"
    closed: list[str] = []

    def kept(url: str, **options: Any) -> GraphStore:
        graph = open_store_for_use(url, **options)
        close = graph.close

        def noted() -> None:
            closed.append(url)
            close()

        monkeypatch.setattr(graph, "close", noted)
        return graph

    def refused(*_: object, **__: object) -> AccountStore:
        raise StoreUnavailable("the accounts cannot be opened")

    monkeypatch.setattr(deps, "open_store_for_use", kept)
    monkeypatch.setattr(deps, "open_account_store", refused)
    with pytest.raises(StoreUnavailable):
        Services.from_settings(Settings(store=store))
    assert closed == [store]
