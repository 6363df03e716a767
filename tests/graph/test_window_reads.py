"""An equipment window asked with a limit reads at most one more than it: enough to refuse."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import graph.embedded_store
import graph.projection
from graph.clock import utc_text
from graph.embedded_store import EmbeddedStore
from graph.errors import StoreUnavailable
from graph.projection import PROJECTION
from graph.store import GraphStore, StepUse, listed
from ingest.service import IngestService, open_store_for_use
from tests.fixtures.events import T0, Events

START, END = utc_text(T0), "2026-12-31T00:00:00.000000Z"


def turns(events: Events, steps: int, lots: int) -> list[dict[str, Any]]:
    """`steps` steps on LATHE-1, each turning one of each of `lots` lots into one new lot."""
    batch = [events.receive(f"L-{i}", 1000) for i in range(lots)]
    for s in range(steps):
        inputs = [{"lot": f"L-{i}", "qty": "1"} for i in range(lots)]
        outputs = [{"lot": f"P-{s}", "part": "SCREW", "qty": "10"}]
        turn = {"step": f"S-{s}", "operation": "turn", "equipment": "LATHE-1"}
        batch.append(events("process", **turn, inputs=inputs, outputs=outputs))
    return batch


def test_a_limited_window_stops_one_past_its_limit(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest(turns(events, 20, 10))
    whole = store.equipment_window("equipment:LATHE-1", START, END)
    assert listed(whole) == 20 * (1 + 10 + 1)
    for limit in (0, 5, 20, 31, 239):
        cut = store.equipment_window("equipment:LATHE-1", START, END, limit)
        assert listed(cut) == limit + 1, limit
    # Within its limit a window is whole, as it is without one.
    assert store.equipment_window("equipment:LATHE-1", START, END, 240) == whole
    assert store.equipment_window("equipment:LATHE-1", START, END, 10_000) == whole


def window_work(tmp_path: Path, steps: int, read: Callable[[EmbeddedStore], object]) -> int:
    """What a read of LATHE-1's window costs SQLite, in hundreds of virtual machine instructions."""
    store = EmbeddedStore(tmp_path / f"window-{steps}.db")
    IngestService(store).ingest(turns(Events(), steps, 2))
    ticks = 0

    def tick() -> int:
        nonlocal ticks
        ticks += 1
        return 0

    store._conn().set_progress_handler(tick, 100)
    read(store)
    store.close()
    return ticks


def test_a_limited_window_costs_what_its_limit_reads_not_the_window(tmp_path: Path) -> None:
    def refused(store: EmbeddedStore) -> None:
        assert listed(store.equipment_window("equipment:LATHE-1", START, END, 40)) == 41

    small, large = (window_work(tmp_path, steps, refused) for steps in (100, 800))
    assert large < 1.5 * small


def sited_turns(events: Events, sites: list[str | None]) -> list[dict[str, Any]]:
    """A step on LATHE-1 for each of `sites` (None: an event of no site), each turning a lot of
    its site into a new one: three listed each."""
    at = [{"site": site} if site else {} for site in sites]
    batch = [
        events.receive(f"L-{site}", 1000, **at[sites.index(site)]) for site in dict.fromkeys(sites)
    ]
    for s, site in enumerate(sites):
        turn = {"step": f"S-{s}", "operation": "turn", "equipment": "LATHE-1", **at[s]}
        inputs = [{"lot": f"L-{site}", "qty": "1"}]
        outputs = [{"lot": f"P-{s}", "part": "SCREW", "qty": "1"}]
        batch.append(events("process", **turn, inputs=inputs, outputs=outputs))
    return batch


