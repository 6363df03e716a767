"""A site's use of a scheme on Neo4j reads two counts and one index entry, not every mark."""

from __future__ import annotations

import pytest

from tests.conftest import neo4j_or_skip
from tests.graph.plans import explained, operators


def test_a_sites_count_of_a_scheme_is_sought_not_walked(request: pytest.FixtureRequest) -> None:
    """Read from every mark of the scheme and the item each marks, a site's count took time in
    proportion to all the codes the plant had struck."""
    from graph.neo4j_store import MARKS_SEEN_BY, Neo4jStore

    target = neo4j_or_skip(request)
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    try:
        found = list(operators(explained(store, MARKS_SEEN_BY, scheme="S", site="PLANT-1")))
    finally:
        store.close()
    assert [o for o, _ in found if "Expand" in o or "Scan" in o] == []
    seeks = [details for operator, details in found if operator == "NodeUniqueIndexSeek"]
    assert [d.split(" WHERE")[0] for d in seeks] == ["UNIQUE c:MarkCount(scheme, site)"]


def test_a_schemes_last_index_is_the_first_entry_of_its_index_read_backwards(
    request: pytest.FixtureRequest,
) -> None:
    """Read as the greatest index of all the scheme's codes, it took time in proportion to
    them, once for each code issued."""
    from graph.neo4j_store import LAST_MARK_INDEX, Neo4jStore

    target = neo4j_or_skip(request)
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    try:
        found = list(operators(explained(store, LAST_MARK_INDEX, scheme="S")))
    finally:
        store.close()
    names = [operator for operator, _ in found]
    assert "Limit" in names
    assert [o for o in names if o in ("Top", "Sort") or "Aggregation" in o] == []
    seeks = [details for operator, details in found if operator == "NodeIndexSeek"]
    assert [d.split(" WHERE")[0] for d in seeks] == ["RANGE INDEX m:SecondaryMark(scheme, index)"]


def test_a_recount_reads_each_chunk_and_scheme_from_the_index_that_orders_them(
    request: pytest.FixtureRequest,
) -> None:
    """A chunk of marks counted afresh as a graph opens is a range of its scheme's index, and the
    next scheme the first entry after the last: neither sorts nor scans the scheme's marks."""
    from graph.neo4j_store import COUNT_MARKS_CHUNK, MARKS_CHUNK_END, NEXT_SCHEME, Neo4jStore

    target = neo4j_or_skip(request)
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    try:
        plans = {
            "end": explained(store, MARKS_CHUNK_END, scheme="S", after="", chunk=10),
            "count": explained(store, COUNT_MARKS_CHUNK, scheme="S", after="", last="9"),
            "next": explained(store, NEXT_SCHEME, after="S"),
        }
    finally:
        store.close()
    sought = {
        "end": "RANGE INDEX m:SecondaryMark(scheme, index)",
        "count": "RANGE INDEX m:SecondaryMark(scheme, index)",
        "next": "RANGE INDEX m:SecondaryMark(scheme)",
    }
    for name, plan in plans.items():
        found = list(operators(plan))
        assert [o for o, _ in found if o in ("Top", "Sort") or "Scan" in o] == [], name
        seeks = [d.split(" WHERE")[0] for o, d in found if o.startswith("NodeIndexSeek")]
        assert seeks == [sought[name]], name


def test_the_use_of_many_schemes_seeks_each_schemes_counts_and_last_index(
    request: pytest.FixtureRequest,
) -> None:
    """Read for all the schemes a list shows at once, a site's counts and each last index are
    sought as they are for one scheme: neither walks nor sorts the schemes' codes."""
    from graph.neo4j_store import MARKS_USED_SEEN_BY, Neo4jStore

    target = neo4j_or_skip(request)
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    try:
        plan = explained(store, MARKS_USED_SEEN_BY, schemes=["S", "T"], site="PLANT-1")
        found = list(operators(plan))
    finally:
        store.close()
    names = [operator for operator, _ in found]
    assert [o for o in names if "Expand" in o or "Scan" in o or o in ("Top", "Sort")] == []
    seeks = [d.split(" WHERE")[0] for o, d in found if o.startswith("Node") and "Seek" in o]
    assert sorted(seeks) == [
        "RANGE INDEX m:SecondaryMark(scheme, index)",
        "UNIQUE c:MarkCount(scheme, site)",
    ]
