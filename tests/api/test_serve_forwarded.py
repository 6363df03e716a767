"""`serve` takes a request's address from X-Forwarded-For only from the proxies the plant
names: anyone else (a client on the host among them) cannot choose the address the per-client
login limit counts against."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.auth import service as auth_service
from api.auth.throttle import PER_CLIENT
from api.cli import main
from api.cli_serve import run_server
from api.settings import Settings, read_settings
from tests.api.conftest import FAST_HASHER
from tests.fixtures.stores import new_store

TOKEN = "/api/v1/auth/token"


def _guesses_through_serve(
    settings: Settings, peer: str, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """The statuses of more failed logins than one client may make, each from a peer at `peer`
    saying in X-Forwarded-For that it is another client, to the app as `serve` has uvicorn
    serve it."""
    statuses: list[int] = []

    def run(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
        server.config.load()  # the app wrapped as uvicorn serves it
        with TestClient(server.config.loaded_app, client=(peer, 50000)) as client:
            for guess in range(PER_CLIENT + 1):
                form = {"username": f"guess-{guess}", "password": "wrong-password-0"}
                forwarded = {"X-Forwarded-For": f"203.0.113.{guess}"}
                statuses.append(client.post(TOKEN, data=form, headers=forwarded).status_code)

    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setattr(auth_service, "_hasher", FAST_HASHER)
    run_server(settings, socket.create_server(("127.0.0.1", 0)))
    return statuses


def _settings(tmp_path: Path, **given: Any) -> Settings:
    return Settings(store=new_store(tmp_path / "plant.db"), **given)


@pytest.mark.parametrize("peer", ["127.0.0.1", "192.0.2.7"])
def test_by_default_the_limit_counts_the_peer_whatever_it_says_it_forwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, peer: str
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # uvicorn's own variable: not ours to follow

    statuses = _guesses_through_serve(_settings(tmp_path), peer, monkeypatch)

    assert statuses == [401] * PER_CLIENT + [429]


def test_a_trusted_proxy_names_the_client_it_forwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, trusted_proxies="127.0.0.1, 10.0.0.0/8")

    statuses = _guesses_through_serve(settings, "127.0.0.1", monkeypatch)

    assert statuses == [401] * (PER_CLIENT + 1)  # each forwarded client failed once


def test_a_proxy_trusted_as_one_of_a_network_names_the_client_it_forwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, trusted_proxies="127.0.0.1, 10.0.0.0/8")

    statuses = _guesses_through_serve(settings, "10.2.3.4", monkeypatch)

    assert statuses == [401] * (PER_CLIENT + 1)


def test_a_peer_that_is_no_trusted_proxy_is_counted_as_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, trusted_proxies="10.0.0.1")

    statuses = _guesses_through_serve(settings, "127.0.0.1", monkeypatch)

    assert statuses == [401] * PER_CLIENT + [429]


def test_a_trusted_proxy_that_is_no_address_is_refused_by_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACEGRAPH_TRUSTED_PROXIES", "127.0.0.1, proxy.example")

    with pytest.raises(ValidationError) as refused:
        read_settings()

    assert "TRACEGRAPH_TRUSTED_PROXIES" in str(refused.value)
    assert "'proxy.example' is no IP address or network" in str(refused.value)


def test_serve_takes_trusted_proxies_as_an_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[str] = []

    def run_server(settings: Settings, listener: socket.socket) -> bool:
        listener.close()
        served.append(settings.trusted_proxies)
        return True

    monkeypatch.setattr("api.cli.listen", lambda _: socket.create_server(("127.0.0.1", 0)))
    monkeypatch.setattr("api.cli.run_server", run_server)
    store = new_store(tmp_path / "plant.db")
    argv = ["serve", "--store", store, "--trusted-proxies", "10.1.2.3"]

    assert main(argv) == 0
    assert served == ["10.1.2.3"]


def test_an_option_that_names_no_proxy_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = new_store(tmp_path / "plant.db")

    assert main(["serve", "--store", store, "--trusted-proxies", "proxy.example"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("error: --trusted-proxies: ")
    assert "'proxy.example' is no IP address or network" in err
