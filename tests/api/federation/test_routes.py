"""One instance (the plant) over HTTP: the partner registry, the federation endpoint's scopes,
and federated traces whose partner is down. Three live instances are in test_three_instances."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.embedded import EmbeddedAccountStore
from api.auth.models import Partner, Role
from api.auth.service import AuthService
from api.deps import Services
from api.federation.client import HttpPartnerClient, PartnerError
from api.federation.models import FederatedTrace, FedNode, to_wire
from api.settings import Settings
from graph.embedded_store import EmbeddedStore
from tests.api.conftest import FAST_HASHER
from tests.api.federation.plants import PASSWORD, PLANT, ok, policy, seed
from tests.fixtures.events import Events

SECRET = "tgk_0011223344556677_do-not-show-this"


@dataclass
class Plant:
    client: TestClient
    admin: dict[str, str]
    keys: dict[str, str]

    def key(self, username: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[username]}

    def ask(self, username: str, code: str, **headers: str) -> Any:
        return self.client.get(
            "/api/v1/federation/trace",
            params={"code": code, "direction": headers.pop("direction", "up")},
            headers=self.key(username) | headers,
        )


def dead_url() -> str:
    """Return the address of a loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Plant]:
    path = tmp_path / "plant.db"
    settings = Settings(store=f"sqlite:///{path}", company="PLANT", instance="plant-1")
    accounts = EmbeddedAccountStore(path)
    auth = AuthService(accounts, hasher=FAST_HASHER)
    services = Services.for_stores(EmbeddedStore(path), accounts, auth, settings)
    auth.add_user("admin", PASSWORD, Role.ADMIN)
    with TestClient(create_app(settings, services)) as client:
        token = ok(
            client.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
        )
        admin = {"Authorization": f"Bearer {token['access_token']}"}
        yield Plant(client, admin, seed(client, admin, PLANT))
    services.close()


def ids(body: dict[str, Any]) -> set[str]:
    return {n["id"] for n in body["nodes"]}


def register_dead_acme(plant: Plant) -> None:
    body = {"company": "ACME", "base_url": dead_url(), "api_key": SECRET, "timeout_s": 2}
    ok(plant.client.put("/api/v1/admin/partners", json=body, headers=plant.admin))


# The federation endpoint: what a customer's instance may see


def test_a_customer_traces_upstream_from_what_it_received(plant: Plant) -> None:
    body = ok(plant.ask("hosp-at-plant", "KIT0001"))
    assert body["root"] == "serial:KIT0001"
    assert ids(body) == {
        "serial:KIT0001",
        "lot:P-BAR-1",
        "lot:P-CASE-1",
        "supplier_lot:ACME/H70001",
        "supplier_lot:CASECO/C-5",
    }
    # Steps are not shared: the path goes on around them.
    links = {(e["from"], e["to"], e["type"]) for e in body["edges"]}
    assert ("lot:P-BAR-1", "serial:KIT0001", "PROCESSED_INTO") in links
    assert ("supplier_lot:ACME/H70001", "lot:P-BAR-1", "RECEIVED_AS") in links
    assert all(n["source"] is None for n in body["nodes"])
    assert body["branches"] == []


def test_a_customers_instance_reads_statuses_as_its_users_do(plant: Plant) -> None:
    hold = {
        "event_id": "P-HOLD-1",
        "type": "status",
        "occurred_at": "2026-06-01T08:00:00Z",
        "target": {"lot": "P-BAR-1"},
        "status": "quarantined",
        "reason": "supplier certificate missing",
    }
    assert plant.client.post("/api/v1/events", json=[hold], headers=plant.admin).status_code == 201
    body = ok(plant.ask("hosp-at-plant", "KIT0001"))
    lot = next(n for n in body["nodes"] if n["id"] == "lot:P-BAR-1")
    assert lot["attrs"]["status"] == "under_investigation"
    assert "quarantined" not in json.dumps(body)


def test_steps_are_shared_only_when_the_policy_says_so(plant: Plant) -> None:
    without = ok(plant.ask("hosp-at-plant", "KIT0001"))
    assert not any(n["kind"] == "step" for n in without["nodes"])
    policy(plant.client, plant.admin, PLANT, "HOSP", share_steps=True)
    body = ok(plant.ask("hosp-at-plant", "KIT0001"))
    step = next(n for n in body["nodes"] if n["id"] == "step:ASSY-1")
    assert step["attrs"]["operation"] == "assemble"
    assert "operator" not in step["attrs"]  # people are never shared
    links = {(e["from"], e["to"], e["type"]) for e in body["edges"]}
    assert ("step:ASSY-1", "serial:KIT0001", "PRODUCED") in links


@pytest.mark.parametrize(
    "code",
    ["KIT0002", "P-BAR-1", "H70001", "PSH-1", "NOTHING"],
    ids=["another-customers", "never-shipped", "a-supplier-code", "a-shipment", "unknown"],
)
def test_what_was_not_shipped_to_the_caller_is_not_found(plant: Plant, code: str) -> None:
    assert plant.ask("hosp-at-plant", "KIT0003").status_code == 200  # control
    response = plant.ask("hosp-at-plant", code)
    assert response.status_code == 404, response.text
    assert code in response.json()["message"]


