from __future__ import annotations

import time

from scheduler.dispatch import dispatch
from scheduler.flat import flatten
from scheduler.localsearch import improve
from scheduler.plan import criteria, violations
from scheduler.readers import read_jsp
from tests.scheduler.conftest import FT06


def test_tabu_search_improves_and_stays_feasible() -> None:
    flat = flatten(read_jsp(FT06))
    start = dispatch(flat, "spt")
    better = improve(flat, start, deadline=time.monotonic() + 0.5)
    assert violations(flat, better) == []
    assert criteria(flat, better)["makespan"] < criteria(flat, start)["makespan"]
    assert criteria(flat, better)["makespan"] >= 55


def test_tabu_search_keeps_routings_that_revisit_a_machine_at_once() -> None:
    # Jobs run twice in a row on one machine; swapping such a pair would break the routing.
    rows = ["1 4 0 2 0 5", "0 1 1 1 0 1", "0 4 0 3 0 3", "0 5 0 3 1 1"]
    flat = flatten(read_jsp("4 2\n" + "\n".join(rows)))
    start = dispatch(flat, "spt")
    better = improve(flat, start, deadline=time.monotonic() + 0.5)
    assert violations(flat, better) == []
    assert criteria(flat, better)["makespan"] <= criteria(flat, start)["makespan"]
