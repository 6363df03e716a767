"""The embedded store: one SQLite file in WAL mode, traversals as recursive CTEs.

Nodes get integer row ids so traversals join integers, not text. Every statement is a constant
with parameters; sets of ids travel as one JSON parameter read by `json_each`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any, TypeVar

import orjson

from graph import ids
from graph.clock import utc_text
from graph.errors import BadRequest, StoreBusy, StoreUnavailable
from graph.event_links import void_names
from graph.projection import PROJECTION, counted_if_free, refuse_newer
from graph.sqlite_files import check_no_store_beside, store_files
from graph.sqlite_schema import (
    READ_STAMP,
    WRITE_STAMP,
    begin_write,
    commit,
    ensure_schema,
    foreign_tables,
    not_ours,
    read_stamp,
    roll_back,
)
from graph.store import (
    FLOW_TYPES,
    MATERIAL,
    NODE_CONTEXT,
    ORPHAN_KINDS,
    CartStay,
    Changes,
    Direction,
    DocumentRow,
    EdgeView,
    ItemLink,
    ItemState,
    LotSchemeRow,
    MarkedItem,
    MarkSchemeRow,
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
    latest_statuses,
    node_view,
    partner_lots,
    plain,
    refused_unfinished,
    sorted_stays,
)

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    at TEXT NOT NULL,
    payload TEXT NOT NULL,
    digest TEXT NOT NULL,
    voids TEXT,
    effects TEXT NOT NULL,
    recorded_by TEXT,
    recorded_at TEXT
);
CREATE INDEX IF NOT EXISTS events_voids ON events (voids) WHERE voids IS NOT NULL;
-- The nodes each voided event named (graph.event_links.ends), by node: a void takes its links
-- out of the graph, and an export of a trace finds the voided events of its items here rather
-- than read every void of the log. Written with the void, as the log is: a rebuild keeps it.
CREATE TABLE IF NOT EXISTS void_names (
    gid TEXT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (gid, event)
) WITHOUT ROWID;
-- A recall case's history reads only these; other events pay nothing for the index.
CREATE INDEX IF NOT EXISTS events_recall ON events (seq) WHERE type GLOB 'recall_*';
-- ...and of them, only its own: by the case they name, and by the notice an answer names.
CREATE INDEX IF NOT EXISTS events_recall_case ON events (json_extract(payload, '$.case'))
WHERE type GLOB 'recall_*';
CREATE INDEX IF NOT EXISTS events_recall_notice ON events (json_extract(payload, '$.notice'))
WHERE type GLOB 'recall_*';
CREATE TABLE IF NOT EXISTS nodes (
    nid INTEGER PRIMARY KEY,
    gid TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    part TEXT,
    unit TEXT,
    qty TEXT,
    consumed TEXT,
    status TEXT,
    created_by TEXT,
    created_at TEXT,
    props TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS nodes_created_by ON nodes (created_by) WHERE created_by IS NOT NULL;
-- Every gid starts with its kind and a colon, so a kind's nodes are a range of the gid index:
-- an index on (kind, gid) cost every node insert a second text key and is dropped where it was.
DROP INDEX IF EXISTS nodes_kind;
CREATE TABLE IF NOT EXISTS edges (
    src INTEGER NOT NULL,
    dst INTEGER NOT NULL,
    type TEXT NOT NULL,
    flow INTEGER NOT NULL,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    qty TEXT,
    share REAL,
    part TEXT,
    until TEXT,
    compartment TEXT,
    closed_by TEXT
);
CREATE INDEX IF NOT EXISTS edges_down ON edges (src, flow, at, dst);
CREATE INDEX IF NOT EXISTS edges_up ON edges (dst, flow, at, src);
-- An index on every edge's event cost each edge insert a third text key, for voids only: a void
-- finds its event's edges through the nodes they touch (DELETE_EDGES_OF_EVENT), and only cart
-- stays, which a later event may close, are found by their event. Dropped where it was.
DROP INDEX IF EXISTS edges_event;
CREATE INDEX IF NOT EXISTS edges_cart_event ON edges (event) WHERE type = 'IN_CART';
-- The stays open now, by their load: closing one (CLOSE_STAY) would otherwise read every stay the
-- lot has had in the cart, and a batch of loads and unloads would take time quadratic in its size.
CREATE INDEX IF NOT EXISTS edges_open_stays ON edges (src, dst, event)
WHERE type = 'IN_CART' AND until IS NULL;
CREATE INDEX IF NOT EXISTS edges_closed_by ON edges (closed_by) WHERE closed_by IS NOT NULL;
-- The longest run (ON: a step from its start `at` to its end `until`) each equipment has had, in
-- days: a window reads the runs that started at most that long before it, not every run back to
-- the first. Only ever raised (a void leaves a bound that still holds); cleared with the graph, as
-- a rebuild hands out the nodes' row ids again, and made again by its replay. A file from before
-- the bounds has an older projection version (graph.projection): it is rebuilt as it is opened.
CREATE TABLE IF NOT EXISTS run_bounds (equipment INTEGER PRIMARY KEY, longest REAL NOT NULL);
CREATE TABLE IF NOT EXISTS status_log (
    nid INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS status_log_nid ON status_log (nid, at);
CREATE INDEX IF NOT EXISTS status_log_event ON status_log (event);
CREATE TABLE IF NOT EXISTS mark_schemes (name TEXT PRIMARY KEY, definition TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    sha256 TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    content BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS nodes_mark_scheme
    ON nodes (json_extract(props, '$.scheme'), json_extract(props, '$.index'))
    WHERE kind = 'mark';
-- The live marks (MARKS links) of each scheme, by the site of the item they mark ('' for none):
-- a site's operators are shown the codes on what they may read (MARKS_SEEN_BY), two rows here
-- rather than a walk of every mark of the scheme. Kept as marks are made and voided; cleared
-- with the graph and made again by its replay. They hold for the log up to the position
-- MARKS_COUNTED names in meta (see there); a file from before them is counted as it is opened.
CREATE TABLE IF NOT EXISTS mark_counts (
    scheme TEXT NOT NULL,
    site TEXT NOT NULL,
    live INTEGER NOT NULL,
    PRIMARY KEY (scheme, site)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lot_schemes (name TEXT PRIMARY KEY, definition TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lot_sequences (key TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS nodes_part_gtin ON nodes (json_extract(props, '$.gtin'))
    WHERE kind = 'part';
"""

# Every connection's settings (bench.ingest_floor writes with the same ones).
PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA busy_timeout = 30000",
    "PRAGMA cache_size = -65536",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA mmap_size = 268435456",
)

STATUS_SETTERS = """
SELECT DISTINCT s.event FROM status_log s JOIN nodes n ON n.nid = s.nid
WHERE n.gid IN (SELECT value FROM json_each(?)) ORDER BY s.event
"""
FIND_EVENTS = """
SELECT e.event_id, e.seq, e.type, e.at, e.payload, e.digest, e.effects, v.event_id,
       e.recorded_by, e.recorded_at
FROM events e LEFT JOIN events v ON v.voids = e.event_id
WHERE e.event_id IN (SELECT value FROM json_each(?))
"""
EVENTS_AFTER = """
SELECT e.event_id, e.seq, e.type, e.at, e.payload, e.digest, e.effects, v.event_id,
       e.recorded_by, e.recorded_at
FROM events e LEFT JOIN events v ON v.voids = e.event_id
WHERE e.seq > ? ORDER BY e.seq LIMIT ?
"""
# Void events first, through the partial index on `voids`: they are few.
VOIDED_EVENTS = """
SELECT e.event_id, e.seq, e.type, e.at, e.payload, e.digest, e.effects, v.event_id,
       e.recorded_by, e.recorded_at
FROM events v JOIN events e ON e.event_id = v.voids
WHERE v.voids IS NOT NULL ORDER BY e.seq
"""
VOIDED_NAMING = """
SELECT e.event_id, e.seq, e.type, e.at, e.payload, e.digest, e.effects, v.event_id,
       e.recorded_by, e.recorded_at
FROM events e JOIN events v ON v.voids = e.event_id
WHERE e.event_id IN (
    SELECT n.event FROM json_each(?) j CROSS JOIN void_names n ON n.gid = j.value
) ORDER BY e.seq
"""
INSERT_VOID_NAME = "INSERT OR IGNORE INTO void_names (gid, event) VALUES (?, ?)"
# The type test is spelled as in the partial index, so SQLite uses it.
RECALL_EVENTS_AFTER = """
SELECT e.event_id, e.seq, e.type, e.at, e.payload, e.digest, e.effects, v.event_id,
       e.recorded_by, e.recorded_at
FROM events e LEFT JOIN events v ON v.voids = e.event_id
WHERE e.type GLOB 'recall_*' AND e.seq > ? ORDER BY e.seq LIMIT ?
"""
# Expressions and type test spelled as in the partial indexes, so SQLite uses them.
RECALL_EVENTS_OF = """
SELECT e.event_id, e.seq, e.type, e.at, e.payload, e.digest, e.effects, v.event_id,
       e.recorded_by, e.recorded_at
FROM events e LEFT JOIN events v ON v.voids = e.event_id
WHERE e.seq IN (
    SELECT seq FROM events WHERE type GLOB 'recall_*' AND json_extract(payload, '$.case') = ?
    UNION
    SELECT seq FROM events WHERE type GLOB 'recall_*'
    AND json_extract(payload, '$.notice') IN (SELECT value FROM json_each(?))
) ORDER BY e.seq
"""
# The columns in the order of EventRow's fields: its rows are bound as they are.
INSERT_EVENT = """
INSERT INTO events (event_id, type, at, payload, digest, voids, effects, recorded_by, recorded_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
ITEMS = """
SELECT nid, gid, kind, part, unit, qty, consumed, status, created_by, created_at FROM nodes
WHERE gid IN (SELECT value FROM json_each(?))
"""
NODE_BY_GID = """
SELECT n.nid, n.gid, n.kind, n.part, n.unit, n.qty, n.consumed, n.status,
       n.created_at, n.created_by, n.props
