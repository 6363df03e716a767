"""A Neo4j graph whose counts of marks do not hold for its log is counted as it opens a chunk of
one scheme's marks at a time, each under the write lock apart: writes go in between, and the
counts still come out exact; a count cut off part way is counted again whole at the next open.

Counted in one transaction, the count held every write off for as long as it read every mark of
the plant, and a server's time limit on a transaction that a plant's marks outgrew would end it
at every open: the counts would never hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from graph import neo4j_store
from graph.neo4j_store import MARKS_HOLD, Neo4jStore
from ingest.models import ItemRef
from ingest.service import IngestService
from marking.models import SchemeSpec
from marking.service import MarkingService
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events
from tests.fixtures.neo4j_server import Neo4jTarget
from tests.marking.conftest import define_schemes

pytestmark = pytest.mark.neo4j

SITES = ("PLANT-1", "PLANT-2", None)
PARTS = ("SCREW-M4", "PLATE-9", "IMPLANT")
LOTS_PER_PART = 20
# Chunks after which marks are made and voided: each scheme's turn comes within them.
WRITTEN_FOR = 12
# As a release before the counts left the graph, or one whose count was cut off.
FORGOTTEN = "MATCH (c:Counter {name: 'ingest'}) REMOVE c.marks_counted"
BEHIND = ("MATCH (c:MarkCount) DELETE c", FORGOTTEN)
LIVE = """
MATCH (m:SecondaryMark)-[:MARKS]->(n:Node) WHERE m.scheme IS NOT NULL
RETURN m.scheme, coalesce(n.site, ''), count(*)
"""
KEPT = "MATCH (c:MarkCount) WHERE c.live <> 0 RETURN c.scheme, c.site, c.live"
COUNTED_SO_FAR = "MATCH (c:Counter {name: 'ingest'}) RETURN c.marks_done, c.marks_at"
COUNT_UNDER_WAY = "MATCH (c:Counter {name: 'ingest'}) RETURN c.marks_run, c.marks_counted"
# A rebuild's mark on the counter, as it starts and as it ends (graph.neo4j_store).
REBUILDING = "MATCH (c:Counter {name: 'ingest'}) SET c.rebuilding = $token, c.rebuild_started = ''"
REBUILT = (
    "MATCH (c:Counter {name: 'ingest'}) REMOVE c.rebuilding, c.rebuild_started "
    "SET c.rebuilt = $token"
)


class Plant:
    """Lots of three schemes' parts at two sites and none, a writer on them, and its marks."""

    def __init__(self, target: Neo4jTarget) -> None:
        self.target = target
        self.store = Neo4jStore(target.uri, user=target.user, password=target.password)
        self.store.wipe()
        self.events = Events()
        self.ingest = IngestService(self.store)
        self.ingest.ingest(
            [
                self.events.receive(
                    _lot(part, n), 10, part=part, supplier_lot=f"A-{part}", **_site(n)
                )
                for part in PARTS
                for n in range(LOTS_PER_PART)
            ]
        )
        self.marking: MarkingService = define_schemes(self.store)
        self.issued: dict[str, list[str]] = {part: [] for part in PARTS}
        self.unmarked = {part: list(range(LOTS_PER_PART)) for part in PARTS}

    def mark(self, part: str) -> None:
        """Mark the next unmarked lot of `part`, by its scheme."""
        lot = _lot(part, self.unmarked[part].pop(0))
        self.issued[part].append(self.marking.issue_mark(ItemRef(lot=lot)).event_id)

    def void(self, part: str) -> None:
        """Void the first mark of `part` still standing."""
        voided = self.issued[part].pop(0)
        self.ingest.ingest([self.events("void", voids=voided, reason="wrong lot")])

    def behind(self) -> None:
        """Leave the counts as a release before them leaves the graph: none, and no mark."""
        with self.store._driver.session() as session:
            for statement in BEHIND:
                session.run(statement).consume()

    def opened(self) -> Neo4jStore:
        target = self.target
        return Neo4jStore(target.uri, user=target.user, password=target.password)

    def run(self, statement: Any) -> list[list[Any]]:
        return self.run_with(statement)

    def run_with(self, statement: Any, **params: Any) -> list[list[Any]]:
        with self.store._driver.session() as session:
            return session.run(statement, params).values()

    def exact(self, schemes: int = len(PARTS)) -> None:
        """The counts hold for the log and are the live marks, scheme by scheme and site."""
        assert self.run(MARKS_HOLD) == [[True]]
        live = sorted(tuple(row) for row in self.run(LIVE))
        assert sorted(tuple(row) for row in self.run(KEPT)) == live
        assert len({scheme for scheme, _, _ in live}) == schemes  # every scheme has some


def _lot(part: str, n: int) -> str:
    return f"{part}-{n}"


