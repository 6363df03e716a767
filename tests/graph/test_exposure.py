"""Exposure and shares on hand-made and random subgraphs, and on a demo plant's traces."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from fractions import Fraction
from graphlib import TopologicalSorter
from pathlib import Path
from random import Random
from typing import Any

import pytest

from graph import exposure
from graph.embedded_store import EmbeddedStore
from graph.exposure import _combine, downstream_exposure, topological, upstream_shares
from graph.store import EdgeView
from ingest.demo_plant import DemoPlant
from ingest.service import IngestService


def edge(src: str, dst: str, share: float = 1.0, part: str | None = None) -> EdgeView:
    return EdgeView(src, dst, "FLOW", None, share, part, "t", "e")


def test_topological_order_is_stable_and_respects_edges() -> None:
    edges = [edge("b", "c"), edge("a", "c"), edge("c", "d")]
    assert topological(["d", "c", "b", "a"], edges) == ["a", "b", "c", "d"]


def test_mix_is_weighted_and_unreached_inputs_count_zero() -> None:
    kinds = {"lot:A": "lot", "lot:X": "lot"}
    got = downstream_exposure("lot:A", kinds, [edge("lot:A", "lot:X", 0.3)])
    assert got == {"lot:A": 1.0, "lot:X": pytest.approx(0.3)}


def test_assembly_across_parts_and_serials() -> None:
    kinds = {"lot:A": "lot", "lot:B": "lot", "serial:S": "serial", "step:K": "step"}
    edges = [
        edge("lot:A", "lot:B", 0.5),
        edge("lot:B", "step:K", 1.0, part="P"),
        edge("lot:A", "serial:S"),
        edge("serial:S", "step:K", 0.5, part="Q"),
    ]
    got = downstream_exposure("lot:A", kinds, edges)
    assert got["step:K"] == 1.0  # the serial certainly carries A
    edges[2] = edge("lot:B", "serial:S")
    assert downstream_exposure("lot:A", kinds, edges)["step:K"] == pytest.approx(1 - 0.5 * 0.5)


def test_shipment_takes_the_largest_exposure() -> None:
    kinds = {"lot:A": "lot", "lot:B": "lot", "shipment:S": "shipment"}
    edges = [
        edge("lot:A", "lot:B", 0.2),
        edge("lot:A", "shipment:S", 0.9),
        edge("lot:B", "shipment:S", 0.1),
    ]
    assert downstream_exposure("lot:A", kinds, edges)["shipment:S"] == 1.0


def test_upstream_shares_add_over_parallel_paths() -> None:
    kinds = {"lot:A": "lot", "lot:B": "lot", "lot:C": "lot", "lot:R": "lot"}
    edges = [
        edge("lot:A", "lot:B"),
        edge("lot:A", "lot:C"),
        edge("lot:B", "lot:R", 0.25),
        edge("lot:C", "lot:R", 0.5),
    ]
    got = upstream_shares("lot:R", kinds, edges)
    assert got["lot:A"] == pytest.approx(0.75) and got["lot:C"] == pytest.approx(0.5)
    assert got["lot:R"] == 1.0


# The rules of DESIGN.md, docs/recall.md and graph.exposure's docstring, written out again so the
# module is checked against them rather than against its own helpers. A value goes with whether
# it is certain, which the structure decides: a float cannot tell 1 - 1e-20 from 1.
Exact = tuple[float, bool]
# Shares are rounded to floats at ingest: one at or below this cannot be told from that rounding
# and does not count; those that count make the whole when they come within 2**-52 of 1.
TOLD_FROM_ROUNDING = 2.0**-51
WHOLE_WITHIN = Fraction(2) ** -52


def rule_mean(weighted: list[tuple[EdgeView, Exact]]) -> Exact:
    """A lot or serial, a part of a step: the share-weighted sum (an unset share weighs 1),
    certain when the inputs that count make the whole and each is certain."""
    shares = [(1.0 if e.share is None else e.share, level) for e, level in weighted]
    counted = [(share, certain) for share, (_, certain) in shares if share > TOLD_FROM_ROUNDING]
    whole = 1 - sum(Fraction(share) for share, _ in counted) <= WHOLE_WITHIN
    value = sum(share * value for share, (value, _) in shares)
    return value, whole and all(certain for _, certain in counted)


def rule(kind: str, weighted: list[tuple[EdgeView, Exact]]) -> Exact:
    if kind in ("shipment", "company"):  # the largest exposure of what it holds
        return max(v for _, (v, _) in weighted), any(c for _, (_, c) in weighted)
    if kind != "step":
        return rule_mean(weighted)
    # An assembly: each consumed serial a component of its own, the lots of each part another,
    # none above 1; of several components, 1 - prod(1 - e), certain when one is.
    components = [level for e, level in weighted if e.src.startswith("serial:")]
    parts: dict[str | None, list[tuple[EdgeView, Exact]]] = {}
    for e, level in weighted:
        if not e.src.startswith("serial:"):
            parts.setdefault(e.part, []).append((e, level))
    components += [rule_mean(lots) for lots in parts.values()]
    components = [(min(v, 1.0), c) for v, c in components]
    if len(components) == 1:
        return components[0]
    untouched = math.prod((1 - Fraction(v) for v, _ in components), start=Fraction(1))
    return float(1 - untouched), any(c for _, c in components)


def reads(value: float, certain: bool) -> float:
    """Only a certain share reads 1, any other at most 0.999999999999, to twelve digits."""
    if certain:
        return 1.0
    return min(float(f"{min(max(value, 0.0), 1.0):.12g}"), 0.999999999999)


def reference_shares(
    root: str,
    kinds: Mapping[str, str],
    edges: Iterable[EdgeView],
    beyond: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, float]:
    """Every ancestor's share in `root`, as every node's vector of all its ancestors' shares,
    node by node from the sources down."""
    inputs: dict[str, list[EdgeView]] = {node: [] for node in kinds}
    for e in edges:
        if e.src in kinds and e.dst in kinds:
            inputs[e.dst].append(e)
    found: dict[str, dict[str, Exact]] = {}
    graph = {node: {e.src for e in incoming} for node, incoming in inputs.items()}
    for node in TopologicalSorter(graph).static_order():
        ancestors = {a for e in inputs[node] for a in found[e.src]}
        vector = {
            a: rule(kinds[node], [(e, found[e.src].get(a, (0.0, False))) for e in inputs[node]])
            for a in ancestors
        }
        vector |= {a: (v, v >= 1.0) for a, v in (beyond or {}).get(node, {}).items()}
        found[node] = vector | {node: (1.0, True)}
    return {a: reads(*level) for a, level in found.get(root, {root: (1.0, True)}).items()}


def certain(shares: Mapping[str, float]) -> set[str]:
    return {node for node, share in shares.items() if share == 1.0}


def random_dag(seed: int, size: int) -> tuple[dict[str, str], list[EdgeView], dict[str, Any]]:
    """Lots, serials, steps (one part, several, serials), shipments and companies, wired at
    random forward, so paths part and meet again; some shares left unset (read as 1), some
    inputs' shares adding up to 1 as a merge's do, within float rounding."""
    rng = Random(seed)
    kinds: dict[str, str] = {}
    for i in range(size):
        kind = rng.choice(["lot", "lot", "lot", "serial", "step", "step", "shipment", "company"])
        kinds[f"{kind}:{i:03}"] = kind
    names = list(kinds)
    edges = []
    for i, dst in enumerate(names[1:], start=1):
        sources = rng.sample(names[:i], min(i, rng.choice([1, 1, 2, 3])))
        whole = rng.random() < 0.5
        part = rng.choice("PQ")
        for src in sources:
            if whole:
                share: float | None = 1 / len(sources)
            else:
                share = None if rng.random() < 0.1 else rng.choice([1.0, 0.5, rng.random()])
                part = rng.choice("PQ")
            edges.append(EdgeView(src, dst, "FLOW", None, share, part, "t", "e"))
    beyond = {
        name: {f"partner:{name}/{k}": rng.choice([1.0, rng.random()]) for k in range(2)}
        for name in names
        if kinds[name] == "lot" and rng.random() < 0.2
    }
    return kinds, edges, beyond


@pytest.mark.parametrize("seed", range(40))
def test_upstream_shares_equal_the_vector_of_every_ancestor(seed: int) -> None:
    kinds, edges, beyond = random_dag(seed, 40)
    for root in kinds:
        got = upstream_shares(root, kinds, edges, beyond)
        want = reference_shares(root, kinds, edges, beyond)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-15)
        assert certain(got) == certain(want), root


def test_upstream_shares_of_the_demo_plant_equal_the_vector_of_every_ancestor(
    tmp_path: Path,
) -> None:
    store = EmbeddedStore(tmp_path / "demo.db")
    for batch in DemoPlant(size=600, seed=5).batches(500):
        IngestService(store).ingest(batch)
    roots = [
        view.gid
        for kind in ("serial", "shipment", "company")
        for view in store.nodes_of_kind(kind, 40)
    ]
    assert len(roots) > 60
    for root in roots:
        graph = store.subgraph(root, "up", None, None)
        assert graph is not None
        kinds = {gid: view.kind for gid, view in graph.nodes.items()}
        got = upstream_shares(root, kinds, graph.edges)
        want = reference_shares(root, kinds, graph.edges)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-15)
        assert certain(got) == certain(want), root
    store.close()


def test_upstream_shares_combine_per_ancestor_only_where_paths_can_meet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 2,000 splits, then an assembly with a second part: a vector of every ancestor on every
    # lot would combine two million shares; only the assembly needs one per ancestor.
    kinds = {f"lot:{i}": "lot" for i in range(2_000)} | {"lot:B": "lot", "step:K": "step"}
    edges = [edge(f"lot:{i}", f"lot:{i + 1}") for i in range(1_999)]
    edges += [edge("lot:1999", "step:K", part="P"), edge("lot:B", "step:K", part="Q")]
    combined = []
    monkeypatch.setattr(exposure, "_combine", lambda *args: combined.append(1) or _combine(*args))
    got = upstream_shares("step:K", kinds, edges)
    assert len(got) == 2_002 and set(got.values()) == {1.0}
    assert len(combined) == 2_001


def test_a_tiny_share_through_a_process_of_one_part_is_kept_to_its_digits() -> None:
    kinds = {"lot:A": "lot", "lot:B": "lot", "step:S": "step"}
    edges = [edge("lot:A", "lot:B", 1e-10), edge("lot:B", "step:S", 1.0, part="P")]
    assert upstream_shares("step:S", kinds, edges)["lot:A"] == 1e-10
    assert downstream_exposure("lot:A", kinds, edges)["step:S"] == 1e-10


def test_a_merge_just_short_of_1_reads_below_1_and_a_whole_one_1_both_ways() -> None:
    kinds = {"lot:A": "lot", "lot:B": "lot", "lot:M": "lot"}
    for share, reads in ((1 - 1e-10, 0.9999999999), (0.99999999999985, 0.999999999999)):
        edges = [edge("lot:A", "lot:M", share), edge("lot:B", "lot:M", 1 - share)]
        # Down, B's edge is not in the trace: what A's share lacks of 1 is what is not A.
        assert downstream_exposure("lot:A", kinds, edges[:1])["lot:M"] == reads
        assert upstream_shares("lot:M", kinds, edges)["lot:A"] == reads
    # Split in three and merged again: the shares, 1, 4 and 1 of 6 as ingest writes them,
    # add up to 1 only within float rounding, and the merge is certainly A.
    kinds |= {"lot:1": "lot", "lot:2": "lot", "lot:3": "lot"}
    shares = [1 / 6, 2 / 3, 1 / 6]
    assert sum(shares) < 1.0 and math.fsum([1.0, *(-s for s in shares)]) > 0.0
    edges = [edge("lot:A", f"lot:{i}") for i in (1, 2, 3)]
    edges += [edge(f"lot:{i}", "lot:M", share) for i, share in zip((1, 2, 3), shares, strict=True)]
    assert downstream_exposure("lot:A", kinds, edges)["lot:M"] == 1.0
    assert upstream_shares("lot:M", kinds, edges)["lot:A"] == 1.0


def test_an_assembly_is_certain_only_through_a_certain_component() -> None:
    # Each part is 1 - 1e-10 the source: the kit 1 - 1e-20, which is 1.0 as a float.
    kinds = {"lot:A": "lot", "lot:P": "lot", "lot:Q": "lot", "step:K": "step", "lot:B": "lot"}
    edges = [
        edge("lot:A", "lot:P", 1 - 1e-10),
        edge("lot:B", "lot:P", 1e-10),
        edge("lot:A", "lot:Q", 1 - 1e-10),
        edge("lot:B", "lot:Q", 1e-10),
        edge("lot:P", "step:K", part="P"),
        edge("lot:Q", "step:K", part="Q"),
    ]
    down = [e for e in edges if e.src != "lot:B"]
    assert downstream_exposure("lot:A", kinds, down)["step:K"] == 0.999999999999
    assert upstream_shares("step:K", kinds, edges)["lot:A"] == 0.999999999999
    # N takes half from X, all A, and half from Y, made by an assembly that holds a whole A:
    # N is certainly A, though not every path up from N passes A before an assembly.
    kinds = {n: n.partition(":")[0] for n in ("lot:A", "lot:C", "lot:X", "lot:Y", "lot:N")}
    kinds["step:K"] = "step"
    edges = [
        edge("lot:A", "lot:X"),
        edge("lot:A", "step:K", part="P"),
        edge("lot:C", "step:K", part="Q"),
        edge("step:K", "lot:Y"),
        edge("lot:X", "lot:N", 0.5),
        edge("lot:Y", "lot:N", 0.5),
    ]
    assert downstream_exposure("lot:A", kinds, edges)["lot:N"] == 1.0
    up = upstream_shares("lot:N", kinds, edges)
    assert (up["lot:A"], up["lot:C"]) == (1.0, 0.5)
