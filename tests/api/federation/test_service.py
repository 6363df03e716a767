"""The federation service with a fake partner client: merging, caching and every way a hop fails."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import ValidationError

from api.access import Access
from api.auth.embedded import EmbeddedAccountStore
from api.auth.models import Company, Partner, PartnerAnswer, Role
from api.federation.client import PartnerError
from api.federation.models import (
    MAX_WIRE_BRANCHES,
    MAX_WIRE_EDGES,
    MAX_WIRE_NODES,
    AnswerLate,
    FederatedTrace,
    from_wire,
)
from api.federation.service import FederationService, ListLimit, checked_visited
from graph.clock import utc_text
from graph.errors import BadRequest, NotFound
from graph.store import EdgeView
from graph.trace import Trace, TraceNode

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# What json.loads makes of NaN and 1e999 in a partner's answer.
NAN = float("nan")
INF = float("inf")
KEY = "tgk_feedfacecafebeef_the-secret"


class FakeClient:
    """Answers per (partner, code) from a table; records every question."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], Callable[[], Any]] = {}
        self.calls: list[tuple[str, str, str, int, list[str]]] = []
        self.depths: list[int | None] = []

    def fetch(
        self,
        partner: Partner,
        code: str,
        direction: str,
        hops: int,
        visited: Sequence[str],
        max_depth: int | None = None,
    ) -> Any:
        self.calls.append((partner.company, code, direction, hops, list(visited)))
        self.depths.append(max_depth)
        return self.answers[(partner.company, code)]()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def fails(status: Any, message: str) -> Callable[[], Any]:
    def raise_it() -> Any:
        raise PartnerError(status, message)

    return raise_it


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[EmbeddedAccountStore]:
    store = EmbeddedAccountStore(tmp_path / "accounts.db")
    for company, kind in (("ACME", "supplier"), ("BOLT", "supplier"), ("ORE", "supplier")):
        store.put_company(Company(company, company, kind, created_at="t"))
    yield store
    store.close()


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(accounts: EmbeddedAccountStore, client: FakeClient, clock: Clock) -> FederationService:
    built = FederationService(accounts, client, instance="plant-1", company="PLANT", clock=clock)
    built.put_partner("ACME", "http://127.0.0.1:9", KEY, timeout_s=1, cache_ttl_s=60)
    return built


def edge(src: str, dst: str, kind: str, share: float = 1.0, part: str | None = None) -> EdgeView:
    return EdgeView(src, dst, kind, Decimal(1), share, part, "2026-01-01T00:00:00.000000Z", "e1")


def plant_trace() -> Trace:
    """serial:S1 <- lot:L1 <- supplier_lot:ACME/H1 (half) and supplier_lot:ZED/Z1 (half)."""
    nodes = [
        TraceNode("serial:S1", "serial", 0, {"key": "S1"}, share=1.0),
        TraceNode("lot:L1", "lot", 1, {"key": "L1"}, share=1.0),
        TraceNode(
            "supplier_lot:ACME/H1",
            "supplier_lot",
            2,
            {"key": "ACME/H1", "supplier": "ACME", "supplier_lot": "H1"},
            share=0.5,
        ),
        TraceNode(
            "supplier_lot:ZED/Z1",
            "supplier_lot",
            2,
            {"key": "ZED/Z1", "supplier": "ZED", "supplier_lot": "Z1"},
            share=0.5,
        ),
    ]
    edges = [
        edge("lot:L1", "serial:S1", "SERIALIZED_AS"),
        edge("supplier_lot:ACME/H1", "lot:L1", "RECEIVED_AS", 0.5),
        edge("supplier_lot:ZED/Z1", "lot:L1", "RECEIVED_AS", 0.5),
    ]
    return Trace("serial:S1", "up", nodes, edges)


def acme_answer(**extra: Any) -> dict[str, Any]:
    """What ACME says about the lot H1 it shipped: H1 <- RAW-1 (all of it)."""
    answer: dict[str, Any] = {
        "root": "lot:H1",
        "direction": "up",
        "nodes": [
            {"id": "lot:H1", "kind": "lot", "depth": 0, "share": 1.0, "attrs": {"key": "H1"}},
            {"id": "lot:RAW-1", "kind": "lot", "depth": 1, "share": 0.8, "attrs": {"qty": "5"}},
        ],
        "edges": [{"from": "lot:RAW-1", "to": "lot:H1", "type": "PROCESSED_INTO"}],
        "branches": [],
    }
    answer.update(extra)
    return answer


def federate(service: FederationService, hops: int = 3) -> FederatedTrace:
    return service.federate(plant_trace(), source="PLANT", hops=hops, visited=["cust-1"])


def by_id(found: FederatedTrace) -> dict[str, Any]:
    return {n.id: n for n in found.nodes}


def test_a_partners_answer_is_merged_under_qualified_ids(
    service: FederationService, client: FakeClient
) -> None:
    client.answers[("ACME", "H1")] = acme_answer
    found = federate(service)
    nodes = by_id(found)
    assert nodes["serial:S1"].source == "PLANT"
    raw = nodes["ACME:lot:RAW-1"]
    assert (raw.source, raw.kind, raw.attrs, raw.stale) == ("ACME", "lot", {"qty": "5"}, False)
    # Depth continues below our supplier lot; ACME's share carries on as that lot's does.
    assert raw.depth == 2 + 1 + 1
    assert raw.share == pytest.approx(0.4)
    links = {(e.src, e.dst, e.type) for e in found.edges}
    assert ("ACME:lot:H1", "supplier_lot:ACME/H1", "SUPPLIED_AS") in links
    assert ("ACME:lot:RAW-1", "ACME:lot:H1", "PROCESSED_INTO") in links
    assert [(b.partner, b.code, b.status) for b in found.branches] == [("ACME", "H1", "ok")]


def test_only_supplier_lots_of_registered_partners_are_asked(
    service: FederationService, client: FakeClient
) -> None:
    client.answers[("ACME", "H1")] = acme_answer
    found = federate(service)
    assert [c[:2] for c in client.calls] == [("ACME", "H1")]
    assert not any(n.id.startswith("ZED:") for n in found.nodes)


def test_the_partner_is_asked_with_one_hop_less_and_the_visited_list(
    service: FederationService, client: FakeClient
) -> None:
    client.answers[("ACME", "H1")] = acme_answer
    federate(service, hops=3)
    assert client.calls == [("ACME", "H1", "up", 2, ["cust-1"])]


def test_a_trace_started_here_names_this_instance_as_visited(
    service: FederationService, client: FakeClient
) -> None:
    # A partner that reshares back to us must find us in the list and answer it as a loop.
    client.answers[("ACME", "H1")] = acme_answer
    service.federate_here(plant_trace())
    assert client.calls == [("ACME", "H1", "up", 3, ["plant-1"])]


def test_a_partner_is_asked_for_the_levels_left_and_its_answer_cut_there(
    service: FederationService, client: FakeClient
) -> None:
    # ACME answers in full, as a partner that does not read max_depth does.
    client.answers[("ACME", "H1")] = acme_answer
    found = service.federate(plant_trace(), source="PLANT", hops=3, visited=[], max_depth=3)
    assert client.depths == [0]  # our supplier lot is at depth 2: ACME's root is at 3
    nodes = by_id(found)
    assert nodes["ACME:lot:H1"].depth == 3
    assert "ACME:lot:RAW-1" not in nodes
    assert ("ACME:lot:RAW-1", "ACME:lot:H1") not in {(e.src, e.dst) for e in found.edges}


def test_a_supplier_lot_at_the_depth_limit_is_not_asked(
    service: FederationService, client: FakeClient
) -> None:
    found = service.federate(plant_trace(), source="PLANT", hops=3, visited=[], max_depth=2)
    assert client.calls == []
    assert (found.branches, found.stubs) == ([], [])
    assert {n.id for n in found.nodes} == {n.id for n in plant_trace().nodes}


def test_a_partner_asking_down_to_a_depth_gets_no_deeper_answer(
    service: FederationService, client: FakeClient
) -> None:
    client.answers[("ACME", "H1")] = acme_answer
    access = cast(Access, ResharingAccess())
    found = answered(service, access, "S1", "up", 2, ["hosp-1"], max_depth=1)
    assert {n.id for n in found.nodes} == {"serial:S1", "lot:L1"}
    assert client.calls == []  # our supplier lots are beyond what was asked for
    found = answered(service, access, "S1", "up", 2, ["hosp-1"], max_depth=3)
    assert client.depths == [0]
    assert max(n.depth for n in found.nodes) == 3


