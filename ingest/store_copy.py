"""Copy a plant's graph store into an empty one: embedded to Neo4j, Neo4j to embedded, or a file
to a new file.

The log is the record and the graph a projection of it, so a copy carries what cannot be derived
(the log as stored, with who sent each event and when; attached documents; code schemes and lot
sequences), rebuilds the graph on the target from that log, and then checks that the two stores
agree: the same log, entry for entry, and the same nodes and relationships by kind.

A copy into Neo4j commits as it goes, so one that stops (a dropped connection, a full disk)
leaves part of the plant behind. Run again with `resume`, it continues: it checks that all the
target holds is the source's (the log a beginning of the source's, entry for entry), carries
what is missing, rebuilds the graph and checks the whole as a first copy does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from graph.errors import Conflict, DomainError
from graph.store import (
    Changes,
    DocumentRow,
    EventRow,
    GraphStore,
    LotSchemeRow,
    MarkSchemeRow,
    StoredEvent,
    WriteTx,
)
from ingest.service import IngestService

# Documents are written in groups of at most this many bytes: a few per transaction.
DOCUMENT_GROUP_BYTES = 16 * 1024 * 1024


class CopyMismatch(DomainError):
    """The target does not hold what the source does after the copy."""

    status_code = 500
    code = "copy_mismatch"


@dataclass(frozen=True, slots=True)
class PlantCopy:
    """What a copy carried, and the graph it rebuilt."""

    events: int
    replayed: int
    documents: int
    mark_schemes: int
    lot_schemes: int
    lot_sequences: int
    counts: dict[str, int]
    resumed_after: int = 0  # log entries an earlier copy had carried (resume only)


# What a store keeps beside its log and graph, as a copy carries and compares it.
SCHEMES: tuple[tuple[str, Callable[[GraphStore], Any]], ...] = (
    ("code schemes for secondary marks", lambda store: store.mark_schemes()),
    ("lot code schemes", lambda store: store.lot_schemes()),
)
KEPT: tuple[tuple[str, Callable[[GraphStore], Any]], ...] = (
    *SCHEMES,
    ("lot code sequences", lambda store: store.lot_sequences()),
    ("documents", lambda store: store.document_digests()),
)
NOT_A_COPY = (
    "the target is not a stopped copy of this store, or this store changed since that copy "
    "in more than what it appends (then empty the target and copy again)"
)


def graph_contents(store: GraphStore) -> list[str]:
    """Name what a store holds, for refusing to copy onto it; empty if it holds nothing."""
    held = []
    if store.events(0, 1):
        held.append("an event log")
    # The log's size is among the counts: a copy that stopped before its rebuild has no graph.
    if any(count for what, count in store.counts().items() if what != "events"):
        held.append("a graph")
    held.extend(what for what, read in KEPT if read(store))
    return held


def copy_plant(
    source: GraphStore,
    target: GraphStore,
    chunk: int = 2000,
    progress: Callable[[str], None] = lambda _: None,
    *,
    resume: bool = False,
    before_writing: Callable[[], None] = lambda: None,
) -> PlantCopy:
    """Copy `source` into the empty `target` and check the result; the source is only read.

    Raise Conflict if the target holds anything, and CopyMismatch if, after the copy, the two
    stores disagree (which includes the source taking events while it was copied). `progress`
    hears of each phase as it starts: a copy of a large plant takes minutes. With `resume`, the
    target may hold what a copy of this source that stopped had carried (Conflict otherwise),
    and the copy goes on from there. `before_writing` runs once the target is found fit for the
    copy, before anything is written to it: one that stops before then,
    refused or not, has changed nothing.
    """
    # A copy that stopped in its rebuild on Neo4j left the graph marked as being rebuilt, which
    # refuses writes: a resumed copy takes that mark over under the rebuild lease, held from its
    # check to the end of its rebuild, so it waits for (then is refused by) a rebuild or resumed
    # copy still running elsewhere instead of writing into the graph along with it.
    with target.taking_over_rebuild() if resume else nullcontext():
        if resume:
            progress("check of what the copy that stopped carried")
            already = _resume_point(source, target, chunk)
        else:
            held = graph_contents(target)
            if held:
                raise Conflict(f"the target store is not empty: it holds {', '.join(held)}")
            already = 0
        marks, lots = source.mark_schemes(), source.lot_schemes()
        sequences = source.lot_sequences()
        before_writing()
        # Configuration first: replaying a mark reads its scheme. Every save is an upsert, and a
        # sequence keeps the greater value: a resumed copy writes its checked schemes as they
        # are and moves its sequences up to lot codes the source issued since the copy stopped.
        progress("code schemes and lot sequences")
        target.write(partial(_save_configuration, marks=marks, lots=lots, sequences=sequences))
        progress("documents")
        documents = _copy_documents(source, target)
        progress("event log")
        events = already
        for page in _log_pages(source, chunk, after=already):
            rows = [_log_row(event) for event in page]
            target.write(partial(_append, changes=Changes(events=rows)))
            events += len(rows)
        progress(f"graph, rebuilt from the {events:,} events of the log")
        replayed = IngestService(target).rebuild(chunk)
    progress("check")
    counts = _check_agreement(source, target, chunk)
    return PlantCopy(
        events, replayed, documents, len(marks), len(lots), len(sequences), counts, already
    )


def _resume_point(source: GraphStore, target: GraphStore, chunk: int) -> int:
    """Return the log position up to which `target` holds the source's log; raise Conflict
    unless everything the target holds is the source's (its graph is rebuilt anyway)."""
    for what, read in SCHEMES:
        held = read(target)
        if held and held != read(source):
            raise Conflict(f"{NOT_A_COPY}: its {what} differ from this store's")
    # A sequence only moves on: this store may have issued more lot codes since.
    issued = source.lot_sequences()
    ahead = sorted(k for k, last in target.lot_sequences().items() if last > issued.get(k, -1))
    if ahead:
        raise Conflict(f"{NOT_A_COPY}: its lot code sequence {ahead[0]!r} is ahead of this store's")
    strange = set(target.document_digests()) - set(source.document_digests())
    if strange:
        raise Conflict(f"{NOT_A_COPY}: it holds documents this store does not ({min(strange)})")
    mine = _entries(source, chunk)
    position = 0
    for theirs in _entries(target, chunk):
        # An event the copy carried may be voided by one it had not carried yet.
        if _as_carried(next(mine, None)) != _as_carried(theirs):
            raise Conflict(
                f"{NOT_A_COPY}: its log differs from this store's at position {theirs.seq} "
                f"({theirs.event_id!r})"
            )
        position = theirs.seq
    return position


