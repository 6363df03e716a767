"""APS scheduling on OR-Tools CP-SAT: pydantic problems in, pydantic solutions out.

Each name below loads its module at first use: OR-Tools (with pandas) takes a third of a second
to import, which commands that never schedule should not pay.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scheduler.errors import InstanceFormatError, InvalidProblem, JobNotFound, SchedulerError
    from scheduler.gantt import gantt_png, gantt_svg
    from scheduler.models import (
        Alternative,
        Conflict,
        Kpis,
        Machine,
        Objective,
        ObjectiveTerm,
        Operation,
        Problem,
        ScheduledOperation,
        Solution,
        SolveOptions,
        Window,
        WorkOrder,
    )
    from scheduler.readers import load_problem, parse_problem, read_fjsp, read_json, read_jsp
    from scheduler.rescheduler import Actual, Downtime, Feedback, reschedule
    from scheduler.solver import Progress, solve

# Where each exported name lives. No module is named like a name it exports (solve lives in
# solver): importing the module would otherwise put it in the name's place on this package.
_MODULE_OF = {
    "InstanceFormatError": "errors",
    "InvalidProblem": "errors",
    "JobNotFound": "errors",
    "SchedulerError": "errors",
    "gantt_png": "gantt",
    "gantt_svg": "gantt",
    "Alternative": "models",
    "Conflict": "models",
    "Kpis": "models",
    "Machine": "models",
    "Objective": "models",
    "ObjectiveTerm": "models",
    "Operation": "models",
    "Problem": "models",
    "ScheduledOperation": "models",
    "Solution": "models",
    "SolveOptions": "models",
    "Window": "models",
    "WorkOrder": "models",
    "load_problem": "readers",
    "parse_problem": "readers",
    "read_fjsp": "readers",
    "read_json": "readers",
    "read_jsp": "readers",
    "Actual": "rescheduler",
    "Downtime": "rescheduler",
    "Feedback": "rescheduler",
    "reschedule": "rescheduler",
    "Progress": "solver",
    "solve": "solver",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'scheduler' has no attribute {name!r}")
    return getattr(import_module(f"scheduler.{module}"), name)


__all__ = [
    "Actual",
    "Alternative",
    "Conflict",
    "Downtime",
    "Feedback",
    "InstanceFormatError",
    "InvalidProblem",
    "JobNotFound",
    "Kpis",
    "Machine",
    "Objective",
    "ObjectiveTerm",
    "Operation",
    "Problem",
    "Progress",
    "ScheduledOperation",
    "SchedulerError",
    "Solution",
    "SolveOptions",
    "Window",
    "WorkOrder",
    "gantt_png",
    "gantt_svg",
    "load_problem",
    "parse_problem",
    "read_fjsp",
    "read_json",
    "read_jsp",
    "reschedule",
    "solve",
]