def test_without_hops_left_the_partner_is_not_asked(
    service: FederationService, client: FakeClient
) -> None:
    found = federate(service, hops=0)
    assert client.calls == []
    stub = by_id(found)["stub:ACME/H1"]
    assert stub.attrs["status"] == "hop_limit"


def test_an_answer_within_its_time_to_live_comes_from_the_cache(
    service: FederationService, client: FakeClient, clock: Clock
) -> None:
    client.answers[("ACME", "H1")] = acme_answer
    first = federate(service)
    clock.now = T0 + timedelta(seconds=30)
    second = federate(service)
    assert len(client.calls) == 1
    assert second.branches[0].status == "cached"
    assert second.branches[0].fetched_at == first.branches[0].fetched_at
    assert by_id(second)["ACME:lot:RAW-1"].fetched_at == first.branches[0].fetched_at


def test_after_its_time_to_live_the_partner_is_asked_again(
    service: FederationService, client: FakeClient, clock: Clock
) -> None:
    client.answers[("ACME", "H1")] = acme_answer
    federate(service)
    clock.now = T0 + timedelta(seconds=61)
    assert federate(service).branches[0].status == "ok"
    assert len(client.calls) == 2


@pytest.mark.parametrize("status", ["unreachable", "refused", "not_found", "loop", "error"])
def test_a_failed_hop_is_a_stub_and_the_rest_comes_back(
    service: FederationService, client: FakeClient, status: str
) -> None:
    client.answers[("ACME", "H1")] = fails(status, "it went wrong")
    found = federate(service)
    nodes = by_id(found)
    assert {"serial:S1", "lot:L1", "supplier_lot:ACME/H1", "supplier_lot:ZED/Z1"} <= set(nodes)
    stub = nodes["stub:ACME/H1"]
    assert (stub.kind, stub.source) == ("stub", "ACME")
    assert stub.attrs["status"] == status
    assert stub.attrs["message"] == "it went wrong"
    assert ("stub:ACME/H1", "supplier_lot:ACME/H1") in {(e.src, e.dst) for e in found.edges}
    assert found.stubs == [stub]
    assert found.branches[0].status == status


@pytest.mark.parametrize(
    "garbage",
    [
        "not an object",
        {"root": "lot:H1", "direction": "up", "nodes": []},
        acme_answer(root="lot:ELSEWHERE"),
        acme_answer(nodes=[{"id": "lot:H1", "kind": "Robert'); DROP", "depth": 0}]),
        acme_answer(direction="sideways"),
        acme_answer(edges=[{"from": "lot:RAW-1", "to": "lot:H1", "type": "X", "qty": "lots"}]),
        acme_answer(nodes=[{"id": "lot:H1", "kind": "lot", "depth": 0, "attrs": {"x": NAN}}]),
        acme_answer(nodes=[{"id": "lot:H1", "kind": "lot", "depth": 0, "attrs": {"x": INF}}]),
        acme_answer(nodes=[{"id": "lot:H1", "kind": "lot", "depth": 50}]),
        acme_answer(
            nodes=[
                {"id": "lot:H1", "kind": "lot", "depth": 0},
                {"id": "lot:RAW-1", "kind": "lot", "depth": 0},
            ]
        ),
    ],
    ids=[
        "not-an-object",
        "no-nodes",
        "root-not-a-node",
        "bad-kind",
        "bad-direction",
        "bad-qty",
        "nan-attr",
        "infinite-attr",
        "root-not-at-the-top",
        "another-node-at-the-top",
    ],
)
def test_an_answer_that_is_not_a_trace_is_an_error_stub(
    service: FederationService, client: FakeClient, garbage: Any
) -> None:
    client.answers[("ACME", "H1")] = lambda: garbage
    found = federate(service)
    assert by_id(found)["stub:ACME/H1"].attrs["status"] == "error"
    assert not any(n.id.startswith("ACME:") for n in found.nodes)


@pytest.mark.parametrize("name", [KEY, "x" * 100_000], ids=["our-key", "long"])
def test_an_error_stub_does_not_repeat_a_partners_attribute_name(
    service: FederationService, client: FakeClient, name: str
) -> None:
    # A partner echoes the key we sent it as the name of an attribute it makes invalid.
    client.answers[("ACME", "H1")] = lambda: acme_answer(
        nodes=[{"id": "lot:H1", "kind": "lot", "depth": 0, "attrs": {name: {"nested": 1}}}]
    )
    message = by_id(federate(service))["stub:ACME/H1"].attrs["message"]
    assert message.startswith("nodes.0.attrs.*.") and len(message) < 200, message
    assert KEY not in message


def echoing(key: str) -> dict[str, Any]:
    """An answer that names our key wherever it holds text."""
    return acme_answer(
        nodes=[
            {"id": "lot:H1", "kind": "lot", "depth": 0, "attrs": {"key": "H1", key: 1}},
            {"id": f"lot:{key}", "kind": "lot", "depth": 1, "attrs": {"key": key}},
        ],
        edges=[{"from": f"lot:{key}", "to": "lot:H1", "type": "PROCESSED_INTO", "event": key}],
        branches=[
            {
                "partner": "ORE",
                "code": key,
                "attach": f"lot:{key}",
                "status": "error",
                "message": f"bad key {key}",
                "at": "2026-03-01T11:00:00.000000Z",
            }
        ],
    )


def test_a_good_answer_that_echoes_our_key_has_it_masked(
    service: FederationService, client: FakeClient
) -> None:
    client.answers[("ACME", "H1")] = lambda: echoing(KEY)
    found = federate(service)
    assert found.branches[0].status == "ok"
    assert KEY not in json.dumps(found.to_dict())
    assert by_id(found)["ACME:lot:****"].attrs["key"] == "****"
    assert found.branches[1].message == "bad key ****"
    assert "ACME:lot:****" in {e.src for e in found.edges}


def test_an_answer_cached_with_our_key_in_it_is_masked_as_it_is_read(
    service: FederationService, accounts: EmbeddedAccountStore, clock: Clock
) -> None:
    request = "up via cust-1|2|H1"  # what federate(hops=3) asks ACME: one hop less
    answer = json.dumps(echoing(KEY))
    accounts.put_partner_answer(PartnerAnswer("ACME", request, answer, utc_text(T0)))
    found = federate(service)
    assert found.branches[0].status == "cached"
    assert KEY not in json.dumps(found.to_dict())


def test_an_answer_whose_ids_are_one_once_our_key_is_masked_is_an_error_stub(
    service: FederationService, client: FakeClient
) -> None:
    answer = echoing(KEY)
    answer["nodes"].append({"id": "lot:****", "kind": "lot", "depth": 1})
    client.answers[("ACME", "H1")] = lambda: answer
    found = federate(service)
    assert by_id(found)["stub:ACME/H1"].attrs["status"] == "error"


def test_quantities_times_and_dates_are_read_as_an_instance_writes_them() -> None:
    link = {"from": "lot:RAW-1", "to": "lot:H1", "type": "PROCESSED_INTO"}
    for qty in ["100", "0.25", "0"]:
        assert from_wire(acme_answer(edges=[link | {"qty": qty}])).edges[0].qty == qty
    for at in ["2026-03-01T08:00:00.000000Z", "2026-03-01T09:00:00+01:00"]:
        step = {"id": "step:MELT-1", "kind": "step", "depth": 1, "attrs": {"started_at": at}}
        read = from_wire(
            acme_answer(nodes=[*acme_answer()["nodes"], step], edges=[link | {"at": at}])
        )
        assert (read.edges[0].at, read.nodes[2].attrs["started_at"]) == (at, at)
    dates = {"expiry": "2028-02-29", "manufactured": "2026-01-31"}
    lot = {"id": "lot:RAW-2", "kind": "lot", "depth": 1, "attrs": dates}
    assert from_wire(acme_answer(nodes=[*acme_answer()["nodes"], lot])).nodes[2].attrs == dates


