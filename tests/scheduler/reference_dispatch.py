"""The general dispatch as first written, kept as the oracle of scheduler.dispatch.

Giffler-Thompson in its plainest form: after each placement every job that could use the machine
is evaluated again, all of its alternatives. That is quadratic on one busy machine, which is why
scheduler.dispatch keeps what a placement cannot change; both must build the same plan. Both
read an operation that takes no time as plan.violations does (it changes nothing over, and at
the instant of a change over it is read by key).
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable

from scheduler.dispatch import (
    _CHECK_EVERY,
    DispatchStopped,
    _frozen_in_time_order,
    _job_ready,
    _keep_rank,
    _priority,
    _read_before,
)
from scheduler.flat import Alt, Flat
from scheduler.plan import Plan, earliest_start


def reference_dispatch(
    flat: Flat,
    rule: str = "mwkr",
    seed: int = 0,
    keep: dict[int, tuple[int, int]] | None = None,
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
) -> Plan:
    """Build the active schedule scheduler.dispatch.dispatch builds, the slow way."""
    n_ops = len(flat.ops)
    plan = Plan([0] * n_ops, [0] * n_ops, [-1] * n_ops, [0] * n_ops)
    n_machines = len(flat.machines)
    free = [0] * n_machines
    last_family = list(flat.initial_family)
    changed_at: list[tuple[int, int, int] | None] = [None] * n_machines
    for op in _frozen_in_time_order(flat):
        assert op.frozen_start is not None and op.frozen_end is not None
        assert op.frozen_machine is not None
        plan.start[op.key], plan.end[op.key] = op.frozen_start, op.frozen_end
        plan.machine[op.key] = op.frozen_machine
        free[op.frozen_machine] = max(free[op.frozen_machine], op.frozen_end)
        if op.frozen_end > op.frozen_start:
            last_family[op.frozen_machine] = op.family

    rng = random.Random(seed)
    work_left = [sum(min(a.duration for a in flat.ops[k].alts) for k in keys) for keys in flat.jobs]
    next_pos = [0] * len(flat.jobs)
    priority = _priority(flat, rule, rng, work_left)
    if keep is not None:
        rank = _keep_rank(flat, keep)
        priority = lambda j, key, cand: (rank[key], j)  # noqa: E731

    # candidate[j] = (start, end, alt) of job j's next operation on its best machine.
    candidate: list[tuple[int, int, Alt] | None] = [None] * len(flat.jobs)
    version = [0] * len(flat.jobs)
    best_on: list[set[int]] = [set() for _ in range(n_machines)]
    touches: list[set[int]] = [set() for _ in range(n_machines)]
    heap: list[tuple[int, int, int]] = []
    # Nothing starts before now: after an operation reported finished early, nor its set-up.
    now = flat.problem.now

    def evaluate(j: int) -> None:
        op = flat.ops[flat.jobs[j][next_pos[j]]]
        best: tuple[int, int, Alt] | None = None
        alts = op.alts
        floor = 0
        if keep is not None and op.key in keep:
            floor, was_on = keep[op.key]
            alts = [a for a in op.alts if a.machine == was_on] or op.alts
        for alt in alts:
            m = alt.machine
            setup = flat.setup(op, last_family[m])
            ready = max(_job_ready(flat, plan, op, alt, flat.release[j]), floor, now)
            occupy_from = max(free[m], ready - setup, 0, now)
            start = earliest_start(flat.forbidden[m], occupy_from, setup, alt.duration)
            end = start + alt.duration
            if best is None or (end, alt.duration) < (best[1], best[2].duration):
                best = (start, end, alt)
        assert best is not None
        candidate[j] = best
        version[j] += 1
        best_on[best[2].machine].add(j)
        for alt in op.alts:
            touches[alt.machine].add(j)
        heapq.heappush(heap, (best[1], j, version[j]))

    def advance(j: int) -> None:
        keys = flat.jobs[j]
        while next_pos[j] < len(keys) and flat.ops[keys[next_pos[j]]].frozen:
            next_pos[j] += 1
        if next_pos[j] < len(keys):
            evaluate(j)

    def forget(j: int) -> None:
        cand = candidate[j]
        if cand is None:
            return
        best_on[cand[2].machine].discard(j)
        for alt in flat.ops[flat.jobs[j][next_pos[j]]].alts:
            touches[alt.machine].discard(j)
        candidate[j] = None

    for j in range(len(flat.jobs)):
        advance(j)

    placed = 0
    while heap:
        placed += 1
        if placed % _CHECK_EVERY == 0 and (
            (should_stop is not None and should_stop())
            or (deadline is not None and time.monotonic() > deadline)
        ):
            raise DispatchStopped
        ect, j0, ver = heapq.heappop(heap)
        if ver != version[j0] or candidate[j0] is None:
            continue
        cand0 = candidate[j0]
        assert cand0 is not None
        m = cand0[2].machine
        # j0 itself belongs even when it takes no time (its start is then its end).
        conflict = [
            j for j in best_on[m] if (c := candidate[j]) is not None and (c[0] < ect or j == j0)
        ]
        chosen = min(
            conflict, key=lambda j: (priority(j, flat.jobs[j][next_pos[j]], candidate[j]), j)
        )
        if chosen != j0:
            heapq.heappush(heap, (ect, j0, ver))
        cand = candidate[chosen]
        assert cand is not None
        start, end, _alt = cand
        key = flat.jobs[chosen][next_pos[chosen]]
        op = flat.ops[key]
        setup = flat.setup(op, last_family[m])
        if end == start and not setup and _read_before(flat, op, start, changed_at[m]):
            start = end = start + 1
        plan.start[key], plan.end[key], plan.machine[key] = start, end, m
        plan.setup[key] = setup
        free[m] = end
        if end > start or setup:
            changed_at[m] = (end, key, last_family[m]) if end == start else None
            last_family[m] = op.family
        work_left[chosen] -= min(a.duration for a in op.alts)
        forget(chosen)
        next_pos[chosen] += 1
        for j in list(touches[m]):
            forget(j)
            evaluate(j)
        advance(chosen)
    return plan
