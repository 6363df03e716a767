"""Ingest failures: every problem names the event (index and event_id) and the field."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graph.epcis_schema import DOCUMENT
from graph.errors import DomainError, Forbidden

# What a problem of no one event (index None) is of: an EPCIS document, or a batch of ours.
DOCUMENT_WHOLE, BATCH_WHOLE = "the document", "the batch"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one event of a batch, or (index None) with the body as a whole:
    `whole` names it (an EPCIS document, a batch of our events)."""

    index: int | None
    event_id: str | None
    field: str
    code: str
    message: str
    # The logged events the message names (a void's dependents or voider), the lots whose
    # quantities it counts (what a cart holds) or the carts it names that may be another site's,
    # so a message can be said without them to a caller who may not read them (a mark_taken
    # refusal carries the item holding the mark only to tell it from one that no item holds);
    # not part of the refusal's shape.
    names: tuple[str, ...] = dataclasses.field(default=(), compare=False, repr=False)
    whole: str = dataclasses.field(default=DOCUMENT_WHOLE, compare=False, repr=False)
    # Found by the contract (ingest.parse.problems_of), whose messages say nothing of the field
    # ("String should have at most 200 characters"): the graph's rules name what they refuse.
    contract: bool = dataclasses.field(default=False, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "event_id": self.event_id,
            "field": self.field,
            "code": self.code,
            "message": self.message,
        }

    def __str__(self) -> str:
        if self.index is None:
            who = self.whole
        elif self.event_id:
            who = f'event {self.index} ("{self.event_id}")'
        else:
            who = f"event {self.index}"
        where = f", {self.field}" if self.field and self.field != DOCUMENT else ""
        return f"{who}{where}: {self.message}"


# A refusal names this many problems at most, and says how many more there are: a body of
# hundreds of thousands of bad events would otherwise get an answer of tens of megabytes.
MAX_PROBLEMS = 1000
TOO_MANY = "too_many_problems"


def at_most_named(problems: list[Problem], unchecked: int = 0) -> list[Problem]:
    """Return `problems` cut to MAX_PROBLEMS, with one more saying how many are not named
    (and how many events, `unchecked`, were not looked at)."""
    if (len(problems) <= MAX_PROBLEMS and not unchecked) or problems[-1].code == TOO_MANY:
        return problems  # within the bound, or cut already
    named = problems[:MAX_PROBLEMS]
    left = len(problems) - len(named)
    parts = [f"{left} more problems are not named"] if left else []
    if unchecked:
        parts.append(f"{unchecked} more events were not checked")
    last = named[-1]
    message = f"{' and '.join(parts)} (at most {MAX_PROBLEMS} problems are named)"
    return [*named, Problem(last.index, last.event_id, "", TOO_MANY, message)]


# How many problems a refusal's message names; its details list them all.
NAMED = 5


def _named(texts: list[str]) -> str:
    more = f" (and {len(texts) - NAMED} more)" if len(texts) > NAMED else ""
    return "; ".join(texts[:NAMED]) + more


class BatchRejected(DomainError):
    """The batch breaks the contract or the graph's rules; nothing of it was written."""

    status_code = 422
    code = "invalid_events"

    def __init__(
        self,
        problems: list[Problem],
        *,
        action: bool = False,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        problems = at_most_named(problems)
        self.problems = problems
        self.action = action  # said as what_was_wrong says it: see `of_action`
        said = _said(problems, fields) if action else _named([str(p) for p in problems])
        super().__init__(
            said if action else f"batch rejected, nothing written: {said}",
            details=[p.to_dict() for p in problems],
        )

    @property
    def what_was_wrong(self) -> str:
        """Say what was wrong in the problems' own words (with the field, where the contract's
        words do not name it) and no batch or event index: for a caller who sent no events,
        refused by those an action made for them."""
        return _said(self.problems)

    def of_action(self, fields: Mapping[str, str] | None = None) -> BatchRejected:
        """The same refusal, of the same kind (a conflict stays one), said as `what_was_wrong`
        says it: for a caller of an action that sent no batch (REST, the command line).
        `fields` names the events' fields the caller gave by another name (`--title`)."""
        kind = BatchConflict if isinstance(self, BatchConflict) else BatchRejected
        return kind(self.problems, action=True, fields=fields)


def _said(problems: list[Problem], fields: Mapping[str, str] | None = None) -> str:
    """The problems in their own words, each said once: without the events' indexes, the
    events an action made alike (a notice per customer) are refused alike. A field of the
    contract is named as `fields` names it (`--title` on the command line), or as it is."""
    named = fields or {}
    said = [
        f"{named.get(p.field, p.field)}: {p.message}" if p.contract else p.message for p in problems
    ]
    return _named(list(dict.fromkeys(said)))


class EventForbidden(Forbidden):
    """An event of the batch the caller may not record; `problem` names it."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


class RebuildStopped(DomainError):
    """A logged event no longer applies on replay: the graph holds the events before it."""

    status_code = 500
    code = "rebuild_stopped"


class BatchConflict(BatchRejected):
    """An event_id was seen before with a different payload."""

    status_code = 409
    code = "event_conflict"
