"""What one GraphQL request may cost: a few whole-graph analyses, and a bounded answer.

Depth, alias and token limits bound the text of a query, not its work: thirty aliases of
`impact` run thirty traces, and a few levels of `inputs { source { ... outputs } }` from an
equipment or a customer multiply list lengths into millions of objects.
"""

from __future__ import annotations

from typing import Any, Final

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)

# Root fields that walk a trace, a case's scope or a solver: each costs up to seconds.
HEAVY_FIELDS: Final = frozenset(
    {
        "trace",
        "impact",
        "whereFrom",
        "explain",
        "supplierLots",
        "sizeCarts",
        "equipmentWindow",
        "sharedCarts",
        "federatedTrace",
        "recallCase",
        "recallCases",
        "received",
        "rescopeRecall",
        "holdRecall",
        "notifyRecall",
    }
)
MAX_HEAVY: Final = 4
# Links and nodes one request may list through `inputs` and `outputs`.
MAX_LISTED: Final = 20_000


class HeavyFieldLimit(ValidationRule):
    """Refuse an operation that asks for more than MAX_HEAVY analyses (aliases included)."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        found = self._heavy(node.selection_set, set())
        if len(found) > MAX_HEAVY:
            names = ", ".join(sorted(set(found)))
            self.report_error(
                GraphQLError(
                    f"one request may run at most {MAX_HEAVY} analyses ({names}): it asks for "
                    f"{len(found)}; send them in several requests",
                    node,
                )
            )

    def _heavy(self, selections: SelectionSetNode | None, seen: set[str]) -> list[str]:
        found: list[str] = []
        for selection in selections.selections if selections else ():
            if isinstance(selection, FieldNode):
                if selection.name.value in HEAVY_FIELDS:
                    found.append(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                found += self._heavy(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                if fragment is not None and name not in seen:  # a cycle is another rule's error
                    found += self._heavy(fragment.selection_set, seen | {name})
        return found


class Budget:
    """Objects a request has listed so far; past MAX_LISTED the request stops with an error."""

    def __init__(self, limit: int | None = None) -> None:
        self._limit = MAX_LISTED if limit is None else limit
        self._left = self._limit

    def spend(self, count: int) -> None:
        self._left -= count
        if self._left < 0:
            raise GraphQLError(
                f"this query lists more than {self._limit:,} inputs and outputs: ask for fewer "
                "levels, or page through a trace (trace.nodes, trace.links)"
            )
