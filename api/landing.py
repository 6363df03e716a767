"""The landing page: what this instance holds and where to start."""

from __future__ import annotations

from html import escape

from graph.store import GraphStore

EXAMPLES = (
    (
        "Where did supplier lot ACME-STEEL/H70001 go?",
        "/api/v1/trace?id=supplier_lot:ACME-STEEL/H70001&direction=down",
    ),
    ("What went into kit KIT000010000?", "/api/v1/trace?id=serial:KIT000010000&direction=up"),
    ("Lot L00001-BAR", "/api/v1/nodes/lot:L00001-BAR"),
    (
        "LATHE-1 on the first day",
        "/api/v1/equipment/LATHE-1/window?from=2026-01-05T00:00:00Z&to=2026-01-06T00:00:00Z",
    ),
    ("Health and counts", "/healthz"),
    ("API documentation", "/docs"),
)


def landing_page(store: GraphStore) -> str:
    """Render the landing page with the store's counts."""
    counts = "".join(
        f"<tr><td>{escape(kind)}</td><td>{count}</td></tr>"
        for kind, count in sorted(store.counts().items())
    )
    links = "".join(
        f'<li><a href="{escape(href)}">{escape(text)}</a></li>' for text, href in EXAMPLES
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tracegraph</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:46rem;color:#222}}
td{{padding:0 1rem 0 0}}code{{background:#f3f3f3;padding:0 .3rem}}</style></head>
<body><h1>tracegraph</h1>
<p>Lot and serial genealogy: where material came from, where it went, and how much of it.</p>
<h2>Try</h2><ul>{links}</ul>
<h2>This store ({escape(store.url.split("://", 1)[0])})</h2><table>{counts}</table>
<p>Send events to <code>POST /api/v1/events</code>; see <a href="/docs">/docs</a>.</p>
</body></html>"""