FROM nodes n WHERE n.gid = ?
"""
NODES_BY_GID = """
SELECT n.nid, n.gid, n.kind, n.part, n.unit, n.qty, n.consumed, n.status,
       n.created_at, n.created_by, n.props
FROM nodes n WHERE n.gid IN (SELECT value FROM json_each(?))
"""
LINKS = """
SELECT s.gid, d.gid, e.type, e.qty, e.share, e.part, e.at, e.event
FROM nodes x CROSS JOIN edges e ON e.src = x.nid
CROSS JOIN nodes s ON s.nid = e.src CROSS JOIN nodes d ON d.nid = e.dst
WHERE x.gid IN (SELECT value FROM json_each(?1))
UNION
SELECT s.gid, d.gid, e.type, e.qty, e.share, e.part, e.at, e.event
FROM nodes x CROSS JOIN edges e ON e.dst = x.nid
CROSS JOIN nodes s ON s.nid = e.src CROSS JOIN nodes d ON d.nid = e.dst
WHERE x.gid IN (SELECT value FROM json_each(?1))
"""
# A node's context links of one type (?2) into it, or out of it, ?3 at most (-1: all): on its
# edges_up (edges_down) entries of flow = 0, so its flow links (a lot serialized into thousands)
# are not read, and the LIMIT stops the scan. The index holds no type: its context links of
# other types on that side are stepped over.
_CONTEXT_LINKS = """
SELECT s.gid, d.gid, e.type, e.qty, e.share, e.part, e.at, e.event
FROM json_each(?1) j
CROSS JOIN nodes x ON x.gid = j.value
CROSS JOIN edges e ON e.{near} = x.nid AND e.flow = 0 AND e.type = ?2
CROSS JOIN nodes s ON s.nid = e.src CROSS JOIN nodes d ON d.nid = e.dst
LIMIT ?3
"""
CONTEXT_LINKS: dict[bool, str] = {
    True: _CONTEXT_LINKS.format(near="dst"),
    False: _CONTEXT_LINKS.format(near="src"),
}
SERIALIZED_FROM = """
SELECT s.nid, s.gid, s.kind, s.part, s.unit, s.qty, s.consumed, s.status,
       s.created_at, s.created_by, s.props,
       l.nid, l.gid, l.kind, l.part, l.unit, l.qty, l.consumed, l.status,
       l.created_at, l.created_by, l.props
FROM nodes s CROSS JOIN edges e ON e.dst = s.nid AND e.type = 'SERIALIZED_AS'
CROSS JOIN nodes l ON l.nid = e.src
WHERE s.gid IN (SELECT value FROM json_each(?))
"""
NIDS = "SELECT gid, nid FROM nodes WHERE gid IN (SELECT value FROM json_each(?))"
NODES_OF_KIND = """
SELECT n.nid, n.gid, n.kind, n.part, n.unit, n.qty, n.consumed, n.status,
       n.created_at, n.created_by, n.props
FROM nodes n WHERE n.gid >= ?1 AND n.gid < ?2 AND n.kind = ?3 AND n.gid > ?5
ORDER BY n.gid LIMIT ?4
"""
MAX_NID = "SELECT COALESCE(MAX(nid), 0) FROM nodes"
INSERT_NODE = """
INSERT INTO nodes (
    nid, gid, kind, part, unit, qty, consumed, status, created_by, created_at, props
)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
INSERT_EDGE = """
INSERT INTO edges (src, dst, type, flow, at, event, qty, share, part, until, compartment)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
SET_CONSUMED = "UPDATE nodes SET consumed = ? WHERE nid = ?"
MERGE_PROPS = "UPDATE nodes SET props = json_patch(props, ?) WHERE gid = ?"
NODE_PROPS = "SELECT gid, props FROM nodes WHERE gid IN (SELECT value FROM json_each(?))"
# A stay is closed by its load event where the plan knows it, else the lot's one open stay there.
CLOSE_STAY = """
UPDATE edges SET until = ?, closed_by = ?
WHERE type = 'IN_CART' AND until IS NULL AND src = ? AND dst = ? AND event = ?
"""
CLOSE_CART = """
UPDATE edges SET until = ?, closed_by = ?
WHERE type = 'IN_CART' AND until IS NULL AND src = ? AND dst = ?
"""
OPEN_CARTS = """
SELECT l.gid, c.gid FROM nodes l
JOIN edges e ON e.src = l.nid AND e.type = 'IN_CART' AND e.until IS NULL
JOIN nodes c ON c.nid = e.dst
WHERE l.gid IN (SELECT value FROM json_each(?))
"""
STATUSES_AT = """
SELECT gid, status FROM (
    SELECT n.gid, s.status,
        row_number() OVER (PARTITION BY s.nid ORDER BY s.at DESC, s.rowid DESC) AS latest
    FROM nodes n JOIN status_log s ON s.nid = n.nid
    WHERE n.gid IN (SELECT value FROM json_each(?)) AND s.at <= ?
) WHERE latest = 1
"""
STATUS_ROWS = """
SELECT n.gid, s.status, s.reason, s.at, s.event FROM nodes n JOIN status_log s ON s.nid = n.nid
WHERE n.gid IN (SELECT value FROM json_each(?)) ORDER BY s.at, s.rowid
"""
INSERT_STATUS = "INSERT INTO status_log (nid, status, reason, at, event) VALUES (?, ?, ?, ?, ?)"
STATUS_NIDS_OF_EVENT = "SELECT nid FROM status_log WHERE event = ?"
RECOMPUTE_STATUS = """
UPDATE nodes SET status = (
    SELECT s.status FROM status_log s WHERE s.nid = nodes.nid
    ORDER BY s.at DESC, s.rowid DESC LIMIT 1
) WHERE nid IN (SELECT value FROM json_each(?))
"""
DEPENDENTS = """
WITH created AS (SELECT nid FROM nodes WHERE created_by = :event)
SELECT event FROM edges WHERE src IN created AND event <> :event
UNION SELECT event FROM edges WHERE dst IN created AND event <> :event
UNION SELECT event FROM status_log WHERE nid IN created AND event <> :event
UNION SELECT closed_by FROM edges
      WHERE type = 'IN_CART' AND event = :event AND closed_by IS NOT NULL
"""
LINKS_BY_OTHERS = """
SELECT n.gid, e.type, e.event FROM json_each(?1) j
CROSS JOIN nodes n ON n.gid = j.value CROSS JOIN edges e ON e.src = n.nid WHERE e.event <> ?2
UNION
SELECT n.gid, e.type, e.event FROM json_each(?1) j
CROSS JOIN nodes n ON n.gid = j.value CROSS JOIN edges e ON e.dst = n.nid WHERE e.event <> ?2
"""
# The events of LINKS_BY_OTHERS' links logged after ?2 and not voided: each event's place in the
# log is read in the event_id index, so only the later ones' rows are read.
LINKING_EVENTS_AFTER = """
SELECT e.event_id, e.seq, e.type, e.at, e.payload, e.digest, e.effects, NULL,
       e.recorded_by, e.recorded_at
FROM (
    SELECT l.event AS id FROM json_each(?1) j
    CROSS JOIN nodes n ON n.gid = j.value CROSS JOIN edges l ON l.src = n.nid
    UNION
    SELECT l.event FROM json_each(?1) j
    CROSS JOIN nodes n ON n.gid = j.value CROSS JOIN edges l ON l.dst = n.nid
) x
CROSS JOIN events e ON e.event_id = x.id
WHERE e.seq > ?2 AND NOT EXISTS (SELECT 1 FROM events v WHERE v.voids = e.event_id)
ORDER BY e.seq
"""
REOPEN_CARTS = "UPDATE edges SET until = NULL, closed_by = NULL WHERE closed_by = ?"
# Every edge an event makes touches a node it names or makes (VoidRow.gids, as on Neo4j): read
# through those nodes' rows in edges_down and edges_up, so edges need no index on their event.
DELETE_EDGES_OF_EVENT = """
DELETE FROM edges WHERE rowid IN (
    SELECT e.rowid FROM json_each(?2) j CROSS JOIN nodes n ON n.gid = j.value
    CROSS JOIN edges e ON e.src = n.nid WHERE e.event = ?1
    UNION
    SELECT e.rowid FROM json_each(?2) j CROSS JOIN nodes n ON n.gid = j.value
    CROSS JOIN edges e ON e.dst = n.nid WHERE e.event = ?1
)
"""
# The MARKS links an event made, found as DELETE_EDGES_OF_EVENT finds them, for COUNT_MARKS.
MARKS_OF_EVENT = """
SELECT e.src, e.dst FROM json_each(?2) j CROSS JOIN nodes n ON n.gid = j.value
CROSS JOIN edges e ON e.src = n.nid WHERE e.event = ?1 AND e.type = 'MARKS'
UNION
SELECT e.src, e.dst FROM json_each(?2) j CROSS JOIN nodes n ON n.gid = j.value
CROSS JOIN edges e ON e.dst = n.nid WHERE e.event = ?1 AND e.type = 'MARKS'
"""
DELETE_STATUS_OF_EVENT = "DELETE FROM status_log WHERE event = ?"
DELETE_NODES_OF_EVENT = "DELETE FROM nodes WHERE created_by = ?"
# A supplier lot still received after a void, whose link to its company went with the voided
# receipt, is linked again by its first receipt left in the log, as a replay of the log links
# it: a receipt reported late comes after in the log, however early it happened.
RELINK_SUPPLIER_LOTS = """
INSERT INTO edges (src, dst, type, flow, at, event)
SELECT s.nid, c.nid, 'FROM', 0, r.at, r.event
FROM nodes s
JOIN nodes c ON c.gid = ?2 || json_extract(s.props, '$.supplier')
JOIN edges r ON r.rowid = (
    SELECT x.rowid FROM edges x JOIN events e ON e.event_id = x.event
    WHERE x.src = s.nid AND x.type = 'RECEIVED_AS' ORDER BY e.seq LIMIT 1
)
WHERE s.gid IN (SELECT value FROM json_each(?1)) AND s.kind = 'supplier_lot'
AND NOT EXISTS (SELECT 1 FROM edges f WHERE f.src = s.nid AND f.type = 'FROM')
"""
# Context nodes made on first mention (store.ORPHAN_KINDS) that a void leaves with no edges.
DELETE_ORPHANS = """
DELETE FROM nodes WHERE gid IN (SELECT value FROM json_each(?1))
AND kind IN (SELECT value FROM json_each(?2)) AND created_by IS NULL
AND NOT EXISTS (SELECT 1 FROM edges WHERE src = nodes.nid)
AND NOT EXISTS (SELECT 1 FROM edges WHERE dst = nodes.nid)
"""

# A trace reads the nodes it reaches, then the flow edges leaving (down) or entering (up) them,
# read by row id through edges_down or edges_up; an edge whose far end lies beyond the depth
# limit is dropped by the caller. The walk keeps each node once, not once per depth it is
# reached at (on a DAG whose paths part and meet again that is a row per path length), so depths
# are counted from the edges afterwards. A walk limited in depth goes one level per statement.
# CROSS JOIN fixes the loop order: SQLite has no statistics on the walk or json_each and could
# otherwise scan every edge.
_WALK = """
WITH RECURSIVE walk (nid) AS (
    SELECT nid FROM nodes WHERE {start}
    UNION
    SELECT e.{far} FROM walk w JOIN edges e ON e.{near} = w.nid WHERE e.flow = 1 AND e.at <= ?2
)
SELECT n.nid, n.gid, n.kind, n.part, n.unit, n.qty, n.consumed, n.status,
       n.created_at, n.created_by, n.props
