"""The GraphQL API: answers, pages, typed errors, limits, batching, offline pages, audit."""

from __future__ import annotations

import base64
import json
import logging
import logging.config
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api import access
from api.audit import server_log_config
from api.deps import Services
from tests.api.conftest import login
from tests.fixtures.events import Events


def gql(
    client: TestClient, headers: dict[str, str], query: str, **variables: Any
) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def small(services: Services, events: Events) -> Services:
    """A-1 (100) -> L-1, split 60/40; L-1b (40) + 10 of A-2 merged; a pin and a kit, shipped."""
    services.ingest.ingest(
        [
            events.receive("L-1", 100, supplier_lot="A-1"),
            events.receive("L-2", 50, supplier_lot="A-2"),
            events(
                "split",
                lot="L-1",
                into=[{"lot": "L-1a", "qty": "60"}, {"lot": "L-1b", "qty": "40"}],
            ),
            events(
                "merge",
                from_=[{"lot": "L-1b", "qty": "40"}, {"lot": "L-2", "qty": "10"}],
                into={"lot": "M-1"},
            ),
            events(
                "process",
                step="S-PIN",
                operation="turn",
                equipment="LATHE-1",
                operator="ana",
                inputs=[{"lot": "L-1a", "qty": "1"}],
                outputs=[{"serial": "PIN-1", "part": "PIN"}],
            ),
            events(
                "process",
                step="S-KIT",
                operation="assemble",
                equipment="BENCH-1",
                operator="bo",
                inputs=[{"serial": "PIN-1"}, {"lot": "M-1", "qty": "1"}],
                outputs=[{"serial": "KIT-1", "part": "KIT"}],
            ),
            events(
                "ship",
                shipment="SH-1",
                customer="HOSP-NORTH",
                items=[{"serial": "KIT-1"}, {"lot": "M-1", "qty": "5"}],
            ),
        ]
    )
    return services


def test_impact_with_exposure_and_totals(client: TestClient, small: Services) -> None:
    query = """query($id: ID!) { impact(id: $id) {
        lots { node { id } exposure certain qty available shipped }
        serials { node { id } exposure }
        customers { node { id } exposure }
        totals { lots serials shipments customers certain mayContain inPlantQty shippedQty } } }"""
    impact = gql(client, login(client, "analyst"), query, id="supplier_lot:ACME/A-2")["data"][
        "impact"
    ]
    assert impact["lots"] == [
        {
            "node": {"id": "lot:L-2"},
            "exposure": 1.0,
            "certain": True,
            "qty": "50",
            "available": "40",
            "shipped": "0",
        },
        {
            "node": {"id": "lot:M-1"},
            "exposure": 0.2,
            "certain": False,
            "qty": "50",
            "available": "44",
            "shipped": "5",
        },
    ]
    assert impact["serials"] == [{"node": {"id": "serial:KIT-1"}, "exposure": 0.2}]
    assert impact["customers"] == [{"node": {"id": "company:HOSP-NORTH"}, "exposure": 0.2}]
    assert impact["totals"] == {
        "lots": 2,
        "serials": 1,
        "shipments": 1,
        "customers": 1,
        "certain": 1,
        "mayContain": 2,
        "inPlantQty": "84",
        "shippedQty": "6",
    }


def test_what_an_affected_item_shipped_is_written_as_the_totals_are(
    client: TestClient, services: Services, events: Events
) -> None:
    # Two shipments of 4.5 and 1.5 ship 6 of the lot, however the sum is spelled.
    services.ingest.ingest(
        [
            events.receive("H", "10.0", supplier_lot="H-9"),
            events("ship", shipment="SH-8", customer="HOSP", items=[{"lot": "H", "qty": "4.50"}]),
            events("ship", shipment="SH-9", customer="HOSP", items=[{"lot": "H", "qty": "1.5"}]),
        ]
    )
    query = """query($id: ID!) { impact(id: $id) {
        lots { qty available shipped } totals { inPlantQty shippedQty } } }"""

    impact = gql(client, login(client, "analyst"), query, id="supplier_lot:ACME/H-9")["data"][
        "impact"
    ]

    assert impact["lots"] == [{"qty": "10", "available": "4", "shipped": "6"}]
    assert impact["totals"] == {"inPlantQty": "4", "shippedQty": "6"}


