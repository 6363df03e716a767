"""Checking a query before it runs: how deep it nests and how many aliases it uses.

A few lines of fragments that each spread the one before twice expand into millions of fields.
So each fragment is measured once, from the measures of the fragments it spreads, never by
walking the expansion. Validation as a whole runs off the event loop; and graphql-core's own
rules meet only a query that nests within MAX_NESTING and whose places of the answer few fields
meet (api.graphql.merging), both checked first in time linear in the query.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Final

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)
from graphql.utilities import get_operation_ast
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from api.graphql.merging import crowded_places, fragment_definitions

MAX_DEPTH: Final = 12
MAX_ALIASES: Final = 30
# Levels of selections and fragment spreads: graphql-core gives up validating past 200 ("Validation
# aborted."), saying nothing of why; a query of 12 levels of fields has room to spare.
MAX_NESTING: Final = 100


def fragments_in_order(document: DocumentNode) -> list[FragmentDefinitionNode]:
    """The document's fragments, each after the fragments it spreads.

    In a cycle (which NoFragmentCyclesRule refuses) the fragment that closes it comes first, so
    a measure built in this order sees its spread as unknown and counts it as nothing.
    """
    fragments = fragment_definitions(document)
    ordered: list[FragmentDefinitionNode] = []
    reached: set[str] = set()
    for first in fragments:
        if first in reached:
            continue
        reached.add(first)
        # Depth first with a stack of our own: a chain of spreads may be longer than Python's
        # recursion limit.
        stack = [(fragments[first], spreads(fragments[first].selection_set))]
        while stack:
            fragment, pending = stack[-1]
            for name in pending:
                if name in fragments and name not in reached:
                    reached.add(name)
                    stack.append((fragments[name], spreads(fragments[name].selection_set)))
                    break
            else:
                stack.pop()
                ordered.append(fragment)
    return ordered


def spreads(selections: SelectionSetNode | None) -> Iterator[str]:
    """Names of the fragments spread anywhere in a selection set, in order."""
    for selection in selections.selections if selections else ():
        if isinstance(selection, FragmentSpreadNode):
            yield selection.name.value
        elif isinstance(selection, FieldNode | InlineFragmentNode):
            yield from spreads(selection.selection_set)


Measure = Callable[[SelectionSetNode | None, dict[str, int]], int]


def measure_fragments(document: DocumentNode, measure: Measure) -> dict[str, int]:
    """Each fragment's measure, computed once from the measures of those it spreads."""
    found: dict[str, int] = {}
    for fragment in fragments_in_order(document):
        found[fragment.name.value] = measure(fragment.selection_set, found)
    return found


def depth(selections: SelectionSetNode | None, fragments: dict[str, int]) -> int:
    """Levels of fields with a selection below this one, counted as QueryDepthLimiter does:
    introspection fields (`__schema`, `__type`) count as none."""
    deepest = 0
    for selection in selections.selections if selections else ():
        if isinstance(selection, FieldNode):
            if selection.selection_set and not selection.name.value.startswith("__"):
                deepest = max(deepest, 1 + depth(selection.selection_set, fragments))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, depth(selection.selection_set, fragments))
        elif isinstance(selection, FragmentSpreadNode):
            deepest = max(deepest, fragments.get(selection.name.value, 0))
    return deepest


def aliases(selections: SelectionSetNode | None, fragments: dict[str, int]) -> int:
    """Aliased fields in a selection, a fragment's counted once per spread."""
    count = 0
    for selection in selections.selections if selections else ():
        if isinstance(selection, FieldNode):
            count += (selection.alias is not None) + aliases(selection.selection_set, fragments)
        elif isinstance(selection, InlineFragmentNode):
            count += aliases(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            count += fragments.get(selection.name.value, 0)
    return count


def nesting(selections: SelectionSetNode | None, fragments: dict[str, int]) -> int:
    """Levels of selection sets, inline fragments and fragment spreads, as graphql-core counts
    them before it validates: a spread is a level, and so is each selection set."""
    deepest = 0
    for selection in selections.selections if selections else ():
        if isinstance(selection, FieldNode | InlineFragmentNode):
            deepest = max(deepest, nesting(selection.selection_set, fragments))
        elif isinstance(selection, FragmentSpreadNode):
            deepest = max(deepest, fragments.get(selection.name.value, 0))
    return 1 + deepest if selections else 0


def nested_too_deeply(document: DocumentNode) -> list[GraphQLError]:
    """Refuse an operation or fragment that nests past MAX_NESTING, fragments expanded."""
    fragments = measure_fragments(document, nesting)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            levels = nesting(definition.selection_set, fragments)
            name = f"'{definition.name.value}'" if definition.name else "the query"
        elif isinstance(definition, FragmentDefinitionNode):
            levels = fragments.get(definition.name.value, 0)
            name = f"fragment {definition.name.value}"
        else:
            continue
        if levels > MAX_NESTING:
            message = (
                f"{name} nests {levels} levels of selections and fragment spreads: at most "
                f"{MAX_NESTING}; spread fewer fragments inside one another"
            )
            return [GraphQLError(message, definition)]
    return []


def refused_before_rules(document: DocumentNode) -> list[GraphQLError]:
    """What bounds the work of graphql-core's rules, checked before they run."""
    return nested_too_deeply(document) or crowded_places(document)


class DepthLimit(ValidationRule):
    """Refuse an operation that nests more than MAX_DEPTH levels, fragments expanded."""

    def enter_document(self, node: DocumentNode, *_: Any) -> None:
        self._fragments = measure_fragments(node, depth)

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        if depth(node.selection_set, self._fragments) > MAX_DEPTH:
            name = node.name.value if node.name else "anonymous"
            message = f"'{name}' exceeds maximum operation depth of {MAX_DEPTH}"
            self.report_error(GraphQLError(message, node))


class AliasLimit(ValidationRule):
    """Refuse a document whose operations use more than MAX_ALIASES aliases, fragments
    expanded."""

    def enter_document(self, node: DocumentNode, *_: Any) -> None:
        fragments = measure_fragments(node, aliases)
        total = sum(
            aliases(definition.selection_set, fragments)
            for definition in node.definitions
            if isinstance(definition, OperationDefinitionNode)
        )
        if total > MAX_ALIASES:
            self.report_error(GraphQLError(f"{total} aliases found. Allowed: {MAX_ALIASES}"))


MANY_OPERATIONS: Final = "Must provide operation name if query contains multiple operations."


class ValidateOffLoop(SchemaExtension):
    """Validate in a worker thread, so that other requests are answered meanwhile.

    Strawberry skips its own validation when an extension has already filled in its errors.
    """

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # Strawberry would run the first of several operations when none is named (its
        # `operation_name` names that one, so only what the request gave says "none"). A
        # document of no operation was refused before (unknown_operation): None is several.
        named = context._provided_operation_name is not None
        if document is not None and not named and get_operation_ast(document) is None:
            context.pre_execution_errors = [GraphQLError(MANY_OPERATIONS)]
        if document is not None and context.pre_execution_errors is None:
            context.pre_execution_errors = await asyncio.to_thread(
                self._validate, context.schema._schema, document, context.validation_rules
            )
        yield

    @staticmethod
    def _validate(
        schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
    ) -> list[GraphQLError]:
        return refused_before_rules(document) or validate_document(schema, document, rules)