def test_a_site_window_reads_the_site_steps_and_those_of_no_site(
    store: GraphStore, events: Events
) -> None:
    # The other site's steps come first, last and in between: none of them counts for PLANT-1.
    sites = ["PLANT-2"] * 30 + ["PLANT-1", None] + ["PLANT-2"] * 10 + ["PLANT-1"] + ["PLANT-2"] * 30
    IngestService(store).ingest(sited_turns(events, sites))
    whole = store.equipment_window("equipment:LATHE-1", START, END)
    own = [u for u in whole if u.step.attrs.get("site") in (None, "PLANT-1")]
    assert [u.step.gid for u in own] == ["step:S-30", "step:S-31", "step:S-42"]
    assert store.equipment_window("equipment:LATHE-1", START, END, site="PLANT-1") == own
    for limit in (9, 20, 1_000):
        assert store.equipment_window("equipment:LATHE-1", START, END, limit, site="PLANT-1") == own
    for limit in (0, 4, 8):
        cut = store.equipment_window("equipment:LATHE-1", START, END, limit, site="PLANT-1")
        assert listed(cut) == limit + 1, limit
        assert all(u.step.attrs.get("site") in (None, "PLANT-1") for u in cut)
    # A site no step names reads the steps of no site only.
    only = store.equipment_window("equipment:LATHE-1", START, END, 3, site="PLANT-9")
    assert [u.step.gid for u in only] == ["step:S-31"]


