"""Asking a partner instance over HTTP: its federation endpoint, with the key we hold there.

The key goes in a header only, and no message built here carries it or the headers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any, Final, Protocol

import httpx2

from api.auth.models import Partner
from api.federation.models import MAX_WIRE_BYTES, BranchStatus, masked
from ingest.json_text import JsonRefused, utf8_text

PATH: Final = "/api/v1/federation/trace"
HOPS_HEADER: Final = "X-Tracegraph-Hops"
VISITED_HEADER: Final = "X-Tracegraph-Visited"


class PartnerError(Exception):
    """A partner did not give a usable answer; `status` says how (see BranchStatus)."""

    def __init__(self, status: BranchStatus, message: str) -> None:
        super().__init__(message)
        self.status: BranchStatus = status
        self.message = message


class PartnerClient(Protocol):
    def fetch(
        self,
        partner: Partner,
        code: str,
        direction: str,
        hops: int,
        visited: Sequence[str],
        max_depth: int | None = None,
    ) -> Any:
        """Return the partner's answer as parsed JSON, or raise PartnerError."""
        ...


def _refusal(status: int, body: bytes, key: str) -> str:
    """Return the partner's own message (domain errors carry one), or the status.

    A partner may echo the key it was sent; the message reaches our readers, the key must not.
    """
    try:
        parsed = json.loads(body[:10_000])
        message = parsed.get("message") if isinstance(parsed, dict) else None
    except (ValueError, RecursionError):
        message = None
    return masked(str(message), key)[:500] if message else f"HTTP {status}"


class HttpPartnerClient:
    """Ask partners with httpx, one short-lived connection per question."""

    def fetch(
        self,
        partner: Partner,
        code: str,
        direction: str,
        hops: int,
        visited: Sequence[str],
        max_depth: int | None = None,
    ) -> Any:
        """Return the partner's answer as parsed JSON, or raise PartnerError.

        httpx's timeout bounds each read, not the whole exchange: a partner sending its headers
        or its body a byte now and then would hold the trace (and a thread and a socket) for
        as long as it likes. The exchange runs under one deadline, which cancels it, reads
        and all, and closes its connection.
        """
        question = self._ask(partner, code, direction, hops, visited, max_depth)
        try:
            status, body = asyncio.run(asyncio.wait_for(question, partner.timeout_s))
        except TimeoutError as error:
            raise PartnerError(
                "unreachable", f"no whole answer within {partner.timeout_s:g} s"
            ) from error
        return _answer(status, body, partner.api_key)

    async def _ask(
        self,
        partner: Partner,
        code: str,
        direction: str,
        hops: int,
        visited: Sequence[str],
        max_depth: int | None,
    ) -> tuple[int, bytes]:
        url = partner.base_url.rstrip("/") + PATH
        headers = {
            "X-API-Key": partner.api_key,
            HOPS_HEADER: str(hops),
            VISITED_HEADER: ",".join(visited),
            "Accept": "application/json",
        }
        params = {"code": code, "direction": direction}
        if max_depth is not None:
            # A partner from before max_depth ignores it and answers in full: the asker cuts.
            params["max_depth"] = str(max_depth)
        try:
            async with (
                httpx2.AsyncClient(timeout=partner.timeout_s, follow_redirects=False) as client,
                client.stream("GET", url, params=params, headers=headers) as response,
            ):
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_WIRE_BYTES:
                        raise PartnerError("error", f"the answer is over {MAX_WIRE_BYTES} bytes")
                return response.status_code, bytes(body)
        except httpx2.TimeoutException as error:
            raise PartnerError(
                "unreachable", f"no answer within {partner.timeout_s:g} s"
            ) from error
        except httpx2.DecodingError as error:
            # The partner was reached and answered: what it sent (a corrupt gzip body, say)
            # cannot be read, which is an error of the answer, not of the connection.
            raise PartnerError("error", "the answer could not be read") from error
        except (httpx2.HTTPError, httpx2.InvalidURL) as error:
            # InvalidURL is not an HTTPError: an address registered before it was checked
            # must still end as this partner's branch, not as the whole trace's failure.
            raise PartnerError(
                "unreachable", f"cannot reach {partner.base_url}: {type(error).__name__}"
            ) from error


def _answer(status: int, body: bytes, key: str) -> Any:
    if status in (401, 403):
        raise PartnerError("refused", _refusal(status, body, key))
    if status == 404:
        raise PartnerError("not_found", _refusal(status, body, key))
    if status == 409:
        raise PartnerError("loop", _refusal(status, body, key))
    if status != 200:
        raise PartnerError("error", f"the partner answered {_refusal(status, body, key)}")
    try:
        return json.loads(utf8_text(body))
    except JsonRefused as error:
        raise PartnerError("error", f"the answer is {error.message}") from error
    except ValueError as error:
        raise PartnerError("error", "the answer is not JSON") from error
    except RecursionError as error:
        # A few kilobytes of brackets would otherwise fail the whole trace, not this branch.
        raise PartnerError("error", "the answer is nested too deeply") from error
