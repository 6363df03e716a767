"""The demo plant's configuration beside its events: lot code schemes and example queries."""

from __future__ import annotations

from graph.lot_codes import LotCodeService, LotSchemeSpec
from graph.store import GraphStore

# ACME-STEEL's heat numbers (H70001) and the plant's stock lots (L00001-BAR): the head letter is
# each company's link code. The plant numbers its stock lots by campaign and does not mint them.
DEMO_LOT_SCHEMES = (
    LotSchemeSpec(
        name="ACME-HEATS",
        company="ACME-STEEL",
        pattern="{link:A1}{heat:N5}",
        link_field="link",
        link_code="H",
        description="Acme Steel heat numbers",
    ),
    LotSchemeSpec(
        name="PLANT-STOCK",
        company="PLANT-1",
        pattern="{link:A1}{campaign:N5}-{stock:A3}",
        link_field="link",
        link_code="L",
        description="bar and rod stock lots, numbered by campaign",
    ),
)


def seed_demo_lot_schemes(store: GraphStore) -> list[str]:
    """Register the demo's lot code schemes; return their names."""
    service = LotCodeService(store)
    return [service.define(spec).name for spec in DEMO_LOT_SCHEMES]


def demo_examples(host: str, port: int) -> list[str]:
    """Return example queries on the demo plant, to print at start-up."""
    base = f"http://{host}:{port}"
    return [
        f"UDI of a kit:       GET {base}/api/v1/udi/serial:KIT000010000",
        f"part registry:      GET {base}/api/v1/parts",
        f"decode a lot code:  GET {base}/api/v1/lots/decode?code=H70001",
        f"GraphQL at {base}/graphql:",
        '  { node(id: "serial:KIT000010000") { ... on Serial { udi { humanReadable } } } }',
        '  { decodeLot(code: "H70001") { matches { partner candidates { lots } } } }',
    ]
