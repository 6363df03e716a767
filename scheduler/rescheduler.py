"""Repair a plan after shop-floor feedback, moving as few operations as needed."""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Container, Sequence

from ortools.sat.python import cp_model
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scheduler import cpsat
from scheduler.dispatch import DispatchStopped, dispatch, serial_plan
from scheduler.errors import InvalidProblem
from scheduler.flat import Flat, flatten
from scheduler.models import (
    MAX_OPERATIONS,
    MAX_ORDERS,
    MAX_WINDOWS_IN_ALL,
    Machine,
    Now,
    Operation,
    Problem,
    Ref,
    ScheduledOperation,
    Solution,
    SolveOptions,
    Started,
    Text,
    Time,
    Window,
    WorkOrder,
    held_by,
    held_text,
    overlap_text,
    overlapping_work,
    reported_after_now,
    reported_end,
    started_on,
)
from scheduler.plan import Plan, criteria, objective_vector, violations
from scheduler.readers import first_error, parse_problem
from scheduler.solver import (
    ProgressFn,
    StopFn,
    _Clock,
    _finish,
    _Incumbent,
    answer,
    build_in_time,
    run_cpsat,
    search,
    too_large,
)


class Actual(BaseModel):
    """A reported start (and end, once finished) of one operation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order: Ref
    index: int = Field(ge=0, strict=True)
    start: Time
    end: Time | None = None
    machine: Ref | None = None


class Downtime(BaseModel):
    """A machine that is down from `start` to `end`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    machine: Ref
    start: Time
    end: Time
    reason: Text = "down"


