"""Cart load sizing: how many parts each batch's carts carry, so machines are neither overloaded
nor starved.

For n batches on m machines, with rates C[i][j] (parts per hour of batch j on machine i; 0 means
batch j does not visit machine i), set-up hours p[i][j] per cart, quantities d[i][j], working
days H[i], planned completion times J[i] (hours from the start of the day) and a cart capacity Z,
choose the load b[j] of batch j's carts (1 <= b[j] <= Z). Batch j then comes to machine i in
ceil(d[i][j] / b[j]) carts, each set up once, and machine i works

    A[i] = sum_j d[i][j] / C[i][j]              (processing)
    D[i] = sum_j ceil(d[i][j] / b[j]) * p[i][j]   (set-ups)
    Y[i] = A[i] + D[i]                          (its load; working from the start of the day,
                                                 it finishes at G[i] = Y[i])

subject to Y[i] >= H[i] (the work covers the day: the machine is not starved) and
G[i] <= J[i] (it finishes in time: it is not overloaded). Among the feasible loads the smallest
total set-up time is chosen, then the smallest carts (the most even flow) with those set-ups.
CP-SAT solves it in milliseconds, with the numbers as written (0.2 h is a fifth of an hour): the
work moves to the bound's side of each constraint, where rounding the bound loses nothing while
set-ups are whole milliseconds; a set-up of a fraction of one counts down when filling the day and
up when finishing in time. A plan it returns meets both constraints exactly. When no load is
feasible, the constraints that cannot hold together are named (a minimal conflicting set).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scheduler.models import MAX_OBJECTIVE, Ref

# CP-SAT (with pandas) takes a third of a second to import: it is loaded where a model is built,
# so the API and the CLI, which read and write these models, start without it.
if TYPE_CHECKING:
    from ortools.sat.python import cp_model

UNITS = 3_600_000  # times are hours in and out, milliseconds inside the model
# Hours of work of one batch on one machine, at most: the model's sums stay in 64 bits.
MAX_HOURS = 1e6
# Hours of set-ups of the whole plan at one part per cart (the most the model counts), at
# most: in milliseconds, every constraint and the objective stay below 2**62.
MAX_SETUP_HOURS = 1e12
# A shop's machines by a day's batches; the model grows with their product.
MAX_CELLS = 2_500
# Up to a century of hours: room for any plan, and the sums stay exact enough. Every number is
# read strictly, as a scheduling problem's are (`models.said` words the refusal): read laxly,
# "100" was 100 parts and true an hour.
Hours = Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False, strict=True)]


class CartSizingInput(BaseModel):
    """The sizing problem; rows are machines, columns batches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rates: Annotated[list[list[Hours]], Field(min_length=1)] = Field(
        description="C[i][j]: parts per hour of batch j on machine i; 0 = not routed there"
    )
    setups: list[list[Hours]] = Field(description="p[i][j]: set-up hours per cart")
    quantities: list[list[Annotated[int, Field(ge=0, le=10_000_000, strict=True)]]] = Field(
        description="d[i][j]: parts of batch j machine i works"
    )
    due: list[Hours] = Field(description="J[i]: planned completion, hours from the day's start")
    day: list[Hours] = Field(description="H[i]: the working day the machine's load must cover")
    capacity: Annotated[int, Field(ge=1, le=1_000_000, strict=True)] = Field(
        description="Z: parts per cart"
    )
    machines: list[Ref] | None = None
    batches: list[Ref] | None = None
    # A day's carts are sized in seconds; a minute is ample, and the solver holds a thread.
    time_limit: Annotated[float, Field(gt=0, le=60, strict=True)] = 10.0

    @model_validator(mode="after")
    def _shapes(self) -> Self:
        m, n = len(self.rates), len(self.rates[0])
        if n == 0:
            raise ValueError("rates need at least one batch")
        if m * n > MAX_CELLS:
            raise ValueError(f"{m} machines x {n} batches: at most {MAX_CELLS:,} pairs")
        for name in ("rates", "setups", "quantities"):
            rows = getattr(self, name)
            if len(rows) != m or any(len(row) != n for row in rows):
                raise ValueError(f"{name} must be {m} rows (machines) of {n} (batches)")
        for name in ("due", "day"):
            if len(getattr(self, name)) != m:
                raise ValueError(f"{name} needs one value per machine ({m})")
        if self.machines is not None and len(self.machines) != m:
            raise ValueError(f"machines needs {m} names")
        if self.batches is not None and len(self.batches) != n:
            raise ValueError(f"batches needs {n} names")
        for i in range(m):
            for j in range(n):
                q = self.quantities[i][j]
                if q > 0 and self.rates[i][j] == 0:
                    raise ValueError(
                        f"batch {j} has quantity on machine {i}, which it is not routed to"
                    )
                # Hours of work stay countable (in milliseconds, in 64 bits).
                if q > 0 and q / self.rates[i][j] > MAX_HOURS:
                    raise ValueError(
                        f"rates[{i}][{j}]: {q} parts at {self.rates[i][j]:g} an hour take over "
                        f"{MAX_HOURS:g} hours"
                    )
        rows = zip(self.quantities, self.setups, strict=True)
        most = sum(q * p for qs, ps in rows for q, p in zip(qs, ps, strict=True))
        if most > MAX_SETUP_HOURS:
            raise ValueError(
                f"setups: at one part per cart the set-ups take {most:.3g} hours in all "
                f"(set-up hours times quantities); at most {MAX_SETUP_HOURS:g}"
            )
        return self

    def machine(self, i: int) -> str:
        return self.machines[i] if self.machines is not None else f"machine {i}"

    def batch(self, j: int) -> str:
        return self.batches[j] if self.batches is not None else f"batch {j}"


