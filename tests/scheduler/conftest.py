"""Shared builders for scheduler tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from scheduler.models import Alternative, Machine, Operation, Problem, Window, WorkOrder

# Fisher & Thompson (1963) 6x6 instance; optimal makespan 55.
FT06 = """6 6
2 1 0 3 1 6 3 7 5 3 4 6
1 8 2 5 4 10 5 10 0 10 3 4
2 5 3 4 5 8 0 9 1 1 4 7
1 5 0 5 2 5 3 3 4 8 5 9
2 9 1 3 4 5 5 4 0 3 3 1
1 3 3 3 5 9 0 10 4 4 2 1
"""

REPO = Path(__file__).resolve().parents[2]


def shared_instances() -> Path:
    """Return where the public benchmark instances live."""
    return Path(os.environ.get("TRACEGRAPH_JSP_DIR", REPO.parent / "shared" / "jsp"))


def op(machine: str | dict[str, int], time: int = 1, **kw: object) -> Operation:
    """Build an operation on one machine or on several {machine: unit time}."""
    alts = machine if isinstance(machine, dict) else {machine: time}
    return Operation(
        alternatives=[Alternative(machine=m, unit_time=t) for m, t in alts.items()],
        **kw,  # type: ignore[arg-type]
    )


def order(oid: str, *ops: Operation, **kw: object) -> WorkOrder:
    """Build a work order."""
    return WorkOrder(id=oid, operations=list(ops), **kw)  # type: ignore[arg-type]


def problem(orders: list[WorkOrder], machines: list[Machine] | list[str], **kw: object) -> Problem:
    """Build a problem; machines may be given by name."""
    ms = [Machine(id=m) if isinstance(m, str) else m for m in machines]
    return Problem(machines=ms, orders=orders, **kw)  # type: ignore[arg-type]


def one_machine(orders: int, **operation: Any) -> Problem:
    """Orders of one operation each on machine M, in three families, durations 1 to 7."""
    return Problem(
        machines=[Machine(id="M")],
        orders=[
            WorkOrder(
                id=f"O{i}",
                release=1,  # off the classic job shop's fast path
                family=f"F{i % 3}",
                operations=[
                    Operation(
                        alternatives=[Alternative(machine="M", unit_time=1 + i % 7)], **operation
                    )
                ],
            )
            for i in range(orders)
        ],
    )


@pytest.fixture
def ft06_text() -> str:
    return FT06


def short_shift(orders: int) -> Problem:
    """Orders with set-ups on one machine whose shift holds their work but not its set-ups."""
    p = one_machine(orders, setup_default=1)
    work = sum(o.operations[0].alternatives[0].unit_time for o in p.orders)
    shift = Machine(id="M", shifts=[Window(start=0, end=work)])
    return p.model_copy(update={"machines": [shift]})
