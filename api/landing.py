"""The landing page: what this instance holds and where to start."""

from __future__ import annotations

from html import escape

# Questions the demo plant (`make demo`) answers, as requests: each needs a login, so the page
# shows them with the shell lines that send one, not as links a browser would send bare.
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
)
PAGES = (("GraphiQL (GraphQL explorer)", "/graphiql"), ("API documentation", "/docs"))
LOGIN = (
    "TOKEN=$(curl -s -d username=ana -d password=demo-analyst-pass "
    "http://127.0.0.1:8000/api/v1/auth/token | python3 -c "
    "'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
)


def landing_page() -> str:
    """Render the landing page."""
    pages = "".join(f'<li><a href="{escape(href)}">{escape(text)}</a></li>' for text, href in PAGES)
    asks = "".join(
        f'<li>{escape(text)}<br><code>curl -H "Authorization: Bearer $TOKEN" '
        f"'http://127.0.0.1:8000{escape(path)}'</code></li>"
        for text, path in EXAMPLES
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tracegraph</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:52rem;color:#222}}
code{{background:#f3f3f3;padding:0 .3rem;word-break:break-all}}</style></head>
<body><h1>tracegraph</h1>
<p>Lot and serial genealogy: where material came from, where it went, and how much of it.</p>
<p>Every API call needs credentials: log in with <code>POST /api/v1/auth/token</code>
(username and password) and send <code>Authorization: Bearer &lt;token&gt;</code>, or send an
API key as <code>X-API-Key</code>. The demo prints its accounts when it starts.</p>
<ul>{pages}</ul>
<h2>On the demo plant</h2>
<p>Log in as the demo's analyst:</p><p><code>{escape(LOGIN)}</code></p>
<p>then ask:</p><ul>{asks}</ul>
</body></html>"""
