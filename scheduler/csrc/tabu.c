/*
 * Tabu search for the plain job shop (each operation on one machine), called from
 * scheduler/tabu_c.py through ctypes.
 *
 * The search walks the disjunctive graph: a solution is a sequence of operations per machine.
 * A step moves an operation of a block of the critical path to the block's other end (the N6
 * neighbourhood), chosen by an estimate of the makespan after the move among those that
 * provably keep the graph acyclic. Undoing a move stays tabu for a random tenure unless it
 * promises a new best. When the search stalls it jumps back to one of the best solutions found,
 * shaken by a few random swaps inside critical blocks.
 *
 * scheduler/localsearch.py holds the Python search, with machine moves for flexible shops;
 * this one exists because a step here costs a few microseconds instead of about a millisecond.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int n, m;
    const int *d, *jn, *jp, *mstart;
    int *seq, *pos, *mach, *mn, *mp, *r, *q, *order, *at, *indeg, *buf, *lasts;
    int cmax, jobs;
} graph;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64*: small, fast and good enough to break ties. */
static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

static int rng_below(uint64_t *s, int bound) {
    return bound <= 1 ? 0 : (int)(rng_next(s) % (uint64_t)bound);
}

static void link_machines(graph *g) {
    for (int k = 0; k < g->n; k++) g->mn[k] = g->mp[k] = -1;
    for (int i = 0; i < g->m; i++) {
        for (int p = g->mstart[i]; p < g->mstart[i + 1]; p++) {
            int k = g->seq[p];
            g->pos[k] = p;
            g->mach[k] = i;
            if (p > g->mstart[i]) {
                g->mp[k] = g->seq[p - 1];
                g->mn[g->seq[p - 1]] = k;
            }
        }
    }
}

/* Heads, tails and makespan from the machine links; -1 if the sequences make a cycle. */
static int evaluate(graph *g) {
    int n = g->n, head = 0, tail = 0;
    const int *d = g->d, *jn = g->jn, *jp = g->jp;
    int *r = g->r, *q = g->q, *order = g->order, *indeg = g->indeg, *mn = g->mn, *mp = g->mp;
    for (int k = 0; k < n; k++) {
        indeg[k] = (jp[k] >= 0) + (mp[k] >= 0);
        if (indeg[k] == 0) order[tail++] = k;
    }
    int cmax = 0;
    while (head < tail) {
        int k = order[head++];
        int a = jp[k], b = mp[k];
        int ra = a >= 0 ? r[a] + d[a] : 0;
        int rb = b >= 0 ? r[b] + d[b] : 0;
        r[k] = ra > rb ? ra : rb;
        if (r[k] + d[k] > cmax) cmax = r[k] + d[k];
        if (jn[k] >= 0 && --indeg[jn[k]] == 0) order[tail++] = jn[k];
        if (mn[k] >= 0 && --indeg[mn[k]] == 0) order[tail++] = mn[k];
    }
    if (tail < n) return -1;
    for (int i = 0; i < n; i++) g->at[order[i]] = i;
    for (int i = n - 1; i >= 0; i--) {
        int k = order[i];
        int qa = jn[k] >= 0 ? q[jn[k]] : 0;
        int qb = mn[k] >= 0 ? q[mn[k]] : 0;
        q[k] = d[k] + (qa > qb ? qa : qb);
    }
    g->cmax = cmax;
    return 0;
}

/*
 * Heads, tails and makespan after a move that changed the machine positions lo..hi. Only the
 * stretch of the topological order between the first and last of the moved operations is
 * re-sorted: every arc that changed joins two of them or one of them to a machine neighbour
 * already before or after that stretch. Returns -1 (changing nothing) on a cycle.
 */
