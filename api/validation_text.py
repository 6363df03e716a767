"""One problem pydantic found, as people read it: `field: message`."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic_core import ErrorDetails


def problem_message(detail: ErrorDetails) -> str:
    """The message of one problem; a validator's own ValueError reads as it was written,
    without pydantic's "Value error, "."""
    message = detail["msg"]
    if detail["type"] == "value_error":
        return message.removeprefix("Value error, ")
    return message


def problem_text(detail: ErrorDetails) -> str:
    """`<field>: <message>`, or the message alone for a check across fields (no location)."""
    where = ".".join(str(part) for part in detail["loc"])
    message = problem_message(detail)
    return f"{where}: {message}" if where else message


def option_text(detail: ErrorDetails, options: Mapping[str, str] | None = None) -> str:
    """`--<option>: <message>` for a problem of a value given as a command-line option
    (`--time-limit`, not `time_limit`); `options` names those whose option is not the field's
    name spelt with dashes (`made_from`: `--from`)."""
    where = detail["loc"][0] if detail["loc"] else None
    if isinstance(where, str):
        option = (options or {}).get(where, f"--{where.replace('_', '-')}")
        return f"{option}: {problem_message(detail)}"
    return problem_text(detail)
