"""The plant's federated trace routes asking a live partner: ACME as a second instance of the app,
served on a loopback port in this process, on its own embedded store.

The whole path runs: the plant's route, its partner client, HTTP, ACME's federation endpoint and
store, ACME's answer, the merge, the plant's answer. test_three_instances runs three server
processes; this one starts in a second or so.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.embedded import EmbeddedAccountStore
from api.auth.models import Role
from api.auth.service import AuthService
from api.deps import Services
from api.federation.client import PATH
from api.settings import Settings
from graph.embedded_store import EmbeddedStore
from tests.api.conftest import FAST_HASHER
from tests.api.federation.plants import ACME, PASSWORD, PLANT, ok, seed

WRONG_KEY = "tgk_0011223344556677_not-a-key-acme-gave"


def instance(path: Path, company: str) -> tuple[Settings, Services]:
    """An instance's settings and services on a new embedded store, with its first admin."""
    settings = Settings(store=f"sqlite:///{path}", company=company, instance=f"{company}-1")
    accounts = EmbeddedAccountStore(path)
    auth = AuthService(accounts, hasher=FAST_HASHER)
    auth.add_user("admin", PASSWORD, Role.ADMIN)
    return settings, Services.for_stores(EmbeddedStore(path), accounts, auth, settings)


def admin_of(client: Any) -> dict[str, str]:
    form = {"username": "admin", "password": PASSWORD}
    token = ok(client.post("/api/v1/auth/token", data=form))["access_token"]
    return {"Authorization": f"Bearer {token}"}


class PartnerApp:
    """The partner's app, noting the path of every request it is sent; with `tamper` set, its
    federation answers are changed by it on their way out, as a partner gone wrong sends them."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: list[str] = []
        self.tamper: Callable[[dict[str, Any]], None] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        tamper = self.tamper
        if tamper is None or scope["type"] != "http" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body = bytearray()

        async def changed(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            answer = json.loads(body)
            tamper(answer)
            data = json.dumps(answer).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            await send(start | {"headers": [*headers, (b"content-length", b"%d" % len(data))]})
            await send({"type": "http.response.body", "body": data})

        await self.app(scope, receive, changed)


@dataclass
class Live:
    """ACME's instance, listening on a loopback port."""

    url: str
    app: PartnerApp
    keys: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    path = tmp_path_factory.mktemp("acme") / "acme.db"
    settings, services = instance(path, "ACME")
    app = PartnerApp(create_app(settings, services))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:  # listening once started; a second or so at most
            assert thread.is_alive() and time.monotonic() < deadline, "ACME did not start"
            time.sleep(0.01)
        live = Live(f"http://127.0.0.1:{port}", app)
        with httpx2.Client(base_url=live.url, timeout=10) as client:
            live.keys = seed(client, admin_of(client), ACME)
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
        services.close()


@dataclass
class Plant:
    client: TestClient
    admin: dict[str, str]
    keys: dict[str, str]

    def key(self, username: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[username]}

    def register(self, acme: Live, key: str) -> None:
        body = {"company": "ACME", "base_url": acme.url, "api_key": key, "cache_ttl_s": 0}
        ok(self.client.put("/api/v1/admin/partners", json=body, headers=self.admin))

    def rest(self, username: str) -> Any:
        return self.client.get(
            "/api/v1/federated-trace",
            params={"id": "serial:KIT0001", "direction": "up"},
            headers=self.key(username),
        )

    def graphql(self, username: str) -> dict[str, Any]:
        body = {"query": FEDERATED, "variables": {"id": "serial:KIT0001"}}
        found: dict[str, Any] = ok(
            self.client.post("/graphql", json=body, headers=self.key(username))
        )
        return found


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Plant]:
    settings, services = instance(tmp_path / "plant.db", "PLANT")
    with TestClient(create_app(settings, services)) as client:
        admin = admin_of(client)
        yield Plant(client, admin, seed(client, admin, PLANT))
    services.close()


FEDERATED = """
query($id: ID!) {
  federatedTrace(id: $id, direction: UP) {
    nodes { id source share properties }
    links { type sourceId targetId }
    branches { partner code attach status message }
    stubs { id properties }
  }
}
"""


def asked(acme: Live) -> list[str]:
    return [path for path in acme.app.paths if path == PATH]


def test_an_analysts_federated_trace_goes_on_into_the_live_partner(
    plant: Plant, acme: Live
) -> None:
    plant.register(acme, acme.keys["plant-at-acme"])
    before = len(asked(acme))
    rest = ok(plant.rest("ana"))
    nodes = {n["id"]: n for n in rest["nodes"]}
    # ACME's own data, from its store, as its policy for PLANT shares it (steps, no operators).
    assert {gid: nodes[gid]["source"] for gid in ("ACME:lot:H70001", "ACME:lot:RAW-1")} == {
        "ACME:lot:H70001": "ACME",
        "ACME:lot:RAW-1": "ACME",
    }
    assert nodes["ACME:step:MELT-1"]["attrs"]["operation"] == "melt"
    assert "fred" not in str(rest)
    assert 0 < nodes["ACME:lot:RAW-1"]["share"] <= 1
    links = {(e["from"], e["to"], e["type"]) for e in rest["edges"]}
    assert ("ACME:lot:H70001", "supplier_lot:ACME/H70001", "SUPPLIED_AS") in links
    assert [(b["partner"], b["code"], b["status"]) for b in rest["branches"]] == [
        ("ACME", "H70001", "ok")
    ]
    # GraphQL gives the same trace, asking ACME again (its answers are not kept).
    found = plant.graphql("ana")["data"]["federatedTrace"]
    assert {n["id"] for n in found["nodes"]} == set(nodes)
    assert [b["status"] for b in found["branches"]] == ["ok"]
    assert found["stubs"] == []
    assert len(asked(acme)) == before + 2


