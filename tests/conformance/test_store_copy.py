"""Copying a plant between stores: embedded to Neo4j, Neo4j to embedded, a file to a new file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.auth.copy import copy_accounts
from api.auth.embedded import EmbeddedAccountStore
from api.auth.models import Partner
from api.auth.service import AuthService
from api.auth.store import AccountStore
from api.deps import Services
from graph.documents import checked_document
from graph.embedded_store import EmbeddedStore
from graph.errors import Conflict, StoreBusy, StoreUnavailable, Unauthenticated
from graph.store import GraphStore
from ingest.demo_plant import KIT_MARKS, DemoPlant
from ingest.errors import BatchRejected
from ingest.service import IngestService
from ingest.store_copy import CopyMismatch, copy_plant
from marking.models import SchemeSpec
from tests.conformance.helpers import state
from tests.conformance.test_demo_plant_identical import answers
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events

CERT = checked_document("cert.pdf", "application/pdf", b"%PDF-1.7 mill certificate H70001")
PAIRS = [("embedded", "embedded"), ("embedded", "neo4j"), ("neo4j", "embedded")]


def _open(kind: str, path: Path, request: pytest.FixtureRequest) -> Services:
    if kind == "embedded":
        store: GraphStore = EmbeddedStore(path)
        accounts: AccountStore = EmbeddedAccountStore(path)
    else:
        from api.auth.neo4j import Neo4jAccountStore
        from graph.neo4j_store import Neo4jStore

        target = neo4j_or_skip(request)
        login = {"user": target.user, "password": target.password}
        neo4j = Neo4jStore(target.uri, **login)
        neo4j_accounts = Neo4jAccountStore(target.uri, **login)
        neo4j.wipe()
        neo4j_accounts.wipe()
        store, accounts = neo4j, neo4j_accounts
    return Services.for_stores(store, accounts)


@pytest.fixture(params=PAIRS, ids=["-to-".join(pair) for pair in PAIRS])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Services, Services]]:
    source_kind, target_kind = request.param
    source = _open(source_kind, tmp_path / "source.db", request)
    target = _open(target_kind, tmp_path / "target.db", request)
    yield source, target
    source.close()
    target.close()


def _plant(services: Services) -> dict[str, Any]:
    """A plant with something of every kind a copy must carry; return what a test needs."""
    services.marking.define_scheme(SchemeSpec(**KIT_MARKS))
    for batch in DemoPlant(size=1500, seed=11).batches(500):
        services.ingest.sent_by("ana").ingest(batch)
    events = Events("X")
    extra = services.ingest.sent_by("ben")
    received = events.receive("X-1", 10, supplier_lot="H70001")
    extra.ingest([received])
    extra.ingest([events("split", lot="X-1", into=[{"lot": "X-2", "qty": "4"}])])
    extra.ingest([events("void", voids="X-2", reason="wrong lot scanned")])
    opened = events(
        "recall_open",
        case="RC-1",
        title="Heat H70001",
        reason="certificate withdrawn",
        suspects=[{"id": "supplier_lot:ACME-STEEL/H70001"}],
    )
    sent = {"name": "cert.pdf", "media_type": CERT.media_type, "size": CERT.size}
    answer = events(
        "recall_supplier_answer",
        case="RC-1",
        supplier="ACME-STEEL",
        supplier_lot="H70001",
        text="certificate attached",
        documents=[sent | {"sha256": CERT.sha256}],
    )
    extra.ingest([opened])
    extra.ingest([answer], [CERT])
    for _ in range(3):
        services.store.write(lambda tx: tx.next_lot_sequence("PLANT-LOTS/260301"))
    auth = services.auth
    auth.put_company("ACME-STEEL", "Acme Steel", "supplier", share_lot_ids=True)
    auth.add_user("ana", "correct horse battery", "analyst")
    auth.add_user("acme", "supplier password 1", "supplier", company="ACME-STEEL")
    auth.add_user("gone", "former staff password", "operator")
    auth.set_disabled("gone", True)
    kept = auth.create_key("ana", "line scanner")
    revoked = auth.create_key("ana", "old scanner")
    auth.revoke_key(revoked.info.key_id)
    services.accounts.put_partner(Partner("ACME-STEEL", "https://trace.acme.example", "tg_k_x"))
    token = auth.login("ana", "correct horse battery").access_token
    return {
        "key": kept.key,
        "revoked": revoked.key,
        "token": token,
        "events": events,
        "received": received,
    }


@pytest.mark.neo4j
def test_a_copy_answers_as_the_source_and_carries_on(pair: tuple[Services, Services]) -> None:
    source, target = pair
    made = _plant(source)
    copied = copy_plant(source.store, target.store, chunk=700)
    accounts = copy_accounts(source.accounts, target.accounts)

    assert target.store.events(0, 10**6) == source.store.events(0, 10**6)  # who, when, voids
    assert copied.events == len(source.store.events(0, 10**6))
    assert copied.replayed == copied.events - 2  # the split voided and its void
    assert answers(target.store) == answers(source.store)
    voided = ["lot:X-1"]  # the split voided: found by the lots it named, as on the source
    assert target.store.voided_naming(voided) == source.store.voided_naming(voided) != []
    case = target.store.recall_events_of("RC-1", [])  # sought by case on either store
    assert case == source.store.recall_events_of("RC-1", []) != []
    assert target.store.document(CERT.sha256) == source.store.document(CERT.sha256)
    assert (copied.documents, copied.mark_schemes, copied.lot_sequences) == (1, 1, 1)
    assert (accounts.companies, accounts.users, accounts.keys, accounts.partners) == (1, 3, 2, 1)

    # The copy carries on where the source stopped: idempotency, voids, sequences, accounts.
    events: Events = made["events"]
    assert IngestService(target.store).ingest([made["received"]]).duplicates == 1
    with pytest.raises(BatchRejected, match="already voided"):
        IngestService(target.store).ingest([events("void", voids="X-2", reason="again")])
    assert target.store.write(lambda tx: tx.next_lot_sequence("PLANT-LOTS/260301")) == 4
    assert target.store.mark_usage("KIT4") == source.store.mark_usage("KIT4")
    assert target.store.mark_usage("KIT4")[0] > 10
    auth = AuthService(target.accounts)
    assert auth.users() == AuthService(source.accounts).users()
    assert auth.login("ana", "correct horse battery").access_token
    assert auth.principal_from_key(made["key"]).username == "ana"
    with pytest.raises(Unauthenticated):
        auth.principal_from_key(made["revoked"])
    with pytest.raises(Unauthenticated):  # sessions do not move: people log in again
        auth.principal_from_token(made["token"])
    with pytest.raises(Unauthenticated, match="disabled"):
        auth.login("gone", "former staff password")
    assert target.accounts.partners() == source.accounts.partners()


def _small_plant(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest(
        [events.receive("L-1", 10), events("split", lot="L-1", into=[{"lot": "L-2", "qty": "4"}])]
    )


def test_a_target_holding_anything_is_refused_and_left_as_it_was(
    store: GraphStore, tmp_path: Path, events: Events
) -> None:
    source = EmbeddedStore(tmp_path / "source.db")
    _small_plant(source, events)
    store.write(lambda tx: tx.next_lot_sequence("K"))
    before = (state(store), store.lot_sequences())
    with pytest.raises(Conflict, match="not empty: it holds lot code sequences"):
        copy_plant(source, store)
    IngestService(store).ingest([Events("T").receive("T-1", 1)])
    with pytest.raises(Conflict, match="it holds an event log, a graph, lot code sequences"):
        copy_plant(source, store)
    assert store.lot_sequences() == before[1] and len(store.events(0, 10)) == 1
    source.close()


class _WrittenMeanwhile:
    """A source store that takes one more event once its log has been read to the end."""

    def __init__(self, store: GraphStore, late: dict[str, Any]) -> None:
        self._store, self._late = store, late

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def events(self, after: int, limit: int) -> list[Any]:
        page = self._store.events(after, limit)
        if not page and self._late:
            IngestService(self._store).ingest([self._late])
            self._late = {}
        return page


def test_a_source_written_during_the_copy_fails_the_check(tmp_path: Path, events: Events) -> None:
    source = EmbeddedStore(tmp_path / "source.db")
    target = EmbeddedStore(tmp_path / "target.db")
    _small_plant(source, events)
    meanwhile: Any = _WrittenMeanwhile(source, events.receive("L-9", 1, supplier_lot="A-9"))
    with pytest.raises(CopyMismatch, match=r"ends before event 'E-3'.*Stop writers"):
        copy_plant(meanwhile, target)
    source.close()
    target.close()


class _StopsAt:
    """A store that loses its connection at its `at`-th write, as a server that goes away."""

    def __init__(self, store: Any, at: int, name: str = "write") -> None:
        self._store, self._left, self._name = store, at, name

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if name != self._name:
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._left -= 1
            if self._left == 0:
                raise StoreUnavailable("the connection to the store was lost")
            return found(*args, **kwargs)

        return counted


# Where the first copy stops: in the log (its third page of 300), and in the graph's rebuild,
# which commits chunk by chunk on Neo4j and as one transaction in a file.
STOPS = {"in-the-log": 5, "in-the-rebuild": 9}


@pytest.mark.neo4j
@pytest.mark.parametrize("stop", STOPS.values(), ids=STOPS.keys())
def test_a_copy_that_stopped_is_resumed_and_checked(
    pair: tuple[Services, Services], stop: int
) -> None:
    source, target = pair
    _plant(source)
    logged = source.store.events(0, 10**6)
    with pytest.raises(StoreUnavailable):
        copy_plant(source.store, _StopsAt(target.store, stop), chunk=300)
    carried = target.store.events(0, 10**6)
    assert 0 < len(carried) <= len(logged) and carried == logged[: len(carried)]
    with pytest.raises(Conflict, match="not empty"):
        copy_plant(source.store, target.store)

    copied = copy_plant(source.store, target.store, chunk=300, resume=True)
    assert copied.resumed_after == carried[-1].seq and copied.events == len(logged)
    assert target.store.events(0, 10**6) == logged
    assert answers(target.store) == answers(source.store)
    assert target.store.document(CERT.sha256) == source.store.document(CERT.sha256)
    assert target.store.lot_sequences() == source.store.lot_sequences()

    # The accounts stop after one user, and resume the same way.
    with pytest.raises(StoreUnavailable):
        copy_accounts(source.accounts, _StopsAt(target.accounts, 2, "add_user"))
    assert len(target.accounts.users()) == 1
    accounts = copy_accounts(source.accounts, target.accounts, resume=True)
    assert (accounts.companies, accounts.users, accounts.keys, accounts.partners) == (1, 3, 2, 1)
    assert target.accounts.users() == source.accounts.users()
    assert target.accounts.account_events(0, 10**6) == source.accounts.account_events(0, 10**6)


def test_resuming_onto_what_is_not_a_copy_is_refused_and_writes_nothing(
    tmp_path: Path, events: Events
) -> None:
    source = Services.for_stores(*_embedded(tmp_path / "source.db"))
    _small_plant(source.store, events)
    source.auth.add_user("ana", "correct horse battery", "analyst")
    other = Events("O")

    def refused(target: Services, match: str) -> None:
        before = (state(target.store), target.store.lot_sequences(), target.accounts.users())
        with pytest.raises(Conflict, match=f"not a stopped copy of this store, or .*{match}"):
            if target is staffed:
                copy_accounts(source.accounts, target.accounts, resume=True)
            else:
                copy_plant(source.store, target.store, resume=True)
        after = (state(target.store), target.store.lot_sequences(), target.accounts.users())
        assert after == before

    staffed = Services.for_stores(*_embedded(tmp_path / "staffed.db"))
    another_plant = Services.for_stores(*_embedded(tmp_path / "other.db"))
    _small_plant(another_plant.store, other)
    refused(another_plant, r"log differs from this store's at position 1 \('O-1'\)")
    longer = Services.for_stores(*_embedded(tmp_path / "longer.db"))
    copy_plant(source.store, longer.store)
    IngestService(longer.store).ingest([events.receive("L-9", 1, supplier_lot="A-9")])
    refused(longer, r"log differs from this store's at position 3")
    numbered = Services.for_stores(*_embedded(tmp_path / "numbered.db"))
    numbered.store.write(lambda tx: tx.next_lot_sequence("K"))
    refused(numbered, "its lot code sequence 'K' is ahead of this store's")
    staffed.auth.add_user("root", "another long password", "admin")
    refused(staffed, r"its users differ from this store's \('root'\)")
    for services in (source, another_plant, longer, numbered, staffed):
        services.close()


def _embedded(path: Path) -> tuple[GraphStore, AccountStore]:
    return EmbeddedStore(path), EmbeddedAccountStore(path)


def test_a_copy_stopped_between_an_event_and_its_void_resumes_with_new_lot_codes(
    tmp_path: Path, events: Events
) -> None:
    source = EmbeddedStore(tmp_path / "source.db")
    target = EmbeddedStore(tmp_path / "target.db")
    _small_plant(source, events)
    IngestService(source).ingest([events("void", voids="E-2", reason="wrong lot scanned")])
    source.write(lambda tx: tx.next_lot_sequence("K"))
    # Writes: schemes, then log pages of two events (no documents); the second holds the void.
    with pytest.raises(StoreUnavailable):
        copy_plant(source, _StopsAt(target, 3), chunk=2)
    assert [e.voided_by for e in target.events(0, 10)] == [None, None]  # its void not carried
    # The plant went on minting lot codes meanwhile.
    source.write(lambda tx: tx.next_lot_sequence("K"))
    copied = copy_plant(source, target, chunk=2, resume=True)
    assert (copied.resumed_after, copied.events, copied.replayed) == (2, 3, 1)
    assert target.events(0, 10) == source.events(0, 10)
    assert state(target) == state(source) and target.lot_sequences() == {"K": 2}
    source.close()
    target.close()


@pytest.mark.neo4j
def test_a_copy_whose_process_died_while_it_rebuilt_on_neo4j_is_resumed(
    request: pytest.FixtureRequest, tmp_path: Path, events: Events
) -> None:
    """A rebuild whose process dies leaves its mark on the Neo4j graph, so the graph refuses
    other writes; the copy resumed takes that rebuild over instead of being refused by it."""
    from graph.neo4j_store import START_REBUILD, Neo4jStore

    source = EmbeddedStore(tmp_path / "source.db")
    _small_plant(source, events)
    target = _open("neo4j", tmp_path / "unused.db", request)
    with pytest.raises(StoreUnavailable):  # stops in the log, after schemes and one page
        copy_plant(source, _StopsAt(target.store, 3), chunk=1)
    # The copy started over dies in its rebuild: the rebuild's mark stays, as no finally runs,
    # and the server ends the transactions of the process that is gone.
    neo4j = neo4j_or_skip(request)
    died = Neo4jStore(neo4j.uri, user=neo4j.user, password=neo4j.password)
    with died._session() as session:
        session.run(START_REBUILD, token="died", started="2026-01-05T08:00:00Z").consume()
    died.close()
    with pytest.raises(StoreBusy):
        IngestService(target.store).ingest([Events("T").receive("T-1", 1)])

    copied = copy_plant(source, target.store, chunk=1, resume=True)
    assert (copied.resumed_after, copied.events) == (1, 2)
    assert target.store.events(0, 10) == source.events(0, 10)
    assert state(target.store) == state(source)
    IngestService(target.store).ingest([Events("T").receive("T-1", 1)])  # writes go on
    source.close()
    target.close()


@pytest.mark.neo4j
def test_a_copy_resumed_while_another_process_rebuilds_on_neo4j_waits_then_is_refused(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    events: Events,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A live rebuild's mark is not one to take over: the copy resumed waits for the rebuild's
    lease as any rebuild does, and is StoreBusy, writing nothing, if it is not had in time."""
    from graph import neo4j_driver
    from graph.neo4j_store import Neo4jStore

    monkeypatch.setattr(neo4j_driver, "LOCK_WAIT", 1.0)
    source = EmbeddedStore(tmp_path / "source.db")
    _small_plant(source, events)
    target = _open("neo4j", tmp_path / "unused.db", request)
    with pytest.raises(StoreUnavailable):  # stops in the log, after schemes and one page
        copy_plant(source, _StopsAt(target.store, 3), chunk=1)
    carried = target.store.events(0, 10)
    neo4j = neo4j_or_skip(request)
    elsewhere = Neo4jStore(neo4j.uri, user=neo4j.user, password=neo4j.password)
    with elsewhere.atomically():  # a rebuild under way in another process
        elsewhere.clear_projection()
        with pytest.raises(StoreBusy, match="being rebuilt from its log by another client"):
            copy_plant(source, target.store, chunk=1, resume=True)
        assert target.store.events(0, 10) == carried  # nothing was written under its mark
    elsewhere.close()

    copied = copy_plant(source, target.store, chunk=1, resume=True)
    assert (copied.resumed_after, copied.events) == (1, 2)
    assert state(target.store) == state(source)
    source.close()
    target.close()
