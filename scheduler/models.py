"""Pydantic models of a scheduling problem and of its solution.

Time is an integer count of time units (minutes, say) from the plan origin t = 0.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import ErrorDetails

# Every number is read strictly (`strict=True` on each field, not the model, whose nested
# models still come as JSON objects): lax, "3", true and 3.0 were all read as 3. Checked in
# pydantic's core, it costs nothing per value; `said` words what it refuses.
# Times and durations are bounded so that the solver's sums of them stay far inside 64 bits:
# a trillion time units is two million years of minutes.
MAX_TIME = 10**12
Time = Annotated[int, Field(ge=-MAX_TIME, le=MAX_TIME, strict=True)]
Duration = Annotated[int, Field(ge=0, le=MAX_TIME, strict=True)]
# The rescheduling instant, at or after the origin. Its own alias: a Field(ge=0) beside `Time`
# loses to the alias's lower bound, and negative instants slipped through.
Now = Annotated[int, Field(ge=0, le=MAX_TIME, strict=True)]
# Quantities and weights multiply times and costs.
MAX_COUNT = 10**6
# What CP-SAT takes as an objective: its bound must stay inside 64 bits, with room.
MAX_OBJECTIVE = 2**62
# CP-SAT's random_seed is a 32-bit signed integer.
SEED_BOUND = 2**31
# How large a problem may be: a plant's worth and the largest public benchmarks, with room. The
# set-up before the search (validation, index form, the first plans) grows with these and is
# not all inside the time limit.
MAX_MACHINES = 1_000
MAX_ORDERS = 10_000
MAX_OPERATIONS = 20_000  # in all orders
MAX_CHOICES = 100_000  # machine alternatives, in all operations
MAX_WINDOWS = 10_000  # shifts, or unavailable windows, of one machine: 9 years of 3 a day
# Shifts and unavailable windows of all machines together: the index of each machine's gaps and
# the windows' validation come before the search, and at this many the largest problem still
# takes about 2.5 s at a 1 s limit. 150 machines of 10,000 short closures took 26 s.
MAX_WINDOWS_IN_ALL = 100_000
# Set-up entries (families before an operation): of one operation, one for each family an
# order may bring; in all, twenty for each of the most operations. Reading and indexing them
# comes before the search too, about 0.75 s of CPU a million: 400,000 add 0.3 s to a problem
# of 20,000 operations, where a request body could hold millions.
MAX_SETUPS = MAX_ORDERS
MAX_SETUPS_IN_ALL = 20 * MAX_OPERATIONS
# Ids and family names as long as an event's ids, free text as long as an event's note: a
# problem is held while its job waits, and its names are copied into every scheduled operation.
MAX_ID = 200
MAX_TEXT = 2_000
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
Ref = Annotated[str, Field(max_length=MAX_ID)]  # may be empty: "" is the default family
Text = Annotated[str, Field(max_length=MAX_TEXT)]


_KINDS: dict[type, str] = {
    str: "a string",
    float: "a decimal number",
    list: "a list",
    dict: "an object",
}


def said(detail: ErrorDetails) -> ErrorDetails:
    """`detail` worded as the scheduler's other refusals when a number came as something else
    ("expected an integer, got a string"); any other problem as it is."""
    expected = {"int_type": "an integer", "float_type": "a number"}.get(detail["type"])
    if expected is None:
        return detail
    value = detail.get("input")
    if isinstance(value, bool) or value is None:
        got = json.dumps(value)  # true, false, null: as the JSON said them
    else:
        got = _KINDS.get(type(value), type(value).__name__)
    return detail | {"msg": f"expected {expected}, got {got}"}


def reported_after_now(
    order: str, index: int, start: int | None, end: int | None, now: int
) -> tuple[str, str] | None:
    """Return which of a reported start and end lies after `now` ("start" or "end"), and what
    to say of it; None when neither does.

    What happened cannot lie ahead: such a report is a clock or a typo, and frozen it would
    hold the plan (and everything after it in its order) to a time not yet come.
    """
    for field, verb, at in (("start", "started", start), ("end", "ended", end)):
        if at is not None and at > now:
            return (
                field,
                f"order {order!r} operation {index} reported {verb} at {at}, after now ({now})",
            )
    return None


class Started(NamedTuple):
    """Work reported started: where it ran, when, and which operation of which order it is."""

    machine: str
    start: int
    end: int
    order: int  # positions in the problem's lists
    operation: int


def started_on(op: Operation) -> Alternative | None:
    """Return the alternative a started operation runs on, if it says or has only one."""
    if op.actual_machine is None:
        return op.alternatives[0] if len(op.alternatives) == 1 else None
    return next((a for a in op.alternatives if a.machine == op.actual_machine), None)


def reported_end(order: WorkOrder, op: Operation, alt: Alternative) -> int:
    """The end the floor reported for a started operation, or the one its run would take."""
    assert op.actual_start is not None
    if op.actual_end is not None:
        return op.actual_end
    return op.actual_start + alt.fixed_time + alt.unit_time * order.quantity


# What of the operation before a started one contradicts that start (`held_by`).
Holdup = Literal["not started", "ended", "started", "running"]


def held_by(order: WorkOrder, prev: Operation, start: int) -> Holdup | None:
    """Say what of `prev`, the operation of `order` before one started at `start`, contradicts
    that start; None if nothing does.

    It has not started; or, without transfer lots (which let the next start before its end)
    and on a machine it says, it runs past `start`: to an `actual_end` after it, from a start
    no earlier, or, started before it with no end, for its run's length ("running": feedback
    reporting the later start takes that start for its end; a problem must say it).
    """
    if prev.actual_start is None:
        return "not started"
    alt = started_on(prev)
    if prev.transfer_qty or alt is None or reported_end(order, prev, alt) <= start:
        return None
    if prev.actual_end is not None:
        return "ended"
    return "started" if prev.actual_start >= start else "running"


def held_text(order: WorkOrder, index: int, held: Holdup) -> str:
    """Say what of operation `index - 1` of `order`, as given, holds back operation `index`."""
    prev = order.operations[index - 1]
    if held == "not started":
        return "has not started"
    if held == "ended":
        return f"ended at {prev.actual_end} (its actual_end)"
    if held == "started":
        return (
            f"started at {prev.actual_start} (its actual_start): operation {index} can start "
            f"only after operation {index - 1} started"
        )
    alt = started_on(prev)
    assert alt is not None
    return (
        f"started at {prev.actual_start} with no actual_end, so it runs until "
        f"{reported_end(order, prev, alt)}: give its actual_end"
    )


def overlapping_work(orders: Sequence[WorkOrder]) -> tuple[Started, Started] | None:
    """Return two operations reported on one machine at once, the earlier first; None if none.

    Their ends are as the solver takes them (`reported_end`); work that took no time meets
    nothing, and work whose machine is not said is left to the solver's refusal. Only started
    work is looked at: a few operations of a plant's thousands.
    """
    started: list[Started] = []
    for j, order in enumerate(orders):
        for index, op in enumerate(order.operations):
            alt = started_on(op)
            if op.actual_start is None or alt is None:
                continue
            end = reported_end(order, op, alt)
            if end > op.actual_start:
                started.append(Started(alt.machine, op.actual_start, end, j, index))
    started.sort()
    for first, then in itertools.pairwise(started):
        # Sorted by machine, then start: an overlap on a machine shows between neighbours, as
        # a later start inside the run before (or inside one still running, found first).
        if first.machine == then.machine and then.start < first.end:
            return first, then
    return None


def overlap_text(both: tuple[Started, Started], where: Callable[[Started], str]) -> str:
    """Say two reports of work on one machine at once, each named by `where`."""
    first, then = both
    return (
        f"{where(then)}: reported running on machine {then.machine!r} from {then.start} to "
        f"{then.end}, overlapping {where(first)} there from {first.start} to {first.end}"
    )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _repeats(names: list[str], what: str) -> None:
    """Refuse repeated names, saying which and where (positions in the list)."""
    first: dict[str, int] = {}
    repeats: list[str] = []
    for position, name in enumerate(names):
        if name in first:
            repeats.append(f"{name!r} at {first[name]} and {position}")
        else:
            first[name] = position
    if repeats:
        more = f" (and {len(repeats) - 5} more)" if len(repeats) > 5 else ""
        raise ValueError(f"{what} must be unique: {'; '.join(repeats[:5])}{more}")


class Window(_Model):
    """A half-open time window [start, end)."""

    start: Time
    end: Time
    reason: Text = ""

    @model_validator(mode="after")
    def _check(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"window end {self.end} must be after its start {self.start}")
        return self


class Machine(_Model):
    """A machine with its working calendar and its unavailable windows."""

    id: Id
    # None means the machine works around the clock; otherwise only inside these shifts.
    shifts: list[Window] | None = Field(default=None, max_length=MAX_WINDOWS)
    unavailable: list[Window] = Field(default=[], max_length=MAX_WINDOWS)
    # Family of the last product run before the plan starts; drives the first set-up.
    initial_family: Ref | None = None


class Alternative(_Model):
    """One machine that can run an operation, with its time per unit."""

    machine: Id
    unit_time: Duration
    fixed_time: Duration = 0


class Operation(_Model):
    """One step of a routing."""

    id: Ref | None = None
    alternatives: list[Alternative] = Field(min_length=1, max_length=MAX_MACHINES)
    # Set-up before this operation, keyed by the product family that ran before it on the
    # same machine; a different family not listed costs `setup_default`, the same family 0.
    setup: dict[Ref, Duration] = Field(default={}, max_length=MAX_SETUPS)
    setup_default: Duration = 0
    # Waits between the end of this operation and the start of the next one of the order.
    min_wait: Duration = 0
    max_wait: Duration | None = None
    # None: the whole lot moves to the next operation as one transfer lot (same cart binding).
    # An integer: units move on in transfer lots of this size, so the next operation overlaps.
    transfer_qty: int | None = Field(default=None, ge=1, strict=True)
    # Shop-floor feedback: an operation with an actual start is frozen.
    actual_start: Time | None = None
    actual_end: Time | None = None
    actual_machine: Ref | None = None

    @field_validator("alternatives")
    @classmethod
    def _unique_machines(cls, alternatives: list[Alternative]) -> list[Alternative]:
        _repeats([a.machine for a in alternatives], "machines")
        return alternatives

    @model_validator(mode="after")
    def _check(self) -> Operation:
        if self.max_wait is not None and self.max_wait < self.min_wait:
            raise ValueError(f"max_wait {self.max_wait} is below min_wait {self.min_wait}")
        if self.actual_end is not None and self.actual_start is None:
            raise ValueError("actual_end needs actual_start")
        if (
            self.actual_end is not None
            and self.actual_start is not None
            and self.actual_end < self.actual_start
        ):
            raise ValueError("actual_end is before actual_start")
        machines = [a.machine for a in self.alternatives]
        if self.actual_machine is not None and self.actual_machine not in machines:
            raise ValueError(f"actual_machine {self.actual_machine!r} is not an alternative")
        return self

    @property
    def frozen(self) -> bool:
        """Tell whether shop-floor feedback pins this operation."""
        return self.actual_start is not None


class WorkOrder(_Model):
    """A work order: a quantity of one product family through a routing."""

    id: Id
    family: Ref = ""
    quantity: int = Field(default=1, ge=1, le=MAX_COUNT, strict=True)
    release: Time = 0
    due: Time | None = None
    weight: int = Field(default=1, ge=0, le=MAX_COUNT, strict=True)
    operations: list[Operation] = Field(min_length=1, max_length=MAX_OPERATIONS)

    @model_validator(mode="after")
    def _check(self) -> WorkOrder:
        for index, op in enumerate(self.operations):
            if op.transfer_qty is not None and op.transfer_qty > self.quantity:
                # A transfer lot bigger than the order would hold the next operation past the
                # end of the whole lot: idle time no shop would plan.
                raise ValueError(
                    f"operation {index}: transfer_qty {op.transfer_qty} exceeds the order's "
                    f"quantity {self.quantity}"
                )
            for alt in op.alternatives:
                if alt.fixed_time + alt.unit_time * self.quantity > MAX_TIME:
                    raise ValueError(
                        f"operation {index} on {alt.machine!r} would take "
                        f"{alt.fixed_time} + {alt.unit_time} x {self.quantity} time units, "
                        f"over {MAX_TIME:,}"
                    )
        return self


ObjectiveKind = Literal["makespan", "weighted_tardiness", "flow_time"]


class ObjectiveTerm(_Model):
    """One criterion of the objective and its weight in a weighted sum."""

    kind: ObjectiveKind
    weight: int = Field(default=1, ge=1, le=MAX_COUNT, strict=True)


class Objective(_Model):
    """The criteria to minimise, combined lexicographically or as a weighted sum."""

    terms: list[ObjectiveTerm] = Field(default=[ObjectiveTerm(kind="makespan")], min_length=1)
    mode: Literal["lexicographic", "weighted"] = "lexicographic"


def _windows_of(machine: object) -> int:
    """Count a machine's shifts and unavailable windows, as given or as validated."""
    if isinstance(machine, Machine):
        return len(machine.unavailable) + len(machine.shifts or [])
    if not isinstance(machine, dict):
        return 0
    return sum(
        len(value)
        for value in (machine.get("unavailable"), machine.get("shifts"))
        if isinstance(value, list | tuple)
    )


