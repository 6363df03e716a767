"""Explain infeasibility: which order cannot meet which constraint."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from ortools.sat.python import cp_model

from scheduler import cpsat
from scheduler.cp_solver import checked_solve, cp_solver, stopped_when
from scheduler.flat import FOREVER, Flat, FlatOp, Windows, merge_windows
from scheduler.models import Conflict
from scheduler.plan import earliest_start


def static_conflicts(flat: Flat) -> list[Conflict]:
    """Find conflicts visible without search: clashing frozen work, operations that never fit.

    A problem read (validated) never holds clashing frozen work: it is refused as read. Only one
    built past validation (`model_copy`, as a library caller may) brings it here, and a search
    would then spend its time proving what these lines name at once.
    """
    out: list[Conflict] = []
    orders = flat.problem.orders
    frozen_on: dict[int, list[tuple[int, int, str, str]]] = {}
    machines = _Machines(flat)
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
        late = _too_late_after_started(flat, op, machines)
        if late is not None:
            out.append(Conflict(order=oid, constraint="routing", message=late))
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


class _Machines:
    """What holds an operation back on each machine before any search: its windows with the
    work started on it, and the families that may run there before it (made when first asked:
    most problems never ask)."""

    def __init__(self, flat: Flat) -> None:
        self.flat = flat
        self._closed: dict[int, list[tuple[int, int]]] = {}
        self._families: list[dict[int, int]] | None = None

    def closed(self, m: int) -> list[tuple[int, int]]:
        """Return machine m's windows merged with the time its started work holds it."""
        if m not in self._closed:
            held = [
                (op.frozen_start, op.frozen_end)
                for op in self.flat.ops
                if op.frozen_machine == m
                and op.frozen_start is not None
                and op.frozen_end is not None
                and op.frozen_end > op.frozen_start
            ]
            windows = self.flat.forbidden[m]
            self._closed[m] = Windows(merge_windows([*windows, *held])) if held else windows
        return self._closed[m]

    def least_setup(self, op: FlatOp, m: int) -> int:
        """Return the least set-up `op` may need on m: after its initial family, or after any
        family of the other work that may run there."""
        flat = self.flat
        if self._families is None:
            self._families = [{} for _ in flat.machines]
            for other in flat.ops:
                on = [other.frozen_machine] if other.frozen_machine is not None else []
                for machine in on or [a.machine for a in other.alts]:
                    counts = self._families[machine]
                    counts[other.family] = counts.get(other.family, 0) + 1
        counts, initial = self._families[m], flat.initial_family[m]
        # Nothing ran, the same family ran, or other work of its family may run before it.
        if initial < 0 or initial == op.family or counts.get(op.family, 0) > 1:
            return 0
        candidates = len(counts) - (op.family in counts) + (initial not in counts)
        listed = [
            value
            for family, value in op.setup_from.items()
            if family != op.family and (family == initial or family in counts)
        ]
        if len(listed) < candidates:  # a family with no entry of its own: the default
            listed.append(op.setup_default)
        return min(listed)


def _too_late_after_started(flat: Flat, op: FlatOp, machines: _Machines) -> str | None:
    """Say why `op` cannot start within max_wait of its started predecessor, if it cannot:
    its deadline is before now, or before every machine of its can start it, counting the
    machine's windows, the work started on it and the least set-up it may need there."""
    if op.index == 0:
        return None
    prev = flat.ops[flat.jobs[op.job][op.index - 1]]
    if not prev.frozen or prev.max_wait is None:
        return None
    assert prev.frozen_end is not None
    deadline, now = prev.frozen_end + prev.max_wait, flat.problem.now
    must = (
        f"{op.name} must start by {deadline}, within max_wait {prev.max_wait} of the end "
        f"of {prev.name}"
    )
    if deadline < now:
        return f"{must}, which has passed (now is {now})"
    # With a transfer lot it may start before the end: only now bounds it.
    ready = now if prev.transfer_qty else max(now, prev.frozen_end + prev.min_wait)
    why: list[str] = []
    for alt in op.alts:
        m, duration = alt.machine, alt.duration
        setup = machines.least_setup(op, m)
        if not duration and not setup:
            return None  # it may lie anywhere, even in a closed window or other work
        start = earliest_start(machines.closed(m), max(ready - setup, now), setup, duration)
        if start <= deadline:
            return None
        if earliest_start(flat.forbidden[m], ready, 0, duration) > deadline:
            cause = f"its windows leave no room to start by {deadline}"
        elif earliest_start(machines.closed(m), ready, 0, duration) > deadline:
            cause = "started work holds it"
        else:
            cause = f"after a set-up of {setup}"
        when = "never" if start >= FOREVER else f"{start} at the earliest"
        why.append(f"{flat.machines[m]}: {when}, {cause}")
    return f"{must}, and none of its machines can start it by then ({'; '.join(why)})"


# A conflict set no smaller than every group: the proof stands, but names no cause. What cut
# the explanation short is said: a client whose job ended cancelled reads that its cancel did.
_NOT_NARROWED = Conflict(
    order=None,
    constraint="unknown",
    message="proven infeasible, but the cause could not be narrowed down in the time limit",
)
_CANCELLED = Conflict(
    order=None,
    constraint="unknown",
    message="proven infeasible, but the solve was cancelled before the cause was narrowed down",
)
# The share of the time the assumption solve may take: on set-up circuits it may find no core
# in seconds where a solve with the same groups fixed on proves infeasibility in a fraction.
CORE_SHARE = 0.3
# Seconds too few for a check to conclude: none is started with less left.
TOO_SHORT = 0.01