def _save_configuration(
    tx: WriteTx,
    marks: list[MarkSchemeRow],
    lots: list[LotSchemeRow],
    sequences: dict[str, int],
) -> None:
    for mark_scheme in marks:
        tx.save_mark_scheme(mark_scheme)
    for lot_scheme in lots:
        tx.save_lot_scheme(lot_scheme)
    for key, last in sequences.items():
        tx.save_lot_sequence(key, last)


def _append(tx: WriteTx, changes: Changes) -> None:
    tx.apply(changes)


def _copy_documents(source: GraphStore, target: GraphStore) -> int:
    """Copy the documents the target lacks; return how many the source holds."""
    group: list[DocumentRow] = []
    size = 0
    held = set(target.document_digests())
    digests = source.document_digests()
    for digest in digests:
        if digest in held:  # carried by a copy that stopped
            continue
        document = source.document(digest)
        if document is None:  # listed a moment ago: documents are never deleted
            raise CopyMismatch(f"document {digest} vanished from the source during the copy")
        if group and size + document.size > DOCUMENT_GROUP_BYTES:
            target.write(partial(_append, changes=Changes(documents=group)))
            group, size = [], 0
        group.append(document)
        size += document.size
    if group:
        target.write(partial(_append, changes=Changes(documents=group)))
    return len(digests)


def _log_pages(store: GraphStore, chunk: int, after: int = 0) -> Iterator[list[StoredEvent]]:
    while page := store.events(after, chunk):
        yield page
        after = page[-1].seq


def _entries(store: GraphStore, chunk: int) -> Iterator[StoredEvent]:
    for page in _log_pages(store, chunk):
        yield from page


def _as_carried(event: StoredEvent | None) -> StoredEvent | None:
    return None if event is None else replace(event, voided_by=None)


def _log_row(event: StoredEvent) -> EventRow:
    """The log entry as the source stored it: a void names the event it voids."""
    voids = json.loads(event.payload)["voids"] if event.type == "void" else None
    return EventRow(
        event.event_id,
        event.type,
        event.at,
        event.payload,
        event.digest,
        voids,
        event.effects,
        event.recorded_by,
        event.recorded_at,
    )


def _check_agreement(source: GraphStore, target: GraphStore, chunk: int) -> dict[str, int]:
    """Raise CopyMismatch naming the first difference; return the graph's counts."""
    copied = _log_pages(target, chunk)
    for page in _log_pages(source, chunk):
        there = next(copied, [])
        for index, event in enumerate(page):
            other = there[index] if index < len(there) else None
            if other != event:
                raise CopyMismatch(_log_difference(event, other))
    extra = next(copied, None)
    if extra:
        raise CopyMismatch(f"the copy's log has more entries, from {extra[0].event_id!r} on")
    counts = target.counts()
    compared = [("nodes and relationships by kind", source.counts(), counts)]
    compared.extend((what, read(source), read(target)) for what, read in KEPT)
    for what, mine, theirs in compared:
        if mine != theirs:
            raise CopyMismatch(f"the {what} differ after the copy: {mine} here, {theirs} there")
    return counts


def _log_difference(event: StoredEvent, other: StoredEvent | None) -> str:
    if other is None:
        return (
            f"the copy's log ends before event {event.event_id!r} (log position {event.seq}): "
            "did the source take events during the copy? Stop writers before copying"
        )
    if other.event_id == event.event_id:
        return f"event {event.event_id!r} differs between the source's log and the copy's"
    return (
        f"log position {event.seq} differs: {event.event_id!r} in the source, "
        f"{other.event_id!r} (position {other.seq}) in the copy"
    )
