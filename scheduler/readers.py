"""Readers for the classic job-shop (JSP) and flexible job-shop (FJSP, .fjs) text formats."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from ingest.json_text import BOM, JsonRefused, strict_loads, utf8_text
from scheduler.errors import InstanceFormatError, InvalidProblem
from scheduler.models import (
    MAX_CHOICES,
    MAX_MACHINES,
    MAX_OPERATIONS,
    MAX_ORDERS,
    MAX_TIME,
    Alternative,
    Machine,
    Operation,
    Problem,
    WorkOrder,
    said,
)

Format = Literal["json", "jsp", "fjsp"]


def _numbers(line: str, where: str) -> list[int]:
    try:
        return [int(tok) for tok in line.split()]
    except ValueError as exc:
        raise InstanceFormatError(f"{where}: expected integers, got {line.strip()[:60]!r}") from exc


def _lines(text: str) -> list[tuple[int, str]]:
    """Return the non-blank lines with their numbers in the file, for messages."""
    return [(number, ln) for number, ln in enumerate(text.splitlines(), 1) if ln.strip()]


def _no_more(lines: list[tuple[int, str]], n_jobs: int) -> None:
    """Refuse lines after the declared jobs: a wrong header would otherwise drop them."""
    if len(lines) > n_jobs + 1:
        number, line = lines[n_jobs + 1]
        raise InstanceFormatError(
            f"line {number}: after the {n_jobs} jobs the header declares, got {line.strip()[:60]!r}"
        )


def _machines(count: int, first: int) -> list[Machine]:
    return [Machine(id=f"m{k}") for k in range(first, first + count)]


def _header(header: list[int], where: str) -> tuple[int, int]:
    """Return the header's job and machine counts, refused before anything is built for them."""
    n_jobs, n_machines = header[0], header[1]
    if not 1 <= n_jobs <= MAX_ORDERS:
        raise InstanceFormatError(f"{where}: {n_jobs} jobs, expected 1 to {MAX_ORDERS:,}")
    if not 1 <= n_machines <= MAX_MACHINES:
        raise InstanceFormatError(f"{where}: {n_machines} machines, expected 1 to {MAX_MACHINES:,}")
    return n_jobs, n_machines


def _time(time: int, where: str) -> int:
    if time < 0:
        raise InstanceFormatError(f"{where}: negative processing time {time}")
    if time > MAX_TIME:
        raise InstanceFormatError(f"{where}: processing time {time} over {MAX_TIME:,}")
    return time


class _Tally:
    """Count operations and machine alternatives as they are read, refusing too many."""

    def __init__(self) -> None:
        self.operations = 0
        self.choices = 0

    def add(self, choices: int, where: str) -> None:
        self.operations += 1
        self.choices += choices
        if self.operations > MAX_OPERATIONS:
            raise InstanceFormatError(f"{where}: more than {MAX_OPERATIONS:,} operations in all")
        if self.choices > MAX_CHOICES:
            raise InstanceFormatError(
                f"{where}: more than {MAX_CHOICES:,} machine alternatives in all"
            )


def read_jsp(text: str, name: str = "") -> Problem:
    """Parse a job-shop instance: `n_jobs n_machines`, then `machine time` pairs (0-based)."""
    lines = _lines(text)
    if not lines:
        raise InstanceFormatError("empty job-shop instance")
    number, first = lines[0]
    header = _numbers(first, f"line {number}")
    if len(header) < 2:
        raise InstanceFormatError(f"line {number}: expected 'n_jobs n_machines'")
    n_jobs, n_machines = _header(header, f"line {number}")
    if len(lines) - 1 < n_jobs:
        raise InstanceFormatError(f"expected {n_jobs} job lines, found {len(lines) - 1}")
    _no_more(lines, n_jobs)
    orders: list[WorkOrder] = []
    tally = _Tally()
    for j in range(n_jobs):
        number, line = lines[j + 1]
        where = f"line {number} (job {j})"
        values = _numbers(line, where)
        if not values or len(values) % 2:
            raise InstanceFormatError(f"{where}: expected machine/time pairs")
        ops: list[Operation] = []
        for k in range(0, len(values), 2):
            machine, time = values[k], _time(values[k + 1], where)
            if not 0 <= machine < n_machines:
                raise InstanceFormatError(f"{where}: machine {machine} outside 0..{n_machines - 1}")
            tally.add(1, where)
            ops.append(Operation(alternatives=[Alternative(machine=f"m{machine}", unit_time=time)]))
        orders.append(WorkOrder(id=f"j{j}", operations=ops))
    return _problem(name, _machines(n_machines, 0), orders)


class _Cursor:
    def __init__(self, values: list[int], where: str) -> None:
        self.values = values
        self.where = where
        self.pos = 0

    def take(self) -> int:
        if self.pos >= len(self.values):
            raise InstanceFormatError(f"{self.where}: line ends early")
        self.pos += 1
        return self.values[self.pos - 1]

    def left(self) -> int:
        return len(self.values) - self.pos