def _site(n: int) -> dict[str, str]:
    site = SITES[n % len(SITES)]
    return {"site": site} if site else {}


@pytest.fixture
def plant(request: pytest.FixtureRequest) -> Iterator[Plant]:
    built = Plant(neo4j_or_skip(request))
    for part in PARTS:
        for _ in range(5):
            built.mark(part)
    built.void("PLATE-9")
    built.behind()
    yield built
    built.store.close()


# A chunk's transaction as it ran: the store that ran it, its count's token, whether it left more.
Ran = tuple[Neo4jStore, str, bool]


def _between_chunks(
    monkeypatch: pytest.MonkeyPatch, then: Callable[[int], None], ran: list[Ran] | None = None
) -> list[int]:
    """Count two marks a chunk, and call `then` with the number of chunks counted after each
    one's transaction (noted in `ran` before); return the list of those numbers."""
    monkeypatch.setattr(neo4j_store, "MARKS_CHUNK", 2)
    counted = neo4j_store.Neo4jStore._count_some
    chunks: list[int] = []
    noted: list[Ran] = [] if ran is None else ran

    def counting(self: Neo4jStore, token: str) -> bool:
        more = counted(self, token)
        noted.append((self, token, more))
        chunks.append(len(chunks) + 1)
        then(chunks[-1])
        return more

    monkeypatch.setattr(neo4j_store.Neo4jStore, "_count_some", counting)
    return chunks


