"""Exposure and shares on hand-made and random subgraphs, and on a demo plant's traces."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from random import Random
from typing import Any

import pytest

from graph import exposure
from graph.embedded_store import EmbeddedStore
from graph.exposure import (
    _clean,
    _combine,
    _inputs_by_target,
    downstream_exposure,
    topological,
    upstream_shares,
)
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


def reference_shares(
    root: str,
    kinds: Mapping[str, str],
    edges: Iterable[EdgeView],
    beyond: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, float]:
    """The shares as first written: every node carries a vector of all its ancestors' shares."""
    edge_list = list(edges)
    inputs = _inputs_by_target(edge_list)
    carried: dict[str, dict[str, float]] = {}
    for node in topological(kinds, edge_list):
        incoming = inputs.get(node, ())
        sources: set[str] = set()
        for e in incoming:
            sources.update(carried.get(e.src, {}))
        vector = {node: 1.0, **(beyond or {}).get(node, {})}
        for ancestor in sorted(sources):
            weighted = [(e, carried.get(e.src, {}).get(ancestor, 0.0)) for e in incoming]
            vector[ancestor] = _combine(kinds[node], weighted)
        carried[node] = vector
    shares = carried.get(root, {root: 1.0})
    return {node: _clean(value) for node, value in shares.items()}


def random_dag(seed: int, size: int) -> tuple[dict[str, str], list[EdgeView], dict[str, Any]]:
    """Lots, serials, steps (one part, several, serials), shipments and companies, wired at
    random forward, so paths part and meet again; some shares left unset (read as 1)."""
    rng = Random(seed)
    kinds: dict[str, str] = {}
    for i in range(size):
        kind = rng.choice(["lot", "lot", "lot", "serial", "step", "step", "shipment", "company"])
        kinds[f"{kind}:{i:03}"] = kind
    names = list(kinds)
    edges = []
    for i, dst in enumerate(names[1:], start=1):
        for src in rng.sample(names[:i], min(i, rng.choice([1, 1, 2, 3]))):
            share = None if rng.random() < 0.1 else rng.choice([1.0, 0.5, rng.random()])
            edges.append(EdgeView(src, dst, "FLOW", None, share, rng.choice("PQ"), "t", "e"))
    beyond = {
        name: {f"partner:{name}/{k}": rng.random() for k in range(2)}
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
        assert got == pytest.approx(reference_shares(root, kinds, graph.edges), rel=1e-9, abs=1e-15)
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
