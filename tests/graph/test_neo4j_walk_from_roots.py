"""The walk from many roots is the walk from one, made to start from each root in turn: a
walk that does not start from $root once is refused as the module loads, not run from nowhere."""

from __future__ import annotations

import pytest

from graph.neo4j_store import REACH, REACH_FROM_ALL, _from_each_root


def test_the_walk_from_all_roots_starts_from_each_root() -> None:
    for direction, query in REACH_FROM_ALL.items():
        assert query.startswith("UNWIND $roots AS root\n")
        assert "$root}" not in query and query.count("{gid: root}") == 1
        assert query.replace("{gid: root}", "{gid: $root}").endswith(REACH[direction])


@pytest.mark.parametrize(
    "query", ["MATCH (n:Node) RETURN n", "MATCH ({gid: $root}), ({gid: $root})"]
)
def test_a_walk_not_starting_from_root_once_is_refused(query: str) -> None:
    with pytest.raises(ValueError, match=r"names \{gid: \$root\} once"):
        _from_each_root(query)
