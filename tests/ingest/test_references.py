"""The fast list of what an event reads agrees with the one that names the fields."""

from __future__ import annotations

from ingest.demo_plant import DemoPlant
from ingest.parse import parse_events
from ingest.references import referenced, references


def test_both_lists_agree_on_every_event_of_the_demo_plant() -> None:
    events = parse_events([e for batch in DemoPlant(size=300, seed=2).batches(500) for e in batch])
    kinds = {type(event).__name__ for event in events}
    assert {"Process", "SetStatus", "Mark", "Receive", "Split", "Ship"} <= kinds
    for event in events:
        assert referenced(event) == [node for _, node in references(event)], event.event_id
