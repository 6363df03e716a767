"""What the CLI reads: a file it is given, or standard input for "-"."""

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
