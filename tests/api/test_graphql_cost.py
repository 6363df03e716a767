"""A GraphQL request runs a few analyses at most, and lists a bounded number of objects."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from graphql import GraphQLError
from strawberry.types.nodes import SelectedField

from api.deps import Services
from api.graphql import cost
from api.graphql.cost import NARROW_CONTEXT
from graph.embedded_store import EmbeddedStore
from graph.store import EdgeView
from tests.api.conftest import login
from tests.fixtures.events import Events

IMPACT = 'a{n}: impact(id: "supplier_lot:ACME-STEEL/H70001") {{ root }}'


def ask(client: TestClient, query: str, role: str = "analyst") -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query}, headers=login(client, role))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_request_runs_at_most_four_analyses(client: TestClient, plant: Services) -> None:
    four = "{ " + " ".join(IMPACT.format(n=n) for n in range(4)) + " }"
    assert "errors" not in ask(client, four)
    five = "{ " + " ".join(IMPACT.format(n=n) for n in range(5)) + " }"
    (error,) = ask(client, five)["errors"]
    assert "at most 4 analyses (impact)" in error["message"]


def test_analyses_in_fragments_count_too(client: TestClient, plant: Services) -> None:
    query = (
        "{ ...A ...B } "
        "fragment A on Query { " + " ".join(IMPACT.format(n=n) for n in range(3)) + " } "
        'fragment B on Query { t1: trace(id: "lot:L00001-BAR", direction: DOWN) { root } '
        't2: trace(id: "lot:L00001-BAR", direction: UP) { root } }'
    )
    (error,) = ask(client, query)["errors"]
    assert "it asks for 5" in error["message"]


def test_decoding_lot_codes_counts_as_an_analysis(client: TestClient, plant: Services) -> None:
    # A code that is a lot of ours is confirmed by tracing it upstream: as a trace costs.
    decode = 'd{n}: decodeLot(code: "L00001-BAR") {{ code }}'
    four = "{ " + " ".join(decode.format(n=n) for n in range(4)) + " }"
    assert "errors" not in ask(client, four)
    five = "{ " + " ".join(decode.format(n=n) for n in range(5)) + " }"
    (error,) = ask(client, five, "operator")["errors"]
    assert "at most 4 analyses (decodeLot)" in error["message"]


def test_fanning_out_through_inputs_stops_at_the_budget(
    client: TestClient, plant: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = """{ node(id: "equipment:BENCH-1") { inputs { source { ... on ProcessStep {
        equipment { inputs { source { id } } } } } } } }"""
    whole = ask(client, query, "operator")
    assert "errors" not in whole
    steps = len(whole["data"]["node"]["inputs"])
    assert steps > 1
    # The same query with a budget below what it lists: refused, not cut short.
    monkeypatch.setattr(cost, "MAX_LISTED", steps * steps)
    errors = ask(client, query, "operator")["errors"]
    assert errors and all(
        e["message"] == f"this query lists more than {steps * steps:,} links and nodes: ask for "
        "fewer levels or aliases of inputs and outputs"
        for e in errors
    )


def test_a_request_past_the_budget_is_refused_with_a_code(
    client: TestClient, plant: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A request over a limit, as one over the limits checked before it runs: invalid_request.
    monkeypatch.setattr(cost, "MAX_LISTED", 1)
    query = '{ node(id: "equipment:BENCH-1") { inputs { source { id } } } }'
    errors = ask(client, query, "operator")["errors"]
    assert errors and all(
        e["extensions"] == {"code": "INVALID_REQUEST", "status": 422} for e in errors
    ), errors


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ('{"query": "{ me { username } }", "variables": {"x": 1' + "0" * 5000 + "}}", "too_long"),
        (
            '{"query": "{ me { username } }", "variables": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "too_deep",
        ),
        # Which query would run? Readers disagree: the first, the last, or none.
        ('{"query": "{ me { username } }", "query": "{ nodes { id } }"}', "duplicate_key"),
        ('{"query": "{ me { username } }", "variables": {"x": NaN}}', "not_a_number"),
        ('{"query": "{ me { username } }",}', "not_json"),
    ],
)
def test_a_body_python_cannot_read_is_a_bad_request_that_says_why(
    client: TestClient, body: str, why: str
) -> None:
    headers = login(client, "analyst") | {"content-type": "application/json"}
    response = client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == why
    assert response.json()["message"]


def test_case_analyses_under_a_list_of_cases_are_refused(
    client: TestClient, plant: Services
) -> None:
    for query in (
        "{ recallCases { edges { node { id scope { inPlant } } } } }",
        "{ recallCases { edges { node { ...whole } } } } fragment whole on RecallCase { history }",
    ):
        answer = ask(client, query)
        assert answer.get("data") is None
        assert "ask one case at a time" in answer["errors"][0]["message"]


def test_case_analyses_count_at_any_depth_and_in_mutations(
    client: TestClient, plant: Services
) -> None:
    one = '{ recallCase(id: "RC-1") { scope { inPlant } reconciliation { customers } } }'
    assert "at most" not in str(ask(client, one).get("errors"))
    closes = " ".join(
        f'c{i}: closeRecall(id: "RC-{i}", reason: "r") {{ scope {{ inPlant }} }}' for i in range(5)
    )
    answer = ask(client, f"mutation {{ {closes} }}")
    assert answer.get("data") is None
    assert "at most 4 analyses" in answer["errors"][0]["message"]


def diamonds(services: Services, events: Events, chain: int) -> None:
    """L-0, then `chain` splits one into one, then seven diamonds: 128 paths from L-0 to A-7."""
    batch = [events.receive("L-0", 100)]
    batch += [
        events("split", lot=f"L-{i}", into=[{"lot": f"L-{i + 1}", "qty": "10"}])
        for i in range(chain)
    ]
    halves = [{"lot": "A-0", "qty": "5"}, {"lot": "B-0", "qty": "5"}]
    batch.append(events("split", lot=f"L-{chain}", into=halves))
    for i in range(7):
        pair = [{"lot": f"A-{i}", "qty": "5"}, {"lot": f"B-{i}", "qty": "5"}]
        batch.append(events("merge", from_=pair, into={"lot": f"M-{i}"}))
        halves = [{"lot": f"A-{i + 1}", "qty": "5"}, {"lot": f"B-{i + 1}", "qty": "5"}]
        batch.append(events("split", lot=f"M-{i}", into=halves))
    services.ingest.ingest(batch)


def explains(count: int, selection: str) -> str:
    asked = 'e{i}: explain(from: "lot:L-0", to: "lot:A-7") {{ truncated paths {{ {s} }} }}'
    return "{ " + " ".join(asked.format(i=i, s=selection) for i in range(count)) + " }"


def test_explain_paths_count_against_the_budget(
    client: TestClient, services: Services, events: Events
) -> None:
    # A hundred paths of over a hundred links, under three aliases in four analyses.
    diamonds(services, events, 100)
    ends = "links { source { id } target { id } }"
    query = explains(4, " ".join(f"l{j}: {ends}" for j in range(3)))
    answer = ask(client, query)
    assert answer["data"] is None
    assert [e["message"] for e in answer["errors"]] == [
        "this query lists more than 20,000 links and nodes: ask explain for fewer aliases or "
        "fewer lists of its paths (nodeIds, links)"
    ]


def test_explain_counts_each_link_and_node_id_it_lists(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    diamonds(services, events, 3)
    query = explains(2, "nodeIds links { source { id } target { id } }")
    answer = ask(client, query)
    assert "errors" not in answer
    paths = answer["data"]["e0"]["paths"] + answer["data"]["e1"]["paths"]
    assert len(paths) == 200 and answer["data"]["e0"]["truncated"] is True
    for path in paths:
        hops = [(link["source"]["id"], link["target"]["id"]) for link in path["links"]]
        assert hops == list(itertools.pairwise(path["nodeIds"]))
    listed = sum(len(path["nodeIds"]) + len(path["links"]) for path in paths)
    monkeypatch.setattr(cost, "MAX_LISTED", listed)
    assert "errors" not in ask(client, query)
    monkeypatch.setattr(cost, "MAX_LISTED", listed - 1)
    assert "lists more than" in ask(client, query)["errors"][0]["message"]


def test_trace_pages_count_against_the_budget_under_every_alias(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    into = [{"lot": f"C-{i}", "qty": "1"} for i in range(2000)]
    services.ingest.ingest([events.receive("L-0", 5000), events("split", lot="L-0", into=into)])
    page = "links(first: 1000) { edges { node { source { id } target { id } } } }"
    many = " ".join(f"l{j}: {page}" for j in range(21))
    answer = ask(client, f'{{ trace(id: "lot:L-0", direction: DOWN) {{ {many} }} }}')
    assert answer["data"] == {"trace": None}
    assert answer["errors"][0]["message"] == (
        "this query lists more than 20,000 links and nodes: ask trace.nodes and trace.links "
        "for fewer with `first`, or fewer aliases"
    )
    # Pages of links and of nodes alike, each time asked; what fits is answered in full.
    pages = "a: links(first: 30) { edges { node { target { id } } } } b: links(first: 30) { "
    pages += "edges { node { source { id } } } } nodes(first: 40) { edges { node { depth } } }"
    query = f'{{ trace(id: "lot:L-0", direction: DOWN) {{ {pages} }} }}'
    monkeypatch.setattr(cost, "MAX_LISTED", 100)
    trace = ask(client, query)["data"]["trace"]
    assert [e["node"]["target"]["id"] for e in trace["a"]["edges"]][:2] == ["lot:C-0", "lot:C-1"]
    assert {e["node"]["source"]["id"] for e in trace["b"]["edges"]} == {"lot:L-0"}
    monkeypatch.setattr(cost, "MAX_LISTED", 99)
    assert "lists more than" in ask(client, query)["errors"][0]["message"]


def busy_lathe(services: Services, events: Events, steps: int, lots: int) -> None:
    """`steps` steps on LATHE-1, each turning one part of each of `lots` lots into one lot."""
    batch = [events.receive(f"L-{i}", 1000) for i in range(lots)]
    for s in range(steps):
        inputs = [{"lot": f"L-{i}", "qty": "1"} for i in range(lots)]
        outputs = [{"lot": f"P-{s}", "part": "SCREW", "qty": str(lots)}]
        turn = {"step": f"S-{s}", "operation": "turn", "equipment": "LATHE-1"}
        batch.append(events("process", **turn, inputs=inputs, outputs=outputs))
    services.ingest.ingest(batch)


STEPS = """w{n}: equipmentWindow(equipment: "equipment:LATHE-1", from: "2026-03-01T00:00:00Z",
    to: "2026-03-31T00:00:00Z") {{ step {{ id }} inputs {{ source {{ id }} }}
    outputs {{ qty }} }}"""


def test_an_equipment_window_counts_its_steps_inputs_and_outputs(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_lathe(services, events, steps=20, lots=10)
    query = "{ " + " ".join(STEPS.format(n=n) for n in range(2)) + " }"
    answer = ask(client, query)
    assert "errors" not in answer, answer
    runs = answer["data"]["w0"]
    assert len(runs) == 20 and answer["data"]["w1"] == runs
    assert all(len(r["inputs"]) == 10 and len(r["outputs"]) == 1 for r in runs)
    assert {i["source"]["id"] for i in runs[0]["inputs"]} == {f"lot:L-{i}" for i in range(10)}
    # Under each alias: 20 steps, 200 inputs and 20 outputs.
    monkeypatch.setattr(cost, "MAX_LISTED", 2 * 240)
    assert "errors" not in ask(client, query)
    monkeypatch.setattr(cost, "MAX_LISTED", 2 * 240 - 1)
    answer = ask(client, query)
    assert answer["data"] is None, "refused whole, not cut short"
    assert [e["message"] for e in answer["errors"]] == [
        "this query lists more than 479 links and nodes: ask for a shorter equipmentWindow, "
        "or fewer aliases"
    ]


def ship_to_two_customers(services: Services, events: Events) -> None:
    """Twelve lots of ACME-STEEL's heats in three shipments to HOSP-NORTH, two lots of
    POLYMED's in one to HOSP-SOUTH."""
    batch = [
        events.receive(f"L-{i}", 1, supplier="ACME-STEEL", supplier_lot=f"A-{i}") for i in range(12)
    ]
    batch += [
        events.receive(f"M-{i}", 1, supplier="POLYMED", supplier_lot=f"P-{i}") for i in range(2)
    ]
    for s in range(3):
        items = [{"lot": f"L-{i}", "qty": "1"} for i in range(4 * s, 4 * s + 4)]
        batch.append(events("ship", shipment=f"SH-N{s}", customer="HOSP-NORTH", items=items))
    items = [{"lot": f"M-{i}", "qty": "1"} for i in range(2)]
    batch.append(events("ship", shipment="SH-S", customer="HOSP-SOUTH", items=items))
    services.ingest.ingest(batch)


