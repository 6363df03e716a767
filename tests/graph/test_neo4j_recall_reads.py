"""A case's history on Neo4j reads that case's recall events, sought by case and by notice."""

from __future__ import annotations

import pytest

from tests.conftest import neo4j_or_skip
from tests.graph.plans import explained, operators


def test_a_cases_recall_events_are_sought_not_scanned(request: pytest.FixtureRequest) -> None:
    """Read from every recall event of the log, a history took time in proportion to all the
    cases ever opened."""
    from graph.neo4j_store import RECALL_EVENTS_OF, Neo4jStore

    target = neo4j_or_skip(request)
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    try:
        plan = explained(store, RECALL_EVENTS_OF, case="RC-1", notices=["N-1", "N-2"])
    finally:
        store.close()
    found = [operator for operator, _ in operators(plan)]
    assert found.count("NodeIndexSeek") == 3  # by case, by notice, the voids
    assert [o for o in found if "Scan" in o] == []


def test_the_recall_events_after_a_place_in_the_log_are_a_range_of_an_index(
    request: pytest.FixtureRequest,
) -> None:
    """A page of recall events (the reads of the recall service, an open's backfill of their
    keys) read every recall event of the log: read a page at a time, the log took time
    quadratic in its recall events."""
    from graph.neo4j_store import RECALL_EVENTS_AFTER, Neo4jStore

    target = neo4j_or_skip(request)
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    try:
        store.wipe()  # no recall event: the planner's least reason to seek
        plan = explained(store, RECALL_EVENTS_AFTER, after=0, limit=5000)
    finally:
        store.close()
    found = list(operators(plan))
    assert [o for o, _ in found if "Scan" in o] == []
    seeks = [details for operator, details in found if operator == "NodeIndexSeekByRange"]
    assert [details.split(" WHERE")[0] for details in seeks] == ["RANGE INDEX e:RecallEvent(seq)"]
