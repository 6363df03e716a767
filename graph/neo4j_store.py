"""The Neo4j store: the official driver, managed transactions, parameterised Cypher constants.

Writes go in `UNWIND` batches, one statement per node label or relationship type. Relationship
types and labels cannot be parameters in Cypher, so those statements are spelled out per type
from our own fixed tables below; nothing from a request ever reaches the text of a query.
A whole trace is one query: a variable-length pattern whose distinct end nodes the planner
reaches by a pruning breadth-first expand, so each node is visited once even on DAGs with many
parallel paths; depths are counted here from the edges it returns. A trace limited in depth
expands one BFS level per round trip.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import groupby
from typing import Any, Final, LiteralString, TypeVar

import neo4j
from neo4j import ManagedTransaction

from graph import ids, neo4j_driver
from graph.clock import utc_text
from graph.errors import StoreBusy, StoreUnavailable
from graph.event_links import void_names
from graph.neo4j_driver import (
    WAITING,
    Step,
    bounded_write,
    connect,
    execute,
    session,
    waiting_at_most,
)
from graph.projection import PROJECTION, counted_if_free, refuse_newer
from graph.store import (
    EDGE_TYPES,
    MATERIAL,
    NODE_CONTEXT,
    ORPHAN_KINDS,
    CartStay,
    Changes,
    Direction,
    DocumentRow,
    EdgeRow,
    EdgeView,
    EventRow,
    ItemLink,
    ItemState,
    LotSchemeRow,
    MarkedItem,
    MarkSchemeRow,
    NodeRow,
    NodeView,
    PartnerLot,
    Reach,
    StatusRow,
    StepUse,
    StoredDocument,
    StoredEvent,
    Subgraph,
    bfs_depths,
    decimal_or_none,
    decimal_text,
    latest_statuses,
    node_view,
    partner_lots,
    plain,
    refused_unfinished,
    sorted_stays,
)

T = TypeVar("T")

log = logging.getLogger(__name__)

LABELS: Final[dict[str, LiteralString]] = {
    "lot": "Lot",
    "serial": "Serial",
    "supplier_lot": "SupplierLot",
    "step": "ProcessStep",
    "shipment": "Shipment",
    "company": "Company",
    "cart": "Cart",
    "equipment": "Equipment",
    "mark": "SecondaryMark",
    "part": "Part",
    "case": "RecallCase",
    "notice": "Notice",
    "supplier_request": "SupplierRequest",
}
CORE_PROPERTIES: Final = frozenset(
    {"gid", "kind", "part", "unit", "qty", "consumed", "status", "created_by", "created_at"}
)
PART_CORE: Final = CORE_PROPERTIES - {"part"}

SCHEMA: Final[tuple[LiteralString, ...]] = (
    "CREATE CONSTRAINT node_gid IF NOT EXISTS FOR (n:Node) REQUIRE n.gid IS UNIQUE",
    "CREATE CONSTRAINT event_id IF NOT EXISTS FOR (e:Event) REQUIRE e.event_id IS UNIQUE",
    "CREATE INDEX node_created_by IF NOT EXISTS FOR (n:Node) ON (n.created_by)",
    # A kind's nodes are a range of the gid index ("lot:..."); an index of kinds only cost
    # every node write. Dropped where an older version made it.
    "DROP INDEX node_kind IF EXISTS",
    "CREATE INDEX event_voids IF NOT EXISTS FOR (e:Event) ON (e.voids)",
    # The nodes each voided event named (graph.event_links.ends), one VoidName per node and
    # event, found by node: a void takes its links out of the graph, and an export of a trace
    # finds the voided events of its items here rather than read every void of the log.
    "CREATE INDEX void_name_gid IF NOT EXISTS FOR (n:VoidName) ON (n.gid)",
    # One VoidName per node and event however many clients write it at once: a MERGE seeks it
    # in this constraint's index under a lock, so the second waits for the first and finds it.
    # Only voids write VoidNames, so no other write pays for it.
    "CREATE CONSTRAINT void_name IF NOT EXISTS FOR (n:VoidName) REQUIRE (n.gid, n.event) IS UNIQUE",
    # Recall events carry a second label, so a case's history reads only them. Logs written
    # before that get it once; a marker keeps later opens from scanning the log again.
    """
OPTIONAL MATCH (m:Migration {name: 'recall_event_label'})
WITH m WHERE m IS NULL
CALL () { MATCH (e:Event) WHERE e.type STARTS WITH 'recall_' SET e:RecallEvent }
MERGE (:Migration {name: 'recall_event_label'})
""",
    "CREATE INDEX event_seq IF NOT EXISTS FOR (e:Event) ON (e.seq)",
    # The recall events in log order (RECALL_EVENTS_AFTER). event_seq holds them too, but the
    # planner does not know a RecallEvent to be an Event: without this, each page read every
    # recall event of the log. Only recall events are in it, so no other write pays.
    "CREATE INDEX recall_event_seq IF NOT EXISTS FOR (e:RecallEvent) ON (e.seq)",
    # A case's history reads its own recall events: by the case they name, and by the notice an
    # answer names (RECALL_EVENTS_OF). Only recall events are in them, so no other write pays.
    "CREATE INDEX recall_event_case IF NOT EXISTS FOR (e:RecallEvent) ON (e.case)",
    "CREATE INDEX recall_event_notice IF NOT EXISTS FOR (e:RecallEvent) ON (e.notice)",
    "CREATE INDEX in_cart_event IF NOT EXISTS FOR ()-[r:IN_CART]-() ON (r.event)",
    "CREATE INDEX in_cart_closed_by IF NOT EXISTS FOR ()-[r:IN_CART]-() ON (r.closed_by)",
    "CREATE INDEX on_at IF NOT EXISTS FOR ()-[r:ON]-() ON (r.at)",
    "CREATE CONSTRAINT counter_name IF NOT EXISTS FOR (c:Counter) REQUIRE c.name IS UNIQUE",
    # `made` tells this counter from one a wipe's new counter replaced (CHANGE_MARK).
    "MERGE (c:Counter {name: 'ingest'}) ON CREATE SET c.seq = 0, c.made = randomUUID()",
    "MERGE (:Counter {name: 'rebuild'})",  # see REBUILD_LEASE
    # Versions that took the write lock by counting writes left the count (see LOCK).
    "MATCH (c:Counter {name: 'ingest'}) WHERE c.writes IS NOT NULL REMOVE c.writes",
    "CREATE CONSTRAINT mark_scheme_name IF NOT EXISTS FOR (s:MarkScheme) REQUIRE s.name IS UNIQUE",
    "CREATE INDEX mark_scheme IF NOT EXISTS FOR (m:SecondaryMark) ON (m.scheme)",
    # A scheme's last index is the first of its codes in this index, read backwards
    # (LAST_MARK_INDEX), not the greatest of all its codes.
    "CREATE INDEX mark_scheme_index IF NOT EXISTS FOR (m:SecondaryMark) ON (m.scheme, m.index)",
    # The live marks of each scheme by the site of what they mark (MARKS_SEEN_BY).
    "CREATE CONSTRAINT mark_count_key IF NOT EXISTS "
    "FOR (c:MarkCount) REQUIRE (c.scheme, c.site) IS UNIQUE",
    "CREATE INDEX part_gtin IF NOT EXISTS FOR (p:Part) ON (p.gtin)",
    "CREATE CONSTRAINT document_sha256 IF NOT EXISTS FOR (d:Document) REQUIRE d.sha256 IS UNIQUE",
    "CREATE CONSTRAINT lot_scheme_name IF NOT EXISTS FOR (s:LotScheme) REQUIRE s.name IS UNIQUE",
    "CREATE CONSTRAINT lot_sequence_key IF NOT EXISTS FOR (q:LotSequence) REQUIRE q.key IS UNIQUE",
)

# The ingest statements seek by unique keys whatever the counts are, so their cached plans stay
# right as the graph grows: without this the server replans each one whenever its statistics
# have moved (every few batches while a plant is loaded), a fifth of its time in an ingest.
# A plan kept for good must not depend on the statistics it was made with, so each of these
# statements orders a seek in the index of every node it looks up (USING INDEX SEEK). Left to
# choose, from statistics sampled before a wipe, the planner read the open stays of carts by
# scanning the whole gid index once per cart, and kept doing so: 60-180 ms per batch, growing
# with the graph (tests/graph/test_neo4j_plans.py holds the rule).
# Closing cart stays went without until it too was pinned: a plan frozen while the plant was
# small filtered every stay of the batch's lots row by row, a hundred times slower, and
# replanning it as the counts moved cost some 60 ms each time. The void statements still go
# without: voids are rare, and their statements choose among indexes.
SETTLED: Final = "CYPHER replan=skip "

# Times a write runs whose deadlock the driver could not retry itself (see Neo4jStore.write).
DEADLOCK_ATTEMPTS: Final = 3
# Said of a write that waited LOCK_WAIT for the write lock (LOCK): graph.neo4j_driver.
BUSY: Final = (
    "another write has held the graph's write lock for {seconds:g} s (a rebuild, or a write "
    "that has not ended): nothing was written; try again shortly"
)

# Taking the counter's write lock first serialises ingest, as BEGIN IMMEDIATE does in SQLite:
# validation reads and the final write then see one consistent state.
# Neither this nor the log's append sets the counter from its own value: when the lock was
# taken by `SET c.writes = c.writes + 1` and the append then ran `SET c.seq = c.seq + n`, the
# server (Neo4j 5.26) reported every transaction queued on the counter deadlocked, and the
# driver retried each a second later. So the lock is taken by a constant SET, and the log's
# next position is computed here from the `c.seq` read under it
# (tests/graph/test_parallel_writes.py). Its last column is the count of marks under way
# (_Counting).
LOCK: Final = (
    "MATCH (c:Counter {name: 'ingest'}) USING INDEX SEEK c:Counter(name) "
    "SET c.locked = true RETURN c.seq, c.rebuilding, c.rebuild_started, c.marks_counted, "
    "[c.marks_run, c.marks_run_seq, c.marks_done, c.marks_at, c.marks_rebuilt, c.rebuilt]"
)
# A rebuild commits chunk by chunk: while it runs, the graph is partial and only the rebuild
# may write (its token on the counter). One that stopped leaves the token; the next takes over.
START_REBUILD: Final = (
    "MATCH (c:Counter {name: 'ingest'}) USING INDEX SEEK c:Counter(name) "
    "SET c.rebuilding = $token, c.rebuild_started = $started RETURN c.rebuilding"
)
# One rebuild runs at a time: each holds the lock of this counter, in a transaction of its own
# kept open while it runs, and the next waits for it (LOCK_WAIT at most, then StoreBusy): two
# processes that open a graph an older release made at once had each marked it theirs, one after
# the other, and the first stopped. The server ends the transaction of a client whose connection
# closed, so a rebuild whose process stopped leaves its mark (above) but not this lock: the next
# takes over. One whose host was cut off without closing it holds the lock until the server finds
# the connection dead: ELSEWHERE says how to find and end it.
REBUILD_LEASE: Final = "MERGE (c:Counter {name: 'rebuild'}) SET c.held = true"
# The lease's transaction says whose it is in its metadata, under this key (see ELSEWHERE).
REBUILDER: Final = "tracegraph_rebuild"
# The lease's transaction lasts as long as its rebuild, which on a plant takes minutes: the time
# limit a server sets on every transaction (db.transaction.timeout, often 30-120 s in
# production) ended it mid-rebuild, and another rebuild could take over. A client's own limit
# replaces the server's (Neo4j 5.3 on), and 0 is none (tests/graph/test_neo4j_lease_timeout.py).
LEASE_TIMEOUT: Final = 0
# Run on the lease before each of the rebuild's writes: it finds a lease the server ended (the
# rebuild stops there, before another that took over meets its writes), and keeps the lease's
# connection from idling out while the rebuild works on its other one. Run too on a connection
# of its own once the lease is found lost: a lease lost with its server is said as the server's
# loss (StoreUnavailable), not as a rebuild that may have been taken over.
PING: Final = "RETURN true"
# Said of a rebuild during which the server went away, instead of the write's "nothing was
# changed": the graph may be part rebuilt, and is marked so.
REBUILD_CUT_OFF: Final = (
    "Neo4j, which holds the graph, stopped answering during a rebuild: the rebuild stopped "
    "before it was done; run it again once Neo4j is back"
)
# A rebuild whose lease the server ended (its connection lost) may have been taken over: from
# then on none of its statements may touch the graph, its last (the stamp) least of all.
TAKEN_OVER: Final = (
    "this rebuild lost its hold on the graph (its connection to Neo4j was lost or ended), and "
    "another rebuild may have taken over: it stopped without recording the graph as whole; "
    "run the rebuild again"
)
ELSEWHERE: Final = (
    "the graph is being rebuilt from its log by another client; a rebuild waited {seconds:g} s "
    "for it to end: nothing was changed; try again once it is done. If that client's host is "
    "gone, Neo4j may not have noticed yet: SHOW TRANSACTIONS YIELD transactionId, metaData "
    "WHERE metaData.tracegraph_rebuild IS NOT NULL shows its rebuild (host, process, start), "
    "and TERMINATE TRANSACTIONS with that id ends it"
)
# A copy into the database (api.cli_copy) holds the lock of this node, in a transaction of its
# own kept open from its check that the database is empty to its end, as a rebuild holds its
# lease: two copies started at once had each found it empty and written into it. The server ends
# the transaction of a process that stopped (its connection closed), so a copy killed part way
# leaves nothing that keeps its --resume out. The node is made by the first copy, under the
# counters' uniqueness constraint, so a second's MERGE waits for the first's.
COPY_HOLD: Final = "MERGE (c:Counter {name: 'copy'}) SET c.held = true"
# The hold's transaction says whose it is in its metadata, under this key (see COPY_ELSEWHERE).
COPIER: Final = "tracegraph_copy"
# Another copy holds it for the whole of its copy: a few seconds of waiting tell that.
COPY_WAIT: Final = 2.0
# The holds of the copies, but that of the copy refused (`mark`), which the server lists too
# until it is closed.
COPIERS: Final = (
    "SHOW TRANSACTIONS YIELD metaData WHERE metaData[$key] IS NOT NULL "
    "AND metaData[$waiting] <> $mark RETURN metaData[$key]"
)
COPY_ELSEWHERE: Final = (
    "another copy-store is filling this database ({whose}): nothing was written; let it "
    "finish. If that copy's host is gone, Neo4j may not have noticed yet: SHOW TRANSACTIONS "
    "YIELD transactionId, metaData WHERE metaData.tracegraph_copy IS NOT NULL shows it, and "
    "TERMINATE TRANSACTIONS with that id ends it"
)
COPY_LOST: Final = (
    "this copy-store lost its hold on the database (its connection to Neo4j was lost or "
    "ended), and another copy may have written into it meanwhile: the copy was not marked "
    "finished"
)
# The rebuild's token stays as the last rebuild's: a rebuild may leave the last event and the
# projection version as they were, and CHANGE_MARK must change with it. A constant SET, as LOCK.
END_REBUILD: Final = (
    "MATCH (c:Counter {name: 'ingest'}) USING INDEX SEEK c:Counter(name) "
    "WHERE c.rebuilding = $token REMOVE c.rebuilding, c.rebuild_started SET c.rebuilt = $token"
)
# What the graph holds changes only by an event logged (the counter's seq, in the same
# transaction), a rebuild (its token, above; while one runs, or a copy fills the database, the
# graph is partial and no mark holds) or a wipe, which makes a new counter (`made`).
CHANGE_MARK: Final = (
    "OPTIONAL MATCH (c:Counter {name: 'ingest'}) "
    "RETURN c.seq, c.projection, c.rebuilt, c.made, "
    "c IS NOT NULL AND c.rebuilding IS NULL AND c.unfinished_copy_of IS NULL"
)
# The projection version (graph.projection) is kept on the counter too; a database new to us has
# no counter yet.
PROJECTION_VERSION: Final = "OPTIONAL MATCH (c:Counter {name: 'ingest'}) RETURN c.projection"
STAMP_PROJECTION: Final = (
    "MATCH (c:Counter {name: 'ingest'}) USING INDEX SEEK c:Counter(name) "
    "SET c.projection = $version"
)
# A copy into the database (api.cli_copy) marks the counter too, naming the store it copies,
# before its first write, and clears the mark once the copy is whole and checked. Opening reads
# the mark with the projection version, in one read.
OPENING: Final = (
    "OPTIONAL MATCH (c:Counter {name: 'ingest'}) RETURN c.projection, c.unfinished_copy_of"
)
MARK_COPY: Final = (
    "MATCH (c:Counter {name: 'ingest'}) USING INDEX SEEK c:Counter(name) "
    "SET c.unfinished_copy_of = $source"
)
ANY_EVENT: Final = "MATCH (e:Event) RETURN count(e) > 0"
REBUILD_MARK: Final = (
    "MATCH (c:Counter {name: 'ingest'}) USING INDEX SEEK c:Counter(name) "
    "RETURN c.rebuilding, c.rebuild_started"
)

EVENT_FIELDS: Final = """
RETURN e.event_id, e.seq, e.type, e.at, e.payload, e.digest, e.effects, v.event_id,
       e.recorded_by, e.recorded_at