FROM walk w CROSS JOIN nodes n ON n.nid = w.nid ORDER BY n.nid
"""
WALK: dict[str, str] = {
    "down": _WALK.format(start="gid = ?1", near="src", far="dst"),
    "up": _WALK.format(start="gid = ?1", near="dst", far="src"),
}
# The same walk from each root of ?1 (json_each) at once: what several roots share is read once.
_ROOTS = "gid IN (SELECT value FROM json_each(?1))"
WALK_FROM_ALL: dict[str, str] = {
    "down": _WALK.format(start=_ROOTS, near="src", far="dst"),
    "up": _WALK.format(start=_ROOTS, near="dst", far="src"),
}
_STEP = """
SELECT DISTINCT e.{far}
FROM json_each(?1) j CROSS JOIN edges e ON e.{near} = j.value AND e.flow = 1 AND e.at <= ?2
"""
STEP: dict[str, str] = {
    "down": _STEP.format(near="src", far="dst"),
    "up": _STEP.format(near="dst", far="src"),
}
NODES_BY_NID = """
SELECT n.nid, n.gid, n.kind, n.part, n.unit, n.qty, n.consumed, n.status,
       n.created_at, n.created_by, n.props
FROM nodes n WHERE n.nid IN (SELECT value FROM json_each(?)) ORDER BY n.nid
"""
_REACHED_EDGES = """
SELECT e.src, e.dst, e.type, e.qty, e.share, e.part, e.at, e.event
FROM json_each(?1) j CROSS JOIN edges e ON e.{near} = j.value AND e.flow = 1 AND e.at <= ?2
"""
REACHED_EDGES: dict[str, str] = {
    "down": _REACHED_EDGES.format(near="src"),
    "up": _REACHED_EDGES.format(near="dst"),
}
# flow = 0 keeps the ON links on edges_up in the order they started, so a LIMIT stops the scan
# there rather than after sorting every step of the machine's history. With a site (?5), only
# its steps and those of no site: the LIMIT counts what that site's operators see.
EQUIPMENT_STEPS = """
SELECT n.nid, n.gid, n.kind, n.part, n.unit, n.qty, n.consumed, n.status,
       n.created_at, n.created_by, n.props
FROM nodes q
CROSS JOIN edges e ON e.dst = q.nid AND e.flow = 0 AND e.type = 'ON'
CROSS JOIN nodes n ON n.nid = e.src
WHERE q.gid = ?1 AND e.at <= ?2 AND e.until >= ?3 AND e.at >= ?6
  AND (?5 IS NULL OR ifnull(json_extract(n.props, '$.site'), ?5) = ?5)
ORDER BY e.at, n.gid LIMIT ?4
"""
STEP_INPUTS = """
SELECT s.gid, d.gid, e.type, e.qty, e.share, e.part, e.at, e.event
FROM edges e JOIN nodes s ON s.nid = e.src JOIN nodes d ON d.nid = e.dst
WHERE e.type = 'CONSUMED_BY' AND d.gid IN (SELECT value FROM json_each(?1))
ORDER BY d.gid, s.gid LIMIT ?2
"""
STEP_OUTPUTS = """
SELECT s.gid, d.gid, e.type, e.qty, e.share, e.part, e.at, e.event
FROM edges e JOIN nodes s ON s.nid = e.src JOIN nodes d ON d.nid = e.dst
WHERE e.type = 'PRODUCED' AND s.gid IN (SELECT value FROM json_each(?1))
ORDER BY s.gid, d.gid LIMIT ?2
"""
# Each half on its index, in the order links were made, so the first that dates the node ends
# the read: flows into it by their time; context links into it (flow = 0), where a step's ON
# link is dated by its step, in one scan, so neither kind has to be read past to find the other.
LINKED_BY = """
SELECT EXISTS (
    SELECT 1 FROM nodes x CROSS JOIN edges e ON e.src = x.nid AND e.flow IN (0, 1) AND e.at <= ?2
    WHERE x.gid = ?1 AND e.type != 'ON'
) OR EXISTS (
    SELECT 1 FROM nodes x CROSS JOIN edges e ON e.dst = x.nid AND e.flow = 1 AND e.at <= ?2
    WHERE x.gid = ?1
) OR EXISTS (
    SELECT 1 FROM nodes x CROSS JOIN edges e ON e.dst = x.nid AND e.flow = 0
    CROSS JOIN nodes s ON s.nid = e.src
    WHERE x.gid = ?1 AND CASE e.type WHEN 'ON' THEN s.created_at <= ?2 ELSE e.at <= ?2 END
)
"""
COUNT_KINDS = "SELECT kind, COUNT(*) FROM nodes GROUP BY kind"
COUNT_EDGES = "SELECT COUNT(*) FROM edges"
COUNT_EVENTS = "SELECT COUNT(*) FROM events"
ANY_EVENT = "SELECT EXISTS (SELECT 1 FROM events)"
# The projection version (graph.projection) is kept among the schema stamps, as its number.
PROJECTION_STAMP = "projection"
# What a store holds changes only by an event logged (its graph with it, in one transaction) or
# by a rebuild, which may leave both the last event and the projection stamp as they were (one at
# the version the graph has): each rebuild counts itself in `meta`, in its own transaction, and the
# last event's number, the stamp and that count mark it (graph.trace_cache). All read through
# their primary keys.
CHANGE_MARK = """
SELECT (SELECT max(seq) FROM events),
       (SELECT digest FROM schema_stamps WHERE name = ?),
       (SELECT value FROM meta WHERE key = ?)
"""
REBUILDS = "rebuilds"
COUNT_REBUILD = """
INSERT INTO meta (key, value) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET value = value + 1
"""
# One statement a batch, for all its runs: [[equipment, days], ...] (_run_days).
RAISE_RUN_BOUNDS = """
INSERT INTO run_bounds (equipment, longest)
SELECT value ->> 0, max(value ->> 1) FROM json_each(?)
WHERE true GROUP BY value ->> 0
ON CONFLICT (equipment) DO UPDATE SET longest = max(longest, excluded.longest)
"""
RUN_BOUND = """
SELECT b.longest FROM nodes q JOIN run_bounds b ON b.equipment = q.nid WHERE q.gid = ?
"""
CLEAR_MARK_COUNTS = "DELETE FROM mark_counts"
CLEAR_PROJECTION = (
    "DELETE FROM edges",
    "DELETE FROM status_log",
    "DELETE FROM nodes",
    "DELETE FROM run_bounds",
    CLEAR_MARK_COUNTS,
)
# A copy into a file (api.cli_copy) marks it before its first write and clears the mark once the
# copy is whole and checked: one killed outright (kill -9, a power cut) leaves the mark on the
# part it carried. The mark's value names the store it copies.
UNFINISHED_COPY = "unfinished copy of"
READ_META = "SELECT value FROM meta WHERE key = ?"
WRITE_META = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
DELETE_META = "DELETE FROM meta WHERE key = ?"

# -- secondary marks
MARK_SCHEMES = "SELECT name, definition FROM mark_schemes ORDER BY name"
SAVE_MARK_SCHEME = """
INSERT INTO mark_schemes (name, definition) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET definition = excluded.definition
"""
# Both spell the partial index's expressions exactly, so SQLite answers from the index alone.
MARK_USAGE = """
SELECT COUNT(*), MAX(json_extract(props, '$.index')) FROM nodes
WHERE kind = 'mark' AND json_extract(props, '$.scheme') = ?
"""
# How far in the log mark_counts holds, kept in meta: a write of this release moves it on with
# the log only from where the log was (KEEP_MARKS_COUNTED). A release from before the counts may
# still open the file and record marks and voids, counting none: the mark then stays behind the
# log (COUNTS_HOLD), a site's count is walked from the marks, and the next open counts them all
# again (COUNT_ALL_MARKS), as it does for a file from before the counts, which has no mark.
MARKS_COUNTED = "marks counted"
COUNTS_HOLD = """
SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = :counted)
    = ifnull((SELECT max(seq) FROM events), 0)
