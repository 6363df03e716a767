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
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from heapq import heappop, heappush

from graph.store import EdgeView

MAX_KINDS = frozenset({"shipment", "company"})


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


def _combine(kind: str, weighted: list[tuple[EdgeView, float]]) -> float:
    if kind in MAX_KINDS:
        return max(value for _, value in weighted)
    if kind == "step":
        by_part: dict[str | None, float] = {}
        for edge, value in weighted:
            if edge.src.startswith("serial:"):
                by_part[edge.src] = value
            else:
                by_part[edge.part] = by_part.get(edge.part, 0.0) + _share(edge) * value
        if len(by_part) == 1:  # one component: its share as it is
            return min(*by_part.values(), 1.0)
        return _any_of(by_part.values())
    return sum(_share(edge) * value for edge, value in weighted)


def _any_of(values: Iterable[float]) -> float:
    """`1 - prod(1 - e)` without subtracting from 1: in floats 1 - 1e-18 is 1, so components
    of a tiny exposure each would make an assembly of them read 0."""
    logs = [math.log1p(-value) if value < 1.0 else -math.inf for value in values]
    return -math.expm1(math.fsum(logs))


def _share(edge: EdgeView) -> float:
    return 1.0 if edge.share is None else edge.share


def _clean(value: float) -> float:
    # Twelve significant digits, not decimal places: float noise goes (0.9999999999999998 is
    # 1.0), and a tiny share of the source, diluted in a large merge, stays above 0, so the
    # item and what it reached are still listed as "may contain".
    return float(f"{min(max(value, 0.0), 1.0):.12g}")


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
    exposure: dict[str, float] = {}
    for node in topological(kinds, edge_list):
        if node == root:
            exposure[node] = 1.0
            continue
        weighted = [(e, exposure.get(e.src, 0.0)) for e in inputs.get(node, ())]
        exposure[node] = _combine(kinds[node], weighted) if weighted else 0.0
    return {node: _clean(value) for node, value in exposure.items()}


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
    listed: dict[str, dict[str, float]] = {}
    bound: dict[str, float] = {}  # the most any ancestor's share in the node can be
    for node in order:
        # An input from outside the ordered nodes carries nothing, as it counts 0 in _combine.
        incoming = [e for e in inputs.get(node, ()) if e.src in position]
        weights = _linear_weights(kinds[node], incoming, bound)
        if weights is None:
            values = {
                src: _carried(src, linear, listed, position, beyond) for src in _sources(incoming)
            }
            vector = {node: 1.0, **(beyond or {}).get(node, {})}
            ancestors: set[str] = set()
            for carried in values.values():
                ancestors.update(carried)
            for ancestor in sorted(ancestors):
                weighted = [(e, values[e.src].get(ancestor, 0.0)) for e in incoming]
                vector[ancestor] = _combine(kinds[node], weighted)
            listed[node] = vector
            bound[node] = max([1.0, *vector.values()])
        else:
            linear[node] = weights
            reach = sum(weight * bound[src] for src, weight in weights)
            bound[node] = max([1.0, reach, *(beyond or {}).get(node, {}).values()])
    if root not in position:
        return {root: 1.0}
    shares = _carried(root, linear, listed, position, beyond)
    return {node: _clean(value) for node, value in shares.items()}


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


def _carried(
    node: str,
    linear: Mapping[str, list[tuple[str, float]]],
    listed: Mapping[str, dict[str, float]],
    position: Mapping[str, int],
    beyond: Mapping[str, Mapping[str, float]] | None,
) -> dict[str, float]:
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
    for each in sorted(region, key=position.__getitem__, reverse=True):
        carried = weight.get(each, 0.0)
        if each in listed:
            for ancestor, value in listed[each].items():
                shares[ancestor] = shares.get(ancestor, 0.0) + carried * value
            continue
        shares[each] = shares.get(each, 0.0) + carried
        for ancestor, value in (beyond or {}).get(each, {}).items():
            shares[ancestor] = shares.get(ancestor, 0.0) + carried * value
        for src, share in linear[each]:
            weight[src] = weight.get(src, 0.0) + carried * share
    return shares