"""
FIND_EVENTS: Final = (
    """
UNWIND $ids AS id
MATCH (e:Event {event_id: id}) USING INDEX SEEK e:Event(event_id)
OPTIONAL MATCH (v:Event {voids: id}) USING INDEX SEEK v:Event(voids)
"""
    + EVENT_FIELDS
)
VOIDED_EVENTS: Final = (
    """
MATCH (v:Event) WHERE v.voids IS NOT NULL
MATCH (e:Event {event_id: v.voids}) USING INDEX SEEK e:Event(event_id)
"""
    + EVENT_FIELDS
    + " ORDER BY e.seq"
)

VOIDED_NAMING: Final = (
    """
UNWIND $gids AS g
MATCH (n:VoidName {gid: g}) USING INDEX SEEK n:VoidName(gid)
WITH DISTINCT n.event AS id
MATCH (e:Event {event_id: id}) USING INDEX SEEK e:Event(event_id)
MATCH (v:Event {voids: id}) USING INDEX SEEK v:Event(voids)
"""
    + EVENT_FIELDS
    + " ORDER BY e.seq"
)
# MERGE on the void_name constraint: the names of voids logged before they were kept are
# written as a store is opened until one open marks them written (MIGRATIONS), so two
# clients opening it at once both write them.
CREATE_VOID_NAMES: Final = "UNWIND $rows AS r MERGE (:VoidName {gid: r[0], event: r[1]})"
# The migrations of logged events done so far, read once as a store is opened.
MIGRATIONS: Final = "MATCH (m:Migration) RETURN collect(m.name)"
# Those names are written so many per transaction: a log of very many voids written in one met
# the server's time limit on a transaction (db.transaction.timeout), and the store could not
# open. One stopped part way leaves no marker, and the next open writes the rest (MERGE).
VOID_NAMES_CHUNK: Final = 5000
# Marks a migration of logged events done (MIGRATIONS): void_names, recall_event_keys.
MARK_MIGRATED: Final = "MERGE (:Migration {name: $name})"
# Recall events logged before they kept their case and notice as properties (_event_row) are
# given them as a store is opened, a page of the log per transaction, read in log order
# (RECALL_EVENTS_AFTER): one stopped part way leaves no marker, and the next open sets them all
# again (each SET is the same), until one open marks them set.
# The pages are sought in recall_event_seq, which an upgrade's open has only just asked for: read
# while the server still builds it, each page would read every recall event of the log.
AWAIT_RECALL_SEQ: Final = "CALL db.awaitIndex('recall_event_seq')"
# Whether any recall event is logged: a log of none (every new database) has nothing to give
# its keys, and marks the migration done without waiting on the index.
ANY_RECALL_EVENT: Final = "MATCH (e:RecallEvent) RETURN true LIMIT 1"
SET_RECALL_KEYS: Final = """
UNWIND $rows AS r
MATCH (e:Event {event_id: r[0]}) USING INDEX SEEK e:Event(event_id)
SET e.case = r[1], e.notice = r[2]
"""
RECALL_KEYS_CHUNK: Final = 5000


def _logged_after(label: LiteralString) -> LiteralString:
    """Return the read of the events with `label` after a sequence number, in log order."""
    return (
        f"MATCH (e:{label}) WHERE e.seq > $after WITH e ORDER BY e.seq LIMIT $limit "
        "OPTIONAL MATCH (v:Event {voids: e.event_id})" + EVENT_FIELDS + " ORDER BY e.seq"
    )


EVENTS_AFTER: Final = _logged_after("Event")
RECALL_EVENTS_AFTER: Final = _logged_after("RecallEvent")
# A case's recall events, sought in the two indexes of recall events (a case's answers name
# only their notice); an event naming both the case and one of its notices is read once.
# While an upgrade's open has the server build those indexes, the server plans without the
# hints (and warns): it refuses them only where dbms.cypher.hints_error is set.
RECALL_EVENTS_OF: Final = (
    """
CALL () {
    MATCH (e:RecallEvent {case: $case}) USING INDEX SEEK e:RecallEvent(case) RETURN e
    UNION
    UNWIND $notices AS n
    MATCH (e:RecallEvent {notice: n}) USING INDEX SEEK e:RecallEvent(notice) RETURN e
}
OPTIONAL MATCH (v:Event {voids: e.event_id}) USING INDEX SEEK v:Event(voids)
"""
    + EVENT_FIELDS
    + " ORDER BY e.seq"
)
# Appending to the log and advancing the counter are one round trip; r[0] holds the labels.
# The counts of marks move on with the log only from where it was (MARKS_HOLD): $counted is
# $last, or null where they were behind it; so do those of a count under way ($run_seq).
CREATE_EVENTS: Final = """
MATCH (c:Counter {name: 'ingest'}) USING INDEX SEEK c:Counter(name)
SET c.seq = $last, c.marks_counted = $counted, c.marks_run_seq = $run_seq
WITH c UNWIND $rows AS r CREATE (e:$(r[0])) SET e = r[1]
"""
EVENT_LABELS: Final = ["Event"]
RECALL_EVENT_LABELS: Final = ["Event", "RecallEvent"]
ITEMS: Final = """
UNWIND $gids AS g
MATCH (n:Node {gid: g}) USING INDEX SEEK n:Node(gid)
RETURN n.gid, n.kind, n.part, n.unit, n.qty, n.consumed, n.status, n.created_by, n.created_at
"""
NODE: Final = "MATCH (n:Node {gid: $gid}) RETURN properties(n)"
NODES: Final = (
    "UNWIND $gids AS g MATCH (n:Node {gid: g}) USING INDEX SEEK n:Node(gid) RETURN properties(n)"
)
# Ids after another are read as a range of the gid index, [$low, $high), and `after` left out by
# equality (_id_range): Cypher compares a stored id with a parameter by UTF-16 code units, while
# the index, the embedded store and Python order ids by code point, so a filter `> $after`
# skipped the ids beyond U+FFFF that follow one of U+E000 to U+FFFF. A kind's range always has
# an end ($high is never null): its prefix ends in ":", whose successor is ";".
NODES_OF_KIND: Final = """
MATCH (n:Node) USING INDEX SEEK n:Node(gid)
WHERE n.gid >= $low AND n.gid < $high AND n.gid <> $after AND n.kind = $kind
RETURN properties(n) ORDER BY n.gid LIMIT $limit
"""
LINKS: Final = """
UNWIND $gids AS g
MATCH (:Node {gid: g})-[e]-(:Node)
WITH DISTINCT e
MATCH (s:Node)-[e]->(d:Node)
RETURN s.gid, d.gid, type(e), e.qty, e.share, e.part, e.at, e.event
"""
SERIALIZED_FROM: Final = """
UNWIND $gids AS g
MATCH (l:Node)-[:SERIALIZED_AS]->(s:Node {gid: g}) USING INDEX SEEK s:Node(gid)
RETURN properties(s), properties(l)
"""
OPEN_CARTS: Final = """
UNWIND $lots AS g
MATCH (l:Node {gid: g})-[r:IN_CART]->(c:Node) USING INDEX SEEK l:Node(gid)
WHERE r.until IS NULL
RETURN l.gid, c.gid
"""
DEPENDENTS: Final = """
MATCH (n:Node {created_by: $event})-[r]-()
WHERE r.event <> $event
RETURN DISTINCT r.event AS event
UNION
MATCH ()-[r:IN_CART {event: $event}]->()
WHERE r.closed_by IS NOT NULL
RETURN r.closed_by AS event
"""
LINKS_BY_OTHERS: Final = """
UNWIND $gids AS g
MATCH (n:Node {gid: g}) USING INDEX SEEK n:Node(gid)
MATCH (n)-[e]-()
WHERE e.event <> $event
RETURN DISTINCT n.gid, type(e), e.event
"""
# The events of LINKS_BY_OTHERS' links logged after $after and not voided: each is sought by its
# id and its place in the log tested before anything else of it is read.
LINKING_EVENTS_AFTER: Final = (
    """
