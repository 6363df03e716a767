"""Constructive schedules from dispatch rules (Giffler-Thompson style active schedules)."""

from __future__ import annotations

import heapq
import random
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence

from scheduler.flat import FOREVER, Alt, Flat, FlatOp, index_gaps
from scheduler.plan import Plan, earliest_start, objective_vector, violations
from scheduler.timeline import Placed, Timeline

RULES: tuple[str, ...] = ("mwkr", "mor", "spt", "edd", "slack", "lpt", "fifo")

_INF = 1 << 60
# How many placements between two looks at the clock and the cancel flag: one placement may
# weigh a thousand jobs waiting for a busy machine.
_CHECK_EVERY = 16
# How many times a block of work bound by max_wait is placed again, later each time, before
# it is given up and its first operation placed alone, as if nothing bound it. Blocks that fit
# do so within a few tries (on 1,200 random plans, 10 changed one plan and 50 none); one that
# never fits (calendars that leave no room within the wait) costs every try, on each of its
# first operation's machines.
_BLOCK_TRIES = 50


class DispatchStopped(Exception):
    """A dispatch run stopped at its deadline or on cancel, before its plan was whole."""


def _check(placed: int, should_stop: Callable[[], bool] | None, deadline: float | None) -> None:
    """Raise DispatchStopped on cancel or past `deadline`, looked at every _CHECK_EVERY
    placements (`placed`)."""
    if placed % _CHECK_EVERY == 0 and (
        (should_stop is not None and should_stop())
        or (deadline is not None and time.monotonic() > deadline)
    ):
        raise DispatchStopped


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
    Raises DispatchStopped on cancel or past `deadline` (a `time.monotonic()` value).
    """
    if not index_gaps(flat, should_stop):
        raise DispatchStopped
    if keep is None and flat.is_plain and all(len(op.alts) == 1 for op in flat.ops):
        return _dispatch_job_shop(flat, rule, seed)
    if keep is not None or _start_free(flat, rule):
        return _Queued(flat, rule, seed, keep).run(should_stop, deadline)
    return _General(flat, rule, seed, keep).run(should_stop, deadline)


def serial_plan(
    flat: Flat,
    keep: dict[int, tuple[int, int]] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Plan:
    """Build a plan without weighing jobs against each other (see _Serial); with `keep`, on
    the previous machines and no earlier than before, as `dispatch` does.

    Raises DispatchStopped on cancel. It has no deadline: it is the plan that stands in when
    time runs out, and at the largest size it takes about a second.
    """
    if not index_gaps(flat, should_stop):
        raise DispatchStopped
    return _Serial(flat, keep).build(should_stop)


class _Dispatcher:
    """What both general dispatchers keep of a plan in the making, and how a job moves on.

    The plan with the started work in it, each machine's free time and last family, each job's
    work left, next operation, the alternatives it may take (with `keep`, its previous machine)
    and the ready time the routing allows on each.
    """

    def __init__(
        self, flat: Flat, rule: str, seed: int, keep: dict[int, tuple[int, int]] | None
    ) -> None:
        self.flat = flat
        self.keep = keep
        n_jobs = len(flat.jobs)
        self.plan, self.free, self.last_family = _with_frozen_work(flat)
        self.work_left = [
            sum(min(a.duration for a in flat.ops[k].alts) for k in keys) for keys in flat.jobs
        ]
        self.priority = _priority(flat, rule, random.Random(seed), self.work_left)
        # With `keep`, operations go in their previous order: the rank of their previous start.
        self.rank = None if keep is None else _keep_rank(flat, keep)
        if self.rank is not None:
            rank = self.rank
            self.priority = lambda j, key, cand: (rank[key], j)
        self.next_pos = [0] * n_jobs
        self.current: list[FlatOp] = [flat.ops[0]] * n_jobs
        self.alts: list[list[Alt]] = [[] for _ in range(n_jobs)]
        self.ready: list[list[int]] = [[] for _ in range(n_jobs)]
        # Per machine: work that takes no time and changed the family over there, as (when,
        # its key, the family before it), while nothing else has held the machine since.
        self.changed_at: list[tuple[int, int, int] | None] = [None] * len(flat.machines)
        # The machines' earliest ends, (end, job, machine, version), older versions lapsed.
        self.version = [0] * len(flat.machines)
        self.heap: list[tuple[int, int, int, int]] = []

    def run(self, should_stop: Callable[[], bool] | None, deadline: float | None) -> Plan:
        """Place operations, the one a machine's earliest end names first, until none is left;
        each dispatcher's `_step` chooses and places at that machine."""
        flat, heap = self.flat, self.heap
        self._place_bound_to_started()
        for j in range(len(flat.jobs)):
            self._advance(j)
        for m in range(len(flat.machines)):
            self._refresh(m)
        placed = 0
        while heap:
            ect, j0, m, version = heapq.heappop(heap)
            if version != self.version[m]:  # the machine changed since: a newer entry stands
                continue
            placed += 1
            _check(placed, should_stop, deadline)
            self._step(ect, j0, m)
        return self.plan

    def _advance(self, j: int) -> None:
        raise NotImplementedError

    def _refresh(self, m: int) -> None:
        raise NotImplementedError

    def _step(self, ect: int, j0: int, m: int) -> None:
        raise NotImplementedError

    def _write_block(self, j: int, m: int, start: int, end: int) -> list[int]:
        """Write job j's current operation on `m` at `start`, and with it the operations that
        max_wait binds to it, each to the one before, as one block (see _fit_block); return
        the machines the block took besides `m`.

        Placed one by one, bound work would find its machine taken by work chosen in between,
        and wait too long. The block may start later than offered, to leave each operation
        room within its wait, or, when it finds none there, on another of the first one's
        machines.
        """
        op = self.current[j]
        block = [op, *self._bound_after(op)]
        if len(block) == 1:  # nothing bound: the plan of every problem without max_wait
            self._write(j, m, start, end)
            return []
        on_m = [a for a in self.alts[j] if a.machine == m]
        placed = self._fit_block(j, block, on_m, start)
        if placed is None:
            placed = self._fit_soonest(j, block, [a for a in self.alts[j] if a.machine != m])
        if placed is None:
            self._write(j, m, start, end)
            return []
        self._write_placed(j, block, placed)
        return sorted({on for on, _at, _until in placed} - {m})

    def _fit_soonest(
        self, j: int, block: list[FlatOp], first: list[Alt]
    ) -> list[tuple[int, int, int]] | None:
        """Return the placement of `block` (_fit_block) with its first operation on one of
        `first` that ends soonest, the first such alternative on a tie; None when none fits."""
        fits = [placed for alt in first if (placed := self._fit_block(j, block, [alt], 0))]
        return min(fits, key=lambda placed: placed[-1][2], default=None)

    def _write_placed(
        self, j: int, block: list[FlatOp], placed: list[tuple[int, int, int]]
    ) -> None:
        """Write each operation of `block` as `placed` (machine, start, end)."""
        for member, (on, at, until) in zip(block, placed, strict=True):
            self.current[j] = member
            self._write(j, on, at, until)

    def _bound_after(self, op: FlatOp) -> list[FlatOp]:
        """Return the operations after `op` in its job that max_wait binds to it, each to the
        one before, up to the first that is not bound or has started."""
        flat = self.flat
        keys, bound = flat.jobs[op.job], []
        while op.max_wait is not None and op.index + 1 < len(keys):
            op = flat.ops[keys[op.index + 1]]
            if op.frozen:
                break
            bound.append(op)
        return bound

    def _choices(self, op: FlatOp) -> tuple[list[Alt], int]:
        """Return the alternatives `op` may take and the start it may not precede: with
        `keep`, its previous machine and start."""
        if self.keep is not None and op.key in self.keep:
            floor, was_on = self.keep[op.key]
            return [a for a in op.alts if a.machine == was_on] or op.alts, floor
        return op.alts, 0

    def _fit_block(
        self, j: int, block: list[FlatOp], first: list[Alt], at_least: int
    ) -> list[tuple[int, int, int]] | None:
        """Place `block` (job j's current operation and the work bound to it) as _write would,
        the first on one of `first` no earlier than `at_least`, each next one on the
        alternative that ends first among those that start within its predecessor's max_wait;
        return each one's (machine, start, end).

        When no alternative of one starts in time, the one before it starts later by the least
        that one missed by, and the block is placed again: the work before it may have to move
        too. An alternative on the machine of the one before, with a set-up after it longer
        than the wait, gains nothing from that and is not counted; when all are such, the one
        before leaves its machine. None when the first operation cannot start within the wait
        after started work before it, when a try misses where and by what the one before it
        missed, or when no room is found within _BLOCK_TRIES.
        """
        flat, plan, now = self.flat, self.plan, self.flat.problem.now
        floors = [at_least] + [0] * (len(block) - 1)
        banned: list[set[int]] = [set() for _ in block]
        missed: tuple[int, int] | None = None  # the last try's: where, and by how much
        for _ in range(_BLOCK_TRIES):
            pending = self._pending()
            placed: list[tuple[int, int, int]] = []
            for k, op in enumerate(block):
                alts, floor = self._choices(op)
                if k == 0:
                    alts = first
                alts = [a for a in alts if a.machine not in banned[k]]
                floor = max(floor, floors[k])
                latest = _INF
                if op.index > 0:
                    prev = flat.ops[flat.jobs[j][op.index - 1]]
                    if prev.max_wait is not None:
                        latest = plan.end[prev.key] + prev.max_wait
                # end, duration, start, machine, set-up
                best: tuple[int, int, int, int, int] | None = None
                short = _INF  # the least an alternative that gains from a push misses by
                stuck = False
                for alt in alts:
                    m = alt.machine
                    ready = max(_job_ready(flat, plan, op, alt, flat.release[j]), floor, now)
                    start, setup = pending.room(op, alt, ready)
                    end = start + alt.duration
                    if start <= latest and start < FOREVER:  # past the last shift: no room
                        if best is None or (end, alt.duration) < best[:2]:
                            best = (end, alt.duration, start, m, setup)
                    elif start < FOREVER:
                        if k > 0 and m == placed[k - 1][0] and setup > latest - placed[k - 1][2]:
                            stuck = True
                        else:
                            short = min(short, start - latest)
                if best is None:
                    pending.undo()
                    if k == 0 or not (stuck or short < _INF):
                        return None
                    if short < _INF:
                        # Missed where and by what the last try missed: pushed later, the
                        # block meets the same calendar again (shifts that repeat each day).
                        if missed == (k, short):
                            return None
                        missed = (k, short)
                        floors[k - 1] = placed[k - 1][1] + short
                    else:
                        banned[k - 1].add(placed[k - 1][0])
                    break
                end, _duration, start, m, setup = best
                # The plan holds the start for the next's ready.
                plan.start[op.key], plan.end[op.key], plan.machine[op.key] = start, end, m
                pending.hold(op, m, start, end, setup)
                placed.append((m, start, end))
            else:
                pending.undo()  # _write_placed writes it
                return placed
        return None

    def _pending(self) -> _Pending:
        """Return where a try of _fit_block keeps its placements aside."""
        return _AfterLast(self)

    def _place_bound_to_started(self) -> None:
        """Place first, soonest deadline first, each job's next operation that must start
        within max_wait of started work, with the work bound to it: the rule's choice could
        hold its machine past that deadline."""
        flat, plan = self.flat, self.plan
        if not any(op.frozen and op.max_wait is not None for op in flat.ops):
            return
        due: list[tuple[int, int]] = []
        for j, keys in enumerate(flat.jobs):
            if not self._next_operation(j) or self.current[j].index == 0:
                continue
            prev = flat.ops[keys[self.current[j].index - 1]]
            if prev.frozen and prev.max_wait is not None:
                due.append((plan.end[prev.key] + prev.max_wait, j))
        for _deadline, j in sorted(due):
            block = [self.current[j], *self._bound_after(self.current[j])]
            placed = self._fit_soonest(j, block, self.alts[j])
            if placed is not None:  # None: the rules place it, too late, and the conflicts say why
                self._write_placed(j, block, placed)

    def _write(self, j: int, m: int, start: int, end: int) -> None:
        """Write job j's current operation into the plan on `m`, and move the job past it."""
        flat, plan = self.flat, self.plan
        op = self.current[j]
        setup = flat.setup(op, self.last_family[m])
        if end == start and not setup and _read_before(flat, op, start, self.changed_at[m]):
            start = end = start + 1
        plan.start[op.key], plan.end[op.key], plan.machine[op.key] = start, end, m
        plan.setup[op.key] = setup
        self.free[m] = end
        if end > start or setup:  # what takes no time changes nothing over (plan.violations)
            before = self.last_family[m]
            self.changed_at[m] = (end, op.key, before) if end == start else None
            self.last_family[m] = op.family
        self._passed(j, op)

    def _passed(self, j: int, op: FlatOp) -> None:
        """Move job j past `op`, just written."""
        self.work_left[j] -= min(a.duration for a in op.alts)
        self.next_pos[j] += 1

    def _next_operation(self, j: int) -> bool:
        """Make job j's next operation that is not frozen its current one, with its
        alternatives and their ready times; False when none is left."""
        flat = self.flat
        keys = flat.jobs[j]
        while self.next_pos[j] < len(keys) and flat.ops[keys[self.next_pos[j]]].frozen:
            self.next_pos[j] += 1
        if self.next_pos[j] == len(keys):
            return False
        op = flat.ops[keys[self.next_pos[j]]]
        alts, floor = self._choices(op)
        self.current[j] = op
        self.alts[j] = alts
        release, now = flat.release[j], flat.problem.now
        self.ready[j] = [max(_job_ready(flat, self.plan, op, a, release), floor, now) for a in alts]
        return True