LINK = {"from": "lot:RAW-1", "to": "lot:H1", "type": "PROCESSED_INTO"}
STEP = {"id": "step:MELT-1", "kind": "step", "depth": 1}
NAIVE = "2026-03-01T08:00:00"
NO_OFFSET = "Input should have timezone info"
NOT_NEGATIVE = "Input should be greater than or equal to 0"
A_DATE = 'a date is written YYYY-MM-DD, such as "2026-03-02"'
RAW_2 = {"id": "lot:RAW-2", "kind": "lot", "depth": 1}
ORE_BRANCH = {
    "partner": "ORE",
    "code": "O1",
    "attach": "lot:H1",
    "status": "unreachable",
    "at": "2026-03-01T11:00:00.000000Z",
}


def held(nodes: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """ACME's answer, with `nodes` added to its own."""
    answer = acme_answer(**extra)
    answer["nodes"] += nodes or []
    return answer


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (held(edges=[LINK | {"qty": "-3"}]), f"edges.0.qty: {NOT_NEGATIVE}"),
        (held(edges=[LINK | {"qty": "-0.5"}]), f"edges.0.qty: {NOT_NEGATIVE}"),
        (
            held([{"id": "lot:RAW-2", "kind": "lot", "depth": 1, "attrs": {"qty": "-5"}}]),
            f"nodes.2.attrs.qty: {NOT_NEGATIVE}",
        ),
        (
            held([{"id": "lot:RAW-2", "kind": "lot", "depth": 1, "attrs": {"qty": -5}}]),
            f"nodes.2.attrs.qty: {NOT_NEGATIVE}",
        ),
        (held(edges=[LINK | {"at": NAIVE}]), f"edges.0.at: {NO_OFFSET}"),
        (held(edges=[LINK | {"at": "yesterday"}]), "edges.0.at: a time is RFC 3339 text"),
        (
            held([{"id": "lot:RAW-2", "kind": "lot", "depth": 1, "attrs": {"created_at": NAIVE}}]),
            f"nodes.2.attrs.created_at: {NO_OFFSET}",
        ),
        (held([STEP | {"attrs": {"started_at": NAIVE}}]), f"nodes.2.attrs.started_at: {NO_OFFSET}"),
        (
            held([STEP | {"attrs": {"finished_at": "2026-03-01T08:00:00+15:00"}}]),
            "nodes.2.attrs.finished_at: an offset is at most 14:00 from UTC either way",
        ),
        (
            held([{"id": "lot:RAW-2", "kind": "lot", "depth": 1, "fetched_at": NAIVE}]),
            f"nodes.2.fetched_at: {NO_OFFSET}",
        ),
        (
            held([RAW_2 | {"attrs": {"expiry": "2026-13-45"}}]),
            f"nodes.2.attrs.expiry: {A_DATE}; months run from 01 to 12, not 13",
        ),
        (
            held([RAW_2 | {"attrs": {"manufactured": "2026-03-01T08:00:00Z"}}]),
            f"nodes.2.attrs.manufactured: {A_DATE}",
        ),
        (
            held([RAW_2 | {"attrs": {"expiry": 20260301}}]),
            f"nodes.2.attrs.expiry: {A_DATE}",
        ),
        (held(branches=[ORE_BRANCH | {"at": NAIVE}]), f"branches.0.at: {NO_OFFSET}"),
        (
            held(branches=[ORE_BRANCH | {"fetched_at": NAIVE}]),
            f"branches.0.fetched_at: {NO_OFFSET}",
        ),
    ],
    ids=[
        "negative-link-qty",
        "negative-fraction",
        "negative-node-qty",
        "negative-node-qty-number",
        "link-time-without-offset",
        "link-time-not-a-time",
        "node-time-without-offset",
        "step-time-without-offset",
        "step-time-offset-too-far",
        "fetched-without-offset",
        "expiry-month-13",
        "manufactured-a-time",
        "expiry-a-number",
        "branch-time-without-offset",
        "branch-fetched-without-offset",
    ],
)
def test_an_answer_our_own_data_could_not_hold_is_an_error_naming_the_field(
    service: FederationService, client: FakeClient, answer: dict[str, Any], message: str
) -> None:
    client.answers[("ACME", "H1")] = lambda: answer
    found = federate(service)
    stub = by_id(found)["stub:ACME/H1"]
    assert (stub.attrs["status"], found.branches[0].status) == ("error", "error")
    assert stub.attrs["message"].startswith(message), stub.attrs["message"]
    assert not any(n.id.startswith("ACME:") for n in found.nodes)


def test_a_partners_branch_stub_holding_a_time_without_offset_is_an_error(
    service: FederationService, client: FakeClient
) -> None:
    # A stub ACME made for its own partner says when it was asked, as ours do.
    stub = {"id": "stub:ORE/O1", "kind": "stub", "depth": 1, "attrs": {"at": NAIVE}}
    client.answers[("ACME", "H1")] = lambda: held([stub], branches=[ORE_BRANCH])
    found = federate(service)
    assert by_id(found)["stub:ACME/H1"].attrs["message"] == f"nodes.2.attrs.at: {NO_OFFSET}"


def test_edges_of_an_answer_that_point_nowhere_are_dropped(
    service: FederationService, client: FakeClient
) -> None:
    client.answers[("ACME", "H1")] = lambda: acme_answer(
        edges=[{"from": "lot:GHOST", "to": "lot:H1", "type": "SPLIT_INTO"}]
    )
    found = federate(service)
    assert "ACME:lot:GHOST" not in {e.src for e in found.edges}


def test_when_the_partner_is_down_the_cached_answer_stands_in_marked_stale(
    service: FederationService, client: FakeClient, clock: Clock
) -> None:
    client.answers[("ACME", "H1")] = acme_answer
    first = federate(service)
    clock.now = T0 + timedelta(hours=5)
    client.answers[("ACME", "H1")] = fails("unreachable", "no answer within 1 s")
    found = federate(service)
    raw = by_id(found)["ACME:lot:RAW-1"]
    assert raw.stale is True
    assert raw.fetched_at == first.branches[0].fetched_at
    assert found.branches[0].status == "stale"
    assert "no answer within 1 s" in found.branches[0].message
    assert found.stubs == []


def test_a_refusal_drops_the_cached_answer_instead_of_showing_it(
    service: FederationService, client: FakeClient, clock: Clock
) -> None:
    client.answers[("ACME", "H1")] = acme_answer
    federate(service)
    clock.now = T0 + timedelta(hours=5)
    client.answers[("ACME", "H1")] = fails("refused", "not shared with you")
    refused = federate(service)
    assert refused.branches[0].status == "refused"
    assert not any(n.id.startswith("ACME:") for n in refused.nodes)
    # The partner is down later: the refused answer is gone, so there is nothing stale to show.
    client.answers[("ACME", "H1")] = fails("unreachable", "down")
    assert federate(service).branches[0].status == "unreachable"


def test_a_refusal_drops_the_cached_answers_to_other_hops_and_depths_too(
    service: FederationService, client: FakeClient, clock: Clock
) -> None:
    client.answers[("ACME", "H1")] = acme_answer
    federate(service, hops=3)
    service.federate(plant_trace(), source="PLANT", hops=3, visited=[], max_depth=5)
    clock.now = T0 + timedelta(hours=5)
    client.answers[("ACME", "H1")] = fails("refused", "not shared with you")
    assert federate(service, hops=2).branches[0].status == "refused"
    # Every answer about H1 was shared under the permission withdrawn: none stands in.
    client.answers[("ACME", "H1")] = fails("unreachable", "down")
    assert federate(service, hops=3).branches[0].status == "unreachable"
    cut = service.federate(plant_trace(), source="PLANT", hops=3, visited=[], max_depth=5)
    assert cut.branches[0].status == "unreachable"


def test_a_partner_cannot_pass_its_items_off_as_ours(
    service: FederationService, client: FakeClient
) -> None:
    claimed = acme_answer()
    for node in claimed["nodes"]:
        node["source"] = "PLANT"
    client.answers[("ACME", "H1")] = lambda: claimed
    found = federate(service)
    assert by_id(found)["ACME:lot:RAW-1"].source == "ACME"


