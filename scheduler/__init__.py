"""APS scheduling on OR-Tools CP-SAT: pydantic problems in, pydantic solutions out."""

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
from scheduler.reschedule import Actual, Downtime, Feedback, reschedule
from scheduler.solve import Progress, solve

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