class _Pending:
    """Where a try of _fit_block keeps its placements aside until the whole block fits."""

    def room(self, op: FlatOp, alt: Alt, ready: int) -> tuple[int, int]:
        """Return the start and set-up of `op` on `alt`, no earlier than `ready`."""
        raise NotImplementedError

    def hold(self, op: FlatOp, m: int, start: int, end: int, setup: int) -> None:
        """Keep `op` on `m` for the block's next operations."""
        raise NotImplementedError

    def undo(self) -> None:
        """Let the placements go: _write_placed writes a block that fits."""
        raise NotImplementedError


class _AfterLast(_Pending):
    """The rules' placements: after each machine's last work, with its free time, last family
    and change-over by work that took no time kept aside as _write keeps them."""

    def __init__(self, dispatcher: _Dispatcher) -> None:
        self.d = dispatcher
        self.free: dict[int, int] = {}
        self.family: dict[int, int] = {}
        self.changed: dict[int, tuple[int, int, int] | None] = {}

    def room(self, op: FlatOp, alt: Alt, ready: int) -> tuple[int, int]:
        flat, m = self.d.flat, alt.machine
        setup = flat.setup(op, self.family.get(m, self.d.last_family[m]))
        occupy_from = max(self.free.get(m, self.d.free[m]), ready - setup, flat.problem.now)
        start = _start(flat.forbidden[m], occupy_from, setup, alt.duration)
        last = self.changed.get(m, self.d.changed_at[m])
        if alt.duration == 0 and not setup and _read_before(flat, op, start, last):
            start += 1
        return start, setup

    def hold(self, op: FlatOp, m: int, start: int, end: int, setup: int) -> None:
        self.free[m] = end
        if end > start or setup:
            before = self.family.get(m, self.d.last_family[m])
            self.changed[m] = (end, op.key, before) if end == start else None
            self.family[m] = op.family

    def undo(self) -> None:
        pass  # kept in this try's own dicts