def test_a_customers_reshare_carries_what_the_live_partner_answered(
    plant: Plant, acme: Live
) -> None:
    plant.register(acme, acme.keys["plant-at-acme"])
    answer = ok(
        plant.client.get(
            PATH,
            params={"code": "KIT0001", "direction": "up"},
            # As HOSP's instance asks: it may go on one hop, into ACME.
            headers=plant.key("hosp-at-plant")
            | {"X-Tracegraph-Hops": "1", "X-Tracegraph-Visited": "hosp-1"},
        )
    )
    sources = {n["id"]: n["source"] for n in answer["nodes"]}
    assert sources["ACME:lot:RAW-1"] == "ACME"
    # The plant shares no steps with HOSP: nor are ACME's steps passed on.
    assert not any(gid.startswith("ACME:step:") for gid in sources)
    assert [b["status"] for b in answer["branches"]] == ["ok"]


def test_a_key_the_live_partner_does_not_know_is_a_refused_stub(plant: Plant, acme: Live) -> None:
    plant.register(acme, WRONG_KEY)
    before = len(asked(acme))
    rest = ok(plant.rest("ana"))
    found = plant.graphql("ana")["data"]["federatedTrace"]
    assert len(asked(acme)) == before + 2  # ACME was asked, and refused
    for trace in (rest, found):
        assert not any(n["id"].startswith("ACME:") for n in trace["nodes"])
        assert [b["status"] for b in trace["branches"]] == ["refused"]
        assert "serial:KIT0001" in {n["id"] for n in trace["nodes"]}  # the plant's own stays
        assert WRONG_KEY not in str(trace)
    stub = next(n for n in rest["nodes"] if n["kind"] == "stub")
    assert (stub["id"], stub["attrs"]["status"]) == ("stub:ACME/H70001", "refused")
    assert [s["id"] for s in found["stubs"]] == ["stub:ACME/H70001"]


@pytest.mark.parametrize("username", ["hosp-at-plant", "acme-at-plant"])
def test_a_customer_or_supplier_is_refused_the_federated_trace_and_the_partner_not_asked(
    plant: Plant, acme: Live, username: str
) -> None:
    plant.register(acme, acme.keys["plant-at-acme"])
    before = len(asked(acme))
    response = plant.rest(username)
    assert response.status_code == 403, response.text
    assert "ACME:" not in response.text
    body = plant.graphql(username)
    assert body["data"]["federatedTrace"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert len(asked(acme)) == before


def negative_qty(answer: dict[str, Any]) -> None:
    link = next(e for e in answer["edges"] if e["qty"] is not None)
    link["qty"] = "-" + link["qty"]


def naive_time(answer: dict[str, Any]) -> None:
    node = next(n for n in answer["nodes"] if n["attrs"].get("created_at"))
    node["attrs"]["created_at"] = node["attrs"]["created_at"].removesuffix("Z")


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (negative_qty, ".qty: Input should be greater than or equal to 0"),
        (naive_time, ".attrs.created_at: Input should have timezone info"),
    ],
)
def test_a_live_partners_answer_our_own_data_could_not_hold_is_merged_nowhere(
    plant: Plant, acme: Live, tamper: Callable[[dict[str, Any]], None], message: str
) -> None:
    plant.register(acme, acme.keys["plant-at-acme"])
    acme.app.tamper = tamper
    try:
        rest = ok(plant.rest("ana"))
        reshared = ok(
            plant.client.get(
                PATH,
                params={"code": "KIT0001", "direction": "up"},
                headers=plant.key("hosp-at-plant") | {"X-Tracegraph-Hops": "1"},
            )
        )
    finally:
        acme.app.tamper = None
    # The analyst's trace: an error stub naming the field and why, and nothing of ACME's.
    stub = next(n for n in rest["nodes"] if n["kind"] == "stub")
    assert stub["attrs"]["status"] == "error"
    assert stub["attrs"]["message"].endswith(message), stub["attrs"]["message"]
    assert [b["status"] for b in rest["branches"]] == ["error"]
    # HOSP's reshare likewise (told the plain word for it, as of every partner of ours).
    for trace in (rest, reshared):
        assert not any(n["id"].startswith("ACME:") for n in trace["nodes"])
        assert [b["status"] for b in trace["branches"]] == ["error"]


def test_a_live_partners_answer_too_large_to_send_is_an_error_stub_naming_the_limit(
    plant: Plant, acme: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ACME's answer about H70001 (the ore lot, the melt, the heat, its supplier lot) does not fit
    # in 2 nodes: ACME says so rather than send what the plant would refuse. Both instances
    # run in this process; the limit is patched where ACME checks what it sends.
    plant.register(acme, acme.keys["plant-at-acme"])
    monkeypatch.setattr("api.federation.models.MAX_WIRE_NODES", 2)
    rest = ok(plant.rest("ana"))
    assert not any(n["id"].startswith("ACME:") for n in rest["nodes"])
    [branch] = rest["branches"]
    assert branch["status"] == "error"
    assert branch["message"].endswith("over 2 nodes: more than an instance reads of one answer")