@pytest.mark.parametrize("gid", ["LOT:RAW-1", "X:lot:Q", "HOSP:lot:Z", "stub:PLANT/P1"])
def test_a_partner_cannot_pass_off_any_node_or_link_as_ours(
    service: FederationService, client: FakeClient, gid: str
) -> None:
    claimed = acme_answer()
    claimed["nodes"][1] |= {"id": gid, "source": "PLANT"}
    claimed["edges"] = [{"from": gid, "to": "lot:H1", "type": "PROCESSED_INTO", "source": "PLANT"}]
    client.answers[("ACME", "H1")] = lambda: claimed
    found = federate(service)
    assert by_id(found)[f"ACME:{gid}"].source == "ACME"
    assert {e.source for e in found.edges if e.src == f"ACME:{gid}"} == {"ACME"}


def test_what_a_partner_relays_from_its_own_partners_keeps_their_source(
    service: FederationService, client: FakeClient
) -> None:
    relayed = acme_answer()
    relayed["nodes"][1] |= {"id": "ORE:lot:O1", "source": "ORE"}
    relayed["edges"] = [{"from": "ORE:lot:O1", "to": "lot:H1", "type": "SUPPLIED_AS"}]
    client.answers[("ACME", "H1")] = lambda: relayed
    assert by_id(federate(service))["ACME:ORE:lot:O1"].source == "ORE"


def test_an_answer_about_the_other_direction_is_an_error_stub(
    service: FederationService, client: FakeClient
) -> None:
    client.answers[("ACME", "H1")] = lambda: acme_answer(direction="down")
    found = federate(service)
    assert by_id(found)["stub:ACME/H1"].attrs["status"] == "error"


@pytest.mark.parametrize("root", ["lot:ZZZ-OTHER", "serial:H1X", "LOT:H1", "H1"])
def test_an_answer_about_another_item_than_the_code_asked_is_an_error_stub(
    service: FederationService, client: FakeClient, root: str
) -> None:
    answer = acme_answer(root=root)
    answer["nodes"][0]["id"] = root
    answer["edges"] = [{"from": "lot:RAW-1", "to": root, "type": "PROCESSED_INTO"}]
    client.answers[("ACME", "H1")] = lambda: answer
    found = federate(service)
    stub = by_id(found)["stub:ACME/H1"]
    assert stub.attrs["status"] == "error"
    assert stub.attrs["message"] == "the answer's root is not the item asked about"
    assert not any(n.id.startswith("ACME:") for n in found.nodes)


@pytest.mark.parametrize(
    ("root", "kind"),
    [
        ("shipment:H1", "shipment"),
        ("company:H1", "company"),
        ("supplier_lot:H1", "supplier_lot"),
        ("step:H1", "step"),
        ("lot:H1", "company"),
        ("serial:H1", "lot"),
    ],
)
def test_an_answer_rooted_at_anything_but_the_lot_or_serial_asked_is_an_error_stub(
    service: FederationService, client: FakeClient, root: str, kind: str
) -> None:
    answer = acme_answer(root=root)
    answer["nodes"][0] |= {"id": root, "kind": kind}
    answer["edges"] = [{"from": "lot:RAW-1", "to": root, "type": "PROCESSED_INTO"}]
    client.answers[("ACME", "H1")] = lambda: answer
    found = federate(service)
    stub = by_id(found)["stub:ACME/H1"]
    assert stub.attrs["message"] == "the answer's root is not the item asked about"
    assert not any(n.id.startswith("ACME:") for n in found.nodes)


def test_an_answer_about_a_serial_shipped_with_the_code_asked_is_merged(
    service: FederationService, client: FakeClient
) -> None:
    answer = acme_answer(root="serial:H1")
    answer["nodes"][0] |= {"id": "serial:H1", "kind": "serial"}
    answer["edges"] = [{"from": "lot:RAW-1", "to": "serial:H1", "type": "PROCESSED_INTO"}]
    client.answers[("ACME", "H1")] = lambda: answer
    assert federate(service).branches[0].status == "ok"


def test_branches_and_stubs_of_the_partner_are_qualified_too(
    service: FederationService, client: FakeClient
) -> None:
    nested = acme_answer()
    nested["nodes"].append(
        {
            "id": "stub:ORE/O1",
            "kind": "stub",
            "depth": 2,
            "source": "ORE",
            "attrs": {"status": "unreachable"},
        }
    )
    nested["branches"] = [
        {
            "partner": "ORE",
            "code": "O1",
            "attach": "supplier_lot:ORE/O1",
            "status": "unreachable",
            "message": "down",
            "at": "2026-03-01T11:00:00.000000Z",
        }
    ]
    client.answers[("ACME", "H1")] = lambda: nested
    found = federate(service)
    stub = by_id(found)["ACME:stub:ORE/O1"]
    assert stub.source == "ORE"
    assert [(b.partner, b.attach, b.status) for b in found.branches] == [
        ("ACME", "supplier_lot:ACME/H1", "ok"),
        ("ORE", "ACME:supplier_lot:ORE/O1", "unreachable"),
    ]


def test_asking_partners_opens_no_store_connection_per_worker_thread(
    service: FederationService,
    client: FakeClient,
    accounts: EmbeddedAccountStore,
    clock: Clock,
) -> None:
    client.answers[("ACME", "H1")] = acme_answer
    opened = len(accounts._all)
    for minute in range(20):
        clock.now = T0 + timedelta(minutes=minute)  # past the time to live: asked each time
        federate(service)
    # The store is used from the calling thread only; worker threads just ask over the network.
    assert len(accounts._all) == opened
    assert len(client.calls) == 20


def test_a_downstream_trace_is_not_federated(
    service: FederationService, client: FakeClient
) -> None:
    down = Trace("supplier_lot:ACME/H1", "down", plant_trace().nodes, plant_trace().edges)
    found = service.federate(down, source="PLANT", hops=3, visited=[])
    assert client.calls == []
    assert found.branches == []


# The registry


def test_a_partner_must_be_a_registered_company(service: FederationService) -> None:
    with pytest.raises(BadRequest, match="register it first"):
        service.put_partner("NOBODY", "http://127.0.0.1:9", KEY)


@pytest.mark.parametrize(
    ("url", "key", "timeout", "ttl", "field"),
    [
        ("ftp://acme", KEY, 1.0, 0, "base_url"),
        ("http://", KEY, 1.0, 0, "base_url"),
        ("http://acme?x=1", KEY, 1.0, 0, "base_url"),
        ("http://acme/?", KEY, 1.0, 0, "base_url"),  # an empty query
        ("http://acme/#", KEY, 1.0, 0, "base_url"),  # an empty fragment
        ("http://acme#top", KEY, 1.0, 0, "base_url"),
        ("https://plant:hunter2@acme", KEY, 1.0, 0, "base_url"),
        ("https://\u0661\u0662.example", KEY, 1.0, 0, "base_url"),  # no IDNA host name
        ("http://acme", "", 1.0, 0, "api_key"),
        ("http://acme", "two words", 1.0, 0, "api_key"),
        ("http://acme", "tgk_ab_s3cr\u00e9t", 1.0, 0, "api_key"),  # not ASCII
        ("http://acme", "tgk_ab_se\x00cret", 1.0, 0, "api_key"),  # a control character
        ("http://acme", "tgk_ab_se\x7fcret", 1.0, 0, "api_key"),
        ("http://acme", "tgk_ab_secret\u2028", 1.0, 0, "api_key"),  # a line separator
        ("http://acme", KEY, 0.0, 0, "timeout_s"),
        ("http://acme", KEY, 500.0, 0, "timeout_s"),
        ("http://acme", KEY, 1.0, -1, "cache_ttl_s"),
    ],
)
def test_bad_partner_settings_are_refused_by_name(
    service: FederationService, url: str, key: str, timeout: float, ttl: int, field: str
) -> None:
    with pytest.raises(BadRequest, match=field):
        service.put_partner("BOLT", url, key, timeout_s=timeout, cache_ttl_s=ttl)
    assert [p.company for p in service.partners()] == ["ACME"]


def test_updating_a_partner_keeps_when_it_was_registered(
    service: FederationService, clock: Clock
) -> None:
    registered = service.partners()[0].created_at
    clock.now = T0 + timedelta(days=1)
    changed = service.put_partner("ACME", "https://acme.example/", KEY, timeout_s=3)
    assert (changed.created_at, changed.base_url) == (registered, "https://acme.example")


def test_removing_an_unknown_partner_is_not_found(service: FederationService) -> None:
    with pytest.raises(NotFound):
        service.remove_partner("BOLT")


@pytest.mark.parametrize("raw", ["a,b c", ",".join(["x"] * 17), "x" * 65, "semi;colon"])
def test_a_malformed_visited_list_is_refused(raw: str) -> None:
    with pytest.raises(BadRequest, match="visited"):
        checked_visited(raw)


