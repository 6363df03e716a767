"""A flat, index-based view of a problem that the solvers share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

from scheduler.errors import InvalidProblem
from scheduler.models import Machine, Operation, Problem


@dataclass(frozen=True, slots=True)
class Alt:
    """One machine choice of an operation, with its duration."""

    machine: int
    duration: int
    unit_time: int
    fixed_time: int


@dataclass(slots=True)
class FlatOp:
    """An operation with indices instead of names."""

    key: int
    job: int
    index: int
    name: str
    alts: list[Alt]
    family: int
    min_wait: int
    max_wait: int | None
    transfer_qty: int | None
    setup_default: int = 0
    frozen_start: int | None = None
    frozen_end: int | None = None
    frozen_machine: int | None = None
    # setup_from[f] is the set-up after family index f; -1 indexes "no predecessor".
    setup_from: dict[int, int] = field(default_factory=dict)

    @property
    def frozen(self) -> bool:
        """Tell whether feedback pins this operation."""
        return self.frozen_start is not None

    def alt_on(self, machine: int) -> Alt | None:
        """Return the alternative on a machine, if the operation can run there."""
        for alt in self.alts:
            if alt.machine == machine:
                return alt
        return None


@dataclass(slots=True)
class Flat:
    """A problem as arrays: jobs, operations, machines, windows."""

    problem: Problem
    machines: list[str]
    jobs: list[list[int]]
    ops: list[FlatOp]
    families: list[str]
    release: list[int]
    due: list[int | None]
    weight: list[int]
    # Sorted, merged windows in which a machine cannot work (calendar gaps and downtime).
    forbidden: list[Windows]
    initial_family: list[int]
    has_setups: list[bool]
    horizon: int

    def setup(self, op: FlatOp, prev_family: int) -> int:
        """Return the set-up before `op` when `prev_family` ran last (-1: nothing ran)."""
        if prev_family < 0 or prev_family == op.family:
            return 0
        return op.setup_from.get(prev_family, op.setup_default)

    @property
    def is_plain(self) -> bool:
        """Tell whether this is a classic (flexible) job shop with a makespan objective."""
        p = self.problem
        return (
            not any(self.forbidden)
            and not any(self.has_setups)
            and all(
                not op.frozen and op.min_wait == 0 and op.max_wait is None and not op.transfer_qty
                for op in self.ops
            )
            and all(r == 0 for r in self.release)
            and [t.kind for t in p.objective.terms] == ["makespan"]
        )


class Windows(list[tuple[int, int]]):
    """A machine's sorted, merged unavailable windows, with an index of the gaps between them.

    Looking for room of some length would otherwise walk every window whose gap after it is too
    short, and many short closures made each look-up as slow as the whole calendar.
    """

    def __init__(self, windows: list[tuple[int, int]]) -> None:
        super().__init__(windows)
        # _lift[k][j] is the longest gap after windows j to j + 2^k - 1; built when first asked
        # (or ahead, by index_gaps).
        self._lift: list[list[int]] | None = None

    @property
    def indexed(self) -> bool:
        """Tell whether the index of the gaps is built."""
        return self._lift is not None

    def build_index(self) -> list[list[int]]:
        """Build the index of the gaps, if not built yet, and return it."""
        if self._lift is None:
            gaps = [b[0] - a[1] for a, b in pairwise(self)]
            lift = [gaps]
            step = 1
            while 2 * step <= len(gaps):
                below = lift[-1]
                # Pairs zipped and compared inline: a quarter of the time of max() on indices.
                lift.append([a if a > b else b for a, b in zip(below, below[step:], strict=False)])
                step *= 2
            self._lift = lift
        return self._lift

    def room_after(self, i: int, length: int) -> int:
        """Return the first j >= i after whose window `length` units are free before the next
        (the last window when none is: nothing closes after it)."""
        lift = self.build_index()
        j = i
        for k in range(len(lift) - 1, -1, -1):
            level = lift[k]
            if j < len(level) and level[j] < length:
                j += 1 << k
        return min(j, len(self) - 1)


def index_gaps(flat: Flat, should_stop: Callable[[], bool] | None = None) -> bool:
    """Build every machine's index of gaps now, rather than at its first look-up, looking at
    `should_stop` before each machine not yet indexed (one holds at most 10,000 windows, a few
    milliseconds); False once it says stop, with the rest left to be built when asked."""
    for windows in flat.forbidden:
        if windows.indexed or len(windows) < 2:  # no gap to index
            continue
        if should_stop is not None and should_stop():
            return False
        windows.build_index()
    return True


# Past every time a plan can hold: the end of the gap after a machine's last shift.
FOREVER = 1 << 61


def merge_windows(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return the windows sorted, those that overlap or touch made one."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _forbidden(machine: Machine, horizon: int) -> Windows:
    windows = [(w.start, w.end) for w in machine.unavailable]
    if machine.shifts is not None:
        cursor = 0
        for shift in sorted(machine.shifts, key=lambda w: w.start):
            if shift.start > cursor:
                windows.append((cursor, shift.start))
            cursor = max(cursor, shift.end)
        windows.append((cursor, max(horizon, FOREVER)))  # after the last shift: never again
    return Windows([(s, e) for s, e in merge_windows(windows) if e > 0])


def _setup_table(op: Operation, family_index: dict[str, int]) -> dict[int, int]:
    table: dict[int, int] = {}
    for name, value in op.setup.items():
        if name in family_index:
            table[family_index[name]] = value
    return table


def flatten(problem: Problem) -> Flat:
    """Turn a validated problem into index form and check what pydantic cannot."""
    machines = [m.id for m in problem.machines]
    midx = {m: i for i, m in enumerate(machines)}
    families: list[str] = []
    family_index: dict[str, int] = {}

    def fam(name: str) -> int:
        if name not in family_index:
            family_index[name] = len(families)
            families.append(name)
        return family_index[name]

    for order in problem.orders:
        fam(order.family)
    for m in problem.machines:
        if m.initial_family is not None:
            fam(m.initial_family)

    ops: list[FlatOp] = []
    jobs: list[list[int]] = []
    bound = 0
    work = 0
    for j, order in enumerate(problem.orders):
        keys: list[int] = []
        bound = max(bound, order.release, problem.now)  # nothing starts before now
        for k, op in enumerate(order.operations):
            alts = [
                Alt(
                    midx[a.machine],
                    a.fixed_time + a.unit_time * order.quantity,
                    a.unit_time,
                    a.fixed_time,
                )
                for a in op.alternatives
            ]
            flat_op = FlatOp(
                key=len(ops),
                job=j,
                index=k,
                name=op.id or f"{order.id}/{k}",
                alts=alts,
                family=family_index[order.family],
                min_wait=op.min_wait,
                max_wait=op.max_wait,
                transfer_qty=op.transfer_qty,
                setup_default=op.setup_default,
                setup_from=_setup_table(op, family_index),
            )
            if op.actual_start is not None:
                if op.actual_machine is not None:
                    machine = midx[op.actual_machine]
                elif len(alts) == 1:
                    machine = alts[0].machine
                else:
                    raise InvalidProblem(
                        f"order {order.id!r} operation {k}: a started operation with several "
                        "alternatives needs actual_machine"
                    )
                alt = next(a for a in alts if a.machine == machine)
                flat_op.frozen_machine = machine
                flat_op.frozen_start = op.actual_start
                flat_op.frozen_end = (
                    op.actual_end if op.actual_end is not None else op.actual_start + alt.duration
                )
                # The wait after it holds back the work that follows, as planned work's does.
                bound = max(bound, flat_op.frozen_end)
                work += op.min_wait
            else:
                max_setup = max([op.setup_default, *op.setup.values()])
                work += max(a.duration for a in alts) + max_setup + op.min_wait
            keys.append(flat_op.key)
            ops.append(flat_op)
        jobs.append(keys)

    for m in problem.machines:
        for w in [*m.unavailable, *(m.shifts or [])]:
            bound = max(bound, w.end)
    horizon = bound + work + 1
    forbidden = [_forbidden(m, horizon) for m in problem.machines]
    # An omitted initial_family (None) means nothing ran; "" names the orders' default family.
    initial = [
        -1 if m.initial_family is None else family_index[m.initial_family] for m in problem.machines
    ]
    has_setups = [False] * len(machines)
    for fop in ops:
        if any(fop.setup_from.values()) or fop.setup_default:
            for alt in fop.alts:
                has_setups[alt.machine] = True
    return Flat(
        problem=problem,
        machines=machines,
        jobs=jobs,
        ops=ops,
        families=families,
        release=[max(o.release, problem.now) for o in problem.orders],
        due=[o.due for o in problem.orders],
        weight=[o.weight for o in problem.orders],
        forbidden=forbidden,
        initial_family=initial,
        has_setups=has_setups,
        horizon=horizon,
    )
