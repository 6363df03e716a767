"""Quick local improvement of a job-shop plan: tabu search over critical-block swaps."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable

from scheduler import tabu_c
from scheduler.flat import Flat
from scheduler.plan import Plan


class _Graph:
    """Machine sequences with heads (earliest starts) and tails (time to the end).

    A topological order of the operations is kept between moves, so that a swap re-sorts only
    the stretch between the two operations and recomputes heads after it and tails before it.
    """

    def __init__(self, flat: Flat, plan: Plan) -> None:
        n = len(flat.ops)
        self.n = n
        self.d = [0] * n
        self.jp = [-1] * n
        self.js = [-1] * n
        for keys in flat.jobs:
            for a, b in itertools.pairwise(keys):
                self.js[a] = b
                self.jp[b] = a
        self.firsts = [keys[0] for keys in flat.jobs if keys]
        self.lasts = [keys[-1] for keys in flat.jobs if keys]
        # Duration of each operation on each machine that can do it.
        self.on = [{a.machine: a.duration for a in op.alts} for op in flat.ops]
        for op in flat.ops:
            self.d[op.key] = self.on[op.key][plan.machine[op.key]]
        machines = len(flat.machines)
        seq: list[list[int]] = [[] for _ in range(machines)]
        for k in sorted(range(n), key=lambda k: (plan.start[k], plan.end[k])):
            seq[plan.machine[k]].append(k)
        self.machine = list(plan.machine)
        self.seq = seq
        self.pos = [0] * n
        self.mp = [-1] * n
        self.ms = [-1] * n
        self.order: list[int] = []
        self.at = [0] * n
        self.r = [0] * n
        self.q = [0] * n
        self.cmax = 0

    def plan(self) -> Plan:
        """Return the semi-active plan of the current sequences."""
        r, d = self.r, self.d
        return Plan(list(r), [r[k] + d[k] for k in range(self.n)], list(self.machine), [0] * self.n)

    def shop(self) -> tabu_c.Shop:
        """Return the current sequences as arrays for the compiled search."""
        return tabu_c.Shop(self.d, self.js, self.jp, self.seq)

    def set_sequences(self, seq: list[list[int]]) -> None:
        """Replace the machine sequences (and so the machine choices) and recompute everything."""
        self.seq = [list(s) for s in seq]
        for m, s in enumerate(self.seq):
            for k in s:
                self.machine[k] = m
                self.d[k] = self.on[k][m]
        self.evaluate()

    def evaluate(self) -> None:
        """Recompute the machine links, a topological order, heads, tails and the makespan."""
        n, jp, js = self.n, self.jp, self.js
        mp = [-1] * n
        ms = [-1] * n
        pos = self.pos
        for s in self.seq:
            for i, k in enumerate(s):
                pos[k] = i
            for a, b in itertools.pairwise(s):
                ms[a] = b
                mp[b] = a
        self.mp, self.ms = mp, ms
        indeg = [(jp[k] >= 0) + (mp[k] >= 0) for k in range(n)]
        order = [k for k in range(n) if indeg[k] == 0]
        i = 0
        while i < len(order):
            k = order[i]
            i += 1
            for nxt in (js[k], ms[k]):
                if nxt >= 0:
                    indeg[nxt] -= 1
                    if indeg[nxt] == 0:
                        order.append(nxt)
        if len(order) != n:
            raise _CycleError("machine sequences contradict the routings")
        self.order = order
        at = self.at
        for i, k in enumerate(order):
            at[k] = i
        self._heads(0)
        self._tails(n - 1)

    def _heads(self, first: int) -> None:
        """Recompute heads from a position of the order on; earlier ones do not change."""
        r, d, jp, mp, order = self.r, self.d, self.jp, self.mp, self.order
        for i in range(first, len(order)):
            k = order[i]
            a, b = jp[k], mp[k]
            ra = r[a] + d[a] if a >= 0 else 0
            rb = r[b] + d[b] if b >= 0 else 0
            r[k] = ra if ra > rb else rb
        self.cmax = max((r[k] + d[k] for k in self.lasts), default=0)

    def _tails(self, last: int) -> None:
        """Recompute tails from a position of the order back; later ones do not change."""
        q, d, js, ms, order = self.q, self.d, self.js, self.ms, self.order
        for i in range(last, -1, -1):
            k = order[i]
            a, b = js[k], ms[k]
            qa = q[a] if a >= 0 else 0
            qb = q[b] if b >= 0 else 0
            q[k] = d[k] + (qa if qa > qb else qb)

    def critical_blocks(self) -> list[list[int]]:
        """Return the blocks of one critical path (runs on the same machine)."""
        r, q, d, cmax, ms, js = self.r, self.q, self.d, self.cmax, self.ms, self.js
        # A critical path can always be traced back to a job's first operation.
        k = next(k for k in self.firsts if r[k] == 0 and q[k] == cmax)
        path = [k]
        while True:
            nxt = -1
            end = r[k] + d[k]
            for s in (ms[k], js[k]):
                if s >= 0 and r[s] == end and end + q[s] == cmax:
                    nxt = s
                    break
            if nxt < 0:
                break
            path.append(nxt)
            k = nxt
        blocks: list[list[int]] = [[path[0]]]
        for a, b in itertools.pairwise(path):
            if ms[a] == b:
                blocks[-1].append(b)
            else:
                blocks.append([b])
        return blocks

    def moves(self) -> list[tuple[int, int]]:
        """Return the swaps at the ends of critical blocks that keep the routings."""
        # Consecutive operations of one job on one machine cannot change places.
        return [(u, v) for u, v in _moves(self.critical_blocks()) if self.js[u] != v]

    def reassignments(self) -> list[tuple[int, int, int, int]]:
        """Return moves of critical operations to another of their machines, with estimates.

        Each move is (operation, machine, position, estimated makespan), at the position of
        the new machine's sequence that promises the shortest makespan among the safe ones.
        """
        r, q, d, jp, js = self.r, self.q, self.d, self.jp, self.js
        out: list[tuple[int, int, int, int]] = []
        for block in self.critical_blocks():
            for u in block:
                if len(self.on[u]) < 2:
                    continue
                ready = r[jp[u]] + d[jp[u]] if jp[u] >= 0 else 0
                after = q[js[u]] if js[u] >= 0 else 0
                for m, du in self.on[u].items():
                    if m == self.machine[u]:
                        continue
                    s = self.seq[m]
                    lo, hi = self.window(u, m)
                    best = (1 << 62, lo)
                    for i in range(lo, hi + 1):
                        y = s[i - 1] if i > 0 else -1
                        x = s[i] if i < len(s) else -1
                        head = max(ready, r[y] + d[y] if y >= 0 else 0)
                        tail = max(after, q[x] if x >= 0 else 0)
                        best = min(best, (head + du + tail, i))
                    out.append((u, m, best[1], best[0]))
        return out

    def window(self, u: int, m: int) -> tuple[int, int]:
        """Return the first and last positions on machine m where u keeps the graph acyclic.

        With positive durations every arc leads to a later head. What ends by the time u's job
        predecessor ends cannot follow u (it could reach that predecessor), and what starts
        once u's job successor may start cannot precede it (u's successor could reach it).
        """
        r, d, jp, js = self.r, self.d, self.jp, self.js
        s = self.seq[m]
        ready = r[jp[u]] + d[jp[u]] if jp[u] >= 0 else 0
        later = r[js[u]] if js[u] >= 0 else 1 << 62
        lo = 0
        while lo < len(s) and r[s[lo]] + d[s[lo]] <= ready:
            lo += 1
        hi = lo
        while hi < len(s) and r[s[hi]] < later:
            hi += 1
        return lo, hi

    def reassign(self, u: int, m: int, i: int) -> bool:
        """Move u to position i of machine m; undo and say so if that makes a cycle."""
        old_m, old_i = self.machine[u], self.pos[u]
        self.seq[old_m].pop(old_i)
        self.seq[m].insert(i, u)
        self.machine[u], self.d[u] = m, self.on[u][m]
        try:
            self.evaluate()
        except _CycleError:
            self.seq[m].pop(i)
            self.seq[old_m].insert(old_i, u)
            self.machine[u], self.d[u] = old_m, self.on[u][old_m]
            self.evaluate()
            return False
        return True

    def estimate(self, u: int, v: int) -> int:
        """Estimate the makespan after swapping adjacent u (first) and v on their machine."""
        r, q, d, jp, js = self.r, self.q, self.d, self.jp, self.js
        a = self.mp[u]
        b = self.ms[v]
        rv = max(r[jp[v]] + d[jp[v]] if jp[v] >= 0 else 0, r[a] + d[a] if a >= 0 else 0)
        ru = max(r[jp[u]] + d[jp[u]] if jp[u] >= 0 else 0, rv + d[v])
        qu = d[u] + max(q[js[u]] if js[u] >= 0 else 0, q[b] if b >= 0 else 0)
        qv = d[v] + max(q[js[v]] if js[v] >= 0 else 0, qu)
        return max(rv + qv, ru + qu)

    def swap(self, u: int, v: int) -> bool:
        """Swap adjacent operations u, v on their machine and update heads and tails; undo
        and say so if that makes a cycle.

        Without work that takes no time, u and v on a critical path have no other path between
        them; a path of such work, as long as the arc, may join them, and the swap closes it.
        """
        self._exchange(u, v)
        if self._resort(u, v):
            return True
        self._exchange(v, u)  # heads, tails and the order are still those before the swap
        return False

    def _exchange(self, u: int, v: int) -> None:
        """Exchange u and v, which follows it on their machine, and relink their neighbours."""
        s = self.seq[self.machine[u]]
        i, j = self.pos[u], self.pos[v]
        s[i], s[j] = v, u
        self.pos[u], self.pos[v] = j, i
        mp, ms = self.mp, self.ms
        a, b = mp[u], ms[v]
        if a >= 0:
            ms[a] = v
        if b >= 0:
            mp[b] = u
        mp[v], ms[v], mp[u], ms[u] = a, u, v, b

    def _resort(self, u: int, v: int) -> bool:
        """Bring the order, heads and tails up to date after u and v were exchanged; False,
        changing none of them, if the sequences now make a cycle."""
        # Only the stretch of the order from u to v needs re-sorting: every other arc that
        # changed runs from before it or to after it.
        at, order, mp, ms = self.at, self.order, self.mp, self.ms
        lo, hi = at[u], at[v]
        # The order still holds the arc u -> v from before the exchange.
        assert lo < hi, "swap takes v right after u on their machine"
        stretch = order[lo : hi + 1]
        jp, js = self.jp, self.js
        indeg = {
            k: (lo <= at[jp[k]] <= hi if jp[k] >= 0 else 0)
            + (lo <= at[mp[k]] <= hi if mp[k] >= 0 else 0)
            for k in stretch
        }
        ready = [k for k in stretch if indeg[k] == 0]
        ready.reverse()
        out: list[int] = []
        while ready:
            k = ready.pop()
            out.append(k)
            for nxt in (js[k], ms[k]):
                if nxt in indeg:
                    indeg[nxt] -= 1
                    if indeg[nxt] == 0:
                        ready.append(nxt)
        if len(out) != len(stretch):
            return False
        order[lo : hi + 1] = out
        for i, k in enumerate(out, start=lo):
            at[k] = i
        self._heads(lo)
        self._tails(hi)
        return True


class _CycleError(ValueError):
    """Machine sequences that contradict the routings."""


def _moves(blocks: list[list[int]]) -> list[tuple[int, int]]:
    moves: list[tuple[int, int]] = []
    last = len(blocks) - 1
    for i, block in enumerate(blocks):
        if len(block) < 2:
            continue
        if i > 0:
            moves.append((block[0], block[1]))
        if i < last and (i == 0 or len(block) > 2):
            moves.append((block[-2], block[-1]))
    return moves


def _choose(
    candidates: list[tuple[tuple[int, int], int]],
    tabu: dict[tuple[int, int], int],
    it: int,
    best: int,
    rng: random.Random,
) -> int:
    """Return the index of the move with the best estimate among those not tabu at step `it`
    or promising better than `best`, ties broken at random; with none, the one whose tabu
    ends first."""
    chosen, chosen_value = -1, 1 << 62
    for i, (move, value) in enumerate(candidates):
        allowed = tabu.get(move, 0) < it or value < best
        if allowed and (value < chosen_value or (value == chosen_value and rng.random() < 0.5)):
            chosen, chosen_value = i, value
    if chosen < 0:
        chosen = min(range(len(candidates)), key=lambda i: tabu.get(candidates[i][0], 0))
    return chosen


def lower_bound(flat: Flat) -> int:
    """Return a makespan no plan of a plain (flexible) job shop can beat.

    The largest of: the longest job at its fastest machines, the work no other machine can
    take from a machine, and the whole work at its fastest spread evenly over the machines.
    """
    load = [0] * len(flat.machines)
    longest = 0
    work = 0
    for keys in flat.jobs:
        total = 0
        for k in keys:
            alts = flat.ops[k].alts
            fastest = min(a.duration for a in alts)
            if len(alts) == 1:
                load[alts[0].machine] += fastest
            total += fastest
        longest = max(longest, total)
        work += total
    return max([longest, -(-work // max(len(flat.machines), 1)), *load])


def improve(
    flat: Flat,
    plan: Plan,
    deadline: float,
    seed: int = 0,
    should_stop: Callable[[], bool] | None = None,
    workers: int = 1,
) -> Plan:
    """Shorten a plain (flexible) job-shop plan by tabu search until the deadline.

    A step swaps two operations at the end of a critical block or, on flexible shops, moves a
    critical operation to another of its machines, whichever promises the shorter makespan.
    Job shops without machine choices go to the compiled search where it was built, one search
    per worker.
    """
    if not flat.ops:
        return plan
    g = _Graph(flat, plan)
    g.evaluate()
    # The compiled search counts time in 32-bit ints: a plan longer than that (milliseconds
    # over a month) goes to the Python search, which has no such limit.
    fits = sum(op.alts[0].duration for op in flat.ops) < tabu_c.MAX_TIME
    if tabu_c.available() and fits and all(len(op.alts) == 1 for op in flat.ops):
        found = tabu_c.search(
            g.shop(),
            deadline,
            seeds=[seed + w for w in range(max(1, workers))],
            floor=lower_bound(flat),
            should_stop=should_stop,
        )
        if found.makespan < g.cmax:
            g.set_sequences(found.sequences)
        return g.plan()
    return _python_search(flat, g, deadline, seed, should_stop)


def _python_search(
    flat: Flat, g: _Graph, deadline: float, seed: int, should_stop: Callable[[], bool] | None
) -> Plan:
    rng = random.Random(seed)
    best_cmax = g.cmax
    best_seq = [list(s) for s in g.seq]
    floor = lower_bound(flat)
    flexible = any(len(op.alts) > 1 for op in flat.ops)
    # Swaps are tabu as (u, v) pairs; a move back to a machine as (u, -1 - machine).
    tabu: dict[tuple[int, int], int] = {}
    tenure = 8 + len(flat.jobs) // 4
    it = 0
    since_best = 0
    stall_limit = 2500
    while True:
        it += 1
        if best_cmax <= floor:
            break
        if it % 32 == 0 and (
            time.monotonic() > deadline or (should_stop is not None and should_stop())
        ):
            break
        moves = g.moves()
        shifts = g.reassignments() if flexible else []
        if not moves and not shifts:
            break  # one block on a single machine choice: nothing to gain.
        # Swaps as (u, v), moves to a machine as (u, -1 - machine), with their estimates.
        candidates = [((u, v), g.estimate(u, v)) for u, v in moves]
        candidates += [((u, -1 - m), value) for u, m, _, value in shifts]
        where = {(u, -1 - m): i for u, m, i, _ in shifts}
        while candidates:
            chosen = _choose(candidates, tabu, it, best_cmax, rng)
            u, v = candidates[chosen][0]
            if v >= 0:
                made, back = g.swap(u, v), (v, u)
            else:
                back = (u, -1 - g.machine[u])
                made = g.reassign(u, -1 - v, where[(u, v)])
            if made:
                tabu[back] = it + tenure + rng.randint(0, tenure)
                break
            # It would close a cycle (see _Graph.swap): no neighbour, whatever its estimate
            # promised, so the next best is taken at this step rather than it again and again.
            # Not made tabu, as in the compiled search: the next step's graph may allow it.
            del candidates[chosen]
        else:
            break  # every move closes a cycle
        since_best += 1
        if g.cmax < best_cmax:
            best_cmax = g.cmax
            best_seq = [list(s) for s in g.seq]
            since_best = 0
        elif since_best > stall_limit:
            # Back to the best plan with a small random shake.
            g.set_sequences(best_seq)
            for _ in range(3):
                mv = g.moves()
                if not mv:
                    break
                g.swap(*rng.choice(mv))
            tabu.clear()
            since_best = 0
    g.set_sequences(best_seq)
    return g.plan()
