"""An equipment window asked with a limit reads at most one more than it: enough to refuse."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from graph.clock import utc_text
from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore, StepUse, listed
from ingest.service import IngestService
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