"""
KEEP_MARKS_COUNTED = """
UPDATE meta SET value = (SELECT max(seq) FROM events)
WHERE key = ?1 AND CAST(value AS INTEGER) = (SELECT max(seq) FROM events) - ?2
"""
COUNT_ALL_MARKS = """
INSERT INTO mark_counts (scheme, site, live)
SELECT json_extract(m.props, '$.scheme'), ifnull(json_extract(n.props, '$.site'), ''), count(*)
FROM nodes m
CROSS JOIN edges e ON e.src = m.nid AND e.flow = 0 AND e.type = 'MARKS'
CROSS JOIN nodes n ON n.nid = e.dst
WHERE m.kind = 'mark' AND json_extract(m.props, '$.scheme') IS NOT NULL
GROUP BY 1, 2
"""
MARKS_COUNTED_NOW = (
    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ifnull((SELECT max(seq) FROM events), 0))"
)
# The site's row and that of no site in mark_counts where they hold for the log (COUNTS_HOLD);
# else through the scheme's index, then each code's MARKS relationship (as MARKED_ITEMS reads
# it). One statement, so the counts are read as of the mark they are tested by. A code marks
# one item at a time (the planner's mark_taken, on replay too): each live MARKS link is one code.
_SEEN_BY = """
CASE WHEN (SELECT CAST(value AS INTEGER) FROM meta WHERE key = :counted)
    = ifnull((SELECT max(seq) FROM events), 0)
THEN (SELECT ifnull(sum(live), 0) FROM mark_counts WHERE scheme = {scheme} AND site IN (:site, ''))
ELSE (
    SELECT COUNT(*) FROM nodes m
    CROSS JOIN edges e ON e.src = m.nid AND e.flow = 0 AND e.type = 'MARKS'
    CROSS JOIN nodes n ON n.nid = e.dst
    WHERE m.kind = 'mark' AND json_extract(m.props, '$.scheme') = {scheme}
      AND ifnull(json_extract(n.props, '$.site'), :site) = :site
) END
"""
MARKS_SEEN_BY = "SELECT " + _SEEN_BY.format(scheme=":scheme")
# Add ?2 (1 made, -1 voided) to the counts of the MARKS links ?1 ([[mark nid, item nid], ...]),
# by the scheme the code's node was read by (a code of no scheme counts for none).
COUNT_MARKS = """
INSERT INTO mark_counts (scheme, site, live)
SELECT json_extract(m.props, '$.scheme'), ifnull(json_extract(n.props, '$.site'), ''), ?2 * count(*)
FROM json_each(?1) j
CROSS JOIN nodes m ON m.nid = j.value ->> 0
CROSS JOIN nodes n ON n.nid = j.value ->> 1
WHERE json_extract(m.props, '$.scheme') IS NOT NULL
GROUP BY 1, 2
ON CONFLICT (scheme, site) DO UPDATE SET live = live + excluded.live
"""
LAST_MARK_INDEX = """
SELECT MAX(json_extract(props, '$.index')) FROM nodes
WHERE kind = 'mark' AND json_extract(props, '$.scheme') = ?
"""
# Each scheme of :schemes, its count (as MARK_USAGE or MARKS_SEEN_BY) and its last index, the
# subqueries spelling the partial index's expressions as those do.
_MARKS_USED = """
SELECT j.value, {used}, (
    SELECT MAX(json_extract(props, '$.index')) FROM nodes
    WHERE kind = 'mark' AND json_extract(props, '$.scheme') = j.value
)
FROM json_each(:schemes) j
"""
MARKS_USED = _MARKS_USED.format(
    used="""(
    SELECT COUNT(*) FROM nodes WHERE kind = 'mark' AND json_extract(props, '$.scheme') = j.value
)"""
)
MARKS_USED_SEEN_BY = _MARKS_USED.format(used=_SEEN_BY.format(scheme="j.value"))
MARKS_IN_USE = """
SELECT m.gid, n.gid, e.event
FROM json_each(?) j
CROSS JOIN nodes m ON m.gid = j.value
CROSS JOIN edges e ON e.src = m.nid AND e.flow = 0 AND e.type = 'MARKS'
CROSS JOIN nodes n ON n.nid = e.dst
"""
ITEM_MARKS = """
SELECT n.gid, m.gid, json_extract(m.props, '$.scheme'), e.event
FROM json_each(?) j
CROSS JOIN nodes n ON n.gid = j.value
CROSS JOIN edges e ON e.dst = n.nid AND e.flow = 0 AND e.type = 'MARKS'
CROSS JOIN nodes m ON m.nid = e.src
"""
MARKED_ITEMS = """
SELECT json_extract(m.props, '$.code'), json_extract(m.props, '$.scheme'),
       n.nid, n.gid, n.kind, n.part, n.unit, n.qty, n.consumed, n.status,
       n.created_at, n.created_by, n.props
FROM json_each(?) j
CROSS JOIN nodes m ON m.gid = j.value
CROSS JOIN edges e ON e.src = m.nid AND e.flow = 0 AND e.type = 'MARKS'
CROSS JOIN nodes n ON n.nid = e.dst
ORDER BY n.gid
"""
ITEMS_MATCHING = """
SELECT n.nid, n.gid, n.kind, n.part, n.unit, n.qty, n.consumed, n.status,
       n.created_at, n.created_by, n.props
FROM nodes n
WHERE n.gid >= :low AND n.gid > :after AND n.gid < :high AND length(n.gid) = :length
  AND n.gid GLOB :glob
ORDER BY n.gid LIMIT :limit
"""
# A prefix with no successor (_after_prefix is None): to the end of the index.
ITEMS_MATCHING_ON = """
SELECT n.nid, n.gid, n.kind, n.part, n.unit, n.qty, n.consumed, n.status,
       n.created_at, n.created_by, n.props
FROM nodes n
WHERE n.gid >= :low AND n.gid > :after AND length(n.gid) = :length AND n.gid GLOB :glob
ORDER BY n.gid LIMIT :limit
"""
ITEM_LINKS_OUT = """
SELECT i.gid, e.type, e.until, e.compartment,
       o.nid, o.gid, o.kind, o.part, o.unit, o.qty, o.consumed, o.status,
       o.created_at, o.created_by, o.props
FROM json_each(?) j
CROSS JOIN nodes i ON i.gid = j.value
CROSS JOIN edges e ON e.src = i.nid
CROSS JOIN nodes o ON o.nid = e.dst
"""
ITEM_LINKS_IN = """
SELECT i.gid, e.type, e.until, e.compartment,
       o.nid, o.gid, o.kind, o.part, o.unit, o.qty, o.consumed, o.status,
       o.created_at, o.created_by, o.props
FROM json_each(?) j
CROSS JOIN nodes i ON i.gid = j.value
CROSS JOIN edges e ON e.dst = i.nid
CROSS JOIN nodes o ON o.nid = e.src
"""
# -- documents: not part of the projection, so a rebuild keeps them
DOCUMENTS = """
SELECT sha256, media_type, size FROM documents WHERE sha256 IN (SELECT value FROM json_each(?))
"""
DOCUMENT = "SELECT sha256, media_type, size, content FROM documents WHERE sha256 = ?"
# The bytes are kept once: a later answer attaching them again, under its own name and media
# type (kept in its event), leaves the row as first stored.
INSERT_DOCUMENT = """
INSERT INTO documents (sha256, media_type, size, content) VALUES (?, ?, ?, ?)
ON CONFLICT (sha256) DO NOTHING
"""
DOCUMENT_DIGESTS = "SELECT sha256 FROM documents ORDER BY sha256"

# -- carts
# flow = 0 and the type keep each half on its index (edges_down / edges_up).
CART_STAYS = """
SELECT l.gid, c.gid, e.compartment, e.qty, e.at, e.until, e.event, e.closed_by
FROM json_each(?1) j CROSS JOIN nodes l ON l.gid = j.value
CROSS JOIN edges e ON e.src = l.nid AND e.flow = 0 AND e.type = 'IN_CART'
CROSS JOIN nodes c ON c.nid = e.dst
UNION
SELECT l.gid, c.gid, e.compartment, e.qty, e.at, e.until, e.event, e.closed_by
FROM json_each(?1) j CROSS JOIN nodes c ON c.gid = j.value
CROSS JOIN edges e ON e.dst = c.nid AND e.flow = 0 AND e.type = 'IN_CART'
CROSS JOIN nodes l ON l.nid = e.src
"""
OPEN_STAYS = """
SELECT l.gid, c.gid, e.compartment, e.qty, e.at, e.until, e.event, e.closed_by
FROM json_each(?) j CROSS JOIN nodes c ON c.gid = j.value
CROSS JOIN edges e ON e.dst = c.nid AND e.flow = 0 AND e.type = 'IN_CART' AND e.until IS NULL
CROSS JOIN nodes l ON l.nid = e.src
"""

# -- part registry
PARTS_WITH_GTINS = """
SELECT json_extract(props, '$.gtin'), gid FROM nodes
WHERE kind = 'part' AND json_extract(props, '$.gtin') IN (SELECT value FROM json_each(?))
"""
PART_FOR_GTIN = """
SELECT n.nid, n.gid, n.kind, n.part, n.unit, n.qty, n.consumed, n.status,
       n.created_at, n.created_by, n.props
