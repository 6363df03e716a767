"""Constructive schedules from dispatch rules (Giffler-Thompson style active schedules)."""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Sequence

from scheduler.flat import Alt, Flat, FlatOp
from scheduler.plan import Plan, earliest_start, objective_vector, violations

RULES: tuple[str, ...] = ("mwkr", "mor", "spt", "edd", "slack", "lpt", "fifo")

_INF = 1 << 60
# How many placements between two looks at the clock and the cancel flag.
_CHECK_EVERY = 256


class DispatchStopped(Exception):
    """A dispatch run stopped at its deadline or on cancel, before its plan was whole."""


def _job_ready(flat: Flat, plan: Plan, op: FlatOp, alt: Alt, job_start: int) -> int:
    """Return the earliest start the routing allows for `op` on `alt`."""
    if op.index == 0:
        return job_start
    prev = flat.ops[flat.jobs[op.job][op.index - 1]]
    if prev.transfer_qty:
        pa = prev.alt_on(plan.machine[prev.key])
        assert pa is not None
        first = plan.start[prev.key] + pa.fixed_time + prev.transfer_qty * pa.unit_time
        last = plan.end[prev.key] + prev.transfer_qty * alt.unit_time - alt.duration
        return max(first + prev.min_wait, last)
    return plan.end[prev.key] + prev.min_wait


def dispatch(
    flat: Flat,
    rule: str = "mwkr",
    seed: int = 0,
    keep: dict[int, tuple[int, int]] | None = None,
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
) -> Plan:
    """Build an active schedule, choosing among conflicting operations by a priority rule.

    With `keep` (operation key -> previous start and machine) operations stay on their previous
    machine, start no earlier than before, and are dispatched in their previous order.
    Raises DispatchStopped on cancel or past `deadline` (a `time.monotonic()` value): the
    general version re-evaluates the jobs a placement touches, quadratic on one busy machine.
    """
    if keep is None and flat.is_plain and all(len(op.alts) == 1 for op in flat.ops):
        return _dispatch_job_shop(flat, rule, seed)
    n_ops = len(flat.ops)
    plan = Plan([0] * n_ops, [0] * n_ops, [-1] * n_ops, [0] * n_ops)
    n_machines = len(flat.machines)
    free = [0] * n_machines
    last_family = list(flat.initial_family)
    for op in flat.ops:
        if op.frozen:
            assert op.frozen_start is not None and op.frozen_end is not None
            assert op.frozen_machine is not None
            plan.start[op.key], plan.end[op.key] = op.frozen_start, op.frozen_end
            plan.machine[op.key] = op.frozen_machine
            if op.frozen_end >= free[op.frozen_machine]:
                free[op.frozen_machine] = op.frozen_end
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
        plan.start[key], plan.end[key], plan.machine[key] = start, end, m
        plan.setup[key] = flat.setup(op, last_family[m])
        free[m] = end
        last_family[m] = op.family
        work_left[chosen] -= min(a.duration for a in op.alts)
        forget(chosen)
        next_pos[chosen] += 1
        for j in list(touches[m]):
            forget(j)
            evaluate(j)
        advance(chosen)
    return plan


