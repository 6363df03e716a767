"""Worn-mark resolution: from what the operator can read to ranked candidates, with reasons.

Nothing here scans: every reading becomes a short list of exact codes (one unknown character is
at most one alphabet's worth of them, for each look-alike of a character the scheme never holds)
looked up by index in one query. A primary number with one
unknown character is likewise a list of exact numbers looked up in one query; with more, it is
searched as an index range before its first unknown character.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from graph.clock import utc_text
from graph.errors import BadRequest
from graph.ids import gid
from graph.store import FLOW_TYPES, GraphStore, ItemLink, NodeView
from marking.models import UNKNOWN, Candidate, Match, Resolution, ResolveQuery
from marking.readings import as_ascii, visible
from marking.schemes import LOOKALIKES, Scheme, is_twin

MAX_MARK_UNKNOWNS = 2
MAX_PRIMARY_UNKNOWNS = 4
MIN_PRIMARY_KNOWN = 3
# What the only unknown character of a worn primary number is tried as: printable ASCII, the
# space too (ids may hold one).
PRINTABLE = " " + "".join(c for c in string.printable if not c.isspace() and c != UNKNOWN)
# What a worn primary number's first character may be, when even that one and others are unreadable.
PRIMARY_CHARACTERS = string.ascii_uppercase + string.digits + "-"
PRIMARY_KINDS = ("lot", "serial")
# Every character after it in an id's place is outside ASCII (ids sort by code point).
LAST_ASCII = "\x7f"
MAX_ITEMS = 200
# With context given (cart, station, dates), how many items its links are read for, at most.
MAX_CONTEXT_ITEMS = 2000
# How many items a worn primary number's search reads at most, of every site.
MAX_SEARCHED = 20_000
TWIN_BONUS = 0.15  # 0 for O is likelier than 0 for D
# How likely a reading is wrong altogether, when a second reading does not fit an item.
UNSUPPORTED = 0.02  # candidates whose context is read; far more than an operator can check

# Prior weight of each way a reading can lead to a code: how likely that route is the truth.
WEIGHTS: dict[Match, float] = {
    "exact": 1.0,
    "wildcard": 1.0,
    "lookalike": 0.8,
    "swap": 0.6,
    "check_corrected": 0.4,
    "misread": 0.3,
    "primary_exact": 1.0,
    "primary_wildcard": 1.0,
}


# Which of these item gids the caller may see (an operator: their site's).
Visible = Callable[[Sequence[str]], set[str]]


@dataclass(frozen=True, slots=True)
class Guess:
    """A code the reading may stand for, and why."""

    code: str
    match: Match
    reason: str
    bonus: float = 0.0

    @property
    def weight(self) -> float:
        return WEIGHTS[self.match] + self.bonus


@dataclass(slots=True)
class _Found:
    item: NodeView
    mark: str | None = None
    scheme: str | None = None
    mark_weight: float = 0.0
    primary_weight: float = 0.0
    matches: list[Match] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def _position(i: int) -> str:
    return f"position {i + 1}"


def mark_guesses(text: str, schemes: Sequence[Scheme]) -> list[Guess]:
    """Return the codes a mark reading may stand for, best route first, each code once."""
    unknown = [i for i, char in enumerate(text) if char == UNKNOWN]
    if len(unknown) > MAX_MARK_UNKNOWNS:
        raise BadRequest(
            f"mark: at most {MAX_MARK_UNKNOWNS} unreadable characters (?) in a secondary mark"
        )
    guesses: list[Guess] = []
    if not unknown:
        guesses.append(Guess(text, "exact", "exact secondary mark"))
    for scheme in schemes:
        if len(text) not in scheme.lengths():
            continue
        if unknown:
            guesses.extend(_fills(text, unknown, scheme))
        else:
            guesses.extend(_corrections(text, scheme))
    best: dict[str, Guess] = {}
    for guess in guesses:
        if guess.code not in best or guess.weight > best[guess.code].weight:
            best[guess.code] = guess
    return sorted(best.values(), key=lambda g: -g.weight)


def _fills(text: str, unknown: list[int], scheme: Scheme) -> Iterable[Guess]:
    for read, swap, bonus in _readable_as(text, scheme):
        for fill in itertools.product(scheme.alphabet, repeat=len(unknown)):
            chars = list(read)
            for i, char in zip(unknown, fill, strict=True):
                chars[i] = char
            code = "".join(chars)
            if scheme.problem(code) is None:
                filled = ", ".join(
                    f"{_position(i)} as {c}" for i, c in zip(unknown, fill, strict=True)
                )
                # With a look-alike swapped in, each look-alike has its own fill.
                only = "only this fill" if not swap else "only this fill of this reading"
                how = f"; the check character allows {only}" if scheme.has_check else ""
                reason = f"{swap}wildcard match: {filled}{how}"
                yield Guess(code, "lookalike" if swap else "wildcard", reason, bonus)


def _readable_as(text: str, scheme: Scheme) -> Iterable[tuple[str, str, float]]:
    """The readings a partly worn one stands for in a scheme: itself, or, where it holds a
    character the scheme's codes never do, each look-alike of that one they may hold (as a
    whole reading is corrected: one character at most), with why and the bonus of a twin.

    Without this, no fill of a worn character could match a reading holding such a character.
    """
    impossible = [i for i, c in enumerate(text) if c != UNKNOWN and c not in scheme.alphabet]
    if not impossible:
        yield text, "", 0.0
        return
    if len(impossible) > 1:
        return
    i = impossible[0]
    char = text[i]
    for other in sorted(c for c in LOOKALIKES.get(char, "") if c in scheme.alphabet):
        why = f"look-alike swap: {char} read for {other} at {_position(i)}; "
        yield text[:i] + other + text[i + 1 :], why, TWIN_BONUS if is_twin(char, other) else 0.0


def _corrections(text: str, scheme: Scheme) -> Iterable[Guess]:
    """Codes one look-alike, one misread or one neighbour swap away from what was read.

    Tried for a valid code too: without a check character every reading is one (AAO for a worn
    AAD), and a recorded exact code outranks them all anyway.
    """
    for i, char in enumerate(text):
        lookalikes = {c for c in LOOKALIKES.get(char, "") if c in scheme.alphabet}
        for other in sorted(lookalikes):
            code = text[:i] + other + text[i + 1 :]
            if scheme.problem(code) is None:
                yield Guess(
                    code,
                    "lookalike",
                    f"look-alike swap: {char} read for {other} at {_position(i)}",
                    TWIN_BONUS if is_twin(char, other) else 0.0,
                )
        if scheme.has_check or char not in scheme.alphabet:
            # Without a check character every substitution is a valid code: only an
            # impossible character justifies trying them all.
            match: Match = "check_corrected" if scheme.has_check else "misread"
            for other in scheme.alphabet:
                if other == char or other in lookalikes:
                    continue
                code = text[:i] + other + text[i + 1 :]
                if scheme.problem(code) is None:
                    why = (
                        "corrected by check character"
                        if scheme.has_check
                        else f"{char} is not in the alphabet"
                    )
                    yield Guess(code, match, f"{why}: {other} at {_position(i)}")
    for i in range(len(text) - 1):
        if text[i] == text[i + 1]:
            continue
        code = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        if scheme.problem(code) is None:
            why = "corrected by check character: " if scheme.has_check else ""
            yield Guess(code, "swap", f"{why}neighbours swapped at {_position(i)}")


def _readable(text: str) -> int:
    """How many characters of a primary number were read (the space too: ids may hold one)."""
    return len(text) - text.count(UNKNOWN)


class PrimaryRange(NamedTuple):
    """Ids to read for a partial primary number: those beginning with `prefix`, after `after`,
    that match `pattern`. A pattern without unknown characters is its own prefix: an exact
    number to look up."""

    prefix: str
    pattern: str
    after: str = ""


def primary_ranges(text: str) -> list[PrimaryRange]:
    """Return the ranges of ids to search a partial primary number with."""
    unknown = text.count(UNKNOWN)
    if unknown > MAX_PRIMARY_UNKNOWNS:
        raise BadRequest(
            f"primary: at most {MAX_PRIMARY_UNKNOWNS} unreadable characters (?) in a number"
        )
    if _readable(text) < MIN_PRIMARY_KNOWN:
        raise BadRequest(f"primary: give at least {MIN_PRIMARY_KNOWN} readable characters")
    # A range up to the first unknown character reads every item under that prefix, however few
    # match: the only unknown character is filled in instead with each printable ASCII one, to
    # give exact numbers (one query, wherever it is), and an unreadable first character always,
    # as the range would be every item; the ids outside ASCII there are a range (below).
    first = text.find(UNKNOWN)
    fills = PRINTABLE if unknown == 1 else PRIMARY_CHARACTERS if first == 0 else ""
    starts = [text[:first] + c + text[first + 1 :] for c in fills] or [text]
    ranges = []
    for kind in PRIMARY_KINDS:
        for start in starts:
            pattern = gid(kind, start)
            ranges.append(PrimaryRange(pattern.split(UNKNOWN, 1)[0], pattern))
        if fills:
            # An id may hold any printable character: one outside ASCII where the filled one is
            # worn sorts after every ASCII one there, so only such ids are read (none, in a
            # plant whose ids are all ASCII), as a range of more worn characters reads them too.
            pattern = gid(kind, text)
            prefix = pattern.split(UNKNOWN, 1)[0]
            ranges.append(PrimaryRange(prefix, pattern, prefix + LAST_ASCII))
    return ranges


class Resolver:
    """Answer a reading with ranked candidates from one store."""

    def __init__(
        self,
        store: GraphStore,
        schemes: Sequence[Scheme],
        *,
        name_customers: bool = True,
        visible: Visible | None = None,
    ) -> None:
        self._store = store
        self._schemes = list(schemes)
        self._name_customers = name_customers
        self._visible = visible

    def resolve(self, query: ResolveQuery) -> Resolution:
        """Return the candidates for a reading, most likely first."""
        found: dict[str, _Found] = {}
        truncated = False
        if query.mark is not None:
            exact = self._by_mark(_normalise(query.mark), query, found)
            # A primary number read beside the mark may contradict it: then both are weighed.
            if (
                exact is not None
                and query.primary is None
                and self._seen([exact.item.gid])
                and self._fits(query, [exact])
            ):
                return Resolution(candidates=[self._candidate(exact, 1.0, ["exact"])])
        if query.primary is not None:
            # The reading is judged (and refused when it says too little) as typed, in ASCII: a
            # full-width keyboard's `?` is an unreadable character too. An id may hold spaces and
            # any printable character, so it is also tried exactly as typed, and without spaces
            # (a reader's stray ones), each when it says enough itself.
            reading = as_ascii(query.primary)
            truncated |= self._by_primary(reading, query, found)
            for other in dict.fromkeys((query.primary, reading.replace(" ", ""))):
                if other != reading and _readable(other) >= MIN_PRIMARY_KNOWN:
                    truncated |= self._by_primary(other, query, found)
        if self._visible is not None:
            seen = self._seen(list(found))
            found = {key: f for key, f in found.items() if key in seen}
        ranked = sorted(found.values(), key=lambda f: (-_score(f, query), f.item.gid))
        links: dict[str, list[ItemLink]] = {}
        if _has_context(query):
            # Context is read before the cut, so the item it points at is not cut away unseen.
            pool = ranked[:MAX_CONTEXT_ITEMS]
            truncated |= len(ranked) > len(pool)
            links = self._links(pool)
            ranked = [f for f in pool if _fits_context(f.item, links.get(f.item.gid, []), query)]
        truncated |= len(ranked) > MAX_ITEMS
        fitting = ranked[:MAX_ITEMS]
        if not links:
            links = self._links(fitting[: query.limit])
        total = sum(_score(f, query) for f in fitting) or 1.0
        candidates = []
        for f in fitting[: query.limit]:
            if _has_context(query):
                f.reasons.append("narrowed by context")
                f.matches.append("context")
            candidates.append(
                self._candidate(f, _score(f, query) / total, f.matches, links.get(f.item.gid))
            )
        return Resolution(candidates=candidates, truncated=truncated or len(fitting) > query.limit)

    def _seen(self, gids: Sequence[str]) -> set[str]:
        return set(gids) if self._visible is None else self._visible(gids)

    def _fits(self, query: ResolveQuery, found: list[_Found]) -> bool:
        if not _has_context(query):
            return True
        links = self._links(found)
        return all(_fits_context(f.item, links.get(f.item.gid, []), query) for f in found)

    def _by_mark(self, text: str, query: ResolveQuery, found: dict[str, _Found]) -> _Found | None:
        # Every scheme is tried, a part given too: a family moved to a new scheme still carries
        # the marks of its old one. The part then keeps only its items (context).
        guesses = {g.code: g for g in mark_guesses(text, self._schemes)}
        marked = self._store.marked_items([gid("mark", code) for code in guesses])
        for hit in marked:
            guess = guesses[hit.mark]
            entry = found.setdefault(hit.item.gid, _Found(hit.item))
            if guess.weight > entry.mark_weight:
                entry.mark, entry.scheme, entry.mark_weight = hit.mark, hit.scheme, guess.weight
                entry.matches = [guess.match]
                entry.reasons = [guess.reason]
        exact = [found[h.item.gid] for h in marked if guesses[h.mark].match == "exact"]
        return exact[0] if len(exact) == 1 else None

    def _by_primary(self, text: str, query: ResolveQuery, found: dict[str, _Found]) -> bool:
        match: Match = "primary_wildcard" if UNKNOWN in text else "primary_exact"
        reason = f"primary number matches {text}" if UNKNOWN in text else "exact primary number"
        # Items the mark already found are checked directly: a wide pattern's search is cut
        # off at its limit and could miss them.
        for entry in found.values():
            if _fits_pattern(entry.item.attrs["key"], text):
                entry.primary_weight = WEIGHTS[match]
                entry.matches.append(match)
                entry.reasons.append(reason)
        ranges = primary_ranges(text)
        exact = sorted(r.pattern for r in ranges if r.prefix == r.pattern)
        batches = [sorted(self._store.nodes(exact).values(), key=lambda n: n.gid)] if exact else []
        wide = [r for r in ranges if r.prefix != r.pattern]
        found_wide, truncated = self._search(wide)
        batches.append(found_wide)
        for items in batches:
            for item in items:
                entry = found.setdefault(item.gid, _Found(item))
                if not entry.primary_weight:
                    entry.primary_weight = WEIGHTS[match]
                    entry.matches.append(match)
                    entry.reasons.append(reason)
        return truncated

    def _search(self, ranges: Sequence[PrimaryRange]) -> tuple[list[NodeView], bool]:
        """Read the items of index ranges the caller may see, as many as context may go
        through (whatever `limit` is); return them and whether the search was cut.

        Visibility is applied page by page, so items of other sites neither crowd out the
        caller's nor show in the cut; a search through more than MAX_SEARCHED items stops.
        """
        kept: list[NodeView] = []
        room, reads = MAX_CONTEXT_ITEMS + 1, MAX_SEARCHED
        for prefix, pattern, after in ranges:
            while room > 0 and reads > 0:
                asked = min(room, reads)
                page = self._store.items_matching(prefix, pattern, asked, after)
                reads -= len(page)
                seen = self._seen([item.gid for item in page])
                visible = [item for item in page if item.gid in seen]
                kept.extend(visible)
                room -= len(visible)
                if len(page) < asked:
                    break  # the range is read to its end
                after = page[-1].gid
            else:
                return kept, True
        return kept, False

    def _links(self, found: Sequence[_Found]) -> dict[str, list[ItemLink]]:
        """Read the links of found items to what the caller may see: a step, cart or shipment
        hidden from them is neither where an item is nor a context it fits."""
        grouped: dict[str, list[ItemLink]] = {}
        if found:
            links = self._store.item_links([f.item.gid for f in found])
            seen = self._seen(sorted({link.other.gid for link in links}))
            for link in links:
                if link.other.gid in seen:
                    grouped.setdefault(link.item, []).append(link)
        return grouped

    def _candidate(
        self,
        f: _Found,
        confidence: float,
        matches: Sequence[Match],
        links: list[ItemLink] | None = None,
    ) -> Candidate:
        if links is None:
            links = self._links([f]).get(f.item.gid, [])
        mark, scheme = f.mark, f.scheme
        if mark is None:
            for link in links:
                if link.type == "MARKS" and not link.outgoing:
                    mark, scheme = link.other.attrs.get("code"), link.other.attrs.get("scheme")
        attrs = f.item.attrs
        return Candidate(
            id=f.item.gid,
            kind=f.item.kind,
            key=attrs["key"],
            part=attrs.get("part"),
            status=attrs.get("status"),
            location=location(f.item, links, name_customers=self._name_customers),
            mark=mark,
            scheme=scheme,
            confidence=round(confidence, 4),
            reason="; ".join(f.reasons) or "exact secondary mark",
            matches=list(dict.fromkeys(matches)),
        )


def _fits_pattern(key: str, pattern: str) -> bool:
    return len(key) == len(pattern) and all(
        p in (UNKNOWN, k) for k, p in zip(key, pattern, strict=True)
    )


def _normalise(mark: str) -> str:
    # Stamped codes are capitals; readers type what they see, in whatever case and, on a
    # full-width keyboard, in full-width forms (marking.readings). No code holds a space, a
    # full-width character or one no one can see (ingest refuses them in a mark sent), so a
    # reading is taken without them: a zero-width space or soft hyphen pasted in is no misread.
    return visible(as_ascii(mark)).upper()


def _score(f: _Found, query: ResolveQuery) -> float:
    if query.mark is not None and query.primary is not None:
        # The readings are independent evidence: an item only one of them fits is one the
        # other reading speaks against, unless that reading is wrong too.
        return max(f.mark_weight, UNSUPPORTED) * max(f.primary_weight, UNSUPPORTED)
    return f.mark_weight + f.primary_weight


def _has_context(query: ResolveQuery) -> bool:
    return any(
        value is not None
        for value in (query.part, query.cart, query.station, query.made_from, query.made_to)
    )


def _fits_context(item: NodeView, links: list[ItemLink], query: ResolveQuery) -> bool:
    part = item.attrs.get("part")
    if query.part is not None and part != query.part:
        return False
    if query.cart is not None and not any(
        link.type == "IN_CART" and link.other.attrs["key"] == query.cart for link in links
    ):
        return False
    if query.station is not None and query.station not in _stations(links):
        return False
    made = item.attrs.get("created_at")
    if query.made_from is not None and (made is None or made < utc_text(query.made_from)):
        return False
    return not (query.made_to is not None and (made is None or made > utc_text(query.made_to)))


def _stations(links: list[ItemLink]) -> set[str]:
    """Equipment of the steps that made or used an item."""
    return {
        link.other.attrs["equipment"]
        for link in links
        if link.type in ("PRODUCED", "CONSUMED_BY") and "equipment" in link.other.attrs
    }


def location(item: NodeView, links: list[ItemLink], *, name_customers: bool = True) -> str:
    """Say where an item is now, from the relationships that leave it (naming the customer of a
    shipment only with `name_customers`)."""
    # By what they lead to: neither store orders an item's links, and an item used by two steps
    # or shipped twice is said alike on both.
    out = sorted((link for link in links if link.outgoing), key=lambda link: link.other.gid)
    for link in out:
        if link.type == "IN_CART" and link.until is None:
            where = f" compartment {link.compartment}" if link.compartment else ""
            return f"in cart {link.other.attrs['key']}{where}"
    for link in out:
        if link.type == "SHIPPED_IN":
            shipment = link.other.attrs["key"]
            if not name_customers:
                return f"shipped in shipment {shipment}"
            return f"shipped to {link.other.attrs.get('customer', '?')} in shipment {shipment}"
    for link in out:
        if link.type == "CONSUMED_BY":
            on = link.other.attrs.get("equipment")
            return f"used in step {link.other.attrs['key']}" + (f" on {on}" if on else "")
    available = item.attrs.get("available")
    if available is not None and float(available) <= 0:
        # What took it is material flow: a cart it rode in before is where it was, not that.
        took = [link for link in out if link.type in FLOW_TYPES]
        if not took:
            return "used up"  # by what the caller may not see
        return f"used up ({took[0].type.lower().replace('_', ' ')} {took[0].other.attrs['key']})"
    unit = item.attrs.get("unit", "")
    return f"in stock, {available} {unit} available".rstrip() if available else "in stock"