@pytest.mark.parametrize("instance", ["plant-1\n", "", "plant 1", "x" * 65])
def test_an_instance_id_a_header_cannot_carry_is_refused(
    accounts: EmbeddedAccountStore, client: FakeClient, instance: str
) -> None:
    # Sent in X-Tracegraph-Visited: one with a line end (read from a file) would make every
    # partner unreachable, the header refused on its way out, rather than the setting refused.
    with pytest.raises(BadRequest, match="instance"):
        FederationService(accounts, client, instance=instance)


def test_a_visited_list_is_read_in_order() -> None:
    assert checked_visited(" a-1, b.2 ,,c_3") == ["a-1", "b.2", "c_3"]
    assert checked_visited(None) == []


def test_an_answer_naming_a_node_twice_is_an_error_stub(
    service: FederationService, client: FakeClient
) -> None:
    twice = acme_answer()
    twice["nodes"].append({"id": "lot:RAW-1", "kind": "lot", "depth": 1, "attrs": {}})
    client.answers[("ACME", "H1")] = lambda: twice
    found = federate(service)
    assert by_id(found)["stub:ACME/H1"].attrs["status"] == "error"


def test_two_branches_into_one_partner_share_its_ancestors_once(
    service: FederationService, client: FakeClient
) -> None:
    # Two heats of one melt: H1 and H2 both come from ACME's RAW-1.
    def heat(lot: str, share: float) -> Callable[[], Any]:
        nodes = [
            {"id": f"lot:{lot}", "kind": "lot", "depth": 0, "share": 1.0, "attrs": {}},
            {"id": "step:MELT-1", "kind": "step", "depth": 1, "share": 1.0, "attrs": {}},
            {"id": "lot:RAW-1", "kind": "lot", "depth": 2, "share": share, "attrs": {}},
        ]
        edges = [
            {"from": "step:MELT-1", "to": f"lot:{lot}", "type": "PRODUCED"},
            {"from": "lot:RAW-1", "to": "step:MELT-1", "type": "CONSUMED_BY"},
        ]
        return lambda: {"root": f"lot:{lot}", "direction": "up", "nodes": nodes, "edges": edges}

    client.answers[("ACME", "H1")] = heat("H1", 0.8)
    client.answers[("ACME", "H2")] = heat("H2", 0.6)
    trace = plant_trace()
    second = TraceNode(
        "supplier_lot:ACME/H2",
        "supplier_lot",
        2,
        {"key": "ACME/H2", "supplier": "ACME", "supplier_lot": "H2"},
        share=0.5,
    )
    trace = Trace(
        trace.root,
        "up",
        [n for n in trace.nodes if n.id != "supplier_lot:ZED/Z1"] + [second],
        [e for e in trace.edges if e.src != "supplier_lot:ZED/Z1"]
        + [edge("supplier_lot:ACME/H2", "lot:L1", "RECEIVED_AS", 0.5)],
    )
    found = service.federate(trace, source="PLANT", hops=3, visited=[])
    assert [(b.code, b.status) for b in found.branches] == [("H1", "ok"), ("H2", "ok")]
    ids = [n.id for n in found.nodes]
    assert ids.count("ACME:lot:RAW-1") == 1 and ids.count("ACME:step:MELT-1") == 1
    raw = by_id(found)["ACME:lot:RAW-1"]
    assert raw.share == pytest.approx(0.5 * 0.8 + 0.5 * 0.6)
    assert raw.depth == 2 + 1 + 2
    links = [(e.src, e.dst, e.type) for e in found.edges]
    assert links.count(("ACME:lot:RAW-1", "ACME:step:MELT-1", "CONSUMED_BY")) == 1
    assert ("ACME:lot:H1", "supplier_lot:ACME/H1", "SUPPLIED_AS") in links
    assert ("ACME:lot:H2", "supplier_lot:ACME/H2", "SUPPLIED_AS") in links


def test_branches_into_one_partner_that_meet_in_an_assembly_combine_as_its_components(
    service: FederationService, client: FakeClient
) -> None:
    # ACME made a bar (80 % RAW-1) and a case (60 % RAW-1); we assembled a kit from one of each.
    def made_of_raw(lot: str, share: float) -> Callable[[], Any]:
        nodes = [
            {"id": f"lot:{lot}", "kind": "lot", "depth": 0, "share": 1.0, "attrs": {}},
            {"id": "lot:RAW-1", "kind": "lot", "depth": 1, "share": share, "attrs": {}},
        ]
        edges = [{"from": "lot:RAW-1", "to": f"lot:{lot}", "type": "PROCESSED_INTO"}]
        return lambda: {"root": f"lot:{lot}", "direction": "up", "nodes": nodes, "edges": edges}

    client.answers[("ACME", "BAR1")] = made_of_raw("BAR1", 0.8)
    client.answers[("ACME", "CASE1")] = made_of_raw("CASE1", 0.6)
    nodes = [TraceNode("serial:KIT1", "serial", 0, {}), TraceNode("step:ASSY", "step", 1, {})]
    edges = [edge("step:ASSY", "serial:KIT1", "PRODUCED")]
    for part, code in (("BAR", "BAR1"), ("CASE", "CASE1")):
        supplied = f"supplier_lot:ACME/{code}"
        nodes += [
            TraceNode(f"lot:P-{part}", "lot", 2, {}),
            TraceNode(supplied, "supplier_lot", 3, {"supplier": "ACME", "supplier_lot": code}),
        ]
        edges += [
            edge(f"lot:P-{part}", "step:ASSY", "CONSUMED_BY", part=part),
            edge(supplied, f"lot:P-{part}", "RECEIVED_AS"),
        ]
    trace = Trace("serial:KIT1", "up", nodes, edges)
    found = service.federate(trace, source="PLANT", hops=3, visited=[])
    # Either component may carry RAW-1: 1 - (1 - 0.8)(1 - 0.6), as a trace here reads it, never
    # the sum (1.4), which a customer we answer would refuse as no share.
    assert by_id(found)["ACME:lot:RAW-1"].share == pytest.approx(0.92)
    assert from_wire(found.to_dict()).nodes


def test_qualified_ids_that_collide_with_another_branch_are_an_error_stub(
    accounts: EmbeddedAccountStore, client: FakeClient, clock: Clock
) -> None:
    # "A" answers with "B:lot:X", which qualifies to the id of partner "A:B"'s own "lot:X".
    for company in ("A", "A:B"):
        accounts.put_company(Company(company, company, "supplier", created_at="t"))
    service = FederationService(accounts, client, instance="plant-1", clock=clock)
    service.put_partner("A", "http://127.0.0.1:9", KEY)
    service.put_partner("A:B", "http://127.0.0.1:9", KEY)

    def answer(root: str, ancestor: str) -> dict[str, Any]:
        nodes = [
            {"id": root, "kind": "lot", "depth": 0},
            {"id": ancestor, "kind": "lot", "depth": 1, "attrs": {"key": "X"}},
        ]
        return {"root": root, "direction": "up", "nodes": nodes}

    client.answers[("A", "X1")] = lambda: answer("lot:X1", "B:lot:X")
    client.answers[("A:B", "X2")] = lambda: answer("lot:X2", "lot:X")
    lots = [
        TraceNode(
            f"supplier_lot:{company}/{code}",
            "supplier_lot",
            1,
            {"supplier": company, "supplier_lot": code},
        )
        for company, code in (("A", "X1"), ("A:B", "X2"))
    ]
    root = TraceNode("lot:L1", "lot", 0, {"key": "L1"})
    trace = Trace(
        "lot:L1", "up", [root, *lots], [edge(n.id, "lot:L1", "RECEIVED_AS") for n in lots]
    )
    found = service.federate(trace, source=None, hops=2, visited=[])
    ids = [n.id for n in found.nodes]
    assert len(ids) == len(set(ids))
    assert [(b.partner, b.status) for b in found.branches] == [("A", "ok"), ("A:B", "error")]
    assert by_id(found)["A:B:lot:X"].source == "A"


def answered(
    service: FederationService, access: Access, *asked: Any, **depth: Any
) -> FederatedTrace:
    """What we answer a partner instance, as that instance reads it."""
    return from_wire(json.loads(service.answer(access, *asked, **depth)))