UNWIND $gids AS g
MATCH (n:Node {gid: g}) USING INDEX SEEK n:Node(gid)
MATCH (n)-[l]-()
WITH DISTINCT l.event AS id
MATCH (e:Event {event_id: id}) USING INDEX SEEK e:Event(event_id)
WHERE e.seq > $after
OPTIONAL MATCH (v:Event {voids: id}) USING INDEX SEEK v:Event(voids)
WITH e, v WHERE v IS NULL
"""
    + EVENT_FIELDS
    + " ORDER BY e.seq"
)
REOPEN_CARTS: Final = """
MATCH ()-[r:IN_CART {closed_by: $event}]->()
SET r.until = null, r.closed_by = null
"""
DELETE_EDGES_OF_EVENT: Final = """
UNWIND $gids AS g
MATCH (n:Node {gid: g})-[r]-()
WHERE r.event = $event
DELETE r
"""
DELETE_STATUS_OF_EVENT: Final = """
MATCH (:Event {event_id: $event})-[r:SET_STATUS]->(n:Node)
DELETE r
RETURN n.gid
"""
DELETE_NODES_OF_EVENT: Final = "MATCH (n:Node {created_by: $event}) DETACH DELETE n"
# A supplier lot still received after a void, whose link to its company went with the voided
# receipt, is linked again by its first receipt left in the log, as a replay of the log links
# it: a receipt reported late comes after in the log, however early it happened.
RELINK_SUPPLIER_LOTS: Final = """
UNWIND $gids AS g
MATCH (s:Node {gid: g}) USING INDEX SEEK s:Node(gid)
WHERE s.kind = 'supplier_lot' AND NOT (s)-[:FROM]->()
MATCH (s)-[r:RECEIVED_AS]->()
MATCH (e:Event {event_id: r.event}) USING INDEX SEEK e:Event(event_id)
WITH s, r, e ORDER BY e.seq
WITH s, collect(r)[0] AS first
MATCH (c:Node {gid: $company + s.supplier}) USING INDEX SEEK c:Node(gid)
CREATE (s)-[:FROM {at: first.at, event: first.event}]->(c)
"""
# Context nodes made on first mention (store.ORPHAN_KINDS) that a void leaves with no edges.
DELETE_ORPHANS: Final = """
UNWIND $gids AS g
MATCH (n:Node {gid: g}) USING INDEX SEEK n:Node(gid)
WHERE n.kind IN $kinds AND n.created_by IS NULL AND NOT (n)--()
DELETE n
"""
MERGE_PROPS: Final = """
UNWIND $rows AS r
MATCH (n:Node {gid: r.gid}) USING INDEX SEEK n:Node(gid)
SET n += r.props
"""
SET_CONSUMED: Final = """
UNWIND $rows AS r
MATCH (n:Node {gid: r.gid}) USING INDEX SEEK n:Node(gid)
SET n.consumed = r.consumed
"""
# A stay is closed by its load event where the plan knows it: found through the index on the
# stays' events, not among every stay the lot has had in the cart (a batch loading and unloading
# one lot again and again took time quadratic in its size). Else the lot's one open stay there.
CLOSE_STAYS: Final = """
UNWIND $rows AS r
MATCH (l:Node)-[e:IN_CART {event: r.loaded}]->(c:Node)
USING INDEX e:IN_CART(event)
WHERE e.until IS NULL AND l.gid = r.lot AND c.gid = r.cart
SET e.until = r.at, e.closed_by = r.event
"""
CLOSE_CARTS: Final = """
UNWIND $rows AS r
MATCH (l:Node {gid: r.lot})-[e:IN_CART]->(c:Node {gid: r.cart})
USING INDEX SEEK l:Node(gid) USING INDEX SEEK c:Node(gid)
WHERE e.until IS NULL
SET e.until = r.at, e.closed_by = r.event
"""
STATUS_SETTERS: Final = """
UNWIND $gids AS g
MATCH (:Node {gid: g})<-[s:SET_STATUS]-(:Event)
RETURN DISTINCT s.event AS event ORDER BY event
"""
STATUSES_AT: Final = """
UNWIND $gids AS g
MATCH (n:Node {gid: g}) USING INDEX SEEK n:Node(gid)
MATCH (ev:Event)-[s:SET_STATUS]->(n)
WHERE s.at <= $at
WITH g, s, ev ORDER BY s.at DESC, ev.seq DESC
RETURN g, collect(s.status)[0]
"""
STATUS_ROWS: Final = """
UNWIND $gids AS g
MATCH (n:Node {gid: g}) USING INDEX SEEK n:Node(gid)
MATCH (ev:Event)-[s:SET_STATUS]->(n)
RETURN g, s.status, s.reason, s.at, s.event ORDER BY s.at, ev.seq
"""
ADD_STATUSES: Final = """
UNWIND $rows AS r
MATCH (ev:Event {event_id: r.event}) USING INDEX SEEK ev:Event(event_id)
MATCH (n:Node {gid: r.gid}) USING INDEX SEEK n:Node(gid)
CREATE (ev)-[:SET_STATUS {status: r.status, reason: r.reason, at: r.at, event: r.event}]->(n)
"""
RECOMPUTE_STATUS: Final = """
UNWIND $gids AS g
MATCH (n:Node {gid: g}) USING INDEX SEEK n:Node(gid)
OPTIONAL MATCH (ev:Event)-[s:SET_STATUS]->(n)
WITH n, s, ev ORDER BY s.at DESC, ev.seq DESC
WITH n, collect(s.status) AS history
SET n.status = history[0]
"""
# A link out of the node by its time; a link into it likewise, but a step's ON link by its
# step's (graph.store.GraphStore.linked_by): each EXISTS stops at the first it finds.
LINKED_BY: Final = """
MATCH (x:Node {gid: $gid})
RETURN EXISTS { MATCH (x)-[e]->(:Node) WHERE type(e) <> 'ON' AND e.at <= $at }
    OR EXISTS {
        MATCH (x)<-[e]-(s:Node)
        WHERE CASE type(e) WHEN 'ON' THEN s.created_at <= $at ELSE e.at <= $at END
    }
"""
# With a $site, only its steps and those of no site (what its operators see), tested on the
# steps found from the equipment, so that a LIMIT counts only them.
EQUIPMENT_STEPS: Final = """
MATCH (:Node {gid: $equipment})<-[on:ON]-(s:Node)
WHERE on.at <= $end AND on.until >= $start
  AND ($site IS NULL OR coalesce(s.site, $site) = $site)
RETURN properties(s) ORDER BY on.at, s.gid
"""
EDGE_FIELDS: Final = "RETURN s.gid, d.gid, type(e), e.qty, e.share, e.part, e.at, e.event"
STEP_INPUTS: Final = (
    """
UNWIND $steps AS g
MATCH (s:Node)-[e:CONSUMED_BY]->(d:Node {gid: g})
"""
    + EDGE_FIELDS
    + " ORDER BY d.gid, s.gid"
)
STEP_OUTPUTS: Final = (
    """
UNWIND $steps AS g
MATCH (s:Node {gid: g})-[e:PRODUCED]->(d:Node)
"""
    + EDGE_FIELDS
    + " ORDER BY s.gid, d.gid"
)
# The same reads stopped at $limit rows: a window asked with a limit reads one past it at most.
# (A read of all has no LIMIT: a LIMIT as large as any answer makes some plans allocate for it.)
LIMITED: Final[dict[LiteralString, LiteralString]] = {
    query: query + " LIMIT $limit" for query in (EQUIPMENT_STEPS, STEP_INPUTS, STEP_OUTPUTS)
}
# A node's context links of one type (NODE_CONTEXT), into it or out of it: each type spelled
# out, so the server expands that type's relationships of the node alone, not all of a hub's.
CONTEXT_LINKS: Final[dict[tuple[str, bool], LiteralString]] = {
    ("MARKS", True): """
UNWIND $gids AS g
MATCH (s:Node)-[e:MARKS]->(d:Node {gid: g}) USING INDEX SEEK d:Node(gid)
"""
    + EDGE_FIELDS,
    ("IN_CART", False): """
UNWIND $gids AS g
MATCH (s:Node {gid: g})-[e:IN_CART]->(d:Node) USING INDEX SEEK s:Node(gid)
"""
    + EDGE_FIELDS,
    ("ON", False): """
UNWIND $gids AS g
MATCH (s:Node {gid: g})-[e:ON]->(d:Node) USING INDEX SEEK s:Node(gid)
"""
    + EDGE_FIELDS,
}
# The same stopped at $limit rows: the rest are not read.
CONTEXT_LINKS_LIMITED: Final[dict[tuple[str, bool], LiteralString]] = {
    key: query + " LIMIT $limit" for key, query in CONTEXT_LINKS.items()
}
FLOW_PATTERN: Final = (
    "RECEIVED_AS|SPLIT_INTO|MERGED_INTO|MIXED_INTO|CONSUMED_BY|PRODUCED|SERIALIZED_AS"
    "|SHIPPED_IN|SHIPPED_TO"
)
EXPAND: Final[dict[Direction, LiteralString]] = {
    "down": """
UNWIND $frontier AS g
MATCH (s:Node {gid: g})-[e:"""
    + FLOW_PATTERN
    + """]->(d:Node)
WHERE e.at <= $horizon
"""
    + EDGE_FIELDS,
    "up": """
UNWIND $frontier AS g
MATCH (s:Node)-[e:"""
    + FLOW_PATTERN
    + """]->(d:Node {gid: g})
WHERE e.at <= $horizon
"""
    + EDGE_FIELDS,
}
REACH: Final[dict[Direction, LiteralString]] = {
    "down": """
MATCH (:Node {gid: $root}) ((:Node)-[r:"""
    + FLOW_PATTERN
    + """ WHERE r.at <= $horizon]->(:Node))* (n:Node)
WITH DISTINCT n
RETURN properties(n), COLLECT {
    MATCH (n)-[e:"""
    + FLOW_PATTERN
    + """]->(d:Node) WHERE e.at <= $horizon
    RETURN [n.gid, d.gid, type(e), e.qty, e.share, e.part, e.at, e.event]
}
""",
    "up": """
MATCH (:Node {gid: $root}) ((:Node)<-[r:"""
    + FLOW_PATTERN
    + """ WHERE r.at <= $horizon]-(:Node))* (n:Node)
WITH DISTINCT n
RETURN properties(n), COLLECT {
    MATCH (s:Node)-[e:"""
    + FLOW_PATTERN
    + """]->(n) WHERE e.at <= $horizon
    RETURN [s.gid, n.gid, type(e), e.qty, e.share, e.part, e.at, e.event]
}
""",
}


def _from_each_root(query: LiteralString) -> LiteralString:
    """Return `query`, a walk from the node $root, as a walk from each of the nodes $roots."""
    start = "{gid: $root}"
    if query.count(start) != 1:  # else the walk would start from each node, or from $root alone
        raise ValueError(f"a walk from $root names {start} once: {query!r}")
    return "UNWIND $roots AS root\n" + query.replace(start, "{gid: root}")


# The same walk from each root of $roots in one read: what several roots share is returned
# once, but walked once per root (callers bound the roots of a read: trace.ROOTS_PER_READ).
REACH_FROM_ALL: Final[dict[Direction, LiteralString]] = {
    direction: _from_each_root(query) for direction, query in REACH.items()
}
COUNT_KINDS: Final = "MATCH (n:Node) RETURN n.kind, count(*)"
COUNT_EDGES: Final = "MATCH (:Node)-[r]->(:Node) RETURN count(r)"
COUNT_EVENTS: Final = "MATCH (e:Event) RETURN count(e)"
CLEAR_NODES: Final = "MATCH (n:Node) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
# A rebuild clears the graph a part at a time, each under the write lock as its chunks are
# written, so one that lost its hold on the graph deletes nothing another has rebuilt.
CLEAR_SOME_NODES: Final = "MATCH (n:Node) WITH n LIMIT 10000 DETACH DELETE n RETURN count(n)"
CLEAR_EVENTS: Final = "MATCH (n:Event) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
CLEAR_COUNTER: Final = "MATCH (c:Counter) DELETE c"
CLEAR_VOID_NAMES: Final = "MATCH (n:VoidName) DELETE n"
CLEAR_MARK_COUNTS: Final = "MATCH (c:MarkCount) DELETE c"

# -- secondary marks
# -- part registry
PARTS_WITH_GTINS: Final = (
    "UNWIND $gtins AS g MATCH (p:Part {gtin: g}) USING INDEX SEEK p:Part(gtin) RETURN g, p.gid"
)
PART_FOR_GTIN: Final = "MATCH (p:Part {gtin: $gtin}) RETURN properties(p)"

# -- lot code schemes
LOT_SCHEMES: Final = "MATCH (s:LotScheme) RETURN s.name, s.definition ORDER BY s.name"
SAVE_LOT_SCHEME: Final = "MERGE (s:LotScheme {name: $name}) SET s.definition = $definition"
# MERGE on a uniquely constrained key locks it, so concurrent callers advance it one at a time.
NEXT_LOT_SEQUENCE: Final = """
MERGE (q:LotSequence {key: $key})
ON CREATE SET q.last = 1
ON MATCH SET q.last = q.last + 1
RETURN q.last
"""
LOT_SEQUENCES: Final = "MATCH (q:LotSequence) RETURN q.key, q.last ORDER BY q.key"
SAVE_LOT_SEQUENCE: Final = """
MERGE (q:LotSequence {key: $key})
SET q.last = CASE WHEN q.last >= $last THEN q.last ELSE $last END
"""
PARTNER_LOTS: Final = """
MATCH (:Node {gid: $company})<-[:FROM]-(s:SupplierLot)
WHERE $before IS NULL
   OR s.gid IN $keep
   OR NOT EXISTS { (s)-[:RECEIVED_AS]->() }
   OR EXISTS { MATCH (s)-[a:RECEIVED_AS]->() WHERE a.at < $before }