def explain_infeasible(
    flat: Flat, time_limit: float, should_stop: Callable[[], bool] | None = None
) -> list[Conflict]:
    """Name constraint groups that together admit no schedule, for a problem proven infeasible.

    The set is minimal (turn any one group off and the rest admit a schedule) when every check
    concludes within the time limit; otherwise it is still infeasible, only perhaps larger.
    Building the model, and every solve, stop at the time limit and once `should_stop` is true.
    """
    deadline = time.monotonic() + time_limit

    def stopped() -> bool:
        return should_stop is not None and should_stop()

    def not_narrowed() -> list[Conflict]:
        return [_CANCELLED if stopped() else _NOT_NARROWED]

    if time_limit <= TOO_SHORT or stopped():
        return not_narrowed()
    try:
        built = cpsat.build(
            flat, explain=True, terms=[], deadline=deadline, should_stop=should_stop
        )
    except cpsat.BuildTimeout:
        return not_narrowed()
    checks = _Checks(built, deadline, should_stop)
    core = checks.core(CORE_SHARE * time_limit)
    if core is not None:
        found = _narrow(checks, [], core, has_other=False)
    else:
        # Calendars first, and on their own first: a lack of room on machines is the likeliest
        # cause, and then one check rules out every order's groups at once.
        everything = list(built.groups)
        calendars = [i for i in everything if built.groups[i][0] is None]
        orders = [i for i in everything if built.groups[i][0] is not None]
        found = _narrow(checks, [], calendars + orders, has_other=False, half=len(calendars))
    if not found:
        return [Conflict(order=None, constraint="unknown", message="the problem is infeasible")]
    if len(found) > 1 and checks.cut_short and (core is None or stopped()):
        # Every group, narrowed part of the way, holds spare groups, maybe many; a core a cancel
        # cut short admits no schedule but may hold spare ones too, and a client who cancelled
        # cannot tell them from a whole answer.
        return not_narrowed()
    named = [built.groups[i] for i in found]
    return [Conflict(order=o, constraint=c, message=m) for o, c, m in named]


class _Checks:
    """Solves of the explanation model with chosen groups on and the rest off."""

    def __init__(
        self, built: cpsat.Built, deadline: float, should_stop: Callable[[], bool] | None
    ) -> None:
        self.built = built
        self.deadline = deadline
        self.should_stop = should_stop
        # Whether a check went unanswered: the set narrowed down may have groups to spare.
        self.cut_short = False

    def _solver(self, seconds: float) -> cp_model.CpSolver:
        solver = cp_solver()
        solver.parameters.max_time_in_seconds = seconds
        # Cores come from a single search thread; one is enough for a proof of a subset too.
        solver.parameters.num_workers = 1
        return solver

    def _left(self) -> float:
        if self.should_stop is not None and self.should_stop():
            return 0.0
        return self.deadline - time.monotonic()

    def over(self) -> bool:
        """Tell whether no check can conclude any more."""
        if self._left() > TOO_SHORT:
            return False
        self.cut_short = True
        return True

    def core(self, seconds: float) -> list[int] | None:
        """Return the groups of an infeasible core found by assumptions, or None in time."""
        seconds = min(seconds, self._left())
        if seconds <= TOO_SHORT:
            return None
        model = self.built.model
        model.add_assumptions(self.built.assumptions)
        solver = self._solver(seconds)
        try:
            with stopped_when(solver, self.should_stop):
                status = checked_solve(solver, model)
        finally:
            model.clear_assumptions()
        if status != cp_model.INFEASIBLE:
            return None
        # Every assumption is a group's literal (cpsat.build).
        return list(solver.sufficient_assumptions_for_infeasibility())

    def infeasible(self, on: list[int]) -> bool:
        """Tell whether the groups `on` alone are proven to admit no schedule in the time left."""
        if self.over():
            return False
        variables = self.built.model.proto.variables
        chosen = set(on)
        for i in self.built.groups:
            value = 1 if i in chosen else 0
            variables[i].domain[0] = variables[i].domain[1] = value
        solver = self._solver(self._left())
        with stopped_when(solver, self.should_stop):
            status = checked_solve(solver, self.built.model)
        if status not in (cp_model.INFEASIBLE, cp_model.FEASIBLE, cp_model.OPTIMAL):
            self.cut_short = True
        return status == cp_model.INFEASIBLE


def _narrow(
    checks: _Checks, base: list[int], candidates: list[int], has_other: bool, half: int = 0
) -> list[int]:
    """Return some of `candidates` that with `base` admit no schedule (QuickXplain), trying
    the first `half` of them (by default half of them) without the rest first.

    `base` with all of `candidates` admits none. A check that does not conclude counts as
    "a schedule may exist": the answer stays infeasible, only perhaps not minimal.
    """
    if not candidates or (has_other and checks.infeasible(base)):
        return []
    if len(candidates) == 1 or checks.over():  # out of time: what every check would answer
        return candidates
    if not 0 < half < len(candidates):
        half = len(candidates) // 2
    first, second = candidates[:half], candidates[half:]
    kept_second = _narrow(checks, base + first, second, has_other=bool(first))
    kept_first = _narrow(checks, base + kept_second, first, has_other=bool(kept_second))
    return kept_first + kept_second
