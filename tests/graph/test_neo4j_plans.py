"""Ingest statements keep their first plan for good (replan=skip), so none may depend on counts.

A plan the server froze while its statistics were stale (sampled before a wipe) read the open
stays of a batch's carts by scanning the whole gid index once per cart; the statement kept that
plan as the graph grew. Every statement run with a frozen plan must therefore order a seek for
each node it looks up, and plan no scan of the graph's nodes or relationships at any list size.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest

from ingest.demo_plant import DemoPlant
from ingest.service import IngestService
from tests.conftest import neo4j_or_skip
from tests.graph.plans import operators

# Configuration labels with a handful of nodes, read whole on purpose.
READ_WHOLE = {"MarkScheme"}
# The statements a plant's ingest must run frozen; the demo plant exercises them all.
EXPECTED = {
    "LOCK",
    "FIND_EVENTS",
    "ITEMS",
    "NODES",
    "OPEN_CARTS",
    "OPEN_STAYS",
    "CLOSE_STAYS",
    "MARK_SCHEMES",
    "MARKS_IN_USE",
    "COUNT_MARKS",
    "ITEM_MARKS",
    "PARTS_WITH_GTINS",
    "CREATE_EVENTS",
    "CREATE_GRAPH",
    "ADD_STATUSES",
    "SET_CONSUMED",
    "RECOMPUTE_STATUS",
}
# A node looked up by a property: `(n:Label {key: ...`.
KEYED_NODE = re.compile(r"(MERGE\s*)?\((\w*):(\w+)\s*\{(\w+):")


def _frozen_statements(request: pytest.FixtureRequest) -> dict[str, tuple[str, dict[str, Any]]]:
    """Ingest a demo plant; return each statement it ran with a frozen plan, by name."""
    import neo4j

    from graph import neo4j_store
    from graph.neo4j_store import SETTLED, Neo4jStore

    target = neo4j_or_skip(request)
    names = {value: name for name, value in vars(neo4j_store).items() if isinstance(value, str)}
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    original = neo4j.ManagedTransaction.run

    def recording(
        self: Any, query: Any, parameters: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        if isinstance(query, str) and query.startswith(SETTLED):
            body = query.removeprefix(SETTLED)
            seen.setdefault(names.get(body, body), (body, {**(parameters or {}), **kwargs}))
        return original(self, query, parameters, **kwargs)

    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    try:
        store.wipe()
        service = IngestService(store)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(neo4j.ManagedTransaction, "run", recording)
            # Small batches, so that some statuses fall on items an earlier batch made: a
            # batch's own new items are created with their status, not recomputed.
            for batch in DemoPlant(size=300, seed=7).batches(50):
                service.ingest(batch)
    finally:
        store.close()
    return seen


@pytest.fixture(scope="module")
def frozen(request: pytest.FixtureRequest) -> dict[str, tuple[str, dict[str, Any]]]:
    return _frozen_statements(request)


def test_the_plant_runs_every_frozen_statement(
    frozen: dict[str, tuple[str, dict[str, Any]]],
) -> None:
    assert set(frozen) >= EXPECTED, f"not run: {sorted(EXPECTED - set(frozen))}"


def test_every_node_a_frozen_statement_looks_up_is_sought_in_its_index(
    frozen: dict[str, tuple[str, dict[str, Any]]],
) -> None:
    unpinned = []
    for name, (statement, _) in frozen.items():
        for merge, variable, label, key in KEYED_NODE.findall(statement):
            # MERGE takes no hints; on a uniquely constrained key it seeks and locks anyway.
            if merge:
                continue
            if f"USING INDEX SEEK {variable}:{label}({key})" not in statement or not variable:
                unpinned.append(f"{name}: ({variable}:{label} {{{key}: ...}})")
    assert unpinned == []


# An index hint on a node, `USING INDEX [SEEK] n:Label(`; relationship hints name a type.
NODE_HINT = re.compile(r"USING INDEX (SEEK )?\w+:(\w+)\(")


def test_every_hint_on_a_node_orders_a_seek() -> None:
    """`USING INDEX` leaves the planner free to scan the whole index it names; every statement
    of the store that looks a node up by key orders a seek, frozen or not."""
    from graph import neo4j_store
    from graph.neo4j_store import RELATIONSHIP_TYPES

    unsought = [
        f"{name}: {label}"
        for name, value in vars(neo4j_store).items()
        if isinstance(value, str)
        for seek, label in NODE_HINT.findall(value)
        if not seek and label not in RELATIONSHIP_TYPES.values()
    ]
    assert unsought == []


def _scaled(parameters: dict[str, Any], size: int) -> dict[str, Any]:
    """Stretch every list parameter to `size` items: the planner buckets lists by length."""
    return {
        key: list(itertools.islice(itertools.cycle(value), size))
        if isinstance(value, list) and value
        else value
        for key, value in parameters.items()
    }


def _scans(plan: dict[str, Any]) -> Iterator[str]:
    for operator, details in operators(plan):
        if "Scan" in operator and not any(f":{label}" in details for label in READ_WHOLE):
            yield f"{operator} {details}"


@pytest.mark.parametrize("size", [1, 12, 150, 1500])
def test_no_frozen_statement_plans_a_scan_of_the_graph(
    request: pytest.FixtureRequest, frozen: dict[str, tuple[str, dict[str, Any]]], size: int
) -> None:
    import neo4j

    from graph.neo4j_store import Neo4jStore

    target = neo4j_or_skip(request)
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    scans: dict[str, list[str]] = {}
    try:
        # A small graph, as when the first batches of a plant freeze their plans.
        store.wipe()
        IngestService(store).ingest(next(iter(DemoPlant(size=300, seed=7).batches(200))))
        with store._driver.session() as session:  # the test reads plans, not data
            for name, (statement, parameters) in frozen.items():

                def explain(
                    tx: neo4j.ManagedTransaction, text: str = statement, values: Any = parameters
                ) -> Any:
                    query = "EXPLAIN CYPHER replan=force " + text
                    return tx.run(query, _scaled(values, size)).consume().plan

                found = list(_scans(session.execute_write(explain)))
                if found:
                    scans[name] = found
    finally:
        store.close()
    assert scans == {}
