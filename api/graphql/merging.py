"""How many fields meet at one place of the answer, bounded before graphql-core compares them.

graphql-core's OverlappingFieldsCanBeMergedRule compares every two fields that answer at one
place (one response path, inline fragments and fragments expanded), and every two fragments
spread there: the work grows with the square of those counts, and a query of a few thousand
tokens that asks one field hundreds of times keeps a core busy for a second or more before the
rule gives up with a bare "Validation aborted.". Counting them takes one read of each selection
per place it lands; a fragment counts once per place, as the rule compares it once.
"""

from __future__ import annotations

from typing import Final

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

# Fields that may answer at one place: a field asked in a fragment for each of the ten node
# types, and once more, stays well within it.
MAX_FIELDS_AT_ONE_PLACE: Final = 30
MAX_FRAGMENTS_AT_ONE_PLACE: Final = 100
# Selections read in all, each once per place it lands: fragments spread inside one another at
# different places could otherwise make the count itself long.
MAX_READS: Final = 100_000


def fragment_definitions(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    """The document's fragments by name, in the order it defines them."""
    return {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }


class _Crowded(Exception):
    def __init__(self, error: GraphQLError) -> None:
        self.error = error


class _Places:
    """A walk of the places of a document's answer, each group of selection sets once."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = fragment_definitions(document)
        self.seen: set[frozenset[int]] = set()
        self.reads = 0

    def check(self, root: SelectionSetNode, where: str) -> None:
        """Refuse (raise _Crowded) a place below `root` that too many fields or fragments meet.

        A place is the group of selection sets of the fields that answer there; a group met
        before (a fragment spread alone at several places) was counted then.
        """
        pending: list[tuple[tuple[SelectionSetNode, ...], str]] = [((root,), "")]
        while pending:
            group, path = pending.pop()
            key = frozenset(map(id, group))
            if key in self.seen:
                continue
            self.seen.add(key)
            fields, spread = self._expand(group)
            if len(spread) > MAX_FRAGMENTS_AT_ONE_PLACE:
                place = f"'{path}'" if path else "the top"
                raise _Crowded(
                    GraphQLError(
                        f"{len(spread)} fragments are spread at {place}{where} (with the "
                        f"fragments they spread): at most {MAX_FRAGMENTS_AT_ONE_PLACE}; spread "
                        "fewer fragments there"
                    )
                )
            for name, nodes in fields.items():
                at = f"{path}.{name}" if path else name
                if len(nodes) > MAX_FIELDS_AT_ONE_PLACE:
                    raise _Crowded(
                        GraphQLError(
                            f"'{at}'{where} is asked {len(nodes)} times (fragments and inline "
                            f"fragments expanded): at most {MAX_FIELDS_AT_ONE_PLACE}; ask for "
                            "each field once at one place",
                            nodes[MAX_FIELDS_AT_ONE_PLACE],
                        )
                    )
                below = tuple(node.selection_set for node in nodes if node.selection_set)
                if below:
                    pending.append((below, at))

    def _expand(
        self, group: tuple[SelectionSetNode, ...]
    ) -> tuple[dict[str, list[FieldNode]], set[str]]:
        """The fields of a group by response name, and the fragments spread in it."""
        fields: dict[str, list[FieldNode]] = {}
        spread: set[str] = set()
        sets = list(group)
        while sets:
            for selection in sets.pop().selections:
                self.reads += 1
                if self.reads > MAX_READS:
                    raise _Crowded(
                        GraphQLError(
                            f"this query has more than {MAX_READS:,} selections, each fragment "
                            "counted at every place it is spread: spread fewer fragments inside "
                            "one another"
                        )
                    )
                if isinstance(selection, FieldNode):
                    name = (selection.alias or selection.name).value
                    fields.setdefault(name, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    sets.append(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    # An unknown fragment, or a spread again, is another rule's concern.
                    fragment = self.fragments.get(selection.name.value)
                    if fragment is not None and selection.name.value not in spread:
                        spread.add(selection.name.value)
                        sets.append(fragment.selection_set)
        return fields, spread


def crowded_places(document: DocumentNode) -> list[GraphQLError]:
    """The first place of the document that too many fields or fragments meet, if any.

    Operations first, then each fragment on its own: graphql-core checks a fragment's
    selections even where it is never spread.
    """
    places = _Places(document)
    try:
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                places.check(definition.selection_set, "")
        for name, fragment in places.fragments.items():
            places.check(fragment.selection_set, f" in fragment {name}")
    except _Crowded as crowded:
        return [crowded.error]
    return []