def test_a_window_without_a_list_reads_none_of_it_nor_counts_it(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest(turns(events, 20, 10))
    whole = store.equipment_window("equipment:LATHE-1", START, END)
    bare = [StepUse(u.step, [], u.outputs) for u in whole]
    # 20 steps and their 20 outputs: the 200 inputs are neither read nor counted.
    assert store.equipment_window("equipment:LATHE-1", START, END, 40, inputs=False) == bare
    cut = store.equipment_window("equipment:LATHE-1", START, END, 39, inputs=False)
    assert listed(cut) == 40 and not any(u.inputs for u in cut)
    steps = store.equipment_window("equipment:LATHE-1", START, END, 20, inputs=False, outputs=False)
    assert steps == [StepUse(u.step, [], []) for u in whole]
    no_outputs = store.equipment_window("equipment:LATHE-1", START, END, 220, outputs=False)
    assert no_outputs == [StepUse(u.step, u.inputs, []) for u in whole]


# A window's steps as they were read before each equipment's longest run was kept: every run
# that started by the window's end, back to the first.
BEFORE = """
SELECT n.gid FROM nodes q
CROSS JOIN edges e ON e.dst = q.nid AND e.flow = 0 AND e.type = 'ON'
CROSS JOIN nodes n ON n.nid = e.src
WHERE q.gid = ?1 AND e.at <= ?2 AND e.until >= ?3
  AND (?4 IS NULL OR ifnull(json_extract(n.props, '$.site'), ?4) = ?4)
ORDER BY e.at, n.gid
"""


def runs(events: Events, rng: random.Random, count: int) -> list[dict[str, Any]]:
    """`count` steps of up to two days on two machines, overlapping, of three sites or none."""
    batch = [events.receive("L-0", 100_000)]
    for s in range(count):
        event = events("process", minutes=rng.randint(0, 120), step=f"S-{s}", operation="turn")
        finished = events.clock - timedelta(minutes=rng.choice([0, 0, rng.randint(0, 600)]))
        started = finished - timedelta(minutes=rng.choice([0, rng.randint(0, 2880)]))
        site = rng.choice([None, "PLANT-1", "PLANT-2"])
        event |= {
            "equipment": rng.choice(["LATHE-1", "MILL-1"]),
            **({"site": site} if site else {}),
        }
        event |= {"started_at": started.isoformat(), "finished_at": finished.isoformat()}
        batch.append(event | {"inputs": [{"lot": "L-0", "qty": "1"}]})
    return batch


def same_windows(store: EmbeddedStore, rng: random.Random, span: timedelta) -> None:
    """Random windows read what they read before the bounds were kept."""
    for _ in range(60):
        start = T0 + rng.uniform(-0.1, 1.1) * span
        end = start + timedelta(minutes=rng.choice([0, 10, 600, 6000, 60000]))
        equipment = rng.choice(["equipment:LATHE-1", "equipment:MILL-1"])
        site = rng.choice([None, "PLANT-1"])
        window = (equipment, utc_text(end), utc_text(start), site)
        before = [row[0] for row in store._conn().execute(BEFORE, window)]
        found = store.equipment_window(equipment, utc_text(start), utc_text(end), site=site)
        assert [use.step.gid for use in found] == before, window


@pytest.mark.parametrize("seed", range(4))
def test_a_window_reads_the_steps_it_read_before_runs_were_bounded(
    tmp_path: Path, seed: int
) -> None:
    rng, events = random.Random(seed), Events()
    store = EmbeddedStore(tmp_path / "runs.db")
    batch = runs(events, rng, 300)
    for part in (batch[:100], batch[100:]):  # bounds raised by a later batch too
        IngestService(store).ingest(part)
    same_windows(store, rng, events.clock - T0)
    # The longest runs voided: the bound they raised still holds.
    longest = sorted(batch[1:], key=lambda e: e["started_at"])[:20]
    voids = [events("void", voids=e["event_id"], reason="wrong machine") for e in longest]
    IngestService(store).ingest(voids)
    same_windows(store, rng, events.clock - T0)
    store.close()


def test_a_store_from_before_the_bounds_is_rebuilt_and_answers_the_same(tmp_path: Path) -> None:
    rng, events = random.Random(9), Events()
    path = tmp_path / "older.db"
    store = EmbeddedStore(path)
    IngestService(store).ingest(runs(events, rng, 200))
    # As a release before the bounds were kept left the file: none of them, its schema text, and
    # the projection version it made.
    store._conn().execute("DELETE FROM run_bounds")
    store._conn().execute("UPDATE schema_stamps SET digest = 'older' WHERE name = 'graph'")
    store.stamp_projection(3)
    store.close()
    store = open_store_for_use(f"sqlite:///{path}")
    assert isinstance(store, EmbeddedStore) and store.projection_version() == PROJECTION
    # Short runs recorded since must not make the bound forget the long ones from before.
    for machine in ("LATHE-1", "MILL-1"):
        turn = {"step": f"S-{machine}", "operation": "turn", "equipment": machine}
        IngestService(store).ingest(
            [events("process", **turn, inputs=[{"lot": "L-0", "qty": "1"}])]
        )
    same_windows(store, rng, events.clock - T0)
    store.close()


def test_a_release_from_before_the_bounds_refuses_a_store_that_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It would record runs without raising their bounds, and a window would miss them.
    path = tmp_path / "bounded.db"
    IngestService(store := EmbeddedStore(path)).ingest(runs(Events(), random.Random(1), 5))
    store.close()
    monkeypatch.setattr(graph.projection, "PROJECTION", 3)
    monkeypatch.setattr(graph.embedded_store, "PROJECTION", 3)
    with pytest.raises(StoreUnavailable, match="made by a newer release"):
        EmbeddedStore(path)


def test_a_window_late_in_a_long_history_reads_none_of_what_ran_before(tmp_path: Path) -> None:
    def last_run(store: EmbeddedStore) -> None:
        with closing(sqlite3.connect(store.path)) as other:  # not counted: found, not read
            query = "SELECT max(at) FROM edges WHERE type = 'ON'"
            last = other.execute(query).fetchone()[0]
        assert len(store.equipment_window("equipment:LATHE-1", last, END)) == 1

    short, long = (window_work(tmp_path, steps, last_run) for steps in (100, 900))
    assert long < 1.5 * short


def test_a_rebuild_keeps_no_bound_of_the_row_ids_it_hands_out_again(tmp_path: Path) -> None:
    events = Events()
    store = EmbeddedStore(tmp_path / "rebuilt.db")
    wrong, lot = events.receive("X-0", 1), events.receive("L-0", 10)
    turn = {"step": "S-0", "operation": "turn", "equipment": "LATHE-1", "minutes": 3000}
    run = events("process", **turn, inputs=[{"lot": "L-0", "qty": "1"}])
    run |= {"started_at": (events.clock - timedelta(days=2)).isoformat()}
    IngestService(store).ingest([wrong, lot, run])
    IngestService(store).ingest([events("void", voids=wrong["event_id"], reason="wrong lot")])
    IngestService(store).rebuild()  # without X-0: every later node has another row id
    bounds = "SELECT n.gid, b.longest FROM run_bounds b LEFT JOIN nodes n ON n.nid = b.equipment"
    assert store._conn().execute(bounds).fetchall() == [("equipment:LATHE-1", 2.0)]
    store.close()