def test_without_the_policy_the_hop_is_refused(plant: Plant) -> None:
    policy(plant.client, plant.admin, PLANT, "HOSP", share_upstream=False, reshare=False)
    response = plant.ask("hosp-at-plant", "KIT0001")
    assert response.status_code == 403
    assert "not shared" in response.json()["message"]


@pytest.mark.parametrize("username", ["ana", "otto", "acme-at-plant"])
def test_only_customers_trace_upstream_from_what_they_received(plant: Plant, username: str) -> None:
    assert plant.ask("hosp-at-plant", "KIT0001").status_code == 200  # control
    assert plant.ask(username, "KIT0001").status_code == 403


def test_a_supplier_traces_its_own_lot_downstream(plant: Plant) -> None:
    body = ok(plant.ask("acme-at-plant", "H70001", direction="down"))
    assert ids(body) == {
        "supplier_lot:ACME/H70001",
        "lot:P-BAR-1",
        "serial:KIT0001",
        "serial:KIT0002",
    }
    assert plant.ask("acme-at-plant", "C-5", direction="down").status_code == 404
    assert plant.ask("hosp-at-plant", "KIT0001", direction="down").status_code == 403


def test_a_request_that_comes_back_is_a_loop(plant: Plant) -> None:
    response = plant.ask("hosp-at-plant", "KIT0001", **{"X-Tracegraph-Visited": "hosp-1,plant-1"})
    assert response.status_code == 409
    assert "loop" in response.json()["message"]
    control = plant.ask("hosp-at-plant", "KIT0001", **{"X-Tracegraph-Visited": "hosp-1"})
    assert control.status_code == 200


@pytest.mark.parametrize("username", ["ana", "otto"])
def test_a_caller_that_is_no_partner_is_refused_before_the_loop_is_checked(
    plant: Plant, username: str
) -> None:
    # A 409 would tell them this instance's id; they may not ask at all.
    response = plant.ask(username, "KIT0001", **{"X-Tracegraph-Visited": "plant-1"})
    assert response.status_code == 403
    assert "partner" in response.json()["message"]


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [
        ("X-Tracegraph-Hops", "-1", 422),
        ("X-Tracegraph-Hops", "11", 422),
        ("X-Tracegraph-Hops", "many", 422),
        ("X-Tracegraph-Visited", "a b", 400),
    ],
)
def test_malformed_federation_headers_are_refused(
    plant: Plant, header: str, value: str, status: int
) -> None:
    assert plant.ask("hosp-at-plant", "KIT0001", **{header: value}).status_code == status


def test_a_reshared_answer_carries_a_stub_for_a_partner_that_is_down(plant: Plant) -> None:
    register_dead_acme(plant)
    body = ok(plant.ask("hosp-at-plant", "KIT0001", **{"X-Tracegraph-Hops": "2"}))
    stub = next(n for n in body["nodes"] if n["kind"] == "stub")
    assert stub["id"] == "stub:ACME/H70001"
    assert stub["attrs"]["status"] == "unreachable"
    assert [(b["partner"], b["status"]) for b in body["branches"]] == [("ACME", "unreachable")]
    assert "serial:KIT0001" in ids(body)
    # Our partner's address stays ours: the customer is told the status, not our message.
    assert "127.0.0.1" not in json.dumps(body)
    assert stub["attrs"]["message"] == body["branches"][0]["message"] == "partner unavailable"


def test_without_hops_left_a_reshared_answer_stops_at_the_supplier_lot(plant: Plant) -> None:
    register_dead_acme(plant)
    body = ok(plant.ask("hosp-at-plant", "KIT0001"))
    assert [(b["partner"], b["status"]) for b in body["branches"]] == [("ACME", "hop_limit")]


def test_without_resharing_our_partners_are_not_asked(plant: Plant) -> None:
    register_dead_acme(plant)
    policy(plant.client, plant.admin, PLANT, "HOSP", reshare=False)
    body = ok(plant.ask("hosp-at-plant", "KIT0001", **{"X-Tracegraph-Hops": "2"}))
    assert body["branches"] == []
    assert not any(n["kind"] == "stub" for n in body["nodes"])


# What we answer stays within what a partner instance reads of one answer: over a limit it would
# refuse all of it, so it is told which limit instead (the limits are patched down here).


