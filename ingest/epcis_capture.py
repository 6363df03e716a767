"""Capture an EPCIS 2.0 document: check it against the standard's schema, read it into our
events, and ingest them as one atomic batch; every problem names the EPCIS event and field."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from graph.epcis_schema import schema_problems
from graph.store import StoredEvent
from ingest.canonical import TimeOutOfRange, payload_and_digest, stored_as
from ingest.epcis_import import EpcisReader, Ignored, Logged, Origin, Translation
from ingest.errors import TOO_MANY, BatchConflict, BatchRejected, EventForbidden, Problem
from ingest.parse import EVENT_ADAPTER
from ingest.service import IngestReport

Ingest = Callable[[Sequence[Any]], IngestReport]
NEVER_CAPTURED = "retracts an event this store never captured"
ALREADY_VOIDED = "retracts an event voided here already"
# Our messages may point at another event of the batch by its place in our list.
BATCH_INDEX = re.compile(r"event (\d+) of this batch")


@dataclass(frozen=True, slots=True)
class CaptureReport:
    report: IngestReport
    translation: Translation

    def to_dict(self) -> dict[str, Any]:
        body = self.report.to_dict()
        for result, event, origin in zip(
            body["results"], self.translation.events, self.translation.origins, strict=True
        ):
            result |= {"type": event["type"], "epcis_index": origin.index}
            if origin.epcis_id is not None:
                result["eventID"] = origin.epcis_id
        body["ignored"] = [i.to_dict() for i in self.translation.ignored]
        return body

    @property
    def ignored(self) -> list[Ignored]:
        return self.translation.ignored


def capture(document: Any, reader: EpcisReader, ingest: Ingest, logged: Logged) -> CaptureReport:
    """Ingest an EPCIS document (or one event) through `ingest`; raise BatchRejected/Conflict,
    or EventForbidden, each naming the EPCIS event.

    An error declaration of an event the store never captured is skipped (reported as ignored):
    a partner's document retracts what it sent earlier, which this store may never have had. A
    document of such declarations only is answered with them, nothing created.
    """
    found = schema_problems(document)
    if found:
        raise BatchRejected(
            # A problem outside the event list (header, @context, epcisBody) names no event; the
            # last of a check cut short is kept as the last (BatchRejected cuts no further).
            [
                Problem(
                    p.event_index, p.event_id, p.path, TOO_MANY if p.more else "schema", p.message
                )
                for p in found
            ]
        )
    translation = reader.translate(document, logged)
    _refuse_retractions_of_the_document(translation)
    if not translation.events:
        raise BatchRejected(
            [Problem(None, None, "epcisBody.eventList", "empty", "no event here changes genealogy")]
        )
    translation = _without_unknown_retractions(translation, logged)
    if not translation.events:
        # Every event read was a retraction with nothing to void here: the sender learns each
        # was read and skipped (listed under ignored, with why), not that none was there.
        return CaptureReport(IngestReport([]), translation)
    try:
        report = ingest(translation.events)
    except BatchRejected as error:
        problems = [_back(p, translation) for p in error.problems]
        raise (BatchConflict if isinstance(error, BatchConflict) else BatchRejected)(
            problems
        ) from error
    except EventForbidden as error:
        raise EventForbidden(_back(error.problem, translation)) from error
    return CaptureReport(report, translation)


def _refuse_retractions_of_the_document(translation: Translation) -> None:
    """Refuse an error declaration of an event the same document makes, as our ingest refuses
    a void of an event of its own batch (void_same_batch)."""
    made = {e["event_id"] for e in translation.events if e["type"] != "void"}
    problems: dict[int, Problem] = {}
    for event, origin in zip(translation.events, translation.origins, strict=True):
        if event["type"] == "void" and event["voids"] in made:
            problems.setdefault(
                origin.index,
                Problem(
                    origin.index,
                    origin.epcis_id or event["event_id"],
                    "errorDeclaration",
                    "void_same_batch",
                    f'event "{event["voids"]}" is in this document: '
                    "send the error declaration in a later document",
                ),
            )
    if problems:
        raise BatchRejected(list(problems.values()))


def _without_unknown_retractions(translation: Translation, logged: Logged) -> Translation:
    # Every void an EPCIS document yields is a retraction (EpcisReader._retraction).
    targets = {e["voids"] for e in translation.events if e["type"] == "void"}
    if not targets:
        return translation
    known = logged(sorted(targets))
    voiders = sorted({str(t.voided_by) for t in known.values() if t.voided_by})
    voids = logged(voiders) if voiders else {}
    kept = Translation(ignored=list(translation.ignored))
    skipped: set[int] = set()
    for event, origin in zip(translation.events, translation.origins, strict=True):
        why = _retracted_already(event, known, voids) if event["type"] == "void" else None
        if why is not None:
            if origin.index not in skipped:
                skipped.add(origin.index)
                kept.ignored.append(Ignored(origin.index, origin.epcis_id, why))
            continue
        kept.events.append(event)
        kept.origins.append(origin)
    kept.ignored.sort(key=lambda ignored: ignored.index)
    return kept


def _retracted_already(
    void: dict[str, Any], known: Mapping[str, StoredEvent], voids: Mapping[str, StoredEvent]
) -> str | None:
    """Say why a retraction has nothing to void here: its event was never captured, or is
    voided already, by another void (ours, say, whose export comes back) or by this one said
    with another reason (our export of it says incorrect_data); None if it voids, or is the
    void logged (a duplicate) or a changed one (a conflict)."""
    target = known.get(void["voids"])
    if target is None:
        return NEVER_CAPTURED
    if target.voided_by is None:
        return None
    if target.voided_by != void["event_id"] or _another_reason(void, voids.get(void["event_id"])):
        return ALREADY_VOIDED
    return None


def _another_reason(void: dict[str, Any], logged: StoredEvent | None) -> bool:
    """Tell whether `void` is the void `logged` but for its reason."""
    if logged is None:
        return False
    reason = json.loads(logged.payload).get("reason")
    if reason is None or reason == void.get("reason"):
        return False
    try:
        restated = EVENT_ADAPTER.validate_python(void | {"reason": reason})
        digest = payload_and_digest(restated)[1]
    except (ValidationError, TimeOutOfRange):
        return False  # not a void ingest takes: it says why
    return stored_as(logged, restated, digest)


def _back(problem: Problem, translation: Translation) -> Problem:
    """Say a problem of one of our events in terms of the EPCIS event it was read from."""
    if problem.index is None or not 0 <= problem.index < len(translation.origins):
        return problem
    origin: Origin = translation.origins[problem.index]
    ours = translation.events[problem.index]
    theirs = origin.epcis_field(problem.field) if problem.field else None
    where = f"as our {ours['type']} event {ours['event_id']!r}"
    if problem.field:
        where += f", field {problem.field}"

    def epcis_index(found: re.Match[str]) -> str:
        n = int(found.group(1))
        known = n < len(translation.origins)
        return f"EPCIS event {translation.origins[n].index}" if known else found.group(0)

    message = BATCH_INDEX.sub(epcis_index, problem.message)
    return Problem(
        origin.index,
        origin.epcis_id or ours["event_id"],
        theirs or problem.field,
        problem.code,
        f"{message} ({where})",
    )