class _General(_Dispatcher):
    """Giffler-Thompson with machine choices, calendars, set-ups, waits and frozen work.

    Each job offers its next operation on the alternative that ends first; the earliest end
    overall names a machine, and among the jobs whose offer on that machine starts before that
    end the rule chooses. A placement changes only its machine, so each job keeps the start and
    end of its operation on every alternative, and only the machine's are evaluated again; a
    job that is best elsewhere skips even that while the machine cannot end its operation
    sooner. The machines keep their earliest offer in a heap. One busy machine still costs a
    pass over the jobs waiting for it per placement: the rules take _Queued instead, which
    builds the same plan; this one serves the random rule, and least slack with due dates or a
    horizon past 2**48.
    """

    def __init__(
        self, flat: Flat, rule: str, seed: int, keep: dict[int, tuple[int, int]] | None
    ) -> None:
        super().__init__(flat, rule, seed, keep)
        n_jobs, n_machines = len(flat.jobs), len(flat.machines)
        # For each job's next operation: the (start, end) on each alternative (None: its
        # machine changed since, to be evaluated when needed), and the index of the best.
        self.offers: list[list[tuple[int, int] | None]] = [[] for _ in range(n_jobs)]
        self.best = [-1] * n_jobs
        # Per machine: the jobs with an alternative there (job -> its index), the jobs whose
        # best is there, and the earliest of those offers, (end, job), in the heap by version.
        self.touches: list[dict[int, int]] = [{} for _ in range(n_machines)]
        self.best_on: list[set[int]] = [set() for _ in range(n_machines)]
        self.earliest: list[tuple[int, int] | None] = [None] * n_machines

    def _step(self, ect: int, j0: int, m: int) -> None:
        self._place(self._choose(m, ect, j0), m)

    def _offer(self, j: int) -> tuple[int, int, Alt]:
        """Return job j's best offer: start, end, alternative."""
        i = self.best[j]
        start, end = self.offers[j][i]  # type: ignore[misc]
        return start, end, self.alts[j][i]

    def _choose(self, m: int, ect: int, j0: int) -> int:
        """Return the job the rule picks among those whose offer on `m` starts before `ect`."""
        jobs, next_pos, priority = self.flat.jobs, self.next_pos, self.priority
        offers, best, alts = self.offers, self.best, self.alts
        chosen, chosen_key = -1, None
        for j in self.best_on[m]:
            offer = offers[j][best[j]]
            assert offer is not None
            # j0 itself belongs even when it takes no time (its start is then its end).
            if offer[0] < ect or j == j0:
                offered = (offer[0], offer[1], alts[j][best[j]])
                key = (priority(j, jobs[j][next_pos[j]], offered), j)
                if chosen_key is None or key < chosen_key:
                    chosen, chosen_key = j, key
        return chosen

    def _place(self, chosen: int, m: int) -> None:
        """Put `chosen`'s operation on `m`; evaluate again what that changes, and only that."""
        flat = self.flat
        start, end, _alt = self._offer(chosen)
        also_on = self._put(chosen, m, start, end)
        end = self.free[m]  # later than offered for work read before a change (_read_before)
        # Machines whose earliest offer left them, and offers that moved to another machine.
        lost: set[int] = set()
        gained: list[tuple[int, int]] = []
        offers, best, alts, earliest = self.offers, self.best, self.alts, self.earliest
        # _evaluate, inline, with what it reads read once: this is the dispatch's inner loop.
        free, family, windows, now = end, self.last_family[m], flat.forbidden[m], flat.problem.now
        current, ready_on = self.current, self.ready
        for j, i in self.touches[m].items():
            was, job_alts = best[j], alts[j]
            duration, ready = job_alts[i].duration, ready_on[j][i]
            if was != i:
                # Best elsewhere: this machine can win only if it can end the operation sooner.
                held = offers[j][was]
                assert held is not None
                if (free if free > ready else ready) + duration > held[1]:
                    offers[j][i] = None
                    continue
            setup = flat.setup(current[j], family)
            start = _start(windows, max(free, ready - setup, now), setup, duration)
            offers[j][i] = (start, start + duration)
            if len(job_alts) == 1:
                continue
            after = self._settle(j)
            if after != was:
                before, after = job_alts[was].machine, job_alts[after].machine
                self.best_on[before].discard(j)
                self.best_on[after].add(j)
                if before != m and (first := earliest[before]) is not None and first[1] == j:
                    lost.add(before)
                if after != m:
                    gained.append((after, j))
        self._advance(chosen)
        if best[chosen] >= 0 and (to := alts[chosen][best[chosen]].machine) != m:
            gained.append((to, chosen))
        for other in lost | {m}:
            self._refresh(other)
        for other, j in gained:
            offer = offers[j][best[j]]
            assert offer is not None
            first = earliest[other]
            if other not in lost and (first is None or (offer[1], j) < first):
                self._push(other, (offer[1], j))
        for other in also_on:
            self._taken(other)

    def _taken(self, m: int) -> None:
        """Evaluate again every offer on `m`, which work bound to another placement took, and
        the machines' earliest offers that this changes."""
        offers, best, alts = self.offers, self.best, self.alts
        changed = {m}
        for j, i in self.touches[m].items():
            offers[j][i] = None
            was = best[j]
            after = self._settle(j)
            if after != was:
                before, to = alts[j][was].machine, alts[j][after].machine
                self.best_on[before].discard(j)
                self.best_on[to].add(j)
                changed.update((before, to))
        for other in changed:
            self._refresh(other)

    def _put(self, j: int, m: int, start: int, end: int) -> list[int]:
        """Write job j's current operation into the plan on `m` (with the work bound to it),
        and what that changes; return the other machines bound work took."""
        also_on = self._write_block(j, m, start, end)
        self._detach(j)
        return also_on

    def _evaluate(self, j: int, i: int) -> tuple[int, int]:
        """Return the start and end of job j's next operation on its alternative i, now."""
        flat = self.flat
        alt = self.alts[j][i]
        m = alt.machine
        setup = flat.setup(self.current[j], self.last_family[m])
        occupy_from = max(self.free[m], self.ready[j][i] - setup, flat.problem.now)  # now >= 0
        start = _start(flat.forbidden[m], occupy_from, setup, alt.duration)
        return start, start + alt.duration

    def _settle(self, j: int) -> int:
        """Evaluate what is stale of job j's offers; return (and keep) the index of the best.

        The first alternative that ends soonest, the shorter one on a tie.
        """
        offers, alts = self.offers[j], self.alts[j]
        best, best_end, best_duration = -1, 0, 0
        for i, alt in enumerate(alts):
            offer = offers[i]
            if offer is None:
                offer = offers[i] = self._evaluate(j, i)
            end = offer[1]
            if best < 0 or end < best_end or (end == best_end and alt.duration < best_duration):
                best, best_end, best_duration = i, end, alt.duration
        self.best[j] = best
        return best

    def _advance(self, j: int) -> None:
        """Make job j offer its next operation that is not frozen, if any is left."""
        if not self._next_operation(j):
            self.best[j] = -1
            return
        alts = self.alts[j]
        self.offers[j] = [None] * len(alts)
        for i, alt in enumerate(alts):
            self.touches[alt.machine][j] = i
        self.best_on[alts[self._settle(j)].machine].add(j)

    def _detach(self, j: int) -> None:
        """Take job j's current operation out of every machine's reckoning."""
        for alt in self.alts[j]:
            del self.touches[alt.machine][j]
        self.best_on[self.alts[j][self.best[j]].machine].discard(j)

    def _refresh(self, m: int) -> None:
        """Find machine m's earliest offer again and put it in the heap."""
        earliest: tuple[int, int] | None = None
        offers, best = self.offers, self.best
        for j in self.best_on[m]:
            offer = offers[j][best[j]]
            assert offer is not None
            if earliest is None or (offer[1], j) < earliest:
                earliest = (offer[1], j)
        self._push(m, earliest)

    def _push(self, m: int, earliest: tuple[int, int] | None) -> None:
        """Make `earliest` machine m's earliest offer; the heap's older entries for m lapse."""
        self.version[m] += 1
        self.earliest[m] = earliest
        if earliest is not None:
            heapq.heappush(self.heap, (earliest[0], earliest[1], m, self.version[m]))


