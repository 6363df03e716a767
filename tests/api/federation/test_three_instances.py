"""Three live instances on loopback ports: a supplier (ACME), the plant and a customer (HOSP).

Each runs as its own server process on its own embedded store, is seeded through its public API,
and holds an API key at the instance upstream of it. The customer traces a finished system back to
the supplier's raw lot, through the plant; each hop answers only what its policy for the asking
company shares; a stopped instance gives a stale or stub branch, never a failed trace.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.api.federation.plants import ACME, HOSP, PASSWORD, PLANT, Seed, ok, policy, seed

START_SECONDS = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Instance:
    """One tracegraph server process and the data it was given."""

    company: str
    data: Seed
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    admin: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store(self) -> str:
        return f"sqlite:///{self.folder / 'store.db'}"

    def env(self) -> dict[str, str]:
        return os.environ | {
            "TRACEGRAPH_STORE": self.store,
            "TRACEGRAPH_COMPANY": self.company,
            "TRACEGRAPH_INSTANCE": f"{self.company.lower()}-test",
        }

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=120,
            check=False,
        )

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port)],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = (self.folder / "server.log").read_text(errors="replace")
                pytest.fail(f"{self.company} exited with {self.process.returncode}:\n{output}")
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"{self.company} did not answer /healthz within {START_SECONDS} s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)
        self.process = None

    def http(self) -> httpx2.Client:
        return httpx2.Client(base_url=self.url, timeout=60)


@dataclass
class Network:
    acme: Instance
    plant: Instance
    hosp: Instance

    def all(self) -> tuple[Instance, ...]:
        return (self.acme, self.plant, self.hosp)


def bootstrap(instances: tuple[Instance, ...]) -> None:
    """Create each first admin from the command line, start the servers, seed them over HTTP."""
    for instance in instances:
        instance.folder.mkdir(parents=True, exist_ok=True)
        made = instance.cli("init", "admin", "--password-stdin", stdin=PASSWORD + "\n")
        assert made.returncode == 0, made.stderr
    # The servers start side by side: most of a start is importing.
    for instance in instances:
        instance.launch()
    for instance in instances:
        instance.wait_ready()
        with instance.http() as client:
            form = {"username": "admin", "password": PASSWORD}
            token = ok(client.post("/api/v1/auth/token", data=form))["access_token"]
            instance.admin = {"Authorization": f"Bearer {token}"}
            instance.keys = seed(client, instance.admin, instance.data)


def register(at: Instance, partner: Instance, key: str, timeout_s: float) -> None:
    """Register `partner` at `at`, with the key `at` was given there; answers are not reused."""
    body = {
        "company": partner.company,
        "base_url": partner.url,
        "api_key": key,
        "timeout_s": timeout_s,
        "cache_ttl_s": 0,
    }
    with at.http() as client:
        ok(client.put("/api/v1/admin/partners", json=body, headers=at.admin))


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    root = tmp_path_factory.mktemp("federation")
    net = Network(
        Instance("ACME", ACME, root / "acme"),
        Instance("PLANT", PLANT, root / "plant"),
        Instance("HOSP", HOSP, root / "hosp"),
    )
    try:
        bootstrap(net.all())
        register(net.plant, net.acme, net.acme.keys["plant-at-acme"], timeout_s=10)
        register(net.hosp, net.plant, net.plant.keys["hosp-at-plant"], timeout_s=30)
        yield net
    finally:
        for instance in net.all():
            instance.stop()


FEDERATED = """
query($id: ID!) {
  federatedTrace(id: $id, direction: UP) {
    root
    nodes { id kind source depth share stale fetchedAt properties }
    links { type sourceId targetId source }
    branches { partner code attach status message fetchedAt }
    stubs { id source properties }
  }
}
"""


def federated(instance: Instance, serial: str) -> dict[str, Any]:
    """Run a federated trace as the instance's analyst."""
    with instance.http() as client:
        body = ok(
            client.post(
                "/graphql",
                json={"query": FEDERATED, "variables": {"id": f"serial:{serial}"}},
                headers={"X-API-Key": instance.keys["ana"]},
            )
        )
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["federatedTrace"]
    return found


def nodes_of(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in found["nodes"]}


def branches_of(found: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(b["partner"], b["attach"], b["status"]) for b in found["branches"]]


RAW_LOT = "PLANT:ACME:lot:RAW-1"


