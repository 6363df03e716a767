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

# Root fields that walk a trace, a case's scope or a solver: each costs up to seconds. (Reading
# a case is cheap: its analyses are counted where they are asked, CASE_ANALYSES.)
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
        "received",
        "rescopeRecall",
        "holdRecall",
        "notifyRecall",
    }
)
# A recall case's own analyses: each walks the case's scope again.
CASE_ANALYSES: Final = frozenset({"scope", "reconciliation", "sharedCarts", "history"})
# Root fields that list cases: an analysis under them would run once per case.
CASE_LISTS: Final = frozenset({"recallCases", "casesAboutMyLots"})
MAX_HEAVY: Final = 4
# Links and nodes one request may list through `inputs` and `outputs`.
MAX_LISTED: Final = 20_000


class HeavyFieldLimit(ValidationRule):
    """Refuse an operation that asks for more than MAX_HEAVY analyses (aliases included).

    Analyses are the heavy root fields and, at any depth (in mutations too), a case's own
    (scope, reconciliation, sharedCarts, history); under a list of cases those would run once
    per case, so they are refused there outright.
    """

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        found, per_case = self._heavy(node.selection_set, set(), 0, False)
        if per_case:
            self.report_error(
                GraphQLError(
                    f"{', '.join(sorted(set(per_case)))} of every case in a list would run once "
                    "per case: ask one case at a time (recallCase(id: ...))",
                    node,
                )
            )
        elif len(found) > MAX_HEAVY:
            names = ", ".join(sorted(set(found)))
            self.report_error(
                GraphQLError(
                    f"one request may run at most {MAX_HEAVY} analyses ({names}): it asks for "
                    f"{len(found)}; send them in several requests",
                    node,
                )
            )

    def _heavy(
        self, selections: SelectionSetNode | None, seen: set[str], depth: int, in_list: bool
    ) -> tuple[list[str], list[str]]:
        """Return the analyses a selection asks for, and those it asks per case of a list."""
        found: list[str] = []
        per_case: list[str] = []
        for selection in selections.selections if selections else ():
            if isinstance(selection, FieldNode):
                name = selection.name.value
                analysis = name in HEAVY_FIELDS if depth == 0 else name in CASE_ANALYSES
                if analysis:
                    (per_case if in_list else found).append(name)
                listing = in_list or (depth == 0 and name in CASE_LISTS)
                more, more_per_case = self._heavy(selection.selection_set, seen, depth + 1, listing)
                found += more
                per_case += more_per_case
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = selection.selection_set
            else:
                assert isinstance(selection, FragmentSpreadNode)
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                if fragment is None or name in seen:  # a cycle is another rule's error
                    continue
                inner, seen = fragment.selection_set, seen | {name}
            more, more_per_case = self._heavy(inner, seen, depth, in_list)
            found += more
            per_case += more_per_case
        return found, per_case


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