class _Serial(_Dispatcher):
    """Jobs taken by the earliest start of their next operation, which goes to the alternative
    that ends it first, in the first gap of that machine that holds it (timeline.Timeline):
    fast, and seldom good, a plan when no rule finishes within the limit.

    Work taken later may start sooner, in room that work taken before left (before a closure
    it did not fit, or while it waited for its order): appended after the machine's last work
    instead, it would wait behind work it need not. Work bound by max_wait goes in blocks, as
    the rules place them, in the same gaps (see _fit_block).
    """

    def __init__(self, flat: Flat, keep: dict[int, tuple[int, int]] | None) -> None:
        super().__init__(flat, "fifo", 0, keep)
        self.timeline = Timeline(flat, self.plan)
        self.after_last = False  # where _fit_block places a block: see there

    def build(self, should_stop: Callable[[], bool] | None) -> Plan:
        """Place every operation once; raise DispatchStopped on cancel."""
        heap: list[tuple[int, int]] = []
        self._place_bound_to_started()
        for j in range(len(self.flat.jobs)):
            if self._next_operation(j):
                heap.append((self._soonest(j)[1], j))
        heapq.heapify(heap)
        placed = 0
        while heap:
            placed += 1
            _check(placed, should_stop, None)
            _, j = heapq.heappop(heap)
            # Machines have taken work since this offer was made: it is looked for again.
            i, start, end = self._soonest(j)
            self._write_block(j, self.alts[j][i].machine, start, end)
            if self._next_operation(j):
                heapq.heappush(heap, (self._soonest(j)[1], j))
        return self.plan

    def _soonest(self, j: int) -> tuple[int, int, int]:
        """Return job j's alternative that ends its operation first (the shorter on a tie, then
        the first), with the start and end."""
        op, best, best_duration = self.current[j], (-1, 0, 0), 0
        for i, alt in enumerate(self.alts[j]):
            start, _setup = self.timeline.slot(op, alt, self.ready[j][i])
            end = start + alt.duration
            if best[0] < 0 or (end, alt.duration) < (best[2], best_duration):
                best, best_duration = (i, start, end), alt.duration
        return best

    def _write(self, j: int, m: int, start: int, end: int) -> None:
        op = self.current[j]
        self.timeline.place(op, m, start, end)
        self._passed(j, op)

    def _fit_block(
        self, j: int, block: list[FlatOp], first: list[Alt], at_least: int
    ) -> list[tuple[int, int, int]] | None:
        """Place `block` in the gaps of its machines or, when it finds none that keep its
        waits, after their last work, as the rules do: pushed later to fit its waits, it
        would meet the work of the gaps beyond again and again."""
        placed = super()._fit_block(j, block, first, at_least)
        if placed is None:
            self.after_last = True
            try:
                placed = super()._fit_block(j, block, first, at_least)
            finally:
                self.after_last = False
        return placed

    def _pending(self) -> _Pending:
        return _InGaps(self.timeline, self.after_last)