def _dispatch_job_shop(flat: Flat, rule: str, seed: int) -> Plan:
    """Build the same active schedule as `dispatch` for a classic job shop, faster.

    Without choices, calendars or set-ups a job's next operation can only wait for its machine,
    so each machine keeps its waiting jobs and only that machine's earliest end is recomputed
    when it changes; the general version re-evaluates every job that touches the machine.
    """
    n_ops = len(flat.ops)
    plan = Plan([0] * n_ops, [0] * n_ops, [-1] * n_ops, [0] * n_ops)
    jobs, ops = flat.jobs, flat.ops
    alt = [op.alts[0] for op in ops]
    rng = random.Random(seed)
    work_left = [sum(alt[k].duration for k in keys) for keys in jobs]
    priority = _priority(flat, rule, rng, work_left)
    free = [0] * len(flat.machines)
    ready = [0] * len(jobs)
    next_pos = [0] * len(jobs)
    waiting: list[list[int]] = [[] for _ in flat.machines]
    version = [0] * len(flat.machines)
    # Entries (earliest end, job reaching it, machine, version), as the general version's
    # per-job entries (end, job) would come out of its heap.
    heap: list[tuple[int, int, int, int]] = []

    def push(m: int) -> None:
        version[m] += 1
        if not waiting[m]:
            return
        f = free[m]
        best_end, best_j = _INF, -1
        for j in waiting[m]:
            r = ready[j]
            end = (r if r > f else f) + alt[jobs[j][next_pos[j]]].duration
            if end < best_end or (end == best_end and j < best_j):
                best_end, best_j = end, j
        heapq.heappush(heap, (best_end, best_j, m, version[m]))

    for j, keys in enumerate(jobs):
        if keys:
            waiting[alt[keys[0]].machine].append(j)
    for m in range(len(flat.machines)):
        push(m)
    while heap:
        ect, j0, m, ver = heapq.heappop(heap)
        if ver != version[m]:
            continue
        f = free[m]
        ranked: list[tuple[tuple[float, ...], int]] = []
        for j in waiting[m]:
            start = max(ready[j], f)
            if start < ect or j == j0:
                key = jobs[j][next_pos[j]]
                ranked.append((priority(j, key, (start, start + alt[key].duration, alt[key])), j))
        chosen = min(ranked)[1]
        key = jobs[chosen][next_pos[chosen]]
        start = max(ready[chosen], f)
        end = start + alt[key].duration
        plan.start[key], plan.end[key], plan.machine[key] = start, end, m
        free[m] = ready[chosen] = end
        work_left[chosen] -= alt[key].duration
        waiting[m].remove(chosen)
        next_pos[chosen] += 1
        if next_pos[chosen] < len(jobs[chosen]):
            following = alt[jobs[chosen][next_pos[chosen]]].machine
            waiting[following].append(chosen)
            if following != m:
                push(following)
        push(m)
    return plan


def _keep_rank(flat: Flat, keep: dict[int, tuple[int, int]]) -> list[float]:
    """Rank operations by their previous start; new ones by their order's release."""
    rank: list[float] = [0.0] * len(flat.ops)
    for op in flat.ops:
        if op.key in keep:
            rank[op.key] = keep[op.key][0]
        else:
            rank[op.key] = flat.release[op.job] + op.index * 1e-3
    return rank


Priority = Callable[[int, int, tuple[int, int, Alt] | None], tuple[float, ...]]


def _priority(flat: Flat, rule: str, rng: random.Random, work_left: list[int]) -> Priority:
    """Return a key function: the smaller key is dispatched first."""
    ops_left = [len(k) for k in flat.jobs]

    def key(j: int, op_key: int, cand: tuple[int, int, Alt] | None) -> tuple[float, ...]:
        assert cand is not None
        start, _end, alt = cand
        due = flat.due[j]
        if rule == "mwkr":
            return (-work_left[j], start)
        if rule == "mor":
            return (-(ops_left[j] - flat.ops[op_key].index), start)
        if rule == "spt":
            return (alt.duration, start)
        if rule == "lpt":
            return (-alt.duration, start)
        if rule == "edd":
            return (due if due is not None else _INF, -work_left[j])
        if rule == "slack":
            slack = (due if due is not None else _INF) - start - work_left[j]
            return (slack / max(flat.weight[j], 1), -work_left[j])
        if rule == "fifo":
            return (start, -work_left[j])
        # "random": a noisy most-work-remaining, for restarts.
        return (-work_left[j] * (0.7 + 0.6 * rng.random()), start)

    return key


def best_dispatch(
    flat: Flat,
    rules: Sequence[str] = RULES,
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
    give_up: float | None = None,
) -> Plan | None:
    """Run several rules and keep the feasible plan with the best objective.

    The first rule always runs; another starts only if it should end before `deadline`
    (a `time.monotonic()` value), judging by the slowest run so far. Any run stops on cancel
    or at `give_up`; None if not one plan was made by then.
    """
    best: tuple[tuple[int, ...], Plan] | None = None
    fallback: Plan | None = None
    slowest = 0.0
    for rule in rules:
        if fallback is not None:
            if should_stop is not None and should_stop():
                break
            if deadline is not None and time.monotonic() + slowest > deadline:
                break
        t0 = time.monotonic()
        try:
            plan = dispatch(flat, rule, should_stop=should_stop, deadline=give_up)
        except DispatchStopped:
            break
        if fallback is None:
            fallback = plan
        if not violations(flat, plan):
            value = objective_vector(flat, plan)
            if best is None or value < best[0]:
                best = (value, plan)
        slowest = max(slowest, time.monotonic() - t0)
    if best is not None:
        return best[1]
    return fallback
