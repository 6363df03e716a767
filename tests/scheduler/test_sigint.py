"""Ctrl-C reaches Python as KeyboardInterrupt during and after every CP-SAT solve we run.

CP-SAT's own SIGINT handler, left on, aborts the process when the signal arrives while a solve
runs on a worker thread, and swallows it once a solve has ended: a server then never shuts down
cleanly. Each case runs in a child process, since the handler is process-wide.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.scheduler.conftest import REPO

_PRELUDE = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from scheduler.models import Problem, SolveOptions

    def problem():
        machines = [{"id": f"m{i}", "initial_family": "a"} for i in range(4)]
        orders = [
            {"id": f"j{j}", "family": "ab"[j % 2], "operations": [
                {"setup_default": 3, "alternatives": [{"machine": f"m{(j + k) % 4}",
                 "unit_time": 1 + (7 * j + 3 * k) % 13}]} for k in range(4)]}
            for j in range(8)
        ]
        return Problem.model_validate({"machines": machines, "orders": orders})

    def interrupt():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            return
        print("not interrupted", flush=True)
    """
)

_AFTER = {
    "solve": """
        from scheduler.solver import solve
        # Set-ups leave no trivial bound: a lower bound comes from CP-SAT alone.
        assert solve(problem(), SolveOptions(time_limit=0.5, workers=1)).lower_bound is not None
    """,
    "explain": """
        from scheduler.diagnose import explain_infeasible
        from scheduler.flat import flatten
        explain_infeasible(flatten(problem()), 0.5)
    """,
    "carts": """
        from scheduler.carts import CartSizingInput, size_carts
        size_carts(CartSizingInput.model_validate({
            "rates": [[10]], "setups": [[0.5]], "quantities": [[100]], "due": [13],
            "day": [11], "capacity": 40, "machines": ["M"], "batches": ["B"]}))
    """,
}

_DURING = """
    from scheduler import cpsat
    from scheduler.flat import flatten
    from scheduler.solver import _Clock, _Incumbent, run_cpsat

    flat = flatten(problem())
    built = cpsat.build(flat)
    built.model.minimize(built.criteria["makespan"])
    searching, stop = threading.Event(), threading.Event()

    def should_stop():
        searching.set()  # first asked by the watcher once the solve has begun
        return stop.is_set()

    def run():
        run_cpsat(flat, built, 30, SolveOptions(workers=1),
                  _Incumbent(flat, _Clock(30), None), should_stop, None)

    worker = threading.Thread(target=run)
    worker.start()
    searching.wait(10)
    time.sleep(0.3)
"""


def _run(body: str, tail: str = "") -> subprocess.CompletedProcess[str]:
    script = _PRELUDE + textwrap.dedent(body) + "interrupt()\n" + textwrap.dedent(tail)
    return subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("site", sorted(_AFTER))
def test_ctrl_c_after_a_solve_is_a_keyboard_interrupt(site: str) -> None:
    done = _run(_AFTER[site])
    assert (done.returncode, done.stdout) == (0, "interrupted\n"), done.stderr


def test_ctrl_c_during_a_solve_on_a_thread_is_a_keyboard_interrupt() -> None:
    done = _run(_DURING, "stop.set()\nworker.join()\n")
    assert (done.returncode, done.stdout) == (0, "interrupted\n"), done.stderr