class _InGaps(_Pending):
    """The serial plan's placements: made in its timeline (in its gaps, or after the last
    work), and taken out again."""

    def __init__(self, timeline: Timeline, after_last: bool) -> None:
        self.timeline = timeline
        self.after_last = after_last
        self.made: list[Placed] = []

    def room(self, op: FlatOp, alt: Alt, ready: int) -> tuple[int, int]:
        return self.timeline.slot(op, alt, ready, last=self.after_last)

    def hold(self, op: FlatOp, m: int, start: int, end: int, setup: int) -> None:
        self.made.append(self.timeline.place(op, m, start, end))

    def undo(self) -> None:
        while self.made:
            self.timeline.remove(self.made.pop())


# Rules under which the order of jobs that start at the same time does not depend on that time
# (random draws anew at each look); slack only among jobs of one weight, see _start_free_key.
_START_FREE_RULES = frozenset({"mwkr", "mor", "spt", "lpt", "edd", "fifo", "slack"})
# Below this, slack's division by the weight keeps apart what differs (see _start_free_key).
_EXACT = 1 << 48


def _start_free(flat: Flat, rule: str) -> bool:
    """Tell whether _Queued can order the jobs that start together by a key of their own."""
    if rule not in _START_FREE_RULES:
        return False
    return rule != "slack" or (
        flat.horizon < _EXACT and all(due is None or abs(due) < _EXACT for due in flat.due)
    )