OPTIONAL MATCH (s)-[r:RECEIVED_AS]->(l:Node)
RETURN properties(s), r.at, l.gid
"""
SHIPPED_TO: Final = """
UNWIND $companies AS gid
MATCH (c:Node {gid: gid}) USING INDEX SEEK c:Node(gid)
WHERE EXISTS { (c)<-[:SHIPPED_TO]-() }
RETURN c.gid
"""
CLEAR_LOT_SCHEMES: Final = "MATCH (s:LotScheme) DELETE s"
CLEAR_LOT_SEQUENCES: Final = "MATCH (q:LotSequence) DELETE q"

MARK_SCHEMES: Final = "MATCH (s:MarkScheme) RETURN s.name, s.definition ORDER BY s.name"
SAVE_MARK_SCHEME: Final = "MERGE (s:MarkScheme {name: $name}) SET s.definition = $definition"
CLEAR_MARK_SCHEMES: Final = "MATCH (s:MarkScheme) DELETE s"

# -- documents: not :Node, so a rebuild (which clears nodes) keeps them
DOCUMENTS: Final = """
UNWIND $digests AS digest
MATCH (d:Document {sha256: digest}) USING INDEX SEEK d:Document(sha256)
RETURN d.sha256, d.media_type, d.size
"""
DOCUMENT: Final = (
    "MATCH (d:Document {sha256: $digest}) RETURN d.sha256, d.media_type, d.size, d.content"
)
# The bytes are kept once: a later answer attaching them again, under its own name and media
# type (kept in its event), leaves the node as first stored.
SAVE_DOCUMENTS: Final = """
UNWIND $rows AS r
MERGE (d:Document {sha256: r.sha256})
ON CREATE SET d.media_type = r.media_type, d.size = r.size, d.content = r.content
"""
CLEAR_DOCUMENTS: Final = "MATCH (d:Document) DELETE d"
DOCUMENT_DIGESTS: Final = "MATCH (d:Document) RETURN d.sha256 ORDER BY d.sha256"
MARK_USAGE: Final = """
MATCH (m:SecondaryMark) WHERE m.scheme = $scheme
RETURN count(m), max(m.index)
"""
# Ordered as mark_scheme_index is, both its keys, so the server reads the scheme's codes there
# backwards and stops at the first (ordered by the index alone, it sorted every code of the
# scheme for the greatest). Sought in that index by name: left to choose, with some statistics
# the planner sought the scheme's index (mark_scheme), which orders by scheme alone, and sorted
# every code of the scheme again.
LAST_MARK_INDEX: Final = """
MATCH (m:SecondaryMark) USING INDEX SEEK m:SecondaryMark(scheme, index)
WHERE m.scheme = $scheme AND m.index IS NOT NULL
RETURN m.index ORDER BY m.scheme DESC, m.index DESC LIMIT 1
"""
# The live marks (MARKS relationships) of each scheme, by the site of the item they mark ('' for
# none), one MarkCount each: a site's operators are shown the codes on what they may read, two
# counts rather than a walk of every mark of the scheme. Kept as marks are made and voided
# (COUNT_MARKS); not nodes of the graph, so cleared with it apart (CLEAR_MARK_COUNTS) and made
# again by its replay. A code marks one item at a time (the planner's mark_taken, on replay
# too), so each live MARKS relationship is one code.
MARKS_SEEN_BY: Final = """
MATCH (c:MarkCount) WHERE c.scheme = $scheme AND c.site IN [$site, '']
RETURN sum(c.live)
"""
# The counts hold for the log up to the counter's marks_counted, which a write of this release
# moves on with the log only from where the log was (CREATE_EVENTS). A release from before the
# counts may still open the graph and record marks and voids, counting none: the mark then stays
# behind the log, a site's count is walked from the marks (MARKS_WALKED_BY), and the next open
# counts them all again (Neo4jStore._count_marks), as it does for a graph from before the
# counts, which has no mark.
MARKS_HOLD: Final = "OPTIONAL MATCH (c:Counter {name: 'ingest'}) RETURN c.marks_counted = c.seq"
MARKS_WALKED_BY: Final = """
MATCH (m:SecondaryMark)-[:MARKS]->(n:Node) WHERE m.scheme = $scheme
  AND coalesce(n.site, $site) = $site
RETURN count(m)
"""
# Each scheme of $schemes, its count (as MARK_USAGE, MARKS_SEEN_BY or MARKS_WALKED_BY) and its
# last index (as LAST_MARK_INDEX; the plant's is the count's maximum).
MARKS_USED: Final = """
UNWIND $schemes AS scheme
CALL (scheme) {
    MATCH (m:SecondaryMark) WHERE m.scheme = scheme
    RETURN count(m) AS used, max(m.index) AS last
}
RETURN scheme, used, last
"""
_LAST_OF_EACH: Final = """
CALL (scheme) {
    OPTIONAL MATCH (m:SecondaryMark) USING INDEX SEEK m:SecondaryMark(scheme, index)
    WHERE m.scheme = scheme AND m.index IS NOT NULL
    RETURN m.index AS last ORDER BY m.scheme DESC, m.index DESC LIMIT 1
}
RETURN scheme, used, last
"""
MARKS_USED_SEEN_BY: Final = (
    """
UNWIND $schemes AS scheme
CALL (scheme) {
    MATCH (c:MarkCount) WHERE c.scheme = scheme AND c.site IN [$site, '']
    RETURN sum(c.live) AS used
}
"""
    + _LAST_OF_EACH
)
MARKS_USED_WALKED_BY: Final = (
    """
UNWIND $schemes AS scheme
CALL (scheme) {
    MATCH (m:SecondaryMark)-[:MARKS]->(n:Node) WHERE m.scheme = scheme
      AND coalesce(n.site, $site) = $site
    RETURN count(m) AS used
}
"""
    + _LAST_OF_EACH
)
# Counted afresh, the marks are read a chunk of one scheme's at a time, in the order of their
# index (every code read by a scheme has one: fixed-width digits, so ordered alike by the index
# and by Cypher), each chunk under the write lock apart (_count_marks). The count under way is
# kept on the counter: its token (marks_run), how far in the log it holds (marks_run_seq, moved
# on by writes as marks_counted is), the schemes counted whole (marks_done) and the scheme and
# last index counted of the one under way (marks_at). The counts hold for the marks it has
# counted, which writes between chunks count as they go (COUNT_MARKS), and for no others; the
# last chunk marks them held for the log. A count cut off leaves marks_counted null, so the next
# open counts again, from the start. Schemes are taken in the order of their index, the least
# not done first, so one a write brings in before the one under way is counted too.
# A rebuild does not move the log on, and one by a release before chunks counts every mark it
# replays, those not counted yet too: the count is given up while a rebuild holds the graph or
# once one has ended since it began (the last rebuild's token, kept as marks_rebuilt, '' none).
MARKS_CHUNK: Final = 10_000
START_COUNT: Final = """
MATCH (c:Counter {name: 'ingest'}) USING INDEX SEEK c:Counter(name)
SET c.marks_counted = null, c.marks_run = $token, c.marks_run_seq = c.seq, c.marks_done = [],
    c.marks_at = $at, c.marks_rebuilt = coalesce(c.rebuilt, '')
"""
NEXT_SCHEME: Final = """
MATCH (m:SecondaryMark) USING INDEX SEEK m:SecondaryMark(scheme)
WHERE m.scheme > $after
RETURN m.scheme ORDER BY m.scheme LIMIT 1
"""
# The number of marks of the chunk after $after, and the last index of it.
MARKS_CHUNK_END: Final = """
MATCH (m:SecondaryMark) USING INDEX SEEK m:SecondaryMark(scheme, index)
WHERE m.scheme = $scheme AND m.index > $after
WITH m ORDER BY m.scheme, m.index LIMIT $chunk
RETURN count(m), max(m.index)
"""
COUNT_MARKS_CHUNK: Final = """
MATCH (m:SecondaryMark) USING INDEX SEEK m:SecondaryMark(scheme, index)
WHERE m.scheme = $scheme AND m.index > $after AND m.index <= $last
MATCH (m)-[:MARKS]->(n:Node)
WITH coalesce(n.site, '') AS site, count(*) AS live
MERGE (c:MarkCount {scheme: $scheme, site: site})
ON CREATE SET c.live = live
ON MATCH SET c.live = c.live + live
"""
COUNTED_TO: Final = """
MATCH (c:Counter {name: 'ingest'}) USING INDEX SEEK c:Counter(name)
SET c.marks_done = $done, c.marks_at = $at
"""
# The count done, or left to another (a release from before chunks counted them all over it).
MARKS_COUNTED_AT: Final = """
MATCH (c:Counter {name: 'ingest'}) USING INDEX SEEK c:Counter(name)
SET c.marks_counted = $seq, c.marks_run = null, c.marks_run_seq = null, c.marks_done = null,
    c.marks_at = null, c.marks_rebuilt = null
"""
# Add $sign (1 made, -1 voided) to the counts of the MARKS relationships $rows ([[mark gid, item
# gid], ...]), by the scheme the code's node was read by (a code of no scheme counts for none).
# While a count is under way ($done not null), only of the marks it has counted: those of the
# schemes $done, and of the one $at[0] up to index $at[1]; it counts the others as it comes to
# them. MERGE on the counts' key constraint: under the ingest lock, one write at a time.
COUNT_MARKS: Final = """
UNWIND $rows AS r
MATCH (m:Node {gid: r[0]}) USING INDEX SEEK m:Node(gid)
MATCH (n:Node {gid: r[1]}) USING INDEX SEEK n:Node(gid)
WITH m.scheme AS scheme, m.index AS index, coalesce(n.site, '') AS site
WHERE scheme IS NOT NULL
  AND ($done IS NULL OR scheme IN $done OR (scheme = $at[0] AND index <= $at[1]))
WITH scheme, site, count(*) * $sign AS made
MERGE (c:MarkCount {scheme: scheme, site: site})
ON CREATE SET c.live = made
ON MATCH SET c.live = c.live + made
"""
# The MARKS relationships an event made, found as DELETE_EDGES_OF_EVENT finds them.
MARKS_OF_EVENT: Final = """
UNWIND $gids AS g
MATCH (:Node {gid: g})-[r:MARKS]-()
WHERE r.event = $event
WITH DISTINCT r
MATCH (m:Node)-[r]->(n:Node)
RETURN m.gid, n.gid
"""
MARKS_IN_USE: Final = """
UNWIND $marks AS g
MATCH (m:Node {gid: g})-[e:MARKS]->(n:Node) USING INDEX SEEK m:Node(gid)
RETURN m.gid, n.gid, e.event
"""
ITEM_MARKS: Final = """
UNWIND $items AS g
MATCH (m:Node)-[e:MARKS]->(n:Node {gid: g}) USING INDEX SEEK n:Node(gid)
RETURN n.gid, m.gid, m.scheme, e.event
"""
MARKED_ITEMS: Final = """
UNWIND $marks AS g
MATCH (m:Node {gid: g})-[:MARKS]->(n:Node)
RETURN m.code, m.scheme, properties(n) ORDER BY n.gid
"""
ITEMS_MATCHING: Final = """
MATCH (n:Node) USING INDEX SEEK n:Node(gid)
WHERE n.gid >= $low AND n.gid < $high AND n.gid <> $after AND size(n.gid) = $length
  AND n.gid =~ $regex
