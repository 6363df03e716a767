"""One problem pydantic found, as people read it: `field: message`."""

from __future__ import annotations

from pydantic_core import ErrorDetails


def problem_text(detail: ErrorDetails) -> str:
    """`<field>: <message>`, or the message alone for a check across fields (no location);
    a validator's own ValueError reads as it was written, without pydantic's "Value error, "."""
    message = detail["msg"]
    if detail["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    where = ".".join(str(part) for part in detail["loc"])
    return f"{where}: {message}" if where else message
