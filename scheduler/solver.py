"""Solve a problem: constructive start, local improvement, then CP-SAT within the time limit."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ortools.sat.python import cp_model, cp_model_helper

from scheduler import cpsat
from scheduler.cp_solver import checked_solve, cp_solver, stopped_when
from scheduler.diagnose import explain_infeasible, static_conflicts
from scheduler.dispatch import RULES, best_dispatch
from scheduler.flat import Flat, flatten, index_gaps
from scheduler.kpis import kpis
from scheduler.localsearch import improve, lower_bound
from scheduler.models import (
    Conflict,
    Problem,
    ScheduledOperation,
    Solution,
    SolveOptions,
    Status,
)
from scheduler.plan import Plan, criteria, objective_vector, violations

# Above this many operations the full model is not built.
LARGE = 2500
MAX_CIRCUIT = 300
# The share of a stage's time the model may take to build; CP-SAT needs the rest to load
# it and search. A model not built by then is given up, and the incumbent is the answer.
BUILD_SHARE = 0.5
LOAD_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class Progress:
    """What a running solve has found so far."""

    elapsed: float
    fraction: float
    makespan: int | None
    objective: tuple[int, ...] | None


ProgressFn = Callable[[Progress], None]
StopFn = Callable[[], bool]


class _Clock:
    def __init__(self, limit: float) -> None:
        self.t0 = time.monotonic()
        self.limit = limit

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def left(self) -> float:
        return self.limit - self.elapsed()


class _Incumbent:
    """The best plan so far; it only ever gets better."""

    def __init__(self, flat: Flat, clock: _Clock, progress: ProgressFn | None) -> None:
        self.flat = flat
        self.clock = clock
        self.progress = progress
        self.plan: Plan | None = None
        self.value: tuple[int, ...] | None = None
        self.source: str = "none"
        self.lock = threading.Lock()
        # A makespan no plan can beat; reaching it ends the search.
        self.floor: int | None = None

    def at_floor(self) -> bool:
        """Tell whether the incumbent's makespan meets a known lower bound."""
        plan = self.plan
        return self.floor is not None and plan is not None and max(plan.end) <= self.floor

    def hint(self) -> Plan | None:
        """The plan to hint CP-SAT with: the incumbent, but not a rules' plan (or a repair) of
        work bound by max_wait. Placed as blocks that hold their machines, such a plan led the
        search to plans 5-10 % longer in the same limit than no hint, on shops of 100 and 200
        orders with waits on 4 steps in 10. It still stands as the answer until CP-SAT finds a
        better one."""
        if self.source == "dispatch" and any(op.max_wait is not None for op in self.flat.ops):
            return None
        return self.plan

    def offer(self, plan: Plan, source: str, checked: bool = False) -> bool:
        if not checked and violations(self.flat, plan):
            return False
        value = objective_vector(self.flat, plan)
        with self.lock:
            if self.value is not None and value >= self.value:
                return False
            self.plan, self.value, self.source = plan, value, source
        if self.progress is not None:
            self.progress(
                Progress(
                    elapsed=self.clock.elapsed(),
                    fraction=min(1.0, self.clock.elapsed() / self.clock.limit),
                    makespan=criteria(self.flat, plan)["makespan"],
                    objective=value,
                )
            )
        return True


class _Recorder(cp_model.CpSolverSolutionCallback):
    """Hand every improving solution to the incumbent; stop when asked."""

    def __init__(
        self, flat: Flat, built: cpsat.Built, incumbent: _Incumbent, should_stop: StopFn | None
    ) -> None:
        super().__init__()
        self.flat = flat
        self.built = built
        self.incumbent = incumbent
        self.should_stop = should_stop
        self.last: Plan | None = None

    def on_solution_callback(self) -> None:
        plan = cpsat.read_plan(self.flat, self.built, self.value)
        self.last = plan
        self.incumbent.offer(plan, "cpsat")
        if self.incumbent.at_floor() or (self.should_stop is not None and self.should_stop()):
            self.stop_search()


# Between these sizes (operations), CP-SAT spends all workers on neighbourhood search.
LNS_ONLY = (100, 400)


def tune(params: cp_model_helper.SatParameters, flat: Flat) -> None:
    """Set search parameters that suit job shops."""
    if flat.is_plain and LNS_ONLY[0] < len(flat.ops) <= LNS_ONLY[1]:
        # A strong start exists, and with few workers the full-problem worker rarely improves
        # it on instances of this size, so all workers search neighbourhoods around it. Small
        # instances keep the full worker, which proves optimality; on large ones each
        # neighbourhood takes long and the full worker's own descent does better.
        params.use_lns_only = True