@pytest.mark.parametrize(
    "field",
    [
        'trace(id: "lot:L-1", direction: DOWN, asOf: $t) { root }',
        'impact(id: "lot:L-1", asOf: $t) { root }',
        'sharedCarts(id: "lot:L-1", asOf: $t) { rode { lot } }',
    ],
)
def test_a_time_without_an_offset_is_refused_naming_the_argument_as_of(
    client: TestClient, small: Services, field: str
) -> None:
    # Read in the server's zone, the same text would name another moment on another server.
    query = f"query($t: DateTime) {{ {field} }}"
    auth = login(client, "analyst")
    body = gql(client, auth, query, t="2026-03-02T08:30:00")
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["message"] == "asOf needs a UTC offset, e.g. 2026-03-01T12:00:00Z"
    assert gql(client, auth, query, t="2026-03-02T08:30:00Z")["data"][error["path"][0]]


@pytest.mark.parametrize(
    "field",
    [
        'trace(id: "lot:L-1", direction: DOWN, maxDepth: $d) { root }',
        'federatedTrace(id: "lot:L-1", direction: DOWN, maxDepth: $d) { root }',
    ],
)
def test_a_negative_depth_is_refused_naming_the_argument_max_depth(
    client: TestClient, small: Services, field: str
) -> None:
    # REST names its parameter max_depth, the command line --max-depth: GraphQL its own.
    query = f"query($d: Int) {{ {field} }}"
    auth = login(client, "analyst")
    (error,) = gql(client, auth, query, d=-1)["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST", "status": 400}
    assert error["message"] == "maxDepth must be 0 or more"
    assert gql(client, auth, query, d=0)["data"][error["path"][0]]


def test_where_from_and_explain(client: TestClient, small: Services) -> None:
    headers = login(client, "analyst")
    query = """{ whereFrom(id: "serial:KIT-1") {
        supplierLots { node { id } share } steps { node { id } share } equipment operators } }"""
    origin = gql(client, headers, query)["data"]["whereFrom"]
    assert origin["supplierLots"] == [
        {"node": {"id": "supplier_lot:ACME/A-1"}, "share": 1.0},
        {"node": {"id": "supplier_lot:ACME/A-2"}, "share": 0.2},
    ]
    assert origin["equipment"] == ["BENCH-1", "LATHE-1"] and origin["operators"] == ["ana", "bo"]
    explained = gql(client, headers, EXPLAIN)["data"]["explain"]
    routes = [p["nodeIds"] for p in explained["paths"]]
    assert routes == [
        ["lot:L-1", "lot:L-1a", "step:S-PIN", "serial:PIN-1", "step:S-KIT", "serial:KIT-1"],
        ["lot:L-1", "lot:L-1b", "lot:M-1", "step:S-KIT", "serial:KIT-1"],
    ]
    assert explained["truncated"] is False


EXPLAIN = """{ explain(from: "lot:L-1", to: "serial:KIT-1") {
    paths { nodeIds links { type } } truncated } }"""


def test_explain_says_when_it_left_paths_out(
    client: TestClient, small: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access, "MAX_PATHS", 1)
    explained = gql(client, login(client, "analyst"), EXPLAIN)["data"]["explain"]
    assert [p["nodeIds"][1] for p in explained["paths"]] == ["lot:L-1a"]
    assert explained["truncated"] is True