def _setups_of(order: object) -> int:
    """Count the set-up entries of an order's operations, as given or as validated."""
    operations: object = None
    if isinstance(order, WorkOrder):
        operations = order.operations
    elif isinstance(order, dict):
        operations = order.get("operations")
    if not isinstance(operations, list | tuple):
        return 0
    total = 0
    for op in operations:
        setup: object = None
        if isinstance(op, Operation):
            setup = op.setup
        elif isinstance(op, dict):
            setup = op.get("setup")
        if isinstance(setup, dict):
            total += len(setup)
    return total


class Problem(_Model):
    """A scheduling problem: machines, work orders and what to optimise."""

    name: Text = ""
    # No operation that has not started may start before `now` (the rescheduling instant).
    now: Now = 0
    machines: list[Machine] = Field(min_length=1, max_length=MAX_MACHINES)
    orders: list[WorkOrder] = Field(min_length=1, max_length=MAX_ORDERS)
    objective: Objective = Objective()

    @model_validator(mode="before")
    @classmethod
    def _count_entries(cls, data: Any) -> Any:
        """Refuse too many windows, or set-up entries, in all before each is read: reading
        them is most of the cost. What is not a list here is left to the field's own
        validation."""
        machines = data.get("machines") if isinstance(data, dict) else None
        if isinstance(machines, list | tuple):
            total = sum(_windows_of(m) for m in machines)
            if total > MAX_WINDOWS_IN_ALL:
                raise ValueError(
                    f"machines: {total:,} shifts and unavailable windows in all, "
                    f"at most {MAX_WINDOWS_IN_ALL:,}"
                )
        orders = data.get("orders") if isinstance(data, dict) else None
        if isinstance(orders, list | tuple):
            total = sum(_setups_of(o) for o in orders)
            if total > MAX_SETUPS_IN_ALL:
                raise ValueError(
                    f"orders: {total:,} set-up entries in all, at most {MAX_SETUPS_IN_ALL:,}"
                )
        return data

    @field_validator("machines", "orders")
    @classmethod
    def _unique_ids(cls, items: list[Machine] | list[WorkOrder]) -> list[Machine] | list[WorkOrder]:
        _repeats([item.id for item in items], "ids")
        return items

    @model_validator(mode="after")
    def _check(self) -> Problem:
        machine_ids = [m.id for m in self.machines]
        operations = sum(len(o.operations) for o in self.orders)
        if operations > MAX_OPERATIONS:
            raise ValueError(
                f"orders: {operations:,} operations in all, at most {MAX_OPERATIONS:,}"
            )
        choices = sum(len(op.alternatives) for o in self.orders for op in o.operations)
        if choices > MAX_CHOICES:
            raise ValueError(
                f"orders: {choices:,} machine alternatives in all, at most {MAX_CHOICES:,}"
            )
        known = set(machine_ids)
        for j, order in enumerate(self.orders):
            for index, op in enumerate(order.operations):
                late = reported_after_now(order.id, index, op.actual_start, op.actual_end, self.now)
                if late is not None:
                    field, message = late
                    raise ValueError(f"orders.{j}.operations.{index}.actual_{field}: {message}")
                for alt in op.alternatives:
                    if alt.machine not in known:
                        raise ValueError(
                            f"order {order.id!r} operation {index} uses unknown machine "
                            f"{alt.machine!r}"
                        )
                if index == 0 or op.actual_start is None:
                    continue
                held = held_by(order, order.operations[index - 1], op.actual_start)
                if held is not None:
                    # No plan keeps the routing: the solve would end infeasible on a wrong report.
                    raise ValueError(
                        f"orders.{j}.operations.{index}: order {order.id!r} operation {index} "
                        f"started at {op.actual_start}, but operation {index - 1} before it "
                        f"{held_text(order, index, held)}"
                    )
        both = overlapping_work(self.orders)
        if both is not None:
            # No plan runs both: the solve would end infeasible on what is a wrong report.
            raise ValueError(
                overlap_text(both, lambda w: f"orders.{w.order}.operations.{w.operation}")
            )
        if self._objective_bound() >= MAX_OBJECTIVE:
            # CP-SAT refuses a model whose objective can pass 64 bits, and the plan would
            # then come from the dispatch rules alone, silently.
            raise ValueError(
                "objective: weights times times can pass 64 bits (about 4.6e18): use smaller "
                "weights, or a coarser time unit"
            )
        return self

    def _objective_bound(self) -> int:
        """An upper bound of every criterion the objective weighs, weights applied."""
        start = max(
            [self.now, 0]
            + [o.release for o in self.orders]
            + [w.end for m in self.machines for w in [*m.unavailable, *(m.shifts or [])]]
            + [op.actual_end or op.actual_start or 0 for o in self.orders for op in o.operations]
        )
        work = 0
        for order in self.orders:
            for op in order.operations:
                longest = max(a.fixed_time + a.unit_time * order.quantity for a in op.alternatives)
                work += longest + max([op.setup_default, *op.setup.values()]) + op.min_wait
        horizon = start + work + 1
        values = {
            "makespan": horizon,
            "weighted_tardiness": sum(
                o.weight * max(0, horizon - (o.due if o.due is not None else horizon))
                for o in self.orders
            ),
            # From the release, or from started work begun before it (see `plan.entered`).
            "flow_time": sum(
                horizon - min([o.release, 0, *(op.actual_start or 0 for op in o.operations)])
                for o in self.orders
            ),
        }
        return sum(term.weight * values[term.kind] for term in self.objective.terms)