static int update(graph *g, int lo, int hi) {
    const int *d = g->d, *jn = g->jn, *jp = g->jp, *mn = g->mn, *mp = g->mp;
    int *r = g->r, *q = g->q, *order = g->order, *at = g->at, *indeg = g->indeg, *buf = g->buf;
    int first = g->n, last = -1;
    for (int p = lo; p <= hi; p++) {
        int i = at[g->seq[p]];
        if (i < first) first = i;
        if (i > last) last = i;
    }
    int head = 0, tail = 0;
    for (int i = first; i <= last; i++) {
        int k = order[i];
        indeg[k] = (jp[k] >= 0 && at[jp[k]] >= first && at[jp[k]] <= last) +
                   (mp[k] >= 0 && at[mp[k]] >= first && at[mp[k]] <= last);
        if (indeg[k] == 0) buf[tail++] = k;
    }
    while (head < tail) {
        int k = buf[head++];
        if (jn[k] >= 0 && at[jn[k]] <= last && --indeg[jn[k]] == 0) buf[tail++] = jn[k];
        if (mn[k] >= 0 && at[mn[k]] <= last && --indeg[mn[k]] == 0) buf[tail++] = mn[k];
    }
    if (tail < last - first + 1) return -1;
    for (int i = 0; i < tail; i++) {
        order[first + i] = buf[i];
        at[buf[i]] = first + i;
    }
    for (int i = first; i < g->n; i++) {
        int k = order[i], a = jp[k], b = mp[k];
        int ra = a >= 0 ? r[a] + d[a] : 0;
        int rb = b >= 0 ? r[b] + d[b] : 0;
        r[k] = ra > rb ? ra : rb;
    }
    for (int i = last; i >= 0; i--) {
        int k = order[i];
        int qa = jn[k] >= 0 ? q[jn[k]] : 0;
        int qb = mn[k] >= 0 ? q[mn[k]] : 0;
        q[k] = d[k] + (qa > qb ? qa : qb);
    }
    int cmax = 0;
    for (int j = 0; j < g->jobs; j++) {
        int k = g->lasts[j];
        if (r[k] + d[k] > cmax) cmax = r[k] + d[k];
    }
    g->cmax = cmax;
    return 0;
}

/*
 * The blocks of one critical path: path[] holds its operations and starts[] the index in path
 * of each block's first operation (with a sentinel at the end). Returns the number of blocks.
 */
static int critical_blocks(const graph *g, int *path, int *starts) {
    const int *r = g->r, *q = g->q, *d = g->d, *mn = g->mn, *jn = g->jn;
    int k = -1;
    for (int i = 0; i < g->n; i++) {
        if (r[i] == 0 && q[i] == g->cmax) {
            k = i;
            break;
        }
    }
    if (k < 0) return 0;
    int len = 0, blocks = 0;
    starts[blocks++] = 0;
    path[len++] = k;
    for (;;) {
        int end = r[k] + d[k], nxt = -1;
        if (mn[k] >= 0 && r[mn[k]] == end && end + q[mn[k]] == g->cmax) {
            nxt = mn[k];
        } else if (jn[k] >= 0 && r[jn[k]] == end && end + q[jn[k]] == g->cmax) {
            nxt = jn[k];
            starts[blocks++] = len;
        }
        if (nxt < 0) break;
        path[len++] = nxt;
        k = nxt;
    }
    starts[blocks] = len;
    return blocks;
}

/*
 * A move takes the operation at one end of a stretch of a machine's sequence to the other end:
 * forward (the first goes after the last) or backward (the last goes before the first). Both
 * ends are global positions in seq; a stretch of two is a swap.
 */
typedef struct {
    int from, to; /* positions: the operation at `from` goes to `to` */
} move;

/* Cheap sufficient conditions (Balas and Vazacopoulos) for a move to keep the graph acyclic. */
static int safe(const graph *g, int first, int last, int forward) {
    int u = g->seq[first], v = g->seq[last];
    if (forward) return g->jn[u] < 0 || g->q[v] >= g->q[g->jn[u]];
    return g->jp[v] < 0 || g->r[u] + g->d[u] >= g->r[g->jp[v]] + g->d[g->jp[v]];
}

/*
 * Moves inside critical blocks. A block's operations run back to back, so only a move that
 * changes its first operation (where a block comes before) or its last (where one follows) can
 * shorten the path. Wide: an operation goes to the far end of its block (the N6 neighbourhood of
 * Zhang et al.); otherwise only the two operations at either end swap (N5, Nowicki and
 * Smutnicki). Returns how many moves were written to out.
 */