class Feedback(BaseModel):
    """What happened on the shop floor since the plan was made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    now: Now
    # As long as the problem's own lists may be: a report for each operation, a window for each
    # a problem may hold, an order for each it may take. Each is read before any is checked.
    actuals: list[Actual] = Field(default=[], max_length=MAX_OPERATIONS)
    downtime: list[Downtime] = Field(default=[], max_length=MAX_WINDOWS_IN_ALL)
    rush_orders: list[WorkOrder] = Field(default=[], max_length=MAX_ORDERS)


def apply_feedback(problem: Problem, previous: Solution, feedback: Feedback) -> Problem:
    """Return the problem as it stands now: actuals frozen, downtime and rush orders added."""
    planned = {(o.job, o.index): o for o in previous.operations}
    orders_known = {o.id: o for o in problem.orders}
    reported: dict[tuple[str, int], Actual] = {}
    first_report: dict[tuple[str, int], int] = {}
    for i, a in enumerate(feedback.actuals):
        earlier = first_report.setdefault((a.order, a.index), i)
        if earlier != i:
            # Two reports of one operation: which holds is a guess the plan should not make.
            raise InvalidProblem(
                f"actuals[{i}]: order {a.order!r} operation {a.index} is already reported "
                f"at actuals[{earlier}]"
            )
        reported[(a.order, a.index)] = a
        order = orders_known.get(a.order)
        if order is None:
            raise InvalidProblem(f"actuals[{i}].order: unknown order {a.order!r}")
        if a.index >= len(order.operations):
            raise InvalidProblem(
                f"actuals[{i}].index: order {a.order!r} has {len(order.operations)} operations"
            )
        if a.end is not None and a.end < a.start:
            raise InvalidProblem(f"actuals[{i}].end: before its start")
        given = order.operations[a.index]
        if a.end is None and given.actual_end is not None and a.start > given.actual_end:
            # Without an end of its own the report keeps the problem's, which it contradicts.
            raise InvalidProblem(
                f"actuals[{i}].start: {a.start} is after the operation's actual_end "
                f"{given.actual_end}"
            )
        late = reported_after_now(a.order, a.index, a.start, a.end, feedback.now)
        if late is not None:
            field, message = late
            raise InvalidProblem(f"actuals[{i}].{field}: {message}")
        choices = {alt.machine for alt in given.alternatives}
        if a.machine is not None and a.machine not in choices:
            raise InvalidProblem(
                f"actuals[{i}].machine: {a.machine!r} is not among the operation's machines"
            )
    now = max(problem.now, feedback.now)
    _check_run_before(feedback.actuals, planned, orders_known, reported, now)
    down: dict[str, list[Window]] = {}
    machine_ids = {m.id for m in problem.machines}
    for i, d in enumerate(feedback.downtime):
        if d.machine not in machine_ids:
            raise InvalidProblem(f"downtime[{i}].machine: unknown machine {d.machine!r}")
        if d.end <= d.start:
            raise InvalidProblem(f"downtime[{i}].end: {d.end} is not after its start {d.start}")
        down.setdefault(d.machine, []).append(Window(start=d.start, end=d.end, reason=d.reason))

    rush_ids: dict[str, int] = {}
    for i, rush in enumerate(feedback.rush_orders):
        if rush.id in orders_known:
            raise InvalidProblem(f"rush_orders[{i}].id: {rush.id!r} is already an order")
        earlier = rush_ids.setdefault(rush.id, i)
        if earlier != i:
            raise InvalidProblem(f"rush_orders[{i}].id: {rush.id!r} is also rush_orders[{earlier}]")

    # What the plan started before now ran only where its machine was free of the reported
    # work: what clashes waits, and may throw back later work of its order; until none clashes.
    waits: set[tuple[str, int]] = set()
    while True:
        stood = [
            _as_it_stands(o, reported, first_report, planned, feedback.now, down, waits)
            for o in problem.orders
        ]
        orders = [o for o, _ in stood]
        orders.extend(feedback.rush_orders)
        clashing = _clashing(orders, {(o.id, i) for o, kept in stood for i in kept}, planned)
        if not clashing:
            break
        waits |= clashing
    machines = [
        m.model_copy(update={"unavailable": [*m.unavailable, *down.get(m.id, [])]})
        if m.id in down
        else m
        for m in problem.machines
    ]
    try:
        # Machines and orders are taken as they are (instances are not validated again): the
        # rules over the whole problem are checked, and what feedback changed, below.
        current = parse_problem(
            {
                "name": problem.name,
                "now": now,
                "machines": machines,
                "orders": orders,
                "objective": problem.objective,
            }
        )
    except InvalidProblem as exc:
        # The problem's rules refuse work on one machine at once too, naming the orders' places:
        # looked for again only here, on the way out, to name the reports instead.
        _check_overlaps(orders, problem, first_report)
        raise InvalidProblem(f"feedback makes the problem invalid: {exc.message}") from exc
    try:
        _check_changed(current, problem)
    except InvalidProblem as exc:  # named as the solve path names it, field first
        raise InvalidProblem(f"feedback makes the problem invalid: {exc.message}") from exc
    return current


def _check_overlaps(
    orders: Sequence[WorkOrder], problem: Problem, position: dict[tuple[str, int], int]
) -> None:
    """Refuse reports of work on one machine at once, naming both. The problem's own started
    work was checked as it was read, and what the plan started clashes with none
    (`_clashing`): one of the two is a report."""
    both = overlapping_work(orders)
    if both is None:
        return

    def where(work: Started) -> str:
        key = (orders[work.order].id, work.operation)
        if key in position:
            return f"actuals[{position[key]}]"
        if work.order >= len(problem.orders):
            return f"rush_orders[{work.order - len(problem.orders)}].operations[{work.operation}]"
        path = f"orders.{work.order}.operations.{work.operation}"
        if problem.orders[work.order].operations[work.operation].actual_start is None:
            return f"{path} (as planned, before work reported after it)"
        return path

    raise InvalidProblem(overlap_text(both, where))


def _check_run_before(
    actuals: Sequence[Actual],
    planned: dict[tuple[str, int], ScheduledOperation],
    orders: dict[str, WorkOrder],
    reported: Container[tuple[str, int]],
    now: int,
) -> None:
    """Refuse a reported operation whose predecessor, not reported, the plan put after now.

    The work before a reported operation has run, and stands at its planned times: for one the
    plan put after now those times are not what happened, which only the floor can tell.
    """
    latest: dict[str, int] = {}  # each order's latest operation reported, by its position
    for i, a in enumerate(actuals):
        if a.order not in latest or actuals[latest[a.order]].index < a.index:
            latest[a.order] = i
    for i in sorted(latest.values()):
        a = actuals[i]
        for k, op in enumerate(orders[a.order].operations[: a.index]):
            was = planned.get((a.order, k))
            if (
                was is not None
                and was.start > now
                and op.actual_start is None
                and (a.order, k) not in reported
            ):
                raise InvalidProblem(
                    f"actuals[{i}]: order {a.order!r} operation {a.index} reported started, but "
                    f"operation {k} before it was planned to start at {was.start}, after now "
                    f"({now}): report when it ran"
                )


def _check_changed(current: Problem, problem: Problem) -> None:
    """Validate what feedback changed in `problem`: machines it added downtime to, operations
    it started. Validating all of it again took most of a repair's time at plant size."""
    for k, (machine, was) in enumerate(zip(current.machines, problem.machines, strict=True)):
        if machine is not was:
            _validate(Machine, machine, ("machines", k))
    for j, (order, before) in enumerate(zip(current.orders, problem.orders, strict=False)):
        if order is before:
            continue
        for i, (op, was_op) in enumerate(zip(order.operations, before.operations, strict=True)):
            if op is not was_op:
                _validate(Operation, op, ("orders", j, "operations", i))


