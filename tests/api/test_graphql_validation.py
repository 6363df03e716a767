"""A query is checked in time linear in its text, off the event loop, whatever its fragments."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
import strawberry.schema.schema
from fastapi.testclient import TestClient
from graphql import SelectionSetNode

import api.graphql.schema
from graph.errors import Forbidden
from tests.api.conftest import login

# Reads of selection sets one request may make; walking the expansion below makes 2^40.
READS = 20_000
LEVELS = 40
DEEP = 'node(id: "lot:L-1") { ' + "outputs { target { " * 6 + "id" + " } }" * 6 + " }"
IMPACT = 'impact(id: "supplier_lot:ACME-STEEL/H70001") { root }'


class ReadCounter:
    """Stands in for SelectionSetNode.selections, failing once a request reads it too often.

    Nodes are dataclasses: the value stays in each node's __dict__, which this reads and writes.
    """

    def __init__(self) -> None:
        self.reads = 0

    def __get__(self, node: SelectionSetNode | None, owner: type | None = None) -> Any:
        if node is None:
            return self
        self.reads += 1
        if self.reads > READS:
            raise AssertionError("the query's fragments were walked spread by spread")
        return node.__dict__["selections"]

    def __set__(self, node: SelectionSetNode, value: Any) -> None:
        node.__dict__["selections"] = value


def doubling(base: str) -> str:
    """A query whose fragments each spread the two below them: some eighty lines of text that
    expand into 2^(LEVELS + 1) copies of base."""
    lines = [f"query {{ ...F{LEVELS} ...G{LEVELS} }}"]
    lines += [f"fragment F0 on Query {{ {base} }}", f"fragment G0 on Query {{ {base} }}"]
    for i in range(1, LEVELS + 1):
        both = f"{{ ...F{i - 1} ...G{i - 1} }}"
        lines += [f"fragment F{i} on Query {both}", f"fragment G{i} on Query {both}"]
    return "\n".join(lines)


def ask(client: TestClient, query: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    headers = login(client, "analyst")
    monkeypatch.setattr(SelectionSetNode, "selections", ReadCounter())
    response = client.post("/graphql", json={"query": query}, headers=headers)
    monkeypatch.undo()
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_fragments_spread_twice_at_every_level_are_answered(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = ask(client, doubling("me { username }"), monkeypatch)
    assert answer == {"data": {"me": {"username": "ana"}}}


@pytest.mark.parametrize(
    ("base", "refusal"),
    [
        ("a: me { username }", f"{2 ** (LEVELS + 1)} aliases found. Allowed: 30"),
        (DEEP, "'anonymous' exceeds maximum operation depth of 12"),
        (
            IMPACT,
            f"one request may run at most 4 analyses (impact): it asks for {2 ** (LEVELS + 1)}; "
            "send them in several requests",
        ),
    ],
)
def test_limits_count_fragments_spread_twice_at_every_level(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, base: str, refusal: str
) -> None:
    answer = ask(client, doubling(base), monkeypatch)
    assert answer.get("data") is None
    assert [e["message"] for e in answer["errors"]] == [refusal]


def chain(length: int) -> str:
    """A query through `length` fragments, each spreading the next: `length` + 2 levels."""
    lines = [f"query {{ ...F{length - 1} }}", "fragment F0 on Query { me { username } }"]
    lines += [f"fragment F{i} on Query {{ ...F{i - 1} }}" for i in range(1, length)]
    return "\n".join(lines)


def test_fragments_nested_too_deeply_are_refused_saying_so(client: TestClient) -> None:
    # graphql-core gives up past 200 levels with a bare "Validation aborted.".
    headers = login(client, "analyst")
    answer = client.post("/graphql", json={"query": chain(490)}, headers=headers).json()
    assert answer["data"] is None
    assert [e["message"] for e in answer["errors"]] == [
        "the query nests 492 levels of selections and fragment spreads: at most 100; spread "
        "fewer fragments inside one another"
    ]
    # Positive control: a hundred levels are answered.
    answer = client.post("/graphql", json={"query": chain(98)}, headers=headers).json()
    assert answer == {"data": {"me": {"username": "ana"}}}


def test_validation_runs_off_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    validate = strawberry.schema.schema.validate
    on_loop: list[bool] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return validate(*args, **kwargs)

    headers = login(client, "analyst")
    monkeypatch.setattr(strawberry.schema.schema, "validate", spy)
    response = client.post("/graphql", json={"query": "{ me { username } }"}, headers=headers)
    assert response.json() == {"data": {"me": {"username": "ana"}}}
    assert on_loop == [False]


@pytest.mark.parametrize(
    "time",
    ["2026-03-02", "2026-W09-1T08:00:00Z", "20260302T080000Z", "2026-03-02T08", "1772438400"],
)
def test_a_time_argument_is_read_as_every_other_input_reads_one(
    client: TestClient, time: str
) -> None:
    # REST, the CLI and the event contract refuse these spellings: GraphQL does too.
    query = """query($t: DateTime!) { equipmentWindow(equipment: "equipment:E-1", from: $t,
        to: "2026-03-03T00:00:00Z") { step { id } } }"""
    headers = login(client, "analyst")
    body = client.post("/graphql", json={"query": query, "variables": {"t": time}}, headers=headers)
    (error,) = body.json()["errors"]
    assert "a time is RFC 3339 text with its offset" in error["message"], error
    # Positive control: the contract's spelling is read.
    ok = {"query": query, "variables": {"t": "2026-03-02T08:00:00+01:00"}}
    assert client.post("/graphql", json=ok, headers=headers).json() == {
        "data": {"equipmentWindow": []}
    }


def test_a_time_argument_written_in_the_query_is_refused_by_name(client: TestClient) -> None:
    # A variable's refusal names the variable; a literal's names its argument and place.
    query = """{ equipmentWindow(equipment: "equipment:E-1", from: "2026-03-02",
        to: "2026-03-03T00:00:00Z") { step { id } } }"""
    headers = login(client, "analyst")
    (error,) = client.post("/graphql", json={"query": query}, headers=headers).json()["errors"]
    assert error["message"].startswith(
        "Argument 'from' has invalid value: '2026-03-02': a time is RFC 3339 text"
    ), error
    assert error["locations"] == [{"line": 1, "column": query.index('"2026-03-02"') + 1}]


WINDOW = (
    'equipmentWindow(equipment: "equipment:E-1", from: $t, to: "2026-03-03T00:00:00Z") '
    "{ step { id } }"
)
ANSWER = """mutation($u: [UpstreamLotInput!]) { answerSupplierRequest(caseId: "RC-1",
    supplierLot: "supplier_lot:ACME-STEEL/H1", upstream: $u) { __typename } }"""


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        # A value a scalar refuses: as a variable, and written in the query.
        (f"query($t: DateTime!) {{ {WINDOW} }}", {"t": "2026-03-02"}),
        ("{ " + WINDOW.replace("$t", '"2026-03-02"') + " }", {}),
        (ANSWER, {"u": [{"lot": "A-1", "madeOn": "20260302"}]}),
        ('{ trace(id: "lot:L-1", direction: DOWN, maxDepth: 99999999999) { root } }', {}),
        # An id of the wrong type, a value no enum holds, a variable not given.
        ("query($id: ID!) { node(id: $id) { id } }", {"id": {"kind": "lot"}}),
        ('{ trace(id: "lot:L-1", direction: SIDEWAYS) { root } }', {}),
        ("query($id: ID!) { node(id: $id) { id } }", {}),
        # A query that does not parse, asks for no such field, or is over a limit.
        ("{ me { username }", {}),
        ("{ me { nickname } }", {}),
        ("{ " + " ".join(f"a{n}: me {{ username }}" for n in range(31)) + " }", {}),
        ("query A { me { role } } query B { me { role } }", {}),
    ],
)
def test_every_refusal_of_the_request_carries_a_code(
    client: TestClient, query: str, variables: dict[str, Any]
) -> None:
    # Said as REST says a request it refuses before our code runs: invalid_request, 422.
    headers = login(client, "analyst")
    body = {"query": query, "variables": variables}
    errors = client.post("/graphql", json=body, headers=headers).json()["errors"]
    assert errors and all(
        e["extensions"] == {"code": "INVALID_REQUEST", "status": 422} for e in errors
    ), errors


def test_a_refusal_a_resolver_raises_as_is_keeps_its_own_code(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Resolvers say refusals through `run` or `as_graphql_error`; one that raised its error as
    # is would be no request GraphQL refused, and is said (and audited) as the refusal it is.
    def refused(**_: Any) -> None:
        raise Forbidden("the analyst role may not know who it is")

    monkeypatch.setattr(api.graphql.schema, "Me", refused)
    headers = login(client, "analyst")
    with caplog.at_level(logging.INFO, logger="tracegraph.audit"):
        answer = client.post("/graphql", json={"query": "{ me { username } }"}, headers=headers)
    [error] = answer.json()["errors"]
    assert error["message"] == "the analyst role may not know who it is"
    assert error["extensions"] == {"code": "FORBIDDEN", "status": 403}
    [audited] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tracegraph.audit"]
    assert audited["outcome"] == "denied"
