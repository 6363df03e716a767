"""The one place a CP-SAT solver is made, so every solve leaves Ctrl-C to the process."""

from __future__ import annotations

from ortools.sat.python import cp_model


def cp_solver() -> cp_model.CpSolver:
    """Return a CP-SAT solver that does not take over SIGINT.

    By default CP-SAT installs its own SIGINT handler for the length of a solve and leaves it
    behind: a Ctrl-C during a solve on a worker thread then aborts the whole process, and one
    after it never reaches Python, so a server dies without shutting down.
    """
    solver = cp_model.CpSolver()
    solver.parameters.catch_sigint_signal = False
    return solver