# Heap entries (time, job, stamp, alternative index) and (rule's key, job, stamp, index).
_Timed = tuple[int, int, int, int]
_Ranked = tuple[tuple[float, ...], int, int, int]


class _Family:
    """The waiting jobs of one set-up class on one machine whose ready time has passed.

    Those whose set-up and duration fit before the machine's next window all start when it can
    next be occupied plus the same set-up, so the rule's choice among them is the first in a
    heap by a key that does not depend on the start; the one that ends first is the shortest,
    even when none fits.
    """

    __slots__ = ("by_duration", "by_rule", "op")

    def __init__(self, op: FlatOp) -> None:
        self.op = op  # any operation of the class: they all take the same set-ups
        self.by_duration: list[_Timed] = []
        self.by_rule: list[_Ranked] = []


class _Queued(_Dispatcher):
    """The general dispatch in heaps per machine: it builds the plan _General builds.

    A job's offer on a machine is the machine's free time plus the set-up, or its ready time if
    later, pushed past a forbidden window it does not fit before. Each machine keeps the jobs
    that could use it in heaps by set-up class (ready time passed) or by ready time (not yet),
    so a placement looks at the heads of its machine's heaps, not at every job waiting there.
    Which machine is a job's best is not kept but worked out for the jobs the heads name: a
    choice looks past the jobs the rule prefers whose best is elsewhere, and, about once a
    window, at every job that does not fit before it.
    """

    def __init__(
        self, flat: Flat, rule: str, seed: int, keep: dict[int, tuple[int, int]] | None
    ) -> None:
        super().__init__(flat, rule, seed, keep)
        n_jobs, n_machines = len(flat.jobs), len(flat.machines)
        self.rule_key = _start_free_key(flat, rule, self.work_left)
        if self.rank is not None:
            rank = self.rank
            self.rule_key = lambda j, op, alt: (rank[op.key],)
        # Per job: which alternatives have passed their machine's free time, and a stamp that
        # changes when the job moves on, which makes the heap entries of its last operation
        # lapse.
        self.passed: list[list[bool]] = [[] for _ in range(n_jobs)]
        self.stamp = [0] * n_jobs
        self.classes: list[dict[int, _Family]] = [{} for _ in range(n_machines)]
        self.class_of: dict[tuple[int, tuple[tuple[int, int], ...], int, int], int] = {}
        self.by_weight = rule == "slack" and keep is None
        # Jobs not yet ready on a machine, by ready time and by ready time plus duration.
        self.by_ready: list[list[_Timed]] = [[] for _ in range(n_machines)]
        self.by_ready_end: list[list[_Timed]] = [[] for _ in range(n_machines)]

    def _step(self, ect: int, j0: int, m0: int) -> None:
        # j0's earliest end may be on m0 and on a machine it takes first on a tie as well.
        i0, start0, end0 = self._best(j0)
        m = self.alts[j0][i0].machine
        chosen, (_i, start, end) = self._choose(m, ect, j0, (i0, start0, end0))
        touched = {m, m0, *(a.machine for a in self.alts[chosen])}
        also_on = self._put(chosen, m, start, end)
        for other in [m, *also_on]:
            self._promote(other)
        touched.update(also_on)
        self._advance(chosen)
        touched.update(a.machine for a in self.alts[chosen])
        for other in touched:
            self._refresh(other)

    def _offer(self, j: int, i: int) -> tuple[int, int]:
        """Return the start and end of job j's next operation on its alternative i, now."""
        alt = self.alts[j][i]
        m = alt.machine
        setup = self.flat.setup(self.current[j], self.last_family[m])
        occupy_from = max(self.free[m], self.ready[j][i] - setup, self.flat.problem.now)
        start = _start(self.flat.forbidden[m], occupy_from, setup, alt.duration)
        return start, start + alt.duration

    def _best(self, j: int) -> tuple[int, int, int]:
        """Return job j's best alternative, start and end: the first that ends soonest, the
        shorter one on a tie (as _General._settle)."""
        # _offer, inline: the choice may weigh many jobs whose best is elsewhere.
        setup, op, last_family = self.flat.setup, self.current[j], self.last_family
        free, now, ready, forbidden = (
            self.free,
            self.flat.problem.now,
            self.ready[j],
            self.flat.forbidden,
        )
        best, best_start, best_end, best_duration = -1, 0, 0, 0
        for i, alt in enumerate(self.alts[j]):
            m, duration = alt.machine, alt.duration
            s, windows = setup(op, last_family[m]), forbidden[m]
            occupy_from = max(free[m], ready[i] - s, now)
            if windows:
                start = earliest_start(windows, occupy_from, s, duration)
            else:
                start = occupy_from + s
            end = start + duration
            if best < 0 or end < best_end or (end == best_end and duration < best_duration):
                best, best_start, best_end, best_duration = i, start, end, duration
        return best, best_start, best_end

    def _choose(
        self, m: int, ect: int, j0: int, offer0: tuple[int, int, int]
    ) -> tuple[int, tuple[int, int, int]]:
        """Return the job the rule picks among those whose best is `m` and starts before
        `ect` (j0, whose best is `m`, belongs even when it takes no time), with its offer."""
        flat, stamp, alts = self.flat, self.stamp, self.alts
        family = self.last_family[m]
        openings = self._openings(m, ect)
        offers = [(j0, offer0)]
        for queue in self.classes[m].values():
            setup = flat.setup(queue.op, family)
            # An operation starts in the first gap between windows that it fits in, after its
            # set-up: those of one gap start at once, and the rule's first of them whose best
            # is here is the one to weigh. Gaps opening too late do not count, nor those no
            # longer than an earlier one (what fits them fits before), nor the first when even
            # the shortest does not fit it.
            gaps = [gap for at, gap in openings if at + setup < ect]
            done, widest = [False] * len(gaps), -1
            for k, gap in enumerate(gaps):
                done[k], widest = gap <= widest, max(widest, gap)
            by_duration = queue.by_duration
            while by_duration and stamp[by_duration[0][1]] != by_duration[0][2]:
                heapq.heappop(by_duration)
            if gaps and (not by_duration or setup + by_duration[0][0] > gaps[0]):
                done[0] = True
            left, ranked, passed_over = done.count(False), queue.by_rule, []
            while left and ranked:
                _key, j, st, i = ranked[0]
                if stamp[j] != st:
                    heapq.heappop(ranked)
                    continue
                length = setup + alts[j][i].duration
                if length <= gaps[0]:
                    k = 0  # most often: no window is near
                else:
                    k = next((k for k, gap in enumerate(gaps) if length <= gap), -1)
                if k >= 0 and not done[k] and (best := self._best(j))[0] == i:
                    offers.append((j, best))
                    done[k], left = True, left - 1
                passed_over.append(heapq.heappop(ranked))
            for entry in passed_over:
                heapq.heappush(ranked, entry)
        # Not yet ready: one that starts before ect is ready before it.
        timed, looked_at = self.by_ready[m], []
        while timed:
            ready, j, st, i = timed[0]
            if stamp[j] != st or self.passed[j][i]:
                heapq.heappop(timed)
                continue
            if ready >= ect:
                break
            looked_at.append(heapq.heappop(timed))
            best = self._best(j)
            if best[0] == i and best[1] < ect:
                offers.append((j, best))
        for timed_entry in looked_at:
            heapq.heappush(timed, timed_entry)
        return min(offers, key=lambda offer: self._rule(*offer))

    def _rule(self, j: int, offer: tuple[int, int, int]) -> tuple[tuple[float, ...], int]:
        """Return the rule's key of job j's offer (alternative, start, end), the job on a tie."""
        i, start, end = offer
        key = self.flat.jobs[j][self.next_pos[j]]
        return self.priority(j, key, (start, end, self.alts[j][i])), j

    def _put(self, j: int, m: int, start: int, end: int) -> list[int]:
        """Write job j's current operation into the plan on `m` (with the work bound to it),
        and what that changes; return the other machines bound work took."""
        also_on = self._write_block(j, m, start, end)
        self.stamp[j] += 1
        return also_on

    def _advance(self, j: int) -> None:
        """Make job j offer its next operation that is not frozen, if any is left."""
        self.stamp[j] += 1
        if not self._next_operation(j):
            self.alts[j] = []
            return
        alts, now = self.alts[j], self.flat.problem.now
        self.passed[j] = [False] * len(alts)
        st = self.stamp[j]
        for i, alt in enumerate(alts):
            m, ready = alt.machine, self.ready[j][i]
            if ready <= max(self.free[m], now):
                self._pass(j, i)
            else:
                heapq.heappush(self.by_ready[m], (ready, j, st, i))
                heapq.heappush(self.by_ready_end[m], (ready + alt.duration, j, st, i))

    def _pass(self, j: int, i: int) -> None:
        """Move job j's alternative i among those whose ready time has passed."""
        self.passed[j][i] = True
        op, alt = self.current[j], self.alts[j][i]
        m = alt.machine
        # slack orders jobs that start together by a key of their own only within one weight.
        weight = max(self.flat.weight[j], 1) if self.by_weight else 1
        if self.flat.has_setups[m]:
            shape = (op.family, tuple(sorted(op.setup_from.items())), op.setup_default, weight)
        else:
            shape = (-1, (), 0, weight)  # no set-ups here
        c = self.class_of.setdefault(shape, len(self.class_of))
        queue = self.classes[m].get(c)
        if queue is None:
            queue = self.classes[m][c] = _Family(op)
        st = self.stamp[j]
        heapq.heappush(queue.by_duration, (alt.duration, j, st, i))
        heapq.heappush(queue.by_rule, (self.rule_key(j, op, alt), j, st, i))

    def _promote(self, m: int) -> None:
        """Move the jobs whose ready time the machine's free time has reached."""
        free, heap, stamp = max(self.free[m], self.flat.problem.now), self.by_ready[m], self.stamp
        while heap and heap[0][0] <= free:
            _ready, j, st, i = heapq.heappop(heap)
            if stamp[j] == st and not self.passed[j][i]:
                self._pass(j, i)

    def _openings(self, m: int, before: int) -> list[tuple[int, int]]:
        """Return the gaps between machine m's windows from its free time on, as (when it can
        be occupied, for how long), those that open before `before` (at least one).

        An operation whose set-up and duration fit in a gap and in none before starts there
        after its set-up, as earliest_start finds.
        """
        windows, at = self.flat.forbidden[m], max(self.free[m], self.flat.problem.now)
        gaps: list[tuple[int, int]] = []
        i = bisect_right(windows, (at, 1 << 62)) - 1
        # By index, not over a slice: the machine may have thousands of windows after `at`, a
        # slice would copy them all, and this runs for each placement.
        for k in range(max(i, 0), len(windows)):
            window_start, window_end = windows[k]
            if window_end <= at:
                continue
            if window_start > at:  # the windows are merged: each starts after a gap
                if gaps and at >= before:
                    return gaps
                gaps.append((at, window_start - at))
            at = window_end
        return [*gaps, (at, _INF)] if not gaps or at < before else gaps

    def _refresh(self, m: int) -> None:
        """Find machine m's earliest end among all the jobs that could use it; push it."""
        flat, stamp = self.flat, self.stamp
        free, family = max(self.free[m], flat.problem.now), self.last_family[m]
        (opens, gap), *_later = self._openings(m, 0)
        earliest: tuple[int, int] | None = None
        for queue in self.classes[m].values():
            heap = queue.by_duration
            while heap and stamp[heap[0][1]] != heap[0][2]:
                heapq.heappop(heap)
            if heap:
                # The shortest ends first even when it must wait past a window: a longer one
                # fits nowhere sooner.
                duration, j = heap[0][0], heap[0][1]
                setup = flat.setup(queue.op, family)
                if setup + duration <= gap:
                    end = opens + setup + duration
                else:
                    end = _start(flat.forbidden[m], free, setup, duration) + duration
                if earliest is None or (end, j) < earliest:
                    earliest = (end, j)
        # Not yet ready: no sooner than ready time plus duration, later when a set-up is due.
        heap, aside = self.by_ready_end[m], []
        while heap:
            bound, j, st, i = heap[0]
            if stamp[j] != st or self.passed[j][i]:
                heapq.heappop(heap)
                continue
            if earliest is not None and (bound, j) > earliest:
                break
            aside.append(heapq.heappop(heap))
            end = self._offer(j, i)[1]
            if earliest is None or (end, j) < earliest:
                earliest = (end, j)
        for entry in aside:
            heapq.heappush(heap, entry)
        self.version[m] += 1
        if earliest is not None:
            heapq.heappush(self.heap, (earliest[0], earliest[1], m, self.version[m]))


