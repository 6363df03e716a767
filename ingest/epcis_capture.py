"""Capture an EPCIS 2.0 document: check it against the standard's schema, read it into our
events, and ingest them as one atomic batch; every problem names the EPCIS event and field."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graph.epcis_schema import schema_problems
from ingest.epcis_import import EpcisReader, Ignored, Origin, Translation
from ingest.errors import BatchConflict, BatchRejected, Problem
from ingest.service import IngestReport

Ingest = Callable[[Sequence[Any]], IngestReport]
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


def capture(document: Any, reader: EpcisReader, ingest: Ingest) -> CaptureReport:
    """Ingest an EPCIS document (or one event) through `ingest`; raise BatchRejected/Conflict."""
    found = schema_problems(document)
    if found:
        raise BatchRejected(
            [Problem(p.event_index or 0, p.event_id, p.path, "schema", p.message) for p in found]
        )
    translation = reader.translate(document)
    if not translation.events:
        raise BatchRejected(
            [Problem(0, None, "epcisBody.eventList", "empty", "no event here changes genealogy")]
        )
    try:
        report = ingest(translation.events)
    except BatchRejected as error:
        problems = [_back(p, translation) for p in error.problems]
        raise (BatchConflict if isinstance(error, BatchConflict) else BatchRejected)(
            problems
        ) from error
    return CaptureReport(report, translation)


def _back(problem: Problem, translation: Translation) -> Problem:
    """Say a problem of one of our events in terms of the EPCIS event it was read from."""
    if not 0 <= problem.index < len(translation.origins):
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