class ResharingAccess:
    """Stands in for a customer's Access whose policy reshares: hands `reshare` our trace."""

    def require(self, roles: frozenset[Role], what: str) -> None:
        assert Role.CUSTOMER in roles

    def partner_trace(
        self, code: str, direction: str, reshare: Callable[[Trace], FederatedTrace]
    ) -> FederatedTrace:
        return reshare(plant_trace())


def test_a_partner_cannot_ask_us_to_go_on_further_than_our_own_hop_limit(
    accounts: EmbeddedAccountStore, client: FakeClient, clock: Clock
) -> None:
    service = FederationService(accounts, client, instance="plant-1", max_hops=2, clock=clock)
    service.put_partner("ACME", "http://127.0.0.1:9", KEY)
    client.answers[("ACME", "H1")] = acme_answer
    access = cast(Access, ResharingAccess())
    service.answer(access, "S1", "up", 9, ["hosp-1"])
    service.answer(access, "S1", "up", 1, ["hosp-1"])
    # ACME is asked with one hop less than we may go on: 2 - 1, then the asker's 1 - 1.
    assert [(c[3], c[4]) for c in client.calls] == [
        (1, ["hosp-1", "plant-1"]),
        (0, ["hosp-1", "plant-1"]),
    ]


def test_a_branch_that_would_take_the_trace_over_its_size_limit_is_an_error_stub(
    service: FederationService, client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.answers[("ACME", "H1")] = acme_answer
    # ACME's 2 nodes fit beside our own 4 in 6, not in 5.
    monkeypatch.setattr("api.federation.service.MAX_FEDERATED_NODES", 6)
    assert federate(service).branches[0].status == "ok"
    monkeypatch.setattr("api.federation.service.MAX_FEDERATED_NODES", 5)
    found = federate(service)
    assert found.branches[0].status == "error"
    assert "over 5 nodes" in found.branches[0].message
    assert not any(n.id.startswith("ACME:") for n in found.nodes)
    assert len(found.nodes) == 5  # the stub in ACME's place


def with_second_lot(trace: Trace) -> Trace:
    """`trace` with a second lot of ACME's, H2, beside H1."""
    second = TraceNode(
        "supplier_lot:ACME/H2",
        "supplier_lot",
        2,
        {"key": "ACME/H2", "supplier": "ACME", "supplier_lot": "H2"},
        share=0.5,
    )
    return Trace(
        trace.root,
        "up",
        [*trace.nodes, second],
        [*trace.edges, edge("supplier_lot:ACME/H2", "lot:L1", "RECEIVED_AS", 0.5)],
    )


@pytest.mark.parametrize(
    ("limit", "value"),
    [
        # Ours: 5 nodes and 4 links; ACME's answer about H1: 2 nodes and 1 link, and the link to
        # H1; the stub for H2: 1 node and its link.
        ("MAX_FEDERATED_NODES", 7),
        ("MAX_FEDERATED_EDGES", 6),
    ],
)
def test_what_we_answer_stays_within_the_limits_we_keep_ours_and_stubs_counted(
    service: FederationService,
    client: FakeClient,
    monkeypatch: pytest.MonkeyPatch,
    limit: str,
    value: int,
) -> None:
    # A customer's instance reads our whole answer against these limits: our own nodes and the
    # stubs of questions still to be merged count, or it would refuse all of it.
    client.answers[("ACME", "H1")] = acme_answer
    client.answers[("ACME", "H2")] = fails("unreachable", "down")
    monkeypatch.setattr(f"api.federation.service.{limit}", value)
    trace = with_second_lot(plant_trace())
    found = service.federate(trace, source=None, hops=3, visited=["hosp-1", "plant-1"])
    assert [b.status for b in found.branches] == ["error", "unreachable"]
    assert f"over {value} " in found.branches[0].message
    assert len(found.nodes if limit == "MAX_FEDERATED_NODES" else found.edges) == value


def test_branches_that_would_take_the_trace_over_what_a_partner_reads_are_an_error_stub(
    service: FederationService, client: FakeClient
) -> None:
    # Two answers of ACME, each relaying half the branches an answer may hold: both merged, with
    # a branch of ours for each, our answer to a customer would hold more than it reads.
    def relaying(lot: str) -> Callable[[], Any]:
        branch = {
            "partner": "ORE",
            "code": "O1",
            "attach": f"lot:{lot}",
            "status": "unreachable",
            "at": "2026-03-01T12:00:00.000000Z",
        }
        answer = acme_answer(root=f"lot:{lot}", branches=[branch] * (MAX_WIRE_BRANCHES // 2))
        answer["nodes"][0]["id"] = f"lot:{lot}"
        answer["edges"] = [{"from": "lot:RAW-1", "to": f"lot:{lot}", "type": "PROCESSED_INTO"}]
        return lambda: answer

    client.answers[("ACME", "H1")] = relaying("H1")
    client.answers[("ACME", "H2")] = relaying("H2")
    trace = with_second_lot(plant_trace())
    found = service.federate(trace, source="PLANT", hops=3, visited=["cust-1"])
    assert [b.status for b in found.branches if b.partner == "ACME"] == ["ok", "error"]
    said = found.branches[-1].message  # the one limit met, not the three
    assert said.endswith(f"over {MAX_WIRE_BRANCHES} branches") and "nodes" not in said
    from_wire(found.to_dict())  # as a customer's instance reads it


def test_questions_queued_behind_a_partner_that_hangs_become_unreachable(
    accounts: EmbeddedAccountStore, client: FakeClient, clock: Clock
) -> None:
    # Twenty lots of a partner whose every answer takes far longer than its timeout: without a
    # bound for the whole trace they would queue on eight workers and all come back, late.
    service = FederationService(accounts, client, instance="plant-1", clock=clock)
    service.put_partner("ACME", "http://127.0.0.1:9", KEY, timeout_s=0.05)
    release = threading.Event()

    def hang() -> Any:
        release.wait(5)
        return acme_answer()

    codes = [f"H{n}" for n in range(20)]
    for code in codes:
        client.answers[("ACME", code)] = hang
    lots = [
        TraceNode(
            f"supplier_lot:ACME/{c}", "supplier_lot", 1, {"supplier": "ACME", "supplier_lot": c}
        )
        for c in codes
    ]
    root = TraceNode("lot:L1", "lot", 0, {"key": "L1"})
    trace = Trace(
        "lot:L1", "up", [root, *lots], [edge(n.id, "lot:L1", "RECEIVED_AS") for n in lots]
    )
    try:
        found = service.federate(trace, source=None, hops=2, visited=[])
    finally:
        release.set()
    assert {b.status for b in found.branches} == {"unreachable"}
    assert len(found.stubs) == 20
    assert "within the trace's 0.1 s" in found.branches[0].message


def test_an_answer_is_cached_for_the_instances_its_question_had_passed(
    service: FederationService, client: FakeClient
) -> None:
    # ACME reshares to the hospital's instance, which answers a question that passed it with a
    # loop: that answer must not stand in for one asked on a path without the hospital.
    def answer() -> Any:
        if "hosp-1" not in client.calls[-1][4]:
            return acme_answer()
        looped = ORE_BRANCH | {"partner": "HOSP", "status": "loop"}
        return acme_answer(branches=[looped])

    client.answers[("ACME", "H1")] = answer
    access = cast(Access, ResharingAccess())
    # Both questions to ACME have the same hops left (our own 4, less one) and depth.
    relayed = answered(service, access, "S1", "up", 4, ["hosp-1"])
    assert [b.status for b in relayed.branches] == ["ok", "loop"]
    here = service.federate_here(plant_trace())
    assert [c[4] for c in client.calls] == [["hosp-1", "plant-1"], ["plant-1"]]
    assert [b.status for b in here.branches] == ["ok"]
    # Asked again on the first path, the answer cached for it stands in.
    assert answered(service, access, "S1", "up", 4, ["hosp-1"]).branches[0].status == "cached"
    assert len(client.calls) == 2


# What a federated trace may list (its caller's answer): ours, then the partners' that fit


def test_a_partners_answer_the_trace_has_no_room_for_is_an_error_stub_never_read_whole(
    service: FederationService, client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ours: 4 nodes and 3 links; ACME's answer: 2 nodes and a link, and the link to H1.
    service.put_partner("ACME", "http://127.0.0.1:9", KEY, cache_ttl_s=0)  # asked each time
    client.answers[("ACME", "H1")] = acme_answer
    read: list[object] = []

    def reading(body: Any, *args: Any, **kwargs: Any) -> FederatedTrace:
        read.append(body)
        return from_wire(body, *args, **kwargs)

    monkeypatch.setattr("api.federation.service.from_wire", reading)
    found = service.federate(
        plant_trace(), source="PLANT", hops=3, visited=[], max_listed=ListLimit(11)
    )
    assert [b.status for b in found.branches] == ["ok"] and len(read) == 1
    # In 10, its 2 nodes fit beside ours and the link to H1: it is read, then found too long.
    found = service.federate(
        plant_trace(), source="PLANT", hops=3, visited=[], max_listed=ListLimit(10)
    )
    assert [b.status for b in found.branches] == ["error"] and len(read) == 2
    assert found.branches[0].message == (
        "with this answer the trace would list more than 10 nodes and edges: ask for fewer "
        "levels (a max depth)"
    )
    assert len(found.nodes) + len(found.edges) == 9  # ours, and the stub with its link
    # In 9, its nodes alone do not fit: it is not read.
    found = service.federate(
        plant_trace(), source="PLANT", hops=3, visited=[], max_listed=ListLimit(9)
    )
    assert [b.status for b in found.branches] == ["error"]
    assert "would list more than 9 nodes and edges" in found.branches[0].message
    assert len(read) == 2, "an answer whose nodes alone list more than the trace may is not read"


def test_a_list_sent_twice_counts_twice_as_an_answer_is_merged_and_before_it_is_read(
    service: FederationService, client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ours: 4 nodes; ACME's answer: 2 nodes. The nodes are sent twice (under two aliases).
    service.put_partner("ACME", "http://127.0.0.1:9", KEY, cache_ttl_s=0)  # asked each time
    client.answers[("ACME", "H1")] = acme_answer
    read: list[object] = []

    def reading(body: Any, *args: Any, **kwargs: Any) -> FederatedTrace:
        read.append(body)
        return from_wire(body, *args, **kwargs)

    def branch(most: int) -> tuple[str, str, int]:
        limit = ListLimit(most, nodes=2, edges=0, graphql=True)
        found = service.federate(
            plant_trace(), source="PLANT", hops=3, visited=[], max_listed=limit
        )
        [asked] = found.branches
        return asked.status, asked.message, len(found.nodes)

    monkeypatch.setattr("api.federation.service.from_wire", reading)
    assert branch(12) == ("ok", "answered", 6)
    assert len(read) == 1
    # In 11, the answer fits once but not twice: a stub, and its nodes are not read.
    assert branch(11) == (
        "error",
        "with this answer the trace would list more than 11 nodes: ask for fewer levels "
        "(maxDepth), or fewer aliases",
        5,
    )
    assert len(read) == 1


def test_an_answer_is_refused_unread_only_where_what_is_merged_of_it_cannot_fit(
    service: FederationService, client: FakeClient
) -> None:
    # ACME answers six levels deep whatever it is asked, as a partner from before max_depth
    # does: asked for one level below H1, we keep H1 and RAW-1 with their link, and the link
    # to H1: 11 with our 7.
    service.put_partner("ACME", "http://127.0.0.1:9", KEY, cache_ttl_s=0)  # asked each time
    chain = ["lot:H1", *(f"lot:RAW-{level}" for level in range(1, 6))]
    deep = acme_answer(
        nodes=[{"id": gid, "kind": "lot", "depth": level} for level, gid in enumerate(chain)],
        edges=[
            {"from": gid, "to": chain[level], "type": "PROCESSED_INTO"}
            for level, gid in enumerate(chain[1:])
        ],
    )
    client.answers[("ACME", "H1")] = lambda: deep

    def listed(max_listed: int | None, max_depth: int | None = 4) -> tuple[str, int]:
        found = service.federate(
            plant_trace(),
            source="PLANT",
            hops=3,
            visited=[],
            max_depth=max_depth,
            max_listed=None if max_listed is None else ListLimit(max_listed),
        )
        [branch] = found.branches
        return branch.status, len(found.nodes) + len(found.edges)

    assert listed(None) == listed(11) == ("ok", 11)
    assert listed(10) == ("error", 9)
    # Links sent twice are merged once, and links to nowhere dropped: neither counts.
    link = {"from": "lot:RAW-1", "to": "lot:H1", "type": "PROCESSED_INTO"}
    nowhere = {"from": "lot:ELSEWHERE", "to": "lot:H1", "type": "PROCESSED_INTO"}
    client.answers[("ACME", "H1")] = lambda: acme_answer(edges=[link] * 20 + [nowhere] * 20)
    assert listed(None, None) == listed(11, None) == ("ok", 11)


def test_an_answer_that_fits_alone_but_not_beside_the_others_is_an_error_stub(
    service: FederationService, client: FakeClient
) -> None:
    # Ours: 5 nodes and 4 links; each of ACME's answers, about H1 and H2, 4 with its link.
    service.put_partner("ACME", "http://127.0.0.1:9", KEY, cache_ttl_s=0)  # asked each time
    client.answers[("ACME", "H1")] = acme_answer
    client.answers[("ACME", "H2")] = lambda: acme_answer(
        root="lot:H2",
        nodes=[
            {"id": "lot:H2", "kind": "lot", "depth": 0, "attrs": {}},
            {"id": "lot:RAW-2", "kind": "lot", "depth": 1, "attrs": {}},
        ],
        edges=[{"from": "lot:RAW-2", "to": "lot:H2", "type": "PROCESSED_INTO"}],
    )
    trace = with_second_lot(plant_trace())
    found = service.federate(trace, source="PLANT", hops=3, visited=[], max_listed=ListLimit(17))
    assert [b.status for b in found.branches] == ["ok", "ok"]
    found = service.federate(trace, source="PLANT", hops=3, visited=[], max_listed=ListLimit(16))
    assert [b.status for b in found.branches] == ["ok", "error"]
    assert "would list more than 16 nodes and edges" in found.branches[1].message
    assert len(found.nodes) + len(found.edges) == 15


@pytest.mark.parametrize(
    ("broken", "said"),
    [
        ({"direction": "down"}, "asked upstream, the answer is down"),
        ({"root": "lot:H9"}, "the answer's root is not the item asked about"),
        ({"root": ["lot:H1"]}, "root: Input should be a valid string"),
        ({"edges": "none"}, "edges: Input should be a valid list"),
    ],
)
def test_a_long_answer_that_answers_no_question_of_ours_is_refused_as_such_and_stale(
    service: FederationService,
    client: FakeClient,
    clock: Clock,
    broken: dict[str, Any],
    said: str,
) -> None:
    # In 11, ACME's answer has room for 3 nodes beside ours and the link to H1: one of 4 that
    # is no answer to the question (another direction or item, or no trace) is refused as
    # what it is, so that the answer cached, which fits, stands in.
    client.answers[("ACME", "H1")] = acme_answer
    federate(service)
    clock.now = T0 + timedelta(hours=5)
    long = acme_answer(**broken)
    long["nodes"] += [{"id": f"lot:RAW-{n}", "kind": "lot", "depth": 1} for n in (2, 3)]
    if broken.get("root") == "lot:H9":
        long["nodes"][0]["id"] = "lot:H9"
    client.answers[("ACME", "H1")] = lambda: long
    found = service.federate(
        plant_trace(), source="PLANT", hops=3, visited=["cust-1"], max_listed=ListLimit(11)
    )
    [branch] = found.branches
    assert (branch.status, branch.message) == ("stale", f"error: {said}")
    assert by_id(found)["ACME:lot:RAW-1"].stale


def test_a_trace_may_be_bounded_by_its_nodes_or_its_edges_alone(
    service: FederationService, client: FakeClient
) -> None:
    # Ours: 4 nodes and 3 links; ACME's answer: 2 nodes and a link, and the link to H1.
    service.put_partner("ACME", "http://127.0.0.1:9", KEY, cache_ttl_s=0)  # asked each time
    client.answers[("ACME", "H1")] = acme_answer

    def branch(limit: ListLimit) -> tuple[str, str]:
        found = service.federate(
            plant_trace(), source="PLANT", hops=3, visited=[], max_listed=limit
        )
        [asked] = found.branches
        return asked.status, asked.message

    assert (
        branch(ListLimit(6, edges=False))
        == branch(ListLimit(5, nodes=False))
        == (
            "ok",
            "answered",
        )
    )
    assert branch(ListLimit(5, edges=False)) == (
        "error",
        "with this answer the trace would list more than 5 nodes: ask for fewer levels (a max "
        "depth)",
    )
    # A caller who names its way to fewer levels (the command line's option) is told it here
    # too, as the refusal of its own part of the trace tells it.
    assert branch(ListLimit(5, edges=False, depth="--max-depth")) == (
        "error",
        "with this answer the trace would list more than 5 nodes: ask for fewer levels "
        "(--max-depth)",
    )
    assert branch(ListLimit(4, nodes=False))[1].startswith(
        "with this answer the trace would list more than 4 edges:"
    )


def test_a_trace_whose_own_part_and_questions_list_too_much_is_refused_before_asking(
    service: FederationService, client: FakeClient
) -> None:
    client.answers[("ACME", "H1")] = acme_answer
    with pytest.raises(BadRequest, match="this trace lists 9 nodes and edges, more than 8: "):
        service.federate(plant_trace(), source="PLANT", hops=3, visited=[], max_listed=ListLimit(8))
    assert client.calls == []


def test_an_answer_that_takes_longer_to_read_than_the_partners_timeout_is_unreachable(
    accounts: EmbeddedAccountStore, client: FakeClient, clock: Clock
) -> None:
    # ACME answers at once, but with as many links as fit in what an instance reads (seconds to
    # check): its timeout bounds the whole branch, reading included. BOLT's longer timeout, which
    # bounds the whole trace, is not what ACME's branch is given.
    service = FederationService(accounts, client, instance="plant-1", clock=clock)
    service.put_partner("ACME", "http://127.0.0.1:9", KEY, timeout_s=0.1, cache_ttl_s=0)
    service.put_partner("BOLT", "http://127.0.0.1:9", KEY, timeout_s=30, cache_ttl_s=0)
    link = {"from": "lot:RAW-1", "to": "lot:H1", "type": "PROCESSED_INTO"}
    huge = acme_answer(edges=[link] * 400_000)
    client.answers[("ACME", "H1")] = lambda: huge
    client.answers[("BOLT", "B1")] = lambda: acme_answer(
        root="lot:B1", nodes=[{"id": "lot:B1", "kind": "lot", "depth": 0}]
    )
    lots = [
        TraceNode(f"supplier_lot:{p}/{c}", "supplier_lot", 1, {"supplier": p, "supplier_lot": c})
        for p, c in (("ACME", "H1"), ("BOLT", "B1"))
    ]
    root = TraceNode("lot:L1", "lot", 0, {"key": "L1"})
    trace = Trace(
        "lot:L1", "up", [root, *lots], [edge(n.id, "lot:L1", "RECEIVED_AS") for n in lots]
    )
    found = service.federate(trace, source=None, hops=2, visited=[])
    assert [(b.partner, b.status) for b in found.branches] == [
        ("ACME", "unreachable"),
        ("BOLT", "ok"),
    ]
    assert "within 0.1 s" in found.branches[0].message
    assert "trace's" not in found.branches[0].message  # its own deadline, not the trace's


def test_only_an_answer_read_past_its_deadline_is_said_to_have_taken_longer_to_read(
    service: FederationService, client: FakeClient
) -> None:
    def timing_out() -> Any:
        raise TimeoutError("timed out")  # as a socket's would, in the exchange

    client.answers[("ACME", "H1")] = timing_out
    [branch] = federate(service).branches
    assert (branch.status, branch.message) == ("unreachable", "no whole answer within 1 s")


class Looks:
    """The clock an answer is read by (its time.monotonic): it stands still for the `first`
    looks at it, then is past any deadline."""

    def __init__(self, first: int) -> None:
        self.first = first
        self.looks = 0

    def monotonic(self) -> float:
        self.looks += 1
        return 0.0 if self.looks <= self.first else math.inf


def test_an_answer_found_wrong_before_its_deadline_is_an_error_read_on_past_it_or_not(
    service: FederationService, client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its nodes are read in time, one of them wrong; its links are not, as the model reads on.
    link = {"from": "lot:RAW-1", "to": "lot:H1", "type": "PROCESSED_INTO"}
    answer = acme_answer(edges=[link] * 3000)
    answer["nodes"][1]["kind"] = "Lot!"
    client.answers[("ACME", "H1")] = lambda: answer
    monkeypatch.setattr("api.federation.models.time", Looks(1))
    [branch] = federate(service).branches
    assert branch.status == "error"
    assert branch.message.startswith("nodes.1.kind: String should match pattern")


def test_an_answer_found_wrong_before_its_deadline_in_the_list_read_late_is_an_error(
    service: FederationService, client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The wrong node is in the first 1,024 read; the deadline passes before the next 1,024 of
    # the same list. Pydantic drops what it found in a list an iterator stops with an error.
    extra = [{"id": f"lot:R{i}", "kind": "lot", "depth": 1} for i in range(2999)]
    answer = acme_answer()
    answer["nodes"] += extra
    answer["nodes"][5]["kind"] = "Lot!"
    client.answers[("ACME", "H1")] = lambda: answer
    monkeypatch.setattr("api.federation.models.time", Looks(1))
    [branch] = federate(service).branches
    assert branch.status == "error"
    assert branch.message.startswith("nodes.5.kind: String should match pattern")


@pytest.mark.parametrize("first", [0, 1, 3])
def test_an_answer_found_right_as_far_as_read_by_its_deadline_is_late(
    monkeypatch: pytest.MonkeyPatch, first: int
) -> None:
    # Cut before its nodes (an empty list is too short only for being cut), within them, or
    # within its links: the lists read were right, but not all was read.
    link = {"from": "lot:RAW-1", "to": "lot:H1", "type": "PROCESSED_INTO"}
    answer = acme_answer(edges=[link] * 3000)
    answer["nodes"] += [{"id": f"lot:R{i}", "kind": "lot", "depth": 1} for i in range(2000)]
    monkeypatch.setattr("api.federation.models.time", Looks(first))
    with pytest.raises(AnswerLate):
        from_wire(answer, KEY, deadline=1.0)


def test_an_answer_cut_at_its_deadline_is_an_error_for_what_it_got_wrong_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing of its nodes is read; its root was wrong before them.
    monkeypatch.setattr("api.federation.models.time", Looks(0))
    with pytest.raises(ValidationError, match=r"^1 validation error.*\nroot\n"):
        from_wire(acme_answer(root=""), KEY, deadline=1.0)


def test_reading_an_answer_past_its_deadline_stops_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    link = {"from": "lot:RAW-1", "to": "lot:H1", "type": "PROCESSED_INTO"}
    answer = acme_answer(edges=[link] * 50_000)
    assert len(from_wire(answer, KEY, deadline=time.monotonic() + 60).edges) == 50_000
    # Read in time, a wrong link far down the list is found.
    answer["edges"][40_000] = link | {"type": "not a type"}
    with pytest.raises(ValidationError, match=r"edges\.40000\.type"):
        from_wire(answer, KEY, deadline=time.monotonic() + 60)
    # The clock is looked at before each 1,024 items: here the deadline passes after the nodes
    # and 9 of the 49 reads of links, and reading stops there, never reaching the wrong link.
    looks = Looks(10)
    monkeypatch.setattr("api.federation.models.time", looks)
    with pytest.raises(AnswerLate):
        from_wire(answer, KEY, deadline=1.0)
    assert looks.looks == 11


@pytest.mark.parametrize(
    ("name", "most"),
    [("nodes", MAX_WIRE_NODES), ("edges", MAX_WIRE_EDGES), ("branches", MAX_WIRE_BRANCHES)],
)
def test_an_answer_listing_more_than_an_instance_reads_is_an_error_naming_how_many(
    service: FederationService, client: FakeClient, name: str, most: int
) -> None:
    # Read against the partner's deadline, as every answer fetched is, and refused unread.
    item = acme_answer()[name][-1] if name != "branches" else {"partner": "ORE"}
    client.answers[("ACME", "H1")] = lambda: acme_answer(**{name: [item] * (most + 1)})
    [branch] = federate(service).branches
    assert (branch.status, branch.message) == (
        "error",
        f"{name}: List should have at most {most} items after validation, not {most + 1}",
    )
