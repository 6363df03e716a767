"""What a command says: its standard output, kept from stopping it halfway, and its error lines."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn, TextIO, cast

from api.render import shown

# What the command was asked about does not exist (or, asked to find it, it found none).
EXIT_NOT_FOUND = 1
# The command was done, and what it printed could not be written (a full disk, say).
EXIT_OUTPUT = 5


def say(message: str) -> None:
    """Say `message` on standard error as one line: what it repeats of the input (a file name,
    an id) comes with its control characters (escape sequences, line breaks) as escapes."""
    print(shown(message), file=sys.stderr, flush=True)


class Parser(argparse.ArgumentParser):
    """The command line's parser, whose refusals repeat arguments (`unrecognized arguments:
    ...`) as `say` would; its sub-commands' parsers are of its class."""

    def error(self, message: str) -> NoReturn:
        super().error(shown(message))


class _Output:
    """Standard output that remembers the first write that failed and drops the rest: a command
    whose output cannot be written still does all it was asked (an ingest is not left half
    way), and says so once it is done."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream  # None: started with it closed, where print writes nothing
        self.failure: OSError | None = None

    def write(self, text: str) -> int:
        if self.failure is None and self.stream is not None:
            try:
                self.stream.write(text)
            except OSError as error:
                self._failed(error)
        return len(text)

    def flush(self) -> None:
        if self.failure is None and self.stream is not None:
            try:
                self.stream.flush()
            except OSError as error:
                self._failed(error)

    def __getattr__(self, name: str) -> object:  # encoding, isatty, fileno, ...
        return getattr(self.stream, name)

    def _failed(self, error: OSError) -> None:
        self.failure = error
        assert self.stream is not None  # only a stream fails
        # What the stream still holds goes nowhere: written at exit, it would fail again, in a
        # traceback Python prints itself.
        try:
            fd = self.stream.fileno()
        except (OSError, ValueError):  # no file under it (one a test put in its place)
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)


@contextmanager
def command_output() -> Iterator[_Output]:
    """Put a guarded standard output in place for one command; flushed at the end, so that what
    waits in its buffer fails here rather than at exit."""
    output = _Output(sys.stdout)
    sys.stdout = cast(TextIO, output)
    try:
        yield output
    finally:
        output.flush()
        sys.stdout = output.stream


def output_failed(output: _Output, code: int) -> int:
    """The exit code once the command returned `code`: a failed output is said and is
    EXIT_OUTPUT, unless the command failed on its own. A reader that went away (`| head`) is
    no error: it read what it wanted."""
    failure = output.failure
    if failure is None or isinstance(failure, BrokenPipeError):
        return code
    why = f"error: cannot write standard output: {failure.strerror or failure}"
    if code:  # the command's own error was said
        say(why)
        return code
    # Said so that what was sent is not sent again blindly: an ingest's events are in.
    say(f"{why} (the command itself was done: any change it makes to the store is made)")
    return EXIT_OUTPUT