def read_fjsp(text: str, name: str = "") -> Problem:
    """Parse a flexible job-shop instance in the Brandimarte `.fjs` format (1-based machines)."""
    lines = _lines(text)
    if not lines:
        raise InstanceFormatError("empty flexible job-shop instance")
    # The third header field (mean machines per operation) may be fractional; it is unused.
    number, first = lines[0]
    header = _numbers(" ".join(first.split()[:2]), f"line {number}")
    if len(header) < 2:
        raise InstanceFormatError(f"line {number}: expected 'n_jobs n_machines [avg]'")
    n_jobs, n_machines = _header(header, f"line {number}")
    if len(lines) - 1 < n_jobs:
        raise InstanceFormatError(f"expected {n_jobs} job lines, found {len(lines) - 1}")
    _no_more(lines, n_jobs)
    orders: list[WorkOrder] = []
    tally = _Tally()
    for j in range(n_jobs):
        number, line = lines[j + 1]
        where = f"line {number} (job {j})"
        cursor = _Cursor(_numbers(line, where), where)
        take = cursor.take

        ops: list[Operation] = []
        for _ in range(take()):
            alternatives: dict[int, int] = {}
            count = take()
            if count < 1:
                raise InstanceFormatError(f"{where}: an operation has no machine")
            for _ in range(count):
                machine, time = take(), _time(take(), where)
                if not 1 <= machine <= n_machines:
                    raise InstanceFormatError(f"{where}: machine {machine} outside 1..{n_machines}")
                # A machine listed twice keeps its shortest time.
                alternatives[machine] = min(time, alternatives.get(machine, time))
            tally.add(len(alternatives), where)
            ops.append(
                Operation(
                    alternatives=[
                        Alternative(machine=f"m{m}", unit_time=t) for m, t in alternatives.items()
                    ]
                )
            )
        if cursor.left():
            raise InstanceFormatError(f"{where}: {cursor.left()} numbers left over")
        if not ops:
            raise InstanceFormatError(f"{where}: a job has no operation")
        orders.append(WorkOrder(id=f"j{j}", operations=ops))
    return _problem(name, _machines(n_machines, 1), orders)


def _problem(name: str, machines: list[Machine], orders: list[WorkOrder]) -> Problem:
    try:
        return Problem(name=name, machines=machines, orders=orders)
    except ValidationError as exc:  # e.g. an objective past 64 bits
        raise InvalidProblem(first_error(exc)) from exc


def read_json(text: str, name: str = "") -> Problem:
    """Parse a problem given as JSON in the shape of `Problem`, read as every body is read
    (a key given twice, a number a float cannot hold or nesting too deep is refused)."""
    try:
        data = strict_loads(text)
    except JsonRefused as exc:
        raise InvalidProblem(exc.message) from None
    if isinstance(data, dict) and "problem" in data:  # no key of a problem: said, not "machines"
        raise InvalidProblem(
            'this is a REST request body ({"problem": ..., "options": ...}), not a problem: '
            'the problem is the object under "problem", to be read alone; the options are '
            "given apart"
        )
    if isinstance(data, dict) and name and not data.get("name"):
        data["name"] = name
    return parse_problem(data)


def parse_problem(data: object) -> Problem:
    """Validate decoded JSON into a `Problem`, naming the first field that is wrong."""
    try:
        return Problem.model_validate(data)
    except ValidationError as exc:
        raise InvalidProblem(first_error(exc)) from exc


def first_error(exc: ValidationError, where: tuple[str | int, ...] = ()) -> str:
    """Name the first thing `exc` found wrong, at its place in a problem below `where`."""
    first = said(exc.errors()[0])
    text = first["msg"].removeprefix("Value error, ")
    loc = (*where, *first["loc"])
    if not loc and first["type"] == "value_error":
        return text  # a rule over the whole problem: its message names what it is about
    return f"{'.'.join(str(p) for p in loc) or 'problem'}: {text}"


def guess_format(path: Path, text: str) -> Format:
    """Guess an instance's format from its suffix, else from its first line."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".fjs":
        return "fjsp"
    if text.lstrip().startswith("{"):
        return "json"
    first = _lines(text)[:1]
    return "fjsp" if first and len(first[0][1].split()) >= 3 else "jsp"


def load_problem(path: Path, fmt: Format | None = None) -> Problem:
    """Read a problem file in the given (or guessed) format."""
    try:
        # The byte order mark Windows tools write first is not taken for a number; removed
        # after decoding, so a byte that is not UTF-8 is named where it is in the file.
        text = utf8_text(path.read_bytes()).removeprefix(BOM)
    except OSError as exc:
        raise InvalidProblem(f"cannot read {path}: {exc.strerror}") from exc
    except JsonRefused as exc:
        raise InvalidProblem(f"{path} is {exc.message}") from exc
    fmt = fmt or guess_format(path, text)
    name = path.stem
    if fmt == "json":
        return read_json(text, name)
    if fmt == "fjsp":
        return read_fjsp(text, name)
    return read_jsp(text, name)
