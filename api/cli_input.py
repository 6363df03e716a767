"""What the CLI reads: a file it is given, standard input for "-", a secret's one line, a time,
a number, and the folder a new store file goes in."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from api.strict_json import NUMBERS
from api.validation_text import option_text
from graph.clock import utc_text
from graph.connect import store_file
from graph.errors import BadRequest
from graph.sqlite_files import SIDE_FILES, check_no_store_beside, holds_database, side_of
from ingest.errors import BatchRejected
from ingest.json_text import JsonRefused, utf8_text
from ingest.times import read_time


def read_text(path: str) -> str:
    """Return the UTF-8 text of `path` ("-": standard input), or raise BadRequest saying why not."""
    try:
        if path == "-":
            return _stdin(lambda stream: stream.read())
        return _utf8(path, Path(path).read_bytes())
    except OSError as error:
        where = "standard input" if path == "-" else path
        raise BadRequest(f"cannot read {where}: {error.strerror}") from error


def read_line() -> str:
    """The first line of standard input without its line end, \n or \r\n: a password or key
    piped from a file written on Windows must not keep the \r, nor lose anything else."""
    line = _stdin(lambda stream: stream.readline())
    return line[:-2] if line.endswith("\r\n") else line.removesuffix("\n")


def _stdin(read: Callable[[Any], Any]) -> str:
    """What `read` reads from standard input, decoded as UTF-8 strictly, or raise BadRequest.

    Python's standard input turns bytes that are not UTF-8 into lone surrogates, which would
    come out as some other error (JSON's, a field's) or put a piped secret's bytes into the
    message: they are refused here, by position only."""
    if sys.stdin is None:  # started with it closed (`<&-`, some service managers)
        raise BadRequest("standard input is closed: give the command what it reads there")
    buffer: BinaryIO | None = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a stream of text already (a StringIO in place of a pipe)
        text: str = read(sys.stdin)
        return text
    return _utf8("standard input", read(buffer))


def _utf8(where: str, data: bytes) -> str:
    """`data` decoded as UTF-8 as the service decodes what it is sent, or raise BadRequest
    saying where `where` is not."""
    try:
        return utf8_text(data)
    except JsonRefused as error:
        raise BadRequest(f"{where} is {error.message}") from None


@contextmanager
def as_options(options: Mapping[str, str] | None = None) -> Iterator[None]:
    """Raise what pydantic refuses of the fields given as command-line options as BadRequest
    naming each option as typed: `--limit`, not `limit`; `options` names those not spelt as
    their field with dashes (`made_from`: `--from`).

    A batch the command made of its options, refused, is said as an action's refusal is
    (BatchRejected.of_action), once for events refused alike, its fields in `options` named by
    them: the others (a case's key, a notice's id) were not typed as such."""
    try:
        yield
    except ValidationError as error:
        problems = error.errors(include_url=False)
        raise BadRequest("; ".join(option_text(p, options) for p in problems)) from None
    except BatchRejected as refused:
        raise refused.of_action(options) from None


def read_time_option(option: str, text: str) -> datetime:
    """A time given to `option`, read as events read times (so "z" as "Z", and no week dates or
    Unix times); raise BadRequest naming the option."""
    try:
        moment = read_time(text)
    except ValueError as error:
        raise BadRequest(f"{option}: {error}") from None
    if moment.utcoffset() is None:
        raise BadRequest(f"{option} needs a UTC offset, e.g. 2026-03-01T12:00:00+00:00")
    try:  # 0001-01-01T00:00:00+14:00 reads, but UTC cannot write it: refused here, by name
        utc_text(moment)
    except BadRequest as error:
        raise BadRequest(f"{option}: {error.message}") from None
    return moment


# A number with a fraction as JSON writes it, leading zeros aside: what the API's bodies take
# for the values these options give (a partner's timeout, a schedule's time limit, a rate).
# As JSON writes a number, and as people type one at a prompt: `.5` and `5.` too.
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_DECIMAL_TEXT = (
    "a number: the digits 0-9, a point before, between or after them, an exponent (1e-3) and a - "
    "before them for a negative one (no +, space, _, nan or inf)"
)


def whole_number(text: str) -> int:
    """The argument type of an option that takes a whole number, written as the API reads one
    (api.strict_json): Python's int() also reads `5_0` as 50, and `+5`, ` 5` and an
    Arabic-Indic five as 5."""
    pattern, _, said = NUMBERS[int]
    return int(_number(text, pattern, said.removeprefix("Input should be ")))


def decimal_number(text: str) -> float:
    """The argument type of an option that takes a number with a fraction, written as JSON
    writes one: float() also reads `5_0`, `+5`, ` 5`, `nan` and an Arabic-Indic five. One a
    float cannot hold (1e400 would be inf, 1e-400 a silent 0) is refused, as the API's JSON
    reader refuses it."""
    value = float(_number(text, _DECIMAL, _DECIMAL_TEXT))
    mantissa = text.lower().partition("e")[0]
    if math.isinf(value) or (value == 0 and mantissa.strip("-0.") != ""):
        raise argparse.ArgumentTypeError(
            f"{text!r} is more than a float holds (too large or too small)"
        )
    return value


def _number(text: str, pattern: re.Pattern[str], said: str) -> str:
    if pattern.fullmatch(text) is None:
        # Said by argparse after the option's name, as its own refusals of a number are.
        raise argparse.ArgumentTypeError(f"{text!r} is not {said}")
    return text


def check_store_folder(url: str, option: str) -> None:
    """Raise BadRequest, naming `option`, when `url` names an embedded store file in a folder
    that is not there: a command makes a new store in a folder that is (as `demo --file` does,
    and a shell's `>`), not folders where a typo points."""
    path = store_file(url)
    if path is not None:
        check_file_folder(path, option)


def check_file_folder(path: Path, option: str) -> None:
    """Raise BadRequest, naming `option`, when the folder the file `path` goes in is not there,
    or `path` and a store would share a file SQLite keeps beside a store (`x-wal` of `x`),
    which SQLite takes for that store's own and resets or removes: a new store is named as
    those files are, or one of its own is already there; a store is that file of another, or
    another store is that file of it."""
    try:
        _check_file_folder(path)
    except BadRequest as error:
        raise BadRequest(f"{option}: {error.message}") from None


def _check_file_folder(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise BadRequest(f"there is no folder {folder}")
    new = not holds_database(path)
    beside = side_of(path)
    if beside is not None and holds_database(beside):
        raise BadRequest(
            f"{path} is a file SQLite keeps beside the store {beside}: name a file of its own"
        )
    if beside is not None and new:  # the store made beside it one day would take it
        raise BadRequest(
            f"{path} is named as a file SQLite keeps beside a store "
            f"({', '.join(SIDE_FILES)}): name a file of its own"
        )
    for side in SIDE_FILES if new else ():
        own = path.with_name(path.name + side)
        if own.exists():
            raise BadRequest(
                f"{own} is there, which SQLite would take for the new store's own: "
                "remove it or name another file"
            )
    check_no_store_beside(path)
