"""The lot each serial was serialized from, read for many serials at once: the same on every
store, each serial once, whatever else the ids asked name."""

from __future__ import annotations

from graph.store import GraphStore
from ingest.service import IngestService
from tests.fixtures.events import Events


def test_each_serial_comes_once_with_its_lot_and_nothing_else_is_told(
    store: GraphStore, events: Events
) -> None:
    IngestService(store).ingest(
        [
            events.receive("L-1", 10),
            events.receive("L-2", 10, supplier_lot="A-2"),
            events("serialize", lot="L-1", serials=["SN-1", "SN-2"]),
            events("serialize", lot="L-2", serials=["SN-3"]),
            events(
                "process",
                step="S-KIT",
                operation="assemble",
                inputs=[{"lot": "L-2", "qty": "1"}],
                outputs=[{"serial": "KIT-1", "part": "KIT"}],
            ),
        ]
    )
    asked = ["serial:SN-1", "serial:SN-3", "serial:SN-1", "serial:NOPE", "lot:L-1"]
    asked += ["serial:KIT-1", "serial:SN-3", "serial:SN-2"]
    found = store.serialized_from(asked)
    # A repeated serial once; an unknown id, a lot and a serial a process made (of no lot) not.
    assert sorted((serial.gid, lot.gid) for serial, lot in found) == [
        ("serial:SN-1", "lot:L-1"),
        ("serial:SN-2", "lot:L-1"),
        ("serial:SN-3", "lot:L-2"),
    ]
    assert {(lot.kind, lot.attrs["key"]) for _, lot in found} == {("lot", "L-1"), ("lot", "L-2")}
    assert store.serialized_from([]) == []