FROM nodes n WHERE n.kind = 'part' AND json_extract(n.props, '$.gtin') = ?
"""

# -- lot code schemes
LOT_SCHEMES = "SELECT name, definition FROM lot_schemes ORDER BY name"
SAVE_LOT_SCHEME = """
INSERT INTO lot_schemes (name, definition) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET definition = excluded.definition
"""
NEXT_LOT_SEQUENCE = """
INSERT INTO lot_sequences (key, last) VALUES (?, 1)
ON CONFLICT (key) DO UPDATE SET last = last + 1
RETURNING last
"""
LOT_SEQUENCES = "SELECT key, last FROM lot_sequences ORDER BY key"
SAVE_LOT_SEQUENCE = """
INSERT INTO lot_sequences (key, last) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET last = max(last, excluded.last)
"""
PARTNER_LOTS = """
SELECT s.nid, s.gid, s.kind, s.part, s.unit, s.qty, s.consumed, s.status,
       s.created_at, s.created_by, s.props, r.at, l.gid
FROM nodes c
CROSS JOIN edges f ON f.dst = c.nid AND f.flow = 0 AND f.type = 'FROM'
CROSS JOIN nodes s ON s.nid = f.src
LEFT JOIN edges r ON r.src = s.nid AND r.flow = 1 AND r.type = 'RECEIVED_AS'
LEFT JOIN nodes l ON l.nid = r.dst
WHERE c.gid = ?1
  AND (?2 IS NULL
       OR s.gid IN (SELECT value FROM json_each(?3))
       OR NOT EXISTS (SELECT 1 FROM edges a
                      WHERE a.src = s.nid AND a.flow = 1 AND a.type = 'RECEIVED_AS')
       OR EXISTS (SELECT 1 FROM edges a
                  WHERE a.src = s.nid AND a.flow = 1 AND a.type = 'RECEIVED_AS' AND a.at < ?2))
"""

SHIPPED_TO = """
SELECT c.gid FROM nodes c
WHERE c.gid IN (SELECT value FROM json_each(?))
  AND EXISTS (SELECT 1 FROM edges e WHERE e.dst = c.nid AND e.flow = 1 AND e.type = 'SHIPPED_TO')
"""

LAST_CHAR = "\U0010ffff"

FLOW = frozenset(FLOW_TYPES)
ORPHANS = json.dumps(sorted(ORPHAN_KINDS))
COMPANY_PREFIX = ids.gid("company", "")
# The flow flag as an int: sqlite3 binds a bool only after the slow adaptation lookup.
FLOW_FLAG: dict[str, int] = {kind: 1 for kind in FLOW_TYPES}


# Columns added to the log after its first release: who sent each event, and when it was taken.
EVENT_COLUMNS = "SELECT name FROM pragma_table_info('events')"
ADD_EVENT_COLUMN = {
    "recorded_by": "ALTER TABLE events ADD COLUMN recorded_by TEXT",
    "recorded_at": "ALTER TABLE events ADD COLUMN recorded_at TEXT",
}


def _add_event_columns(conn: sqlite3.Connection) -> None:
    """Bring a file from before the columns up to date (its events keep NULL: not known)."""
    have = {row[0] for row in conn.execute(EVENT_COLUMNS)}
    for column, statement in ADD_EVENT_COLUMN.items():
        if column not in have:
            conn.execute(statement)


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring an older file up to date: the event columns, the names of the events voided
    before void_names was kept, and the counts of marks. Run whenever the schema is brought up
    to date (its text changed), and idempotent: names already kept are kept as they are."""
    _add_event_columns(conn)
    voided = (StoredEvent(*row) for row in conn.execute(VOIDED_EVENTS))
    conn.executemany(INSERT_VOID_NAME, void_names(voided))
    _count_marks(conn)  # a new file's too, here rather than in a write of its own at open


def _counts_hold(conn: sqlite3.Connection) -> bool:
    """Tell whether mark_counts holds for the log (MARKS_COUNTED)."""
    return bool(conn.execute(COUNTS_HOLD, {"counted": MARKS_COUNTED}).fetchone()[0])


def _count_marks(conn: sqlite3.Connection) -> None:
    """Count the live marks of each scheme afresh, in the write transaction `conn` holds,
    unless mark_counts holds for the log."""
    if _counts_hold(conn):
        return
    conn.execute(CLEAR_MARK_COUNTS)
    conn.execute(COUNT_ALL_MARKS)
    conn.execute(MARKS_COUNTED_NOW, (MARKS_COUNTED,))


# sqlite3 binds a None it has no adapter for only after looking up `__adapt__` and `__conform__`,
# each lookup raising and discarding an AttributeError: about 0.4 us per NULL parameter, and an
# edge or node row carries two to six of them. With an adapter the None is found at once; it still
# binds as NULL, so no stored value changes. The adapter is an empty dict's `get` (None for every
# key): a C call, where a Python function cost about 60 ns more for each of the NULLs, some
# eighteen per event of a plant's ingest.
_NO_VALUES: dict[None, None] = {}
sqlite3.register_adapter(type(None), _NO_VALUES.get)
NO_LIMIT = 1 << 30
END_OF_TIME = "9999-12-31T23:59:59.999999Z"


def _node(row: Sequence[Any]) -> NodeView:
    return node_view(
        row[1],
        row[2],
        part=row[3],
        unit=row[4],
        qty=decimal_or_none(row[5]),
        consumed=decimal_or_none(row[6]),
        status=row[7],
        created_at=row[8],
        created_by=row[9],
        props=json.loads(row[10]),
    )


def _nodes(rows: Sequence[Sequence[Any]]) -> list[NodeView]:
    """Decode many node rows; their props are parsed as one JSON array, not one call per row."""
    props = json.loads("[" + ",".join(row[10] for row in rows) + "]")
    return [
        node_view(
            row[1],
            row[2],
            part=row[3],
            unit=row[4],
            qty=decimal_or_none(row[5]),
            consumed=decimal_or_none(row[6]),
            status=row[7],
            created_at=row[8],
            created_by=row[9],
            props=attrs,
        )
        for row, attrs in zip(rows, props, strict=True)
    ]


def _edge(row: Sequence[Any]) -> EdgeView:
    return EdgeView(row[0], row[1], row[2], decimal_or_none(row[3]), row[4], row[5], row[6], row[7])


def _stay(row: Sequence[Any]) -> CartStay:
    return CartStay(row[0], row[1], row[2], decimal_or_none(row[3]), row[4], row[5], row[6], row[7])


def _props_json(props: dict[str, Any]) -> str:
    """Encode a props column: sorted, compact JSON."""
    # orjson: ingest writes a props column for every node it creates, and the standard encoder
    # took about 2 us for one (orjson about 0.3 us).
    return orjson.dumps(props, option=orjson.OPT_SORT_KEYS).decode()


def _ids(values: Iterable[Any]) -> str:
    return json.dumps(list(values))


def _reached(
    conn: sqlite3.Connection, rows: list[Any], direction: Direction, horizon: str
) -> tuple[dict[str, NodeView], list[EdgeView]]:
    """The nodes of a walk's `rows` and the flow edges leaving (down) or entering (up) them."""
    gids = {row[0]: row[1] for row in rows}
    edges = conn.execute(REACHED_EDGES[direction], (_ids(gids), horizon)).fetchall()
    nodes = {view.gid: view for view in _nodes(rows)}
    links = [
        EdgeView(gids[src], gids[dst], kind, decimal_or_none(qty), share, part, at, event)
        for src, dst, kind, qty, share, part, at, event in edges
        if src in gids and dst in gids
    ]
    return nodes, links


def _levels(
    conn: sqlite3.Connection, root: str, direction: Direction, max_depth: int, horizon: str
) -> dict[int, int]:
    """Each node within `max_depth` of `root`, by row id, with its depth: one level at a time,
    each node expanded once."""
    found = conn.execute(NODE_BY_GID, (root,)).fetchone()
    if found is None:
        return {}
    depths = {found[0]: 0}
    frontier = [found[0]]
    for depth in range(1, max_depth + 1):
        if not frontier:
            break
        rows = conn.execute(STEP[direction], (_ids(frontier), horizon)).fetchall()
        frontier = [nid for (nid,) in rows if nid not in depths]
        depths.update(dict.fromkeys(frontier, depth))
    return depths