def _validate(kind: type[BaseModel], item: BaseModel, where: tuple[str | int, ...]) -> None:
    """Validate a model made by model_copy, which validates nothing, naming where it sits."""
    try:
        kind.model_validate(dict(item))
    except ValidationError as exc:
        raise InvalidProblem(first_error(exc, where)) from exc


def _as_it_stands(
    order: WorkOrder,
    reported: dict[tuple[str, int], Actual],
    position: dict[tuple[str, int], int],
    planned: dict[tuple[str, int], ScheduledOperation],
    now: int,
    down: dict[str, list[Window]],
    waits: set[tuple[str, int]],
) -> tuple[WorkOrder, list[int]]:
    """Return an order with its reported work frozen, and what the plan started before now.

    Also return the indices kept started as planned on the plan's word alone: those in `waits`
    are not, and nor is what follows them. `position` says where each report sits in the
    feedback, for a refusal to name it.
    """

    # An operation reported started has its predecessors behind it, whatever plan and downtime say.
    last = max(
        (
            i
            for i, op in enumerate(order.operations)
            if (order.id, i) in reported or op.actual_start is not None
        ),
        default=-1,
    )
    ops: list[Operation] = []
    kept: list[int] = []
    for index, op in enumerate(order.operations):
        act = reported.get((order.id, index))
        was = planned.get((order.id, index))
        if act is not None:
            machine = act.machine or (was.machine if was else None)
            if machine is None and len(op.alternatives) == 1:
                machine = op.alternatives[0].machine
            # A report without an end says nothing of it: an end the problem holds stands.
            end = op.actual_end if act.end is None else act.end
            op = op.model_copy(
                update={"actual_start": act.start, "actual_end": end, "actual_machine": machine}
            )
        elif (
            op.actual_start is None
            and was is not None
            and (
                index < last
                or (
                    was.start < now
                    and (order.id, index) not in waits
                    and not _down_during(down, was.machine, was.start, was.end)
                    and (index == 0 or _could_follow(order, ops[-1], op, was))
                )
            )
        ):
            # Planned to have started already and nothing says otherwise: it runs as planned.
            # Not so after a predecessor thrown back by a downtime or reported later: it waits.
            op = op.model_copy(
                update={
                    "actual_start": was.start,
                    "actual_end": was.end if was.end <= now else None,
                    "actual_machine": was.machine,
                }
            )
            if index >= last:
                kept.append(index)
        if index >= last and _stopped(order, op, down):
            # A new downtime interrupted it: it runs again, whole, after now.
            op = op.model_copy(
                update={"actual_start": None, "actual_end": None, "actual_machine": None}
            )
        ops.append(op)
    for index in range(1, last + 1):
        if (order.id, index) in reported:
            ops[index - 1] = _ended_by(order, index, ops, reported, position, planned)
    if all(op is was_op for op, was_op in zip(ops, order.operations, strict=True)):
        return order, kept  # as it was: not copied, nor validated again
    return order.model_copy(update={"operations": ops}), kept


