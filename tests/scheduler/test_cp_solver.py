"""The CP-SAT solver every solve is made with (scheduler.cp_solver)."""

from __future__ import annotations

import random

from ortools.sat.python import cp_model

from scheduler.cp_solver import cp_solver


def test_optimal_is_proven_to_the_unit_past_what_a_double_holds() -> None:
    """CP-SAT stops once its best and its bound, compared as doubles, are within a gap: past
    2^53 a plan some units off the optimum compared equal and was called optimal (here, a
    slack of 27 where 0 is reachable). Objectives are integers: no gap is allowed."""
    rng = random.Random(3)
    weights = [rng.randint(10**6, 10**7) for _ in range(20)]
    target = sum(w for w in weights if rng.random() < 0.5)  # reachable: slack 0 is optimal
    model = cp_model.CpModel()
    chosen = [model.new_bool_var(f"b{i}") for i in range(len(weights))]
    slack = model.new_int_var(0, target, "slack")
    model.add(sum(w * b for w, b in zip(weights, chosen, strict=True)) + slack == target)
    model.minimize(2**62 + slack)
    solver = cp_solver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 60
    assert solver.solve(model) == cp_model.OPTIMAL
    assert solver.value(slack) == 0