class EmbeddedTx:
    """One write transaction on the embedded store (the store's write lock is held)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._nids: dict[str, int] = {}

    def find_events(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        rows = self._conn.execute(FIND_EVENTS, (_ids(event_ids),)).fetchall()
        return {row[0]: StoredEvent(*row) for row in rows}

    def items(self, gids: Sequence[str]) -> dict[str, ItemState]:
        found: dict[str, ItemState] = {}
        for row in self._conn.execute(ITEMS, (_ids(gids),)):
            nid, gid, kind, part, unit, qty, consumed, status, created_by, created_at = row
            self._nids[gid] = nid
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
        rows = self._conn.execute(NODE_PROPS, (_ids(gids),)).fetchall()
        return {gid: json.loads(props) for gid, props in rows}

    def open_carts(self, lots: Sequence[str]) -> dict[str, list[str]]:
        carts: dict[str, list[str]] = {}
        for lot, cart in self._conn.execute(OPEN_CARTS, (_ids(lots),)):
            carts.setdefault(lot, []).append(cart)
        return carts

    def links_by_others(self, gids: Sequence[str], event_id: str) -> list[tuple[str, str, str]]:
        rows = self._conn.execute(LINKS_BY_OTHERS, (_ids(gids), event_id)).fetchall()
        return [(gid, kind, event) for gid, kind, event in rows]

    def linking_events_after(self, gids: Sequence[str], seq: int) -> list[StoredEvent]:
        rows = self._conn.execute(LINKING_EVENTS_AFTER, (_ids(gids), seq)).fetchall()
        return [StoredEvent(*row) for row in rows]

    def dependents(self, event_id: str) -> list[str]:
        rows = self._conn.execute(DEPENDENTS, {"event": event_id}).fetchall()
        return sorted(row[0] for row in rows)

    def status_rows(self, gids: Sequence[str]) -> list[StatusRow]:
        return [StatusRow(*row) for row in self._conn.execute(STATUS_ROWS, (_ids(gids),))]

    def apply(self, changes: Changes) -> None:
        conn = self._conn
        status_nids: set[int] = set()
        for void in changes.voided:
            event_id = void.event_id
            status_nids.update(row[0] for row in conn.execute(STATUS_NIDS_OF_EVENT, (event_id,)))
            conn.execute(REOPEN_CARTS, (event_id,))
            marks = conn.execute(MARKS_OF_EVENT, (event_id, _ids(void.gids))).fetchall()
            if marks:
                conn.execute(COUNT_MARKS, (orjson.dumps(marks).decode(), -1))
            conn.execute(DELETE_EDGES_OF_EVENT, (event_id, _ids(void.gids)))
            conn.execute(DELETE_STATUS_OF_EVENT, (event_id,))
            conn.execute(DELETE_NODES_OF_EVENT, (event_id,))
        if changes.voided:
            self._nids.clear()  # deleted nodes may be created again under new row ids
        next_nid = conn.execute(MAX_NID).fetchone()[0] + 1
        nids = self._nids
        # A node the batch creates is written with what the batch consumes of it and the status
        # it leaves it in (all its history is in the batch), not written and then updated.
        consumed = dict(changes.consumed)
        status = latest_statuses(changes.statuses)
        made = {node.gid for node in changes.nodes}
        node_rows = []
        for nid, node in enumerate(changes.nodes, start=next_nid):
            nids[node.gid] = nid
            qty = node.qty
            used: str | None = None
            if node.kind in MATERIAL:
                given = consumed.pop(node.gid, None)
                used = "0" if given is None else plain(given)
            node_rows.append(
                (
                    nid,
                    node.gid,
                    node.kind,
                    node.part,
                    node.unit,
                    None if qty is None else plain(qty),
                    used,
                    status.get(node.gid),
                    node.created_by,
                    node.created_at,
                    _props_json(node.props),
                )
            )
        conn.executemany(INSERT_NODE, node_rows)
        self._resolve(
            [e.src for e in changes.edges]
            + [e.dst for e in changes.edges]
            + [c.lot for c in changes.cart_closes]
            + [c.cart for c in changes.cart_closes]
            + [s.gid for s in changes.statuses]
            + list(consumed)
        )
        conn.executemany(
            INSERT_EDGE,
            [
                (
                    nids[e.src],
                    nids[e.dst],
                    e.type,
                    FLOW_FLAG.get(e.type, 0),
                    e.at,
                    e.event,
                    None if e.qty is None else plain(e.qty),
                    e.share,
                    e.part,
                    e.until,
                    e.compartment,
                )
                for e in changes.edges
            ],
        )
        marks = [[nids[e.src], nids[e.dst]] for e in changes.edges if e.type == "MARKS"]
        if marks:
            conn.execute(COUNT_MARKS, (orjson.dumps(marks).decode(), 1))
        runs = [
            [nids[e.dst], _run_days(e.at, e.until)]
            for e in changes.edges
            if e.type == "ON" and e.until
        ]
        if runs:
            conn.execute(RAISE_RUN_BOUNDS, (orjson.dumps(runs).decode(),))
        # In order, a run of closes of each kind at a time.
        for by_load, closes in groupby(changes.cart_closes, key=lambda c: c.loaded is not None):
            conn.executemany(
                CLOSE_STAY if by_load else CLOSE_CART,
                [
                    (c.at, c.event, nids[c.lot], nids[c.cart], *([c.loaded] if by_load else []))
                    for c in closes
                ],
            )
        conn.executemany(
            INSERT_STATUS,
            [(nids[s.gid], s.status, s.reason, s.at, s.event) for s in changes.statuses],
        )
        status_nids.update(nids[s.gid] for s in changes.statuses if s.gid not in made)
        conn.executemany(
            SET_CONSUMED,
            [(plain(value), nids[gid]) for gid, value in consumed.items() if gid in nids],
        )
        conn.executemany(
            MERGE_PROPS,
            [(_props_json(props), gid) for gid, props in changes.props.items()],
        )
        if status_nids:
            conn.execute(RECOMPUTE_STATUS, (_ids(sorted(status_nids)),))
        conn.executemany(INSERT_EVENT, changes.events)
        if changes.events:
            conn.execute(KEEP_MARKS_COUNTED, (MARKS_COUNTED, len(changes.events)))
        # Voids however they come (planned, or carried by a copy of the log); voids are rare.
        voided = [e.voids for e in changes.events if e.voids is not None]
        if voided:
            names = void_names(self.find_events(voided).values())
            conn.executemany(INSERT_VOID_NAME, names)
        conn.executemany(
            INSERT_DOCUMENT,
            [(d.sha256, d.media_type, d.size, d.content) for d in changes.documents],
        )
        # Last: what a void left unlinked may be linked again by this same batch's events.
        for void in changes.voided:
            conn.execute(RELINK_SUPPLIER_LOTS, (_ids(void.gids), COMPANY_PREFIX))
            conn.execute(DELETE_ORPHANS, (_ids(void.gids), ORPHANS))

    def _resolve(self, gids: Iterable[str]) -> None:
        """Learn the row ids of the given nodes that this transaction has not seen yet."""
        missing = {gid for gid in gids if gid not in self._nids}
        if missing:
            self._nids.update(self._conn.execute(NIDS, (_ids(sorted(missing)),)).fetchall())

    # -- secondary marks

    def mark_schemes(self) -> list[MarkSchemeRow]:
        return [MarkSchemeRow(*row) for row in self._conn.execute(MARK_SCHEMES)]

    def save_mark_scheme(self, row: MarkSchemeRow) -> None:
        self._conn.execute(SAVE_MARK_SCHEME, (row.name, row.definition))

    def marks_in_use(self, marks: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        found: dict[str, list[tuple[str, str]]] = {}
        for mark, item, event in self._conn.execute(MARKS_IN_USE, (_ids(marks),)):
            found.setdefault(mark, []).append((item, event))
        return found

    def item_marks(self, items: Sequence[str]) -> dict[str, list[tuple[str, str | None, str]]]:
        """Return, per item gid, the (mark gid, scheme, event id) of each live mark on it."""
        found: dict[str, list[tuple[str, str | None, str]]] = {}
        for item, mark, scheme, event in self._conn.execute(ITEM_MARKS, (_ids(items),)):
            found.setdefault(item, []).append((mark, scheme, event))
        return found

    # -- part registry

    def parts_with_gtins(self, gtins: Sequence[str]) -> dict[str, str]:
        return dict(self._conn.execute(PARTS_WITH_GTINS, (_ids(gtins),)).fetchall())

    # -- lot code schemes

    def lot_schemes(self) -> list[LotSchemeRow]:
        return [LotSchemeRow(*row) for row in self._conn.execute(LOT_SCHEMES)]

    def save_lot_scheme(self, row: LotSchemeRow) -> None:
        self._conn.execute(SAVE_LOT_SCHEME, (row.name, row.definition))

    def save_lot_sequence(self, key: str, last: int) -> None:
        self._conn.execute(SAVE_LOT_SEQUENCE, (key, last))

    def next_lot_sequence(self, key: str) -> int:
        found: int = self._conn.execute(NEXT_LOT_SEQUENCE, (key,)).fetchone()[0]
        return found

    # -- carts

    def open_stays(self, carts: Sequence[str]) -> list[CartStay]:
        rows = self._conn.execute(OPEN_STAYS, (_ids(carts),)).fetchall()
        return sorted_stays([_stay(row) for row in rows])

    def cart_stays(self, gids: Sequence[str]) -> list[CartStay]:
        rows = self._conn.execute(CART_STAYS, (_ids(gids),)).fetchall()
        return sorted_stays([_stay(row) for row in rows])

    # -- documents

    def documents(self, digests: Sequence[str]) -> dict[str, StoredDocument]:
        rows = self._conn.execute(DOCUMENTS, (_ids(digests),)).fetchall()
        return {row[0]: StoredDocument(*row) for row in rows}


def remove_store(path: Path) -> None:
    """Delete the store at `path` and its keeps; StoreBusy while a process has it open,
    BadRequest for a file that is not SQLite or is another application's database (an empty
    file is taken: SQLite reads it as an empty store)."""
    check_removable(path)
    for file in store_files(path):
        file.unlink(missing_ok=True)


def replace_store(made: Path, path: Path) -> None:
    """Put the closed store `made` in the place of `path` (whose store, if any, goes as
    `remove_store` removes it), in one rename: `path` is never without a whole store."""
    if any(keep.exists() for keep in store_files(made)[1:]):  # what it holds is not all in it
        raise StoreBusy(f"{made} is open in another process: it stays as it is")
    check_removable(path)
    for keep in store_files(path)[1:]:
        keep.unlink(missing_ok=True)
    os.replace(made, path)


def check_removable(path: Path) -> None:
    """Raise what `remove_store` would raise for `path`: StoreBusy while a process has it open,
    BadRequest if it is no SQLite file or another application's database; nothing for a store
    it may remove."""
    if not path.exists():
        return
    check_no_store_beside(path)  # the probe would take it for the store's own log
    probe = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        # Every connection to a WAL store shares its -shm file; a transaction in exclusive
        # locking mode needs the store to itself, so it fails while anyone (a running
        # server, idle or not) has the file open. Deleting or emptying it then would leave
        # them serving and writing a file no one else can open.
        probe.execute("PRAGMA locking_mode = EXCLUSIVE")
        probe.execute("BEGIN EXCLUSIVE")
        foreign = foreign_tables(probe, [SCHEMA])
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise StoreUnavailable(f"cannot open {path}: {error}") from error
        raise StoreBusy(
            f"{path} is open in another process (a server on it?): stop that first"
        ) from error
    except sqlite3.DatabaseError as error:
        # Notes or a document where a store was meant: not ours to delete.
        raise BadRequest(
            f"{path} is not a store (not an SQLite file): it stays as it is; name a store "
            "file or a new one"
        ) from error
    finally:
        probe.close()
    if foreign:
        raise BadRequest(
            f"{not_ours(path, foreign)}; it stays as it is: name a store file or a new one"
        )


def empty_store(path: Path) -> None:
    """Empty the store at `path` into a file of no bytes, which SQLite reads as an empty store:
    the file stays (its owner and mode), what it held and its keeps go. Refused as
    `remove_store` refuses."""
    check_removable(path)
    os.truncate(path, 0)
    for keep in store_files(path)[1:]:
        keep.unlink(missing_ok=True)


class EmbeddedStore:
    """The default store: durable, transactional, one file; safe to share between threads."""

    def __init__(self, path: str | Path, *, finishing_copy: bool = False) -> None:
        """Open (or make) the store at `path`; raise StoreUnavailable for a file a copy left
        unfinished, unless `finishing_copy` (the copy that finishes it opens it)."""
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        # Read once, before the schema is brought up to date (which leaves this stamp alone): a
        # later release's file is refused as it is.
        projection = _version(read_stamp(self.path, PROJECTION_STAMP))
        refuse_newer(str(self.path), projection)
        ensure_schema(self.path, self._conn, "graph", SCHEMA, _migrate)
        source = None if finishing_copy else self._unfinished_copy()
        if source is not None:
            self.close()
            raise refused_unfinished(str(self.path), source)
        counted_if_free(self._count_marks, str(self.path))
        # A graph of no events is the same in every version: a new store is current.
        if projection != PROJECTION and not self._logged_any():
            self.stamp_projection(PROJECTION)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            for pragma in PRAGMAS:
                conn.execute(pragma)
            self._local.conn = conn
            with self._guard:
                self._all.append(conn)
        return conn

    def write(self, work: Callable[[EmbeddedTx], T]) -> T:
        conn = self._conn()
        # Inside `atomically`, a write is a savepoint of the enclosing transaction.
        begin, undo, end = (
            ("SAVEPOINT write", ("ROLLBACK TO write", "RELEASE write"), "RELEASE write")
            if getattr(self._local, "atomic", False)
            else ("BEGIN IMMEDIATE", ("ROLLBACK",), "COMMIT")
        )
        begin_write(conn, begin)
        try:
            result = work(EmbeddedTx(conn))
        except BaseException:
            roll_back(conn, *undo)
            raise
        commit(conn, end)
        return result

    @contextmanager
    def taking_over_rebuild(self) -> Iterator[None]:
        yield  # a rebuild is one transaction: one that stopped left nothing behind

    @contextmanager
    def held_for_copy(self) -> Iterator[None]:
        yield  # the copy holds the store's file itself (api.cli_copy's flock)

    @contextmanager
    def atomically(self) -> Iterator[bool]:
        if getattr(self._local, "atomic", False):  # in `one_rebuild`: its transaction
            yield True
            return
        conn = self._conn()
        begin_write(conn)
        self._local.atomic = True
        try:
            yield True
        except BaseException:
            roll_back(conn)
            raise
        else:
            commit(conn)
        finally:
            self._local.atomic = False

    @contextmanager
    def one_rebuild(self) -> Iterator[None]:
        # The write lock held for the block: reads in it see what the last writer left.
        with self.atomically():
            yield

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn()
        conn.execute("BEGIN")
        # Ended as a write is: after an I/O error SQLite may have ended the transaction itself
        # (a COMMIT would then fail and hide that error), and one whose COMMIT fails must not
        # stay open, or every later use of this thread's connection fails.
        try:
            result = work(conn)
        except BaseException:
            roll_back(conn)
            raise
        commit(conn)
        return result

    def node(self, gid: str) -> NodeView | None:
        row = self._conn().execute(NODE_BY_GID, (gid,)).fetchone()
        return None if row is None else _node(row)

    def nodes(self, gids: Sequence[str]) -> dict[str, NodeView]:
        rows = self._conn().execute(NODES_BY_GID, (_ids(gids),)).fetchall()
        return {view.gid: view for view in map(_node, rows)}

    def status_rows(self, gids: Sequence[str]) -> list[StatusRow]:
        return [StatusRow(*row) for row in self._conn().execute(STATUS_ROWS, (_ids(gids),))]

    def links(self, gids: Sequence[str]) -> list[EdgeView]:
        rows = self._conn().execute(LINKS, (_ids(gids),)).fetchall()
        return [_edge(row) for row in rows]

    def context_links(
        self, gids: Sequence[str], type_: str, *, into: bool, limit: int | None = None
    ) -> list[EdgeView]:
        if (type_, into) not in NODE_CONTEXT:
            raise ValueError(f"not a node's context links read alone: {type_} (into: {into})")
        params = (_ids(dict.fromkeys(gids)), type_, -1 if limit is None else limit)
        return [_edge(row) for row in self._conn().execute(CONTEXT_LINKS[into], params)]

    def serialized_from(self, serials: Sequence[str]) -> list[tuple[NodeView, NodeView]]:
        rows = self._conn().execute(SERIALIZED_FROM, (_ids(serials),)).fetchall()
        return [(_node(row[:11]), _node(row[11:])) for row in rows]

    def nodes_of_kind(self, kind: str, limit: int, after: str | None = None) -> list[NodeView]:
        # ";" follows ":": the range holds every gid "kind:..." and nothing else.
        params = (ids.gid(kind, ""), f"{kind};", kind, limit, after or "")
        return [_node(row) for row in self._conn().execute(NODES_OF_KIND, params)]

    def subgraph(
        self, root: str, direction: Direction, max_depth: int | None, as_of: str | None
    ) -> Subgraph | None:
        def run(conn: sqlite3.Connection) -> Subgraph | None:
            horizon = as_of or END_OF_TIME
            if max_depth is None:
                rows = conn.execute(WALK[direction], (root, horizon)).fetchall()
                levels = None
            else:
                levels = _levels(conn, root, direction, max_depth, horizon)
                rows = conn.execute(NODES_BY_NID, (_ids(levels),)).fetchall()
            if not rows:  # the walk starts from the root's row: an unknown root reaches nothing
                return None
            nodes, links = _reached(conn, rows, direction, horizon)
            if levels is None:
                depths = bfs_depths(root, direction, links)
            else:
                gids = {row[0]: row[1] for row in rows}
                depths = {gids[nid]: depth for nid, depth in levels.items()}
            return Subgraph(nodes[root], depths, nodes, links)

        return self._read(run)

    def reached(self, roots: Sequence[str], direction: Direction) -> Reach:
        def run(conn: sqlite3.Connection) -> Reach:
            rows = conn.execute(WALK_FROM_ALL[direction], (_ids(roots), END_OF_TIME)).fetchall()
            return Reach(*_reached(conn, rows, direction, END_OF_TIME))

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
        def run(conn: sqlite3.Connection) -> list[StepUse]:
            # What is left to read, each read taking from it: one past the limit, or all (SQLite
            # reads a negative LIMIT as none, and one that starts negative stays so).
            left = -1 if limit is None else limit + 1

            def edges(query: str, step_ids: str) -> list[EdgeView]:
                nonlocal left
                found = [_edge(row) for row in conn.execute(query, (step_ids, left))]
                left -= len(found)
                return found

            bound = conn.execute(RUN_BOUND, (equipment,)).fetchone()
            found = conn.execute(
                EQUIPMENT_STEPS, (equipment, end, start, left, site, _earliest(start, bound))
            )
            steps = [_node(row) for row in found]
            left -= len(steps)
            step_ids = _ids(step.gid for step in steps)
            consumed: dict[str, list[EdgeView]] = {}
            produced: dict[str, list[EdgeView]] = {}
            for edge in edges(STEP_INPUTS, step_ids) if inputs else ():
                consumed.setdefault(edge.dst, []).append(edge)
            for edge in edges(STEP_OUTPUTS, step_ids) if outputs else ():
                produced.setdefault(edge.src, []).append(edge)
            return [
                StepUse(step, consumed.get(step.gid, []), produced.get(step.gid, []))
                for step in steps
            ]

        return self._read(run)

    def events(self, after_seq: int, limit: int) -> list[StoredEvent]:
        rows = self._conn().execute(EVENTS_AFTER, (after_seq, limit)).fetchall()
        return [StoredEvent(*row) for row in rows]

    def recall_events(self, after_seq: int, limit: int) -> list[StoredEvent]:
        rows = self._conn().execute(RECALL_EVENTS_AFTER, (after_seq, limit)).fetchall()
        return [StoredEvent(*row) for row in rows]

    def recall_events_of(self, case: str, notices: Sequence[str]) -> list[StoredEvent]:
        rows = self._conn().execute(RECALL_EVENTS_OF, (case, _ids(notices))).fetchall()
        return [StoredEvent(*row) for row in rows]

    def logged(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        rows = self._conn().execute(FIND_EVENTS, (_ids(event_ids),)).fetchall()
        return {row[0]: StoredEvent(*row) for row in rows}

    def voided_events(self) -> list[StoredEvent]:
        return [StoredEvent(*row) for row in self._conn().execute(VOIDED_EVENTS)]

    def voided_naming(self, gids: Sequence[str]) -> list[StoredEvent]:
        rows = self._conn().execute(VOIDED_NAMING, (_ids(gids),)).fetchall()
        return [StoredEvent(*row) for row in rows]

    def status_setters(self, gids: Sequence[str]) -> list[str]:
        return [row[0] for row in self._conn().execute(STATUS_SETTERS, (_ids(gids),))]

    def statuses_at(self, gids: Sequence[str], at: str) -> dict[str, str]:
        return dict(self._conn().execute(STATUSES_AT, (_ids(gids), at)).fetchall())

    def linked_by(self, gid: str, at: str) -> bool:
        return bool(self._conn().execute(LINKED_BY, (gid, at)).fetchone()[0])

    def clear_projection(self) -> None:
        def clear(_: EmbeddedTx) -> None:
            conn = self._conn()
            for statement in CLEAR_PROJECTION:
                conn.execute(statement)
            # Only a rebuild clears the graph: its count is part of the change mark.
            conn.execute(COUNT_REBUILD, (REBUILDS,))

        self.write(clear)

    def change_mark(self) -> tuple[int | None, str | None, str | None] | None:
        """A mark of what the store holds, changed by every event recorded and every rebuild
        (TraceCache); None inside a write of this thread: what it wrote may yet be rolled back,
        and the numbers of its events given to others."""
        conn = self._conn()
        if conn.in_transaction:
            return None
        seq, stamp, rebuilds = conn.execute(CHANGE_MARK, (PROJECTION_STAMP, REBUILDS)).fetchone()
        return seq, stamp, rebuilds

    def projection_version(self) -> int | None:
        row = self._conn().execute(READ_STAMP, (PROJECTION_STAMP,)).fetchone()
        return _version(None if row is None else row[0])

    def stamp_projection(self, version: int) -> None:
        self.write(lambda _: self._conn().execute(WRITE_STAMP, (PROJECTION_STAMP, str(version))))

    def _unfinished_copy(self) -> str | None:
        """The store a copy into this one was copying, if that copy has not finished."""
        row = self._conn().execute(READ_META, (UNFINISHED_COPY,)).fetchone()
        return None if row is None else str(row[0])

    def mark_copy(self, source: str | None) -> None:
        """Mark this store an unfinished copy of `source`, or with None, a finished one."""

        def mark(_: EmbeddedTx) -> None:
            if source is None:
                self._conn().execute(DELETE_META, (UNFINISHED_COPY,))
            else:
                self._conn().execute(WRITE_META, (UNFINISHED_COPY, source))

        self.write(mark)

    def _count_marks(self) -> None:
        """Count the live marks of each scheme afresh where mark_counts does not hold for the
        log (a file a release from before the counts wrote into since it was brought up to
        date): under the write lock, which first looks again, so two processes opening the file
        at once count once and no write comes between the count and its mark."""
        if not _counts_hold(self._conn()):
            self.write(lambda _: _count_marks(self._conn()))

    def _logged_any(self) -> bool:
        return bool(self._conn().execute(ANY_EVENT).fetchone()[0])

    def counts(self) -> dict[str, int]:
        conn = self._conn()
        counts = {kind: count for kind, count in conn.execute(COUNT_KINDS)}
        counts["edges"] = conn.execute(COUNT_EDGES).fetchone()[0]
        counts["events"] = conn.execute(COUNT_EVENTS).fetchone()[0]
        return counts

    def close(self) -> None:
        with self._guard:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    # -- secondary marks

    def mark_schemes(self) -> list[MarkSchemeRow]:
        return [MarkSchemeRow(*row) for row in self._conn().execute(MARK_SCHEMES)]

    def mark_usage(self, scheme: str) -> tuple[int, int | None]:
        count, last = self._conn().execute(MARK_USAGE, (scheme,)).fetchone()
        return count, None if last is None else int(last)

    def marks_seen_by(self, scheme: str, site: str) -> int:
        params = {"scheme": scheme, "site": site, "counted": MARKS_COUNTED}
        count: int = self._conn().execute(MARKS_SEEN_BY, params).fetchone()[0]
        return count

    def last_mark_index(self, scheme: str) -> int | None:
        last = self._conn().execute(LAST_MARK_INDEX, (scheme,)).fetchone()[0]
        return None if last is None else int(last)

    def marks_used(
        self, schemes: Sequence[str], site: str | None = None
    ) -> dict[str, tuple[int, int | None]]:
        params = {"schemes": _ids(schemes), "site": site, "counted": MARKS_COUNTED}
        rows = self._conn().execute(MARKS_USED if site is None else MARKS_USED_SEEN_BY, params)
        return {name: (used, None if last is None else int(last)) for name, used, last in rows}

    def marked_items(self, marks: Sequence[str]) -> list[MarkedItem]:
        rows = self._conn().execute(MARKED_ITEMS, (_ids(marks),)).fetchall()
        return [MarkedItem(row[0], row[1], _node(row[2:])) for row in rows]

    def items_matching(
        self, prefix: str, pattern: str, limit: int, after: str = ""
    ) -> list[NodeView]:
        glob = "".join("?" if char == "?" else _glob_literal(char) for char in pattern)
        high = _after_prefix(prefix)
        params = {
            "low": prefix,
            "after": after,
            "high": high,
            "length": len(pattern),
            "glob": glob,
            "limit": limit,
        }
        statement = ITEMS_MATCHING if high is not None else ITEMS_MATCHING_ON
        return [_node(row) for row in self._conn().execute(statement, params)]

    def item_links(self, gids: Sequence[str]) -> list[ItemLink]:
        def run(conn: sqlite3.Connection) -> list[ItemLink]:
            links = []
            for statement, outgoing in ((ITEM_LINKS_OUT, True), (ITEM_LINKS_IN, False)):
                for row in conn.execute(statement, (_ids(gids),)):
                    links.append(ItemLink(row[0], outgoing, row[1], row[2], row[3], _node(row[4:])))
            return links

        return self._read(run)

    # -- part registry

    def part_for_gtin(self, gtin: str) -> NodeView | None:
        row = self._conn().execute(PART_FOR_GTIN, (gtin,)).fetchone()
        return None if row is None else _node(row)

    def parts(self) -> list[NodeView]:
        return self.nodes_of_kind("part", NO_LIMIT)

    # -- lot code schemes

    def lot_schemes(self) -> list[LotSchemeRow]:
        return [LotSchemeRow(*row) for row in self._conn().execute(LOT_SCHEMES)]

    def partner_lots(
        self, company: str, *, received_before: str | None = None, keep: Sequence[str] = ()
    ) -> list[PartnerLot]:
        rows = self._conn().execute(PARTNER_LOTS, (company, received_before, _ids(keep))).fetchall()
        return partner_lots((_node(row[:11]), row[11], row[12]) for row in rows)

    def shipped_to(self, companies: Sequence[str]) -> set[str]:
        by_gid = {ids.gid("company", c): c for c in companies}
        return {by_gid[row[0]] for row in self._conn().execute(SHIPPED_TO, (_ids(by_gid),))}

    def lot_sequences(self) -> dict[str, int]:
        return dict(self._conn().execute(LOT_SEQUENCES).fetchall())

    # -- carts

    def cart_stays(self, gids: Sequence[str]) -> list[CartStay]:
        rows = self._conn().execute(CART_STAYS, (_ids(gids),)).fetchall()
        return sorted_stays([_stay(row) for row in rows])

    # -- documents

    def document(self, digest: str) -> DocumentRow | None:
        row = self._conn().execute(DOCUMENT, (digest,)).fetchone()
        return None if row is None else DocumentRow(row[0], row[1], row[2], bytes(row[3]))

    def document_digests(self) -> list[str]:
        return [row[0] for row in self._conn().execute(DOCUMENT_DIGESTS)]


def _earliest(start: str, bound: tuple[float] | None) -> str:
    """The earliest start of a run that may reach `start`: the equipment's longest run before it,
    and a second more for the rounding of days as floats ("" with no run: none to read)."""
    if bound is None:
        return ""
    began = datetime.fromisoformat(start)  # reads the Z as UTC
    try:
        return utc_text(began - timedelta(days=bound[0], seconds=1))
    except OverflowError:  # a run longer than the calendar before the window: read them all
        return ""


def _run_days(start: str, end: str) -> float:
    """How long a run lasted, in days. Not by SQLite's julianday(), which rounds to the
    millisecond: a run ending in the last one of year 9999 rounds into year 10000 and reads as
    no length at all, which left the run unbounded or refused its batch."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)) / timedelta(days=1)


def _version(stamp: str | None) -> int | None:
    return None if stamp is None else int(stamp)


def _after_prefix(prefix: str) -> str | None:
    """The least string above every one beginning with `prefix` in SQLite's order of text (by
    code point), or None if there is none (an empty prefix, or one of U+10FFFF alone): `prefix`
    with its last character's successor, once the trailing U+10FFFF, which has none, are
    dropped. U+10FFFF appended bounded nothing: an id holding it after the prefix was left out."""
    head = prefix.rstrip(LAST_CHAR)
    if not head:
        return None
    last = ord(head[-1]) + 1
    return head[:-1] + chr(0xE000 if last == 0xD800 else last)  # surrogates are not text


def _glob_literal(char: str) -> str:
    """Quote one character for GLOB: its wildcards match themselves only inside brackets."""
    return f"[{char}]" if char in "*?[" else char