def lean(flat: Flat) -> bool:
    """Tell whether CP-SAT should get the plain job-shop model rather than the full one."""
    return flat.is_plain and len(flat.ops) <= LNS_ONLY[0]


def search_share(flat: Flat) -> float:
    """Return the fraction of the time limit the tabu search may use before CP-SAT."""
    # Measured at 10 s and 2 workers: from 100 operations on, the tabu search shortens the plan
    # faster per second than CP-SAT's neighbourhood search, and on 50 x 10 job shops far faster
    # than its full search; CP-SAT gets the rest (and all of it when the search stalls early).
    # Small instances leave the time to CP-SAT, which often proves the optimum there.
    if len(flat.ops) > LNS_ONLY[1]:
        return 0.9
    if len(flat.ops) > LNS_ONLY[0]:
        return 0.5
    return 0.1


def run_cpsat(
    flat: Flat,
    built: cpsat.Built,
    time_limit: float,
    options: SolveOptions,
    incumbent: _Incumbent,
    should_stop: StopFn | None,
    hint: Plan | None,
) -> tuple[cp_model.CpSolverStatus, cp_model.CpSolver, _Recorder]:
    """Solve a built model, feeding improvements to the incumbent.

    Raises ModelInvalid when CP-SAT refuses the model rather than report nothing found.
    """
    if hint is not None:
        cpsat.add_hint(flat, built, hint)
    solver = cp_solver()
    params = solver.parameters
    params.max_time_in_seconds = max(time_limit, 0.05)
    params.num_workers = options.workers
    params.random_seed = options.seed
    tune(params, flat)
    recorder = _Recorder(flat, built, incumbent, should_stop)
    with stopped_when(solver, should_stop):
        status = checked_solve(solver, built.model, recorder)
    return status, solver, recorder


@dataclass
class Outcome:
    """What a search ends with: a status, the best plan found (in `incumbent`), a bound on
    the objective, and for an infeasible problem the conflicts that explain it."""

    status: Status
    incumbent: _Incumbent
    lower_bound: int | None = None
    conflicts: list[Conflict] = field(default_factory=list)