def test_the_customer_traces_a_finished_system_back_to_the_suppliers_raw_lot(
    network: Network,
) -> None:
    found = federated(network.hosp, "FIN-1")
    nodes = nodes_of(found)
    sources = {gid: nodes[gid]["source"] for gid in nodes}
    assert {
        "serial:FIN-1": "HOSP",
        "lot:HK-1": "HOSP",
        "supplier_lot:PLANT/KIT0001": "HOSP",
        "PLANT:serial:KIT0001": "PLANT",
        "PLANT:lot:P-BAR-1": "PLANT",
        "PLANT:supplier_lot:ACME/H70001": "PLANT",
        "PLANT:ACME:lot:H70001": "ACME",
        RAW_LOT: "ACME",
        "PLANT:ACME:supplier_lot:ORE-CO/ORE-9": "ACME",
    }.items() <= sources.items()
    raw = nodes[RAW_LOT]
    assert raw["kind"] == "lot" and raw["properties"]["part"] == "BILLET"
    assert raw["stale"] is False and raw["fetchedAt"] is not None
    assert 0 < raw["share"] <= 1
    links = {(link["sourceId"], link["targetId"], link["type"]) for link in found["links"]}
    assert ("PLANT:serial:KIT0001", "supplier_lot:PLANT/KIT0001", "SUPPLIED_AS") in links
    assert ("PLANT:ACME:lot:H70001", "PLANT:supplier_lot:ACME/H70001", "SUPPLIED_AS") in links
    assert branches_of(found) == [
        ("PLANT", "supplier_lot:PLANT/KIT0001", "ok"),
        ("ACME", "PLANT:supplier_lot:ACME/H70001", "ok"),
    ]
    assert found["stubs"] == []


def test_a_trace_cut_at_a_depth_asks_each_hop_only_for_the_levels_left(
    network: Network,
) -> None:
    def cut_at(max_depth: int) -> dict[str, Any]:
        with network.hosp.http() as client:
            found: dict[str, Any] = ok(
                client.get(
                    "/api/v1/federated-trace",
                    params={"id": "serial:FIN-1", "max_depth": max_depth},
                    headers={"X-API-Key": network.hosp.keys["ana"]},
                )
            )
        assert all(n["depth"] <= max_depth for n in found["nodes"])
        return found

    # The plant's supplier lot of ACME's is at depth 7 here: the plant is asked for 3 levels
    # below its kit, which end at that lot, so it does not ask ACME.
    found = cut_at(7)
    assert "PLANT:supplier_lot:ACME/H70001" in nodes_of(found)
    assert not any(n["source"] == "ACME" for n in found["nodes"])
    assert branches_of(found) == [("PLANT", "supplier_lot:PLANT/KIT0001", "ok")]
    found = cut_at(8)
    assert "PLANT:ACME:lot:H70001" in nodes_of(found)
    assert RAW_LOT not in nodes_of(found)
    assert [b[2] for b in branches_of(found)] == ["ok", "ok"]


def test_each_hop_shares_only_what_its_policy_gives(network: Network) -> None:
    found = federated(network.hosp, "FIN-1")
    text = json.dumps(found)
    # The plant's other customer and the supplier's other customer never cross a wall.
    for absent in ("KIT0002", "OTHERHOSP", "OTHERCUST", "H70009", "H70002", "PSH-", "ASH-"):
        assert absent not in text, absent
    # No shipments or companies come back, and no steps beyond our own walls: the plant does not
    # share steps with HOSP, so ACME's steps (which ACME shares with the plant) stop there too.
    kinds = {(n["kind"], n["source"]) for n in found["nodes"]}
    assert {k for k, _ in kinds} <= {"serial", "lot", "supplier_lot", "step"}
    assert {s for k, s in kinds if k == "step"} == {"HOSP"}
    for person in ("pat", "fred"):  # operators are never shared
        assert person not in text
    # Control: the plant's own analyst does get ACME's steps, as ACME shares them with the plant.
    at_plant = nodes_of(federated(network.plant, "KIT0001"))
    assert at_plant["ACME:step:MELT-1"]["source"] == "ACME"
    assert at_plant["ACME:step:MELT-1"]["properties"]["operation"] == "melt"
    assert "operator" not in at_plant["ACME:step:MELT-1"]["properties"]
    assert "ACME:lot:RAW-1" in at_plant


def test_each_hop_answers_only_about_what_it_shipped_the_caller(network: Network) -> None:
    def ask(at: Instance, key: str, code: str) -> int:
        with at.http() as client:
            response = client.get(
                "/api/v1/federation/trace",
                params={"code": code},
                headers={"X-API-Key": at.keys[key]},
            )
        return response.status_code

    assert ask(network.acme, "plant-at-acme", "H70001") == 200
    assert ask(network.acme, "plant-at-acme", "H70009") == 404  # shipped to OTHERCUST only
    assert ask(network.plant, "hosp-at-plant", "KIT0001") == 200
    assert ask(network.plant, "hosp-at-plant", "KIT0002") == 404  # shipped to OTHERHOSP
    assert ask(network.plant, "ana", "KIT0001") == 403  # not a company account


