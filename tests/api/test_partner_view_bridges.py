"""Hidden nodes of a partner view become PROCESSED_INTO links between the items around them."""

from __future__ import annotations

import itertools

from api.access import _bridges
from api.federation.models import PROCESSED_INTO, FedEdge


def link(src: str, dst: str, at: str = "t") -> FedEdge:
    return FedEdge(src, dst, "CONSUMED_BY", at=at, event=f"E-{src}-{dst}")


def test_many_lots_over_one_long_hidden_chain_each_reach_the_root() -> None:
    lots = [f"lot:L{i}" for i in range(300)]
    chain = [f"step:S{i}" for i in range(300)]
    edges = [link(lot, chain[0]) for lot in lots]
    edges += [link(a, b) for a, b in itertools.pairwise(chain)]
    edges.append(link(chain[-1], "serial:ROOT", at="last"))
    bridges = _bridges(edges, {*lots, "serial:ROOT"})
    assert len(bridges) == len(lots)
    assert {(b.src, b.dst, b.type, b.at) for b in bridges} == {
        (lot, "serial:ROOT", PROCESSED_INTO, "last") for lot in lots
    }


def test_a_cycle_among_hidden_nodes_ends_and_still_bridges() -> None:
    edges = [
        link("lot:A", "step:X"),
        link("step:X", "step:Y"),
        link("step:Y", "step:X"),  # a partner's answer may hold one
        link("step:Y", "lot:B"),
    ]
    assert [(b.src, b.dst) for b in _bridges(edges, {"lot:A", "lot:B"})] == [("lot:A", "lot:B")]


def test_kept_items_reached_by_two_hidden_paths_are_bridged_once() -> None:
    edges = [
        link("lot:A", "step:X"),
        link("lot:A", "step:Y"),
        link("step:X", "lot:B"),
        link("step:Y", "lot:B"),
        link("step:Y", "lot:C"),
    ]
    found = [(b.src, b.dst) for b in _bridges(edges, {"lot:A", "lot:B", "lot:C"})]
    assert found == [("lot:A", "lot:B"), ("lot:A", "lot:C")]


def test_a_bridge_names_no_event_of_the_step_it_hides() -> None:
    # The step's event id would name the step (a work order, a station) and group its links.
    edges = [link("lot:A", "step:X"), link("lot:B", "step:X"), link("step:X", "lot:C", at="made")]
    bridges = _bridges(edges, {"lot:A", "lot:B", "lot:C"})
    assert [(b.src, b.dst, b.at, b.event) for b in bridges] == [
        ("lot:A", "lot:C", "made", None),
        ("lot:B", "lot:C", "made", None),
    ]