static int block_moves(const graph *g, const int *path, const int *starts, int blocks, int wide,
                       move *out) {
    int count = 0, last = blocks - 1;
    for (int b = 0; b < blocks; b++) {
        int lo = starts[b], hi = starts[b + 1] - 1;
        if (hi <= lo) continue;
        int first = g->pos[path[lo]], end = g->pos[path[hi]];
        for (int p = wide ? first : end - 1; p < end; p++) {
            /* forward: p goes last; a swap of two is listed here only */
            if ((b < last || (p == first && b > 0)) && safe(g, p, end, 1))
                out[count++] = (move){p, end};
        }
        if (end - first == 1) continue;
        for (int p = first + 1; p <= (wide ? end : first + 1); p++) {
            /* backward: p goes first */
            if ((b > 0 || (p == end && b < last)) && safe(g, first, p, 0))
                out[count++] = (move){p, first};
        }
    }
    return count;
}

/* The operations of the stretch a move touches, in their order after it. */
static int moved_order(const graph *g, move mv, int *out) {
    int len = 0;
    if (mv.from < mv.to) {
        for (int p = mv.from + 1; p <= mv.to; p++) out[len++] = g->seq[p];
        out[len++] = g->seq[mv.from];
    } else {
        out[len++] = g->seq[mv.from];
        for (int p = mv.to; p < mv.from; p++) out[len++] = g->seq[p];
    }
    return len;
}

/*
 * Estimated makespan after a move: heads along the new stretch from the old heads before it,
 * tails back from the old tails after it (exact for the paths through the stretch when the
 * rest of the graph keeps its heads and tails; for a swap, Taillard's estimate).
 */
static int estimate(const graph *g, move mv, int *stretch, int *head) {
    const int *r = g->r, *q = g->q, *d = g->d, *jn = g->jn, *jp = g->jp;
    int lo = mv.from < mv.to ? mv.from : mv.to, hi = mv.from < mv.to ? mv.to : mv.from;
    int len = moved_order(g, mv, stretch);
    int a = g->mp[g->seq[lo]], b = g->mn[g->seq[hi]];
    int prev = a >= 0 ? r[a] + d[a] : 0;
    for (int t = 0; t < len; t++) {
        int k = stretch[t];
        int h = jp[k] >= 0 ? r[jp[k]] + d[jp[k]] : 0;
        head[t] = h > prev ? h : prev;
        prev = head[t] + d[k];
    }
    int next = b >= 0 ? q[b] : 0, value = 0;
    for (int t = len - 1; t >= 0; t--) {
        int k = stretch[t];
        int tl = jn[k] >= 0 ? q[jn[k]] : 0;
        next = d[k] + (tl > next ? tl : next);
        if (head[t] + next > value) value = head[t] + next;
    }
    return value;
}

/*
 * tabu[x * n + y] is the step until which no move may put y before x again. A move is tabu
 * until the latest such step among the pairs it reverses.
 */
static int32_t tabu_until(const graph *g, const int32_t *tabu, move mv) {
    size_t n = (size_t)g->n;
    int32_t until = 0;
    int lo = mv.from < mv.to ? mv.from : mv.to, hi = mv.from < mv.to ? mv.to : mv.from;
    int moving = g->seq[mv.from];
    for (int p = lo; p <= hi; p++) {
        if (p == mv.from) continue;
        int x = g->seq[p];
        int32_t t = mv.from < mv.to ? tabu[(size_t)moving * n + x] : tabu[(size_t)x * n + moving];
        if (t > until) until = t;
    }
    return until;
}

/* Make a move tabu (after a move, the one back undoes it): no pair it reverses may flip. */
static void forbid(const graph *g, int32_t *tabu, move mv, int32_t until) {
    size_t n = (size_t)g->n;
    int moving = g->seq[mv.from];
    int lo = mv.from < mv.to ? mv.from : mv.to, hi = mv.from < mv.to ? mv.to : mv.from;
    for (int p = lo; p <= hi; p++) {
        if (p == mv.from) continue;
        int x = g->seq[p];
        if (mv.from < mv.to)
            tabu[(size_t)moving * n + x] = until; /* x may not go before moving */
        else
            tabu[(size_t)x * n + moving] = until; /* moving may not go before x */
    }
}

/*
 * The move to make: the best estimate among the moves not tabu at step it or promising better
 * than best, ties broken at random; when every one is tabu, the one whose tabu ends first.
 */
