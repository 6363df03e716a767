"""The `tracegraph` entry point: it answers Ctrl-C before the command line's modules are loaded.

Only the standard library is imported here: the command line loads FastAPI, pydantic,
strawberry and OR-Tools, which takes about a second, and Ctrl-C meanwhile must end as it does
once a command runs, not in a traceback from an import.
"""

from __future__ import annotations

import sys

# What a shell reports for a command Ctrl-C stopped: 128 + SIGINT.
EXIT_INTERRUPTED = 130
STOPPED = "stopped (Ctrl-C)"


def main() -> int:
    """Load the command line and run it; return the exit code."""
    try:
        from api.cli import main as run

        return run()
    except KeyboardInterrupt:
        print(STOPPED, file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
