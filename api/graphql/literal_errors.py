"""A value written into the query that a scalar refuses is refused naming where it was written.

graphql-core reports a scalar's own refusal of a literal as the scalar raised it: with no
argument, no place in the value and no location (`'2026-01-05': a time is RFC 3339 text ...`),
where the same value sent as a variable is refused `at [0].from`. LiteralsNamed checks literals
as the standard rule does and names the argument, the place in its value and the location,
as graphql-core does when it coerces an argument at run time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    SKIP,
    ArgumentNode,
    GraphQLError,
    GraphQLInputType,
    ListValueNode,
    ObjectValueNode,
    ValueNode,
    VariableDefinitionNode,
    VisitorAction,
)
from graphql.pyutils import print_path_list
from graphql.utilities import validate_input_literal
from graphql.validation import ValuesOfCorrectTypeRule
from strawberry.extensions import SchemaExtension


def value_at(node: ValueNode, path: list[str | int]) -> ValueNode:
    """The part of a literal at a path into it, as far as the literal goes."""
    for key in path:
        if isinstance(key, int) and isinstance(node, ListValueNode):
            node = node.values[key]
        elif isinstance(key, str) and isinstance(node, ObjectValueNode):
            # The last of a repeated field, as graphql-core reads it (UniqueInputFieldNames
            # refuses the repeat besides).
            node = {field.name.value: field.value for field in node.fields}.get(key, node)
    return node


class LiteralsNamed(ValuesOfCorrectTypeRule):
    """ValuesOfCorrectTypeRule, naming the argument and place of a value a scalar refuses."""

    where = "A value"

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.where = f"Argument '{node.name.value}'"

    def enter_variable_definition(self, node: VariableDefinitionNode, *_: Any) -> None:
        self.where = f"Variable '${node.variable.name.value}' default value"

    def is_valid_value_node(
        self, node: ValueNode, input_type: GraphQLInputType | None
    ) -> VisitorAction:
        where = self.where

        def on_error(error: GraphQLError, path: list[str | int]) -> None:
            if error.nodes:  # graphql-core's own refusals point at the value already
                self.report_error(error)
                return
            message = f"{where} has invalid value{print_path_list(path)}: {error.message}"
            self.report_error(GraphQLError(message, value_at(node, path), original_error=error))

        if input_type:
            validate_input_literal(
                node, input_type, on_error, None, None, self.context.hide_suggestions
            )
        return SKIP


class NameRefusedLiterals(SchemaExtension):
    """Check literals with LiteralsNamed in place of graphql-core's ValuesOfCorrectTypeRule."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = tuple(
            LiteralsNamed if rule is ValuesOfCorrectTypeRule else rule
            for rule in context.validation_rules
        )
        yield
