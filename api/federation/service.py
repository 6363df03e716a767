"""Federation: the partner registry, answering partners, and traces that go on into partners.

A trace that reaches a supplier lot of a registered partner asks that partner (concurrently,
each within its timeout) to trace upstream from what it shipped us with that code, and merges
the answer under ids qualified by the partner. Whatever goes wrong with one partner becomes a
stub node for that branch; the rest of the trace still comes back.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import httpx2
from pydantic import ValidationError

from api.access import (
    COMPANY_ROLES_SET,
    FEWER_FEDERATED,
    PAGED_TRACE,
    REST_DEPTH,
    Access,
    TraceTooLong,
)
from api.auth.models import AccountEvent, Partner, PartnerAnswer
from api.auth.store import AccountStore
from api.federation.client import PartnerClient, PartnerError
from api.federation.models import (
    INSTANCE_ID,
    INSTANCE_RULE,
    NODE_FACTS,
    STUB_KIND,
    SUPPLIED_AS,
    AnswerLate,
    Branch,
    BranchStatus,
    FedEdge,
    FederatedTrace,
    FedNode,
    from_wire,
    masked,
    over,
    to_wire,
)
from api.federation.models import MAX_WIRE_BRANCHES as MAX_FEDERATED_BRANCHES
from api.federation.models import MAX_WIRE_EDGES as MAX_FEDERATED_EDGES
from api.federation.models import MAX_WIRE_NODES as MAX_FEDERATED_NODES
from graph.clock import utc_text
from graph.errors import BadRequest, Conflict, NotFound
from graph.exposure import upstream_shares
from graph.ids import BadId, split_gid
from graph.store import MATERIAL, Direction
from graph.trace import Trace
from ingest.service import SYSTEM

MAX_HOPS: Final = 10
MAX_VISITED: Final = 16
MAX_TIMEOUT_S: Final = 120.0
MAX_TTL_S: Final = 7 * 24 * 3600
# The longest partner address taken, by REST's body and the command line alike.
MAX_URL: Final = 2000
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


@dataclass(frozen=True, slots=True)
class ListLimit:
    """What a federated trace may list for its caller: at most `most` of its nodes, edges,
    branches and stubs, counting those of the lists the caller is sent, each as many times as
    it is sent (over GraphQL, those asked for, once under each alias that asks it; the REST
    trace is sent its nodes and edges once, and counts only those)."""

    most: int
    nodes: int = 1
    edges: int = 1
    branches: int = 0
    stubs: int = 0
    graphql: bool = False  # the caller asks over GraphQL: said in its words (links, maxDepth)
    depth: str = REST_DEPTH  # how a refusal names the caller's way to ask for fewer levels

    def count(self, nodes: int, edges: int, branches: int, stubs: int) -> int:
        return (
            nodes * self.nodes + edges * self.edges + branches * self.branches + stubs * self.stubs
        )

    @property
    def partners(self) -> bool:
        """Whether the caller is sent anything of partners: where not, none is asked."""
        return self.questions(1) > 0

    def questions(self, asked: int) -> int:
        """What `asked` partner questions list at the least, if none answers, of the lists
        counted: a stub (among the nodes and the stubs), its link and a branch each."""
        return asked * (self.nodes + self.edges + self.branches + self.stubs)

    @property
    def lists(self) -> str:
        """The lists counted, as the caller names them."""
        named = (
            ("nodes", self.nodes),
            ("links" if self.graphql else "edges", self.edges),
            ("branches", self.branches),
            ("stubs", self.stubs),
        )
        counted = [name for name, asked in named if asked]
        return " and ".join(filter(None, [", ".join(counted[:-1]), counted[-1]]))

    @property
    def fewer(self) -> str:
        """How to ask for less of a trace, as its caller asks."""
        if not self.graphql:  # REST's stubs say its max_depth in words, as they always have
            return f"fewer levels ({'a max depth' if self.depth == REST_DEPTH else self.depth})"
        aliased = max(self.nodes, self.edges, self.branches, self.stubs) > 1
        return "fewer levels (maxDepth), or fewer aliases" if aliased else "fewer levels (maxDepth)"


@dataclass(slots=True)
class _Merging:
    """A trace as partners' answers are merged into it, held so that each merge costs the size
    of its answer rather than of the trace: a node by its id, a link once (`linked` is the set
    of `edges`), a partner item's share in each supplier lot it came through, how many of
    its nodes are stubs."""

    nodes: dict[str, FedNode]
    edges: list[FedEdge]
    linked: set[FedEdge]
    branches: list[Branch]
    brought: dict[str, str]  # node id -> the partner whose answer brought it
    reached: dict[str, dict[str, float]]  # node id -> its share in each supplier lot
    max_listed: ListLimit | None  # what the trace may list, for its caller
    stubs: int

    @classmethod
    def of(cls, found: FederatedTrace, max_listed: ListLimit | None) -> _Merging:
        edges = list(dict.fromkeys(found.edges))
        nodes = {n.id: n for n in found.nodes}
        stubs = sum(1 for n in nodes.values() if n.kind == STUB_KIND)
        return cls(nodes, edges, set(edges), list(found.branches), {}, {}, max_listed, stubs)


class _NoRoom(PartnerError):
    """A good answer that would take the trace over what it may list: not the partner's
    failure, so no older answer stands in for it."""

    def __init__(self, max_listed: ListLimit) -> None:
        super().__init__("error", _no_room(max_listed))


def _no_room(max_listed: ListLimit) -> str:
    return (
        f"with this answer the trace would list more than {max_listed.most:,} "
        f"{max_listed.lists}: ask for {max_listed.fewer}"
    )


def _fewest_listed(answer: Any, code: str, depth: int | None) -> int:
    """Count, before any of it is read, what a partner's answer about `code` lists at the least
    once merged: its nodes (each id once) down to `depth`, where the asker cuts one that goes
    deeper (as a partner from before max_depth answers in full). Its links are no such count:
    those to nowhere are dropped, one sent twice is merged once, those below the cut go with
    it. An answer that is plainly none to the question counts nothing: it is read, to be
    refused as what it is (where an older answer may stand in), not for its length."""
    if not _plainly_answers(answer, code):
        return 0
    return len(
        {
            node["id"]
            for node in answer["nodes"]
            if isinstance(node, dict)
            and isinstance(node.get("id"), str)
            and (depth is None or (type(node.get("depth")) is int and node["depth"] <= depth))
        }
    )


def _plainly_answers(answer: Any, code: str) -> bool:
    """Tell at a glance whether a partner's answer is one to the question asked: a trace up
    from the lot or serial with `code`, among its nodes, whose lists are lists."""
    if not isinstance(answer, dict) or answer.get("direction") != "up":
        return False
    root, nodes = answer.get("root"), answer.get("nodes")
    if not isinstance(root, str) or not isinstance(nodes, list):
        return False
    if not all(isinstance(answer.get(name, []), list) for name in ("edges", "branches")):
        return False
    kinds = (n.get("kind") for n in nodes if isinstance(n, dict) and n.get("id") == root)
    return any(_is_item(root, kind, code) for kind in kinds)


def check_partner_times(
    timeout_s: float,
    cache_ttl_s: int,
    *,
    timeout_name: str = "timeout_s",
    ttl_name: str = "cache_ttl_s",
) -> None:
    """Raise BadRequest where a partner's timeout or cache time is out of its range, naming
    each as the caller gave it (`--ttl` on the command line)."""
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise BadRequest(f"{timeout_name}: more than 0 and at most {MAX_TIMEOUT_S:g} seconds")
    if not 0 <= cache_ttl_s <= MAX_TTL_S:
        raise BadRequest(f"{ttl_name}: 0 to {MAX_TTL_S} seconds")


def checked_visited(raw: str | None) -> list[str]:
    """Parse the visited-instances header; raise BadRequest when it is malformed."""
    visited = [part.strip() for part in (raw or "").split(",") if part.strip()]
    if len(visited) > MAX_VISITED or not all(INSTANCE_ID.fullmatch(v) for v in visited):
        raise BadRequest(f"visited: at most {MAX_VISITED} instance ids, each of {INSTANCE_RULE}")
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
        if not INSTANCE_ID.fullmatch(instance):
            raise BadRequest(f"instance: {INSTANCE_RULE}")
        self._accounts = accounts
        self._client = client
        self.instance = instance
        self.company = company
        self.max_hops = max_hops
        self._clock = clock
        self._actor = SYSTEM

    def acting_for(self, actor: str) -> FederationService:
        """Return this service acting for `actor`, whom the account audit trail names."""
        acting = copy.copy(self)
        acting._actor = actor
        return acting

    def _noted(self, action: str, company: str, **detail: Any) -> AccountEvent:
        return AccountEvent(utc_text(self._clock()), self._actor, action, company, detail)

    # -- the registry ---------------------------------------------------------------------------

    def put_partner(
        self,
        company: str,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 5.0,
        cache_ttl_s: int = 300,
        url_name: str = "base_url",
    ) -> Partner:
        """Register or update a partner instance of a registered company; a refusal of the
        address names it `url_name` (`--url` on the command line)."""
        if self._accounts.company(company) is None:
            raise BadRequest(f"no company {company!r}: register it first")
        if len(base_url) > MAX_URL:  # REST's body says it so (PartnerIn)
            raise BadRequest(f"{url_name}: String should have at most {MAX_URL} characters")
        if any(char.isspace() or not char.isprintable() for char in base_url):
            raise BadRequest(f"{url_name}: no spaces or control characters in the address")
        try:
            url = urlsplit(base_url)
            url.port  # noqa: B018 -- a port that is not a number raises here
        except ValueError as error:
            raise BadRequest(f"{url_name}: not an address ({error})") from None
        # A bare '?' or '#' leaves the query or fragment empty, not absent: the character counts.
        if url.scheme not in ("http", "https") or not url.hostname or {"?", "#"} & set(base_url):
            raise BadRequest(
                f"{url_name}: an http:// or https:// address with no query or fragment"
            )
        try:
            httpx2.URL(base_url)  # what the client will ask: IDNA host names are checked here
        except httpx2.InvalidURL as error:
            raise BadRequest(f"{url_name}: not an address ({error})") from None
        if url.username is not None or url.password is not None:
            # The address is listed unmasked and named in stub messages; the key is the secret.
            raise BadRequest(f"{url_name}: no user or password in the address (give the key)")
        # The key is sent in a header, which holds printable ASCII only.
        if (
            not api_key
            or len(api_key) > 500
            or not api_key.isascii()
            or not api_key.isprintable()
            or " " in api_key
        ):
            raise BadRequest(
                "api_key: the key this instance was given there (printable ASCII, no spaces)"
            )
        check_partner_times(timeout_s, cache_ttl_s)
        known = self._accounts.partner(company)
        partner = Partner(
            company,
            base_url.rstrip("/"),
            api_key,
            float(timeout_s),
            int(cache_ttl_s),
            known.created_at if known else utc_text(self._clock()),
        )
        # The key is a secret: the trail says only whether it changed.
        noted = self._noted(
            "partner_set",
            company,
            base_url=partner.base_url,
            timeout_s=partner.timeout_s,
            cache_ttl_s=partner.cache_ttl_s,
            key_changed=known is None or known.api_key != api_key,
        )
        self._accounts.put_partner(partner, noted=noted)
        return partner

    def partners(self) -> list[Partner]:
        """Return every partner, ordered by company id."""
        return self._accounts.partners()

    def remove_partner(self, company: str) -> None:
        """Forget a partner and its cached answers."""
        if not self._accounts.remove_partner(
            company, noted=self._noted("partner_removed", company)
        ):
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
        max_listed: ListLimit | None = None,
    ) -> FederatedTrace:
        """Trace as the caller may, then on into partners (analysts and admins); with
        `max_listed`, list no more than that (see `federate`)."""

        def federate(trace: Trace) -> FederatedTrace:
            return self.federate_here(trace, max_depth=max_depth, max_listed=max_listed)

        return access.federated_trace(gid, direction, federate, max_depth=max_depth, as_of=as_of)

    def federate_here(
        self,
        trace: Trace,
        *,
        max_depth: int | None = None,
        max_listed: ListLimit | None = None,
    ) -> FederatedTrace:
        """Continue a trace of this instance into partners (for its operator at the console).

        This instance is the first one the trace has passed: a partner asking us back is a loop.
        """
        return self.federate(
            trace,
            source=self.company,
            hops=self.max_hops,
            visited=[self.instance],
            max_depth=max_depth,
            max_listed=max_listed,
        )

    def answer(
        self,
        access: Access,
        code: str,
        direction: Direction,
        hops: int,
        visited: Sequence[str],
        max_depth: int | None = None,
    ) -> bytes:
        """Answer a partner instance that asks about what we shipped its company (down to
        `max_depth` below it, when the asker says): the body it is sent. Raise AnswerTooLarge
        where it would refuse that body, so it is told why rather than sent what it refuses."""
        if not 0 <= hops <= MAX_HOPS:
            raise BadRequest(f"hops: 0 to {MAX_HOPS}")
        # Partner instances are told our id as they are asked; anyone else must not learn it
        # from a 409, so the role is checked before the loop.
        access.require(COMPANY_ROLES_SET, "answer partner instances")
        if self.instance in visited:
            raise Conflict("this trace has been through this instance already (a loop)")
        onward = [*visited, self.instance]
        # The asker's budget, but never more than this instance would spend on its own traces.
        budget = min(hops, self.max_hops)

        def reshare(trace: Trace) -> FederatedTrace:
            return self.federate(
                trace, source=None, hops=budget, visited=onward, max_depth=max_depth
            )

        found = access.partner_trace(code, direction, reshare)
        return to_wire(found if max_depth is None else found.within(max_depth))

    def federate(
        self,
        trace: Trace,
        *,
        source: str | None,
        hops: int,
        visited: Sequence[str],
        max_depth: int | None = None,
        max_listed: ListLimit | None = None,
    ) -> FederatedTrace:
        """Merge into an upstream trace what partners hold behind its supplier lots.

        With `max_depth`, a partner is asked for the levels left below its supplier lot, and
        one at the limit is not asked: nothing of its answer would be listed.

        With `max_listed`, the trace lists no more of the lists it counts than that (nodes and
        edges over REST; over GraphQL those asked, branches and stubs among them, each once
        under each alias that asks it), as the plain trace does for its caller: where ours and
        what each question lists if none answers would list more, it is refused (TraceTooLong)
        before any is asked (and where it lists nothing of partners, none is asked); a
        partner's answer that would take it over is an error stub, and one whose nodes (within
        the depth asked) alone list more than there is room for is refused before it is read.
        """
        found = FederatedTrace.local(trace, source)
        asking = trace.direction == "up" and (max_listed is None or max_listed.partners)
        partners = {p.company: p for p in self._accounts.partners()} if asking else {}
        asks = [
            (node, partners[str(node.attrs.get("supplier"))])
            for node in found.nodes
            if node.kind == "supplier_lot"
            and str(node.attrs.get("supplier")) in partners
            and (max_depth is None or node.depth < max_depth)
        ]
        if max_listed is not None:
            stubbed = max_listed.count(
                len(found.nodes), len(found.edges), len(found.branches), len(found.stubs)
            )
            stubbed += max_listed.questions(len(asks))
            if stubbed > max_listed.most:
                # Asking no partner, it is the trace, which the GraphQL trace pages.
                instead = FEWER_FEDERATED if asks else PAGED_TRACE
                raise TraceTooLong(stubbed, max_listed.most, instead, depth=max_listed.depth)
        if not asks:
            return found
        # The levels left below each supplier lot, its partner's root being the first.
        depths = [None if max_depth is None else max_depth - n.depth - 1 for n, _ in asks]
        if hops <= 0:
            skipped = _Outcome("hop_limit", "not asked: the trace went as far as allowed")
            outcomes = [skipped] * len(asks)
        else:
            questions = [
                (p, str(n.attrs.get("supplier_lot")), depth)
                for (n, p), depth in zip(asks, depths, strict=True)
            ]
            # An answer merged beside ours lists its nodes, its link to our supplier lot and
            # its branch, and each other question a link and a branch at the least (its
            # answer's nodes may be among those merged already): the room for its nodes,
            # where they count.
            room: int | None = None
            if max_listed is not None and max_listed.nodes:
                least = max_listed.count(
                    len(found.nodes),
                    len(found.edges) + len(asks),
                    len(found.branches) + len(asks),
                    len(found.stubs),
                )
                # Each of its nodes counts once for each time the nodes are sent.
                room = (max_listed.most - least) // max_listed.nodes
            outcomes = self._ask_all(questions, hops - 1, visited, room, max_listed)
        merging = _Merging.of(found, max_listed)
        merged = zip(asks, depths, outcomes, strict=True)
        for done, ((node, partner), depth, outcome) in enumerate(merged):
            if depth is not None and outcome.answer is not None:
                # A partner that does not read max_depth (or a cached answer) may go deeper.
                outcome = replace(outcome, answer=outcome.answer.within(depth))
            later = len(asks) - done - 1
            self._merge(merging, node, partner, outcome, later)
        shares = _shares_beyond(trace, merging.reached)
        nodes = [
            replace(n, share=shares[n.id]) if n.id in shares else n for n in merging.nodes.values()
        ]
        return replace(found, nodes=nodes, edges=merging.edges, branches=merging.branches)

    def _ask_all(
        self,
        asks: Sequence[tuple[Partner, str, int | None]],
        hops: int,
        visited: Sequence[str],
        room: int | None = None,
        max_listed: ListLimit | None = None,
    ) -> list[_Outcome]:
        """Answer each (partner, code, max_depth) from the cache or the partner, the partners
        concurrently; an answer that lists more nodes than `room` (within the depth asked) is
        refused unread (the trace may list `max_listed`).

        Only the questions over the network run in worker threads: the account store is read
        and written here, so no store connection is opened per short-lived thread.
        """
        path = _path(visited)
        requests = [_request(hops, code, depth, path) for _, code, depth in asks]
        cached = [
            self._accounts.partner_answer(partner.company, request)
            for (partner, _, _), request in zip(asks, requests, strict=True)
        ]
        now = self._clock()
        outcomes = [
            _from_cache(entry, partner, now)
            for (partner, _, _), entry in zip(asks, cached, strict=True)
        ]
        pending = [i for i, outcome in enumerate(outcomes) if outcome is None]

        def fetch(index: int) -> FederatedTrace | PartnerError:
            partner, code, depth = asks[index]
            return self._fetch(partner, code, hops, visited, depth, room, max_listed)

        if pending:
            fetched = _within(fetch, pending, max(asks[i][0].timeout_s for i in pending))
            for index, got in zip(pending, fetched, strict=True):
                partner, code, _ = asks[index]
                outcomes[index] = self._settle(partner, code, requests[index], cached[index], got)
        return [outcome for outcome in outcomes if outcome is not None]

    def _fetch(
        self,
        partner: Partner,
        code: str,
        hops: int,
        visited: Sequence[str],
        depth: int | None,
        room: int | None = None,
        max_listed: ListLimit | None = None,
    ) -> FederatedTrace | PartnerError:
        """Ask one partner; a failure of any kind comes back as a PartnerError.

        The partner's timeout bounds the whole branch: the exchange (which the client bounds
        by it too), then reading the answer, which takes seconds for the largest.
        """
        deadline = time.monotonic() + partner.timeout_s
        try:
            answer = self._client.fetch(partner, code, "up", hops, visited, depth)
            fits = room is None or _fewest_listed(answer, code, depth) <= room
            if max_listed is not None and not fits:
                # Reading it (seconds for the largest) would only find it refused.
                return _NoRoom(max_listed)
            found = from_wire(answer, partner.api_key, deadline=deadline)
            if found.direction != "up":  # an answer to another question
                return PartnerError("error", f"asked upstream, the answer is {found.direction}")
            if not _about(found, code):  # so is one about another item
                return PartnerError("error", "the answer's root is not the item asked about")
            return found
        except PartnerError as error:
            return error
        except AnswerLate:
            return PartnerError(
                "unreachable",
                f"no whole answer within {partner.timeout_s:g} s: reading it took longer",
            )
        except TimeoutError:  # the exchange's, where the client did not say it as PartnerError
            return PartnerError("unreachable", f"no whole answer within {partner.timeout_s:g} s")
        except ValidationError as error:
            problem = error.errors(include_url=False, include_input=False)[0]
            where = _where(problem["loc"])
            # A partner may echo the key it was sent in what we name; our readers must not see it.
            return PartnerError("error", masked(f"{where}: {problem['msg']}", partner.api_key))
        except ValueError as error:
            return PartnerError("error", str(error))

    def _settle(
        self,
        partner: Partner,
        code: str,
        request: str,
        cached: PartnerAnswer | None,
        got: FederatedTrace | PartnerError,
    ) -> _Outcome:
        """Keep a good answer in the cache; make a failure a stub, or stale where allowed."""
        if isinstance(got, _NoRoom):
            return _Outcome(got.status, got.message)
        if isinstance(got, PartnerError):
            return self._failed(partner, code, cached, got.status, got.message)
        fetched = utc_text(self._clock())
        self._accounts.put_partner_answer(
            PartnerAnswer(partner.company, request, json.dumps(got.to_dict()), fetched)
        )
        return _Outcome("ok", "answered", got, fetched)

    def _failed(
        self,
        partner: Partner,
        code: str,
        cached: PartnerAnswer | None,
        status: BranchStatus,
        message: str,
    ) -> _Outcome:
        if status not in STALE_OK:
            # Answers about the code asked with other hops or depths were shared under the
            # same permission: none of them may stand in later.
            self._accounts.drop_partner_answers(partner.company, code)
            return _Outcome(status, message)
        answer = _read_cached(cached, partner.api_key) if cached is not None else None
        if cached is None or answer is None:
            return _Outcome(status, message)
        return _Outcome("stale", f"{status}: {message}", answer, cached.fetched_at)

    def _merge(
        self,
        merging: _Merging,
        attach: FedNode,
        partner: Partner,
        outcome: _Outcome,
        later: int,
    ) -> None:
        """Hang a partner's answer (or a stub) from `attach` in `merging`; `later`: how many
        questions are still to be merged after this one.

        Two branches into one partner often share its ancestors (two heats of one melt): those
        are merged, once each; `merging.reached` keeps each one's share in every supplier lot
        it came through, from which its share in our root is computed once all are merged. Any
        other id already in the trace (ours, or another partner's) would graft the answer onto
        that node, and is refused.
        """
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
            merging.stubs += stub.id not in merging.nodes
            merging.nodes[stub.id] = stub
            merging.edges.append(link)
            merging.linked.add(link)
            merging.branches.append(branch)
            return
        theirs = outcome.answer.qualified(
            partner.company,
            stale=outcome.status == "stale",
            fetched_at=outcome.fetched_at or at,
            ours=self.company,
        )
        # Company ids may hold ':', so a qualified id can still equal one of ours or another
        # partner's, whose answer it must not be merged with.
        taken, brought = merging.nodes, merging.brought
        if any(n.id in taken and brought.get(n.id) != partner.company for n in theirs.nodes):
            clash = _Outcome("error", "the answer's ids collide with nodes already in the trace")
            return self._merge(merging, attach, partner, clash, later)
        link = FedEdge(theirs.root, attach.id, SUPPLIED_AS, source=partner.company)
        fresh = [e for e in dict.fromkeys([*theirs.edges, link]) if e not in merging.linked]
        # Each answer is bounded, but many could add up past what we hold in memory, and past
        # what an instance we answer reads: it reads the whole trace, ours included, against
        # the limits of one answer. Room is kept for a node, a link and a branch of each
        # question still to be merged (a stub, at the least, among the nodes and the stubs).
        new = [n for n in theirs.nodes if n.id not in taken]
        stubs = merging.stubs + sum(1 for n in new if n.kind == STUB_KIND)
        nodes = len(taken) + len(new) + later
        edges = len(merging.edges) + len(fresh) + later
        branches = len(merging.branches) + 1 + len(theirs.branches) + later
        listing = merging.max_listed
        listed = 0 if listing is None else listing.count(nodes, edges, branches, stubs + later)
        if listing is not None and listed > listing.most:
            outcome = _Outcome("error", _no_room(listing))
            return self._merge(merging, attach, partner, outcome, later)
        passed = over(
            (
                (nodes, MAX_FEDERATED_NODES, "nodes"),
                (edges, MAX_FEDERATED_EDGES, "links"),
                # Our own questions' branches are not blamed on an answer that relays none.
                (branches if theirs.branches else 0, MAX_FEDERATED_BRANCHES, "branches"),
            )
        )
        if passed:
            limit = f"with this answer the trace would hold over {passed}"
            outcome = _Outcome("error", limit)
            return self._merge(merging, attach, partner, outcome, later)
        for n in theirs.nodes:
            placed = replace(n, depth=attach.depth + 1 + n.depth)
            earlier = taken.get(n.id)
            if earlier is not None:  # reached again, through another branch into this partner
                placed = replace(earlier, depth=min(earlier.depth, placed.depth))
            taken[n.id] = placed
            brought[n.id] = partner.company
            if n.share is not None:
                merging.reached.setdefault(n.id, {})[attach.id] = n.share
        merging.edges.extend(fresh)
        merging.linked.update(fresh)
        merging.branches.extend([branch, *theirs.branches])
        merging.stubs = stubs


def _shares_beyond(trace: Trace, reached: dict[str, dict[str, float]]) -> dict[str, float]:
    """Return the share in our root of each partner item, from its share in each supplier lot
    it came through.

    That is the share of an ancestor as a trace here computes it (graph/exposure.py): branches
    that meet in a merge or mix are weighed as its inputs, in an assembly as its components,
    so it never exceeds 1. Only what lies below the supplier lots is walked: our own items
    above them carry none of the partner's, and their shares are known already.
    """
    if not reached:
        return {}
    beyond: dict[str, dict[str, float]] = {}
    for gid, within in reached.items():
        for attach, share in within.items():
            beyond.setdefault(attach, {})[gid] = share
    out: dict[str, list[str]] = {}
    for edge in trace.edges:
        out.setdefault(edge.src, []).append(edge.dst)
    below = set(beyond)
    todo = list(below)
    while todo:
        for dst in out.get(todo.pop(), ()):
            if dst not in below:
                below.add(dst)
                todo.append(dst)
    kinds = {n.id: n.kind for n in trace.nodes if n.id in below}
    edges = [e for e in trace.edges if e.src in below and e.dst in below]
    shares = upstream_shares(trace.root, kinds, edges, beyond)
    return {gid: shares.get(gid, 0.0) for gid in reached}


def _where(loc: Sequence[int | str]) -> str:
    """Name where an answer went wrong; an attribute's name is the partner's text (of any
    length, or our key echoed back), so it is not repeated, unless it is one we check."""
    parts = [str(part) for part in loc]
    if (
        len(parts) > 3
        and parts[0] == "nodes"
        and parts[2] == "attrs"
        and parts[3] not in NODE_FACTS
    ):
        parts[3] = "*"
    return ".".join(parts) or "answer"


def _about(found: FederatedTrace, code: str) -> bool:
    """True when a partner's answer starts at the lot or serial with the code asked (its id and
    its node's kind agree): what a partner shipped us under a code is never a shipment, a step
    or a company."""
    root = next(n for n in found.nodes if n.id == found.root)
    return _is_item(found.root, root.kind, code)


def _is_item(gid: str, kind: Any, code: str) -> bool:
    """True when `gid` is the lot or serial with the code asked, its node of that kind."""
    try:
        named, key = split_gid(gid)
    except BadId:
        return False
    return named in MATERIAL and kind == named and key == code


def _path(visited: Sequence[str]) -> str:
    """Name the instances a question passed: they only ever check whether they are on the
    path, so it is named as a set; instance ids hold no '|', ',' or space."""
    return ",".join(sorted(set(visited)))


def _request(hops: int, code: str, depth: int | None, path: str) -> str:
    """Name a question in the cache: answers to other hop budgets or depths differ, and so do
    answers to a question that passed other instances (`path`, as `_path` names it: a
    partner's partner on the path answers it with a loop, one off the path with its data).
    """
    asked = "up" if depth is None else f"up<={depth}"
    return f"{asked} via {path}|{hops}|{code}"


def _within(
    fetch: Callable[[int], FederatedTrace | PartnerError], pending: Sequence[int], timeout_s: float
) -> list[FederatedTrace | PartnerError]:
    """Fetch concurrently, all of them within twice the longest timeout (connect, then answer).

    With more questions than workers they queue: forty questions to a partner that never
    answers would otherwise hold the trace for five rounds of its timeout.
    """
    budget = 2 * timeout_s
    pool = ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(pending)))
    try:
        futures = [pool.submit(fetch, index) for index in pending]
        done, _ = wait(futures, timeout=budget)
    finally:
        # Questions under way end within their own timeout; their answers are not waited for.
        pool.shutdown(wait=False, cancel_futures=True)
    late = PartnerError("unreachable", f"no answer within the trace's {budget:g} s")
    return [future.result() if future in done else late for future in futures]


def _from_cache(entry: PartnerAnswer | None, partner: Partner, now: datetime) -> _Outcome | None:
    """Return the cached answer while it is within the partner's time to live, else None."""
    horizon = utc_text(now - timedelta(seconds=partner.cache_ttl_s))
    if entry is None or entry.fetched_at <= horizon:
        return None
    answer = _read_cached(entry, partner.api_key)
    if answer is None:
        return None
    return _Outcome("cached", "answered from the cache", answer, entry.fetched_at)


def _read_cached(cached: PartnerAnswer, key: str) -> FederatedTrace | None:
    """Read a cached answer back; one that no longer parses is as good as none. An answer
    cached before it was masked on arrival is masked here."""
    try:
        return from_wire(json.loads(cached.answer), key)
    except ValueError:
        return None
