"""Where every CP-SAT solver is made, so every solve leaves Ctrl-C to the process, and where
the schedule's solves run, so no rejected model passes for a search that found nothing. Cart
sizing runs its own solve: it answers a rejected model as status unknown, with CP-SAT's reason."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ortools.sat.python import cp_model


class ModelInvalid(RuntimeError):
    """CP-SAT rejected a model we built: a defect of ours, never of the problem given."""


def cp_solver() -> cp_model.CpSolver:
    """Return a CP-SAT solver that does not take over SIGINT and proves optimality exactly.

    By default CP-SAT installs its own SIGINT handler for the length of a solve and leaves it
    behind: a Ctrl-C during a solve on a worker thread then aborts the whole process, and one
    after it never reaches Python, so a server dies without shutting down.
    """
    solver = cp_model.CpSolver()
    solver.parameters.catch_sigint_signal = False
    # Our objectives are integers: a solve is optimal when proven to the unit. CP-SAT's default
    # gap is compared on doubles, which past 2^53 let a plan some units off pass as optimal.
    solver.parameters.absolute_gap_limit = 0.0
    return solver


def checked_solve(
    solver: cp_model.CpSolver,
    model: cp_model.CpModel,
    callback: cp_model.CpSolverSolutionCallback | None = None,
) -> cp_model.CpSolverStatus:
    """Solve `model`; raise ModelInvalid when CP-SAT refuses it.

    A refused model returns MODEL_INVALID at once, with no solution and no bound: read like
    any status short of a proof, it would pass the constructive plan off as the answer.
    """
    status = solver.solve(model, callback)
    if status == cp_model.MODEL_INVALID:
        raise ModelInvalid(f"CP-SAT rejected the model: {solver.solution_info()}")
    return status


@contextmanager
def stopped_when(
    solver: cp_model.CpSolver, should_stop: Callable[[], bool] | None
) -> Iterator[None]:
    """Stop `solver`'s search within 0.1 s of `should_stop` turning true, while inside.

    A solution callback cannot do it alone: a search that finds no solution never calls it.
    """
    if should_stop is None:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            if should_stop():
                solver.stop_search()
                return

    threading.Thread(target=watch, daemon=True).start()
    try:
        yield
    finally:
        done.set()
