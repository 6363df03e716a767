"""A case's history on Neo4j reads that case's recall events, sought by case and by notice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ingest.service import IngestService
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events


def _operators(plan: dict[str, Any]) -> Iterator[str]:
    yield plan["operatorType"].split("@")[0]
    for child in plan.get("children", []):
        yield from _operators(child)


def test_a_cases_recall_events_are_sought_not_scanned(
    request: pytest.FixtureRequest, events: Events
) -> None:
    """Read from every recall event of the log, a history took time in proportion to all the
    cases ever opened."""
    from graph.neo4j_store import RECALL_EVENTS_OF, Neo4jStore

    target = neo4j_or_skip(request)
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    try:
        store.wipe()
        service = IngestService(store)
        service.ingest([events.receive("L-1", 10)])
        opened = {"title": "t", "reason": "r", "suspects": [{"id": "lot:L-1"}]}
        service.ingest([events("recall_open", case=f"RC-{n}", **opened) for n in range(20)])
        with store._driver.session() as session:  # the test reads the plan, not data
            plan = (
                session.run("EXPLAIN " + RECALL_EVENTS_OF, case="RC-1", notices=["N-1", "N-2"])
                .consume()
                .plan
            )
        operators = list(_operators(dict(plan or {})))
        assert operators.count("NodeIndexSeek") == 3  # by case, by notice, the voids
        assert [o for o in operators if "Scan" in o] == []
    finally:
        store.close()
