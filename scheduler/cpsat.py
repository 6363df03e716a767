"""The CP-SAT model: interval variables, no-overlap per machine, set-up circuits."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from scheduler.flat import Flat, FlatOp
from scheduler.plan import Plan, entered

LinearExpr = cp_model.LinearExpr | int


@dataclass
class Built:
    """A CP-SAT model of a problem with handles on its variables."""

    model: cp_model.CpModel
    start: list[cp_model.IntVar]
    # choice[key] lists (machine, literal or None when the machine is the only one).
    choice: list[list[tuple[int, cp_model.IntVar | None]]]
    setup: dict[int, cp_model.IntVar]
    arcs: dict[int, list[tuple[int, int, cp_model.IntVar]]]
    criteria: dict[str, LinearExpr]
    # Assumption literals that switch groups of constraints on, with what they stand for.
    groups: dict[int, tuple[str | None, str, str]] = field(default_factory=dict)
    occupied: dict[int, cp_model.IntVar] = field(default_factory=dict)
    # counts[key, m]: work that takes no time on set-up machine m changes the family over there.
    counts: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)
    assumptions: list[cp_model.IntVar] = field(default_factory=list)

    def end(self, flat: Flat, key: int) -> LinearExpr:
        """Return the end of an operation as an expression."""
        return self.start[key] + self.duration(flat, key)

    def duration(self, flat: Flat, key: int) -> LinearExpr:
        """Return the duration of an operation as an expression."""
        op = flat.ops[key]
        if op.frozen:
            assert op.frozen_end is not None and op.frozen_start is not None
            return op.frozen_end - op.frozen_start
        return _by_choice(self.choice[key], {a.machine: a.duration for a in op.alts})


def _by_choice(
    choice: list[tuple[int, cp_model.IntVar | None]], value: dict[int, int]
) -> LinearExpr:
    if len(choice) == 1:
        return value[choice[0][0]]
    return sum(value[m] * lit for m, lit in choice if lit is not None)


def _heads_tails(flat: Flat) -> tuple[list[int], list[int]]:
    """Return for each operation the least time before it in its order and after its start."""
    head = [0] * len(flat.ops)
    tail = [0] * len(flat.ops)
    for j, keys in enumerate(flat.jobs):
        t = flat.release[j]
        for key in keys:
            op = flat.ops[key]
            if op.frozen:
                assert op.frozen_start is not None and op.frozen_end is not None
                assert op.frozen_machine is not None
                head[key] = op.frozen_start
                alt = op.alt_on(op.frozen_machine)
                assert alt is not None
                if op.transfer_qty:
                    # The next operation may start once the first lot is done, as in _link.
                    first = alt.fixed_time + op.transfer_qty * alt.unit_time
                    t = op.frozen_start + first + op.min_wait
                else:
                    t = op.frozen_end + op.min_wait
                continue
            head[key] = t
            shortest = min(a.duration for a in op.alts)
            t = t + shortest + op.min_wait if not op.transfer_qty else t + op.min_wait
        after = 0
        for key in reversed(keys):
            op = flat.ops[key]
            own = 0 if op.frozen else min(a.duration for a in op.alts)
            # With transfer lots the next operation overlaps this one, so only `own` is sure.
            tail[key] = own + (0 if op.transfer_qty else after)
            after = tail[key]
    return head, tail


class BuildTimeout(Exception):
    """The model could not be built by the deadline given, or was asked to stop (set-up circuits
    grow quadratically)."""


def build(
    flat: Flat,
    horizon: int | None = None,
    explain: bool = False,
    terms: list[str] | None = None,
    deadline: float | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Built:
    """Build the CP-SAT model; with `explain`, constraint groups hang on assumption literals.

    With a deadline (on `time.monotonic`), raise BuildTimeout once it has passed while set-up
    circuits are being built: a few hundred operations on one machine take seconds. So too once
    `should_stop` turns true.
    """
    model = cp_model.CpModel()
    horizon = horizon if horizon is not None else flat.horizon
    head, tail = _heads_tails(flat)
    groups: dict[int, tuple[str | None, str, str]] = {}
    assumptions: list[cp_model.IntVar] = []
    orders = flat.problem.orders

    def group(order: str | None, constraint: str, message: str) -> list[cp_model.IntVar]:
        if not explain:
            return []
        lit = model.new_bool_var(f"assume {constraint} {order}")
        groups[lit.index] = (order, constraint, message)
        assumptions.append(lit)
        return [lit]

    start: list[cp_model.IntVar] = []
    choice: list[list[tuple[int, cp_model.IntVar | None]]] = []
    for op in flat.ops:
        if op.frozen:
            assert op.frozen_start is not None and op.frozen_machine is not None
            start.append(model.new_constant(op.frozen_start))
            choice.append([(op.frozen_machine, None)])
            continue
        # Nothing starts before now, not even after an operation reported finished early.
        lo = max(head[op.key] if not explain else 0, flat.problem.now)
        hi = max(lo, horizon - tail[op.key])
        start.append(model.new_int_var(lo, hi, f"s{op.key}"))
        if len(op.alts) == 1:
            choice.append([(op.alts[0].machine, None)])
        else:
            lits = [(a.machine, model.new_bool_var(f"x{op.key}_{a.machine}")) for a in op.alts]
            model.add_exactly_one(lit for _, lit in lits)
            choice.append(lits)  # type: ignore[arg-type]

    built = Built(model, start, choice, {}, {}, {}, groups, assumptions=assumptions)

    # Routing: precedence, waits, transfer lots, release.
    for j, keys in enumerate(flat.jobs):
        oid = orders[j].id
        first = flat.ops[keys[0]]
        if not first.frozen:
            enforce = group(oid, "release", f"order {oid} cannot start at its release")
            model.add(start[first.key] >= flat.release[j]).only_enforce_if(enforce)
        routing = group(oid, "routing", f"order {oid} cannot keep its routing and waits")
        for prev_key, key in itertools.pairwise(keys):
            prev = flat.ops[prev_key]
            op = flat.ops[key]
            if prev.frozen and op.frozen:
                continue
            _link(flat, built, prev, op, routing)

    # Machines: no overlap with each other and with calendar gaps; set-ups as circuits.
    per_machine: dict[int, list[int]] = {m: [] for m in range(len(flat.machines))}
    for op in flat.ops:
        for m, _ in choice[op.key]:
            per_machine[m].append(op.key)
    passive: list[tuple[int, int]] = []
    for m, keys in per_machine.items():
        if not keys:
            continue
        intervals: list[cp_model.IntervalVar] = []
        with_setups = flat.has_setups[m]
        # What takes no time and can need no set-up changes nothing over on a machine, as
        # dispatch and plan.violations read it: it may lie anywhere, even inside other work
        # or a closed window, so it holds no interval and no place in the set-up order.
        never = {k for k in keys if _never_counts(flat.ops[k], m, with_setups)}
        keys = [k for k in keys if k not in never]
        passive.extend((k, m) for k in never)
        for key in keys:
            intervals.append(_interval(flat, built, key, m, with_setups))
        calendar = group(
            None,
            f"calendar {flat.machines[m]}",
            f"machine {flat.machines[m]}: its shifts and unavailable windows leave no room",
        )
        for ws, we in _gaps_around_started(flat, m, keys):
            if ws >= horizon:
                break
            size = min(we, horizon + 1) - ws  # no start lies past the horizon
            if calendar:
                intervals.append(
                    model.new_optional_fixed_size_interval_var(ws, size, calendar[0], "gap")
                )
            else:
                intervals.append(model.new_fixed_size_interval_var(ws, size, "gap"))
        model.add_no_overlap(intervals)
        if with_setups and keys:
            _circuit(flat, built, m, keys, deadline, should_stop)
    for key, m in passive:
        if key in built.setup:  # made for another machine: none here
            model.add(built.setup[key] == 0).only_enforce_if(_on(built, key, m))

    built.criteria = _criteria(flat, built, horizon, terms)
    return built


def _gaps_around_started(flat: Flat, m: int, keys: list[int]) -> list[tuple[int, int]]:
    """Return machine m's calendar gaps less the time started work on it holds.

    What was reported running is a fact: a gap it overlaps must not make the model infeasible.
    Other work still keeps out of both, as their union is unchanged.
    """
    held = sorted(
        (op.frozen_start, op.frozen_end)
        for op in (flat.ops[k] for k in keys)
        if op.frozen_start is not None
        and op.frozen_end is not None
        and op.frozen_end > op.frozen_start
    )
    gaps: list[tuple[int, int]] = []
    for ws, we in flat.forbidden[m]:
        for hs, he in held:
            if he <= ws or hs >= we:
                continue
            if hs > ws:
                gaps.append((ws, hs))
            ws = max(ws, he)
            if ws >= we:
                break
        if ws < we:
            gaps.append((ws, we))
    return gaps


def build_lean(flat: Flat, horizon: int | None = None) -> Built:
    """Build the plain job-shop model: intervals, no-overlap per machine and the makespan.

    For classic (flexible) job shops with a makespan objective; nothing else is modelled, so
    CP-SAT's presolve and search see the same model as the textbook formulation.
    """
    model = cp_model.CpModel()
    horizon = horizon if horizon is not None else flat.horizon
    start: list[cp_model.IntVar] = []
    choice: list[list[tuple[int, cp_model.IntVar | None]]] = []
    intervals: dict[int, list[cp_model.IntervalVar]] = {}
    ends: list[cp_model.IntVar] = []
    for keys in flat.jobs:
        previous: cp_model.IntVar | None = None
        for key in keys:
            op = flat.ops[key]
            s = model.new_int_var(0, horizon, f"s{key}")
            e = model.new_int_var(0, horizon, f"e{key}")
            start.append(s)
            if len(op.alts) == 1:
                alt = op.alts[0]
                _lean_interval(model, intervals, alt.machine, s, alt.duration, e, None, key)
                choice.append([(alt.machine, None)])
            else:
                lits: list[tuple[int, cp_model.IntVar | None]] = []
                for alt in op.alts:
                    lit = model.new_bool_var(f"x{key}_{alt.machine}")
                    lits.append((alt.machine, lit))
                    _lean_interval(model, intervals, alt.machine, s, alt.duration, e, lit, key)
                model.add_exactly_one(lit for _, lit in lits if lit is not None)
                choice.append(lits)
            if previous is not None:
                model.add(s >= previous)
            previous = e
        if previous is not None:
            ends.append(previous)
    for ivs in intervals.values():
        model.add_no_overlap(ivs)
    makespan = model.new_int_var(0, horizon, "makespan")
    model.add_max_equality(makespan, ends)
    assert all(v.name == f"s{k}" for k, v in enumerate(start))
    return Built(model, start, choice, {}, {}, {"makespan": makespan})


def _lean_interval(
    model: cp_model.CpModel,
    intervals: dict[int, list[cp_model.IntervalVar]],
    m: int,
    s: cp_model.IntVar,
    duration: int,
    e: cp_model.IntVar,
    lit: cp_model.IntVar | None,
    key: int,
) -> None:
    """Add an operation's interval on m; what takes no time only ties its end to its start,
    as an empty interval would still keep out of other work in CP-SAT."""
    if duration == 0:
        model.add(e == s).only_enforce_if([] if lit is None else [lit])
    elif lit is None:
        intervals.setdefault(m, []).append(model.new_interval_var(s, duration, e, f"i{key}"))
    else:
        intervals.setdefault(m, []).append(
            model.new_optional_interval_var(s, duration, e, lit, f"i{key}")
        )


def _takes_time(op: FlatOp, m: int) -> bool:
    if op.frozen:
        assert op.frozen_start is not None and op.frozen_end is not None
        return op.frozen_end > op.frozen_start
    alt = op.alt_on(m)
    assert alt is not None
    return alt.duration > 0


def _never_counts(op: FlatOp, m: int, with_setups: bool) -> bool:
    """Tell whether `op` on `m` takes no time and can need no set-up (started work needs none)."""
    if _takes_time(op, m):
        return False
    return not with_setups or op.frozen or not (op.setup_default or any(op.setup_from.values()))


def _on(built: Built, key: int, m: int) -> list[cp_model.IntVar]:
    """Return the literals that put an operation on machine m (none: it has no other)."""
    lit = _presence(built, key, m)
    return [] if lit is None else [lit]


def _presence(built: Built, key: int, machine: int) -> cp_model.IntVar | None:
    for m, lit in built.choice[key]:
        if m == machine:
            return lit
    raise KeyError(machine)


def _interval(
    flat: Flat, built: Built, key: int, m: int, with_setups: bool
) -> cp_model.IntervalVar:
    model = built.model
    op = flat.ops[key]
    s = built.start[key]
    lit = _presence(built, key, m)
    if op.frozen:
        size: int = built.duration(flat, key)  # type: ignore[assignment]
        return model.new_fixed_size_interval_var(s, size, f"i{key}")
    alt = op.alt_on(m)
    assert alt is not None
    if with_setups:
        if key not in built.setup:
            biggest = max([op.setup_default, *op.setup_from.values()])
            built.setup[key] = model.new_int_var(0, biggest, f"su{key}")
            # Interval bounds must be affine, so the set-up start gets a variable of its own.
            # A set-up starts at 0 at the earliest, and not before now. (The protobuf domain
            # takes no negative index: [-1] read 0 and pinned every set-up machine to time 0.)
            domain = built.start[key].proto.domain
            occupied = model.new_int_var(
                max(0, flat.problem.now), domain[len(domain) - 1], f"o{key}"
            )
            model.add(occupied == s - built.setup[key])
            built.occupied[key] = occupied
        su, occupied = built.setup[key], built.occupied[key]
        if alt.duration == 0:
            # Present only when a set-up is needed (see _circuit): an empty interval would
            # still keep out of other work in CP-SAT, where the rules let it lie anywhere.
            counts = model.new_bool_var(f"counts{key}_{m}")
            if lit is not None:
                model.add_implication(counts, lit)
            built.counts[key, m] = counts
            return model.new_optional_interval_var(occupied, su, s, counts, f"i{key}_{m}")
        if lit is None:
            return model.new_interval_var(occupied, su + alt.duration, s + alt.duration, f"i{key}")
        return model.new_optional_interval_var(
            occupied, su + alt.duration, s + alt.duration, lit, f"i{key}_{m}"
        )
    if lit is None:
        return model.new_fixed_size_interval_var(s, alt.duration, f"i{key}")
    return model.new_optional_fixed_size_interval_var(s, alt.duration, lit, f"i{key}_{m}")


def _link(
    flat: Flat, built: Built, prev: FlatOp, op: FlatOp, enforce: list[cp_model.IntVar]
) -> None:
    """Add precedence, waits and transfer-lot overlap between consecutive operations."""
    model = built.model
    s_prev, s_op = built.start[prev.key], built.start[op.key]
    e_prev, e_op = built.end(flat, prev.key), built.end(flat, op.key)
    # Started work keeps the rule too: its first lot moves on after `first` units of its time.
    if prev.transfer_qty:
        q = prev.transfer_qty
        first = _by_choice(
            built.choice[prev.key], {a.machine: a.fixed_time + q * a.unit_time for a in prev.alts}
        )
        tail = _by_choice(built.choice[op.key], {a.machine: q * a.unit_time for a in op.alts})
        model.add(s_op >= s_prev + first + prev.min_wait).only_enforce_if(enforce)
        model.add(e_op >= e_prev + tail).only_enforce_if(enforce)
    else:
        model.add(s_op >= e_prev + prev.min_wait).only_enforce_if(enforce)
    if prev.max_wait is not None:
        model.add(s_op <= e_prev + prev.max_wait).only_enforce_if(enforce)


def _circuit(
    flat: Flat,
    built: Built,
    m: int,
    keys: list[int],
    deadline: float | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """Order the operations of a machine as a path so that set-ups follow the families."""
    model = built.model
    passing: dict[int, _Passing] = {}
    if any((k, m) in built.counts for k in keys):
        families = sorted({flat.initial_family[m], *(flat.ops[k].family for k in keys)})
        # Ends of work on m: started work may end before 0.
        lowest = min([0, *(flat.ops[k].frozen_end or 0 for k in keys)])
        ends = (lowest, max([lowest, *(_latest_end(flat, built, k) for k in keys)]))
        for k in keys:
            if (k, m) in built.counts:
                passing[k] = _passing(flat, built, k, m, families, ends)
    arcs: list[tuple[int, int, cp_model.IntVar]] = []
    optional = False
    for i, key in enumerate(keys, start=1):
        lit = _presence(built, key, m)
        if lit is not None:
            optional = True
            arcs.append((i, i, lit.negated()))  # type: ignore[arg-type]
        first = model.new_bool_var(f"first{key}_{m}")
        last = model.new_bool_var(f"last{key}_{m}")
        arcs.append((0, i, first))
        arcs.append((i, 0, last))
        _hand_on(flat, built, passing, first, [([], flat.initial_family[m], None)], None, key)
    if optional:
        arcs.append((0, 0, model.new_bool_var(f"idle{m}")))
    for i, a in enumerate(keys, start=1):
        if (deadline is not None and time.monotonic() > deadline) or (
            should_stop is not None and should_stop()
        ):
            raise BuildTimeout(f"set-ups of machine {flat.machines[m]}: {len(keys)} operations")
        handed = _handed(flat, built, passing, a)
        for k, b in enumerate(keys, start=1):
            if a == b:
                continue
            lit = model.new_bool_var(f"arc{a}_{b}")
            arcs.append((i, k, lit))
            _hand_on(flat, built, passing, lit, handed, a, b)
    model.add_circuit(arcs)
    built.arcs[m] = [
        (keys[i - 1] if i else -1, keys[k - 1] if k else -1, lit) for i, k, lit in arcs
    ]


@dataclass
class _Passing:
    """Work that takes no time on a set-up machine: it counts (changes the family over, its
    set-up holding the machine) only when the family in force before it needs a set-up."""

    counts: cp_model.IntVar
    # One literal per family that may be in force before it (-1: nothing ran).
    before: dict[int, cp_model.IntVar]
    # No earlier than the end of the last work before it that counts.
    after: cp_model.IntVar


# What a place in the set-up order hands to the next: the family in force and the end of the
# last work that counts (None: nothing has), under the literals (all true) that make it so.
Handed = list[tuple[list[cp_model.IntVar], int, LinearExpr | None]]


def _passing(
    flat: Flat, built: Built, key: int, m: int, families: list[int], ends: tuple[int, int]
) -> _Passing:
    """Add the variables of work that takes no time on m, and when it counts."""
    model = built.model
    op, on, su = flat.ops[key], _on(built, key, m), built.setup[key]
    counts = built.counts[key, m]
    before = {f: model.new_bool_var(f"before{key}_{m}_{f}") for f in families}
    model.add_exactly_one(before.values())
    after = model.new_int_var(ends[0], ends[1], f"after{key}_{m}")
    for f, lit in before.items():
        need = flat.setup(op, f)
        model.add(su == need).only_enforce_if([lit, *on])
        model.add_bool_or([counts if need else counts.negated()]).only_enforce_if([lit, *on])
    model.add(built.start[key] - su >= after).only_enforce_if(counts)
    return _Passing(counts, before, after)


def _latest_end(flat: Flat, built: Built, key: int) -> int:
    op = flat.ops[key]
    if op.frozen:
        assert op.frozen_end is not None
        return op.frozen_end
    domain = built.start[key].proto.domain
    return int(domain[len(domain) - 1]) + max(a.duration for a in op.alts)


def _handed(flat: Flat, built: Built, passing: dict[int, _Passing], a: int) -> Handed:
    """Return what `a` hands on: its own family and end when it counts, else what it got."""
    op = flat.ops[a]
    z = passing.get(a)
    if z is None:
        return [([], op.family, built.end(flat, a))]
    handed: Handed = [([z.counts], op.family, built.start[a])]
    for f, lit in z.before.items():
        handed.append(([z.counts.negated(), lit], f, z.after))  # type: ignore[list-item]
    return handed


def _hand_on(
    flat: Flat,
    built: Built,
    passing: dict[int, _Passing],
    lit: cp_model.IntVar,
    handed: Handed,
    a: int | None,
    b: int,
) -> None:
    """Add what the arc `lit` from `a` (None: the start) to `b` implies."""
    model = built.model
    op = flat.ops[b]
    z = passing.get(b)
    for when, family, end in handed:
        enforce = [lit, *when]
        if z is not None:
            model.add_bool_or([z.before[family]]).only_enforce_if(enforce)
            if end is not None:
                model.add(z.after >= end).only_enforce_if(enforce)
            continue
        gap: LinearExpr = 0
        if not op.frozen:
            gap = built.setup[b]
            model.add(gap == flat.setup(op, family)).only_enforce_if(enforce)
        if end is not None:
            model.add(built.start[b] - gap >= end).only_enforce_if(enforce)
    if a is None:
        return
    # Work that does not count sits where plan.violations reads a machine: by start, then
    # end, then key. Work that counts keeps that order through its set-up gap.
    s_a, s_b = built.start[a], built.start[b]
    if z is not None:
        tie = a in passing and a < b
        model.add(s_b >= s_a + (0 if tie else 1)).only_enforce_if([lit, z.counts.negated()])
    if a in passing:
        tie = b not in passing or a < b  # work that takes time ends later on an equal start
        z_a = passing[a]
        model.add(s_b >= s_a + (0 if tie else 1)).only_enforce_if([lit, z_a.counts.negated()])


def _criteria(
    flat: Flat, built: Built, horizon: int, terms: list[str] | None
) -> dict[str, LinearExpr]:
    """Create the makespan, weighted tardiness and flow-time expressions the objective needs."""
    model = built.model
    wanted = set(terms if terms is not None else [t.kind for t in flat.problem.objective.terms])
    ends = [built.end(flat, keys[-1]) for keys in flat.jobs]
    out: dict[str, LinearExpr] = {}
    if "makespan" in wanted:
        # Work not started yet ends at 0 or later (now >= 0); started work may end before 0.
        lowest = min([0, *(flat.ops[keys[-1]].frozen_end or 0 for keys in flat.jobs)])
        makespan = model.new_int_var(lowest, max(horizon, 0), "makespan")
        for e in ends:
            model.add(makespan >= e)
        out["makespan"] = makespan
    if "weighted_tardiness" in wanted:
        parts: list[LinearExpr] = []
        for j, e in enumerate(ends):
            due = flat.due[j]
            if due is None or flat.weight[j] == 0:
                continue
            late = model.new_int_var(0, max(flat.horizon - due, 0), f"late{j}")
            model.add(late >= e - due)
            parts.append(flat.weight[j] * late)
        out["weighted_tardiness"] = sum(parts) if parts else 0
    if "flow_time" in wanted:
        out["flow_time"] = sum(ends) - sum(entered(flat))
    return out


def add_hint(flat: Flat, built: Built, plan: Plan) -> None:
    """Give a plan to the solver as a starting point."""
    model = built.model
    for op in flat.ops:
        if op.frozen:
            continue
        model.add_hint(built.start[op.key], plan.start[op.key])
        for m, lit in built.choice[op.key]:
            if lit is not None:
                model.add_hint(lit, plan.machine[op.key] == m)
        if op.key in built.setup:
            model.add_hint(built.setup[op.key], plan.setup[op.key])
    for (key, m), counts in built.counts.items():
        model.add_hint(counts, plan.machine[key] == m and plan.setup[key] > 0)
    for m, arcs in built.arcs.items():
        # Work that takes no time and can need no set-up has no place in the order.
        placed = {a for a, _, _ in arcs if a != -1}
        on_m = sorted(
            (k for k in placed if plan.machine[k] == m),
            key=lambda k: (plan.start[k], plan.end[k], k),
        )
        succ = {a: b for a, b in zip([-1, *on_m], [*on_m, -1], strict=True)}
        for a, b, lit in arcs:
            if a == b != -1:
                # The operation's self-loop is the negation of its machine choice, hinted
                # above: a second hint on one variable makes CP-SAT reject the whole model.
                continue
            if a == b:
                model.add_hint(lit, not on_m)
            else:
                model.add_hint(lit, (a == -1 or plan.machine[a] == m) and succ.get(a) == b)


def read_plan(flat: Flat, built: Built, value: Callable[[cp_model.IntVar], int]) -> Plan:
    """Read a plan from solver values."""
    n = len(flat.ops)
    plan = Plan([0] * n, [0] * n, [0] * n, [0] * n)
    for op in flat.ops:
        key = op.key
        s = value(built.start[key])
        machine = built.choice[key][0][0]
        for m, lit in built.choice[key]:
            if lit is not None and value(lit):
                machine = m
        plan.start[key] = s
        plan.machine[key] = machine
        if op.frozen:
            assert op.frozen_end is not None
            plan.end[key] = op.frozen_end
        else:
            alt = op.alt_on(machine)
            assert alt is not None
            plan.end[key] = s + alt.duration
        if key in built.setup and flat.has_setups[machine]:
            plan.setup[key] = value(built.setup[key])
    return plan