def test_received_counts_its_shipments_and_their_items(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    ship_to_two_customers(services, events)
    query = (
        "{ a: received { edges { node { shipment { id } items { id } } } } "
        "b: received { edges { node { shipment { id } } } } }"
    )
    answer = ask(client, query, "customer")
    assert "errors" not in answer, answer
    # The customer's own shipments and what was in them, nothing of another customer's.
    a = [e["node"] for e in answer["data"]["a"]["edges"]]
    assert [r["shipment"]["id"] for r in a] == [f"shipment:SH-N{s}" for s in range(3)]
    assert {i["id"] for r in a for i in r["items"]} == {f"lot:L-{i}" for i in range(12)}
    assert answer["data"]["b"]["edges"] == [{"node": {"shipment": r["shipment"]}} for r in a]
    assert ask(client, query, "analyst")["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # 3 shipments and their 12 items under `a`, the 3 shipments alone under `b`.
    monkeypatch.setattr(cost, "MAX_LISTED", 18)
    assert "errors" not in ask(client, query, "customer")
    monkeypatch.setattr(cost, "MAX_LISTED", 17)
    answer = ask(client, query, "customer")
    assert answer["data"] is None, "refused whole, not cut short"
    assert [e["message"] for e in answer["errors"]] == [
        "this query lists more than 17 links and nodes: ask received for fewer shipments with "
        "`first`, or fewer aliases"
    ]


def test_supplier_lots_count_against_the_budget(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    ship_to_two_customers(services, events)
    query = (
        "{ a: supplierLots { edges { node { supplierLot { id } } } } "
        "b: supplierLots { edges { node { shipments } } } }"
    )
    answer = ask(client, query, "supplier")
    assert "errors" not in answer, answer
    # ACME-STEEL's own lots, none of POLYMED's.
    assert [e["node"]["supplierLot"]["id"] for e in answer["data"]["a"]["edges"]] == sorted(
        f"supplier_lot:ACME-STEEL/A-{i}" for i in range(12)
    )
    assert answer["data"]["b"]["edges"] == [{"node": {"shipments": 1}}] * 12
    assert ask(client, query, "customer")["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Twelve lots under each alias.
    monkeypatch.setattr(cost, "MAX_LISTED", 24)
    assert "errors" not in ask(client, query, "supplier")
    monkeypatch.setattr(cost, "MAX_LISTED", 23)
    answer = ask(client, query, "supplier")
    assert answer["data"] is None, "refused whole, not cut short"
    assert [e["message"] for e in answer["errors"]] == [
        "this query lists more than 23 links and nodes: ask supplierLots for fewer lots with "
        "`first`, or fewer aliases"
    ]


def doubling_fragments(levels: int) -> str:
    """Fragments H1..H{levels} on Node, each spreading the one before at several places below
    it: the fields they ask for, spreads expanded, number about 4 ** levels."""
    found = ["fragment H0 on Node { id }", "fragment G0 on Link { sourceId }"]
    for k in range(1, levels + 1):
        found.append(
            f"fragment G{k} on Link {{ source {{ ...H{k - 1} }} target {{ ...H{k - 1} }} }}"
        )
        found.append(
            f"fragment H{k} on Node {{ inputs {{ ...G{k - 1} }} outputs {{ ...G{k - 1} }} "
            f"... on Item {{ carts {{ ...H{k - 1} }} marks {{ ...H{k - 1} }} }} }}"
        )
    return "\n".join(found)


def test_what_a_field_asks_below_is_read_once_per_fragment_not_once_per_spread(
    client: TestClient, plant: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whether a link's ends are read, or an equipment window's inputs, is told from the query
    # below the field: expanding every spread there took time exponential in the query's
    # length (seven levels, 1,400 characters: a second on the event loop; nine: fifteen),
    # although none of it ran (skipped, or under an empty list).
    expanded = 0
    from_node = SelectedField.from_node.__func__  # type: ignore[attr-defined]

    def counted(cls: type[SelectedField], *args: Any) -> SelectedField:
        nonlocal expanded
        expanded += 1
        return from_node(cls, *args)  # type: ignore[no-any-return]

    monkeypatch.setattr(SelectedField, "from_node", classmethod(counted))
    query = """{ node(id: "lot:L00001-BAR-W1") {
        inputs { sourceId source @skip(if: true) { ...H7 } }
        outputs { targetId ... @include(if: false) { target { ...H7 } } } }
      equipmentWindow(equipment: "equipment:LATHE-1", from: "2026-01-01T00:00:00Z",
        to: "2026-02-01T00:00:00Z") { step { id } ... @skip(if: true) { inputs { ...G7 } } } }
    """
    answer = ask(client, query + doubling_fragments(7))
    assert "errors" not in answer, answer
    node = answer["data"]["node"]
    assert node["inputs"] and all(set(link) == {"sourceId"} for link in node["inputs"])
    assert node["outputs"] and all(set(link) == {"targetId"} for link in node["outputs"])
    assert answer["data"]["equipmentWindow"]
    assert expanded <= 100, f"{expanded} fields expanded"
    # @include and @skip read their variables as ever: an end left out is not read.
    ends = """query($ends: Boolean!) { node(id: "lot:L00001-BAR-W1") {
        outputs { targetId target @include(if: $ends) { id } } } }"""
    for wanted in (True, False):
        response = client.post(
            "/graphql",
            json={"query": ends, "variables": {"ends": wanted}},
            headers=login(client, "analyst"),
        )
        links = response.json()["data"]["node"]["outputs"]
        assert all(("target" in link) == wanted for link in links)


def test_whether_a_field_asks_for_one_is_read_no_further_than_the_first_found(
    client: TestClient, plant: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whether a list's links have their ends read is asked each time the list resolves: what
    # follows the first end asked is not searched.
    searched = 0
    kept = cost._Search._kept

    def counted(search: Any, selection: Any) -> bool:
        nonlocal searched
        searched += 1
        return kept(search, selection)

    monkeypatch.setattr(cost._Search, "_kept", counted)
    types = " ".join(f"t{n}: type" for n in range(20))
    query = f'{{ node(id: "lot:L00001-BAR-W1") {{ outputs {{ target {{ id }} {types} }} }} }}'
    answer = ask(client, query)
    assert "errors" not in answer, answer
    assert answer["data"]["node"]["outputs"]
    assert searched == 1


def hub(services: Services, events: Events) -> None:
    """HUB: a lot consumed by 40 steps on LATHE-1, each with 2 more lots, struck with 12 marks,
    in 12 carts one after another."""
    batch = [events.receive("HUB", 1000)]
    batch += [events.receive(f"L-{i}", 1000) for i in range(2)]
    batch += [events("mark", target={"lot": "HUB"}, code=f"M{n:02}") for n in range(12)]
    for c in range(12):
        batch.append(events("cart_load", cart=f"C-{c}", lot="HUB", compartment="A"))
        batch.append(events("cart_unload", cart=f"C-{c}", lot="HUB"))
    for s in range(40):
        inputs = [{"lot": lot, "qty": "1"} for lot in ("HUB", "L-0", "L-1")]
        outputs = [{"lot": f"P-{s}", "part": "SCREW", "qty": "3"}]
        turn = {"step": f"S-{s}", "operation": "turn", "equipment": "LATHE-1"}
        batch.append(events("process", **turn, inputs=inputs, outputs=outputs))
    services.ingest.ingest(batch)


HUB = """{ node(id: "lot:HUB") { ... on Lot { marks { id } carts { id }
    outputs { type target { ... on ProcessStep { equipment { id } } } } } } }"""


def reading(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int | None, int]]:
    """Record each read of a node's links from the store: what, its limit, the rows found."""
    read: list[tuple[str, int | None, int]] = []
    links, context_links = EmbeddedStore.links, EmbeddedStore.context_links

    def all_links(store: EmbeddedStore, gids: Sequence[str]) -> list[EdgeView]:
        found = links(store, gids)
        read.append(("all", None, len(found)))
        return found

    def typed(store: EmbeddedStore, gids: Sequence[str], type_: str, **kw: Any) -> list[EdgeView]:
        found = context_links(store, gids, type_, **kw)
        read.append((type_, kw.get("limit"), len(found)))
        return found

    monkeypatch.setattr(EmbeddedStore, "links", all_links)
    monkeypatch.setattr(EmbeddedStore, "context_links", typed)
    return read


def test_a_hubs_marks_carts_and_equipment_are_read_no_further_than_the_budget(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub(services, events)
    read = reading(monkeypatch)
    monkeypatch.setattr(cost, "MAX_LISTED", 10)
    for field in ("marks { id }", "carts { id }"):
        answer = ask(client, f'{{ node(id: "lot:HUB") {{ ... on Lot {{ {field} }} }} }}')
        assert answer["data"] == {"node": None}, "refused whole, not cut short"
        (error,) = answer["errors"]
        assert (
            error["message"] == f"this query lists more than 10 links and nodes: {NARROW_CONTEXT}"
        )
    # Neither its links to the steps that consumed it nor more than 11 of its marks or of its
    # stays in carts were read: one past what the request may list.
    assert read == [("MARKS", 11, 11), ("IN_CART", 11, 11)]


def test_a_hubs_marks_carts_and_equipment_answer_as_before_within_the_budget(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub(services, events)
    read = reading(monkeypatch)
    answer = ask(client, HUB)
    assert "errors" not in answer, answer
    lot = answer["data"]["node"]
    assert lot["marks"] == [{"id": f"mark:M{n:02}"} for n in range(12)]
    assert lot["carts"] == [{"id": f"cart:C-{c}"} for c in range(12)]
    steps = [o["target"] for o in lot["outputs"] if o["type"] == "CONSUMED_BY"]
    assert steps == [{"equipment": {"id": "equipment:LATHE-1"}}] * 40
    # One read each, the forty steps' equipment in one (marks and carts in either order).
    assert sorted(r[0] for r in read if r[0] != "all") == ["IN_CART", "MARKS", "ON"]
    # 12 marks, 12 stays in carts (listed by carts and by outputs), 40 consumptions and the 40
    # steps' equipment.
    listed = 12 + 12 + 12 + 40 + 40
    monkeypatch.setattr(cost, "MAX_LISTED", listed)
    assert ask(client, HUB)["data"]["node"] == lot
    monkeypatch.setattr(cost, "MAX_LISTED", listed - 1)
    # The steps' equipment, read last (below the outputs), runs over, and is named.
    messages = {e["message"] for e in ask(client, HUB)["errors"]}
    assert messages == {
        f"this query lists more than {listed - 1} links and nodes: {NARROW_CONTEXT}"
    }


def test_marks_that_fit_node_by_node_but_not_together_refuse_the_request(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    # L split into L-0, L-1 and L-2, each struck with 4 marks.
    into = [{"lot": f"L-{i}", "qty": "1"} for i in range(3)]
    batch = [events.receive("L", 10), events("split", lot="L", into=into)]
    batch += [
        events("mark", target={"lot": f"L-{i}"}, code=f"M{i}-{n}")
        for i in range(3)
        for n in range(4)
    ]
    services.ingest.ingest(batch)
    read = reading(monkeypatch)
    monkeypatch.setattr(cost, "MAX_LISTED", 10)
    for i in range(3):  # 4 marks each: one lot's fit
        alone = ask(client, f'{{ node(id: "lot:L-{i}") {{ ... on Lot {{ marks {{ id }} }} }} }}')
        assert len(alone["data"]["node"]["marks"]) == 4, alone
    # The three lots' marks, 12, and the 3 links to them: the marks are read in one batch, no
    # further than one past the 7 left, and each lot is refused, whichever would have listed
    # the 8th.
    del read[:]
    query = '{ node(id: "lot:L") { outputs { target { ... on Lot { marks { id } } } } } }'
    answer = ask(client, query)
    outputs = answer["data"]["node"]["outputs"]
    assert outputs == [{"target": None}] * 3, "each refused, none cut short"
    messages = [e["message"] for e in answer["errors"]]
    assert messages == [f"this query lists more than 10 links and nodes: {NARROW_CONTEXT}"] * 3
    assert [r for r in read if r[0] == "MARKS"] == [("MARKS", 8, 8)]


def test_links_a_caller_can_never_see_are_not_read(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub(services, events)
    ship = events(
        "ship", shipment="SH-1", customer="HOSP-NORTH", items=[{"lot": "HUB", "qty": "1"}]
    )
    services.ingest.ingest([ship])
    read = reading(monkeypatch)
    monkeypatch.setattr(cost, "MAX_LISTED", 10)
    # The customer sees the lot it received, never a mark, a cart or an equipment: however many
    # the lot has, none of them is read.
    query = '{ node(id: "lot:HUB") { ... on Lot { marks { id } carts { id } } } }'
    answer = ask(client, query, "customer")
    assert answer == {"data": {"node": {"marks": [], "carts": []}}}
    # (The lot's own links and its shipment's are read, to tell the lot was shipped to them.)
    assert [r for r in read if r[0] != "all"] == []


def test_links_an_operator_may_not_see_are_read_whole_only_where_a_bounded_read_cannot_tell(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = [events.receive("HUB", 1000)]
    for c in range(12):
        stay = {"cart": f"C-{c}", "lot": "HUB", "site": "PLANT-2"}
        batch.append(events("cart_load", **stay, compartment="A"))
        batch.append(events("cart_unload", **stay))
    services.ingest.ingest(batch)
    read = reading(monkeypatch)
    monkeypatch.setattr(cost, "MAX_LISTED", 10)
    # The operator of PLANT-1 sees the lot (of no site), not PLANT-2's carts: 11 read are none
    # they see, and only the whole says whether they see more than 10.
    answer = ask(client, '{ node(id: "lot:HUB") { ... on Lot { carts { id } } } }', "operator")
    assert answer == {"data": {"node": {"carts": []}}}
    assert read == [("IN_CART", 11, 11), ("IN_CART", None, 12)]


def test_a_suppliers_lists_of_cases_read_their_lots_once_and_count_as_analyses(
    client: TestClient, plant: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    company_reads: list[list[str]] = []
    links = plant.store.links

    def counted(gids: list[str]) -> Any:
        if gids == ["company:ACME-STEEL"]:
            company_reads.append(gids)
        return links(gids)

    monkeypatch.setattr(plant.store, "links", counted)
    mine = "m{n}: mySupplierCases {{ edges {{ node {{ id }} }} }}"
    about = "c{n}: casesAboutMyLots {{ edges {{ node {{ id }} }} }}"
    lots = "s: supplierLots { edges { node { supplierLot { id } } } }"
    four = "{ " + " ".join([mine.format(n=0), mine.format(n=1), about.format(n=0), lots]) + " }"
    answer = ask(client, four, "supplier")
    assert "errors" not in answer, answer
    assert answer["data"]["s"]["edges"], "ACME-STEEL's lots"
    assert len(company_reads) == 1, "the supplier's lots are read once per request"
    for five in (
        "{ " + " ".join(mine.format(n=n) for n in range(5)) + " }",
        "{ " + " ".join(about.format(n=n) for n in range(5)) + " }",
        "{ " + " ".join(f.format(n=n) for n in range(3) for f in (mine, about)) + " }",
    ):
        answer = ask(client, five, "supplier")
        assert answer.get("data") is None, "refused whole"
        (error,) = answer["errors"]
        assert "one request may run at most 4 analyses (" in error["message"], error
        assert "send them in several requests" in error["message"]
    (error,) = ask(client, "{ " + " ".join(about.format(n=n) for n in range(5)) + " }")["errors"]
    assert "at most 4 analyses (casesAboutMyLots): it asks for 5" in error["message"]


def test_what_a_field_reserves_is_left_to_its_lists_alone() -> None:
    # A federatedTrace reserves what its lists will list: what plans after it sees less left,
    # and a list that spends past what is left, reserved aside, refuses the request.
    budget = cost.Budget(limit=10)
    budget.reserve(6)
    assert budget.left == 4
    budget.spend(3, NARROW_CONTEXT)  # not reserved: from the 4
    assert budget.left == 1
    budget.spend(6, NARROW_CONTEXT, reserved=True)  # what was held, released as it is listed
    assert budget.left == 1
    budget.reserve(1)
    with pytest.raises(GraphQLError, match="more than 10 links and nodes"):
        budget.spend(1, NARROW_CONTEXT)  # the last one is held for a list planned before