def _start_free_key(
    flat: Flat, rule: str, work_left: list[int]
) -> Callable[[int, FlatOp, Alt], tuple[float, ...]]:
    """Return the part of the rule's key that orders jobs starting at the same time."""
    ops_left = [len(k) for k in flat.jobs]

    def key(j: int, op: FlatOp, alt: Alt) -> tuple[float, ...]:
        if rule in ("mwkr", "fifo"):  # (-work left, start) and (start, -work left)
            return (-work_left[j],)
        if rule == "mor":
            return (-(ops_left[j] - op.index),)
        if rule == "spt":
            return (alt.duration,)
        if rule == "lpt":
            return (-alt.duration,)
        due = flat.due[j]
        if rule == "edd":
            return (due if due is not None else _INF, -work_left[j])
        # slack: ((due - start - work left) / weight, -work left). With one weight and numbers
        # below 2**48 the division is monotone and keeps distinct numerators apart; without a
        # due date (2**60) it rounds, but the one with more work left comes first either way.
        if due is None:
            return (1, 0, -work_left[j])
        return (0, due - work_left[j], -work_left[j])

    return key


def _read_before(flat: Flat, op: FlatOp, start: int, changed: tuple[int, int, int] | None) -> bool:
    """Tell whether `op`, taking no time and no set-up at `start`, would be read before work
    that took no time there and changed the family over, and need a set-up from the family
    before that.

    plan.violations reads a machine by start, then end, then key: at the same instant, work
    with a smaller key comes first, whatever the order of placement. Such work starts one
    unit later instead, as the CP-SAT models place it.
    """
    if changed is None:
        return False
    at, key, before = changed
    return start == at and op.key < key and flat.setup(op, before) > 0