RETURN properties(n) ORDER BY n.gid LIMIT $limit
"""
# A range with no end (_id_range's high is None): to the end of the index.
ITEMS_MATCHING_ON: Final = """
MATCH (n:Node) USING INDEX SEEK n:Node(gid)
WHERE n.gid >= $low AND n.gid <> $after AND size(n.gid) = $length AND n.gid =~ $regex
RETURN properties(n) ORDER BY n.gid LIMIT $limit
"""
# -- carts
CART_STAYS: Final = """
UNWIND $gids AS g
MATCH (:Node {gid: g})-[e:IN_CART]-(:Node)
WITH DISTINCT e
MATCH (l:Node)-[e]->(c:Node)
RETURN l.gid, c.gid, e.compartment, e.qty, e.at, e.until, e.event, e.closed_by
"""
OPEN_STAYS: Final = """
UNWIND $carts AS g
MATCH (l:Node)-[e:IN_CART]->(c:Node {gid: g}) USING INDEX SEEK c:Node(gid)
WHERE e.until IS NULL
RETURN l.gid, c.gid, e.compartment, e.qty, e.at, e.until, e.event, e.closed_by
"""
ITEM_LINKS: Final = """
UNWIND $gids AS g
MATCH (i:Node {gid: g})-[e]-(o:Node)
RETURN g, startNode(e) = i, type(e), e.until, e.compartment, properties(o)
"""


# One statement per batch creates every node and every edge: labels and relationship types come
# from our own tables (LABELS, RELATIONSHIP_TYPES) as dynamic labels and types, so a batch costs
# one round trip and one plan whatever it touches. Rows name an edge's ends by position: first
# the nodes the statement has just made ($nodes, held in hand), then the existing ones ($found),
# sought once each through the unique index. Four ends in five are new nodes, which would
# otherwise each cost a locking index seek and a look through the transaction's own changes.
# Wrapping each node in a list keeps the positions of missing ones, which collect would drop.
# Edge rows are lists (see _edge_row): no key is sent per row, and creating the relationship with
# its properties, instead of SET e = map afterwards, spares the plan an Eager step. A null in the
# map leaves that property out.
CREATE_GRAPH: Final = (
    "UNWIND range(0, size($nodes) - 1) AS i WITH i, $nodes[i] AS r "
    "CREATE (n:Node:$(r[0])) SET n = r[1] "
    "WITH i, n ORDER BY i WITH collect([n]) AS made "
    "CALL () { UNWIND range(0, size($found) - 1) AS j "
    "OPTIONAL MATCH (o:Node {gid: $found[j]}) USING INDEX SEEK o:Node(gid) "
    "WITH j, o ORDER BY j RETURN collect([o]) AS found } "
    "WITH made + found AS nodes "
    "UNWIND $edges AS r WITH nodes[r[0]][0] AS s, nodes[r[1]][0] AS d, r "
    "WHERE s IS NOT NULL AND d IS NOT NULL "
    "CREATE (s)-[:$(r[2]) {at: r[3], event: r[4], qty: r[5], share: r[6], part: r[7], "
    "until: r[8], compartment: r[9]}]->(d)"
)
RELATIONSHIP_TYPES: Final = {kind: kind for kind in EDGE_TYPES}
END_OF_TIME: Final = "9999-12-31T23:59:59.999999Z"
NO_LIMIT: Final = 1 << 30


class _Listed(list[Any]):
    """A list parameter whose repr is its length; the driver sends it as any list.

    The driver formats each statement it sends for its debug log before the logger checks the
    level, repr of every parameter included: a batch's rows cost some 12 us of CPU per ingested
    event in text nobody reads, and at debug level they would fill the log with item data.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"[{len(self)} items]"


def _id_range(prefix: str, after: str) -> dict[str, Any]:
    """The range of the gid index that holds the ids beginning with `prefix` after `after`
    (NODES_OF_KIND): `low` is `after` or `prefix`, whichever comes later, and `after` itself is
    left out by the query.

    The index compares its bounds with each other as Cypher compares strings (by UTF-16 code
    units): `high` is `prefix` with its last character's successor, which every id beginning
    with `prefix` precedes in either order. A last character whose successor is no character or
    is ordered otherwise in UTF-16 (U+D7FF, U+FFFF, U+10FFFF) is dropped first: the range is
    wider, and what matches is still read by id (ITEMS_MATCHING's pattern holds the prefix).
    Where none is left (an empty prefix, or one of those characters alone), `high` is None: the
    range has no end. No string bounds it, as U+10FFFF did: one of U+E000 to U+FFFF is above it
    in UTF-16, so a range from such a `low` (a page after such an id) was taken as empty. Such a
    range is read by a statement with no upper bound (ITEMS_MATCHING_ON); a kind's prefix
    ("kind:") always has an end (NODES_OF_KIND).
    """
    head = prefix.rstrip("\ud7ff\uffff\U0010ffff")
    high = head[:-1] + chr(ord(head[-1]) + 1) if head else None
    return {"low": max(prefix, after), "high": high, "after": after}


def _node(props: dict[str, Any]) -> NodeView:
    if "gid" not in props:  # deleted while this read ran, by a rebuild's clear or a void
        raise StoreBusy("the graph changed under this read (a rebuild or a void): try again")
    kind = props["kind"]
    # A part's "part" is its key (Part: part), a field of its own as on the embedded store,
    # not the part of an item, which comes after an item's fields.
    core = CORE_PROPERTIES if kind != "part" else PART_CORE
    extra = {key: value for key, value in props.items() if key not in core}
    return node_view(
        props["gid"],
        kind,
        part=props.get("part") if kind != "part" else None,
        unit=props.get("unit"),
        qty=decimal_or_none(props.get("qty")),
        consumed=decimal_or_none(props.get("consumed")),
        status=props.get("status"),
        created_at=props.get("created_at"),
        created_by=props.get("created_by"),
        props=extra,
    )


def _edge(row: Sequence[Any]) -> EdgeView:
    return EdgeView(row[0], row[1], row[2], decimal_or_none(row[3]), row[4], row[5], row[6], row[7])


def _stay(row: Sequence[Any]) -> CartStay:
    return CartStay(row[0], row[1], row[2], decimal_or_none(row[3]), row[4], row[5], row[6], row[7])


def _whole_subgraph(
    tx: ManagedTransaction, root: str, direction: Direction, horizon: str
) -> Subgraph | None:
    """Read everything a trace reaches in one query; number the levels from its edges."""
    rows = tx.run(REACH[direction], root=root, horizon=horizon).values()
    if not rows:
        return None
    reach = _reach(rows)
    depths = bfs_depths(root, direction, reach.edges)
    return Subgraph(reach.nodes[root], depths, reach.nodes, reach.edges)


def _reach(rows: list[list[Any]]) -> Reach:
    """The nodes of REACH's rows and the edges read with each."""
    nodes: dict[str, NodeView] = {}
    edges: list[EdgeView] = []
    for props, found in rows:
        view = _node(props)
        nodes[view.gid] = view
        edges.extend(_edge(row) for row in found)
    return Reach(nodes, edges)


def _node_row(node: NodeRow, consumed: dict[str, Decimal], status: str | None) -> dict[str, Any]:
    """Return a new node's properties, with its status and (taken out of `consumed`) what the
    batch consumed of it."""
    row: dict[str, Any] = dict(node.props)
    row.update(gid=node.gid, kind=node.kind)
    if node.kind in MATERIAL:
        given = consumed.pop(node.gid, None)
        row["consumed"] = "0" if given is None else decimal_text(given)
    for key, value in (
        ("part", node.part),
        ("unit", node.unit),
        ("qty", decimal_text(node.qty)),
        ("status", status),
        ("created_by", node.created_by),
        ("created_at", node.created_at),
    ):
        if value is not None:
            row[key] = value
    return row


def _event_row(event: EventRow, seq: int) -> list[Any]:
    """Return an event's labels and properties, as CREATE_EVENTS takes them."""
    props: dict[str, Any] = {
        "event_id": event.event_id,
        "seq": seq,
        "type": event.type,
        "at": event.at,
        "payload": event.payload,
        "digest": event.digest,
        "effects": event.effects,
    }
    for key, value in (
        ("voids", event.voids),
        ("recorded_by", event.recorded_by),
        ("recorded_at", event.recorded_at),
    ):
        if value is not None:
            props[key] = value
    if not event.type.startswith("recall_"):
        return [EVENT_LABELS, props]
    props.update(_recall_keys(event.payload))
    return [RECALL_EVENT_LABELS, props]


def _recall_keys(payload: str) -> dict[str, str]:
    """Return the case and the notice a recall event's payload names, as the properties a
    case's history seeks it by (RECALL_EVENTS_OF); a value other than text names none, as the
    embedded store's comparison of the payload's value with the case's id finds none."""
    body = json.loads(payload)
    return {key: body[key] for key in ("case", "notice") if isinstance(body.get(key), str)}


def _edge_row(edge: EdgeRow, position: dict[str, int]) -> list[Any]:
    """An edge as the list CREATE_GRAPH reads: its ends' places, type and properties."""
    qty = edge.qty
    return [
        position.setdefault(edge.src, len(position)),
        position.setdefault(edge.dst, len(position)),
        RELATIONSHIP_TYPES[edge.type],
        edge.at,
        edge.event,
        None if qty is None else plain(qty),
        edge.share,
        edge.part,
        edge.until,
        edge.compartment,
    ]


@dataclass(frozen=True)
class _Counting:
    """A count of the marks afresh under way, as the counter keeps it (MARKS_CHUNK), read under
    the write lock (LOCK's last column)."""

    run: str | None  # its token; None: no count under way
    seq: int | None  # how far in the log its counts hold
    done: list[str]  # the schemes counted whole
    at: list[str] | None  # [the scheme under way, the last index counted of it ('' none)]
    rebuilt: bool  # a rebuild has ended since it began

    @classmethod
    def of(cls, column: list[Any]) -> _Counting:
        run, seq, done, at, rebuilt_then, rebuilt = column
        return cls(run, seq, list(done or []), at, rebuilt_then != (rebuilt or ""))

    def scope(self, counted: bool) -> dict[str, Any]:
        """COUNT_MARKS's $done and $at: the marks a write counts (None: all of them)."""
        if self.run is None or counted:  # counted whole over it, by a release before chunks
            return {"done": None, "at": None}
        return {"done": self.done, "at": self.at}