def test_trace_pages_cover_everything_once(client: TestClient, plant: Services) -> None:
    headers = login(client, "analyst")
    query = """query($after: String) {
      trace(id: "supplier_lot:ACME-STEEL/H70001", direction: DOWN) {
        nodes(first: 70, after: $after) {
          totalCount pageInfo { hasNextPage endCursor }
          edges { cursor node { depth exposure node { id } } } } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = gql(client, headers, query, after=after)["data"]["trace"]["nodes"]
        seen += [edge["node"]["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    expected = [n.id for n in plant.traces.trace("supplier_lot:ACME-STEEL/H70001", "down").nodes]
    assert seen == expected and page["totalCount"] == len(expected) > 140
    bad = gql(client, headers, query, after="not-a-cursor")
    assert "not a cursor" in bad["errors"][0]["message"]


PAGES = """query($first: Int!, $nodes: String, $links: String) {
  trace(id: "lot:K-0", direction: DOWN) {
    nodes(first: $first, after: $nodes) { pageInfo { hasNextPage endCursor }
      edges { node { node { id } } } }
    links(first: $first, after: $links) { pageInfo { hasNextPage endCursor }
      edges { node { target { id } } } } } }"""


@pytest.mark.parametrize("page", ["nodes", "links"])
def test_a_cursor_nested_deeper_than_json_reads_is_refused(
    client: TestClient, services: Services, events: Events, page: str
) -> None:
    services.ingest.ingest([events.receive("K-0", 100)])
    nested = f"{page[0]}:" + "[" * 5000 + "]" * 5000
    cursor = base64.urlsafe_b64encode(nested.encode()).decode()
    refused = gql(client, login(client, "analyst"), PAGES, first=2, **{page: cursor})
    assert refused["errors"][0]["message"] == "not a cursor from this API"
    assert refused["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_trace_links_come_by_source_then_target(
    client: TestClient, services: Services, events: Events
) -> None:
    services.ingest.ingest(
        [events.receive("L-1", 10), events("split", lot="L-1", into=[{"lot": "Z", "qty": "2"}])]
    )
    query = """{ trace(id: "supplier_lot:ACME/A-1", direction: DOWN) {
      links { edges { node { sourceId targetId } } } } }"""
    trace = gql(client, login(client, "analyst"), query)["data"]["trace"]
    assert [(e["node"]["sourceId"], e["node"]["targetId"]) for e in trace["links"]["edges"]] == [
        ("lot:L-1", "lot:Z"),
        ("supplier_lot:ACME/A-1", "lot:L-1"),
    ]


@pytest.mark.parametrize("first", [0, -5])
def test_a_trace_page_of_no_items_is_refused(
    client: TestClient, services: Services, events: Events, first: int
) -> None:
    services.ingest.ingest([events.receive("K-0", 100)])
    headers = login(client, "analyst")
    for field in ("nodes", "links"):
        query = f'{{ trace(id: "lot:K-0", direction: DOWN) {{ {field}(first: {first}) {{ '
        query += "pageInfo { hasNextPage } } } }"
        [error] = gql(client, headers, query)["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST", error
        assert error["message"].startswith("first:") and error["path"][-1] == field


def test_ingest_mutation_returns_typed_results(client: TestClient, events: Events) -> None:
    headers = login(client, "operator")
    mutation = """mutation($events: JSON!) { ingest(events: $events) {
        __typename ... on IngestSuccess { created duplicates results { eventId status } }
        ... on IngestRejected { code message problems { index eventId field code message } } } }"""
    ok = gql(client, headers, mutation, events=[events.receive("L-1", 5)])["data"]["ingest"]
    assert ok == {
        "__typename": "IngestSuccess",
        "created": 1,
        "duplicates": 0,
        "results": [{"eventId": "E-1", "status": "created"}],
    }
    bad = gql(
        client,
        headers,
        mutation,
        events={"events": [events("split", lot="L-1", into=[{"lot": "L-9", "qty": "6"}])]},
    )
    rejected = bad["data"]["ingest"]
    assert rejected["__typename"] == "IngestRejected" and rejected["code"] == "invalid_events"
    assert rejected["problems"] == [
        {
            "index": 0,
            "eventId": "E-2",
            "field": "into",
            "code": "over_consumption",
            "message": 'takes 6 from lot "L-1", which holds only 5 ea',
        }
    ]
    denied = gql(client, login(client, "customer"), mutation, events=[events.receive("L-7", 1)])
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_depth_and_alias_limits(client: TestClient) -> None:
    headers = login(client, "analyst")
    deep = '{ node(id: "lot:L-1") { ' + "outputs { target { " * 12 + "id" + " } }" * 12 + " } }"
    body = gql(client, headers, deep)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    aliases = "{ " + " ".join(f'a{i}: node(id: "lot:{i}") {{ id }}' for i in range(40)) + " }"
    assert "aliases" in gql(client, headers, aliases)["errors"][0]["message"]


def test_nested_fields_are_batched(
    client: TestClient, plant: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"nodes": 0, "links": 0}
    for name in calls:
        original = getattr(plant.store, name)

        def counted(gids: list[str], original: Any = original, name: str = name) -> Any:
            calls[name] += 1
            return original(gids)

        monkeypatch.setattr(plant.store, name, counted)
    query = """{ trace(id: "lot:L00001-BAR", direction: DOWN, maxDepth: 3) { nodes(first: 200) {
        edges { node { node {
          id inputs { source { id kind } } outputs { target { id } } } } } } } }"""
    body = gql(client, login(client, "analyst"), query)
    entries = body["data"]["trace"]["nodes"]["edges"]
    assert len(entries) > 15
    assert calls["links"] == 1, "every node's links come from one batched call"
    assert calls["nodes"] <= 2, "every linked node comes from one batched call per level"


def test_links_read_their_ends_only_when_asked_and_then_in_one_batch(
    client: TestClient, small: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[list[str]] = []
    original = small.store.nodes

    def counted(gids: list[str]) -> Any:
        reads.append(gids)
        return original(gids)

    monkeypatch.setattr(small.store, "nodes", counted)
    headers = login(client, "analyst")
    no_ends = """{ node(id: "lot:L-1") { inputs { type sourceId at } outputs { targetId } }
        explain(from: "lot:L-1", to: "serial:KIT-1") { paths { links { type } } }
        trace(id: "lot:L-1", direction: DOWN) { links { edges { node { sourceId } } } } }"""
    assert "errors" not in gql(client, headers, no_ends)
    assert reads == [], "ids and types need no node read"
    # Nor do ends that @skip or @include leave out.
    left_out = """{ node(id: "lot:L-1") { outputs { targetId target @skip(if: true) { id } } }
        trace(id: "lot:L-1", direction: DOWN) { links { edges { node {
          ... @include(if: false) { source { id } } } } } } }"""
    assert "errors" not in gql(client, headers, left_out)
    assert reads == [], "ends left out are not read"
    with_ends = [
        '{ node(id: "lot:L-1") { outputs { target { id } } } }',
        """{ explain(from: "lot:L-1", to: "serial:KIT-1") {
            paths { links { ... on Link { source { id } } } } } }""",
        """{ trace(id: "lot:L-1", direction: DOWN) { links { edges { node { ...Ends } } } } }
        fragment Ends on Link { target { id } }""",
    ]
    for query in with_ends:
        reads.clear()
        body = gql(client, headers, query)
        assert "errors" not in body and '"id": "lot:L-1' in json.dumps(body)
        assert len(reads) == 1 and len(reads[0]) > 2, "every end comes from one batched call"


def test_udis_of_many_items_are_read_in_a_few_calls(
    client: TestClient, plant: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"node": 0, "nodes": 0, "links": 0}
    for name in calls:
        original = getattr(plant.store, name)

        def counted(*args: Any, original: Any = original, name: str = name) -> Any:
            calls[name] += 1
            return original(*args)

        monkeypatch.setattr(plant.store, name, counted)
    query = """{ trace(id: "lot:L00001-BAR", direction: DOWN) { nodes(first: 200) {
        edges { node { node { id ... on Serial { udi { di } } ... on Lot { udi { di } } } } }
    } } }"""
    body = gql(client, login(client, "analyst"), query)
    items = [e["node"]["node"] for e in body["data"]["trace"]["nodes"]["edges"]]
    assert sum(1 for item in items if item.get("udi")) > 20
    assert calls["node"] <= 2, "no store call per item"
    assert calls["nodes"] + calls["links"] <= 8


def test_docs_and_graphiql_need_no_network(client: TestClient) -> None:
    for page in ("/docs", "/graphiql"):
        html = client.get(page).text
        external = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
        assert external == [], f"{page} loads {external}"
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            assert client.get(asset).status_code == 200, asset
    assert client.get("/openapi.json").json()["info"]["title"] == "tracegraph"


def test_the_docs_ask_no_validator_on_a_host_of_the_plant(client: TestClient) -> None:
    # Swagger UI shows a badge from validator.swagger.io, sent the address of our OpenAPI
    # document, for every host but localhost unless told not to.
    page = client.get("/docs", headers={"Host": "tracegraph.plant.example:8000"}).text
    assert '"validatorUrl": null' in page


@pytest.mark.parametrize(
    "name",
    [
        "index.html",
        "swagger-initializer.js",
        "oauth2-redirect.html",
        "index.j2",
        "swagger-ui-bundle.js.map",
        "swagger-ui.js",
    ],
)
def test_only_the_files_the_docs_load_are_served(client: TestClient, name: str) -> None:
    # Swagger UI's own pages open petstore.swagger.io; the docs load the bundle, its style and icon.
    assert client.get(f"/static/swagger/{name}").status_code == 404


def test_every_request_is_audited(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tracegraph.audit"):
        headers = login(client, "supplier")
        gql(client, headers, "{ me { username } }")
        client.get("/api/v1/admin/users", headers=headers)
        client.get("/api/v1/me")
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tracegraph.audit"]
    graphql = next(r for r in records if r["path"] == "/graphql")
    assert (graphql["user"], graphql["role"], graphql["status"], graphql["outcome"]) == (
        "acme",
        "supplier",
        200,
        "ok",
    )
    denied = next(r for r in records if r["path"] == "/api/v1/admin/users")
    assert (denied["user"], denied["status"], denied["outcome"]) == ("acme", 403, "denied")
    anonymous = next(r for r in records if r["path"] == "/api/v1/me")
    assert (anonymous["user"], anonymous["status"]) == (None, 401)
    assert all("at" in r and "ms" in r for r in records)


def test_the_audit_says_who_logged_in_which_key_and_what_graphql_refused(
    client: TestClient, plant: Services, caplog: pytest.LogCaptureFixture
) -> None:
    key = plant.auth.create_key("otto", "scanner")
    with caplog.at_level(logging.INFO, logger="tracegraph.audit"):
        client.post("/api/v1/auth/token", data={"username": "ana", "password": "wrong-guess"})
        customer = login(client, "customer")
        client.post(
            "/graphql", json={"query": '{ recallCase(id: "RC-1") { id } }'}, headers=customer
        )
        client.get("/api/v1/me", headers={"X-API-Key": key.key})
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tracegraph.audit"]
    failed = records[0]
    assert (failed["path"], failed["user"], failed["outcome"]) == (
        "/api/v1/auth/token",
        "ana",
        "denied",
    )
    graphql = next(r for r in records if r["path"] == "/graphql")
    assert (graphql["user"], graphql["status"], graphql["outcome"]) == ("north", 200, "denied")
    keyed = next(r for r in records if r["path"] == "/api/v1/me")
    assert (keyed["user"], keyed["via"], keyed["key"]) == ("otto", "api_key", key.info.key_id)


def test_the_server_writes_the_audit_log_out(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = logging.getLogger("tracegraph.audit")
    kept = (audit.handlers[:], audit.level, audit.propagate)
    logging.config.dictConfig(server_log_config())  # as `tracegraph serve` runs uvicorn
    try:
        client.get("/healthz")
    finally:
        audit.handlers[:], audit.propagate = kept[0], kept[2]
        audit.setLevel(kept[1])  # not `.level =`: that keeps the logger's cached INFO answer
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert [(line["path"], line["outcome"]) for line in lines] == [("/healthz", "ok")]


@pytest.mark.parametrize("body", ['"x"', "5", "null", "true"])
def test_a_graphql_body_that_is_no_request_is_a_bad_request(client: TestClient, body: str) -> None:
    headers = login(client, "analyst") | {"content-type": "application/json"}
    response = client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {
        "error": "not_a_request",
        "message": "a GraphQL request is a JSON object",
    }


ME = "{ me { username } }"


@pytest.mark.parametrize(
    ("method", "sent", "headers", "status", "code"),
    [
        ("GET", "", {"accept": "*/*"}, 404, "no_query"),  # a browser's
        ("GET", "", {"accept": "application/json"}, 400, "no_query"),
        ("GET", "query=mutation%7B__typename%7D", {}, 400, "operation_not_allowed"),
        ("POST", "{}", {}, 400, "no_query"),
        ("POST", '{"query": 5}', {}, 400, "not_a_request"),
        ("POST", f'{{"query": "{ME}", "variables": [1]}}', {}, 400, "not_a_request"),
        ("POST", "[]", {}, 400, "batch_not_taken"),
        ("POST", f'[{{"query": "{ME}"}}]', {}, 400, "batch_not_taken"),
        (
            "POST",
            f'{{"query": "query a {ME}", "operationName": "b"}}',
            {},
            400,
            "unknown_operation",
        ),
        ("POST", ME, {"content-type": "text/plain"}, 415, "unsupported_media_type"),
    ],
)
def test_what_is_no_graphql_request_is_refused_in_the_api_shape(
    client: TestClient, method: str, sent: str, headers: dict[str, str], status: int, code: str
) -> None:
    # Strawberry refuses these in plain text; a client reads one shape for every refusal.
    headers = login(client, "analyst") | {"content-type": "application/json"} | headers
    if method == "GET":
        response = client.get(f"/graphql?{sent}", headers=headers)
    else:
        response = client.post("/graphql", content=sent, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == code
    assert response.json()["message"]


NODE = "query($id: ID!) { node(id: $id) { id } }"


@pytest.mark.parametrize(
    ("name", "sent", "said"),
    [
        ("variables", "5", "must be an object"),
        ("variables", "[1]", "must be an object"),
        ("variables", "{", "not valid JSON"),
        ("extensions", '"x"', "must be an object"),
        ("extensions", "nope", "not valid JSON"),
    ],
)
def test_variables_or_extensions_that_are_no_object_are_refused_by_name(
    client: TestClient, name: str, sent: str, said: str
) -> None:
    # Over GET they are JSON in the URL, read apart from the request; over POST, in its body.
    headers = login(client, "analyst")
    got = client.get("/graphql", params={"query": NODE, name: sent}, headers=headers)
    body = '{"query": "%s", "%s": %s}' % (NODE, name, sent)  # noqa: UP031
    posted = client.post(
        "/graphql", content=body, headers=headers | {"content-type": "application/json"}
    )
    for response in (got, posted) if said != "not valid JSON" else (got,):
        assert response.status_code == 400, response.text
        refused = response.json()
        assert refused["error"] in ("not_a_request", "not_json"), refused
        assert f"`{name}`" in refused["message"] and said in refused["message"], refused
    # Positive control: an object (or nothing) is read.
    read = client.get(
        "/graphql",
        params={"query": NODE, "variables": '{"id": "lot:L-1"}', "extensions": ""},
        headers=headers,
    )
    assert read.status_code == 200 and read.json() == {"data": {"node": None}}, read.text


def test_which_of_several_operations_to_run_is_never_guessed(client: TestClient) -> None:
    headers = login(client, "analyst")
    query = "query a { __typename } query b { me { username } }"
    body = gql(client, headers, query)
    assert body.get("data") is None
    assert body["errors"][0]["message"].startswith("Must provide operation name")
    named = client.post("/graphql", json={"query": query, "operationName": "b"}, headers=headers)
    assert named.json()["data"] == {"me": {"username": "ana"}}


def test_an_unexpected_failure_is_an_internal_error_without_its_text(
    client: TestClient, plant: Services
) -> None:
    # JSON can spell half a surrogate pair; Python reads it, no store can keep it.
    raw = (
        '{"query": "query($i: ID!) { impact(id: $i) { root } }", "variables": {"i": "lot:\\ud800"}}'
    )
    headers = login(client, "analyst") | {"content-type": "application/json"}
    body = client.post("/graphql", content=raw, headers=headers).json()
    (error,) = body["errors"]
    assert error["extensions"]["code"] in ("BAD_REQUEST", "INTERNAL")
    assert "codec" not in error["message"] and "surrogates" not in error["message"]


def test_a_refusal_is_an_answer_not_a_failure_in_the_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    customer = login(client, "customer")
    refused = [
        '{ recallCase(id: "RC-1") { id } }',  # FORBIDDEN
        '{ node(id: "zz") { id } }',  # BAD_REQUEST
        "{ nosuch }",  # fails validation
        "{ me { ",  # fails parsing
    ]
    with caplog.at_level(logging.DEBUG):
        for query in refused:
            assert gql(client, customer, query)["errors"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_an_unexpected_failure_is_logged_once_with_its_traceback(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("lost the file /srv/plant.db")

    monkeypatch.setattr(access.Access, "impact", broken)
    with caplog.at_level(logging.DEBUG):
        body = gql(client, login(client, "analyst"), '{ impact(id: "lot:L-1") { root } }')
    (error,) = body["errors"]
    assert (error["message"], error["extensions"]["code"]) == ("internal error", "INTERNAL")
    (logged,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert logged.name == "tracegraph.graphql" and logged.exc_info is not None
    assert "/srv/plant.db" in str(logged.exc_info[1])


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_graphql_is_not_served_over_websocket(client: TestClient, protocol: str) -> None:
    # Over a socket, queries would run past the per-request login, audit log and cost limits.
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/graphql", subprotocols=[protocol]) as socket,
    ):
        socket.send_json({"type": "connection_init"})
        socket.receive_json()
    me = gql(client, login(client, "analyst"), "{ me { username } }")  # HTTP: as ever
    assert me["data"]["me"]["username"] == "ana"
