"""While a Neo4j rebuild commits chunk by chunk, only it may write: others get StoreBusy."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any, TypeVar

import pytest

import ingest.service
from graph.errors import StoreBusy
from graph.lot_codes import LotCodeService, LotSchemeSpec
from graph.neo4j_store import START_REBUILD, Neo4jStore, Neo4jTx
from ingest.errors import BatchRejected, Problem, RebuildStopped
from ingest.service import IngestService
from tests.conftest import neo4j_or_skip

T = TypeVar("T")


def _receive(lot: str, qty: str = "10") -> dict[str, str]:
    return {
        "event_id": f"EV-{lot}",
        "type": "receive",
        "occurred_at": "2026-01-05T08:00:00Z",
        "supplier": "ACME",
        "supplier_lot": f"H-{lot}",
        "part": "BAR",
        "lot": lot,
        "qty": qty,
    }


@pytest.fixture
def stores(request: pytest.FixtureRequest) -> Iterator[tuple[Neo4jStore, Neo4jStore]]:
    """Two store objects on one server, as two API workers hold them."""
    target = neo4j_or_skip(request)
    first, second = (
        Neo4jStore(target.uri, user=target.user, password=target.password) for _ in range(2)
    )
    first.wipe()
    yield first, second
    first.close()
    second.close()


def test_other_writers_wait_for_a_rebuild_to_finish(stores: tuple[Neo4jStore, Neo4jStore]) -> None:
    rebuilder, worker = stores
    IngestService(rebuilder).ingest([_receive("L-1")])
    with rebuilder.atomically():
        with pytest.raises(StoreBusy, match="being rebuilt"):
            IngestService(worker).ingest([_receive("L-2")])
        IngestService(rebuilder).ingest([_receive("L-3")])  # the rebuild's own writes pass
    assert worker.node("lot:L-2") is None
    IngestService(worker).ingest([_receive("L-2")])
    assert worker.node("lot:L-2") is not None


def test_a_rebuild_takes_over_from_one_that_stopped(stores: tuple[Neo4jStore, Neo4jStore]) -> None:
    rebuilder, worker = stores
    IngestService(worker).ingest([_receive("L-1")])
    with rebuilder._session() as session:  # a rebuild that stopped left its token
        session.run(START_REBUILD, token="stopped", started="2026-01-05T08:00:00Z").consume()
    with pytest.raises(StoreBusy, match="If that rebuild stopped, run it again"):
        IngestService(worker).ingest([_receive("L-2")])
    assert IngestService(rebuilder).rebuild() == 1
    IngestService(worker).ingest([_receive("L-2")])
    assert worker.counts()["events"] == 2


def _lot_codes(store: Neo4jStore) -> LotCodeService:
    """Our scheme and ACME's, with a lot made outside minting that has the first code to mint."""
    codes = LotCodeService(store)
    for name, company, pattern, link in (
        ("PLANT-LOTS", "PLANT", "{date:YYMMDD}{line:A2}{seq:N4}{link:X3}", "PL1"),
        ("ACME-LOTS", "ACME", "{link:X3}-{made:YYDDD}{heat:N4}", "AC7"),
    ):
        spec = LotSchemeSpec(
            name=name, company=company, pattern=pattern, link_field="link", link_code=link
        )
        codes.define(spec)
    IngestService(store).ingest([_receive("260305LA0001AC7")])
    return codes


VALUES: dict[str, str | date] = {"date": date(2026, 3, 5), "line": "LA"}


def test_no_lot_code_is_minted_while_another_rebuilds(
    stores: tuple[Neo4jStore, Neo4jStore],
) -> None:
    rebuilder, worker = stores
    codes = _lot_codes(worker)
    with rebuilder.atomically():
        rebuilder.clear_projection()  # the rebuild has not come to that lot yet
        with pytest.raises(StoreBusy, match="being rebuilt"):
            codes.mint("PLANT-LOTS", "ACME", VALUES)
    assert worker.lot_sequences() == {}  # the refused mint used no number
    IngestService(rebuilder).rebuild()
    assert codes.mint("PLANT-LOTS", "ACME", VALUES).code == "260305LA0002AC7"


def test_no_rebuild_begins_between_a_mint_and_its_check(
    stores: tuple[Neo4jStore, Neo4jStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    rebuilder, worker = stores
    codes = _lot_codes(worker)
    cleared = threading.Event()
    done = threading.Event()

    def rebuild_part_way() -> None:
        with rebuilder.atomically():
            rebuilder.clear_projection()
            cleared.set()
            done.wait(30)

    rebuild = threading.Thread(target=rebuild_part_way)

    def rebuild_begins(check: Callable[..., T]) -> Callable[..., T]:
        """`check`, once another instance has begun a rebuild (or waits to: the mint's lock)."""

        def checked(*args: Any) -> T:
            if not rebuild.is_alive() and not cleared.is_set():
                rebuild.start()
                cleared.wait(3)
            return check(*args)

        return checked

    # Whichever read the mint checks the code with.
    monkeypatch.setattr(Neo4jStore, "node", rebuild_begins(Neo4jStore.node))
    monkeypatch.setattr(Neo4jTx, "items", rebuild_begins(Neo4jTx.items))
    try:
        minted = codes.mint("PLANT-LOTS", "ACME", VALUES)
    except StoreBusy:
        minted = None
    finally:
        done.set()
        rebuild.join()
    monkeypatch.undo()
    assert rebuild.ident is not None  # the rebuild did begin
    IngestService(rebuilder).rebuild()
    assert minted is None or minted.code == "260305LA0002AC7"  # never the code of a lot


def test_a_rebuild_that_stops_part_way_keeps_other_writes_out_until_one_ends(
    stores: tuple[Neo4jStore, Neo4jStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    rebuilder, worker = stores
    IngestService(worker).ingest([_receive("L-1")])
    IngestService(worker).ingest([_receive("L-2")])
    replay = ingest.service._replay
    replayed: list[int] = []

    def second_refused(tx: Any, events: Any, **kwargs: Any) -> None:
        if replayed:
            problem = Problem(0, events[0].event_id, "", "corrupt", "no longer replays")
            raise BatchRejected([problem])
        replayed.append(len(events))
        replay(tx, events, **kwargs)

    monkeypatch.setattr(ingest.service, "_replay", second_refused)
    with pytest.raises(RebuildStopped) as stopped:
        IngestService(rebuilder).rebuild(chunk=1)
    assert "holds the 1 events replayed before this chunk" in stopped.value.message
    assert "other writes are refused until a rebuild runs to the end" in stopped.value.message
    assert worker.node("lot:L-2") is None  # the graph is partial
    # Nothing is checked against part of the graph, where L-2 would be received a second time.
    again = _receive("L-2") | {"event_id": "EV-L-2-AGAIN"}
    with pytest.raises(StoreBusy, match="If that rebuild stopped, run it again"):
        IngestService(worker).ingest([again])
    assert worker.counts()["events"] == 2
    monkeypatch.setattr(ingest.service, "_replay", replay)
    assert IngestService(rebuilder).rebuild() == 2
    with pytest.raises(BatchRejected, match='lot "L-2" already exists'):
        IngestService(worker).ingest([again])
    IngestService(worker).ingest([_receive("L-3")])
