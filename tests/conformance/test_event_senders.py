"""The log keeps who sent each event and when it was recorded, on every store."""

from __future__ import annotations

from graph.clock import now_text
from graph.store import GraphStore
from ingest.service import SYSTEM, IngestService
from tests.fixtures.events import Events


def test_each_event_is_logged_with_its_sender_and_time_of_recording(
    store: GraphStore, events: Events
) -> None:
    before = now_text()
    IngestService(store).sent_by("otto").ingest([events.receive("L-1", 10, actor="chen")])
    IngestService(store).sent_by("ana").ingest(
        [events("status", target={"lot": "L-1"}, status="quarantined", reason="check")]
    )
    after = now_text()

    logged = store.events(0, 10)

    # The sender is the account, whatever `actor` the event names.
    assert [(e.type, e.recorded_by) for e in logged] == [("receive", "otto"), ("status", "ana")]
    times = [e.recorded_at for e in logged]
    assert all(t is not None and before <= t <= after for t in times)
    assert times == sorted(times, key=str)
    assert store.logged(["E-1"])["E-1"].recorded_by == "otto"


def test_a_resend_by_someone_else_keeps_the_first_sender(store: GraphStore, events: Events) -> None:
    receipt = events.receive("L-1", 10)
    IngestService(store).sent_by("otto").ingest([receipt])
    first = store.logged(["E-1"])["E-1"]

    report = IngestService(store).sent_by("mallory").ingest([receipt])

    assert report.duplicates == 1
    assert store.logged(["E-1"])["E-1"] == first


def test_a_service_acting_for_no_one_logs_the_system(store: GraphStore, events: Events) -> None:
    IngestService(store).ingest([events.receive("L-1", 10)])

    assert store.events(0, 1)[0].recorded_by == SYSTEM


def test_voided_events_keep_their_sender(store: GraphStore, events: Events) -> None:
    IngestService(store).sent_by("otto").ingest([events.receive("L-1", 10)])
    IngestService(store).sent_by("ana").ingest([events("void", voids="E-1", reason="typo")])

    (voided,) = store.voided_events()

    assert (voided.event_id, voided.recorded_by, voided.voided_by) == ("E-1", "otto", "E-2")
    assert store.logged(["E-2"])["E-2"].recorded_by == "ana"


def test_a_rebuild_keeps_who_sent_what(store: GraphStore, events: Events) -> None:
    IngestService(store).sent_by("otto").ingest(
        [events.receive("L-1", 10), events("split", lot="L-1", into=[{"lot": "L-2", "qty": "4"}])]
    )
    logged = store.events(0, 10)

    IngestService(store).rebuild()

    assert store.events(0, 10) == logged