def _ended_by(
    order: WorkOrder,
    index: int,
    ops: list[Operation],
    reported: dict[tuple[str, int], Actual],
    position: dict[tuple[str, int], int],
    planned: dict[tuple[str, int], ScheduledOperation],
) -> Operation:
    """Return the operation before reported `index`, ended by the reported start at the latest.

    Its end, unless reported, is the plan's word or its run's length, which the floor's start
    of the next one overrules (a transfer lot lets that one start earlier: nothing to end). A
    start of its own, or a reported end, after that start leaves no room: the reports, or the
    plan and a report, contradict each other, and only the floor can say what ran.
    """
    prev = ops[index - 1]
    act = reported[(order.id, index)]
    held = held_by(order, prev, act.start)  # the rule a problem's own started work is read by
    if held is None or held == "not started":
        return prev  # not started, or machine unknown: the problem's own rules name it
    told = reported.get((order.id, index - 1))
    given = order.operations[index - 1]
    assert prev.actual_start is not None  # started: `held_by` said so
    # An end not reported, its run's length or the plan's word, yields to the start after it.
    planned_only = told is None and given.actual_start is None
    if held == "running" or (planned_only and prev.actual_start < act.start):
        return prev.model_copy(update={"actual_end": act.start})
    if told is not None and (told.end is not None or held == "started"):
        at = f"actuals[{position[(order.id, index - 1)]}]"
        # Started no earlier than this one, it had not ended by then, whatever end is reported.
        clash = (
            f"was reported ended at {told.end} ({at})"
            if told.end is not None
            else f"was reported started at {told.start} ({at}): operation {index} can start "
            f"only after operation {index - 1} started"
        )
    elif told is not None or given.actual_start is not None:
        clash = held_text(order, index, held)  # as the problem gave it
    else:
        was = planned[(order.id, index - 1)]
        clash = f"was planned to start at {was.start} and run until {was.end}: report when it ran"
    raise InvalidProblem(
        f"actuals[{position[(order.id, index)]}]: order {order.id!r} operation {index} reported "
        f"started at {act.start}, but operation {index - 1} before it {clash}"
    )


def _clashing(
    orders: list[WorkOrder],
    kept: set[tuple[str, int]],
    planned: dict[tuple[str, int], ScheduledOperation],
) -> set[tuple[str, int]]:
    """Return the operations kept as planned whose machine other started work held then.

    Reported work, and work before it in its order, is a fact; what is kept on the plan's word
    alone is taken in start order on each machine, set-up included, and yields to facts and to
    what it finds there. Work that takes no time and holds no set-up clashes with nothing.
    """
    facts: dict[str, list[tuple[int, int]]] = {}
    ours: list[tuple[int, int, str, tuple[str, int]]] = []
    for order in orders:
        for index, op in enumerate(order.operations):
            alt = started_on(op)
            if op.actual_start is None or alt is None:
                continue
            if (order.id, index) in kept:
                was = planned[(order.id, index)]
                ours.append((was.start - was.setup, was.end, was.machine, (order.id, index)))
                continue
            end = reported_end(order, op, alt)
            if end > op.actual_start:
                facts.setdefault(alt.machine, []).append((op.actual_start, end))
    # Per machine, facts by start with the latest end so far: [start, end) meets one of them
    # exactly when the latest end among those starting before `end` lies after `start`.
    starts: dict[str, list[int]] = {}
    reach: dict[str, list[int]] = {}
    for machine, spans in facts.items():
        spans.sort()
        starts[machine] = [s for s, _ in spans]
        reach[machine] = list(itertools.accumulate((e for _, e in spans), max))
    kept_until: dict[str, int] = {}  # what kept work, taken in start order, holds it until
    clashing: set[tuple[str, int]] = set()
    for start, end, machine, name in sorted(ours):
        if start >= end:
            continue
        before = bisect.bisect_left(starts.get(machine, []), end)
        held = before > 0 and reach[machine][before - 1] > start
        if held or kept_until.get(machine, start) > start:
            clashing.add(name)
        else:
            kept_until[machine] = max(kept_until.get(machine, end), end)
    return clashing


