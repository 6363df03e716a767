"""Ingest: idempotency, validation and the atomic write of a batch; rebuild from the log."""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Literal

from pydantic import ValidationError

from graph.clock import now_text
from graph.connect import open_store
from graph.ids import gid
from graph.projection import PROJECTION, refuse_newer
from graph.recall import Scope
from graph.store import (
    Changes,
    DocumentRow,
    GraphStore,
    NodeRow,
    StoredEvent,
    Submission,
    WriteTx,
)
from ingest.answers import answer_scopes, finds_anything
from ingest.canonical import TimeOutOfRange, payload_and_digest, same_content, stored_as
from ingest.errors import BatchConflict, BatchRejected, Problem, RebuildStopped
from ingest.models import Event, Mark
from ingest.parse import EVENT_ADAPTER, SentRulesRefused, parse_events, problems_of
from ingest.planner import Effects, Planner

Outcome = Literal["created", "duplicate"]
# A check of a batch that must see the store as the batch will be written to: run under the write
# lock, before anything else; it raises (BatchRejected) to refuse the batch.
Guard = Callable[[WriteTx, Sequence[Event]], None]
# What the new events of a batch name that their sender may not read, found under the write
# lock once duplicates and conflicts are told apart, as the planner looks for what they name:
# refusals naming each such node or logged event (their `names`; an event's with the code
# `unknown_event`), which the planner takes for ones that do not exist, so that the batch is
# refused as one naming nothing there.
Unseen = Callable[[WriteTx, Sequence[Event]], list[Problem]]


@dataclass(frozen=True, slots=True)
class EventResult:
    event_id: str
    status: Outcome


@dataclass(frozen=True, slots=True)
class IngestReport:
    results: list[EventResult]

    @property
    def created(self) -> int:
        return sum(1 for result in self.results if result.status == "created")

    @property
    def duplicates(self) -> int:
        return len(self.results) - self.created

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "duplicates": self.duplicates,
            "results": [{"event_id": r.event_id, "status": r.status} for r in self.results],
        }


# Who the log names as sender of what the service writes on its own account (no caller).
SYSTEM = "system"

log = logging.getLogger("tracegraph.store")