def solve(
    problem: Problem,
    options: SolveOptions | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> Solution:
    """Find a good schedule within the time limit; never return worse than the best found."""
    return _solve(lambda: flatten(problem), options, progress, should_stop)


def solve_flat(
    flat: Flat,
    options: SolveOptions | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> Solution:
    """Solve a problem already in index form (`flatten`), timed from this call: as `solve`,
    for a caller that made the index form to check the problem."""
    return _solve(lambda: flat, options, progress, should_stop)


def _solve(
    make_flat: Callable[[], Flat],
    options: SolveOptions | None,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
) -> Solution:
    # The clock starts before `make_flat`: flattening is part of the time a solve is given.
    options = options or SolveOptions()
    clock = _Clock(options.time_limit)
    return answer(search(make_flat(), options, clock, progress, should_stop), clock)


def answer(outcome: Outcome, clock: _Clock) -> Solution:
    """Turn what a search ended with into a solution, timed by `clock`."""
    if outcome.status == "infeasible":
        return Solution(status="infeasible", conflicts=outcome.conflicts, wall_time=clock.elapsed())
    incumbent = outcome.incumbent
    return _finish(incumbent.flat, incumbent, outcome.status, outcome.lower_bound, clock)


def search(
    flat: Flat,
    options: SolveOptions,
    clock: _Clock,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    start_from: Plan | None = None,
) -> Outcome:
    """Search for a good plan of `flat` until `clock`'s limit, starting from `start_from` (if it
    keeps every rule) and the rules' plans."""
    incumbent = _Incumbent(flat, clock, progress)
    # The conflicts look for room on every machine: its index of gaps is built first, where a
    # cancel is looked at (a repair given has built it already).
    if not index_gaps(flat, should_stop):
        return Outcome("cancelled", incumbent)
    conflicts = static_conflicts(flat)
    if conflicts:
        return Outcome("infeasible", incumbent, conflicts=conflicts)
    if start_from is not None:
        incumbent.offer(start_from, "dispatch")

    # Set-ups are a circuit per machine in CP-SAT, quadratic in its operations: past a few
    # hundred, building the model alone would outlast the limit and fill memory.
    large = too_large(flat)
    rules = RULES if not large else ("mwkr", "fifo", "mor")
    start = best_dispatch(
        flat,
        rules,
        should_stop=lambda: bool(should_stop and should_stop()),
        deadline=clock.t0 + 0.3 * options.time_limit,
        # A rule that has not finished by then gives way to the serial plan, which still has
        # to be checked and reported within the limit.
        give_up=clock.t0 + 0.95 * options.time_limit,
        # A plan given that keeps every rule stands in for the serial plan, made and checked
        # again for nothing at plant size.
        at_hand=incumbent.plan,
    )
    if start is not None and start is not incumbent.plan:  # None: cancelled before a plan
        incumbent.offer(start, "dispatch")
    if flat.is_plain and incumbent.plan is not None and not large:
        improved = improve(
            flat,
            incumbent.plan,
            deadline=clock.t0 + search_share(flat) * options.time_limit,
            seed=options.seed,
            should_stop=should_stop,
            workers=options.workers,
        )
        incumbent.offer(improved, "dispatch")

    status: Status = "feasible" if incumbent.plan is not None else "unknown"
    lower_bound: int | None = None
    if should_stop is not None and should_stop():
        return Outcome("cancelled", incumbent)
    floor = incumbent.floor = _trivial_bound(flat)
    if incumbent.at_floor():
        # The longest job or the busiest machine already fixes the makespan.
        return Outcome("optimal", incumbent, floor)
    if large:
        # Building and presolving the full model can take longer than the whole limit here,
        # so the constructive plan is the answer.
        status = "feasible" if incumbent.plan is not None else "unknown"
        lower_bound = floor
    else:
        status, lower_bound = _solve_stages(flat, options, clock, incumbent, should_stop)
        if floor is not None and status in ("feasible", "optimal"):
            lower_bound = max(lower_bound or 0, floor)
            assert incumbent.plan is not None
            if criteria(flat, incumbent.plan)["makespan"] <= lower_bound:
                status = "optimal"
    if status == "infeasible":
        # Explaining is part of the solve: it has what is left of the limit.
        found = explain_infeasible(flat, clock.left(), should_stop)
        return Outcome("infeasible", incumbent, conflicts=found)
    if should_stop is not None and should_stop():
        status = "cancelled"
    return Outcome(status, incumbent, lower_bound)


def _solve_stages(
    flat: Flat,
    options: SolveOptions,
    clock: _Clock,
    incumbent: _Incumbent,
    should_stop: StopFn | None,
) -> tuple[Status, int | None]:
    """Run CP-SAT once (weighted) or once per criterion (lexicographic)."""
    objective = flat.problem.objective
    kinds = [t.kind for t in objective.terms]
    stages: list[list[tuple[str, int]]]
    if objective.mode == "weighted" or len(kinds) == 1:
        stages = [[(t.kind, t.weight) for t in objective.terms]]
    else:
        stages = [[(k, 1)] for k in kinds]
    fixed: list[tuple[str, int]] = []
    proven = True
    lower_bound: int | None = None
    for n, stage in enumerate(stages):
        share = clock.left() / (len(stages) - n)
        if share <= 0.05:
            proven = False
            break
        horizon = None
        if kinds == ["makespan"] and incumbent.plan is not None:
            # Only schedules at least as short as the incumbent are of interest.
            horizon = criteria(flat, incumbent.plan)["makespan"]
        if lean(flat):
            # The plain model with the incumbent as hint and the loose horizon: measured on
            # 10x10 job shops, it proves optima as fast as the textbook model, while the
            # full model or a horizon cut to the incumbent often failed to within 10 s.
            built, seconds = cpsat.build_lean(flat), share
        else:
            timed = build_in_time(
                flat,
                share,
                horizon=horizon,
                terms=[k for k, _ in stage + fixed],
                should_stop=should_stop,
            )
            if timed is None:
                proven = False
                break
            built, seconds = timed
        for kind, bound in fixed:
            built.model.add(built.criteria[kind] <= bound)
        built.model.minimize(sum(w * built.criteria[k] for k, w in stage))
        code, solver, _ = run_cpsat(
            flat,
            built,
            seconds,
            options,
            incumbent,
            should_stop,
            incumbent.hint(),
        )
        if code == cp_model.INFEASIBLE:
            if incumbent.plan is None:
                return "infeasible", None
            # The incumbent keeps the horizon and the bounds of the stages before, so a model
            # without room for it is stricter than the rules: that proves nothing.
            proven = False
            break
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            proven = False
            if incumbent.plan is None:
                return "unknown", None
            break
        if code != cp_model.OPTIMAL:
            proven = False
        assert incumbent.plan is not None
        values = criteria(flat, incumbent.plan)
        if n == 0:
            lower_bound = _stage_bound(solver, code, stage, values)
        fixed.extend((k, values[k]) for k, _ in stage)
    if incumbent.plan is None:
        return "unknown", lower_bound
    return ("optimal" if proven else "feasible"), lower_bound


def _stage_bound(
    solver: cp_model.CpSolver,
    code: cp_model.CpSolverStatus,
    stage: list[tuple[str, int]],
    values: dict[str, int],
) -> int:
    """Return CP-SAT's bound on a stage's objective, in its one criterion's units if it has one.

    The bound comes as a double: past 2^53 it may be rounded up past the integer proven, so it
    is taken a step down there, and never above the plan at hand, whose value it bounds (and
    is, once proven optimal).
    """
    reached = sum(w * values[k] for k, w in stage)
    bound = solver.best_objective_bound
    if abs(bound) >= 2**53:
        bound = math.nextafter(bound, -math.inf)
    found = reached if code == cp_model.OPTIMAL else min(math.floor(bound), reached)
    if len(stage) == 1:  # one criterion, weighted: its bound in its own units
        found = -(-found // stage[0][1])
    return found


def too_large(flat: Flat) -> bool:
    """Tell whether the full model is out of reach: too many operations, or too many on one
    machine with set-ups (a circuit, quadratic in them), to build within any usual limit."""
    return len(flat.ops) > LARGE or _most_set_up_operations(flat) > MAX_CIRCUIT


def build_in_time(
    flat: Flat,
    seconds: float,
    horizon: int | None = None,
    terms: list[str] | None = None,
    should_stop: StopFn | None = None,
) -> tuple[cpsat.Built, float] | None:
    """Build the full model if that takes at most BUILD_SHARE of `seconds`; return it with the
    seconds left for CP-SAT's search, or None when the build ran out of time or was stopped."""
    started = time.monotonic()
    try:
        built = cpsat.build(
            flat,
            horizon=horizon,
            terms=terms,
            deadline=started + BUILD_SHARE * seconds,
            should_stop=should_stop,
        )
    except cpsat.BuildTimeout:
        return None
    took = time.monotonic() - started
    # CP-SAT loads the model before its own clock starts, in time that grows with what the
    # build made: measured at a quarter of the build on set-up circuits.
    return built, seconds - took - LOAD_SHARE * took


def _most_set_up_operations(flat: Flat) -> int:
    """Return the most operations that may run on one machine with set-ups."""
    counts = [0] * len(flat.machines)
    for op in flat.ops:
        for alt in op.alts:
            if flat.has_setups[alt.machine]:
                counts[alt.machine] += 1
    return max(counts, default=0)


def _trivial_bound(flat: Flat) -> int | None:
    """Return a makespan no plan of a plain (flexible) job shop can beat, if it is one."""
    if not flat.is_plain or not flat.ops:
        return None
    return lower_bound(flat)


def _finish(
    flat: Flat, incumbent: _Incumbent, status: Status, lower_bound: int | None, clock: _Clock
) -> Solution:
    plan = incumbent.plan
    if plan is None:
        return Solution(
            status=status if status != "feasible" else "unknown", wall_time=clock.elapsed()
        )
    return Solution(
        status=status,
        makespan=criteria(flat, plan)["makespan"],
        objective=list(incumbent.value or ()),
        lower_bound=lower_bound,
        source="cpsat" if incumbent.source == "cpsat" else "dispatch",
        wall_time=round(clock.elapsed(), 3),
        operations=to_operations(flat, plan),
        kpis=kpis(flat, plan),
    )


def to_operations(flat: Flat, plan: Plan) -> list[ScheduledOperation]:
    """Turn a plan into named scheduled operations."""
    orders = flat.problem.orders
    return [
        ScheduledOperation(
            job=orders[op.job].id,
            index=op.index,
            operation=op.name,
            machine=flat.machines[plan.machine[op.key]],
            start=plan.start[op.key],
            end=plan.end[op.key],
            setup=plan.setup[op.key],
            frozen=op.frozen,
        )
        for op in flat.ops
    ]
