"""Both stores, fed the same demo plant, give identical answers to every kind of question."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from graph.trace import TraceService
from ingest.demo_plant import DemoPlant
from ingest.service import IngestService
from tests.conftest import neo4j_or_skip


@pytest.fixture
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[GraphStore]]:
    target = neo4j_or_skip(request)
    from graph.neo4j_store import Neo4jStore

    neo4j = Neo4jStore(target.uri, user=target.user, password=target.password)
    neo4j.wipe()
    embedded = EmbeddedStore(tmp_path / "demo.db")
    for store in (embedded, neo4j):
        for batch in DemoPlant(size=1500, seed=11).batches(500):
            IngestService(store).ingest(batch)
    yield [embedded, neo4j]
    embedded.close()
    neo4j.close()


def answers(store: GraphStore) -> dict[str, Any]:
    traces = TraceService(store)
    down = traces.trace("company:ACME-STEEL", "down").nodes  # no flow: just a root
    assert [n.id for n in down] == ["company:ACME-STEEL"]
    result: dict[str, Any] = {"counts": store.counts()}
    result["log"] = [(e.event_id, e.seq, e.digest, e.voided_by) for e in store.events(0, 100_000)]
    roots = [
        "supplier_lot:ACME-STEEL/H70001",
        "supplier_lot:POLYMED/PM-2",
        "supplier_lot:TITAN-METALS/T-1",
        "lot:L00001-BAR-W2",
        "lot:L00002-BLEND",
    ]
    for root in roots:
        result[f"down {root}"] = traces.trace(root, "down").to_dict()
        result[f"down2 {root}"] = traces.trace(root, "down", max_depth=2).to_dict()
    cut = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    result["as_of"] = traces.trace("supplier_lot:ACME-STEEL/H70001", "down", as_of=cut).to_dict()
    for kit in (
        "serial:KIT000010000",
        "serial:KIT000020003",
        "shipment:SH00001-1",
        "company:HOSP-NORTH",
    ):
        result[f"up {kit}"] = traces.trace(kit, "up").to_dict()
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC)
    for equipment in ("LATHE-1", "PASS-1", "BENCH-2"):
        uses = traces.equipment_window(f"equipment:{equipment}", start, end)
        result[equipment] = [(u.step.gid, u.step.attrs, u.inputs, u.outputs) for u in uses]
    result["node"] = traces.node("serial:KIT000010000").attrs
    return result


@pytest.mark.neo4j
def test_identical_answers_on_the_demo_plant(stores: list[GraphStore]) -> None:
    embedded, neo4j = (answers(store) for store in stores)
    assert embedded["counts"]["serial"] > 1000
    assert len(embedded["down supplier_lot:ACME-STEEL/H70001"]["nodes"]) > 100
    for key in embedded:
        assert embedded[key] == neo4j[key], key


@pytest.mark.neo4j
def test_identical_after_a_void_and_rebuild(stores: list[GraphStore]) -> None:
    for store in stores:
        quarantine = {
            "event_id": "Q-1",
            "type": "status",
            "occurred_at": "2026-06-01T00:00:00Z",
            "target": {"lot": "L00001-BAR"},
            "status": "quarantined",
            "reason": "mill cert",
        }
        IngestService(store).ingest([quarantine])
        IngestService(store).ingest(
            [
                {
                    "event_id": "V-1",
                    "type": "void",
                    "occurred_at": "2026-06-02T00:00:00Z",
                    "voids": "Q-1",
                    "reason": "wrong heat",
                }
            ]
        )
        IngestService(store).rebuild(chunk=700)
    embedded, neo4j = (answers(store) for store in stores)
    for key in embedded:
        assert embedded[key] == neo4j[key], key
