"""A site's use of a scheme: the live marks on what it may read, kept as marks are made and
voided, made again by a rebuild, counted afresh as a store they do not hold for is opened, and
read without walking the scheme's other marks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import graph.embedded_store
from graph.connect import open_store
from graph.embedded_store import MARKS_COUNTED, EmbeddedStore
from graph.errors import StoreBusy
from graph.projection import PROJECTION
from graph.store import GraphStore
from ingest.models import ItemRef
from ingest.service import IngestService
from marking.schemes import Scheme
from marking.service import MarkingService
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events
from tests.marking.conftest import SCREWS, define_schemes

SITES = ("PLANT-1", "PLANT-2", "PLANT-9")


def _lots(events: Events) -> list[dict[str, Any]]:
    """Screws at two sites and at none, and a bolt, whose part no scheme's family holds."""
    at = {"S-1": "PLANT-1", "S-2": "PLANT-1", "S-3": "PLANT-2", "S-4": "PLANT-2", "S-0": None}
    return [
        events.receive(key, 10, part="SCREW-M4", supplier_lot=f"A-{key}", **_site(site))
        for key, site in at.items()
    ] + [events.receive("B-1", 10, part="BOLT", site="PLANT-1", supplier_lot="A-B")]


def _site(site: str | None) -> dict[str, str]:
    return {"site": site} if site else {}


def _recounted(store: GraphStore, scheme: str, site: str) -> int:
    """The live marks of `scheme` on what `site` may read, found item by item."""
    lots = [f"lot:{key}" for key in ("S-0", "S-1", "S-2", "S-3", "S-4", "B-1")]
    return sum(
        1
        for link in store.item_links(lots)
        if link.type == "MARKS"
        and link.other.attrs.get("scheme") == scheme
        and store.node(link.item).attrs.get("site") in (site, None)  # type: ignore[union-attr]
    )


def _seen(store: GraphStore) -> dict[str, int]:
    counts = {site: store.marks_seen_by("SCREWS", site) for site in SITES}
    assert counts == {site: _recounted(store, "SCREWS", site) for site in SITES}
    many = {site: store.marks_used(["PLATES", "SCREWS"], site)["SCREWS"][0] for site in SITES}
    assert many == counts  # read with other schemes' counts alike, walked or counted
    return counts


