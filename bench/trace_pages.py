"""CPU per page of a large trace through GraphQL, on the embedded store.

    python -m bench.trace_pages [--size 10000] [--seed 7] [--first 100] [--pages 20]

The seeded demo plant in scale mode (ingest.demo_plant, as bench.scale makes it: at 10,000 items
one supplier lot reaches 3,976 nodes down) is ingested into a scratch store; the supplier lot with
the largest downward trace is paged through `trace { nodes(first, after) }` as an analyst and as
a site's operator, each request through the whole app (FastAPI and strawberry, in process). The
first page of a trace computes it; a later page, with nothing recorded in between, reads the
trace the first computed. Prints a Markdown table of CPU ms per request (time.process_time of
this process, which runs the client, the app and the embedded store).
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.embedded import EmbeddedAccountStore
from api.auth.service import AuthService
from api.demo_accounts import DEMO_ACCOUNTS, seed_demo_accounts
from api.deps import Services
from api.settings import Settings
from graph.embedded_store import EmbeddedStore
from graph.trace import TraceService
from graph.trace_cache import TRACES
from ingest.demo_plant import DemoPlant

PAGE = """query($id: ID!, $first: Int!, $after: String) {
  trace(id: $id, direction: DOWN) {
    nodes(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
      edges { node { depth exposure node { id } } } } } }"""


def _largest(store: EmbeddedStore) -> tuple[str, int]:
    """The supplier lot whose downward trace lists the most nodes."""
    traces = TraceService(store)
    lots = store.nodes_of_kind("supplier_lot", 1000)
    return max(((v.gid, len(traces.trace(v.gid, "down").nodes)) for v in lots), key=lambda x: x[1])


def _headers(client: TestClient, role: str) -> dict[str, str]:
    username, password = next((a.username, a.password) for a in DEMO_ACCOUNTS if a.role == role)
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _page(
    client: TestClient, headers: dict[str, str], root: str, first: int, after: str | None
) -> tuple[float, dict[str, Any]]:
    """One page request: its CPU ms and its answer."""
    started = time.process_time()
    response = client.post(
        "/graphql",
        json={"query": PAGE, "variables": {"id": root, "first": first, "after": after}},
        headers=headers,
    )
    spent = (time.process_time() - started) * 1000
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return spent, body


def _walk(
    client: TestClient, headers: dict[str, str], root: str, first: int, pages: int
) -> tuple[list[float], int]:
    """Page through the trace (at most `pages` pages): CPU ms of each, and the nodes read."""
    times, read, after = [], 0, None
    for _ in range(pages):
        spent, body = _page(client, headers, root, first, after)
        times.append(spent)
        found = body["data"]["trace"]["nodes"]
        read += len(found["edges"])
        if not found["pageInfo"]["hasNextPage"]:
            break
        after = found["pageInfo"]["endCursor"]
    return times, read


def run(size: int, seed: int, first: int, pages: int) -> str:
    folder = Path(tempfile.mkdtemp(prefix="tracegraph-pages-"))
    try:
        path = folder / "plant.db"
        accounts = EmbeddedAccountStore(path)
        services = Services.for_stores(EmbeddedStore(path), accounts, AuthService(accounts))
        seed_demo_accounts(services.auth)
        for batch in DemoPlant(size=size, seed=seed, scale=True).batches(1000):
            services.ingest.ingest(batch)
        root, count = _largest(services.store)  # type: ignore[arg-type]
        rows = []
        with TestClient(create_app(Settings(store=services.store.url), services)) as client:
            for role in ("analyst", "operator"):
                headers = _headers(client, role)
                _walk(client, headers, root, first, 2)  # warm up
                TRACES.clear()  # the first page computes the trace
                times, read = _walk(client, headers, root, first, pages)
                later = times[1:] or [0.0]
                rows.append(
                    f"| {role} | {read:,} | {times[0]:.1f} | {statistics.median(later):.1f} "
                    f"| {max(later):.1f} |"
                )
        services.close()
        counts = f"{count:,} nodes"
        return "\n".join(
            [
                f"# Trace pages: demo plant (scale mode) of {size:,} items (seed {seed}), "
                f"trace down of {root} ({counts}), pages of {first}",
                "",
                f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
                f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                "",
                "| caller | nodes read | first page CPU ms | later pages, median | later, max |",
                "|---|---:|---:|---:|---:|",
                *rows,
            ]
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=10_000, help="items in the demo plant")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--first", type=int, default=100, help="nodes per page")
    parser.add_argument("--pages", type=int, default=20, help="pages read per caller, at most")
    args = parser.parse_args(argv)
    print(run(args.size, args.seed, args.first, args.pages))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