static int choose(const graph *g, const int32_t *tabu, const move *moves, const int *values,
                  int count, int64_t it, int best, uint64_t *rng) {
    int chosen = -1, chosen_value = INT32_MAX, ties = 0;
    for (int i = 0; i < count; i++) {
        if (values[i] >= best && tabu_until(g, tabu, moves[i]) >= it) continue;
        if (values[i] < chosen_value) {
            chosen = i;
            chosen_value = values[i];
            ties = 1;
        } else if (values[i] == chosen_value && rng_below(rng, ++ties) == 0) {
            chosen = i;
        }
    }
    if (chosen >= 0) return chosen;
    int32_t oldest = INT32_MAX;
    for (int i = 0; i < count; i++) {
        int32_t t = tabu_until(g, tabu, moves[i]);
        if (t < oldest) {
            oldest = t;
            chosen = i;
        }
    }
    return chosen;
}

/* Apply a move to the sequences and machine links (heads and tails go stale). */
static void apply(graph *g, move mv) {
    int lo = mv.from < mv.to ? mv.from : mv.to, hi = mv.from < mv.to ? mv.to : mv.from;
    int moving = g->seq[mv.from];
    if (mv.from < mv.to)
        memmove(g->seq + lo, g->seq + lo + 1, sizeof(int) * (size_t)(hi - lo));
    else
        memmove(g->seq + lo + 1, g->seq + lo, sizeof(int) * (size_t)(hi - lo));
    g->seq[mv.to] = moving;
    int mach = g->mach[moving];
    int left = lo > g->mstart[mach] ? g->seq[lo - 1] : -1;
    int right = hi + 1 < g->mstart[mach + 1] ? g->seq[hi + 1] : -1;
    for (int p = lo; p <= hi; p++) {
        int k = g->seq[p];
        g->pos[k] = p;
        g->mp[k] = p > lo ? g->seq[p - 1] : left;
        g->mn[k] = p < hi ? g->seq[p + 1] : right;
    }
    if (left >= 0) g->mn[left] = g->seq[lo];
    if (right >= 0) g->mp[right] = g->seq[hi];
}

/* Make a move and bring heads and tails up to date; undo it and return -1 if it made a cycle
 * (the safety test is sufficient only where no job visits a machine twice and every operation
 * takes time: a path of work that takes none is as long as the arc it joins). */
static int make_move(graph *g, move mv) {
    apply(g, mv);
    int lo = mv.from < mv.to ? mv.from : mv.to, hi = mv.from < mv.to ? mv.to : mv.from;
    if (update(g, lo, hi) == 0) return 0;
    apply(g, (move){mv.to, mv.from});
    return -1;
}

/* Swap a few random adjacent pairs inside critical blocks. */
static void shake(graph *g, int *path, int *starts, int steps, uint64_t *rng) {
    for (int s = 0; s < steps; s++) {
        int len = starts[critical_blocks(g, path, starts)];
        if (len < 2) return;
        for (int tries = 0; tries < 16; tries++) {
            int i = rng_below(rng, len - 1), u = path[i], v = path[i + 1];
            if (g->mn[u] == v && g->jn[u] != v) {
                make_move(g, (move){g->pos[u], g->pos[v]});
                break;
            }
        }
    }
}

/*
 * Improve machine sequences seq (in place, offsets mstart, length n) until the deadline
 * (seconds of CLOCK_MONOTONIC), the floor is reached, *stop becomes non-zero or max_iters pass.
 * Returns the best makespan (its sequences are left in seq), -1 if seq has a cycle, -2 if out
 * of memory. *iters receives the number of steps taken.
 */
