"""What an operator of PLANT-1 reads of what PLANT-2 holds: nothing, through any query.

Another site's items answer exactly as items that do not exist, so an operator cannot tell
them apart, nor learn through a side door (decoding, carts) what their own reads would hide.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.deps import Services
from graph.lot_codes import LotCodeService, LotSchemeSpec
from tests.api.conftest import login
from tests.fixtures.events import Events

OTHER = "PLANT-2"
DECODE = """query($code: String!) { decodeLot(code: $code) { matches { scheme partner
  candidates { supplierLot { id } receivedAt lots confirmed } } } }"""


def gql(client: TestClient, role: str, query: str, **variables: Any) -> Any:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=login(client, role)
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_decoding_another_sites_lot_answers_as_for_no_lot(
    client: TestClient, services: Services, events: Events
) -> None:
    LotCodeService(services.store).define(
        LotSchemeSpec(
            name="OURS",
            company="PLANT",
            pattern="{link:X3}-{seq:N4}",
            link_field="link",
            link_code="PL1",
        )
    )
    LotCodeService(services.store).define(
        LotSchemeSpec(
            name="ACME",
            company="ACME",
            pattern="{link:X3}={heat:N4}",
            link_field="link",
            link_code="AC7",
        )
    )
    services.ingest.ingest(
        [
            # PLANT-2 received heat H-2 first, then PLANT-1; H-9 went into a PLANT-1 lot
            # only through a PLANT-2 lot.
            events.receive("AC7-0002", 5, supplier_lot="H-2", site=OTHER),
            events.receive("L-1", 5, supplier_lot="H-2", site="PLANT-1"),
            events.receive("L-2", 5, supplier_lot="H-9", site=OTHER),
            events.receive("L-9", 5, supplier_lot="H-9", site="PLANT-1"),
            events(
                "process",
                step="S-1",
                operation="turn",
                inputs=[{"lot": "L-2", "qty": "1"}],
                outputs=[{"lot": "AC7-0004", "part": "BAR", "qty": "1"}],
                site="PLANT-1",
            ),
        ]
    )

    def candidates(role: str, code: str) -> Any:
        (match,) = gql(client, role, DECODE, code=code)["data"]["decodeLot"]["matches"]
        return match["candidates"]

    # Their lot confirms nothing and its arrival dates nothing: as a code that is no lot.
    assert candidates("operator", "AC7-0002") == candidates("operator", "AC7-0003")
    (h2,) = [c for c in candidates("operator", "AC7-0002") if "H-2" in c["supplierLot"]["id"]]
    assert (h2["lots"], h2["confirmed"]) == (["lot:L-1"], False)
    # A lot of theirs confirms only what it reaches through what they may see.
    assert not any(c["confirmed"] for c in candidates("operator", "AC7-0004"))
    analyst = {
        c["supplierLot"]["id"]: c["confirmed"]
        for code in ("AC7-0002", "AC7-0004")
        for c in candidates("analyst", code)
        if c["confirmed"]
    }
    assert analyst == {"supplier_lot:ACME/H-2": True, "supplier_lot:ACME/H-9": True}
