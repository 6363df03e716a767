"""Mark codes as they are read: in capitals, so one reading finds one code."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from ingest.service import IngestService
from marking.models import ResolveQuery
from marking.service import MarkingService
from tests.conformance.helpers import rejected
from tests.fixtures.events import Events


@pytest.mark.parametrize("code", ["ab7", "Ab7", "straße"])
def test_a_mark_not_in_capitals_is_refused(store: GraphStore, events: Events, code: str) -> None:
    IngestService(store).ingest([events.receive("L-1", 10, part="WIDGET")])
    problem = rejected(store, [events("mark", target={"lot": "L-1"}, code=code)], "bad_mark")
    assert problem.field == "code"
    assert "marks are read in capitals" in problem.message
    assert f'send "{code.upper()}"' in problem.message


def test_a_reading_in_any_case_finds_the_one_mark(store: GraphStore, events: Events) -> None:
    service = IngestService(store)
    service.ingest(
        [events.receive("L-1", 10, part="WIDGET"), events.receive("L-2", 10, part="WIDGET")]
    )
    service.ingest([events("mark", target={"lot": "L-1"}, code="AB7-2")])
    # Its lower-case twin cannot be struck on another lot beside it.
    rejected(store, [events("mark", target={"lot": "L-2"}, code="ab7-2")], "bad_mark")
    found = MarkingService(store).resolve(ResolveQuery(mark="ab7-2")).candidates
    assert [(c.id, c.confidence) for c in found] == [("lot:L-1", 1.0)]


def test_a_log_holding_a_lower_case_mark_still_rebuilds(tmp_path: Path, events: Events) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest(
        [events.receive("L-1", 10, part="WIDGET"), events("mark", target={"lot": "L-1"}, code="Q7")]
    )
    # As an earlier version logged it, before marks had to be in capitals.
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute("""UPDATE events SET payload = replace(payload, '"Q7"', '"q7"')""")
    service.rebuild()
    assert store.node("mark:q7") is not None and store.node("mark:Q7") is None
    store.close()


@pytest.mark.parametrize(
    "code",
    [
        *("AB\u00a07", "AB\u20037", "X?Y", "Q\u200bR", "AB\u20287", "AB 7", "AB\t7", "A\x00B"),
        # Full-width forms, read as the ASCII ones they stand for.
        *("AB\uff17", "\uff21\uff22\uff23", "AB\u30007"),
    ],
)
def test_a_mark_no_reading_could_find_is_refused(
    store: GraphStore, events: Events, code: str
) -> None:
    # A reading is taken without spaces (of any kind), and "?" in it is a character that
    # could not be read: such a code, or one holding a character no one sees, is never found.
    IngestService(store).ingest([events.receive("L-1", 10, part="WIDGET")])
    problem = rejected(store, [events("mark", target={"lot": "L-1"}, code=code)], "bad_mark")
    assert problem.field == "code"
    assert "could never be found" in problem.message


def test_a_log_holding_a_mark_no_reading_finds_still_rebuilds(
    tmp_path: Path, events: Events
) -> None:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest(
        [events.receive("L-1", 10, part="WIDGET"), events("mark", target={"lot": "L-1"}, code="Q7")]
    )
    # As an earlier version logged it, before such codes were refused.
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute("""UPDATE events SET payload = replace(payload, '"Q7"', '"Q?7"')""")
    service.rebuild()
    assert store.node("mark:Q?7") is not None and store.node("mark:Q7") is None
    store.close()
