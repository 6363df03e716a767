"""What one GraphQL request may cost: a few whole-graph analyses, and a bounded answer.

Depth, alias and token limits bound the text of a query, not its work: thirty aliases of
`impact` run thirty traces, and a few levels of `inputs { source { ... outputs } }` from an
equipment or a customer multiply list lengths into millions of objects.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Final, NoReturn

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLResolveInfo,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    ValidationRule,
)
from strawberry.types import Info
from strawberry.types.nodes import convert_directives

from api.graphql.validation import fragments_in_order

# Root fields that walk a trace, a case's scope or a solver: each costs up to seconds. (Reading
# a case is cheap: its analyses are counted where they are asked, CASE_ANALYSES.) Decoding a lot
# code that is a lot of ours traces it upstream to confirm which partner lots it holds. A
# supplier's lists of cases read every case about any of their lots, a page after another.
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
        "decodeLot",
        "rescopeRecall",
        "holdRecall",
        "notifyRecall",
        "mySupplierCases",
        "casesAboutMyLots",
    }
)
# A recall case's own analyses: each walks the case's scope again.
CASE_ANALYSES: Final = frozenset({"scope", "reconciliation", "sharedCarts", "history"})
# Root fields that list cases: an analysis under them would run once per case.
CASE_LISTS: Final = frozenset({"recallCases", "casesAboutMyLots"})
MAX_HEAVY: Final = 4
# Links and nodes one request may list: through `inputs` and `outputs`, a node's marks, carts and
# equipment, a trace's pages, `explain`'s paths, an equipment window's steps, a customer's
# received shipments and their items, a supplier's lots and a federated trace's lists, each time
# (under each alias) they are asked.
MAX_LISTED: Final = 20_000

# Analyses asked by name, and those asked under a list of cases.
Asked = tuple[Counter[str], Counter[str]]


class HeavyFieldLimit(ValidationRule):
    """Refuse an operation that asks for more than MAX_HEAVY analyses (aliases included).

    Analyses are the heavy root fields and, at any depth (in mutations too), a case's own
    (scope, reconciliation, sharedCarts, history); under a list of cases those would run once
    per case, so they are refused there outright. A fragment's analyses count once per spread,
    and are worked out once per fragment (api.graphql.validation): walking every spread again
    takes exponential time on fragments that spread each other twice.
    """

    def enter_document(self, node: DocumentNode, *_: Any) -> None:
        self._fragments: dict[tuple[str, bool, bool], Asked] = {}
        for fragment in fragments_in_order(node):
            for root, in_list in ((True, False), (False, False), (False, True)):
                asked = self._heavy(fragment.selection_set, root, in_list)
                self._fragments[fragment.name.value, root, in_list] = asked

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        found, per_case = self._heavy(node.selection_set, True, False)
        if per_case:
            self.report_error(
                GraphQLError(
                    f"{', '.join(sorted(per_case))} of every case in a list would run once "
                    "per case: ask one case at a time (recallCase(id: ...))",
                    node,
                )
            )
        elif found.total() > MAX_HEAVY:
            self.report_error(
                GraphQLError(
                    f"one request may run at most {MAX_HEAVY} analyses ({', '.join(sorted(found))}"
                    f"): it asks for {found.total()}; send them in several requests",
                    node,
                )
            )

    def _heavy(self, selections: SelectionSetNode | None, root: bool, in_list: bool) -> Asked:
        """The analyses a selection asks for, and those it asks per case of a list."""
        found: Counter[str] = Counter()
        per_case: Counter[str] = Counter()
        for selection in selections.selections if selections else ():
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name in (HEAVY_FIELDS if root else CASE_ANALYSES):
                    (per_case if in_list else found)[name] += 1
                listing = in_list or (root and name in CASE_LISTS)
                more, more_per_case = self._heavy(selection.selection_set, False, listing)
            elif isinstance(selection, InlineFragmentNode):
                more, more_per_case = self._heavy(selection.selection_set, root, in_list)
            else:
                assert isinstance(selection, FragmentSpreadNode)
                # An unknown fragment, or one that closes a cycle, is another rule's error.
                key = (selection.name.value, root, in_list)
                more, more_per_case = self._fragments.get(key, (Counter(), Counter()))
            found += more
            per_case += more_per_case
        return found, per_case


# What to ask less of, named by the field that ran over the budget (aliases count each time).
NARROW_LINKS = "ask for fewer levels or aliases of inputs and outputs"
NARROW_CONTEXT = "ask for fewer levels or aliases of marks, carts and equipment"
NARROW_TRACE = "ask trace.nodes and trace.links for fewer with `first`, or fewer aliases"
NARROW_WINDOW = "ask for a shorter equipmentWindow, or fewer aliases"
NARROW_PATHS = "ask explain for fewer aliases or fewer lists of its paths (nodeIds, links)"
NARROW_RECEIVED = "ask received for fewer shipments with `first`, or fewer aliases"
NARROW_SUPPLIER_LOTS = "ask supplierLots for fewer lots with `first`, or fewer aliases"
NARROW_FEDERATED = "ask federatedTrace for fewer levels with maxDepth, or fewer aliases"


class Budget:
    """Objects a request has listed so far; past MAX_LISTED the request stops with an error."""

    def __init__(self, limit: int | None = None) -> None:
        self._limit = MAX_LISTED if limit is None else limit
        self._left = self._limit
        # Held for lists a field has planned and its fields will spend (`reserved`).
        self._reserved = 0

    @property
    def left(self) -> int:
        """How many more objects the request may list, those reserved not among them."""
        return max(self._left - self._reserved, 0)

    def reserve(self, count: int) -> None:
        """Hold `count` objects of what is left for lists that fields below will spend, so
        that what plans after sees them listed."""
        self._reserved += count

    def spend(self, count: int, narrow: str, *, reserved: bool = False) -> None:
        """Count `count` objects listed (of those reserved, if `reserved`); past the limit,
        refuse the request, saying `narrow`: how to ask less of the field that ran over (one
        of the NARROW_* above)."""
        if reserved:
            self._reserved -= min(count, self._reserved)
        self._left -= count
        if self._left < self._reserved:
            self.refuse(narrow)

    def refuse(self, narrow: str) -> NoReturn:
        """Refuse the request as past the limit: for a list read only far enough to tell that
        it lists more than is `left`."""
        self._left = min(self._left, -1)
        raise GraphQLError(f"this query lists more than {self._limit:,} links and nodes: {narrow}")


def asks(info: Info[Any, Any], *names: str, below: bool = False) -> bool:
    """Tell whether the field `info` resolves (under every name it is asked by) asks for one
    of `names` of the object it answers, directly or through fragments, where @skip and
    @include keep it (a list not asked is never listed, so it need not be read). Fields of the
    fields below are another object's, unless `below`: then they are asked too (where every
    object under the field, through a connection's edges, say, is of the one kind that has
    `names`).

    The query is read as written, each fragment once however often it is spread: expanding
    every spread (as strawberry's `selected_fields` does) takes time exponential in the
    query's length, for fragments that spread the one before at several places. The search
    stops at the first field found."""
    return bool(_asked_as(info, frozenset(names), below, first=True))


def times_asked(info: Info[Any, Any], name: str) -> int:
    """How many times the object the field `info` resolves is asked for its field `name`:
    once under each response name (alias) that asks it, where @skip and @include keep it, as
    its resolver runs once for each. Asked twice under one name, it is answered once.
    Searched as `asks` searches the query, but whole."""
    return len(_asked_as(info, frozenset({name}), False, first=False))


def _asked_as(
    info: Info[Any, Any], names: frozenset[str], below: bool, *, first: bool
) -> frozenset[str]:
    """The response names under which the field `info` resolves asks for one of `names`; with
    `first`, no more than the first found (the rest not searched), or none."""
    raw = info._raw_info
    search = _Search(raw, names, below, first)
    return search.within([node.selection_set for node in raw.field_nodes])


class _Search:
    """One search of a query's selections for fields by name."""

    def __init__(
        self, info: GraphQLResolveInfo[Any], names: frozenset[str], below: bool, first: bool
    ) -> None:
        self._info = info
        self._names = names
        self._below = below
        self._first = first  # stop at the first found: whether any is asked, not how often
        # What each fragment was found to ask: searched once, whatever spreads it again.
        self._found: dict[str, frozenset[str]] = {}

    def within(self, sets: Sequence[SelectionSetNode | None]) -> frozenset[str]:
        """The response names under which the selection sets `sets` ask for one of the names."""
        named: frozenset[str] = frozenset()
        for selection in (s for found in sets if found for s in found.selections):
            named |= self._asks(selection)
            if named and self._first:
                break
        return named

    def _asks(self, selection: SelectionNode) -> frozenset[str]:
        if not self._kept(selection):
            return frozenset()
        if isinstance(selection, FieldNode):
            asked = selection.name.value in self._names
            named = frozenset({(selection.alias or selection.name).value} if asked else ())
            if not self._below or (named and self._first):
                return named
            return named | self.within([selection.selection_set])
        if isinstance(selection, InlineFragmentNode):
            return self.within([selection.selection_set])
        assert isinstance(selection, FragmentSpreadNode)
        name = selection.name.value
        if name not in self._found:
            self._found[name] = frozenset()  # a spread in a cycle (refused before) finds no more
            fragment = self._info.fragments.get(name)
            if fragment is not None:
                self._found[name] = self.within([fragment.selection_set])
        return self._found[name]

    def _kept(self, selection: SelectionNode) -> bool:
        """Tell whether @skip and @include (their arguments read, variables given) keep it."""
        directives = convert_directives(self._info, selection.directives)
        skipped = directives.get("skip", {}).get("if", False)
        included = directives.get("include", {}).get("if", True)
        return not skipped and bool(included)
