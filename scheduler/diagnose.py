"""Explain infeasibility: which order cannot meet which constraint."""

from __future__ import annotations

import itertools

from ortools.sat.python import cp_model

from scheduler import cpsat
from scheduler.cp_solver import checked_solve, cp_solver
from scheduler.flat import Flat
from scheduler.models import Conflict
from scheduler.plan import earliest_start


def static_conflicts(flat: Flat) -> list[Conflict]:
    """Find conflicts visible without search: clashing frozen work, operations that never fit."""
    out: list[Conflict] = []
    orders = flat.problem.orders
    frozen_on: dict[int, list[tuple[int, int, str, str]]] = {}
    for op in flat.ops:
        oid = orders[op.job].id
        if op.frozen:
            assert op.frozen_machine is not None and op.frozen_start is not None
            assert op.frozen_end is not None
            if op.frozen_end > op.frozen_start:  # what took no time may lie anywhere
                frozen_on.setdefault(op.frozen_machine, []).append(
                    (op.frozen_start, op.frozen_end, op.name, oid)
                )
            if op.index > 0:
                prev = flat.ops[flat.jobs[op.job][op.index - 1]]
                if not prev.frozen:
                    out.append(
                        Conflict(
                            order=oid,
                            constraint="frozen",
                            message=f"{op.name} has started, its predecessor {prev.name} has not",
                        )
                    )
                elif (
                    not prev.transfer_qty
                    and prev.frozen_end is not None
                    and op.frozen_start < prev.frozen_end
                ):
                    out.append(
                        Conflict(
                            order=oid,
                            constraint="frozen",
                            message=f"{op.name} started before {prev.name} ended",
                        )
                    )
            continue
        fits = False
        for alt in op.alts:
            start = earliest_start(flat.forbidden[alt.machine], 0, 0, alt.duration)
            if start + alt.duration <= flat.horizon:
                fits = True
                break
        if not fits:
            out.append(
                Conflict(
                    order=oid,
                    constraint="calendar",
                    message=f"{op.name} is longer than every open window of its machines",
                )
            )
    for m, items in frozen_on.items():
        items.sort()
        for (_s1, e1, n1, o1), (s2, _, n2, _) in itertools.pairwise(items):
            if s2 < e1:
                out.append(
                    Conflict(
                        order=o1,
                        constraint="frozen",
                        message=f"frozen {n1} and {n2} overlap on machine {flat.machines[m]}",
                    )
                )
    return out


def explain_infeasible(flat: Flat, time_limit: float) -> list[Conflict]:
    """Name a small set of constraint groups that together admit no schedule."""
    built = cpsat.build(flat, explain=True, terms=[])
    model = built.model
    model.add_assumptions(built.assumptions)
    solver = cp_solver()
    solver.parameters.max_time_in_seconds = time_limit
    # Cores come from a single search thread.
    solver.parameters.num_workers = 1
    status = checked_solve(solver, model)
    if status != cp_model.INFEASIBLE:
        return [
            Conflict(
                order=None,
                constraint="unknown",
                message="no schedule was found in the time limit and none could be ruled out",
            )
        ]
    core = solver.sufficient_assumptions_for_infeasibility()
    found = [built.groups[i] for i in core if i in built.groups]
    if not found:
        return [Conflict(order=None, constraint="unknown", message="the problem is infeasible")]
    return [Conflict(order=o, constraint=c, message=m) for o, c, m in found]