def test_a_sites_count_follows_marks_and_voids_and_a_rebuild_makes_it_again(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    ingest = IngestService(store)
    ingest.ingest(_lots(events))
    issued = {key: marking.issue_mark(ItemRef(lot=key)) for key in ("S-1", "S-2", "S-3", "S-0")}
    ingest.ingest([events("mark", target={"lot": "B-1"}, code="ZZ9")])  # of no scheme
    assert _seen(store) == {"PLANT-1": 3, "PLANT-2": 2, "PLANT-9": 1}

    # A void takes its mark out of the count; a code voided may mark another item, of
    # another site; a void and a new mark of the same item in one batch count both.
    ingest.ingest([events("void", voids=issued["S-3"].event_id, reason="wrong lot")])
    assert _seen(store) == {"PLANT-1": 3, "PLANT-2": 1, "PLANT-9": 1}
    ingest.ingest([events("mark", target={"lot": "S-4"}, code=issued["S-3"].code)])
    ingest.ingest(
        [
            events("void", voids=issued["S-1"].event_id, reason="worn off"),
            events("mark", target={"lot": "S-1"}, code="ZZA"),
            events("void", voids=issued["S-0"].event_id, reason="wrong lot"),
        ]
    )
    assert _seen(store) == {"PLANT-1": 2, "PLANT-2": 1, "PLANT-9": 0}
    assert store.marks_seen_by("PLATES", "PLANT-1") == 0

    assert ingest.rebuild() > 0
    assert _seen(store) == {"PLANT-1": 2, "PLANT-2": 1, "PLANT-9": 0}


def _marked(store: GraphStore, events: Events) -> MarkingService:
    """The lots, each screw marked; return the marking service."""
    IngestService(store).ingest(_lots(events))
    marking = define_schemes(store)
    for key in ("S-1", "S-2", "S-3", "S-0"):
        marking.issue_mark(ItemRef(lot=key))
    return marking


def _counted_as_opened_at_once(open_one: Callable[[], GraphStore]) -> None:
    """Open a store of the plant `_marked` made twice at once: each counts its marks as it
    opens (what a site keeps and sees of them), and neither asks for a rebuild."""
    for opened in _opened_at_once(open_one):
        try:
            assert _kept(opened) == {"PLANT-1": 2, "PLANT-2": 1, "": 1}
            assert _seen(opened) == {"PLANT-1": 3, "PLANT-2": 2, "PLANT-9": 1}
            assert IngestService(opened).bring_up_to_date() is None  # nothing to rebuild
        finally:
            opened.close()


def _opened_at_once(open_one: Callable[[], GraphStore]) -> list[GraphStore]:
    """Open a store in two threads at once, as two processes started together do."""
    opened: list[GraphStore] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            opened.append(open_one())
        except BaseException as error:
            failed.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in opened:
        assert store.projection_version() == PROJECTION
    if failed:
        for store in opened:
            store.close()
        raise failed[0]
    return opened


def test_an_embedded_store_from_before_the_counts_gets_them_as_it_is_opened_not_rebuilt(
    tmp_path: Path, events: Events
) -> None:
    path = tmp_path / "older.db"
    store = EmbeddedStore(path)
    _marked(store, events)
    # As a release before the counts left the file: no table of them, no mark of how far they
    # hold, its schema text, and the projection version, which the counts leave as it was.
    store._conn().execute("DROP TABLE mark_counts")
    store._conn().execute("DELETE FROM meta WHERE key = ?", (MARKS_COUNTED,))
    store._conn().execute("UPDATE schema_stamps SET digest = 'older' WHERE name = 'graph'")
    store.close()
    _counted_as_opened_at_once(lambda: EmbeddedStore(path))


def test_a_neo4j_graph_from_before_the_counts_gets_them_as_it_is_opened_not_rebuilt(
    request: pytest.FixtureRequest, events: Events
) -> None:
    from graph.neo4j_store import Neo4jStore

    target = neo4j_or_skip(request)
    login = {"user": target.user, "password": target.password}
    store = Neo4jStore(target.uri, **login)
    try:
        store.wipe()
        _marked(store, events)
        with store._driver.session() as session:  # as a release before the counts left it
            session.run("MATCH (c:MarkCount) DELETE c").consume()
            session.run("MATCH (c:Counter {name: 'ingest'}) REMOVE c.marks_counted").consume()
            session.run("DROP CONSTRAINT mark_count_key IF EXISTS").consume()
    finally:
        store.close()
    _counted_as_opened_at_once(lambda: Neo4jStore(target.uri, **login))


def _kept(store: GraphStore) -> dict[str, int]:
    """The counts of SCREWS the store keeps, by site ('' for none), as it keeps them."""
    if isinstance(store, EmbeddedStore):
        rows = store._conn().execute(
            "SELECT site, live FROM mark_counts WHERE scheme = 'SCREWS' AND live <> 0"
        )
        return dict(rows.fetchall())
    with store._driver.session() as session:  # type: ignore[attr-defined]
        found = session.run(
            "MATCH (c:MarkCount {scheme: 'SCREWS'}) WHERE c.live <> 0 RETURN c.site, c.live"
        )
        return {site: live for site, live in found.values()}


def _reopened(store: GraphStore, request: pytest.FixtureRequest) -> GraphStore:
    if isinstance(store, EmbeddedStore):
        return EmbeddedStore(store.path)
    target = neo4j_or_skip(request)
    return open_store(target.uri, user=target.user, password=target.password)


@contextmanager
def _as_an_older_release(store: GraphStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Write as a release before the counts does: marks and voids logged and linked, and
    nothing counted, nor any mark of how far the counts hold moved on with the log."""
    with monkeypatch.context() as patched:
        if isinstance(store, EmbeddedStore):
            patched.setattr(graph.embedded_store, "COUNT_MARKS", "SELECT ?1, ?2")
            patched.setattr(graph.embedded_store, "KEEP_MARKS_COUNTED", "SELECT ?1, ?2")
        else:
            from graph import neo4j_store

            patched.setattr(neo4j_store, "COUNT_MARKS", "RETURN $rows, $sign")
            patched.setattr(neo4j_store, "CREATE_EVENTS", OLDER_CREATE_EVENTS)
        yield


# The log's append on Neo4j as a release before the counts wrote it.
OLDER_CREATE_EVENTS = """
MATCH (c:Counter {name: 'ingest'}) USING INDEX SEEK c:Counter(name) SET c.seq = $last
WITH c UNWIND $rows AS r CREATE (e:$(r[0])) SET e = r[1]
"""


def test_marks_an_older_release_records_are_walked_until_the_next_open_counts_them(
    store: GraphStore,
    events: Events,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A release that keeps no counts may still open the store and record marks and voids."""
    ingest = IngestService(store)
    ingest.ingest(_lots(events))
    marking = define_schemes(store)
    issued = {key: marking.issue_mark(ItemRef(lot=key)) for key in ("S-1", "S-2", "S-0")}
    with _as_an_older_release(store, monkeypatch):
        marking.issue_mark(ItemRef(lot="S-3"))
        ingest.ingest([events("void", voids=issued["S-1"].event_id, reason="wrong lot")])
    assert _seen(store) == {"PLANT-1": 2, "PLANT-2": 2, "PLANT-9": 1}
    # This release's writes keep the counts as far as they hold, which is not the log's end.
    marking.issue_mark(ItemRef(lot="S-4"))
    assert _seen(store) == {"PLANT-1": 2, "PLANT-2": 3, "PLANT-9": 1}
    opened = _reopened(store, request)
    try:
        assert _kept(opened) == {"PLANT-1": 1, "PLANT-2": 2, "": 1}
        assert _seen(opened) == {"PLANT-1": 2, "PLANT-2": 3, "PLANT-9": 1}
        marking.issue_mark(ItemRef(lot="S-1"))
        assert _kept(opened) == {"PLANT-1": 2, "PLANT-2": 2, "": 1}
        assert _seen(opened) == {"PLANT-1": 3, "PLANT-2": 3, "PLANT-9": 1}
    finally:
        opened.close()


def test_a_store_whose_write_lock_is_held_opens_and_walks_its_marks(
    store: GraphStore,
    events: Events,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The counts are behind only where a release from before them wrote, which may hold the
    write lock a long while: an open waits its while for it, then opens without counting."""
    ingest = IngestService(store)
    ingest.ingest(_lots(events))
    marking = define_schemes(store)
    with _as_an_older_release(store, monkeypatch):
        marking.issue_mark(ItemRef(lot="S-1"))

    def busy(self: GraphStore) -> None:
        raise StoreBusy("another write has held the graph's write lock")

    kind = type(store)
    monkeypatch.setattr(kind, "_count_marks", busy)
    opened = _reopened(store, request)
    try:
        assert "were not counted as the store opened" in caplog.text
        assert _seen(opened) == {"PLANT-1": 1, "PLANT-2": 0, "PLANT-9": 0}
    finally:
        opened.close()


def _count_work(tmp_path: Path, events: Events, others: int) -> int:
    """What a site's count of a scheme and its last index cost SQLite, in virtual machine
    instructions, beside `others` marks of that scheme on another site's lots."""
    store = EmbeddedStore(tmp_path / f"count-{others}.db")
    define_schemes(store)
    keys = [f"O-{n}" for n in range(others)]
    lots = [
        events.receive(key, 1, part="SCREW-M4", site="PLANT-2", supplier_lot="A-O") for key in keys
    ]
    lots.append(events.receive("S-1", 1, part="SCREW-M4", site="PLANT-1", supplier_lot="A-1"))
    codes = Scheme(SCREWS)
    marks = [
        events("mark", target={"lot": key}, code=codes.code_for(n))
        for n, key in enumerate([*keys, "S-1"])
    ]
    IngestService(store).ingest(lots + marks)
    ticks = 0

    def tick() -> int:
        nonlocal ticks
        ticks += 1
        return 0

    store._conn().set_progress_handler(tick, 1)
    assert store.marks_seen_by("SCREWS", "PLANT-1") == 1
    assert store.last_mark_index("SCREWS") == others
    store.close()
    return ticks


def test_a_sites_count_costs_no_more_beside_other_sites_marks(
    tmp_path: Path, events: Events
) -> None:
    """Read by walking every mark of the scheme, a site's count took ~0.7 s at 300,000 codes."""
    few, many = (_count_work(tmp_path, events, others) for others in (50, 2000))
    assert many < 1.5 * few


def test_the_use_of_many_schemes_reads_as_that_of_each(
    store: GraphStore, events: Events, marking: MarkingService
) -> None:
    IngestService(store).ingest(_lots(events))
    for key in ("S-1", "S-3", "S-0"):
        marking.issue_mark(ItemRef(lot=key))
    schemes = ["SCREWS", "PLATES", "IMPLANTS", "NONE"]
    assert store.marks_used(schemes) == {s: store.mark_usage(s) for s in schemes}
    for site in SITES:
        each = {s: (store.marks_seen_by(s, site), store.last_mark_index(s)) for s in schemes}
        assert store.marks_used(schemes, site) == each
    assert store.marks_used(schemes, "PLANT-2")["SCREWS"] == (2, 2)
    assert store.marks_used([]) == {}