def test_a_hop_whose_policy_is_turned_off_is_a_refused_stub(network: Network) -> None:
    with network.plant.http() as client:
        policy(client, network.plant.admin, PLANT, "HOSP", share_upstream=False, reshare=False)
        try:
            found = federated(network.hosp, "FIN-1")
        finally:
            policy(client, network.plant.admin, PLANT, "HOSP")
    nodes = nodes_of(found)
    assert {"serial:FIN-1", "lot:HK-1", "supplier_lot:PLANT/KIT0001"} <= set(nodes)
    assert not any(gid.startswith("PLANT:") for gid in nodes)
    assert [(s["id"], s["properties"]["status"]) for s in found["stubs"]] == [
        ("stub:PLANT/KIT0001", "refused")
    ]
    assert branches_of(found) == [("PLANT", "supplier_lot:PLANT/KIT0001", "refused")]
    # Turned back on, the trace goes through again.
    assert RAW_LOT in nodes_of(federated(network.hosp, "FIN-1"))


def test_a_supplier_that_stops_sharing_is_refused_one_hop_further(network: Network) -> None:
    with network.acme.http() as client:
        policy(client, network.acme.admin, ACME, "PLANT", share_upstream=False, share_steps=False)
        try:
            found = federated(network.hosp, "FIN-1")
        finally:
            policy(client, network.acme.admin, ACME, "PLANT")
    nodes = nodes_of(found)
    assert "PLANT:supplier_lot:ACME/H70001" in nodes
    assert not any(gid.startswith("PLANT:ACME:") for gid in nodes)
    assert nodes["PLANT:stub:ACME/H70001"]["properties"]["status"] == "refused"
    assert branches_of(found) == [
        ("PLANT", "supplier_lot:PLANT/KIT0001", "ok"),
        ("ACME", "PLANT:supplier_lot:ACME/H70001", "refused"),
    ]


def test_when_the_supplier_is_stopped_the_plants_cached_answer_stands_in(
    network: Network,
) -> None:
    fresh = federated(network.hosp, "FIN-1")  # the plant now holds ACME's answer about H70001
    fetched = nodes_of(fresh)[RAW_LOT]["fetchedAt"]
    network.acme.stop()
    try:
        found = federated(network.hosp, "FIN-1")
        never_asked = federated(network.hosp, "FIN-3")
    finally:
        network.acme.start()
    nodes = nodes_of(found)
    assert nodes[RAW_LOT]["stale"] is True
    assert nodes[RAW_LOT]["fetchedAt"] == fetched
    assert nodes["PLANT:serial:KIT0001"]["stale"] is False
    assert branches_of(found)[1] == ("ACME", "PLANT:supplier_lot:ACME/H70001", "stale")
    # The plant never asked ACME about H70002: with ACME down that branch is a stub, and the
    # rest of the trace (ours and the plant's) comes back.
    rest = nodes_of(never_asked)
    assert {"serial:FIN-3", "PLANT:serial:KIT0003", "PLANT:supplier_lot:ACME/H70002"} <= set(rest)
    stub = rest["PLANT:stub:ACME/H70002"]
    assert (stub["kind"], stub["source"], stub["properties"]["status"]) == (
        "stub",
        "ACME",
        "unreachable",
    )
    assert branches_of(never_asked) == [
        ("PLANT", "supplier_lot:PLANT/KIT0003", "ok"),
        ("ACME", "PLANT:supplier_lot:ACME/H70002", "unreachable"),
    ]


def test_when_the_plant_is_stopped_the_customers_cached_answer_stands_in(
    network: Network,
) -> None:
    federated(network.hosp, "FIN-1")
    network.plant.stop()
    try:
        found = federated(network.hosp, "FIN-1")
    finally:
        network.plant.start()
    nodes = nodes_of(found)
    assert nodes["serial:FIN-1"]["stale"] is False
    assert nodes["PLANT:serial:KIT0001"]["stale"] is True
    assert nodes[RAW_LOT]["stale"] is True
    assert branches_of(found)[0] == ("PLANT", "supplier_lot:PLANT/KIT0001", "stale")
    assert "unreachable" in found["branches"][0]["message"]


def test_the_command_line_federates_too(network: Network) -> None:
    done = network.hosp.cli("trace", "--serial", "FIN-1", "--up", "--federated", "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    sources = {n["id"]: n["source"] for n in found["nodes"]}
    assert sources[RAW_LOT] == "ACME"
    assert sources["serial:FIN-1"] == "HOSP"