class MachineLoad(BaseModel):
    machine: str
    work_hours: float = Field(description="A: processing")
    setup_hours: float = Field(description="D: set-ups, one per cart")
    load_hours: float = Field(description="Y = A + D; also G, when it finishes")
    day_hours: float
    due_hours: float
    utilisation: float | None = Field(
        description="Y / H: the share of the working day the load fills (none for a day of 0)"
    )
    slack_hours: float = Field(description="J - Y: time to spare before the planned completion")


class BatchLoad(BaseModel):
    batch: str
    load: int = Field(description="b: parts per cart")
    carts: int = Field(description="carts for the largest quantity of the batch on one machine")


class Binding(BaseModel):
    constraint: Literal["capacity", "day", "due"]
    machine: str | None = None
    message: str


class CartSizing(BaseModel):
    status: Literal["optimal", "feasible", "infeasible", "unknown"]
    batches: list[BatchLoad] = []
    machines: list[MachineLoad] = []
    setup_hours: float | None = None
    binding: list[Binding] = Field(
        default=[], description="when infeasible: constraints that cannot hold together"
    )
    reason: str | None = Field(default=None, description="when unknown: why")


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _exact(hours: float) -> Fraction:
    """The number as written: 0.2 is a fifth, not the binary fraction nearest it."""
    return Fraction(repr(hours))


def _work(problem: CartSizingInput, i: int) -> Fraction:
    row = enumerate(problem.quantities[i])
    return sum((q / _exact(problem.rates[i][j]) for j, q in row if q > 0), Fraction(0))


def _load_of(problem: CartSizingInput, i: int, loads: list[int]) -> tuple[Fraction, Fraction]:
    setups = sum(
        (
            _ceil_div(q, loads[j]) * _exact(problem.setups[i][j])
            for j, q in enumerate(problem.quantities[i])
            if q > 0
        ),
        Fraction(0),
    )
    return _work(problem, i), setups


class _Model:
    """The CP-SAT model, with one assumption literal per named constraint."""

    def __init__(self, problem: CartSizingInput) -> None:
        from ortools.sat.python import cp_model

        self.problem = problem
        m, n = len(problem.rates), len(problem.rates[0])
        model = self.model = cp_model.CpModel()
        self.top = [max([1, *(problem.quantities[i][j] for i in range(m))]) for j in range(n)]
        self.loads = [model.new_int_var(1, self.top[j], f"b{j}") for j in range(n)]
        self.capacity = model.new_bool_var("capacity")
        for j, load in enumerate(self.loads):
            if self.top[j] > problem.capacity:
                model.add(load <= problem.capacity).only_enforce_if(self.capacity)
        self.day = [model.new_bool_var(f"day{i}") for i in range(m)]
        self.due = [model.new_bool_var(f"due{i}") for i in range(m)]
        setup_terms = []
        most = 0  # the largest the set-up total can be: every cart of one part
        for i in range(m):
            up, down = [], []  # set-ups in milliseconds, rounded up and down
            for j, q in enumerate(problem.quantities[i]):
                if q == 0 or problem.setups[i][j] == 0:
                    continue
                count = model.new_int_var(1, q, f"n{i}_{j}")
                # count = ceil(q / load), as integer division: no table as long as the batch.
                model.add_division_equality(count, self.loads[j] + (q - 1), self.loads[j])
                each = _exact(problem.setups[i][j]) * UNITS
                up.append(count * math.ceil(each))
                down.append(count * math.floor(each))
                most += q * math.ceil(each)
            # Y >= H as D >= H - A, and Y <= J as D <= J - A: D is whole milliseconds, so
            # rounding the right side up (down) loses nothing, and the work is never rounded.
            # Set-ups of a fraction of a millisecond count down for the day and up for the
            # due time: a plan this model accepts meets both exactly.
            work = _work(problem, i)
            fill = math.ceil((_exact(problem.day[i]) - work) * UNITS)
            finish = math.floor((_exact(problem.due[i]) - work) * UNITS)
            model.add(sum(down) >= fill).only_enforce_if(self.day[i])
            model.add(sum(up) <= finish).only_enforce_if(self.due[i])
            setup_terms.extend(up)
        # Set-ups first; among equal set-ups, the smallest carts. Where that weighting would
        # pass 64 bits (CP-SAT then refuses the model), set-ups alone.
        weight = sum(self.top) + 1
        if weight * most + weight < MAX_OBJECTIVE:
            model.minimize(weight * sum(setup_terms) + sum(self.loads))
        else:
            model.minimize(sum(setup_terms))

    def literals(self) -> list[cp_model.IntVar]:
        return [self.capacity, *self.day, *self.due]

    def solve(self, assumed: list[cp_model.IntVar]) -> tuple[cp_model.CpSolver, int]:
        from scheduler.cp_solver import cp_solver

        self.model.clear_assumptions()
        self.model.add_assumptions(assumed)
        solver = cp_solver()
        solver.parameters.max_time_in_seconds = self.problem.time_limit
        solver.parameters.num_workers = 1
        return solver, int(solver.solve(self.model))


