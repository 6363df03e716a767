"""EpcisWriter on single events: what each view leaves out."""

from __future__ import annotations

import json
from typing import Any

from graph.epcis import FULL_VIEW, EpcisView, EpcisWriter, document, dumps

PROCESS: dict[str, Any] = {
    "event_id": "E-7",
    "type": "process",
    "occurred_at": "2026-03-02T08:00:00Z",
    "step": "WO-991-OP20",
    "operation": "weld",
    "equipment": "WELDER-3",
    "operator": "jdoe",
    "inputs": [{"lot": "L-1", "qty": "2"}],
    "outputs": [{"lot": "L-2", "qty": "2", "part": "P-2"}],
}
OUTSIDE = EpcisView(
    items=frozenset({"lot:L-1", "lot:L-2"}),
    customers=False,
    suppliers=True,
    people=False,
    plant=False,
)


def test_a_view_without_the_plant_gets_no_step_operation_or_equipment() -> None:
    body = EpcisWriter(OUTSIDE).event(PROCESS)
    assert body is not None
    assert body["transformationID"] == "urn:tracegraph:transformation:E-7"
    assert body["inputQuantityList"][0]["epcClass"].endswith(":L-1")
    text = dumps(body).decode()
    for internal in ("WO-991", "weld", "WELDER-3", "jdoe", "bizStep"):
        assert internal not in text, internal


def test_the_full_view_names_the_step_as_the_transformation() -> None:
    body = EpcisWriter(FULL_VIEW).event(PROCESS)
    assert body is not None
    assert body["transformationID"] == "urn:tracegraph:step:WO-991-OP20"
    assert (body["tg:operation"], body["tg:equipment"]) == ("weld", "WELDER-3")


def test_every_quantity_says_its_lots_unit() -> None:
    writer = EpcisWriter(units={"lot:G-1": "g", "lot:P-1": "LBR", "lot:C-1": "pcs"})
    split = {
        "event_id": "E-1",
        "type": "split",
        "occurred_at": "2026-01-05T08:00:00Z",
        "lot": "G-1",
        "into": [{"lot": "G-1a", "qty": "4"}],
    }
    ship = {
        "event_id": "E-2",
        "type": "ship",
        "occurred_at": "2026-01-05T09:00:00Z",
        "shipment": "SH-1",
        "customer": "HOSP",
        "items": [{"lot": "P-1", "qty": "2"}, {"lot": "C-1", "qty": "3"}],
    }
    made = document([split, ship], "2026-01-05T10:00:00Z", writer)["epcisBody"]["eventList"]
    assert made[0]["inputQuantityList"][0]["uom"] == "GRM"
    shipped = made[1]["quantityList"]
    assert shipped[0]["uom"] == "LBR"  # a Rec 20 code already: the schema's uom
    assert "uom" not in shipped[1]
    assert list(made[1]["tg:units"].values()) == ["pcs"]


def test_quantities_are_written_to_the_last_digit_and_counts_whole() -> None:
    split = {
        "event_id": "S-1",
        "type": "split",
        "occurred_at": "2026-03-02T08:00:00Z",
        "lot": "L-1",
        "into": [{"lot": "C-1", "qty": "1234567890.00"}, {"lot": "C-2", "qty": "0.123456789"}],
    }
    written = json.loads(dumps(document([split], "2026-03-02T09:00:00Z")), parse_float=str)
    (made,) = written["epcisBody"]["eventList"]
    # What it takes is the sum of what it makes; a whole quantity is an integer.
    assert [q["quantity"] for q in made["inputQuantityList"]] == ["1234567890.123456789"]
    assert [q["quantity"] for q in made["outputQuantityList"]] == [1234567890, "0.123456789"]


def test_parameters_past_64_bits_are_written_as_sent() -> None:
    wide = 2**64 * 10 + 1
    process = PROCESS | {"params": {"count": wide, "negative": -wide, "temp": 21.5, "ok": True}}
    body = EpcisWriter().event(process)
    assert body is not None
    written = json.loads(dumps(body))["tg:params"]
    assert written == {"count": wide, "negative": -wide, "temp": 21.5, "ok": True}


def test_a_split_or_merge_with_an_item_hidden_says_no_sum_of_it() -> None:
    """The total of a split or merge counts every lot: where the view hides one, the sum the
    listed lots do not account for is left out, not written as a contradiction."""
    split = {
        "event_id": "E-1",
        "type": "split",
        "occurred_at": "2026-01-05T08:00:00Z",
        "lot": "L-1",
        "into": [{"lot": "L-1a", "qty": "4"}, {"lot": "L-1b", "qty": "6"}],
    }
    merge = {
        "event_id": "E-2",
        "type": "merge",
        "occurred_at": "2026-01-05T09:00:00Z",
        "from": [{"lot": "L-1a", "qty": "4"}, {"lot": "L-1b", "qty": "6"}],
        "into": {"lot": "L-2"},
    }
    whole = EpcisWriter(FULL_VIEW)
    assert whole.event(split)["inputQuantityList"][0]["quantity"] == 10  # type: ignore[index]
    assert whole.event(merge)["outputQuantityList"][0]["quantity"] == 10  # type: ignore[index]
    part = EpcisWriter(EpcisView(items=frozenset({"lot:L-1", "lot:L-1a", "lot:L-2"})))
    split_seen, merge_seen = part.event(split), part.event(merge)
    assert split_seen is not None and merge_seen is not None
    assert "quantity" not in split_seen["inputQuantityList"][0]
    assert "quantity" not in merge_seen["outputQuantityList"][0]
    assert b"L-1b" not in dumps({"events": [split_seen, merge_seen]})
