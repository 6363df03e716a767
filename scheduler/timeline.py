"""Each machine's placed work in the order plan.violations reads it, and the first gap in it
that holds an operation: where the serial plan puts work, not only after a machine's last."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterator
from itertools import islice

from scheduler.flat import Alt, Flat, FlatOp
from scheduler.plan import Plan, earliest_start, overlaps_window

# (start, end, key): plan.violations reads a machine's work in this order.
Entry = tuple[int, int, int]
# What `place` changed, for `remove`: machine, entry, whether it holds the machine, and the
# work after it whose set-up it changed, with that set-up as it was.
Placed = tuple[int, Entry, bool, int | None, int]
# An idle stretch between two works holding a machine: (end, start, room, the key of the work
# after it, the family before it, reach), its room the longest part of it outside the
# machine's windows, its reach that room and the set-up of the work after it: the most that
# work placed in it may hold the machine for, when it spares the work after a set-up.
Gap = tuple[int, int, int, int, int, int]

# Gaps per block of an Idle index; a block twice as large is split.
_BLOCK = 64
# Windows looked at to measure a gap's room; past them, its room is taken as large enough
# for anything, and the look for a start there says.
_WINDOWS_MEASURED = 16
# Gaps with room enough that one look for a start tries before it places after the machine's
# last work: the work after a gap may refuse what would fit in it, gap after gap.
_GAPS_TRIED = 32


def _most(block: list[Gap]) -> dict[int, int]:
    """Return the largest reach of a block's gaps per family before them."""
    most: dict[int, int] = {}
    for gap in block:
        most[gap[4]] = max(most.get(gap[4], 0), gap[5])
    return most


class Idle:
    """A machine's idle gaps in order, in blocks that know their largest reach per family
    before the gap: a look for room skips the blocks with none for the operation and the
    set-up it needs there, so the many gaps too short for them (the nights of a plant working
    in shifts, the ends of shifts too short for a change-over) cost little."""

    def __init__(self) -> None:
        self.blocks: list[list[Gap]] = []
        self.lasts: list[Gap] = []  # each block's last gap
        self.most: list[dict[int, int]] = []  # each block's largest reach per family before
        self.tops: list[int] = []  # each block's largest reach

    def add(self, gap: Gap) -> None:
        """Add a gap."""
        if not self.blocks:
            self.blocks, self.lasts, self.most = [[gap]], [gap], [{gap[4]: gap[5]}]
            self.tops = [gap[5]]
            return
        k = min(bisect_left(self.lasts, gap), len(self.blocks) - 1)
        block, most = self.blocks[k], self.most[k]
        insort(block, gap)
        self.lasts[k] = block[-1]
        most[gap[4]] = max(most.get(gap[4], 0), gap[5])
        self.tops[k] = max(self.tops[k], gap[5])
        if len(block) > 2 * _BLOCK:
            halves = [block[:_BLOCK], block[_BLOCK:]]
            self.blocks[k : k + 1] = halves
            self.lasts[k : k + 1] = [half[-1] for half in halves]
            mosts = [_most(half) for half in halves]
            self.most[k : k + 1] = mosts
            self.tops[k : k + 1] = [max(most.values()) for most in mosts]

    def remove(self, gap: Gap) -> None:
        """Remove a gap that was added."""
        k = bisect_left(self.lasts, gap)
        block = self.blocks[k]
        del block[bisect_left(block, gap)]
        if block:
            self.lasts[k] = block[-1]
            if gap[5] == self.most[k][gap[4]]:
                self.most[k] = _most(block)
                self.tops[k] = max(self.most[k].values())
        else:
            del self.blocks[k], self.lasts[k], self.most[k], self.tops[k]

    def ending_after(
        self, at: int, room: int, need: Callable[[int], int], least: int = 0, own: int = -1
    ) -> Iterator[Gap]:
        """Yield in order the gaps that end after `at` with at least `room` of room and the
        reach `need` asks after the family before them."""
        for k in range(bisect_left(self.lasts, (at + 1,)), len(self.blocks)):
            most = self.most[k]
            if self.tops[k] < least and own not in most and -1 not in most:
                continue
            if any(reach >= need(family) for family, reach in most.items()):
                block = self.blocks[k]
                for gap in block[bisect_left(block, (at + 1,)) :]:
                    if gap[2] >= room and gap[5] >= need(gap[4]):
                        yield gap


