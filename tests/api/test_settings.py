"""Settings out of range stop the service at start, naming the setting as it was given: an
environment variable by its name (TRACEGRAPH_PORT), an option as typed (--port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError, model_validator
from pydantic_core import PydanticCustomError

import api.settings
from api.auth.embedded import EmbeddedAccountStore
from api.cli import main
from api.deps import Services
from api.settings import Settings, get_settings
from graph.embedded_store import EmbeddedStore
from tests.fixtures.stores import new_store


@pytest.fixture(autouse=True)
def settings_read_afresh() -> Iterator[None]:
    """The environment's settings are read again in each test (get_settings keeps what it
    read), and nothing a test set is kept after it."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("token_minutes", 0),  # every token expired as it was issued
        ("token_minutes", -5),
        ("max_body_bytes", -1),  # every request with a body answered 413
        ("max_body_bytes", 0),
        ("port", 0),
        ("port", 65536),
        # Past these, a login's expiry times overflow the calendar (500) or the service
        # cannot start.
        ("token_minutes", 24 * 60 + 1),
        ("token_minutes", 10**10),
        ("temporary_password_hours", 30 * 24 + 1),
        ("temporary_password_hours", 10**9),
        ("password_max_days", 3651),
        ("password_max_days", 10**9),
    ],
)
def test_a_setting_out_of_range_is_refused_by_name(field: str, value: int) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})


def test_a_command_under_an_out_of_range_variable_says_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = new_store(tmp_path / "plant.db")
    monkeypatch.setenv("TRACEGRAPH_TOKEN_MINUTES", "-5")
    assert main(["users", "list", "--store", store]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: TRACEGRAPH_TOKEN_MINUTES: ") and len(err.splitlines()) == 1


def test_a_command_under_an_instance_id_no_header_carries_says_which_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = new_store(tmp_path / "plant.db")
    monkeypatch.setenv("TRACEGRAPH_INSTANCE", "plant-1\n")
    assert main(["users", "list", "--store", store]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: TRACEGRAPH_INSTANCE: ") and len(err.splitlines()) == 1
    assert "letters, digits" in err


@pytest.mark.parametrize("given", ["environment", "option"])
def test_an_empty_host_is_refused_not_taken_for_every_interface(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    given: str,
) -> None:
    import api.cli

    def serves(*_: object) -> bool:
        raise AssertionError("it served")

    monkeypatch.setattr(api.cli, "run_server", serves)
    argv = ["serve", "--port", "1", "--store", f"sqlite:///{tmp_path / 'plant.db'}"]
    if given == "environment":
        monkeypatch.setenv("TRACEGRAPH_HOST", "")
    else:
        argv += ["--host", ""]
    assert main(argv) == 2
    err = capsys.readouterr().err
    # Each named as it was given: the variable set, the option typed.
    said = "TRACEGRAPH_HOST" if given == "environment" else "--host"
    assert err == f"error: {said}: name the address to listen on (0.0.0.0 for every interface)\n"
    assert not (tmp_path / "plant.db").exists()


@pytest.mark.parametrize("argv", [["schema", "events"], ["schedule", "{tmp}/one.jsp"]])
def test_a_command_that_reads_no_setting_still_stops_on_a_bad_one(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    (tmp_path / "one.jsp").write_text("1 1\n0 5\n")
    monkeypatch.setenv("TRACEGRAPH_PORT", "abc")
    assert main([arg.replace("{tmp}", str(tmp_path)) for arg in argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: TRACEGRAPH_PORT: ")
    assert len(captured.err.splitlines()) == 1
    assert captured.out == ""


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TRACEGRAPH_PORT", "abc"),
        ("TRACEGRAPH_PORT", "70000"),
        ("TRACEGRAPH_MAX_BODY_BYTES", "10"),
        ("TRACEGRAPH_DIGITAL_LINK_DOMAIN", "ftp://id.example.com"),
        ("TRACEGRAPH_HOST", ""),
        # Sent to partners in a header: a line end (read from a file) or a space none carries.
        ("TRACEGRAPH_INSTANCE", "plant-1\n"),
        ("TRACEGRAPH_INSTANCE", "plant 1"),
        ("TRACEGRAPH_INSTANCE", ""),
        ("TRACEGRAPH_INSTANCE", "x" * 65),
    ],
)
def test_a_variable_refused_is_named_as_it_was_set(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        get_settings()
    (problem,) = refused.value.errors()
    assert problem["loc"] == (variable,)
    assert problem["msg"]
    # Given in code, a setting is named as the field it is.
    with pytest.raises(ValidationError) as in_code:
        Settings(port=0)
    assert ("port",) in [named["loc"] for named in in_code.value.errors()]


def test_a_refusal_of_no_one_variable_keeps_its_place_and_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A check of several settings at once, or a refusal of a type of our own, is not named by
    a variable: it is raised as it was, not lost to an error of its own."""

    class Checked(Settings):
        @model_validator(mode="after")
        def _together(self) -> Checked:
            if self.port == 1:
                raise ValueError("port 1 with this host")
            if self.port == 2:
                raise PydanticCustomError("port_taken", "port {port} is taken", {"port": 2})
            return self

    monkeypatch.setattr(api.settings, "Settings", Checked)
    for port, kind, message in (
        ("1", "value_error", "Value error, port 1 with this host"),
        ("2", "port_taken", "port 2 is taken"),
    ):
        monkeypatch.setenv("TRACEGRAPH_PORT", port)
        get_settings.cache_clear()
        try:
            with pytest.raises(ValidationError) as refused:
                get_settings()
        finally:
            get_settings.cache_clear()
        (problem,) = refused.value.errors()
        assert (problem["type"], problem["loc"], problem["msg"]) == (kind, (), message)


def test_services_wired_without_settings_name_a_variable_refused_as_it_was_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Services wired in code, outside the command line, read the environment as it does.
    path = tmp_path / "plant.db"
    store, accounts = EmbeddedStore(path), EmbeddedAccountStore(path)
    try:
        monkeypatch.setenv("TRACEGRAPH_DIGITAL_LINK_DOMAIN", "ftp://id.example.com")
        with pytest.raises(ValidationError) as refused:
            Services.for_stores(store, accounts)
        (problem,) = refused.value.errors()
        assert problem["loc"] == ("TRACEGRAPH_DIGITAL_LINK_DOMAIN",)
        # Read afresh each time, as before: the variable set right is taken at once.
        monkeypatch.setenv("TRACEGRAPH_DIGITAL_LINK_DOMAIN", "https://id.brand.example")
        Services.for_stores(store, accounts)
    finally:
        store.close()
        accounts.close()
