"""CPU and wall time per page of a large trace through GraphQL, on either store.

    python -m bench.trace_pages [--size 10000] [--seed 7] [--first 100] [--pages 20]
                                [--neo4j bolt://...]

The seeded demo plant in scale mode (ingest.demo_plant, as bench.scale makes it: at 10,000 items
one supplier lot reaches 3,976 nodes down) is ingested into a scratch store; the supplier lot with
the largest downward trace is paged through `trace { nodes(first, after) }` as an analyst and as
a site's operator, each request through the whole app (FastAPI and strawberry, in process). The
first page of a trace computes it; a later page, with nothing recorded in between, reads the
trace the first computed. Prints a Markdown table of CPU ms per request (time.process_time of
this process, which runs the client, the app and the embedded store) and of wall ms (which, on
Neo4j, --neo4j naming a scratch server that is wiped, includes the server's work).
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
from bench.neo4j_target import wiped_neo4j
from graph.embedded_store import EmbeddedStore
from graph.store import GraphStore
from graph.trace import TraceService
from graph.trace_cache import TRACES
from ingest.demo_plant import DemoPlant

PAGE = """query($id: ID!, $first: Int!, $after: String) {
  trace(id: $id, direction: DOWN) {
    nodes(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
      edges { node { depth exposure node { id } } } } } }"""


def _largest(store: GraphStore) -> tuple[str, int]:
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
) -> tuple[tuple[float, float], dict[str, Any]]:
    """One page request: its CPU and wall ms, and its answer."""
    started, wall = time.process_time(), time.perf_counter()
    response = client.post(
        "/graphql",
        json={"query": PAGE, "variables": {"id": root, "first": first, "after": after}},
        headers=headers,
    )
    spent = ((time.process_time() - started) * 1000, (time.perf_counter() - wall) * 1000)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return spent, body


def _walk(
    client: TestClient, headers: dict[str, str], root: str, first: int, pages: int
) -> tuple[list[tuple[float, float]], int]:
    """Page through the trace (at most `pages` pages): CPU and wall ms of each, and the nodes
    read."""
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


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.1f}"


def run(size: int, seed: int, first: int, pages: int, neo4j: str | None = None) -> str:
    folder = Path(tempfile.mkdtemp(prefix="tracegraph-pages-"))
    try:
        path = folder / "plant.db"
        accounts = EmbeddedAccountStore(path)
        graph = EmbeddedStore(path) if neo4j is None else wiped_neo4j(neo4j)
        services = Services.for_stores(graph, accounts, AuthService(accounts))
        seed_demo_accounts(services.auth)
        for batch in DemoPlant(size=size, seed=seed, scale=True).batches(1000):
            services.ingest.ingest(batch)
        root, count = _largest(services.store)
        rows = []
        with TestClient(create_app(Settings(store=services.store.url), services)) as client:
            for role in ("analyst", "operator"):
                headers = _headers(client, role)
                _walk(client, headers, root, first, 2)  # warm up
                TRACES.clear()  # the first page computes the trace
                times, read = _walk(client, headers, root, first, pages)
                (cpu, wall), later = times[0], times[1:] or [(0.0, 0.0)]
                rows.append(
                    f"| {role} | {read:,} | {cpu:.1f} | {wall:.1f} "
                    f"| {_median([c for c, _ in later])} | {_median([w for _, w in later])} |"
                )
        services.close()
        counts = f"{count:,} nodes"
        kind = "the embedded store" if neo4j is None else "Neo4j"
        return "\n".join(
            [
                f"# Trace pages on {kind}: demo plant (scale mode) of {size:,} items "
                f"(seed {seed}), trace down of {root} ({counts}), pages of {first}",
                "",
                f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
                f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                "",
                "| caller | nodes read | first page CPU ms | wall ms | later pages CPU ms "
                "(median) | wall ms (median) |",
                "|---|---:|---:|---:|---:|---:|",
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
    parser.add_argument("--neo4j", help="Bolt URL of a scratch Neo4j (wiped!) to page on")
    args = parser.parse_args(argv)
    print(run(args.size, args.seed, args.first, args.pages, args.neo4j))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