class IngestService:
    """Apply batches of events to a store: all of a batch, or nothing.

    The log keeps, beside each event, who sent it (`recorded_by`: the account the service acts
    for, never a field of the event) and when the store took it.
    """

    def __init__(self, store: GraphStore, recorded_by: str = SYSTEM) -> None:
        self._store = store
        self._recorded_by = recorded_by

    def sent_by(self, name: str) -> IngestService:
        """Return this service acting for `name`: the log names them as sender of its batches."""
        return IngestService(self._store, name)

    def ingest(
        self, raw_events: Sequence[Any], documents: Sequence[DocumentRow] = ()
    ) -> IngestReport:
        """Validate and write a batch of raw events; raise BatchRejected or BatchConflict.

        `documents` are the bytes of documents the batch's events attach; they are stored in
        the same transaction, and only if an event attaches them.
        """
        # Nothing but this call holds the parsed batch: it is let go inside each pause, so all
        # of it is freed before the collector resumes, which would otherwise walk it once more.
        with _collector_paused():
            events, held = self.read(raw_events)
            if not finds_anything(events):
                work = _batch_work(events, documents, self._recorded_by, held=held)
                report = self._store.write(work)
                del events, held, work
                return report
        # The scopes answers are checked against are traced with the collector running: the
        # pause holds it off for every thread, and a large case's trace takes a while.
        scopes = answer_scopes(self._store, events)
        with _collector_paused():
            work = _batch_work(events, documents, self._recorded_by, held=held, scopes=scopes)
            report = self._store.write(work)
            del events, held, work
        return report

    def read(self, raw_events: Sequence[Any]) -> tuple[list[Event], SentRulesRefused | None]:
        """Check a batch against the contract (`parse_events`); raise BatchRejected.

        Rules for events sent alone (ingest.times.SENT) came after events were logged, and an
        event logged before them is a duplicate when sent again unchanged. A batch those rules
        alone refuse, each event they refuse logged under its id, is returned as the log reads
        it, with the refusal it had (`held`): `ingest_events` raises that refusal unless each
        such event is logged with the content it has. Else the refusal stands as it was.
        """
        try:
            return parse_events(raw_events), None
        except SentRulesRefused as refused:
            ids = sorted({refused.events[i].event_id for i in refused.refused})
            if len(self._store.logged(ids)) < len(ids):
                raise
            return refused.events, refused

    def ingest_events(
        self,
        events: Sequence[Event],
        documents: Sequence[DocumentRow] = (),
        guard: Guard | None = None,
        held: SentRulesRefused | None = None,
        unseen: Unseen | None = None,
    ) -> IngestReport:
        """Write a batch already checked against the contract (`read`), as `ingest` does.

        For callers that read the events before they are written (api.access checks roles and
        sites), so a batch is not validated twice; `guard` checks it inside the transaction.
        `held` is the refusal `read` returned with the events, if it did; `unseen` finds what
        the batch may not read (`Unseen`).
        """
        scopes = answer_scopes(self._store, events)  # with the collector running, as `ingest`
        with _collector_paused():
            work = _batch_work(events, documents, self._recorded_by, guard, held, scopes, unseen)
            return self._store.write(work)

    def rebuild(self, chunk: int = 2000) -> int:
        """Rebuild the graph from the event log, and record that this release's projection made
        it (graph.projection); return the number of events replayed.

        Where the store can, the rebuild is one transaction: one that stops leaves the graph as
        it was. On Neo4j it commits chunk by chunk.
        """
        with self._store.atomically() as whole:
            return self._rebuild(chunk, whole)

    def bring_up_to_date(self, chunk: int = 2000) -> int | None:
        """Rebuild the graph if an older release made it (graph.projection), as `rebuild` does;
        return the number of events replayed, None if the graph was current.

        The version is recorded only once the graph is whole, so a rebuild that stops is run
        again the next time the store is opened.
        """
        if self._store.projection_version() == PROJECTION:
            return None
        # Looked at again once no rebuild runs, before this one marks the graph (on Neo4j that
        # refuses other writes): processes started together rebuild it once.
        with self._store.one_rebuild():
            found = self._store.projection_version()
            if found == PROJECTION:  # rebuilt by another process while this one waited
                return None
            refuse_newer(self._store.url, found)  # as the store was opened, by a later release
            logged = self._store.counts()["events"]
            made_by = "no projection version" if found is None else f"projection version {found}"
            log.warning(
                "the graph of %s was made by an older release (it records %s; this release "
                "makes version %d): rebuilding it from its %d logged events; other writes are "
                "held off until it is done",
                self._store.url,
                made_by,
                PROJECTION,
                logged,
            )
            started = time.monotonic()
            with self._store.atomically() as whole:
                replayed = self._rebuild(chunk, whole)
        log.warning(
            "rebuilt the graph of %s from %d live events in %.1f s (projection version %d)",
            self._store.url,
            replayed,
            time.monotonic() - started,
            PROJECTION,
        )
        return replayed

    def _rebuild(self, chunk: int, whole: bool) -> int:
        replayed = self._replay_log(chunk, whole)
        # Last, so a rebuild that stops leaves the version the graph had.
        self._store.stamp_projection(PROJECTION)
        return replayed

    def _replay_log(self, chunk: int, whole: bool) -> int:
        self._store.clear_projection()
        replayed = 0
        after = 0
        while True:
            stored = self._store.events(after, chunk)
            if not stored:
                return replayed
            after = stored[-1].seq
            live = [e for e in stored if e.voided_by is None and e.type != "void"]
            marks = [e for e in stored if e.voided_by is not None and e.type == "mark"]
            try:
                with _collector_paused():
                    self._store.write(partial(_replay, events=live, voided_marks=marks))
            except BatchRejected as error:
                # The log is untouched; the graph is as before, or rebuilt up to this chunk.
                first = error.problems[0]
                kept = (
                    "the graph is as it was before the rebuild"
                    if whole
                    else f"the graph holds the {replayed} events replayed before this chunk, "
                    "and other writes are refused until a rebuild runs to the end"
                )
                field = f", {first.field}" if first.field else ""
                raise RebuildStopped(
                    f"the rebuild stopped at logged event {first.event_id!r} (log position "
                    f"{first.index}{field}): {first.message}. The event log is unchanged; {kept}."
                ) from error
            replayed += len(live)