class Neo4jTx:
    """One managed write transaction (the ingest lock is held)."""

    def __init__(
        self, tx: ManagedTransaction, seq: int, counted: bool, counting: _Counting
    ) -> None:
        self._tx = tx
        self._seq = seq
        self._counted = counted  # the counts of marks hold for the log (MARKS_HOLD)
        self._counting = counting.scope(counted)
        # A count under way holds for the log (as far as it has counted), moved on as _counted.
        self._run_holds = counting.run is not None and counting.seq == seq

    def _run(self, query: LiteralString, **params: Any) -> neo4j.Result:
        listed = {key: _Listed(v) if type(v) is list else v for key, v in params.items()}
        return self._tx.run(SETTLED + query, listed)

    def _count(self, marks: list[list[Any]], sign: int) -> neo4j.Result:
        """Count the MARKS relationships `marks` made (`sign` 1) or voided (-1)."""
        return self._run(COUNT_MARKS, rows=marks, sign=sign, **self._counting)

    def find_events(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        rows = self._run(FIND_EVENTS, ids=_Listed(event_ids)).values()
        return {row[0]: StoredEvent(*row) for row in rows}

    def items(self, gids: Sequence[str]) -> dict[str, ItemState]:
        found: dict[str, ItemState] = {}
        for gid, kind, part, unit, qty, consumed, status, created_by, created_at in self._run(
            ITEMS, gids=_Listed(gids)
        ).values():
            found[gid] = ItemState(
                gid,
                kind,
                part,
                unit,
                decimal_or_none(qty),
                decimal_or_none(consumed) or Decimal(0),
                status,
                created_by,
                created_at,
            )
        return found

    def node_props(self, gids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = self._run(NODES, gids=_Listed(gids)).values()
        return {row[0]["gid"]: dict(row[0]) for row in rows}

    def open_carts(self, lots: Sequence[str]) -> dict[str, list[str]]:
        carts: dict[str, list[str]] = {}
        for lot, cart in self._run(OPEN_CARTS, lots=_Listed(lots)).values():
            carts.setdefault(lot, []).append(cart)
        return carts

    def links_by_others(self, gids: Sequence[str], event_id: str) -> list[tuple[str, str, str]]:
        rows = self._tx.run(LINKS_BY_OTHERS, gids=_Listed(gids), event=event_id).values()
        return [(gid, kind, event) for gid, kind, event in rows]

    def linking_events_after(self, gids: Sequence[str], seq: int) -> list[StoredEvent]:
        rows = self._tx.run(LINKING_EVENTS_AFTER, gids=_Listed(gids), after=seq).values()
        return [StoredEvent(*row) for row in rows]

    def dependents(self, event_id: str) -> list[str]:
        # Voids are rare and their statements choose among indexes: planned afresh as usual.
        return sorted(row[0] for row in self._tx.run(DEPENDENTS, event=event_id).values())

    def status_rows(self, gids: Sequence[str]) -> list[StatusRow]:
        # Read by holds (and the service's hold under its lock), not by every batch: planned
        # afresh.
        rows = self._tx.run(STATUS_ROWS, gids=_Listed(gids)).values()
        return [StatusRow(*row) for row in rows]

    def apply(self, changes: Changes) -> None:
        status_gids: set[str] = set()
        # The writes are sent without waiting for each to finish: the server runs one while the
        # rows of the next are built here (Bolt answers them in order, in this transaction), and
        # every answer is read at the end, so a failure still fails the batch.
        sent: list[neo4j.Result] = []
        for void in changes.voided:
            # Status first: the edge sweep below would also take the SET_STATUS relationship.
            cleared = self._tx.run(DELETE_STATUS_OF_EVENT, event=void.event_id).values()
            status_gids.update(row[0] for row in cleared)
            self._tx.run(REOPEN_CARTS, event=void.event_id).consume()
            marks = self._tx.run(
                MARKS_OF_EVENT, gids=_Listed(void.gids), event=void.event_id
            ).values()
            if marks:
                self._count(marks, -1).consume()
            self._tx.run(
                DELETE_EDGES_OF_EVENT, gids=_Listed(void.gids), event=void.event_id
            ).consume()
            self._tx.run(DELETE_NODES_OF_EVENT, event=void.event_id).consume()
        if changes.events:
            logged = [
                _event_row(e, self._seq + offset + 1) for offset, e in enumerate(changes.events)
            ]
            self._seq += len(logged)
            counted = self._seq if self._counted else None
            run_seq = self._seq if self._run_holds else None
            sent.append(
                self._run(
                    CREATE_EVENTS, rows=logged, last=self._seq, counted=counted, run_seq=run_seq
                )
            )
            # Voids however they come (planned, or carried by a copy of the log); voids are rare.
            voided = [e.voids for e in changes.events if e.voids is not None]
            if voided:
                sent.append(self._tx.run(CREATE_VOID_NAMES, rows=_Listed(self._void_names(voided))))
        # A node the batch creates is created with what the batch consumes of it and the status
        # it leaves it in: all its history is in the batch, so nothing is read back to update it.
        consumed = dict(changes.consumed)
        made = {node.gid for node in changes.nodes}
        if changes.nodes or changes.edges:
            status = latest_statuses(changes.statuses)
            nodes = [
                [LABELS[n.kind], _node_row(n, consumed, status.get(n.gid))] for n in changes.nodes
            ]
            position = {node.gid: place for place, node in enumerate(changes.nodes)}
            edges = [_edge_row(e, position) for e in changes.edges]
            found = list(position)[len(nodes) :]
            sent.append(self._run(CREATE_GRAPH, nodes=nodes, found=found, edges=edges))
            marks = [[e.src, e.dst] for e in changes.edges if e.type == "MARKS"]
            if marks:
                sent.append(self._count(marks, 1))
        # In order, a run of closes of each kind at a time.
        for by_load, run in groupby(changes.cart_closes, key=lambda c: c.loaded is not None):
            closes = [
                {"lot": c.lot, "cart": c.cart, "at": c.at, "event": c.event, "loaded": c.loaded}
                for c in run
            ]
            sent.append(self._run(CLOSE_STAYS if by_load else CLOSE_CARTS, rows=closes))
        if changes.statuses:
            statuses = [
                {"gid": s.gid, "status": s.status, "reason": s.reason, "at": s.at, "event": s.event}
                for s in changes.statuses
            ]
            sent.append(self._run(ADD_STATUSES, rows=statuses))
            status_gids.update(s.gid for s in changes.statuses if s.gid not in made)
        if consumed:
            given = [
                {"gid": gid, "consumed": decimal_text(value)} for gid, value in consumed.items()
            ]
            sent.append(self._run(SET_CONSUMED, rows=given))
        if changes.props:
            rows: list[dict[str, Any]] = [
                {"gid": gid, "props": props} for gid, props in changes.props.items()
            ]
            sent.append(self._run(MERGE_PROPS, rows=rows))
        if status_gids:
            sent.append(self._run(RECOMPUTE_STATUS, gids=sorted(status_gids)))
        if changes.documents:
            rows = [
                {
                    "sha256": d.sha256,
                    "media_type": d.media_type,
                    "size": d.size,
                    "content": d.content,
                }
                for d in changes.documents
            ]
            sent.append(self._run(SAVE_DOCUMENTS, rows=rows))
        # Last: what a void left unlinked may be linked again by this same batch's events.
        for void in changes.voided:
            sent.append(
                self._tx.run(
                    RELINK_SUPPLIER_LOTS, gids=_Listed(void.gids), company=ids.gid("company", "")
                )
            )
            sent.append(
                self._tx.run(DELETE_ORPHANS, gids=_Listed(void.gids), kinds=sorted(ORPHAN_KINDS))
            )
        for result in sent:
            result.consume()

    def _void_names(self, voided: list[str]) -> list[tuple[str, str]]:
        """Return (node, event) for each node the events `voided` named, read from the log
        (a copy may carry an event and its void in one batch: the log holds both by now)."""
        return void_names(self.find_events(voided).values())

    # -- secondary marks

    def mark_schemes(self) -> list[MarkSchemeRow]:
        return [MarkSchemeRow(*row) for row in self._run(MARK_SCHEMES).values()]

    def save_mark_scheme(self, row: MarkSchemeRow) -> None:
        self._tx.run(SAVE_MARK_SCHEME, name=row.name, definition=row.definition).consume()

    def marks_in_use(self, marks: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        found: dict[str, list[tuple[str, str]]] = {}
        for mark, item, event in self._run(MARKS_IN_USE, marks=_Listed(marks)).values():
            found.setdefault(mark, []).append((item, event))
        return found

    def item_marks(self, items: Sequence[str]) -> dict[str, list[tuple[str, str | None, str]]]:
        """Return, per item gid, the (mark gid, scheme, event id) of each live mark on it."""
        found: dict[str, list[tuple[str, str | None, str]]] = {}
        for item, mark, scheme, event in self._run(ITEM_MARKS, items=_Listed(items)).values():
            found.setdefault(item, []).append((mark, scheme, event))
        return found

    # -- carts

    # -- part registry

    def parts_with_gtins(self, gtins: Sequence[str]) -> dict[str, str]:
        rows = self._run(PARTS_WITH_GTINS, gtins=_Listed(gtins)).values()
        return {gtin: part for gtin, part in rows}

    # -- lot code schemes

    def lot_schemes(self) -> list[LotSchemeRow]:
        return [LotSchemeRow(*row) for row in self._tx.run(LOT_SCHEMES).values()]

    def save_lot_scheme(self, row: LotSchemeRow) -> None:
        self._tx.run(SAVE_LOT_SCHEME, name=row.name, definition=row.definition).consume()

    def save_lot_sequence(self, key: str, last: int) -> None:
        self._tx.run(SAVE_LOT_SEQUENCE, key=key, last=last).consume()

    def next_lot_sequence(self, key: str) -> int:
        found: int = self._tx.run(NEXT_LOT_SEQUENCE, key=key).single(strict=True)[0]
        return found

    def open_stays(self, carts: Sequence[str]) -> list[CartStay]:
        rows = self._run(OPEN_STAYS, carts=_Listed(carts)).values()
        return sorted_stays([_stay(row) for row in rows])

    def cart_stays(self, gids: Sequence[str]) -> list[CartStay]:
        rows = self._tx.run(CART_STAYS, gids=_Listed(gids)).values()
        return sorted_stays([_stay(row) for row in rows])

    # -- documents

    def documents(self, digests: Sequence[str]) -> dict[str, StoredDocument]:
        rows = self._run(DOCUMENTS, digests=_Listed(digests)).values()
        return {row[0]: StoredDocument(row[0], row[1], int(row[2])) for row in rows}


def _next_scheme(tx: ManagedTransaction, done: Sequence[str]) -> str | None:
    """The first scheme of the marks, in the order of their index, not among `done`."""
    after = ""
    while (found := tx.run(NEXT_SCHEME, after=after).single()) is not None:
        if found[0] not in done:
            return str(found[0])
        after = found[0]
    return None


def _refuse_in_rebuild(rebuilding: str | None, started: str, ours: str | None) -> None:
    """Raise StoreBusy if the graph is being rebuilt by another than `ours` (the token of a
    rebuild this thread runs), or if `ours` no longer marks it."""
    if ours is not None and rebuilding != ours:
        raise StoreBusy(TAKEN_OVER)
    if rebuilding is not None and rebuilding != ours:
        raise StoreBusy(
            f"the graph is being rebuilt from its log (since {started}); writes wait until it is "
            "whole. "
            "If that rebuild stopped, run it again"
        )


def _whose() -> str:
    """Who holds a lease, as its transaction's metadata says: host, process and start."""
    return f"{socket.gethostname()} process {os.getpid()}, since {utc_text(datetime.now(UTC))}"


class Neo4jStore:
    """The production store: a Neo4j server (or cluster) reached over Bolt."""

    def __init__(
        self,
        url: str,
        *,
        user: str = "neo4j",
        password: str = "",
        database: str | None = None,
        finishing_copy: bool = False,
    ) -> None:
        """Connect to the database at `url`; raise StoreUnavailable for one a copy left
        unfinished, unless `finishing_copy` (the copy that finishes it opens it)."""
        self.url = url
        self._database = database
        self._local = threading.local()  # the token of a rebuild this thread runs
        self._driver = connect(url, user, password)
        try:
            # Before the schema is brought up to date: a later release's graph, or the part of
            # a plant a copy left, is left as it is.
            found, source = self._execute(OPENING, "open")[0]
            refuse_newer(url, found)
            if source is not None and not finishing_copy:
                raise refused_unfinished(url, source)
            self._ensure_schema(found)
        except BaseException:
            self._driver.close()
            raise

    def _ensure_schema(self, found: int | None) -> None:
        """Bring the schema up to date; `found` is the projection version the graph had (no
        statement of the schema sets it)."""
        for statement in SCHEMA:
            self._execute(statement, "open")
        done = set(self._execute(MIGRATIONS, "open")[0][0])
        if "void_names" not in done:
            # Voids logged before their names were kept: read as the store is opened, until
            # an open has written them all.
            rows = void_names(self.voided_events())
            for start in range(0, len(rows), VOID_NAMES_CHUNK):
                chunk = rows[start : start + VOID_NAMES_CHUNK]
                self._execute(CREATE_VOID_NAMES, "open", rows=chunk)
            # Only once the last chunk is written.
            self._execute(MARK_MIGRATED, "open", name="void_names")
        if "recall_event_keys" not in done:
            self._keep_recall_keys()
        if not self._execute(MARKS_HOLD, "open")[0][0]:
            counted_if_free(self._count_marks, self.url)
        # A graph of no events is the same in every version: a new store is current.
        if found != PROJECTION and not self._execute(ANY_EVENT, "open")[0][0]:
            self._execute(STAMP_PROJECTION, "open", version=PROJECTION)

    def _count_marks(self) -> None:
        """Count the live marks of each scheme afresh (MARKS_HOLD), a chunk at a time, each in a
        transaction under the write lock (MARKS_CHUNK): no count outlasts the server's time
        limit on a transaction, nor holds writes off longer than a chunk. Two processes opening
        the graph at once count once: the later takes the count over, the earlier stops."""
        token = uuid.uuid4().hex

        def start(tx: ManagedTransaction, locked: neo4j.Record) -> bool:
            seq, rebuilding, _, counted, _ = locked
            if counted == seq:  # counted by another process while this one waited
                return False
            if rebuilding is not None:  # the graph is partial: counted at a later open
                return False
            tx.run(CLEAR_MARK_COUNTS).consume()
            first = _next_scheme(tx, [])
            if first is None:
                tx.run(MARKS_COUNTED_AT, seq=seq).consume()
                return False
            tx.run(START_COUNT, token=token, at=[first, ""]).consume()
            return True

        if self._locked(SETTLED + LOCK, start):
            while self._count_some(token):
                pass

    def _count_some(self, token: str) -> bool:
        """Count the next chunk of the count `token` (_count_marks); return whether there is
        more to count."""

        def then(tx: ManagedTransaction, locked: neo4j.Record) -> bool:
            seq, rebuilding, _, counted, column = locked
            counting = _Counting.of(column)
            if counting.run != token:  # another process took the count over
                return False
            if counted == seq:  # a release from before chunks counted them all over it
                tx.run(MARKS_COUNTED_AT, seq=seq).consume()
                return False
            if counting.seq != seq or counting.at is None:
                log.warning(
                    "%s: a release that does not keep a count of marks under way wrote while "
                    "they were counted: they are counted again at the next open",
                    self.url,
                )
                return False
            if rebuilding is not None or counting.rebuilt:
                log.warning(
                    "%s: the graph was rebuilt while its marks were counted: they are counted "
                    "again at the next open",
                    self.url,
                )
                return False
            scheme, after = counting.at
            found = tx.run(MARKS_CHUNK_END, scheme=scheme, after=after, chunk=MARKS_CHUNK)
            size, last = found.single(strict=True)
            if size:
                tx.run(COUNT_MARKS_CHUNK, scheme=scheme, after=after, last=last).consume()
            if size == MARKS_CHUNK:
                tx.run(COUNTED_TO, done=counting.done, at=[scheme, last]).consume()
                return True
            done = [*counting.done, scheme]
            following = _next_scheme(tx, done)
            if following is None:
                tx.run(MARKS_COUNTED_AT, seq=seq).consume()
                return False
            tx.run(COUNTED_TO, done=done, at=[following, ""]).consume()
            return True

        return self._locked(SETTLED + LOCK, then)

    def _keep_recall_keys(self) -> None:
        """Give the recall events logged before they kept them their case and notice (after
        the RecallEvent label's migration, in SCHEMA), a page at a time."""
        if not self._execute(ANY_RECALL_EVENT, "open"):
            self._execute(MARK_MIGRATED, "open", name="recall_event_keys")
            return
        self._execute(AWAIT_RECALL_SEQ, "open")
        after = 0
        while page := self.recall_events(after, RECALL_KEYS_CHUNK):
            after = page[-1].seq
            rows = []
            for event in page:
                keys = _recall_keys(event.payload)
                rows.append([event.event_id, keys.get("case"), keys.get("notice")])
            self._execute(SET_RECALL_KEYS, "open", rows=rows)
        # Only once the last page is written.
        self._execute(MARK_MIGRATED, "open", name="recall_event_keys")

    def _session(self, *, reading: bool = False) -> AbstractContextManager[neo4j.Session]:
        return session(self._driver, self._database, "the graph", reading=reading)

    def _execute(
        self, statement: LiteralString, step: Step, /, **params: Any
    ) -> list[neo4j.Record]:
        return execute(self._driver, self._database, "the graph", statement, step, **params)

    def write(self, work: Callable[[Neo4jTx], T]) -> T:
        ours = getattr(self._local, "rebuild", None)

        def then(tx: ManagedTransaction, locked: neo4j.Record) -> T:
            seq, rebuilding, started, counted, counting = locked
            _refuse_in_rebuild(rebuilding, started, ours)
            return work(Neo4jTx(tx, seq, counted == seq, _Counting.of(counting)))

        # The driver retries a transaction the server found deadlocked, but when the deadlock
        # shows again on another result as it rolls back, this escapes its retry loop (a failed
        # result). Nothing was committed: the whole unit runs again (bounded_write).
        return self._locked(SETTLED + LOCK, then, attempts=DEADLOCK_ATTEMPTS)

    def _locked(
        self,
        lock: LiteralString,
        then: Callable[[ManagedTransaction, neo4j.Record], T],
        attempts: int = 1,
        **params: Any,
    ) -> T:
        """Run `lock`, a statement that takes the counter's lock, then `then` with its record,
        in one write transaction (`attempts` as bounded_write's); StoreBusy if the lock is not
        had within LOCK_WAIT, or if this thread's rebuild lost its lease (StoreUnavailable if
        with the server)."""
        lease: neo4j.Transaction | None = getattr(self._local, "lease", None)

        def unit(tx: ManagedTransaction, waiting: AbstractContextManager[None]) -> T:
            if lease is not None:  # each attempt: a rebuild taken over meanwhile writes no more
                self._still_held(lease, TAKEN_OVER)
            with waiting:
                locked = tx.run(lock, **params).single(strict=True)
            return then(tx, locked)

        return bounded_write(self._driver, self._database, "the graph", BUSY, unit, attempts)

    def _read(self, work: Callable[[ManagedTransaction], T]) -> T:
        with self._session(reading=True) as opened:
            return opened.execute_read(work)

    def node(self, gid: str) -> NodeView | None:
        def run(tx: ManagedTransaction) -> NodeView | None:
            record = tx.run(NODE, gid=gid).single()
            return None if record is None else _node(record[0])

        return self._read(run)

    def nodes(self, gids: Sequence[str]) -> dict[str, NodeView]:
        def run(tx: ManagedTransaction) -> dict[str, NodeView]:
            rows = tx.run(NODES, gids=_Listed(gids)).values()
            return {view.gid: view for view in (_node(row[0]) for row in rows)}

        return self._read(run)

    def status_rows(self, gids: Sequence[str]) -> list[StatusRow]:
        def run(tx: ManagedTransaction) -> list[StatusRow]:
            return [StatusRow(*row) for row in tx.run(STATUS_ROWS, gids=_Listed(gids)).values()]

        return self._read(run)

    def links(self, gids: Sequence[str]) -> list[EdgeView]:
        def run(tx: ManagedTransaction) -> list[EdgeView]:
            return [_edge(row) for row in tx.run(LINKS, gids=_Listed(gids)).values()]

        return self._read(run)

    def context_links(
        self, gids: Sequence[str], type_: str, *, into: bool, limit: int | None = None
    ) -> list[EdgeView]:
        if (type_, into) not in NODE_CONTEXT:
            raise ValueError(f"not a node's context links read alone: {type_} (into: {into})")
        unique = list(dict.fromkeys(gids))

        def run(tx: ManagedTransaction) -> list[EdgeView]:
            if limit is None:
                rows = tx.run(CONTEXT_LINKS[type_, into], gids=_Listed(unique)).values()
            else:
                query = CONTEXT_LINKS_LIMITED[type_, into]
                rows = tx.run(query, gids=_Listed(unique), limit=limit).values()
            return [_edge(row) for row in rows]

        return self._read(run)

    def serialized_from(self, serials: Sequence[str]) -> list[tuple[NodeView, NodeView]]:
        def run(tx: ManagedTransaction) -> list[tuple[NodeView, NodeView]]:
            # UNWIND keeps repeats: each serial is asked once, as the embedded store's IN does.
            rows = tx.run(SERIALIZED_FROM, gids=_Listed(dict.fromkeys(serials))).values()
            return [(_node(serial), _node(lot)) for serial, lot in rows]

        return self._read(run)

    def nodes_of_kind(self, kind: str, limit: int, after: str | None = None) -> list[NodeView]:
        def run(tx: ManagedTransaction) -> list[NodeView]:
            bounds = _id_range(ids.gid(kind, ""), after or "")
            assert bounds["high"] is not None  # "kind:" has a successor (NODES_OF_KIND)
            rows = tx.run(NODES_OF_KIND, kind=kind, limit=limit, **bounds).values()
            return [_node(row[0]) for row in rows]

        return self._read(run)

    def subgraph(
        self, root: str, direction: Direction, max_depth: int | None, as_of: str | None
    ) -> Subgraph | None:
        horizon = as_of or END_OF_TIME
        if max_depth is None:
            return self._read(lambda tx: _whole_subgraph(tx, root, direction, horizon))

        def run(tx: ManagedTransaction) -> Subgraph | None:
            record = tx.run(NODE, gid=root).single()
            if record is None:
                return None
            depths = {root: 0}
            edges: list[EdgeView] = []
            frontier = [root]
            depth = 0
            while frontier:
                rows = tx.run(
                    EXPAND[direction], frontier=_Listed(frontier), horizon=horizon
                ).values()
                reached: list[str] = []
                for row in rows:
                    edge = _edge(row)
                    far = edge.dst if direction == "down" else edge.src
                    if far not in depths:
                        if max_depth is not None and depth >= max_depth:
                            continue
                        depths[far] = depth + 1
                        reached.append(far)
                    edges.append(edge)
                frontier = reached
                depth += 1
            nodes = {
                view.gid: view
                for view in (_node(row[0]) for row in tx.run(NODES, gids=_Listed(depths)).values())
            }
            return Subgraph(nodes[root], depths, nodes, edges)

        return self._read(run)

    def reached(self, roots: Sequence[str], direction: Direction) -> Reach:
        def run(tx: ManagedTransaction) -> Reach:
            query = REACH_FROM_ALL[direction]
            return _reach(tx.run(query, roots=_Listed(roots), horizon=END_OF_TIME).values())

        return self._read(run)

    def equipment_window(
        self,
        equipment: str,
        start: str,
        end: str,
        limit: int | None = None,
        *,
        site: str | None = None,
        inputs: bool = True,
        outputs: bool = True,
    ) -> list[StepUse]:
        def run(tx: ManagedTransaction) -> list[StepUse]:
            # What is left to read, each read taking from it: one past the limit, or all.
            left = None if limit is None else limit + 1

            def rows(query: LiteralString, **params: Any) -> list[list[Any]]:
                nonlocal left
                if left is None:
                    return tx.run(query, **params).values()
                if left == 0:  # past the limit already: nothing more is asked of the server
                    return []
                found = tx.run(LIMITED[query], limit=left, **params).values()
                left -= len(found)
                return found

            found = rows(EQUIPMENT_STEPS, equipment=equipment, start=start, end=end, site=site)
            steps = [_node(row[0]) for row in found]
            ids = [step.gid for step in steps]
            consumed: dict[str, list[EdgeView]] = {}
            produced: dict[str, list[EdgeView]] = {}
            for row in rows(STEP_INPUTS, steps=ids) if inputs else ():
                consumed.setdefault(row[1], []).append(_edge(row))
            for row in rows(STEP_OUTPUTS, steps=ids) if outputs else ():
                produced.setdefault(row[0], []).append(_edge(row))
            return [
                StepUse(step, consumed.get(step.gid, []), produced.get(step.gid, []))
                for step in steps
            ]

        return self._read(run)

    def events(self, after_seq: int, limit: int) -> list[StoredEvent]:
        return self._events_after(EVENTS_AFTER, after_seq, limit)

    def recall_events(self, after_seq: int, limit: int) -> list[StoredEvent]:
        return self._events_after(RECALL_EVENTS_AFTER, after_seq, limit)

    def recall_events_of(self, case: str, notices: Sequence[str]) -> list[StoredEvent]:
        def run(tx: ManagedTransaction) -> list[StoredEvent]:
            rows = tx.run(RECALL_EVENTS_OF, case=case, notices=_Listed(notices)).values()
            return [StoredEvent(*row) for row in rows]

        return self._read(run)

    def _events_after(self, query: LiteralString, after_seq: int, limit: int) -> list[StoredEvent]:
        def run(tx: ManagedTransaction) -> list[StoredEvent]:
            rows = tx.run(query, after=after_seq, limit=limit).values()
            return [StoredEvent(*row) for row in rows]

        return self._read(run)

    def logged(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        def run(tx: ManagedTransaction) -> dict[str, StoredEvent]:
            rows = tx.run(FIND_EVENTS, ids=_Listed(event_ids)).values()
            return {row[0]: StoredEvent(*row) for row in rows}

        return self._read(run)

    def voided_events(self) -> list[StoredEvent]:
        def run(tx: ManagedTransaction) -> list[StoredEvent]:
            return [StoredEvent(*row) for row in tx.run(VOIDED_EVENTS).values()]

        return self._read(run)

    def voided_naming(self, gids: Sequence[str]) -> list[StoredEvent]:
        def run(tx: ManagedTransaction) -> list[StoredEvent]:
            rows = tx.run(VOIDED_NAMING, gids=_Listed(gids)).values()
            return [StoredEvent(*row) for row in rows]

        return self._read(run)

    def status_setters(self, gids: Sequence[str]) -> list[str]:
        def run(tx: ManagedTransaction) -> list[str]:
            return [row[0] for row in tx.run(STATUS_SETTERS, gids=_Listed(gids)).values()]

        return self._read(run)

    def linked_by(self, gid: str, at: str) -> bool:
        def run(tx: ManagedTransaction) -> bool:
            record = tx.run(LINKED_BY, gid=gid, at=at).single()
            return record is not None and bool(record[0])

        return self._read(run)

    def statuses_at(self, gids: Sequence[str], at: str) -> dict[str, str]:
        def run(tx: ManagedTransaction) -> dict[str, str]:
            rows = tx.run(STATUSES_AT, gids=_Listed(gids), at=at).values()
            return {gid: status for gid, status in rows}

        return self._read(run)

    @contextmanager
    def taking_over_rebuild(self) -> Iterator[None]:
        # A mark is taken over only under the lease: a rebuild still running holds it, and
        # this waits for it as any rebuild does (then StoreBusy); a mark found once the lease
        # is had was left by a rebuild whose process stopped.
        with self.one_rebuild():
            records = self._execute(REBUILD_MARK, "read")
            mark = records[0][0] if records else None
            before = getattr(self._local, "rebuild", None)
            if mark is not None:
                self._local.rebuild = mark  # writes pass as the stopped rebuild's own
            try:
                yield
            finally:
                self._local.rebuild = before

    @contextmanager
    def atomically(self) -> Iterator[bool]:
        # A transaction must fit the server's heap: a rebuild of a plant commits chunk by chunk,
        # and other writes are refused until it is done (they would be checked against a part).
        with self.one_rebuild():
            token = uuid.uuid4().hex
            started = utc_text(datetime.now(UTC))
            self._locked(START_REBUILD, lambda tx, locked: None, token=token, started=started)
            self._local.rebuild = token
            self._local.cleared = False
            done = False
            try:
                yield False
                done = True
            except StoreUnavailable as error:
                raise StoreUnavailable(REBUILD_CUT_OFF) from error
            finally:
                try:
                    # A rebuild that stopped once it had cleared the graph leaves it partial: its
                    # mark stays, so other writes are refused until a rebuild runs to the end.
                    if done or not self._local.cleared:
                        self._execute(END_REBUILD, "write", token=token)
                finally:
                    self._local.rebuild = None

    @contextmanager
    def one_rebuild(self) -> Iterator[None]:
        """Hold the lock only one rebuild holds (REBUILD_LEASE) for the block, unless this
        thread holds it already."""
        if getattr(self._local, "lease", None) is not None:
            yield
            return
        waited = neo4j_driver.LOCK_WAIT
        with self._holding(
            REBUILD_LEASE, REBUILDER, lambda _: ELSEWHERE.format(seconds=waited), waited
        ) as lease:
            self._local.lease = lease
            try:
                yield
            finally:
                self._local.lease = None

    @contextmanager
    def held_for_copy(self) -> Iterator[None]:
        """Hold the lock only one copy into this database holds (COPY_HOLD) for the block;
        StoreBusy naming the other copy if it holds it. `mark_copy(None)` in the block checks
        that the hold was not lost on the way."""
        with self._holding(COPY_HOLD, COPIER, self._copy_elsewhere, COPY_WAIT) as hold:
            self._local.copy_hold = hold
            try:
                yield
            finally:
                self._local.copy_hold = None

    @contextmanager
    def _holding(
        self,
        statement: LiteralString,
        key: str,
        busy: Callable[[str], str],
        seconds: float | None = None,
    ) -> Iterator[neo4j.Transaction]:
        """Run `statement`, which takes a lock, in a transaction of its own whose metadata says
        under `key` whose it is, and keep it open for the block (yielded), holding the lock;
        StoreBusy(busy(mark)) if another holds it `seconds` (LOCK_WAIT), `mark` being this
        transaction's own (WAITING), to tell it from the others'."""
        mark = uuid.uuid4().hex
        with self._session() as opened:
            held = opened.begin_transaction(
                metadata={WAITING: mark, key: _whose()}, timeout=LEASE_TIMEOUT
            )
            try:
                try:
                    with waiting_at_most(self._driver, self._database, mark, "", seconds):
                        held.run(statement).consume()
                except StoreBusy as refused:
                    raise StoreBusy(busy(mark)) from refused
                yield held
            finally:
                # It wrote nothing to keep; one the server lost is ended there already.
                with suppress(neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError):
                    held.close()

    def _still_held(self, held: neo4j.Transaction, lost: str) -> None:
        """Raise StoreBusy(`lost`) if the server no longer holds the transaction `held` (its
        connection was lost or someone ended it), StoreUnavailable if the server went with it."""
        try:
            held.run(PING).consume()
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as error:
            self._execute(PING, "write")  # on a connection of its own
            raise StoreBusy(lost) from error

    def _copy_elsewhere(self, mark: str) -> str:
        """Say that another copy holds the copy's lock, and whose, as their holds say (only an
        administrator sees another user's): not this one, `mark`, refused but not yet closed."""
        found = [
            row[0] for row in self._execute(COPIERS, "read", key=COPIER, waiting=WAITING, mark=mark)
        ]
        whose = "; ".join(found) if found else "whose, an administrator sees as below"
        return COPY_ELSEWHERE.format(whose=whose)

    def clear_projection(self) -> None:
        self._local.cleared = True
        while self._write_outside_rebuild(CLEAR_SOME_NODES)[0][0]:
            pass
        self._write_outside_rebuild(CLEAR_MARK_COUNTS)  # a handful: schemes by sites

    def change_mark(self) -> tuple[object, ...] | None:
        """A mark of what the graph holds, changed by every event recorded, every rebuild and a
        wipe (TraceCache); None while a rebuild or a copy leaves the graph partial."""
        # Read as the trace will be (graph.neo4j_driver.session): on a cluster, the trace's
        # read waits for the state this one saw.
        row = self._read(lambda tx: tx.run(CHANGE_MARK).single(strict=True))
        seq, projection, rebuilt, made, whole = row
        return (seq, projection, rebuilt, made) if whole else None

    def projection_version(self) -> int | None:
        version: int | None = self._execute(PROJECTION_VERSION, "read")[0][0]
        return version

    def stamp_projection(self, version: int) -> None:
        if getattr(self._local, "rebuild", None) is None:
            self._execute(STAMP_PROJECTION, "write", version=version)
        else:
            self._write_outside_rebuild(STAMP_PROJECTION, version=version)

    def mark_copy(self, source: str | None) -> None:
        # A copy whose hold was lost on the way (its connection dropped, or someone ended it)
        # may have had another copy write beside it: it is not said whole.
        hold: neo4j.Transaction | None = getattr(self._local, "copy_hold", None)
        if source is None and hold is not None:
            self._still_held(hold, COPY_LOST)
        # Under the write lock, as any write: refused while another rebuilds the graph, let
        # through for a resumed copy that took over the rebuild it had left. Setting the mark to
        # null removes it.
        self._write_outside_rebuild(MARK_COPY, source=source)

    def _write_outside_rebuild(self, statement: LiteralString, **params: Any) -> list[list[Any]]:
        """Run `statement` under the write lock, refused while a rebuild other than this
        thread's holds the graph; its rows."""
        ours = getattr(self._local, "rebuild", None)

        def then(tx: ManagedTransaction, locked: neo4j.Record) -> list[list[Any]]:
            _, rebuilding, started, *_ = locked
            _refuse_in_rebuild(rebuilding, started, ours)
            return tx.run(statement, **params).values()

        return self._locked(SETTLED + LOCK, then)

    def wipe(self) -> None:
        """Delete everything, the event log too (for tests and benchmarks on a scratch server)."""
        with self._session() as opened:
            opened.run(CLEAR_NODES).consume()
            opened.run(CLEAR_EVENTS).consume()
            opened.run(CLEAR_VOID_NAMES).consume()
            opened.run(CLEAR_MARK_COUNTS).consume()
            opened.run(CLEAR_COUNTER).consume()
            opened.run(CLEAR_MARK_SCHEMES).consume()
            opened.run(CLEAR_DOCUMENTS).consume()
            opened.run(CLEAR_LOT_SCHEMES).consume()
            opened.run(CLEAR_LOT_SEQUENCES).consume()
        self._ensure_schema(None)  # the counter that kept it is gone

    def counts(self) -> dict[str, int]:
        def run(tx: ManagedTransaction) -> dict[str, int]:
            counts = {kind: count for kind, count in tx.run(COUNT_KINDS).values()}
            counts["edges"] = tx.run(COUNT_EDGES).single(strict=True)[0]
            counts["events"] = tx.run(COUNT_EVENTS).single(strict=True)[0]
            return counts

        return self._read(run)

    def close(self) -> None:
        self._driver.close()

    # -- secondary marks

    def mark_schemes(self) -> list[MarkSchemeRow]:
        return self._read(lambda tx: [MarkSchemeRow(*row) for row in tx.run(MARK_SCHEMES).values()])

    def mark_usage(self, scheme: str) -> tuple[int, int | None]:
        def run(tx: ManagedTransaction) -> tuple[int, int | None]:
            count, last = tx.run(MARK_USAGE, scheme=scheme).single(strict=True)
            return count, None if last is None else int(last)

        return self._read(run)

    def marks_seen_by(self, scheme: str, site: str) -> int:
        def run(tx: ManagedTransaction) -> int:
            held = tx.run(MARKS_HOLD).single(strict=True)[0]
            read = MARKS_SEEN_BY if held else MARKS_WALKED_BY
            count: int = tx.run(read, scheme=scheme, site=site).single(strict=True)[0]
            return count

        return self._read(run)

    def last_mark_index(self, scheme: str) -> int | None:
        def run(tx: ManagedTransaction) -> int | None:
            last = tx.run(LAST_MARK_INDEX, scheme=scheme).single()
            return None if last is None else int(last[0])

        return self._read(run)

    def marks_used(
        self, schemes: Sequence[str], site: str | None = None
    ) -> dict[str, tuple[int, int | None]]:
        def run(tx: ManagedTransaction) -> dict[str, tuple[int, int | None]]:
            if site is None:
                read = MARKS_USED
            else:
                held = tx.run(MARKS_HOLD).single(strict=True)[0]
                read = MARKS_USED_SEEN_BY if held else MARKS_USED_WALKED_BY
            rows = tx.run(read, schemes=_Listed(schemes), site=site).values()
            return {name: (used, None if last is None else int(last)) for name, used, last in rows}

        return self._read(run)

    def marked_items(self, marks: Sequence[str]) -> list[MarkedItem]:
        def run(tx: ManagedTransaction) -> list[MarkedItem]:
            rows = tx.run(MARKED_ITEMS, marks=_Listed(marks)).values()
            return [MarkedItem(code, scheme, _node(props)) for code, scheme, props in rows]

        return self._read(run)

    def items_matching(
        self, prefix: str, pattern: str, limit: int, after: str = ""
    ) -> list[NodeView]:
        # (?s): "?" stands for any one character, a line break too (an id logged before ids had
        # to be printable may hold one), as GLOB's does on the embedded store.
        regex = "(?s)" + "".join("." if char == "?" else re.escape(char) for char in pattern)

        bounds = _id_range(prefix, after)
        statement = ITEMS_MATCHING if bounds["high"] is not None else ITEMS_MATCHING_ON

        def run(tx: ManagedTransaction) -> list[NodeView]:
            rows = tx.run(
                statement, length=len(pattern), regex=regex, limit=limit, **bounds
            ).values()
            return [_node(row[0]) for row in rows]

        return self._read(run)

    def item_links(self, gids: Sequence[str]) -> list[ItemLink]:
        def run(tx: ManagedTransaction) -> list[ItemLink]:
            rows = tx.run(ITEM_LINKS, gids=_Listed(gids)).values()
            return [
                ItemLink(gid, outgoing, kind, until, compartment, _node(props))
                for gid, outgoing, kind, until, compartment, props in rows
            ]

        return self._read(run)

    # -- part registry

    def part_for_gtin(self, gtin: str) -> NodeView | None:
        def run(tx: ManagedTransaction) -> NodeView | None:
            record = tx.run(PART_FOR_GTIN, gtin=gtin).single()
            return None if record is None else _node(record[0])

        return self._read(run)

    def parts(self) -> list[NodeView]:
        return self.nodes_of_kind("part", NO_LIMIT)

    # -- lot code schemes

    def lot_schemes(self) -> list[LotSchemeRow]:
        return self._read(lambda tx: [LotSchemeRow(*row) for row in tx.run(LOT_SCHEMES).values()])

    def partner_lots(
        self, company: str, *, received_before: str | None = None, keep: Sequence[str] = ()
    ) -> list[PartnerLot]:
        def run(tx: ManagedTransaction) -> list[PartnerLot]:
            rows = tx.run(
                PARTNER_LOTS, company=company, before=received_before, keep=_Listed(keep)
            ).values()
            return partner_lots((_node(props), at, lot) for props, at, lot in rows)

        return self._read(run)

    def shipped_to(self, companies: Sequence[str]) -> set[str]:
        by_gid = {ids.gid("company", c): c for c in companies}
        rows = self._read(lambda tx: tx.run(SHIPPED_TO, companies=_Listed(by_gid)).values())
        return {by_gid[row[0]] for row in rows}

    def lot_sequences(self) -> dict[str, int]:
        return self._read(lambda tx: {key: last for key, last in tx.run(LOT_SEQUENCES).values()})

    # -- carts

    def cart_stays(self, gids: Sequence[str]) -> list[CartStay]:
        def run(tx: ManagedTransaction) -> list[CartStay]:
            rows = tx.run(CART_STAYS, gids=_Listed(gids)).values()
            return sorted_stays([_stay(row) for row in rows])

        return self._read(run)

    # -- documents

    def document(self, digest: str) -> DocumentRow | None:
        def run(tx: ManagedTransaction) -> DocumentRow | None:
            row = tx.run(DOCUMENT, digest=digest).single()
            if row is None:
                return None
            return DocumentRow(row[0], row[1], int(row[2]), bytes(row[3]))

        return self._read(run)

    def document_digests(self) -> list[str]:
        return self._read(lambda tx: [row[0] for row in tx.run(DOCUMENT_DIGESTS).values()])