class SolveOptions(_Model):
    """How long and how wide to search."""

    time_limit: float = Field(default=10.0, gt=0, le=3600, allow_inf_nan=False, strict=True)
    workers: int = Field(default=2, ge=1, le=64, strict=True)
    seed: int = Field(default=0, ge=-SEED_BOUND, lt=SEED_BOUND, strict=True)


Status = Literal["optimal", "feasible", "infeasible", "unknown", "cancelled"]


class ScheduledOperation(_Model):
    """Where and when one operation runs."""

    job: str  # the work order id
    index: int  # position in the order's routing
    operation: str
    machine: str
    start: int  # a plan's times are sums of bounded inputs: not bounded like them
    end: int
    setup: int = 0
    frozen: bool = False


class Kpis(_Model):
    """Figures reported for every solution."""

    makespan: int
    on_time_rate: float
    total_tardiness: int
    weighted_tardiness: int
    max_tardiness: int
    total_flow_time: int
    average_wip: float
    utilisation: dict[str, float]


class Conflict(_Model):
    """Why a problem has no feasible schedule: which order breaks which constraint."""

    order: str | None
    constraint: str
    message: str


class Solution(_Model):
    """A schedule with its status, bounds and KPIs."""

    status: Status
    makespan: int | None = None
    objective: list[int] = []
    lower_bound: int | None = None
    source: Literal["cpsat", "dispatch", "none"] = "none"
    wall_time: float = 0.0
    operations: list[ScheduledOperation] = []
    kpis: Kpis | None = None
    conflicts: list[Conflict] = []
    moved: int | None = None

    def dispatch_lists(self) -> dict[str, list[ScheduledOperation]]:
        """Group the operations by machine in start order."""
        lists: dict[str, list[ScheduledOperation]] = {}
        for op in sorted(self.operations, key=lambda o: (o.start, o.end)):
            lists.setdefault(op.machine, []).append(op)
        return lists
