"""Quick local improvement of a job-shop plan: tabu search over critical-block swaps."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable

from scheduler.flat import Flat
from scheduler.plan import Plan


class _Graph:
    """Machine sequences with heads (earliest starts) and tails (time to the end)."""

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
        for op in flat.ops:
            alt = op.alt_on(plan.machine[op.key])
            assert alt is not None
            self.d[op.key] = alt.duration
        machines = len(flat.machines)
        self.seq: list[list[int]] = [[] for _ in range(machines)]
        for k in sorted(range(n), key=lambda k: (plan.start[k], plan.end[k])):
            self.seq[plan.machine[k]].append(k)
        self.machine = list(plan.machine)
        self.pos = [0] * n
        for s in self.seq:
            for i, k in enumerate(s):
                self.pos[k] = i
        self.r = [0] * n
        self.q = [0] * n
        self.cmax = 0

    def mp(self, k: int) -> int:
        p = self.pos[k]
        return self.seq[self.machine[k]][p - 1] if p > 0 else -1

    def ms(self, k: int) -> int:
        s = self.seq[self.machine[k]]
        p = self.pos[k] + 1
        return s[p] if p < len(s) else -1

    def evaluate(self) -> None:
        """Recompute heads, tails and the makespan (Kahn's order over both arc kinds)."""
        n, d, jp, js = self.n, self.d, self.jp, self.js
        mp = [-1] * n
        ms = [-1] * n
        for s in self.seq:
            for a, b in itertools.pairwise(s):
                ms[a] = b
                mp[b] = a
        indeg = [(jp[k] >= 0) + (mp[k] >= 0) for k in range(n)]
        r = [0] * n
        order = [k for k in range(n) if indeg[k] == 0]
        i = 0
        while i < len(order):
            k = order[i]
            i += 1
            fin = r[k] + d[k]
            for nxt in (js[k], ms[k]):
                if nxt >= 0:
                    if fin > r[nxt]:
                        r[nxt] = fin
                    indeg[nxt] -= 1
                    if indeg[nxt] == 0:
                        order.append(nxt)
        q = [0] * n
        for k in reversed(order):
            a, b = js[k], ms[k]
            qa = q[a] if a >= 0 else 0
            qb = q[b] if b >= 0 else 0
            q[k] = d[k] + (qa if qa > qb else qb)
        self.r, self.q = r, q
        self.cmax = max(r[k] + q[k] for k in range(n)) if n else 0

    def critical_blocks(self) -> list[list[int]]:
        """Return the blocks of one critical path (runs on the same machine)."""
        r, q, d, cmax = self.r, self.q, self.d, self.cmax
        k = next(k for k in range(self.n) if r[k] == 0 and q[k] == cmax)
        path = [k]
        while True:
            nxt = -1
            for s in (self.ms(k), self.js[k]):
                if s >= 0 and r[s] == r[k] + d[k] and r[s] + q[s] == cmax:
                    nxt = s
                    break
            if nxt < 0:
                break
            path.append(nxt)
            k = nxt
        blocks: list[list[int]] = [[path[0]]]
        for a, b in itertools.pairwise(path):
            if self.machine[a] == self.machine[b] and self.ms(a) == b:
                blocks[-1].append(b)
            else:
                blocks.append([b])
        return blocks

    def estimate(self, u: int, v: int) -> int:
        """Estimate the makespan after swapping adjacent u (first) and v on their machine."""
        r, q, d, jp, js = self.r, self.q, self.d, self.jp, self.js
        a = self.mp(u)
        b = self.ms(v)
        rv = max(r[jp[v]] + d[jp[v]] if jp[v] >= 0 else 0, r[a] + d[a] if a >= 0 else 0)
        ru = max(r[jp[u]] + d[jp[u]] if jp[u] >= 0 else 0, rv + d[v])
        qu = d[u] + max(q[js[u]] if js[u] >= 0 else 0, q[b] if b >= 0 else 0)
        qv = d[v] + max(q[js[v]] if js[v] >= 0 else 0, qu)
        return max(rv + qv, ru + qu)

    def swap(self, u: int, v: int) -> None:
        """Swap adjacent operations u, v on their machine."""
        s = self.seq[self.machine[u]]
        i, j = self.pos[u], self.pos[v]
        s[i], s[j] = v, u
        self.pos[u], self.pos[v] = j, i


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


def lower_bound(flat: Flat, plan: Plan) -> int:
    """Return the larger of the longest job and the busiest machine under the plan's choices."""
    load = [0] * len(flat.machines)
    longest = 0
    for keys in flat.jobs:
        total = 0
        for k in keys:
            length = plan.end[k] - plan.start[k]
            load[plan.machine[k]] += length
            total += length
        longest = max(longest, total)
    return max([longest, *load])


def improve(
    flat: Flat,
    plan: Plan,
    deadline: float,
    seed: int = 0,
    should_stop: Callable[[], bool] | None = None,
) -> Plan:
    """Shorten a plain (flexible) job-shop plan by tabu search until the deadline."""
    if not flat.ops:
        return plan
    rng = random.Random(seed)
    g = _Graph(flat, plan)
    g.evaluate()
    best_cmax = g.cmax
    best_seq = [list(s) for s in g.seq]
    floor = lower_bound(flat, plan)
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
        moves = _moves(g.critical_blocks())
        if not moves:
            break  # one block: the makespan equals a machine's load, nothing to gain.
        chosen: tuple[int, int] | None = None
        chosen_value = 1 << 62
        for u, v in moves:
            value = g.estimate(u, v)
            allowed = tabu.get((u, v), 0) < it or value < best_cmax
            if allowed and (value < chosen_value or (value == chosen_value and rng.random() < 0.5)):
                chosen, chosen_value = (u, v), value
        if chosen is None:
            chosen = min(moves, key=lambda mv: tabu.get(mv, 0))
        u, v = chosen
        g.swap(u, v)
        tabu[(v, u)] = it + tenure + rng.randint(0, tenure)
        g.evaluate()
        since_best += 1
        if g.cmax < best_cmax:
            best_cmax = g.cmax
            best_seq = [list(s) for s in g.seq]
            since_best = 0
        elif since_best > stall_limit:
            # Back to the best plan with a small random shake.
            g.seq = [list(s) for s in best_seq]
            for s in g.seq:
                for i, k in enumerate(s):
                    g.pos[k] = i
            g.evaluate()
            for _ in range(3):
                mv = _moves(g.critical_blocks())
                if not mv:
                    break
                g.swap(*rng.choice(mv))
                g.evaluate()
            tabu.clear()
            since_best = 0
    g.seq = best_seq
    for s in g.seq:
        for i, k in enumerate(s):
            g.pos[k] = i
    g.evaluate()
    out = Plan(list(g.r), [g.r[k] + g.d[k] for k in range(g.n)], list(g.machine), [0] * g.n)
    return out