def _could_follow(
    order: WorkOrder, prev: Operation, op: Operation, was: ScheduledOperation
) -> bool:
    """Tell whether `op`, run as `was` planned it, could follow `prev` as it stands now.

    Only a started predecessor lets it start: one that had ended by then, or, with transfer
    lots, had done its first lot (the rule `plan.violations` reads).
    """
    p_alt = started_on(prev)
    alt = next((a for a in op.alternatives if a.machine == was.machine), None)
    if prev.actual_start is None or p_alt is None or alt is None:
        return False
    p_end = reported_end(order, prev, p_alt)
    q = prev.transfer_qty
    if q:
        first = prev.actual_start + p_alt.fixed_time + q * p_alt.unit_time
        return was.start >= first + prev.min_wait and was.end >= p_end + q * alt.unit_time
    return was.start >= p_end + prev.min_wait


def _stopped(order: WorkOrder, op: Operation, down: dict[str, list[Window]]) -> bool:
    """Tell whether a new downtime overlaps an operation reported started and not ended."""
    alt = started_on(op)
    if op.actual_start is None or op.actual_end is not None or alt is None:
        return False
    return _down_during(down, alt.machine, op.actual_start, reported_end(order, op, alt))


def _down_during(down: dict[str, list[Window]], machine: str, start: int, end: int) -> bool:
    """Tell whether a downtime of the machine overlaps [start, end)."""
    return any(w.start < end and start < w.end for w in down.get(machine, []))


def _previous_positions(flat: Flat, previous: Solution) -> dict[int, tuple[int, int]]:
    by_name = {(o.job, o.index): o for o in previous.operations}
    machine_index = {m: i for i, m in enumerate(flat.machines)}
    keep: dict[int, tuple[int, int]] = {}
    for op in flat.ops:
        was = by_name.get((flat.problem.orders[op.job].id, op.index))
        if was is not None and was.machine in machine_index:
            keep[op.key] = (was.start, machine_index[was.machine])
    return keep


def count_moved(flat: Flat, plan: Plan, keep: dict[int, tuple[int, int]]) -> int:
    """Count unfrozen operations of the previous plan whose start or machine changed."""
    return sum(
        1
        for key, (start, machine) in keep.items()
        if not flat.ops[key].frozen and (plan.start[key] != start or plan.machine[key] != machine)
    )


