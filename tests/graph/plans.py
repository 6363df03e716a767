"""Reading the plans Neo4j makes for the store's statements (EXPLAIN: no data is read)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graph.neo4j_store import Neo4jStore


def operators(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield each operator of `plan` and its details, the plan's root first."""
    yield plan["operatorType"].split("@")[0], str(plan.get("args", {}).get("Details", ""))
    for child in plan.get("children", []):
        yield from operators(child)


def explained(store: Neo4jStore, statement: str, **parameters: Any) -> dict[str, Any]:
    """Return the plan the server makes afresh for `statement` (replan=force)."""
    with store._driver.session() as session:  # the test reads the plan, not data
        found = session.run("EXPLAIN CYPHER replan=force " + statement, parameters)
        return dict(found.consume().plan or {})