def _with_frozen_work(flat: Flat) -> tuple[Plan, list[int], list[int]]:
    """Return a plan holding the started operations where the floor reported them, and each
    machine's free time and last family after them."""
    n_ops = len(flat.ops)
    plan = Plan([0] * n_ops, [0] * n_ops, [-1] * n_ops, [0] * n_ops)
    free = [0] * len(flat.machines)
    last_family = list(flat.initial_family)
    for op in _frozen_in_time_order(flat):
        assert op.frozen_start is not None and op.frozen_end is not None
        assert op.frozen_machine is not None
        m = op.frozen_machine
        plan.start[op.key], plan.end[op.key], plan.machine[op.key] = (
            op.frozen_start,
            op.frozen_end,
            m,
        )
        free[m] = max(free[m], op.frozen_end)
        if op.frozen_end > op.frozen_start:  # what took no time changed nothing over
            last_family[m] = op.family
    return plan, free, last_family


def _frozen_in_time_order(flat: Flat) -> list[FlatOp]:
    """Return the frozen operations as plan.violations reads a machine: by start, then end."""
    frozen = [op for op in flat.ops if op.frozen]
    return sorted(frozen, key=lambda op: (op.frozen_start or 0, op.frozen_end or 0))


def _start(windows: list[tuple[int, int]], occupy_from: int, setup: int, duration: int) -> int:
    """Return the first start on a machine with these forbidden windows (none: at once)."""
    if windows:
        return earliest_start(windows, occupy_from, setup, duration)
    return occupy_from + setup


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
    at_hand: Plan | None = None,
) -> Plan | None:
    """Run several rules and keep the feasible plan with the best objective.

    The first rule always runs; another starts only if it should end before `deadline`
    (a `time.monotonic()` value), judging by the slowest run so far. Any run stops on cancel
    or at `give_up`. A serial plan (serial_plan), made first, placing each operation once,
    stands in when no rule ends by then, and competes with the rules' plans, losing ties; a
    plan at hand that keeps every rule (`at_hand`, such as a repair) takes its place. None when
    a cancel stopped every plan before it was whole.
    """
    serial = at_hand
    if serial is None:
        try:
            serial = serial_plan(flat, should_stop=should_stop)
        except DispatchStopped:
            serial = None  # cancelled: the rules stop too, unless one ends first
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
    if serial is not None and (at_hand is not None or not violations(flat, serial)):
        value = objective_vector(flat, serial)
        if best is None or value < best[0]:
            best = (value, serial)
    if best is not None:
        return best[1]
    return fallback or serial
