"""The version of the projection: how the planner turns the event log into the graph.

Each store records the version that made its graph. One recorded older, or not at all (every
store made before versions were recorded: which rules its graph predates is not known), is
rebuilt from its log as it is opened for use (`IngestService.bring_up_to_date`, from
ingest.service.open_store_for_use). One recorded newer was made by a later release, whose graph
this one does not understand and must not write into: it is refused before anything is written
to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from graph.errors import StoreBusy, StoreUnavailable

log = logging.getLogger(__name__)

# Raise this whenever a change makes the planner project the same events into a different graph:
# a property a node gains or loses (the unit of a shipment or a supplier lot), a node or
# relationship made otherwise, anything a rule later reads from the graph. Stores made before it
# are then rebuilt as they are opened, rather than answer from a graph the planner no longer makes.
# 1: units kept per supplier lot and shipment. 2: each supplier request records the media type
# each answer gave its documents. 3: a question asked after an answer is `requested` again.
# 4: each equipment's longest run is kept as runs are recorded (an equipment window reads by it).
# (The live marks of each scheme by site, which no rule reads, are not: a store that does not
# keep them as far as its log goes is counted as it is opened, graph.embedded_store's
# MARKS_COUNTED, so a release from before them may still open it.)
PROJECTION: Final = 4


def refuse_newer(where: str, found: int | None) -> None:
    """Raise StoreUnavailable if the store at `where` was projected by a later release."""
    if found is not None and found > PROJECTION:
        raise StoreUnavailable(
            f"{where} holds a graph made by a newer release of tracegraph (projection version "
            f"{found}; this release makes version {PROJECTION}): open it with that release or "
            "a later one; it is left as it is"
        )


def counted_if_free(count: Callable[[], None], where: str) -> None:
    """Count a store's marks afresh as it opens (`count`, under its write lock: Neo4j's a chunk
    at a time), unless another write holds the lock past its wait: a release from before the
    counts, which is what left them behind, may be in a long one. Its reads walk the marks
    meanwhile, as they do while the counts are behind, and a later open counts them."""
    try:
        count()
    except StoreBusy:
        log.warning(
            "%s: the marks of each scheme were not counted as the store opened (another write "
            "held it): a site's use of a scheme is read mark by mark until an open counts them",
            where,
        )