def size_carts(problem: CartSizingInput) -> CartSizing:
    """Choose the parts per cart of each batch; name the binding constraints when none fit."""
    from ortools.sat.python import cp_model

    built = _Model(problem)
    solver, status = built.solve(built.literals())
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        loads = [int(solver.value(load)) for load in built.loads]
        return _report(problem, loads, "optimal" if status == cp_model.OPTIMAL else "feasible")
    if status == cp_model.UNKNOWN:
        limit = f"the time limit of {problem.time_limit:g} s"
        return CartSizing(status="unknown", reason=f"no load found, nor ruled out, in {limit}")
    if status != cp_model.INFEASIBLE:
        # The limits above keep the model countable; should one be missed, it is said.
        found = built.model.validate() or cp_model.CpSolverStatus(status).name
        return CartSizing(
            status="unknown", reason=f"CP-SAT refused the model: {found.splitlines()[0]}"
        )
    return CartSizing(status="infeasible", binding=_binding(problem, built))


def _report(problem: CartSizingInput, loads: list[int], status: str) -> CartSizing:
    machines = []
    total_setups = Fraction(0)
    for i in range(len(problem.rates)):
        # Figured as the model counts them (exactly), then rounded: a plan that met its
        # bounds never reads as short of its day or past its due time.
        work, setups = _load_of(problem, i, loads)
        load = work + setups
        total_setups += setups
        day = _exact(problem.day[i])
        machines.append(
            MachineLoad(
                machine=problem.machine(i),
                work_hours=_rounded(work),
                setup_hours=_rounded(setups),
                load_hours=_rounded(load),
                day_hours=problem.day[i],
                due_hours=problem.due[i],
                utilisation=_rounded(load / day) if day > 0 else None,
                slack_hours=_rounded(_exact(problem.due[i]) - load),
            )
        )
    batches = [
        BatchLoad(
            batch=problem.batch(j),
            load=load,
            carts=max(_ceil_div(problem.quantities[i][j], load) for i in range(len(problem.rates))),
        )
        for j, load in enumerate(loads)
    ]
    return CartSizing(
        status=status,
        batches=batches,
        machines=machines,
        setup_hours=_rounded(total_setups),
    )


def _rounded(hours: Fraction) -> float:
    return float(round(hours, 6))


def _text(hours: Fraction) -> str:
    """Hours to the millionth, without trailing zeros: 15, 10.25, 10.000083."""
    return f"{_rounded(hours):.6f}".rstrip("0").rstrip(".")


def _binding(problem: CartSizingInput, built: _Model) -> list[Binding]:
    """Shrink the conflicting constraints to a minimal set, then say what each one means."""
    from ortools.sat.python import cp_model

    solver, _ = built.solve(built.literals())
    core = {int(index) for index in solver.sufficient_assumptions_for_infeasibility()}
    chosen = [lit for lit in built.literals() if lit.index in core] or built.literals()
    for lit in list(chosen):
        rest = [other for other in chosen if other is not lit]
        if built.solve(rest)[1] == cp_model.INFEASIBLE:
            chosen = rest
    top = [min(problem.capacity, t) for t in built.top]
    found = []
    for lit in chosen:
        if lit is built.capacity:
            found.append(
                Binding(
                    constraint="capacity",
                    message=f"carts hold at most {problem.capacity} parts (Z)",
                )
            )
            continue
        kind = "day" if lit in built.day else "due"
        i = (built.day if kind == "day" else built.due).index(lit)
        name = problem.machine(i)
        if kind == "day":
            work, most = _load_of(problem, i, [1] * len(built.top))
            message = (
                f"{name} must be loaded for its working day of {_text(_exact(problem.day[i]))} h "
                f"(Y >= H); even one part per cart gives {_text(work + most)} h"
            )
        else:
            work, least = _load_of(problem, i, top)
            message = (
                f"{name} must finish by {_text(_exact(problem.due[i]))} h (G <= J); "
                f"even full carts take {_text(work + least)} h"
            )
        found.append(Binding(constraint=kind, machine=name, message=message))
    return found
