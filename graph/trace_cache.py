"""Traces computed once and read again while nothing is recorded: the pages of one trace.

A client paging through a trace asks for it once per page; each ask computing it again costs a
whole trace a page (80 ms and more for thousands of nodes). What is kept is the trace as the
store answers it, before any caller's scope: each caller's view is cut from it on every read
(api.access), so one caller's view is never another's answer.

An entry is found by its store (the object, held weakly: a closed store's entries are never
found again), root, direction, depth limit and horizon, and by the store's change mark, read
before the trace is computed: any event recorded since (a void and a status change are events
too) gives another mark, and so does any rebuild of the graph from its log (even one that leaves
the log and the projection version as they were), so a trace computed before it is not found.
A trace computed while an event was being recorded may hold it and still be kept under the mark
read before it: a later read sees a newer mark and computes the trace again; none sees a trace
older than its mark.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from graph.trace import Trace

# Bounds of the traces kept per process: entries, and nodes and edges over all of them (a node
# with its attributes is under a kilobyte, so at most some tens of megabytes). A trace larger
# than a quarter of the bound is not kept: it would push out every other.
ENTRIES = 32
ITEMS = 100_000


@runtime_checkable
class ChangeMarked(Protocol):
    """A store that tells a mark of what it holds, changed by every event recorded and every
    rebuild; None when it cannot tell one that will hold (its traces are then not kept)."""

    def change_mark(self) -> Hashable | None: ...


class TraceCache:
    """A bounded, thread-safe cache of computed traces, least recently used dropped first."""

    def __init__(self, entries: int = ENTRIES, items: int = ITEMS) -> None:
        self._entries = entries
        self._items = items
        self._held = 0
        self._kept: OrderedDict[Hashable, tuple[Trace, int]] = OrderedDict()
        self._lock = threading.Lock()

    def trace(self, store: object, key: Hashable, compute: Callable[[], Trace]) -> Trace:
        """The trace of `key` in `store`: kept, or computed by `compute` and kept. A store that
        tells no change mark (not ChangeMarked, or None) has its traces computed each time."""
        mark = store.change_mark() if isinstance(store, ChangeMarked) else None
        if mark is None:
            return compute()
        # weakref.ref: equal to another only while its store lives, so an entry of a store
        # that was closed and collected is never found for one opened in its place.
        full = (weakref.ref(store), key, mark)  # the mark read before the trace is computed
        with self._lock:
            found = self._kept.get(full)
            if found is not None:
                self._kept.move_to_end(full)
                return found[0]
        made = compute()
        size = len(made.nodes) + len(made.edges)
        if size * 4 > self._items:
            return made
        with self._lock:
            if full not in self._kept:
                self._kept[full] = (made, size)
                self._held += size
            while len(self._kept) > self._entries or self._held > self._items:
                _, (_, dropped) = self._kept.popitem(last=False)
                self._held -= dropped
        return made

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._held = 0


# The process's cache: every request's Access reads traces through it.
TRACES = TraceCache()
