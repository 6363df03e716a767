"""Exposure and shares on hand-made subgraphs (pure functions, no store)."""

from __future__ import annotations

import pytest

from graph.exposure import downstream_exposure, topological, upstream_shares
from graph.store import EdgeView


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