class Timeline:
    """Per machine, the work placed on it that holds it (takes time or a set-up), the idle
    gaps between, and the work that takes no time and needs no set-up, which may lie anywhere
    but must go on needing none. Placing work never moves work placed before; the set-up of
    the work after it follows the family it brings."""

    def __init__(self, flat: Flat, plan: Plan) -> None:
        self.flat = flat
        self.plan = plan
        self.held: list[list[Entry]] = [[] for _ in flat.machines]
        self.loose: list[list[Entry]] = [[] for _ in flat.machines]
        self.idle = [Idle() for _ in flat.machines]
        # The least set-up each operation may need after another family: a look at a block
        # of gaps starts from it (`slot`).
        self.least_setup = [min([op.setup_default, *op.setup_from.values()]) for op in flat.ops]
        # A room this long holds any operation and any set-up it needs.
        self.enough = 1 + max(
            (
                a.duration + max([op.setup_default, *op.setup_from.values()])
                for op in flat.ops
                for a in op.alts
            ),
            default=0,
        )
        for op in flat.ops:
            # Started work holds its machine; what took no time needs no set-up (violations).
            start, end, m = op.frozen_start, op.frozen_end, op.frozen_machine
            if start is not None and end is not None and m is not None and end > start:
                self.held[m].append((start, end, op.key))
        for m, held in enumerate(self.held):
            held.sort()
            for i in range(len(held)):
                self._open(m, i)

    def slot(self, op: FlatOp, alt: Alt, ready: int, last: bool = False) -> tuple[int, int]:
        """Return the earliest start of `op` on `alt` at or after `ready` (which `now` bounds),
        with its set-up: in the first idle gap of the machine that holds both, between its
        windows, and leaves the work after it room for the set-up it then needs, among the
        first `_GAPS_TRIED` with room for both; else, and with `last`, after all the work that
        holds the machine."""
        m, held = alt.machine, self.held[alt.machine]
        if last:
            return self._after_last(op, alt, ready)
        if alt.duration == 0:  # anywhere, if it needs no set-up where it is read
            at = bisect_left(held, (ready, ready, op.key))
            if self.flat.setup(op, self._family(m, at)) == 0:
                return ready, 0
        plan, flat = self.plan, self.flat

        def need(family: int) -> int:
            return alt.duration + flat.setup(op, family)

        def spares(gap: Gap) -> bool:
            after = flat.ops[gap[3]]
            after_needs = 0 if after.frozen else flat.setup(after, op.family)
            return need(gap[4]) <= gap[2] + max(0, gap[5] - gap[2] - after_needs)

        least = alt.duration + self.least_setup[op.key]
        gaps = filter(
            spares,
            self.idle[m].ending_after(ready, max(alt.duration, 1), need, least, op.family),
        )
        for _end, _start, _room, key, _family, _reach in islice(gaps, _GAPS_TRIED):
            i = bisect_left(held, (plan.start[key], plan.end[key], key))
            fit = self._fit(op, alt, ready, i)
            if fit is not None:
                return fit
        return self._after_last(op, alt, ready)

    def place(self, op: FlatOp, m: int, start: int, end: int) -> Placed:
        """Write `op` into the plan on `m` from `start` to `end` (as `slot` found it), with the
        set-up it needs there and the one the work after it then needs; return what `remove`
        takes to undo it."""
        plan, held = self.plan, self.held[m]
        entry = (start, end, op.key)
        i = bisect_left(held, entry)
        setup = self.flat.setup(op, self._family(m, i))
        plan.start[op.key], plan.end[op.key], plan.machine[op.key] = start, end, m
        plan.setup[op.key] = setup
        if end == start and not setup:
            insort(self.loose[m], entry)
            return (m, entry, False, None, 0)
        self._close(m, i)
        held.insert(i, entry)
        after, was = None, 0
        if i + 1 < len(held):
            work = self.flat.ops[held[i + 1][2]]
            after, was = work.key, plan.setup[work.key]
            plan.setup[work.key] = 0 if work.frozen else self.flat.setup(work, op.family)
            self._open(m, i + 1)
        self._open(m, i)
        return (m, entry, True, after, was)

    def remove(self, placed: Placed) -> None:
        """Undo a `place`: the plan keeps the operation's times until it is placed again."""
        m, entry, holds, after, was = placed
        if not holds:
            del self.loose[m][bisect_left(self.loose[m], entry)]
            return
        held = self.held[m]
        i = bisect_left(held, entry)
        self._close(m, i)
        if after is not None:
            self._close(m, i + 1)
            self.plan.setup[after] = was
        del held[i]
        self._open(m, i)

    def _gap(self, m: int, i: int) -> Gap | None:
        """Return the idle gap before the i-th work holding machine m, if it has one."""
        held, plan = self.held[m], self.plan
        if i == len(held):
            return None  # after the last work: open, and looked at apart
        key, now = held[i][2], self.flat.problem.now
        end = held[i][0] - plan.setup[key]
        start = max(held[i - 1][1], now) if i else now  # nothing starts before now
        if end <= start:
            return None
        room = self._room(m, start, end)
        return (end, start, room, key, self._family(m, i), room + plan.setup[key])

    def _open(self, m: int, i: int) -> None:
        gap = self._gap(m, i)
        if gap is not None:
            self.idle[m].add(gap)

    def _close(self, m: int, i: int) -> None:
        gap = self._gap(m, i)
        if gap is not None:
            self.idle[m].remove(gap)

    def _room(self, m: int, start: int, end: int) -> int:
        """Return the longest stretch of [start, end) outside machine m's windows, or
        `enough` when it is that long or has too many windows to measure."""
        windows, room = self.flat.forbidden[m], 0
        i = max(bisect_right(windows, (start, 1 << 62)) - 1, 0)
        for ws, we in windows[i : i + _WINDOWS_MEASURED]:
            if ws >= end:
                break
            if we > start:
                room = max(room, ws - start)
                start = we
            if start >= end:
                return min(room, self.enough)
        else:
            if i + _WINDOWS_MEASURED < len(windows) and windows[i + _WINDOWS_MEASURED][0] < end:
                return self.enough
        return min(max(room, end - start), self.enough)

    def _family(self, m: int, i: int) -> int:
        """Return the family in force before the i-th work holding machine m."""
        if i == 0:
            return self.flat.initial_family[m]
        return self.flat.ops[self.held[m][i - 1][2]].family

    def _fit(self, op: FlatOp, alt: Alt, ready: int, i: int) -> tuple[int, int] | None:
        """Return the earliest start and set-up of `op` on `alt` in the gap before the i-th
        work holding the machine, or None."""
        start, setup = self._in_gap(op, alt, ready, i)
        end, after = start + alt.duration, self.held[alt.machine][i]
        if (start, end, op.key) > after:
            return None
        if (end > start or setup) and not self._leaves_room(op, alt.machine, start, end, i):
            return None
        return start, setup

    def _after_last(self, op: FlatOp, alt: Alt, ready: int) -> tuple[int, int]:
        """Return the earliest start and set-up of `op` on `alt` after all the work holding
        the machine, and after the work taking no time there that would need a set-up
        after it."""
        flat, m = self.flat, alt.machine
        while True:
            start, setup = self._in_gap(op, alt, ready, len(self.held[m]))
            if not (alt.duration or setup):
                return start, setup
            loose = self.loose[m]
            later = loose[bisect_left(loose, (start, start + alt.duration, op.key)) :]
            clash = [s for s, _e, k in later if flat.setup(flat.ops[k], op.family)]
            if not clash:
                return start, setup
            ready = max(clash) + (0 if alt.duration else 1)  # read after them

    def _in_gap(self, op: FlatOp, alt: Alt, ready: int, i: int) -> tuple[int, int]:
        """Return the earliest start and set-up of `op` on `alt` after the work before the
        i-th holding the machine, between its windows."""
        flat, m, duration = self.flat, alt.machine, alt.duration
        held = self.held[m]
        before = held[i - 1] if i else None
        setup = flat.setup(op, self._family(m, i))
        free = before[1] if before is not None else flat.problem.now
        if duration == 0 and not setup:
            start = max(ready, free)
            if before is not None and (start, start, op.key) < before:
                start += 1  # read before a change-over at that instant, it would need a set-up
            return start, 0
        occupy_from = max(free, ready - setup, flat.problem.now)
        return earliest_start(flat.forbidden[m], occupy_from, setup, duration), setup

    def _leaves_room(self, op: FlatOp, m: int, start: int, end: int, i: int) -> bool:
        """Tell whether `op`, holding machine m until `end` before its i-th work, leaves that
        work room for the set-up it then needs, and the work taking no time between them
        needing none."""
        flat, plan = self.flat, self.plan
        after_start, after_end, key = entry = self.held[m][i]
        after = flat.ops[key]
        need = 0 if after.frozen else flat.setup(after, op.family)
        if end > after_start - need:
            return False
        if after_end == after_start and not after.frozen and not need:
            return False  # it would change nothing over: the work after it would need others
        was = plan.setup[key]
        if need > was and (
            after_start - need < flat.problem.now
            or overlaps_window(flat.forbidden[m], after_start - need, after_start - was)
        ):
            return False
        loose = self.loose[m]
        between = loose[bisect_left(loose, (start, end, op.key)) : bisect_left(loose, entry)]
        return all(not flat.setup(flat.ops[k], op.family) for _s, _e, k in between)
