"""An event the published schema passes is one the service takes, and the other way round.

Each event goes through docs/events.schema.json (with format checking) and through what a sent
batch meets: the reserved ids, the contract and the rules of the graph, on the embedded store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from api.supplier_portal import answer_ids_taken
from graph.embedded_store import EmbeddedStore
from ingest.errors import BatchRejected
from ingest.parse import parse_events
from ingest.service import IngestService

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMA = Draft202012Validator(
    json.loads((DOCS / "events.schema.json").read_text()),
    format_checker=Draft202012Validator.FORMAT_CHECKER,
)
AT = "2026-03-02T09:00:00Z"


def receive(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": "X",
        "type": "receive",
        "occurred_at": AT,
        "supplier": "ACME",
        "supplier_lot": "A-79",
        "part": "BAR-316L",
        "lot": "L-N",
        "qty": "5",
    } | fields


def event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": "X", "type": kind, "occurred_at": AT, **fields}


def mark(code: str) -> dict[str, Any]:
    return event("mark", target={"lot": "L-1"}, code=code)


def status(target: dict[str, Any]) -> dict[str, Any]:
    return event("status", target=target, status="released", reason="r")


def process(**fields: Any) -> dict[str, Any]:
    return event("process", step="S-9", operation="turn", **fields)


def answer(**fields: Any) -> dict[str, Any]:
    return event("recall_supplier_answer", case="RC-1", supplier="ACME", supplier_lot="A-77") | (
        fields
    )


REFUSED = {
    "naive time": receive(occurred_at="2026-03-02T08:10:00"),
    "number time": receive(occurred_at=1700000000),
    "offset +14:30": receive(occurred_at="2026-03-02T08:10:00+14:30"),
    "offset +05": receive(occurred_at="2026-03-02T08:10:00+05"),
    "offset +05:45:30": receive(occurred_at="2026-03-02T08:10:00+05:45:30"),
    "offset +24:00": receive(occurred_at="2026-03-02T08:10:00+24:00"),
    "hour 24": receive(occurred_at="2026-03-02T24:00:00Z"),
    "leap second": receive(occurred_at="2026-03-02T23:59:60Z"),
    "zone name": receive(occurred_at="2026-03-02T08:10:00+01:00[Europe/Paris]"),
    "trailing space": receive(occurred_at="2026-03-02T08:10:00Z "),
    "year 1 at +14:00": receive(occurred_at="0001-01-01T00:00:00+14:00"),
    "year 9999 at -14:00": receive(occurred_at="9999-12-31T23:59:59-14:00"),
    "week date": receive(occurred_at="2026-W10-1T08:00:00Z"),
    "time without seconds": receive(occurred_at="2026-03-02T08:10+01:00"),
    "fraction after a comma": receive(occurred_at="2026-03-02T08:10:00,25Z"),
    "offset without colon": receive(occurred_at="2026-03-02T08:10:00-0545"),
    "30 February": receive(occurred_at="2026-02-30T08:00:00Z"),
    "qty 5_0": receive(qty="5_0"),
    "qty ' 5'": receive(qty=" 5"),
    "qty fullwidth": receive(qty="\uff15"),
    "qty 0": receive(qty="0"),
    "qty -1": receive(qty="-1"),
    "qty 0 as a number": receive(qty=0),
    "qty abc": receive(qty="abc"),
    "qty 29 digits": receive(qty="1" * 29),
    "qty 29 digits as a number": receive(qty=10**28),
    "qty 29th decimal": receive(qty="0." + "0" * 28 + "1"),
    "qty NaN": receive(qty="NaN"),
    "qty Infinity": receive(qty="Infinity"),
    "unknown field": receive(colour="red"),
    "note 2001": receive(note="x" * 2001),
    "event_id 201": receive(event_id="x" * 201),
    "event_id U+2028": receive(event_id="a\u2028b"),
    "event_id C1 U+0085": receive(event_id="a\u0085b"),
    "event_id RLO": receive(event_id="a\u202eb"),
    "event_id LRI": receive(event_id="a\u2066b"),
    "event_id ZWSP": receive(event_id="a\u200bb"),
    "event_id no-break space": receive(event_id="a\u00a0b"),
    "event_id soft hyphen": receive(event_id="a\u00adb"),
    "lot U+2028": receive(lot="L\u2028x"),
    "reserved event_id": receive(event_id="recall_supplier_answer/ACME/1"),
    "expiry as a time": receive(expiry="2030-01-01T00:00:00Z"),
    "expiry month 13": receive(expiry="2030-13-01"),
    "supplier with a slash": receive(supplier="A/B"),
    "supplier with ZWSP": receive(supplier="A\u200bB"),
    "empty site": receive(site=""),
    "unit empty": receive(unit=""),
    "unit 21 characters": receive(unit="u" * 21),
    "mark code with a space": mark("AB 7"),
    "mark code with ?": mark("AB?"),
    "mark code in lower case": mark("ab7"),
    "mark code with a no-break space": mark("AB\u00a07"),
    "reference with two keys": status({"lot": "L-1", "serial": "x"}),
    "reference with no key": status({}),
    "reference with a null key": status({"lot": None}),
    "status unknown": event("status", target={"lot": "L-1"}, status="lost", reason="r"),
    "merge of one source": event("merge", **{"from": [{"lot": "L-1", "qty": "1"}]}, into={}),
    "cart seq without group": event("cart_define", cart="C-9", seq=2),
    "cart seq with a null group": event("cart_define", cart="C-9", seq=2, group=None),
    "cart seq 0": event("cart_define", cart="C-9", group="1", seq=0),
    "cart compartment twice": event("cart_define", cart="C-9", compartments=["A", "A"]),
    "split child compartment without cart": event(
        "split", lot="L-2", into=[{"lot": "L-2a", "qty": "1", "compartment": "A"}]
    ),
    "process without inputs or outputs": process(),
    "process with nested params": process(inputs=[{"lot": "L-2", "qty": "1"}], params={"a": {}}),
    "process input serial of 2": process(inputs=[{"serial": "SN-1", "qty": "2"}]),
    "process output lot without qty": process(outputs=[{"lot": "P-1", "part": "P"}]),
    "process output serial with unit": process(
        outputs=[{"serial": "SN-1", "part": "P", "unit": "ea"}]
    ),
    "ship lot without qty": event("ship", shipment="SH-9", customer="H", items=[{"lot": "L-2"}]),
    "gtin with a letter": event("part_define", part="P-9", gtin="0950600013435A"),
    "question 5001": event(
        "recall_supplier_request",
        case="RC-1",
        supplier="ACME",
        supplier_lot="A-77",
        question="q" * 5001,
        due_by="2026-04-01T00:00:00Z",
    ),
    "answer of none of the three": answer(),
    "answer of a blank text": answer(text=" \u3000\n"),
    "suspect of an unknown kind": event(
        "recall_open", case="RC-1", title="t", reason="r", suspects=[{"id": "part:P"}]
    ),
    "equipment suspect without a window": event(
        "recall_open", case="RC-1", title="t", reason="r", suspects=[{"id": "equipment:E"}]
    ),
    "lot suspect with a window": event(
        "recall_open",
        case="RC-1",
        title="t",
        reason="r",
        suspects=[{"id": "lot:L-1", "from": AT, "to": AT}],
    ),
    "lot suspect with a window's start": event(
        "recall_open", case="RC-1", title="t", reason="r", suspects=[{"id": "lot:L-1", "from": AT}]
    ),
    "serial suspect with a window's end": event(
        "recall_open", case="RC-1", title="t", reason="r", suspects=[{"id": "serial:S", "to": AT}]
    ),
    "new case keyed as a case's id": event(
        "recall_open", case="case:RC-1", title="t", reason="r", suspects=[{"id": "lot:L-1"}]
    ),
    "new case keyed with a slash": event(
        "recall_open", case="RC/1", title="t", reason="r", suspects=[{"id": "lot:L-1"}]
    ),
    "new case keyed as a dot segment": event(
        "recall_open", case="..", title="t", reason="r", suspects=[{"id": "lot:L-1"}]
    ),
    "ack of -1": event("recall_ack", notice="N-1", found_qty="-1", returned_qty="0"),
    "hold of no items": event("recall_hold", case="RC-1", reason="r", items=[]),
    "hold of a reference with two keys": event(
        "recall_hold", case="RC-1", reason="r", items=[{"lot": "L-1", "serial": "x"}]
    ),
    "void without reason": event("void", voids="R-2"),
    "unknown type": event("teleport"),
    "no serials": event("serialize", lot="L-2", serials=[]),
    "ship of no items": event("ship", shipment="SH-9", customer="H", items=[]),
    "split into nothing": event("split", lot="L-2", into=[]),
}
# What a schema cannot say: the service alone refuses these (docs/events.md says which).
REFUSED_BY_THE_SERVICE_ONLY = {
    "finish before start": process(
        inputs=[{"lot": "L-2", "qty": "1"}],
        started_at="2026-03-02T12:00:00Z",
        finished_at="2026-03-02T11:00:00Z",
    ),
    "gtin check digit": event("part_define", part="P-9", gtin="09506000134353"),
    "ack returning more than found": event(
        "recall_ack", notice="N-1", found_qty="1", returned_qty="2"
    ),
    "mark code in lower-case Greek": mark("A\u03b17"),
}
TAKEN = {
    "lower-case z": receive(occurred_at="2026-03-02T08:10:00z"),
    "space for T": receive(occurred_at="2026-03-02 08:10:00Z"),
    "offset -14:00": receive(occurred_at="2026-03-02T08:10:00-14:00"),
    "29 February 2024": receive(occurred_at="2024-02-29T08:00:00Z"),
    "year 1 behind UTC": receive(occurred_at="0001-01-01T00:00:00-05:00"),
    "qty 28 digits": receive(qty="9" * 28),
    "qty 28 decimals": receive(qty="0." + "0" * 27 + "1"),
    "qty with zeros around": receive(qty="+000012.5000000000000000000000000000"),
    "qty as a number": receive(qty=12.5),
    "ids of any script with a space": receive(event_id="批 7", lot="Лот 1", part="部品"),
    "mark code": mark("AB7"),
    "reference with a null other key": status({"lot": "L-1", "serial": None}),
    "process of a serial of 1": process(
        inputs=[{"lot": "L-2", "qty": "1"}], outputs=[{"serial": "SN-1", "part": "P", "qty": 1}]
    ),
    "cart in a group": event("cart_define", cart="C-9", group="1", seq=2, compartments=["A", "B"]),
    "gtin": event("part_define", part="P-9", gtin="09506000134352"),
    "case keyed with a colon": event(
        "recall_open", case="RC:case:1", title="t", reason="r", suspects=[{"id": "lot:L-1"}]
    ),
}
# What the schema refuses and the service reads: a quantity's text with an exponent, and an
# offset on the first day of year 1 that keeps the time in year 1 (docs/events.md).
TAKEN_BY_THE_SERVICE_ONLY = {
    "qty 1e3": receive(qty="1e3"),
    "year 1 ahead of UTC, in it": receive(occurred_at="0001-01-01T20:00:00+01:00"),
}


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[IngestService]:
    store = EmbeddedStore(tmp_path / "plant.db")
    service = IngestService(store)
    service.ingest(
        [
            receive(event_id="R-1", lot="L-1", supplier_lot="A-77", qty="500"),
            receive(event_id="R-2", lot="L-2", supplier_lot="A-78", qty="100"),
        ]
    )
    yield service
    store.close()


def schema_passes(raw: dict[str, Any]) -> bool:
    return not any(SCHEMA.iter_errors(raw))


def service_takes(plant: IngestService, raw: dict[str, Any]) -> bool:
    """As a sent batch is met: the reserved event ids, then the contract and the graph."""
    try:
        if answer_ids_taken([raw]):
            return False
        plant.ingest([raw])
    except BatchRejected:
        return False
    return True


CASES = [
    *((name, raw, False, False) for name, raw in REFUSED.items()),
    *((name, raw, True, False) for name, raw in REFUSED_BY_THE_SERVICE_ONLY.items()),
    *((name, raw, True, True) for name, raw in TAKEN.items()),
    *((name, raw, False, True) for name, raw in TAKEN_BY_THE_SERVICE_ONLY.items()),
]


@pytest.mark.parametrize(
    ("raw", "passes", "taken"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_schema_refuses_what_the_service_refuses(
    plant: IngestService, raw: dict[str, Any], passes: bool, taken: bool
) -> None:
    assert (schema_passes(raw), service_takes(plant, raw)) == (passes, taken)


def _documented_events() -> list[dict[str, Any]]:
    text = (DOCS / "events.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.DOTALL)]
    return [b for b in blocks if "type" in b]


def test_the_documented_events_pass_the_schema_and_the_contract() -> None:
    documented = _documented_events()
    assert len(documented) >= 7
    assert [e["event_id"] for e in documented if not schema_passes(e)] == []
    assert len(parse_events(documented)) == len(documented)