def too_large(response: Any, limit: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "answer_too_large"
    assert f"over {limit}:" in body["message"], body["message"]


def test_our_own_trace_over_the_node_limit_is_refused_naming_it(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No partner answer is merged (no resharing): nothing else counts what we send.
    policy(plant.client, plant.admin, PLANT, "HOSP", reshare=False)
    monkeypatch.setattr("api.federation.models.MAX_WIRE_NODES", 5)
    assert len(ok(plant.ask("hosp-at-plant", "KIT0001"))["nodes"]) == 5
    monkeypatch.setattr("api.federation.models.MAX_WIRE_NODES", 4)
    too_large(plant.ask("hosp-at-plant", "KIT0001"), "4 nodes")


def test_more_questions_of_ours_than_the_branch_limit_are_refused_naming_it(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_dead_acme(plant)  # asked for H70001: one branch (hop_limit, no hops left)
    monkeypatch.setattr("api.federation.models.MAX_WIRE_BRANCHES", 0)
    too_large(plant.ask("hosp-at-plant", "KIT0001"), "0 branches")


def fan_through_hidden_steps(plant: Plant) -> None:
    """KIT0009: three received lots mixed into three, assembled into one kit, shipped to HOSP.
    Hidden, the mix's three inputs each lead to its three outputs: nine links for six."""
    e = Events("F")
    lots = [f"F-IN-{n}" for n in range(3)]
    mixed = [f"F-MIX-{n}" for n in range(3)]
    events = [e.receive(lot, 10, part="BAR", supplier="CASECO", supplier_lot=lot) for lot in lots]
    events += [
        e(
            "process",
            step="F-MIX",
            operation="mix",
            inputs=[{"lot": lot, "qty": "10"} for lot in lots],
            outputs=[{"lot": lot, "part": "BAR", "qty": "10"} for lot in mixed],
        ),
        e(
            "process",
            step="F-ASSY",
            operation="assemble",
            inputs=[{"lot": lot, "qty": "1"} for lot in mixed],
            outputs=[{"serial": "KIT0009", "part": "KIT"}],
        ),
        e("ship", shipment="F-SH", customer="HOSP", items=[{"serial": "KIT0009"}]),
    ]
    ok(plant.client.post("/api/v1/events", json=events, headers=plant.admin), 201)


def test_links_that_stand_for_hidden_steps_count_toward_the_link_limit(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    fan_through_hidden_steps(plant)
    policy(plant.client, plant.admin, PLANT, "HOSP", share_steps=True)
    shown = len(ok(plant.ask("hosp-at-plant", "KIT0009"))["edges"])
    monkeypatch.setattr("api.federation.models.MAX_WIRE_EDGES", shown)
    assert len(ok(plant.ask("hosp-at-plant", "KIT0009"))["edges"]) == shown
    # With the steps hidden there are fewer nodes but more links than the limit.
    policy(plant.client, plant.admin, PLANT, "HOSP", share_steps=False)
    too_large(plant.ask("hosp-at-plant", "KIT0009"), f"{shown} links")


def test_an_answer_over_the_byte_limit_is_refused_naming_it(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = plant.ask("hosp-at-plant", "KIT0001").content
    monkeypatch.setattr("api.federation.models.MAX_WIRE_BYTES", len(sent))
    assert plant.ask("hosp-at-plant", "KIT0001").content == sent  # the bytes counted are sent
    monkeypatch.setattr("api.federation.models.MAX_WIRE_BYTES", len(sent) - 1)
    too_large(plant.ask("hosp-at-plant", "KIT0001"), f"{len(sent) - 1} bytes")


def test_an_answer_is_written_as_partners_have_always_been_sent_it() -> None:
    # A share of a thousandth of a percent, spelled as FastAPI spelled it, not as json.dumps.
    node = FedNode("lot:L1", "lot", 0, None, {"mass": 2.5e-5}, share=1e-05, exposure=0.5)
    body = to_wire(FederatedTrace("lot:L1", "up", [node], []))
    assert b'"share":0.00001,' in body and b'"mass":0.000025}' in body


# The partner registry


def test_the_partner_key_is_stored_but_never_shown(
    plant: Plant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tracegraph.audit")
    body = {"company": "ACME", "base_url": "https://acme.example/", "api_key": SECRET}
    put = plant.client.put("/api/v1/admin/partners", json=body, headers=plant.admin)
    listing = plant.client.get("/api/v1/admin/partners", headers=plant.admin)
    assert ok(put)["api_key"] == "tgk_0011223344556677_****"
    assert ok(listing) == [
        {
            "company": "ACME",
            "base_url": "https://acme.example",
            "api_key": "tgk_0011223344556677_****",
            "timeout_s": 5.0,
            "cache_ttl_s": 300,
            "created_at": ok(put)["created_at"],
        }
    ]
    assert "do-not-show-this" not in put.text + listing.text + caplog.text


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"company": "NOBODY", "base_url": "http://x", "api_key": "k"}, 400, "NOBODY"),
        ({"company": "ACME", "base_url": "file:///etc", "api_key": "k"}, 400, "base_url"),
        ({"company": "ACME", "base_url": "http://[bad/", "api_key": "k"}, 400, "base_url"),
        ({"company": "ACME", "base_url": "http://host:abc", "api_key": "k"}, 400, "base_url"),
        ({"company": "ACME", "base_url": "http://ho\u0000st/", "api_key": "k"}, 400, "base_url"),
        ({"company": "ACME", "base_url": "http://ho st/", "api_key": "k"}, 400, "base_url"),
        ({"company": "ACME", "base_url": "http://x/?", "api_key": "k"}, 400, "base_url"),
        ({"company": "ACME", "base_url": "http://x/#", "api_key": "k"}, 400, "base_url"),
        ({"company": "ACME", "base_url": "http://x", "api_key": "k\u00e9y"}, 400, "api_key"),
        ({"company": "ACME", "base_url": "http://x", "api_key": "k\u0001y"}, 400, "api_key"),
        ({"company": "ACME", "base_url": "http://x", "api_key": "k", "timeout_s": 0}, 422, ""),
        ({"company": "ACME", "base_url": "http://x"}, 422, "api_key"),
    ],
)
def test_bad_partners_are_refused_and_nothing_is_stored(
    plant: Plant, body: dict[str, Any], status: int, named: str
) -> None:
    response = plant.client.put("/api/v1/admin/partners", json=body, headers=plant.admin)
    assert response.status_code == status
    assert named in response.text
    assert ok(plant.client.get("/api/v1/admin/partners", headers=plant.admin)) == []


def test_removing_a_partner(plant: Plant) -> None:
    register_dead_acme(plant)
    assert ok(plant.client.delete("/api/v1/admin/partners/ACME", headers=plant.admin)) == {
        "company": "ACME",
        "status": "removed",
    }
    assert plant.client.delete("/api/v1/admin/partners/ACME", headers=plant.admin).status_code == (
        404
    )


@pytest.mark.parametrize("username", ["ana", "otto", "hosp-at-plant"])
def test_only_admins_manage_partners(plant: Plant, username: str) -> None:
    body = {"company": "ACME", "base_url": "http://x", "api_key": SECRET}
    headers = plant.key(username)
    assert plant.client.get("/api/v1/admin/partners", headers=headers).status_code == 403
    assert plant.client.put("/api/v1/admin/partners", json=body, headers=headers).status_code == (
        403
    )
    assert plant.client.delete("/api/v1/admin/partners/ACME", headers=headers).status_code == 403
    assert ok(plant.client.get("/api/v1/admin/partners", headers=plant.admin)) == []


# Federated traces at this instance


FEDERATED = """
query($id: ID!) {
  federatedTrace(id: $id, direction: UP) {
    root
    nodes { id kind source depth share stale properties }
    links { type sourceId targetId source }
    branches { partner code attach status message }
    stubs { id source properties }
  }
}
"""


def gql(plant: Plant, username: str, query: str, **variables: Any) -> dict[str, Any]:
    response = plant.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=plant.key(username)
    )
    body: dict[str, Any] = ok(response)
    return body


def test_an_analysts_federated_trace_comes_back_with_a_stub_for_a_partner_that_is_down(
    plant: Plant,
) -> None:
    register_dead_acme(plant)
    found = gql(plant, "ana", FEDERATED, id="serial:KIT0001")["data"]["federatedTrace"]
    nodes = {n["id"]: n for n in found["nodes"]}
    assert nodes["serial:KIT0001"]["source"] == "PLANT"
    assert nodes["step:ASSY-1"]["source"] == "PLANT"  # analysts see their own plant whole
    assert [s["id"] for s in found["stubs"]] == ["stub:ACME/H70001"]
    assert found["stubs"][0]["properties"]["status"] == "unreachable"
    assert found["branches"] == [
        {
            "partner": "ACME",
            "code": "H70001",
            "attach": "supplier_lot:ACME/H70001",
            "status": "unreachable",
            "message": found["branches"][0]["message"],
        }
    ]
    assert {"type": "SUPPLIED_AS", "sourceId": "stub:ACME/H70001"}.items() <= next(
        link for link in found["links"] if link["type"] == "SUPPLIED_AS"
    ).items()
    # CASECO is no partner: its lot stays a plain leaf.
    assert not any("CASECO" in s["id"] for s in found["stubs"])


def test_a_federated_trace_of_an_unknown_item_is_null(plant: Plant) -> None:
    assert gql(plant, "ana", FEDERATED, id="serial:NOPE")["data"]["federatedTrace"] is None


@pytest.mark.parametrize("username", ["otto", "hosp-at-plant", "acme-at-plant"])
def test_federated_traces_are_for_analysts(plant: Plant, username: str) -> None:
    body = gql(plant, username, FEDERATED, id="serial:KIT0001")
    assert body["data"]["federatedTrace"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    response = plant.client.get(
        "/api/v1/federated-trace", params={"id": "serial:KIT0001"}, headers=plant.key(username)
    )
    assert response.status_code == 403


def test_the_rest_federated_trace_is_the_same_answer(plant: Plant) -> None:
    register_dead_acme(plant)
    body = ok(
        plant.client.get(
            "/api/v1/federated-trace",
            params={"id": "serial:KIT0001", "direction": "up"},
            headers=plant.key("ana"),
        )
    )
    assert body["root"] == "serial:KIT0001"
    assert [b["status"] for b in body["branches"]] == ["unreachable"]
    assert "supplier_lot:CASECO/C-5" in ids(body)


@pytest.mark.parametrize("as_of", ["1700000000", "2026-01-05"])
def test_the_rest_federated_trace_reads_as_of_as_the_trace_does(plant: Plant, as_of: str) -> None:
    # A number is no Unix time, a date no time: refused naming as_of, as /api/v1/trace does.
    for path in ("/api/v1/federated-trace", "/api/v1/trace"):
        response = plant.client.get(
            path, params={"id": "serial:KIT0001", "as_of": as_of}, headers=plant.key("ana")
        )
        assert response.status_code == 422, (path, response.text)
        assert "as_of" in response.json()["message"], path


def test_a_graphql_federated_trace_names_as_of_refusing_a_time_without_offset(
    plant: Plant,
) -> None:
    query = FEDERATED.replace("$id: ID!", "$id: ID!, $t: DateTime").replace(
        "direction: UP", "direction: UP, asOf: $t"
    )
    body = gql(plant, "ana", query, id="serial:KIT0001", t="2026-01-05T00:00:00")
    assert body["errors"][0]["message"] == "asOf needs a UTC offset, e.g. 2026-03-01T12:00:00Z"


# Goods a customer returned: received from that customer, then reworked into what another got


def return_and_rework(plant: Plant) -> None:
    """OTHERHOSP returns KIT0002; reworked with a bar of ACME's, it becomes KIT0004 for HOSP."""
    e = Events("R", start=datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    events = [
        e.receive("RET-1", 1, part="KIT", supplier="OTHERHOSP", supplier_lot="KIT0002"),
        e(
            "process",
            step="REWORK-1",
            operation="rework",
            inputs=[{"lot": "RET-1", "qty": "1"}, {"lot": "P-BAR-2", "qty": "2"}],
            outputs=[{"serial": "KIT0004", "part": "KIT"}],
        ),
        e("ship", shipment="PSH-4", customer="HOSP", items=[{"serial": "KIT0004"}]),
    ]
    response = plant.client.post("/api/v1/events", json=events, headers=plant.admin)
    assert response.status_code == 201, response.text


def test_a_partner_never_learns_which_customer_returned_what_it_received(plant: Plant) -> None:
    return_and_rework(plant)
    body = ok(plant.ask("hosp-at-plant", "KIT0004"))
    assert "OTHERHOSP" not in json.dumps(body)
    nodes = {n["id"]: n for n in body["nodes"]}
    returned = [n for n in body["nodes"] if n["kind"] == "supplier_lot" and "ACME" not in n["id"]]
    assert [n["id"] for n in returned] == ["supplier_lot:customer-1"]
    assert returned[0]["attrs"] == {"key": "customer-1", "part": "KIT", "unit": "ea"}
    assert nodes["lot:RET-1"]["attrs"].keys() & {"supplier", "supplier_lot"} == set()
    # The path and the shares stay whole: the return is a whole component of KIT0004.
    links = {(e["from"], e["to"], e["type"]) for e in body["edges"]}
    assert ("supplier_lot:customer-1", "lot:RET-1", "RECEIVED_AS") in links
    assert ("lot:RET-1", "serial:KIT0004", "PROCESSED_INTO") in links
    assert returned[0]["share"] == nodes["lot:RET-1"]["share"] == 1.0
    assert "supplier_lot:ACME/H70002" in nodes  # a supplier's lot is still named


def test_a_return_from_a_customer_never_registered_is_not_named_either(plant: Plant) -> None:
    """CLINIC-9 is no registered company: that we shipped to it makes it a customer."""
    e = Events("C", start=datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    events = [
        e(
            "process",
            step="BUILD-9",
            operation="assemble",
            inputs=[{"lot": "P-BAR-2", "qty": "1"}],
            outputs=[{"serial": "KIT0009", "part": "KIT"}],
        ),
        e("ship", shipment="PSH-9", customer="CLINIC-9", items=[{"serial": "KIT0009"}]),
        e.receive("RET-9", 1, part="KIT", supplier="CLINIC-9", supplier_lot="KIT0009"),
        e(
            "process",
            step="REWORK-9",
            operation="rework",
            inputs=[{"lot": "RET-9", "qty": "1"}],
            outputs=[{"serial": "KIT0010", "part": "KIT"}],
        ),
        e("ship", shipment="PSH-10", customer="HOSP", items=[{"serial": "KIT0010"}]),
    ]
    response = plant.client.post("/api/v1/events", json=events, headers=plant.admin)
    assert response.status_code == 201, response.text
    body = ok(plant.ask("hosp-at-plant", "KIT0010"))
    assert "CLINIC-9" not in json.dumps(body)
    returned = [n["id"] for n in body["nodes"] if n["kind"] == "supplier_lot"]
    assert "supplier_lot:customer-1" in returned


def test_a_reshared_answer_does_not_go_on_into_the_customer_that_returned(plant: Plant) -> None:
    return_and_rework(plant)
    body = {"company": "OTHERHOSP", "base_url": dead_url(), "api_key": SECRET, "timeout_s": 2}
    ok(plant.client.put("/api/v1/admin/partners", json=body, headers=plant.admin))
    found = ok(plant.ask("hosp-at-plant", "KIT0004", **{"X-Tracegraph-Hops": "2"}))
    assert "OTHERHOSP" not in json.dumps(found)
    assert found["branches"] == []
    assert "supplier_lot:customer-1" in ids(found)


# A federated trace lists no more than a trace does (the limits are patched down here)


def trace_refusal(listed: int, limit: int, *, federated: bool = False) -> dict[str, str]:
    instead = (
        "ask the GraphQL federatedTrace for fewer lists (its nodes or its links alone)"
        if federated
        else "page through them with the GraphQL trace (its nodes and links take first and after)"
    )
    return {
        "error": "bad_request",
        "message": f"this trace lists {listed} nodes and edges, more than {limit}: ask for "
        f"fewer with max_depth, or {instead}",
    }


def test_a_federated_trace_that_lists_too_much_is_refused_as_the_trace_is(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = {"id": "serial:KIT0001", "direction": "up"}
    ana = plant.key("ana")
    plain = ok(plant.client.get("/api/v1/trace", params=asked, headers=ana))
    listed = len(plain["nodes"]) + len(plain["edges"])

    def both(limit: int, params: dict[str, str] = asked) -> list[Any]:
        monkeypatch.setattr("api.access.MAX_TRACE_LISTED", limit)
        return [
            plant.client.get(path, params=params, headers=ana)
            for path in ("/api/v1/trace", "/api/v1/federated-trace")
        ]

    assert [r.status_code for r in both(listed)] == [200, 200]
    refused = both(listed - 1)
    assert [r.status_code for r in refused] == [400, 400]
    # Asking no partner, the federated trace is the trace: paged as it is.
    assert refused[0].json() == refused[1].json() == trace_refusal(listed, listed - 1)
    # The question to a partner lists a stub and its link at the least: they count too, and
    # the trace is refused as the federated one: the GraphQL trace does not federate.
    register_dead_acme(plant)
    federated = both(listed)[1]
    assert federated.json() == trace_refusal(listed + 2, listed, federated=True)
    federated = both(listed + 2)[1]
    assert len(ok(federated)["nodes"]) + len(federated.json()["edges"]) == listed + 2
    refused = both(listed + 1)
    assert refused[0].status_code == 200
    assert refused[1].json() == trace_refusal(listed + 2, listed + 1, federated=True)
    # Downstream, no partner is asked either.
    lot = next(n["id"] for n in plain["nodes"] if n["kind"] == "lot")
    down = {"id": lot, "direction": "down"}
    monkeypatch.setattr("api.access.MAX_TRACE_LISTED", 20_000)
    plain = ok(plant.client.get("/api/v1/trace", params=down, headers=ana))
    listed = len(plain["nodes"]) + len(plain["edges"])
    refused = both(listed - 1, down)
    assert refused[0].json() == refused[1].json() == trace_refusal(listed, listed - 1)


def test_a_graphql_federated_trace_counts_what_it_lists_against_the_request(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_dead_acme(plant)
    query = "query($id: ID!) { federatedTrace(id: $id, direction: UP) { nodes { id } "
    query += "links { type } stubs { id } branches { status } } }"
    found = gql(plant, "ana", query, id="serial:KIT0001")["data"]["federatedTrace"]
    listed = sum(len(found[name]) for name in ("nodes", "links", "stubs", "branches"))
    monkeypatch.setattr("api.graphql.cost.MAX_LISTED", listed)
    assert gql(plant, "ana", query, id="serial:KIT0001")["data"]["federatedTrace"] == found
    monkeypatch.setattr("api.graphql.cost.MAX_LISTED", listed - 1)
    body = gql(plant, "ana", query, id="serial:KIT0001")
    assert body["data"] == {"federatedTrace": None}, "refused whole, not cut short"
    assert [e["message"] for e in body["errors"]] == [
        f"this query lists more than {listed - 1} links and nodes: ask federatedTrace for "
        "fewer levels with maxDepth, or fewer aliases"
    ]


def _asking_dead_acme(plant: Plant, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Register ACME, which answers no question; return the codes it is asked, as asked."""
    register_dead_acme(plant)
    asked: list[str] = []

    def fetch(_client: HttpPartnerClient, _partner: Partner, code: str, *_: Any) -> Any:
        asked.append(code)
        raise PartnerError("unreachable", "down")

    monkeypatch.setattr(HttpPartnerClient, "fetch", fetch)
    return asked


def test_a_graphql_federated_trace_is_bounded_by_the_lists_it_asks_for_only(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _asking_dead_acme(plant, monkeypatch)

    def federated(lists: str) -> Any:
        query = f"query($id: ID!) {{ federatedTrace(id: $id) {{ root {lists} }} }}"
        return gql(plant, "ana", query, id="serial:KIT0001")

    found = federated("nodes { id } links { type }")["data"]["federatedTrace"]
    nodes, links = len(found["nodes"]), len(found["links"])
    assert asked == ["H70001"]
    # Lists not asked for are not listed: they bound nothing. Asking for none of a partner's,
    # the trace asks no partner: its root and direction are ours.
    monkeypatch.setattr("api.graphql.cost.MAX_LISTED", 1)
    assert federated("direction")["data"]["federatedTrace"] == {
        "root": "serial:KIT0001",
        "direction": "UP",
    }
    assert asked == ["H70001"]
    monkeypatch.setattr("api.graphql.cost.MAX_LISTED", links)
    assert len(federated("links { type }")["data"]["federatedTrace"]["links"]) == links
    assert asked == ["H70001"] * 2
    # A trace whose nodes (ours, and a stub for ACME's) are more than the request may list is
    # refused, and ACME is not asked.
    monkeypatch.setattr("api.graphql.cost.MAX_LISTED", nodes - 1)
    body = federated("nodes { id }")
    assert body["data"] == {"federatedTrace": None}
    assert "lists more than" in body["errors"][0]["message"]
    assert asked == ["H70001"] * 2, "not asked again"


@pytest.mark.parametrize("lists", ["branches { status }", "stubs { id }"])
def test_a_graphql_federated_trace_asking_only_branches_or_stubs_counts_its_questions_first(
    plant: Plant, monkeypatch: pytest.MonkeyPatch, lists: str
) -> None:
    asked = _asking_dead_acme(plant, monkeypatch)
    query = f"query($id: ID!) {{ federatedTrace(id: $id) {{ {lists} }} }}"
    # ACME's question lists a branch, or a stub if it does not answer: with no room for it,
    # the trace is refused before ACME is asked.
    monkeypatch.setattr("api.graphql.cost.MAX_LISTED", 0)
    body = gql(plant, "ana", query, id="serial:KIT0001")
    assert body["data"] == {"federatedTrace": None}
    assert "lists more than 0" in body["errors"][0]["message"]
    assert asked == []
    monkeypatch.setattr("api.graphql.cost.MAX_LISTED", 1)
    [listed] = gql(plant, "ana", query, id="serial:KIT0001")["data"]["federatedTrace"].values()
    assert len(listed) == 1
    assert asked == ["H70001"]


def test_a_graphql_federated_trace_says_in_its_own_words_what_an_answer_left_no_room_for(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_dead_acme(plant)
    answer = {
        "root": "lot:H70001",
        "direction": "up",
        "nodes": [
            {"id": "lot:H70001", "kind": "lot", "depth": 0},
            {"id": "lot:RAW-1", "kind": "lot", "depth": 1},
            {"id": "lot:RAW-2", "kind": "lot", "depth": 1},
        ],
        "edges": [
            {"from": f"lot:RAW-{n}", "to": "lot:H70001", "type": "PROCESSED_INTO"} for n in (1, 2)
        ],
    }
    monkeypatch.setattr(HttpPartnerClient, "fetch", lambda *_: answer)
    query = "query($id: ID!) { federatedTrace(id: $id) { links { type } branches { message } } }"
    found = gql(plant, "ana", query, id="serial:KIT0001")["data"]["federatedTrace"]
    assert found["branches"] == [{"message": "answered"}]
    # Its links are one too many: its branch is a stub, which with its link fits.
    most = len(found["links"]) - 1
    monkeypatch.setattr("api.graphql.cost.MAX_LISTED", most)
    found = gql(plant, "ana", query, id="serial:KIT0001")["data"]["federatedTrace"]
    assert found["branches"] == [
        {
            "message": f"with this answer the trace would list more than {most} links and "
            "branches: ask for fewer levels (maxDepth)"
        }
    ]


def relaying(relayed: int) -> dict[str, Any]:
    """ACME's answer about H70001, relaying the branches (and stubs) of `relayed` partners it
    asked, none of which answered."""
    return {
        "root": "lot:H70001",
        "direction": "up",
        "nodes": [
            {"id": "lot:H70001", "kind": "lot", "depth": 0},
            {"id": "lot:RAW-1", "kind": "lot", "depth": 1},
        ]
        + [{"id": f"stub:P{n}/X", "kind": "stub", "depth": 2} for n in range(relayed)],
        "edges": [{"from": "lot:RAW-1", "to": "lot:H70001", "type": "PROCESSED_INTO"}]
        + [
            {"from": f"stub:P{n}/X", "to": "lot:RAW-1", "type": "SUPPLIED_AS"}
            for n in range(relayed)
        ],
        "branches": [
            {
                "partner": f"P{n}",
                "code": "X",
                "attach": "lot:RAW-1",
                "status": "unreachable",
                "message": "down",
                "at": "2026-01-01T00:00:00Z",
            }
            for n in range(relayed)
        ],
    }


@pytest.mark.parametrize(
    ("lists", "relayed", "named"),
    [
        ("nodes { id } links { type }", 0, "nodes, links and branches"),
        ("links { type }", 50, "links and branches"),
        ("stubs { id }", 3, "branches and stubs"),
    ],
)
def test_a_graphql_federated_trace_counts_the_branches_of_an_answer_as_it_merges_it(
    plant: Plant, monkeypatch: pytest.MonkeyPatch, lists: str, relayed: int, named: str
) -> None:
    register_dead_acme(plant)
    monkeypatch.setattr(HttpPartnerClient, "fetch", lambda *_: relaying(relayed))
    query = f"query($id: ID!) {{ federatedTrace(id: $id) {{ {lists} branches {{ message }} }} }}"

    def federated() -> dict[str, Any]:
        found: dict[str, Any] = gql(plant, "ana", query, id="serial:KIT0001")["data"]
        return found["federatedTrace"]

    found = federated()
    assert [b["message"] for b in found["branches"]] == ["answered"] + ["down"] * relayed
    listed = sum(
        len(found[name]) for name in ("nodes", "links", "branches", "stubs") if name in found
    )
    # As many as the request may list: all of them (ACME's answer now from the cache).
    monkeypatch.setattr("api.graphql.cost.MAX_LISTED", listed)
    cached = federated()
    assert [b["message"] for b in cached["branches"]] == ["answered from the cache"] + [
        "down"
    ] * relayed
    assert {**cached, "branches": None} == {**found, "branches": None}
    # One short: the answer's branch, or one it relays, or a stub it relays, does not fit.
    # Its branch is a stub, which fits, rather than the whole request refused once ACME was
    # asked and read.
    monkeypatch.setattr("api.graphql.cost.MAX_LISTED", listed - 1)
    assert federated()["branches"] == [
        {
            "message": f"with this answer the trace would list more than {listed - 1} "
            f"{named}: ask for fewer levels (maxDepth)"
        }
    ]


def test_a_graphql_federated_trace_counts_a_list_under_each_alias_as_it_merges_an_answer(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_dead_acme(plant)
    monkeypatch.setattr(HttpPartnerClient, "fetch", lambda *_: relaying(0))
    again = "fragment Again on FederatedTraceResult { nodes { kind } }"

    def federated(lists: str, fragments: str = "") -> dict[str, Any]:
        asked = f"{lists} branches {{ message }}"
        query = f"query($id: ID!) {{ federatedTrace(id: $id) {{ {asked} }} }}"
        return gql(plant, "ana", query + fragments, id="serial:KIT0001")

    found = federated("nodes { id }")["data"]["federatedTrace"]
    assert [b["message"] for b in found["branches"]] == ["answered"]
    # Room for its nodes and its branch under one name, one short under two aliases.
    most = 2 * len(found["nodes"])
    monkeypatch.setattr("api.graphql.cost.MAX_LISTED", most)
    for once in (
        "nodes { id }",
        "nodes { id } nodes { kind }",
        "nodes { id } ...Again",
        # An alias @skip or @include leaves out is not listed, and not counted.
        "a: nodes { id } b: nodes @skip(if: true) { id }",
        "a: nodes { id } b: nodes @include(if: false) { id }",
        "a: nodes { id } ... @skip(if: true) { b: nodes { id } }",
        "a: nodes { id } b: nodes @include(if: true) @skip(if: true) { id }",
    ):
        body = federated(once, again if "Again" in once else "")
        assert "errors" not in body, once
        answered = body["data"]["federatedTrace"]["branches"]
        assert answered == [{"message": "answered from the cache"}], once
    # Each alias lists it, as its resolver counts: the answer is a stub, not the whole request
    # refused once ACME was asked and read.
    body = federated("a: nodes { id } b: nodes @skip(if: false) @include(if: true) { id }")
    assert "errors" not in body
    stubbed = body["data"]["federatedTrace"]
    assert stubbed["branches"] == [
        {
            "message": f"with this answer the trace would list more than {most} nodes and "
            "branches: ask for fewer levels (maxDepth), or fewer aliases"
        }
    ]
    assert stubbed["a"] == stubbed["b"]
    assert "stub:ACME/H70001" in {n["id"] for n in stubbed["a"]}


def test_graphql_federated_traces_under_two_aliases_share_the_budget_in_the_order_asked(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_dead_acme(plant)
    monkeypatch.setattr(HttpPartnerClient, "fetch", lambda *_: relaying(0))
    one = "federatedTrace(id: $id) { nodes { id } branches { message } }"

    def federated(query: str) -> dict[str, Any]:
        return gql(plant, "ana", f"query($id: ID!) {{ {query} }}", id="serial:KIT0001")

    alone = federated(one)["data"]["federatedTrace"]
    listed = len(alone["nodes"]) + len(alone["branches"])
    # Room for both answers: both are merged.
    monkeypatch.setattr("api.graphql.cost.MAX_LISTED", 2 * listed)
    body = federated(f"a: {one} b: {one}")
    assert "errors" not in body, body
    assert body["data"]["a"]["nodes"] == body["data"]["b"]["nodes"] == alone["nodes"]
    # Room for one answer, not two: the first asked is merged, the second is a stub, where
    # each planned with the whole budget, merged its answer and the request was refused.
    monkeypatch.setattr("api.graphql.cost.MAX_LISTED", 2 * listed - 1)
    for _ in range(3):
        body = federated(f"a: {one} b: {one}")
        assert "errors" not in body, body
        first, second = body["data"]["a"], body["data"]["b"]
        assert first["nodes"] == alone["nodes"]
        assert second["branches"] == [
            {
                "message": f"with this answer the trace would list more than {listed - 1} "
                "nodes and branches: ask for fewer levels (maxDepth)"
            }
        ]
        assert "stub:ACME/H70001" in {n["id"] for n in second["nodes"]}