def open_store_for_use(
    url: str,
    *,
    user: str = "neo4j",
    password: str = "",
    database: str | None = None,
    finishing_copy: bool = False,
) -> GraphStore:
    """Open a store by URL as graph.connect.open_store does, its graph rebuilt from the log first
    if an older release made it (`IngestService.bring_up_to_date`); closed again if that fails."""
    store = open_store(
        url, user=user, password=password, database=database, finishing_copy=finishing_copy
    )
    try:
        IngestService(store).bring_up_to_date()
    except BaseException:
        store.close()
        raise
    return store


class _CollectorPause:
    """Hold the cyclic garbage collector off while batches are validated, planned and written.

    A batch of 1,000 events builds some hundred thousand objects that all live until it is
    written, so the collector ran again and again over them (and the whole heap) finding nothing:
    about a tenth of the CPU time of an ingest. Reference counting still frees everything at once;
    only cycles wait, until the last batch in progress (of any thread) ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._resume:
                    gc.enable()


_collector_paused = _CollectorPause()


def _batch_work(
    events: Sequence[Event],
    documents: Sequence[DocumentRow],
    sender: str,
    guard: Guard | None = None,
    held: SentRulesRefused | None = None,
    scopes: Mapping[str, Scope] | None = None,
    unseen: Unseen | None = None,
) -> Callable[[WriteTx], IngestReport]:
    """Return the transaction that writes a checked batch (`held`: see `IngestService.read`;
    `scopes`: ingest.answers; `unseen`: `Unseen`).

    The canonical payloads and digests are a function of the events alone, so they are made
    before the store's write lock is taken, and not again if Neo4j retries the transaction.
    """
    payloads: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for index, event in enumerate(events):
        try:
            payloads.append(payload_and_digest(event))
        except TimeOutOfRange as error:
            problems.append(Problem(index, event.event_id, error.field, "out_of_range", str(error)))
    if problems:
        # An event held that has no digest is no duplicate: it keeps the refusal it had.
        if held is not None and any(p.index in held.refused for p in problems):
            raise BatchRejected(held.problems)
        raise BatchRejected(problems)
    return partial(
        _apply_batch,
        events=events,
        payloads=payloads,
        sender=sender,
        documents=documents,
        guard=guard,
        held=held,
        scopes=scopes,
        unseen=unseen,
    )


def _apply_batch(
    tx: WriteTx,
    events: Sequence[Event],
    payloads: Sequence[tuple[str, str]],
    sender: str,
    documents: Sequence[DocumentRow] = (),
    guard: Guard | None = None,
    held: SentRulesRefused | None = None,
    scopes: Mapping[str, Scope] | None = None,
    unseen: Unseen | None = None,
) -> IngestReport:
    stored = tx.find_events(sorted({event.event_id for event in events}))
    # An event refused by a rule for sent events alone is written as a duplicate only if it is
    # logged with the content it has; else the batch keeps the refusal it had. Checked first.
    if held is not None and not all(
        stored_as(stored.get(events[i].event_id), events[i], payloads[i][1]) for i in held.refused
    ):
        raise BatchRejected(held.problems)
    if guard is not None:
        guard(tx, events)
    seen: dict[str, int] = {}  # event id -> index of its first event in the batch
    results: list[EventResult] = []
    fresh: list[tuple[int, Event, tuple[str, str]]] = []
    conflicts: list[Problem] = []
    for index, (event, (_, digest)) in enumerate(zip(events, payloads, strict=True)):
        event_id = event.event_id
        logged = stored.get(event_id)
        if logged is not None:
            same = stored_as(logged, event, digest)
        elif (first := seen.get(event_id)) is not None:
            # Two events of one batch under one id: one event if their digests or their
            # contents with the defaults spelled out agree (ingest.canonical).
            earlier = payloads[first][1]
            same = earlier == digest or same_content(events[first], earlier, event, digest)
        else:
            seen[event_id] = index
            fresh.append((index, event, payloads[index]))
            results.append(EventResult(event_id, "created"))
            continue
        if same:
            results.append(EventResult(event_id, "duplicate"))
        else:
            message = "this event_id was already used with a different payload"
            conflicts.append(Problem(index, event_id, "event_id", "conflict", message))
    if conflicts:
        raise BatchConflict(conflicts)
    if fresh:
        # Taken under the write lock: the log's times of recording follow its order.
        hidden = [] if unseen is None else _unseen(unseen, tx, fresh)
        planner = Planner(
            tx,
            documents,
            submission=Submission(sender, now_text()),
            scopes=scopes,
            hidden={n for p in hidden if p.code != "unknown_event" for n in p.names},
            hidden_events={n for p in hidden if p.code == "unknown_event" for n in p.names},
        )
        changes = planner.plan(fresh)
        if planner.problems:
            raise BatchRejected(planner.problems)
        if hidden:  # each is refused where the planner looks for it: never written past that
            raise BatchRejected(hidden)
        tx.apply(changes)
    return IngestReport(results)


def _unseen(
    unseen: Unseen, tx: WriteTx, fresh: Sequence[tuple[int, Event, tuple[str, str]]]
) -> list[Problem]:
    """What `unseen` finds of the batch's new events, each problem at its event's place in the
    batch (past the duplicates before it), not in the list of new ones."""
    found = unseen(tx, [event for _, event, _ in fresh])
    return [p if p.index is None else replace(p, index=fresh[p.index][0]) for p in found]


def _replay(
    tx: WriteTx, events: list[StoredEvent], voided_marks: Sequence[StoredEvent] = ()
) -> None:
    recorded = {e.event_id: Effects.from_json(e.effects) for e in events}
    planner = Planner(tx, recorded=recorded)
    parsed = [(e.seq, _logged_event(e), None) for e in events]
    changes = planner.plan(parsed)
    if planner.problems:
        # The log only holds events that were valid when written, in order: this is corruption.
        raise BatchRejected(planner.problems)
    first_struck: dict[str, int] = {}  # mark gid -> log position of its first live mark event
    for seq, event, _ in parsed:
        if type(event) is Mark:
            first_struck.setdefault(gid("mark", event.code), seq)
    _keep_voided_marks(tx, changes, voided_marks, first_struck)
    tx.apply(changes)


def _logged_event(stored: StoredEvent) -> Event:
    """Read a logged event back; one the contract refuses is named as the planner names one."""
    try:
        return EVENT_ADAPTER.validate_json(stored.payload)
    except ValidationError as error:  # logged by a version that let it through
        raise BatchRejected(problems_of(stored.seq, stored.event_id, error)) from error


def _keep_voided_marks(
    tx: WriteTx,
    changes: Changes,
    voided: Sequence[StoredEvent],
    first_struck: dict[str, int],
) -> None:
    """Keep the node of each voided mark, as a void leaves it: its code is never issued again.

    Live, a code's node is made by its first mark event and never changed after, voided or
    not: where a voided mark came first, its node (with the scheme and index it was read as)
    stands in for the one a later live mark of the code made in this replay.
    """
    made = {node.gid for node in changes.nodes}
    kept: dict[str, NodeRow] = {}
    for event in voided:
        code = str(json.loads(event.payload)["code"])
        mark = gid("mark", code)
        if mark in kept or (mark in made and first_struck[mark] < event.seq):
            continue
        props = {"code": code}
        read = Effects.from_json(event.effects).mark  # the scheme and index it was read as
        if read:
            props |= {"scheme": read[0], "index": read[1]}
        kept[mark] = NodeRow(mark, "mark", props=props)
    if not kept:
        return
    changes.nodes[:] = [node for node in changes.nodes if node.gid not in kept]
    there = tx.items(sorted(kept.keys() - made))
    changes.nodes.extend(row for mark, row in kept.items() if mark not in there)
