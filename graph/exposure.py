"""How much of a source is in each item: exposure downstream, contributed share upstream.

Every flow edge carries a `share`, its weight among the inputs its target combines, set at ingest.
A target combines its inputs by its kind:
- a lot or serial (split, serialize, receive, merge, mix, produced): the share-weighted sum, so a
  split child keeps its parent's exposure and a merge or mix takes the quantity-weighted mean;
- a process step: lot inputs are grouped by part; within a part the weighted sum, across parts
  (an assembly) `1 - prod(1 - e_part)`, since each component independently may carry the source.
  A consumed serial is an identified unit that is certainly in what the step made, so each serial
  is a component of its own, never averaged with other serials of its part nor with its part's
  lots, whose shares are set among the lots alone (more cautious than DESIGN.md's same-part mean,
  which reads every input as mixed material);
- a shipment or a company: the largest exposure of what it holds or received.
An input that does not descend from the source counts as 0. Upstream, the share an ancestor A
contributed to the root is the root's exposure to A, computed for every ancestor at once.

Next to each value goes whether it is certain, decided by the structure and never by how close
the float is to 1: a lot is certain when every input it takes is (their shares adding up to 1),
an assembly when one component is, a shipment when one item is. Only then does the answer read
1; one that may contain the source reads at most 0.999999999999, one it reaches above 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from heapq import heappop, heappush
from typing import NamedTuple, TypeVar

from graph.store import EdgeView

MAX_KINDS = frozenset({"shipment", "company"})
# The largest answer below 1 at twelve significant digits: what "may contain" reads at most.
BELOW_ONE = 0.999999999999
# Shares are quantities divided and rounded to floats at ingest: the shares of all a lot's
# inputs add up to 1 within 2**-53. An input counts if its share is above twice that (one
# below cannot be told from rounding), and the counted ones must reach 1 within 2**-52.
_COUNTED = 2.0**-51
_ROUNDING = 2.0**-52

T = TypeVar("T")


class Level(NamedTuple):
    """An exposure (or share) and whether it is certain, which its float cannot say: 1 - 1e-20
    is 1.0 in floats, and the shares of a lot split in three and merged again add up to
    0.9999999999999999."""

    value: float
    certain: bool


NONE = Level(0.0, False)
WHOLE = Level(1.0, True)
_NOTHING: frozenset[str] = frozenset()


def is_certain(value: float) -> bool:
    """Whether an exposure (or share) as answered says certain: only a certain one reads 1."""
    return value == 1.0


def topological(nodes: Iterable[str], edges: Iterable[EdgeView]) -> list[str]:
    """Order nodes so every edge goes forward; ties broken by id, so the order is stable."""
    indegree = dict.fromkeys(nodes, 0)
    successors: dict[str, list[str]] = {}
    for edge in edges:
        if edge.src in indegree and edge.dst in indegree:
            indegree[edge.dst] += 1
            successors.setdefault(edge.src, []).append(edge.dst)
    ready = [node for node, count in indegree.items() if count == 0]
    ready.sort()
    order: list[str] = []
    while ready:
        node = heappop(ready)
        order.append(node)
        for successor in successors.get(node, ()):
            indegree[successor] -= 1
            if indegree[successor] == 0:
                heappush(ready, successor)
    return order


def _inputs_by_target(edges: Iterable[EdgeView]) -> dict[str, list[EdgeView]]:
    inputs: dict[str, list[EdgeView]] = {}
    for edge in sorted(edges, key=lambda e: (e.dst, e.src, e.type, e.event)):
        inputs.setdefault(edge.dst, []).append(edge)
    return inputs


def _combine(kind: str, weighted: list[tuple[EdgeView, Level]]) -> Level:
    if kind in MAX_KINDS:
        return Level(max(v.value for _, v in weighted), any(v.certain for _, v in weighted))
    if kind == "step":
        serials: dict[str, Level] = {}
        parts: dict[str | None, list[tuple[float, Level]]] = {}
        for edge, level in weighted:
            if edge.src.startswith("serial:"):
                serials[edge.src] = level
            else:
                parts.setdefault(edge.part, []).append((_share(edge), level))
        components = [*serials.values(), *(_mean(lots) for lots in parts.values())]
        components = [Level(min(c.value, 1.0), c.certain) for c in components]
        if len(components) == 1:  # one component: its share as it is
            return components[0]
        return _any_of(components)
    return _mean([(_share(edge), level) for edge, level in weighted])


def _mean(weighted: list[tuple[float, Level]]) -> Level:
    """The share-weighted sum, certain when the inputs that count are and make up the whole:
    a merge's inputs the source does not reach are left out of a trace down, so what they
    lack of 1 is what is not certain."""
    counted = _counted_whole([(level, share) for share, level in weighted])
    return Level(
        math.fsum(share * level.value for share, level in weighted),
        counted is not None and all(level.certain for level in counted),
    )


def _closed(weights: list[tuple[str, float]]) -> list[str] | None:
    """The inputs that count in a linear node, if they make up the whole (as in _mean)."""
    if len(weights) == 1 and weights[0][1] == 1.0:  # a split, a receive: most nodes
        return [weights[0][0]]
    return _counted_whole(weights)


def _counted_whole(weighted: list[tuple[T, float]]) -> list[T] | None:
    """The inputs that count, if their shares make up the whole (none do when none count)."""
    counted = [(each, share) for each, share in weighted if share > _COUNTED]
    if math.fsum([1.0, *(-share for _, share in counted)]) > _ROUNDING:
        return None
    return [each for each, _ in counted]


def _any_of(components: list[Level]) -> Level:
    """`1 - prod(1 - e)` without subtracting from 1: in floats 1 - 1e-18 is 1, so components
    of a tiny exposure each would make an assembly of them read 0."""
    logs = [math.log1p(-c.value) if c.value < 1.0 else -math.inf for c in components]
    return Level(-math.expm1(math.fsum(logs)), any(c.certain for c in components))


def _share(edge: EdgeView) -> float:
    return 1.0 if edge.share is None else edge.share


def _clean(level: Level) -> float:
    # Twelve significant digits, not decimal places: a tiny share of the source, diluted in a
    # large merge, stays above 0, so the item and what it reached are still listed as "may
    # contain"; and only a certain one reads 1, however close to it another is.
    if level.certain:
        return 1.0
    return min(float(f"{min(max(level.value, 0.0), 1.0):.12g}"), BELOW_ONE)


def exposure_text(value: float, digits: int = 4) -> str:
    """Write an exposure (or share) to `digits` significant digits, or as many more as it takes
    for one that is neither 0 nor 1 not to read as either: 0.99996 is "0.99996", never "1"."""
    text = f"{value:.{digits}g}"
    while float(text) in (0.0, 1.0) and float(text) != value and digits < 17:
        digits += 1
        text = f"{value:.{digits}g}"
    return text


def downstream_exposure(
    root: str, kinds: Mapping[str, str], edges: Iterable[EdgeView]
) -> dict[str, float]:
    """Return the exposure of every node in `kinds` to material from `root`."""
    edge_list = list(edges)
    inputs = _inputs_by_target(edge_list)
    exposure: dict[str, Level] = {}
    for node in topological(kinds, edge_list):
        if node == root:
            exposure[node] = WHOLE
            continue
        weighted = [(e, exposure.get(e.src, NONE)) for e in inputs.get(node, ())]
        exposure[node] = _combine(kinds[node], weighted) if weighted else NONE
    return {node: _clean(level) for node, level in exposure.items()}


def upstream_shares(
    root: str,
    kinds: Mapping[str, str],
    edges: Iterable[EdgeView],
    beyond: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, float]:
    """Return, for every ancestor in `kinds`, the share it contributed to `root`.

    `beyond` gives ancestors outside the graph by the node without inputs they came in through,
    with their share in it (a partner instance's items in the supplier lot it shipped us): they
    are carried to `root` as every ancestor is, and returned with the rest.

    A node that combines its inputs linearly (a lot or serial, a step of one part or one serial,
    a shipment or company with one input) passes each ancestor's share on weighted, so its shares
    are never listed: they are summed over paths backwards from where they are needed, in time
    linear in what lies between. Only where the rule is not linear (an assembly, the largest of
    several inputs, a part whose shares add up past 1) are the shares of every ancestor listed,
    since paths that meet there again must be combined per ancestor; the work is the number of
    such nodes times what lies above them, not every node times all its ancestors.
    """
    edge_list = list(edges)
    inputs = _inputs_by_target(edge_list)
    order = topological(kinds, edge_list)
    position = {node: index for index, node in enumerate(order)}
    linear: dict[str, list[tuple[str, float]]] = {}
    listed: dict[str, dict[str, Level]] = {}
    bound: dict[str, float] = {}  # the most any ancestor's share in the node can be
    outside = {
        node: {ancestor: Level(share, share >= 1.0) for ancestor, share in shares.items()}
        for node, shares in (beyond or {}).items()
    }  # a partner's share reads 1 only when certain, as ours do
    certain = {node: _certain_of(node, levels) for node, levels in outside.items()}
    for node in order:
        # An input from outside the ordered nodes carries nothing, as it counts 0 in _combine.
        incoming = [e for e in inputs.get(node, ()) if e.src in position]
        weights = _linear_weights(kinds[node], incoming, bound)
        if weights is None:
            values = {
                src: _carried(src, linear, listed, position, outside, certain)
                for src in _sources(incoming)
            }
            vector = {node: WHOLE, **outside.get(node, {})}
            ancestors: set[str] = set()
            for carried in values.values():
                ancestors.update(carried)
            for ancestor in sorted(ancestors):
                weighted = [(e, values[e.src].get(ancestor, NONE)) for e in incoming]
                vector[ancestor] = _combine(kinds[node], weighted)
            listed[node] = vector
            certain[node] = _certain_of(node, vector)
            bound[node] = max([1.0, *(level.value for level in vector.values())])
        else:
            linear[node] = weights
            reach = sum(weight * bound[src] for src, weight in weights)
            bound[node] = max([1.0, reach, *(beyond or {}).get(node, {}).values()])
    if root not in position:
        return {root: 1.0}
    shares = _carried(root, linear, listed, position, outside, certain)
    return {node: _clean(level) for node, level in shares.items()}


# Within a part, shares add up to 1: past this float noise, min(value, 1) in _combine may bind.
_BOUND = 1.0 + 1e-9


def _linear_weights(
    kind: str, incoming: list[EdgeView], bound: Mapping[str, float]
) -> list[tuple[str, float]] | None:
    """The weight of each input if `kind` combines them linearly, else None."""
    if kind in MAX_KINDS:
        # At most one source, counted once: these kinds take the largest share, not the sum.
        sources = _sources(incoming)
        return [(src, 1.0) for src in sources] if len(sources) <= 1 else None
    if kind != "step":
        return [(e.src, _share(e)) for e in incoming]
    groups = {e.src if e.src.startswith("serial:") else ("part", e.part) for e in incoming}
    if len(groups) > 1:
        return None
    if incoming and incoming[0].src.startswith("serial:"):
        # A consumed serial is its own component, unweighted, however often it is consumed.
        weights = [(incoming[0].src, 1.0)]
    else:
        weights = [(e.src, _share(e)) for e in incoming]
    if sum(weight * bound[src] for src, weight in weights) > _BOUND:
        return None
    return weights


def _sources(incoming: Iterable[EdgeView]) -> list[str]:
    return list(dict.fromkeys(e.src for e in incoming))


def _certain_of(node: str, levels: Mapping[str, Level]) -> frozenset[str]:
    """The ancestors a listed node (or one without inputs) is certain of, itself left out."""
    return frozenset(a for a, level in levels.items() if level.certain and a != node)


def _carried(
    node: str,
    linear: Mapping[str, list[tuple[str, float]]],
    listed: Mapping[str, dict[str, Level]],
    position: Mapping[str, int],
    outside: Mapping[str, Mapping[str, Level]],
    certain: Mapping[str, frozenset[str]],
) -> dict[str, Level]:
    """Every ancestor's share in `node`: the linear nodes above it, down to listed ones, are
    walked once in reverse order, each passing its weight on to its inputs."""
    if node in listed:
        return listed[node]
    region = {node}
    todo = [node]
    while todo:
        for src, _ in linear.get(todo.pop(), ()):
            if src not in region:
                region.add(src)
                if src not in listed:
                    todo.append(src)
    weight = {node: 1.0}
    shares: dict[str, float] = {}
    ordered = sorted(region, key=position.__getitem__, reverse=True)
    for each in ordered:
        carried = weight.get(each, 0.0)
        if each in listed:
            for ancestor, level in listed[each].items():
                shares[ancestor] = shares.get(ancestor, 0.0) + carried * level.value
            continue
        shares[each] = shares.get(each, 0.0) + carried
        for ancestor, level in outside.get(each, {}).items():
            shares[ancestor] = shares.get(ancestor, 0.0) + carried * level.value
        for src, share in linear[each]:
            weight[src] = weight.get(src, 0.0) + carried * share
    sure = _certain_in(node, ordered[::-1], linear, listed, position, certain)
    return {ancestor: Level(share, ancestor in sure) for ancestor, share in shares.items()}


def _certain_in(
    node: str,
    region: list[str],
    linear: Mapping[str, list[tuple[str, float]]],
    listed: Mapping[str, dict[str, Level]],
    position: Mapping[str, int],
    certain: Mapping[str, frozenset[str]],
) -> set[str]:
    """The ancestors `node` is certainly made of, as _combine decides node by node, for all of
    them at once.

    Within the region a linear node is certain of an ancestor when each input that counts is
    (_closed): the ancestors it is certain of are those every path up from it passes, its
    dominators, with a node whose inputs are not the whole, and each listed one, as an entry.
    Beyond those, a listed node (or one without inputs) knows what it is certain of: a node is
    certain of such an ancestor when every entry it reaches is. Both are found in one pass in
    order, the dominators as Cooper, Harvey and Kennedy find them. `region` comes in order.
    """
    counted: dict[str, list[str]] = {}
    known: dict[str, frozenset[str]] = {}  # what a node knows it is certain of, itself left out
    for each in region:
        inputs = None if each in listed else _closed(linear[each])
        if inputs is not None:
            counted[each] = inputs
        known[each] = certain.get(each, _NOTHING)
    inside = set(region)
    if any(not sure.isdisjoint(inside) for sure in known.values() if sure):
        # A node certain of another inside the region (an assembly of a lot that also reaches
        # the node directly): rare, and what a node is certain of is then no longer its
        # dominators and a common part; count it out node by node.
        every: dict[str, frozenset[str]] = {}
        for each in region:
            inputs = counted.get(each)
            every[each] = known[each] | {each}
            if inputs is not None:
                every[each] |= frozenset.intersection(*(every[i] for i in inputs))
        return set(every[node])
    top = ""  # the entry above every entry
    idom: dict[str, str] = {}
    common: dict[str, frozenset[str]] = {}  # what every entry a node reaches is certain of
    for each in region:
        inputs = counted.get(each)
        if inputs is None:
            idom[each], common[each] = top, known[each]
            continue
        found = inputs[0]
        for other in inputs[1:]:
            while found != other:  # walk the later one up until both meet
                if position.get(found, -1) > position.get(other, -1):
                    found = idom[found]
                else:
                    other = idom[other]
        idom[each] = found
        # Shared, not copied, along a chain: a copy per node would cost its length squared.
        shared = common[inputs[0]]
        if len(inputs) > 1:
            shared = shared.intersection(*(common[i] for i in inputs[1:]))
        common[each] = shared | known[each] if known[each] else shared
    sure = set(common[node])
    each = node
    while each != top:
        sure.add(each)
        each = idom[each]
    return sure