def reschedule(
    problem: Problem,
    previous: Solution,
    feedback: Feedback,
    options: SolveOptions | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> Solution:
    """Repair `previous` for `feedback`: frozen work stays, as few operations as needed move."""
    options = options or SolveOptions()
    t0 = time.monotonic()
    current = apply_feedback(problem, previous, feedback)
    flat = flatten(current)
    keep = _previous_positions(flat, previous)
    repaired: Plan | None
    try:
        # The repair moves least, but it is one rule's dispatch, which weighs every waiting
        # order at each placement: on large plants it may have half the limit...
        repaired = dispatch(
            flat, keep=keep, should_stop=should_stop, deadline=t0 + options.time_limit / 2
        )
    except DispatchStopped:
        try:
            # ...and then the serial repair, placing each operation once, stands in for it.
            repaired = serial_plan(flat, keep, should_stop=should_stop)
        except DispatchStopped:
            repaired = None  # cancelled: the search stops too, with what it has
    # First the best objective, then the fewest moves that keep it: half the time left each.
    # The search checks the repair as it checks its own plans, and works on the same index form.
    left = options.time_limit - (time.monotonic() - t0)
    half = SolveOptions(time_limit=max(left / 2, 0.05), workers=options.workers, seed=options.seed)
    first = search(flat, half, _Clock(half.time_limit), progress, should_stop, start_from=repaired)
    # Every answer is timed from the call: the feedback and the repair are part of it.
    clock = _Clock(options.time_limit)
    clock.t0 = t0
    best = first.incumbent.plan
    if first.status in ("infeasible", "unknown") or best is None:
        return answer(first, clock)
    incumbent = _Incumbent(flat, clock, progress)
    incumbent.offer(best, first.incumbent.source, checked=True)
    status = first.status
    if status == "cancelled" or (should_stop is not None and should_stop()):
        # The best plan found so far is the answer, as from solve: no second stage.
        final, fewest, status = best, False, "cancelled"
    else:
        final, fewest = _fewest_moves(flat, best, keep, clock, options, incumbent, should_stop)
    if status == "optimal" and not fewest:
        status = "feasible"
    solution = _finish(flat, _pinned(flat, final, incumbent), status, first.lower_bound, clock)
    return solution.model_copy(update={"moved": count_moved(flat, final, keep)})


class _Stable(_Incumbent):
    """Keep the plan with the fewest moves among those as good as the best objective."""

    def __init__(self, flat: Flat, keep: dict[int, tuple[int, int]], base: _Incumbent) -> None:
        super().__init__(flat, base.clock, base.progress)
        self.keep = keep
        self.target = base.value
        self.moves: int | None = None

    def offer(self, plan: Plan, source: str, checked: bool = False) -> bool:
        if not checked and violations(self.flat, plan):
            return False
        if self.target is not None and objective_vector(self.flat, plan) > self.target:
            return False
        moves = count_moved(self.flat, plan, self.keep)
        if self.moves is not None and moves >= self.moves:
            return False
        self.plan, self.moves, self.source = plan, moves, source
        self.value = objective_vector(self.flat, plan)
        return True


def _fewest_moves(
    flat: Flat,
    best: Plan,
    keep: dict[int, tuple[int, int]],
    clock: _Clock,
    options: SolveOptions,
    incumbent: _Incumbent,
    should_stop: StopFn | None,
) -> tuple[Plan, bool]:
    """Return a plan as good as `best` that moves fewer operations, and whether none moves fewer.

    Where the full model is out of reach in the time left, `best` stands as it is.
    """
    timed = None if too_large(flat) else build_in_time(flat, clock.left(), should_stop=should_stop)
    if timed is None:
        return best, False
    built, seconds = timed
    values = criteria(flat, best)
    for term in flat.problem.objective.terms:
        built.model.add(built.criteria[term.kind] <= values[term.kind])
    built.model.minimize(sum(_moved_literals(flat, built, keep)))
    stable = _Stable(flat, keep, incumbent)
    code, _solver, _recorder = run_cpsat(
        flat, built, max(seconds, 0.1), options, stable, should_stop, best
    )
    return stable.plan or best, code == cp_model.OPTIMAL


def _pinned(flat: Flat, plan: Plan, base: _Incumbent) -> _Incumbent:
    out = _Incumbent(flat, base.clock, None)
    out.plan, out.value, out.source = plan, objective_vector(flat, plan), base.source
    return out


def _plan_of(flat: Flat, solution: Solution) -> Plan:
    n = len(flat.ops)
    plan = Plan([0] * n, [0] * n, [0] * n, [0] * n)
    index = {(o.job, o.index): o for o in solution.operations}
    machine_index = {m: i for i, m in enumerate(flat.machines)}
    for op in flat.ops:
        s = index[(flat.problem.orders[op.job].id, op.index)]
        plan.start[op.key], plan.end[op.key] = s.start, s.end
        plan.machine[op.key], plan.setup[op.key] = machine_index[s.machine], s.setup
    return plan


def _moved_literals(
    flat: Flat, built: cpsat.Built, keep: dict[int, tuple[int, int]]
) -> list[cp_model.IntVar]:
    model = built.model
    lits: list[cp_model.IntVar] = []
    for key, (start, machine) in keep.items():
        if flat.ops[key].frozen:
            continue
        moved = model.new_bool_var(f"moved{key}")
        model.add(built.start[key] == start).only_enforce_if(moved.negated())
        for m, lit in built.choice[key]:
            if lit is not None:
                model.add(lit == (1 if m == machine else 0)).only_enforce_if(moved.negated())
            elif m != machine:
                model.add(moved == 1)
        lits.append(moved)
    return lits
