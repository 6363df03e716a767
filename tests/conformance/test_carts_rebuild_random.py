"""Random batches of cart events: what the store holds live is what a rebuild of its log makes."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from random import Random
from typing import Any

import pytest

from graph.carts import CartService
from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from ingest.errors import BatchRejected
from ingest.service import IngestService
from tests.fixtures.events import Events

_CARTS = ("C-1", "C-2", "C-3")
_LOTS = ("L-1", "L-2", "L-3", "L-4")
_SITES: tuple[dict[str, str], ...] = ({}, {"site": "S1"}, {"site": "S2"})


def _event(rng: Random, events: Events, accepted: list[str]) -> dict[str, Any]:
    """One cart event, a void of an accepted one now and then (refusals are part of the run)."""
    kind = rng.choice(("define", "load", "load", "unload", "void"))
    if kind == "void" and accepted:
        return events("void", voids=rng.choice(accepted), reason="x")
    cart, site = rng.choice(_CARTS), rng.choice(_SITES)
    if kind == "define":
        return events("cart_define", cart=cart, capacity=str(rng.choice((5, 30))), **site)
    lot = rng.choice(_LOTS)
    if kind == "unload":
        return events("cart_unload", cart=cart, lot=lot, **site)
    return events("cart_load", cart=cart, lot=lot, qty=str(rng.randint(1, 6)), **site)


def _picture(store: GraphStore) -> dict[str, Any]:
    carts = CartService(store)
    return {
        cart: (store.node(f"cart:{cart}"), carts.cart_history(f"cart:{cart}")) for cart in _CARTS
    }


@pytest.mark.parametrize("seed", range(30))
def test_random_cart_batches_rebuild_as_they_stand(tmp_path: Path, seed: int) -> None:
    rng, events = Random(seed), Events()
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest([events.receive(lot, 10, supplier_lot=f"S-{lot}") for lot in _LOTS])
    accepted: list[str] = []
    for _ in range(25):
        batch = [_event(rng, events, accepted) for _ in range(rng.randint(1, 3))]
        try:
            service.ingest(batch)
        except BatchRejected:
            continue
        accepted.extend(e["event_id"] for e in batch if e["type"] != "void")
    live = _picture(store)
    with (
        sqlite3.connect(tmp_path / "plant.db") as source,
        sqlite3.connect(tmp_path / "copy.db") as copy,
    ):
        source.backup(copy)
    rebuilt = EmbeddedStore(tmp_path / "copy.db")
    IngestService(rebuilt).rebuild()
    assert _picture(rebuilt) == live
    rebuilt.close()
    store.close()
