"""The GraphQL endpoint: strawberry's FastAPI router, reading request bodies as we read others."""

from __future__ import annotations

import json
from typing import Any

from strawberry.fastapi import GraphQLRouter


class Router(GraphQLRouter[Any, None]):
    """Bodies too deep, or numbers too long, for Python to read are bad requests, not 500s."""

    def decode_json(self, data: str | bytes) -> object:
        try:
            found = json.loads(data)
        except json.JSONDecodeError:
            raise
        except RecursionError:
            # A few kilobytes of brackets exhaust the decoder's stack.
            raise json.JSONDecodeError("nested too deeply", "", 0) from None
        except ValueError as error:  # an integer of over 4,300 digits
            raise json.JSONDecodeError(str(error), "", 0) from None
        if not isinstance(found, dict | list):  # "x" or 5 is no request (a list is a batch)
            raise json.JSONDecodeError("a GraphQL request is a JSON object", "", 0)
        return found