int jsp_tabu(int n, int m, const int *d, const int *jn, const int *jp, const int *mstart,
             int *seq, double deadline, int64_t max_iters, uint64_t seed, int floor,
             int tenure_base, int tenure_span, int stall, int wide, const volatile int *stop,
             int64_t *iters) {
    enum { ELITE = 8 };
    graph g = {.n = n, .m = m, .d = d, .jn = jn, .jp = jp, .mstart = mstart, .seq = seq};
    size_t nn = (size_t)n;
    int *mem = malloc(sizeof(int) * nn * (17 + ELITE));
    move *moves = malloc(sizeof(move) * (2 * nn + 2));
    int *values = malloc(sizeof(int) * (2 * nn + 2));
    int32_t *tabu = calloc(nn * nn, sizeof(int32_t));
    if (mem == NULL || moves == NULL || values == NULL || tabu == NULL) {
        free(mem);
        free(moves);
        free(values);
        free(tabu);
        return -2;
    }
    g.pos = mem;
    g.mach = mem + n;
    g.mn = mem + 2 * n;
    g.mp = mem + 3 * n;
    g.r = mem + 4 * n;
    g.q = mem + 5 * n;
    g.order = mem + 6 * n;
    g.indeg = mem + 7 * n;
    /* starts holds a block start per path operation and a sentinel: more than n entries. */
    int *path = mem + 8 * n, *starts = mem + 9 * n, *best = mem + 11 * n;
    int *stretch = mem + 12 * n, *head = mem + 13 * n, *elite = mem + 17 * n;
    g.at = mem + 14 * n;
    g.buf = mem + 15 * n;
    g.lasts = mem + 16 * n;
    for (int k = 0; k < n; k++)
        if (jn[k] < 0) g.lasts[g.jobs++] = k;
    int elite_cmax[ELITE], elites = 0, next_elite = 0;
    uint64_t rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    int result = -1;

    link_machines(&g);
    if (evaluate(&g) < 0) goto done;
    int best_cmax = g.cmax;
    memcpy(best, seq, sizeof(int) * nn);
    int64_t it = 0, since = 0;
    /* Tabu expiries are step numbers held in 32 bits; the search stops well before a wrap. */
    int64_t limit = max_iters > 0 && max_iters < INT32_MAX / 2 ? max_iters : INT32_MAX / 2;
    int restarts_without_gain = 0;
    while (best_cmax > floor && it < limit) {
        it++;
        if ((it & 255) == 0 && (now() > deadline || (stop != NULL && *stop))) break;
        int count = block_moves(&g, path, starts, critical_blocks(&g, path, starts), wide, moves);
        if (count == 0) break; /* one block: no move can shorten the plan */
        for (int i = 0; i < count; i++) values[i] = estimate(&g, moves[i], stretch, head);
        int made = 0;
        while (count > 0) {
            int chosen = choose(&g, tabu, moves, values, count, it, best_cmax, &rng);
            move mv = moves[chosen];
            if (make_move(&g, mv) == 0) {
                /* Drawn only for a move made: one passed over leaves the draws as they were. */
                int32_t until = (int32_t)(it + tenure_base + rng_below(&rng, tenure_span + 1));
                forbid(&g, tabu, (move){mv.to, mv.from}, until);
                made = 1;
                break;
            }
            /* It closed a cycle: no neighbour, whatever its estimate promised. The next best
             * is made instead; retried, it would find the same cycle at every step. */
            moves[chosen] = moves[--count];
            values[chosen] = values[count];
        }
        if (!made) break; /* every move closes a cycle */
        if (g.cmax < best_cmax) {
            best_cmax = g.cmax;
            memcpy(best, seq, sizeof(int) * nn);
            memcpy(elite + (size_t)next_elite * nn, seq, sizeof(int) * nn);
            elite_cmax[next_elite] = g.cmax;
            next_elite = (next_elite + 1) % ELITE;
            if (elites < ELITE) elites++;
            since = 0;
            restarts_without_gain = 0;
        } else if (++since > stall) {
            /* Back to one of the recent bests, shaken harder the longer nothing improves. */
            int pick = elites > 0 ? rng_below(&rng, elites) : -1;
            if (pick >= 0 && elite_cmax[pick] <= best_cmax + best_cmax / 100)
                memcpy(seq, elite + (size_t)pick * nn, sizeof(int) * nn);
            else
                memcpy(seq, best, sizeof(int) * nn);
            link_machines(&g);
            evaluate(&g);
            restarts_without_gain++;
            shake(&g, path, starts, 2 + restarts_without_gain % 8, &rng);
            /* Jumping the step count ahead lets every tabu lapse. */
            it += tenure_base + tenure_span + 1;
            since = 0;
        }
    }
    memcpy(seq, best, sizeof(int) * nn);
    if (iters != NULL) *iters = it;
    result = best_cmax;
done:
    free(mem);
    free(moves);
    free(values);
    free(tabu);
    return result;
}
