"""EPCIS TransformationEvents that combine lots: what the document says they make is kept or
refused by name, never dropped."""

from __future__ import annotations

from typing import Any

import pytest

from graph.store import GraphStore
from ingest.epcis_capture import capture
from ingest.epcis_import import EpcisReader
from ingest.errors import BatchRejected
from ingest.service import IngestService
from tests.conformance.helpers import state
from tests.fixtures.epcis import gs1_document

GRANULE = ("urn:tracegraph:lot:GR-1", "urn:tracegraph:lot:GR-2")
MOULDED = "urn:tracegraph:lot:CAP-1"


def capture_into(store: GraphStore, *events: dict[str, Any]) -> Any:
    document = gs1_document()
    document["epcisBody"]["eventList"] = list(events)
    return capture(document, EpcisReader(), IngestService(store).ingest, store.logged)


def receipts() -> list[dict[str, Any]]:
    return [
        {
            "type": "ObjectEvent",
            "eventID": f"urn:uuid:5e0c0c1e-0000-4000-8000-00000000000{n}",
            "eventTime": "2026-03-02T08:00:00+01:00",
            "eventTimeZoneOffset": "+01:00",
            "action": "ADD",
            "bizStep": "receiving",
            "quantityList": [{"epcClass": lot, "quantity": 10, "uom": "KGM"}],
            "sourceList": [{"type": "owning_party", "source": "urn:tracegraph:company:POLY"}],
            "ilmd": {"tg:part": "PEEK"},
        }
        for n, lot in enumerate(GRANULE)
    ]


def moulding(qty: int, uom: str | None, **extra: Any) -> dict[str, Any]:
    """Both granule lots, 10 kg and 5 kg, into one lot of caps."""
    made: dict[str, Any] = {"epcClass": MOULDED, "quantity": qty}
    if uom is not None:
        made["uom"] = uom
    return {
        "type": "TransformationEvent",
        "eventID": "urn:uuid:5e0c0c1e-0000-4000-8000-0000000000a1",
        "eventTime": "2026-03-03T08:00:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        "inputQuantityList": [
            {"epcClass": GRANULE[0], "quantity": 10, "uom": "KGM"},
            {"epcClass": GRANULE[1], "quantity": 5, "uom": "KGM"},
        ],
        "outputQuantityList": [made],
        "tg:parts": {MOULDED: "CAP"},
        **extra,
    }


def test_a_blend_that_makes_another_quantity_in_another_unit_keeps_them(
    store: GraphStore,
) -> None:
    capture_into(store, *receipts())
    capture_into(store, moulding(400, "H87"))  # 15 kg of granule into 400 caps
    made = store.node("lot:CAP-1")
    assert made is not None
    assert (made.attrs["part"], made.attrs["qty"], made.attrs["unit"]) == ("CAP", "400", "ea")
    # What it took of each lot is what the document says.
    assert store.node("lot:GR-1").attrs["available"] == "0"  # type: ignore[union-attr]
    assert store.node("lot:GR-2").attrs["available"] == "5"  # type: ignore[union-attr]


def test_a_blend_that_makes_what_its_lots_hold_is_a_mix(store: GraphStore) -> None:
    capture_into(store, *receipts())
    (result,) = capture_into(store, moulding(15, "KGM")).to_dict()["results"]
    assert result["type"] == "mix"
    made = store.node("lot:CAP-1")
    assert made is not None and (made.attrs["qty"], made.attrs["unit"]) == ("15", "kg")


@pytest.mark.parametrize(
    ("qty", "uom", "code", "field"),
    [
        (14, "KGM", "quantity_mismatch", "outputQuantityList[0].quantity"),
        (15, "H87", "unit_mismatch", "outputQuantityList[0].uom"),
    ],
)
def test_a_mix_of_ours_that_makes_other_than_its_lots_hold_is_refused_by_field(
    store: GraphStore, qty: int, uom: str, code: str, field: str
) -> None:
    capture_into(store, *receipts())
    before = state(store)
    with pytest.raises(BatchRejected) as caught:
        capture_into(store, moulding(qty, uom, **{"tg:type": "mix"}))
    assert state(store) == before
    (problem,) = caught.value.problems
    assert (problem.index, problem.field, problem.code) == (0, field, code)
    assert "a mix makes what its lots hold" in problem.message
