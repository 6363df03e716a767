"""Federation: the partner registry, answering partners, and traces that go on into partners.

A trace that reaches a supplier lot of a registered partner asks that partner (concurrently,
each within its timeout) to trace upstream from what it shipped us with that code, and merges
the answer under ids qualified by the partner. Whatever goes wrong with one partner becomes a
stub node for that branch; the rest of the trace still comes back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from pydantic import ValidationError

from api.access import Access
from api.auth.models import Partner, PartnerAnswer
from api.auth.store import AccountStore
from api.federation.client import PartnerClient, PartnerError
from api.federation.models import (
    STUB_KIND,
    SUPPLIED_AS,
    Branch,
    BranchStatus,
    FedEdge,
    FederatedTrace,
    FedNode,
    from_wire,
)
from graph.clock import utc_text
from graph.errors import BadRequest, Conflict, NotFound
from graph.store import Direction
from graph.trace import Trace

MAX_HOPS: Final = 10
MAX_VISITED: Final = 16
INSTANCE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_TIMEOUT_S: Final = 120.0
MAX_TTL_S: Final = 7 * 24 * 3600
MAX_WORKERS: Final = 8
# A cached answer may stand in for a partner that is down or answers garbage, never for one that
# refuses or no longer knows the item: those say the answer must not be shown any more.
STALE_OK: Final = frozenset({"unreachable", "error"})


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: BranchStatus
    message: str
    answer: FederatedTrace | None = None
    fetched_at: str | None = None


def checked_visited(raw: str | None) -> list[str]:
    """Parse the visited-instances header; raise BadRequest when it is malformed."""
    visited = [part.strip() for part in (raw or "").split(",") if part.strip()]
    if len(visited) > MAX_VISITED or not all(INSTANCE_ID.match(v) for v in visited):
        raise BadRequest(
            f"visited: at most {MAX_VISITED} instance ids of letters, digits, '.', '_' or '-'"
        )
    return visited


class FederationService:
    """Partners of this instance and traces across them."""

    def __init__(
        self,
        accounts: AccountStore,
        client: PartnerClient,
        *,
        instance: str,
        company: str | None = None,
        max_hops: int = 4,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        if not INSTANCE_ID.match(instance):
            raise BadRequest("instance: 1-64 letters, digits, '.', '_' or '-'")
        self._accounts = accounts
        self._client = client
        self.instance = instance
        self.company = company
        self.max_hops = max_hops
        self._clock = clock

    # -- the registry ---------------------------------------------------------------------------

    def put_partner(
        self,
        company: str,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 5.0,
        cache_ttl_s: int = 300,
    ) -> Partner:
        """Register or update a partner instance of a registered company."""
        if self._accounts.company(company) is None:
            raise BadRequest(f"no company {company!r}: register it first")
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
            raise BadRequest("base_url: an http:// or https:// address with no query")
        if not api_key.strip() or len(api_key) > 500 or any(c.isspace() for c in api_key):
            raise BadRequest("api_key: the key this instance was given there (no spaces)")
        if not 0 < timeout_s <= MAX_TIMEOUT_S:
            raise BadRequest(f"timeout_s: more than 0 and at most {MAX_TIMEOUT_S:g} seconds")
        if not 0 <= cache_ttl_s <= MAX_TTL_S:
            raise BadRequest(f"cache_ttl_s: 0 to {MAX_TTL_S} seconds")
        known = self._accounts.partner(company)
        partner = Partner(
            company,
            base_url.rstrip("/"),
            api_key,
            float(timeout_s),
            int(cache_ttl_s),
            known.created_at if known else utc_text(self._clock()),
        )
        self._accounts.put_partner(partner)
        return partner

    def partners(self) -> list[Partner]:
        """Return every partner, ordered by company id."""
        return self._accounts.partners()

    def remove_partner(self, company: str) -> None:
        """Forget a partner and its cached answers."""
        if not self._accounts.remove_partner(company):
            raise NotFound(f"no partner {company!r}")

    # -- traces ---------------------------------------------------------------------------------

    def trace(
        self,
        access: Access,
        gid: str,
        direction: Direction,
        *,
        max_depth: int | None = None,
        as_of: datetime | None = None,
    ) -> FederatedTrace:
        """Trace as the caller may, then on into partners (analysts and admins)."""

        def federate(trace: Trace) -> FederatedTrace:
            return self.federate(trace, source=self.company, hops=self.max_hops, visited=[])

        return access.federated_trace(gid, direction, federate, max_depth=max_depth, as_of=as_of)

    def federate_here(self, trace: Trace) -> FederatedTrace:
        """Continue a trace of this instance into partners (for its operator at the console)."""
        return self.federate(trace, source=self.company, hops=self.max_hops, visited=[])

    def answer(
        self, access: Access, code: str, direction: Direction, hops: int, visited: Sequence[str]
    ) -> FederatedTrace:
        """Answer a partner instance that asks about what we shipped its company."""
        if not 0 <= hops <= MAX_HOPS:
            raise BadRequest(f"hops: 0 to {MAX_HOPS}")
        if self.instance in visited:
            raise Conflict("this trace has been through this instance already (a loop)")
        onward = [*visited, self.instance]

        def reshare(trace: Trace) -> FederatedTrace:
            return self.federate(trace, source=None, hops=hops, visited=onward)

        return access.partner_trace(code, direction, reshare)

    def federate(
        self, trace: Trace, *, source: str | None, hops: int, visited: Sequence[str]
    ) -> FederatedTrace:
        """Merge into an upstream trace what partners hold behind its supplier lots."""
        found = FederatedTrace.local(trace, source)
        if trace.direction != "up":
            return found
        partners = {p.company: p for p in self._accounts.partners()}
        asks = [
            (node, partners[str(node.attrs.get("supplier"))])
            for node in found.nodes
            if node.kind == "supplier_lot" and str(node.attrs.get("supplier")) in partners
        ]
        if not asks:
            return found

        def ask(item: tuple[FedNode, Partner]) -> _Outcome:
            node, partner = item
            if hops <= 0:
                return _Outcome("hop_limit", "not asked: the trace went as far as allowed")
            return self._ask(partner, str(node.attrs.get("supplier_lot")), hops - 1, visited)

        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(asks))) as pool:
            outcomes = list(pool.map(ask, asks))
        for (node, partner), outcome in zip(asks, outcomes, strict=True):
            found = self._merge(found, node, partner, outcome)
        return found

    def _ask(self, partner: Partner, code: str, hops: int, visited: Sequence[str]) -> _Outcome:
        request = f"up|{hops}|{code}"
        cached = self._accounts.partner_answer(partner.company, request)
        now = self._clock()
        if cached is not None and _fresh(cached, partner, now):
            answer = _read_cached(cached)
            if answer is not None:
                return _Outcome("cached", "from the cache", answer, cached.fetched_at)
        try:
            body = self._client.fetch(partner, code, "up", hops, visited)
            answer = from_wire(body)
        except PartnerError as error:
            return self._failed(partner, request, cached, error.status, error.message)
        except ValidationError as error:
            problem = error.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in problem["loc"]) or "answer"
            return self._failed(partner, request, cached, "error", f"{where}: {problem['msg']}")
        except ValueError as error:
            return self._failed(partner, request, cached, "error", str(error))
        fetched = utc_text(now)
        self._accounts.put_partner_answer(
            PartnerAnswer(partner.company, request, json.dumps(answer.to_dict()), fetched)
        )
        return _Outcome("ok", "answered", answer, fetched)

    def _failed(
        self,
        partner: Partner,
        request: str,
        cached: PartnerAnswer | None,
        status: BranchStatus,
        message: str,
    ) -> _Outcome:
        if status not in STALE_OK:
            self._accounts.drop_partner_answer(partner.company, request)
            return _Outcome(status, message)
        answer = _read_cached(cached) if cached is not None else None
        if cached is None or answer is None:
            return _Outcome(status, message)
        return _Outcome("stale", f"{status}: {message}", answer, cached.fetched_at)

    def _merge(
        self, found: FederatedTrace, attach: FedNode, partner: Partner, outcome: _Outcome
    ) -> FederatedTrace:
        code = str(attach.attrs.get("supplier_lot"))
        at = utc_text(self._clock())
        branch = Branch(
            partner.company,
            code,
            attach.id,
            outcome.status,
            outcome.message,
            at,
            outcome.fetched_at,
        )
        if outcome.answer is None:
            stub = FedNode(
                f"{STUB_KIND}:{partner.company}/{code}",
                STUB_KIND,
                attach.depth + 1,
                partner.company,
                {
                    "partner": partner.company,
                    "code": code,
                    "status": outcome.status,
                    "message": outcome.message,
                    "at": at,
                },
            )
            link = FedEdge(stub.id, attach.id, SUPPLIED_AS, source=partner.company)
            return replace(
                found,
                nodes=[*found.nodes, stub],
                edges=[*found.edges, link],
                branches=[*found.branches, branch],
            )
        theirs = outcome.answer.qualified(
            partner.company,
            stale=outcome.status == "stale",
            fetched_at=outcome.fetched_at or at,
        )
        scale = attach.share if attach.share is not None else 1.0
        nodes = [
            replace(
                n,
                depth=attach.depth + 1 + n.depth,
                share=None if n.share is None else round(n.share * scale, 12),
            )
            for n in theirs.nodes
        ]
        link = FedEdge(theirs.root, attach.id, SUPPLIED_AS, source=partner.company)
        return replace(
            found,
            nodes=[*found.nodes, *nodes],
            edges=[*found.edges, *theirs.edges, link],
            branches=[*found.branches, branch, *theirs.branches],
        )


def _fresh(cached: PartnerAnswer, partner: Partner, now: datetime) -> bool:
    return cached.fetched_at > utc_text(now - timedelta(seconds=partner.cache_ttl_s))


def _read_cached(cached: PartnerAnswer) -> FederatedTrace | None:
    """Read a cached answer back; one that no longer parses is as good as none."""
    try:
        return from_wire(json.loads(cached.answer))
    except ValueError:
        return None
