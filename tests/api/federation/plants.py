"""Three companies' data for federation tests, and seeding an instance through its public API.

ACME melts an ore lot into bar heats and ships them to PLANT (and one to OTHERCUST). PLANT
assembles kits from ACME's bars (one with a case from CASECO, not a partner) and ships them to HOSP
and OTHERHOSP. HOSP installs its kits into finished systems FIN-1 and FIN-3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from tests.fixtures.events import Events

PASSWORD = "federation-test-pass"


class Http(Protocol):
    """What seeding needs of an HTTP client: a TestClient or an httpx2 client both fit."""

    def post(self, url: str, **kwargs: Any) -> Any: ...

    def put(self, url: str, **kwargs: Any) -> Any: ...


def acme_events() -> list[dict[str, Any]]:
    e = Events("A")
    return [
        e.receive("RAW-1", 100, part="BILLET", supplier="ORE-CO", supplier_lot="ORE-9"),
        e(
            "process",
            step="MELT-1",
            operation="melt",
            equipment="FURNACE-1",
            operator="fred",
            inputs=[{"lot": "RAW-1", "qty": "100"}],
            outputs=[
                {"lot": "H70001", "part": "BAR", "qty": "60"},
                {"lot": "H70002", "part": "BAR", "qty": "30"},
                {"lot": "H70009", "part": "BAR", "qty": "10"},
            ],
        ),
        e("ship", shipment="ASH-1", customer="PLANT", items=[{"lot": "H70001", "qty": "40"}]),
        e("ship", shipment="ASH-2", customer="OTHERCUST", items=[{"lot": "H70001", "qty": "20"}]),
        e("ship", shipment="ASH-3", customer="PLANT", items=[{"lot": "H70002", "qty": "30"}]),
        e("ship", shipment="ASH-9", customer="OTHERCUST", items=[{"lot": "H70009", "qty": "10"}]),
    ]


def plant_events() -> list[dict[str, Any]]:
    e = Events("P")

    def assemble(step: str, serial: str, inputs: list[dict[str, str]]) -> dict[str, Any]:
        return e(
            "process",
            step=step,
            operation="assemble",
            equipment="PRESS-1",
            operator="pat",
            inputs=inputs,
            outputs=[{"serial": serial, "part": "KIT"}],
        )

    return [
        e.receive("P-BAR-1", 40, part="BAR", supplier="ACME", supplier_lot="H70001"),
        e.receive("P-BAR-2", 30, part="BAR", supplier="ACME", supplier_lot="H70002"),
        e.receive("P-CASE-1", 10, part="CASE", supplier="CASECO", supplier_lot="C-5"),
        assemble(
            "ASSY-1", "KIT0001", [{"lot": "P-BAR-1", "qty": "2"}, {"lot": "P-CASE-1", "qty": "1"}]
        ),
        assemble("ASSY-2", "KIT0002", [{"lot": "P-BAR-1", "qty": "2"}]),
        assemble("ASSY-3", "KIT0003", [{"lot": "P-BAR-2", "qty": "2"}]),
        e("ship", shipment="PSH-1", customer="HOSP", items=[{"serial": "KIT0001"}]),
        e("ship", shipment="PSH-2", customer="OTHERHOSP", items=[{"serial": "KIT0002"}]),
        e("ship", shipment="PSH-3", customer="HOSP", items=[{"serial": "KIT0003"}]),
    ]


def hosp_events() -> list[dict[str, Any]]:
    e = Events("H")
    return [
        e.receive("HK-1", 1, part="KIT", supplier="PLANT", supplier_lot="KIT0001"),
        e.receive("HK-3", 1, part="KIT", supplier="PLANT", supplier_lot="KIT0003"),
        e(
            "process",
            step="INSTALL-1",
            operation="install",
            inputs=[{"lot": "HK-1"}],
            outputs=[{"serial": "FIN-1", "part": "SYSTEM"}],
        ),
        e(
            "process",
            step="INSTALL-3",
            operation="install",
            inputs=[{"lot": "HK-3"}],
            outputs=[{"serial": "FIN-3", "part": "SYSTEM"}],
        ),
    ]


@dataclass
class Seed:
    """What one instance is given: events, companies (with policies) and accounts."""

    events: list[dict[str, Any]]
    companies: list[dict[str, Any]] = field(default_factory=list)
    # username -> (role, company or None)
    users: dict[str, tuple[str, str | None]] = field(default_factory=dict)


ACME = Seed(
    acme_events(),
    companies=[
        {"company": "PLANT", "kind": "customer", "share_upstream": True, "share_steps": True},
        {"company": "OTHERCUST", "kind": "customer", "share_upstream": True},
        {"company": "ORE-CO", "kind": "supplier"},
    ],
    users={"plant-at-acme": ("customer", "PLANT"), "ana": ("analyst", None)},
)
PLANT = Seed(
    plant_events(),
    companies=[
        {"company": "ACME", "kind": "supplier", "share_lot_ids": True},
        {"company": "CASECO", "kind": "supplier"},
        {"company": "HOSP", "kind": "customer", "share_upstream": True, "reshare": True},
        {"company": "OTHERHOSP", "kind": "customer", "share_upstream": True},
    ],
    users={
        "hosp-at-plant": ("customer", "HOSP"),
        "acme-at-plant": ("supplier", "ACME"),
        "ana": ("analyst", None),
        "otto": ("operator", None),
    },
)
HOSP = Seed(
    hosp_events(),
    companies=[{"company": "PLANT", "kind": "supplier"}],
    users={"ana": ("analyst", None)},
)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def seed(client: Http, admin: dict[str, str], data: Seed) -> dict[str, str]:
    """Load an instance as its admin would; return an API key per user."""
    ok(client.post("/api/v1/events", json=data.events, headers=admin), 201)
    for company in data.companies:
        ok(client.put("/api/v1/admin/companies", json=company, headers=admin))
    keys: dict[str, str] = {}
    for username, (role, company) in data.users.items():
        body = {"username": username, "password": PASSWORD, "role": role, "company": company}
        ok(client.post("/api/v1/admin/users", json=body, headers=admin), 201)
        issued = ok(
            client.post("/api/v1/admin/keys", json={"username": username}, headers=admin), 201
        )
        keys[username] = issued["key"]
    return keys


def policy(client: Http, admin: dict[str, str], data: Seed, company: str, **flags: Any) -> None:
    """Change what one company of a seed is shared (its other flags stay)."""
    known = next(c for c in data.companies if c["company"] == company)
    ok(client.put("/api/v1/admin/companies", json=known | flags, headers=admin))
