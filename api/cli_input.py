"""What the CLI reads: a file it is given, standard input for "-", a secret's one line."""

from __future__ import annotations

import sys
from pathlib import Path

from graph.errors import BadRequest


def read_text(path: str) -> str:
    """Return the UTF-8 text of `path` ("-": standard input), or raise BadRequest saying why not."""
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise BadRequest(f"cannot read {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise BadRequest(f"{path} is not UTF-8 text (byte {error.start})") from error


def read_line() -> str:
    """The first line of standard input without its line end, \n or \r\n: a password or key
    piped from a file written on Windows must not keep the \r, nor lose anything else."""
    line = sys.stdin.readline()
    return line[:-2] if line.endswith("\r\n") else line.removesuffix("\n")