def test_marks_made_and_voided_between_chunks_are_counted_exactly(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each write lands in a scheme counted whole, in the one being counted (before or after
    the chunk reached), or in one not reached yet: each is counted once."""

    def write(chunk: int) -> None:
        if chunk > WRITTEN_FOR:
            return
        for part in PARTS:
            if plant.unmarked[part]:
                plant.mark(part)
            if len(plant.issued[part]) > 1:
                plant.void(part)

    chunks = _between_chunks(monkeypatch, write)
    opened = plant.opened()
    try:
        assert len(chunks) >= 7  # 14 marks standing, two a chunk, three schemes
        plant.exact()
        plant.mark("SCREW-M4")  # and kept on from there
        plant.void("IMPLANT")
        plant.exact()
    finally:
        opened.close()


class Stopped(Exception):
    """The process stopped."""


def test_a_count_cut_off_part_way_is_counted_again_whole_at_the_next_open(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stop(chunk: int) -> None:
        if chunk == 3:
            raise Stopped

    with monkeypatch.context() as patched:
        _between_chunks(patched, stop)
        with pytest.raises(Stopped):
            plant.opened()
    assert plant.run(MARKS_HOLD) != [[True]]
    # Written meanwhile, by this release: a scheme's count walked, not read part counted.
    plant.mark("PLATE-9")
    plant.void("SCREW-M4")
    assert plant.run(MARKS_HOLD) != [[True]]
    seen = plant.store.marks_seen_by("SCREWS", "PLANT-1")
    assert seen == sum(n for s, site, n in plant.run(LIVE) if s == "SCREWS" and site != "PLANT-2")
    opened = plant.opened()
    opened.close()
    plant.exact()


def test_a_count_a_release_that_knows_it_not_wrote_into_is_counted_again_at_the_next_open(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Marks an older release records are not counted by it: the count in hand cannot hold."""
    older = {
        "COUNT_MARKS": "RETURN $rows, $sign",
        "CREATE_EVENTS": (
            "MATCH (c:Counter {name: 'ingest'}) USING INDEX SEEK c:Counter(name) "
            "SET c.seq = $last WITH c UNWIND $rows AS r CREATE (e:$(r[0])) SET e = r[1]"
        ),
    }

    def write(chunk: int) -> None:
        if chunk == 2:
            with monkeypatch.context() as patched:
                for name, statement in older.items():
                    patched.setattr(neo4j_store, name, statement)
                plant.mark("SCREW-M4")

    _given_up_then_counted_again(plant, monkeypatch, write)


def _given_up_then_counted_again(
    plant: Plant, monkeypatch: pytest.MonkeyPatch, between: Callable[[int], None]
) -> None:
    """Open the plant with `between` run between its count's chunks: the count is given up at
    the first chunk after it (its counts not said to hold), and the next open counts exactly."""
    with monkeypatch.context() as patched:
        chunks = _between_chunks(patched, between)
        plant.opened().close()
    assert chunks == [1, 2, 3]  # given up at the first chunk after it
    assert plant.run(MARKS_HOLD) != [[True]]
    plant.opened().close()
    plant.exact()


# As the release before chunks counted the marks a rebuild replays: all of them.
COUNTING_ALL = """
UNWIND $rows AS r
MATCH (m:Node {gid: r[0]}) USING INDEX SEEK m:Node(gid)
MATCH (n:Node {gid: r[1]}) USING INDEX SEEK n:Node(gid)
WITH m.scheme AS scheme, coalesce(n.site, '') AS site, count(*) * $sign AS made
WHERE scheme IS NOT NULL
MERGE (c:MarkCount {scheme: scheme, site: site})
ON CREATE SET c.live = made
ON MATCH SET c.live = c.live + made
"""


@pytest.mark.parametrize("counting_all", [True, False], ids=["before-chunks", "this"])
def test_a_count_a_rebuild_went_through_is_counted_again_at_the_next_open(
    plant: Plant, monkeypatch: pytest.MonkeyPatch, counting_all: bool
) -> None:
    """A rebuild counts the marks it replays afresh, and does not move the log on: a release
    that counts them all (before chunks) counted again those the count under way had yet to
    reach, which it then counted too, and marked the counts held."""

    def rebuild(chunk: int) -> None:
        if chunk == 2:
            with monkeypatch.context() as patched:
                if counting_all:
                    patched.setattr(neo4j_store, "COUNT_MARKS", COUNTING_ALL)
                IngestService(plant.store).rebuild()

    _given_up_then_counted_again(plant, monkeypatch, rebuild)


def test_no_count_goes_on_while_a_rebuild_holds_the_graph(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild under way leaves the graph partial: a chunk counted then counts a part."""
    token = "a rebuild under way"

    def rebuilding(chunk: int) -> None:
        if chunk == 1:
            plant.run_with(REBUILDING, token=token)

    with monkeypatch.context() as patched:
        chunks = _between_chunks(patched, rebuilding)
        plant.opened().close()
    assert chunks == [1, 2]
    assert plant.run(MARKS_HOLD) != [[True]]
    plant.run_with(REBUILT, token=token)
    plant.opened().close()
    plant.exact()


def test_no_count_begins_while_a_rebuild_holds_the_graph(plant: Plant) -> None:
    plant.run_with(REBUILDING, token="a rebuild under way")
    plant.opened().close()
    assert plant.run(COUNT_UNDER_WAY) == [[None, None]]
    plant.run_with(REBUILT, token="a rebuild under way")
    plant.opened().close()
    plant.exact()


def test_two_opens_at_once_count_once(plant: Plant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second takes the count over; the first, coming to its next chunk while the second
    counts, stops there and counts no more."""
    ran: list[Ran] = []
    second: list[Neo4jStore] = []

    def interleave(chunk: int) -> None:
        first, first_token, _ = ran[0]
        by = [store for store, _, _ in ran]
        if chunk == 2:
            second.append(plant.opened())
        elif by[-1] is not first and by.count(by[-1]) == 1:  # the second's first chunk
            Neo4jStore._count_some(first, first_token)

    with monkeypatch.context() as patched:
        _between_chunks(patched, interleave, ran)
        first = plant.opened()
    first.close()
    second[0].close()
    taken_over = next(i for i, (store, _, _) in enumerate(ran) if store is second[0])
    assert ran[taken_over][2]  # its count was under way when the first came to its chunk
    after = [more for store, _, more in ran[taken_over:] if store is first]
    assert after == [False, False]  # the chunk it came to meanwhile, and the next of its own
    plant.exact()


def test_a_scheme_made_during_a_count_that_sorts_before_the_one_under_way_is_counted(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its first mark is made behind the count (no write counts it): the count comes back to
    it, taking the least scheme not counted whole next."""
    under_way: list[list[Any]] = []

    def made(chunk: int) -> None:
        if chunk == 4:
            under_way.extend(plant.run(COUNTED_SO_FAR))
            plant.marking.define_scheme(
                SchemeSpec(name="AAA", kind="sequential", length=4, parts=["WIDGET"])
            )
            plant.ingest.ingest([plant.events.receive("W-1", 10, part="WIDGET", supplier_lot="W")])
            plant.marking.issue_mark(ItemRef(lot="W-1"))

    with monkeypatch.context() as patched:
        _between_chunks(patched, made)
        plant.opened().close()
    [[done, (scheme, _)]] = under_way
    assert done and min(done) > "AAA" and scheme > "AAA"  # made before both
    plant.exact(schemes=len(PARTS) + 1)
    assert ["AAA", "", 1] in plant.run(KEPT)


def test_a_graph_with_no_marks_holds_its_counts_once_opened(
    request: pytest.FixtureRequest,
) -> None:
    target = neo4j_or_skip(request)
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    try:
        store.wipe()
        with store._driver.session() as session:
            session.run(FORGOTTEN).consume()
        Neo4jStore(target.uri, user=target.user, password=target.password).close()
        with store._driver.session() as session:
            assert session.run(MARKS_HOLD).values() == [[True]]
    finally:
        store.close()
