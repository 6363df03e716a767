"""The landing page: what this instance holds and where to start."""

from __future__ import annotations

import re
from html import escape

from api.auth.models import Role
from api.demo_accounts import DEMO_ACCOUNTS

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
# What a base URL may hold to be pasted into the shell lines shown: the Host header is the
# client's to write.
_PLAIN_BASE = re.compile(r"https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~/-]*)?")
PAGES = (("GraphiQL (GraphQL explorer)", "/graphiql"), ("API documentation", "/docs"))


def _login(base: str) -> str:
    """The shell line that logs in as the demo's analyst and keeps the token."""
    analyst = next(a for a in DEMO_ACCOUNTS if a.role == Role.ANALYST)
    return (
        f"TOKEN=$(curl -s -d username={analyst.username} -d password={analyst.password} "
        f"'{base}/api/v1/auth/token'"
        " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
    )


def landing_page(base_url: str, demo: bool, listening: str) -> str:
    """Render the landing page of the instance at `base_url` (as the browser reached it).

    Only the demo (`tracegraph demo`) shows its analyst's login and the questions its plant
    answers: elsewhere that account does not exist, or must not be announced. The shell lines
    name `base_url`, or `listening` when that is not a plain address.
    """
    base = base_url.rstrip("/")
    if not _PLAIN_BASE.fullmatch(base):
        base = listening
    pages = "".join(f'<li><a href="{escape(href)}">{escape(text)}</a></li>' for text, href in PAGES)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tracegraph</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:52rem;color:#222}}
code{{background:#f3f3f3;padding:0 .3rem;word-break:break-all}}</style></head>
<body><h1>tracegraph</h1>
<p>Lot and serial genealogy: where material came from, where it went, and how much of it.</p>
<p>Every API call needs credentials: log in with <code>POST /api/v1/auth/token</code>
(username and password) and send <code>Authorization: Bearer &lt;token&gt;</code>, or send an
API key as <code>X-API-Key</code>.</p>
<ul>{pages}</ul>
{_demo_section(base) if demo else ""}
</body></html>"""


def _demo_section(base: str) -> str:
    asks = "".join(
        f'<li>{escape(text)}<br><code>curl -H "Authorization: Bearer $TOKEN" '
        f"'{escape(base + path)}'</code></li>"
        for text, path in EXAMPLES
    )
    return f"""<h2>On the demo plant</h2>
<p>The demo printed its accounts when it started. Log in as its analyst:</p>
<p><code>{escape(_login(base))}</code></p>
<p>then ask:</p><ul>{asks}</ul>"""
