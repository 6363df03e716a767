"""A plan in index form: its objective values and a checker of every hard constraint."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from scheduler.flat import FOREVER, Flat, FlatOp, Windows


@dataclass(slots=True)
class Plan:
    """Start, end, machine and set-up of every operation, indexed by operation key."""

    start: list[int]
    end: list[int]
    machine: list[int]
    setup: list[int]

    def copy(self) -> Plan:
        """Return an independent copy."""
        return Plan(list(self.start), list(self.end), list(self.machine), list(self.setup))


def completion(flat: Flat, plan: Plan) -> list[int]:
    """Return the completion time of every job."""
    return [plan.end[keys[-1]] for keys in flat.jobs]


def entered(flat: Flat) -> list[int]:
    """Return when each order entered the shop: its release, or its first started work if earlier.

    Work reported started before its release was in the shop from then on: counting its flow
    from the release would make it negative.
    """
    out: list[int] = []
    for order, keys in zip(flat.problem.orders, flat.jobs, strict=True):
        started = [s for k in keys if (s := flat.ops[k].frozen_start) is not None]
        out.append(min([order.release, *started]))
    return out


def criteria(flat: Flat, plan: Plan) -> dict[str, int]:
    """Return makespan, weighted tardiness and total flow time of a plan."""
    done = completion(flat, plan)
    tardiness = 0
    for j, c in enumerate(done):
        due = flat.due[j]
        if due is not None and c > due:
            tardiness += flat.weight[j] * (c - due)
    flow = sum(done) - sum(entered(flat))
    return {"makespan": max(done), "weighted_tardiness": tardiness, "flow_time": flow}


def objective_vector(flat: Flat, plan: Plan) -> tuple[int, ...]:
    """Return the objective as a tuple to compare lexicographically."""
    values = criteria(flat, plan)
    terms = flat.problem.objective.terms
    if flat.problem.objective.mode == "weighted":
        return (sum(t.weight * values[t.kind] for t in terms),)
    return tuple(values[t.kind] for t in terms)


def overlaps_window(windows: list[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    """Return a window that [start, end) overlaps, if any."""
    i = bisect_right(windows, (start, 1 << 62)) - 1
    for ws, we in windows[max(i, 0) :]:
        if ws >= end:
            break
        if we > start and ws < end and end > start:
            return (ws, we)
    return None


def earliest_start(windows: list[tuple[int, int]], occupy_from: int, setup: int, dur: int) -> int:
    """Return the first start s with s - setup >= occupy_from and [s - setup, s + dur) free.

    The windows are sorted and disjoint; given as `Windows` (merged, as `Flat.forbidden` holds
    them), the search jumps past the windows with no room between them, in logarithmic time.
    """
    a = occupy_from
    length = setup + dur
    i = max(bisect_right(windows, (a, 1 << 62)) - 1, 0)
    while i < len(windows):
        ws, we = windows[i]
        if (ws >= a + length and length > 0) or (length == 0 and ws > a):
            break
        if we > a:
            a = we
            if isinstance(windows, Windows):
                i = windows.room_after(i, length)
                a = windows[i][1]
        i += 1
    return a + setup


def _ready_bounds(flat: Flat, prev: FlatOp, op: FlatOp, plan: Plan) -> tuple[int, int]:
    """Return the earliest start and earliest end the predecessor allows."""
    pm, om = plan.machine[prev.key], plan.machine[op.key]
    if prev.transfer_qty:
        pa = prev.alt_on(pm)
        oa = op.alt_on(om)
        assert pa is not None and oa is not None
        first = plan.start[prev.key] + pa.fixed_time + prev.transfer_qty * pa.unit_time
        return first + prev.min_wait, plan.end[prev.key] + prev.transfer_qty * oa.unit_time
    return plan.end[prev.key] + prev.min_wait, 0


def violations(flat: Flat, plan: Plan) -> list[str]:
    """List every hard constraint the plan breaks (empty when feasible)."""
    out: list[str] = []
    orders = flat.problem.orders
    for j, keys in enumerate(flat.jobs):
        oid = orders[j].id
        for pos, key in enumerate(keys):
            op = flat.ops[key]
            alt = op.alt_on(plan.machine[key])
            if alt is None:
                out.append(f"{op.name}: machine not among its alternatives")
                continue
            if op.frozen:
                if (plan.start[key], plan.end[key], plan.machine[key]) != (
                    op.frozen_start,
                    op.frozen_end,
                    op.frozen_machine,
                ):
                    out.append(f"{op.name}: frozen operation moved")
                continue
            if plan.end[key] - plan.start[key] != alt.duration:
                out.append(f"{op.name}: wrong duration")
            if pos == 0 and plan.start[key] < flat.release[j]:
                out.append(f"order {oid}: starts before its release")
            if pos > 0:
                prev = flat.ops[keys[pos - 1]]
                s_min, e_min = _ready_bounds(flat, prev, op, plan)
                if plan.start[key] < s_min or plan.end[key] < e_min:
                    out.append(f"{op.name}: starts before its predecessor allows")
                if prev.max_wait is not None and plan.start[key] > plan.end[prev.key] + (
                    prev.max_wait
                ):
                    out.append(f"{op.name}: waits longer than max_wait after its predecessor")
            if plan.start[key] - plan.setup[key] < 0:
                out.append(f"{op.name}: set-up before time 0")
            if plan.start[key] - plan.setup[key] < flat.problem.now:
                out.append(f"{op.name}: starts (or its set-up does) before now")
            hit = overlaps_window(
                flat.forbidden[plan.machine[key]], plan.start[key] - plan.setup[key], plan.end[key]
            )
            if hit is not None:
                out.append(f"{op.name}: overlaps unavailable window {hit}")
            elif plan.start[key] - plan.setup[key] >= FOREVER:
                out.append(f"{op.name}: after the last shift of {flat.machines[alt.machine]}")
    by_machine: dict[int, list[int]] = {}
    for op in flat.ops:
        by_machine.setdefault(plan.machine[op.key], []).append(op.key)
    for m, keys in by_machine.items():
        keys.sort(key=lambda k: (plan.start[k], plan.end[k]))
        prev_family = flat.initial_family[m]
        last_end = -(1 << 62)
        for key in keys:
            op = flat.ops[key]
            need = 0 if op.frozen else flat.setup(op, prev_family)
            if plan.setup[key] < need:
                out.append(f"{op.name}: set-up {plan.setup[key]} shorter than {need}")
            # What takes no time and holds no set-up changes nothing over and may lie anywhere.
            if plan.end[key] == plan.start[key] and plan.setup[key] == 0:
                continue
            if plan.start[key] - plan.setup[key] < last_end:
                out.append(f"{op.name}: overlaps another operation on {flat.machines[m]}")
            last_end = max(last_end, plan.end[key])
            prev_family = op.family
    return out
