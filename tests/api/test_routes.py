"""REST surface on the real embedded store, called as a logged-in user."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from api import routes
from api.app import create_app
from api.deps import Services
from api.ingest_reports import IngestReportBody
from api.landing import EXAMPLES, landing_page
from api.settings import Settings
from graph.store import StepUse, listed
from tests.api.conftest import login
from tests.fixtures.events import Events


def test_post_events_as_array_object_and_ndjson(client: TestClient, events: Events) -> None:
    auth = login(client, "operator")
    first = [events.receive("L-1", 10)]
    response = client.post("/api/v1/events", json=first, headers=auth)
    assert response.status_code == 201
    assert response.json()["results"] == [{"event_id": "E-1", "status": "created"}]
    second = {"events": [events.receive("L-2", 5, supplier_lot="A-2"), first[0]]}
    answer = client.post("/api/v1/events", json=second, headers=auth)
    assert answer.headers["content-type"] == "application/json"
    # The body has the shape the OpenAPI document gives it.
    report = IngestReportBody.model_validate(answer.json())
    assert (report.created, report.duplicates) == (1, 1)
    assert [r.status for r in report.results] == ["created", "duplicate"]
    ndjson = json.dumps(events("split", lot="L-1", into=[{"lot": "L-3", "qty": "2"}]))
    response = client.post(
        "/api/v1/events", content=ndjson, headers=auth | {"content-type": "application/x-ndjson"}
    )
    assert response.status_code == 201 and response.json()["created"] == 1


def test_rejected_batch_is_422_and_names_the_problem(client: TestClient, events: Events) -> None:
    auth = login(client, "operator")
    batch = [events("split", lot="NOPE", into=[{"lot": "X", "qty": "1"}])]
    response = client.post("/api/v1/events", json=batch, headers=auth)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_events"
    assert body["errors"] == [
        {
            "index": 0,
            "event_id": "E-1",
            "field": "lot",
            "code": "unknown_item",
            "message": 'lot "NOPE" does not exist',
        }
    ]
    stats = client.get("/api/v1/admin/stats", headers=login(client, "admin")).json()
    assert stats == {"edges": 0, "events": 0}


def test_a_time_with_an_offset_without_its_colon_is_422_and_writes_nothing(
    client: TestClient, events: Events
) -> None:
    # RFC 3339 (and EPCIS) write "+05:45"; "+0545" is ISO 8601's basic format.
    batch = [events.receive("L-1", 10) | {"occurred_at": "2026-03-02T08:10:00+0545"}]
    response = client.post("/api/v1/events", json=batch, headers=login(client, "operator"))
    assert response.status_code == 422
    (problem,) = response.json()["errors"]
    assert (problem["field"], problem["code"]) == ("occurred_at", "datetime_parsing")
    assert problem["message"].endswith('an offset is written with its colon: "+05:45", not "+0545"')
    stats = client.get("/api/v1/admin/stats", headers=login(client, "admin")).json()
    assert stats == {"edges": 0, "events": 0}


def test_half_a_surrogate_pair_is_422_and_writes_nothing(
    client: TestClient, events: Events
) -> None:
    auth = login(client, "operator") | {"content-type": "application/json"}
    good = events.receive("L-1", 10)
    bad = json.dumps([good, dict(events.receive("L-2", 5), reason="x")]).replace('"x"', '"\\ud800"')
    response = client.post("/api/v1/events", content=bad, headers=auth)
    assert response.status_code == 422, response.text
    problem = response.json()["errors"][0]
    assert (problem["code"], problem["field"]) == ("not_text", "[1].reason")
    stats = client.get("/api/v1/admin/stats", headers=login(client, "admin")).json()
    assert stats == {"edges": 0, "events": 0}
    assert client.post("/api/v1/events", json=[good], headers=auth).status_code == 201


def test_conflict_is_409(client: TestClient, events: Events) -> None:
    auth = login(client, "operator")
    event = events.receive("L-1", 10)
    client.post("/api/v1/events", json=[event], headers=auth)
    response = client.post("/api/v1/events", json=[dict(event, qty="9")], headers=auth)
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "conflict"


def test_malformed_bodies(client: TestClient) -> None:
    auth = login(client, "operator")

    def post(body: bytes, kind: str) -> Response:
        return client.post("/api/v1/events", content=body, headers=auth | {"content-type": kind})

    broken = post(b"[{not json", "application/json")
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["message"]
    assert post(b"\xff\xfe", "text/plain").status_code == 400
    assert client.post("/api/v1/events", json={"nope": 1}, headers=auth).status_code == 422
    assert client.post("/api/v1/events", json=[], headers=auth).status_code == 422


def test_a_key_twice_in_an_event_is_422_and_writes_nothing(
    client: TestClient, services: Services
) -> None:
    # One reader takes 1 kg here, another 100: we take neither.
    body = (
        b'[{"event_id": "E-1", "type": "receive", "occurred_at": "2026-03-02T08:00:00Z",'
        b' "supplier": "ACME", "supplier_lot": "A-1", "part": "BAR", "lot": "L-1",'
        b' "qty": "1", "qty": "100"}]'
    )
    headers = login(client, "operator") | {"content-type": "application/json"}

    response = client.post("/api/v1/events", content=body, headers=headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "duplicate_key"
    assert "'qty'" in response.json()["errors"][0]["message"]
    assert services.store.events(0, 10) == []
    fixed = body.replace(b' "qty": "1",', b"")
    assert client.post("/api/v1/events", content=fixed, headers=headers).status_code == 201


def test_operator_cannot_record_for_another_site(client: TestClient, events: Events) -> None:
    response = client.post(
        "/api/v1/events",
        json=[events.receive("L-1", 1, site="PLANT-2")],
        headers=login(client, "operator"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "wrong_site"


def test_trace_node_and_window(client: TestClient, events: Events) -> None:
    client.post(
        "/api/v1/events",
        json=[
            events.receive("L-1", 10),
            events(
                "process",
                step="S-1",
                operation="turn",
                equipment="LATHE-1",
                inputs=[{"lot": "L-1"}],
                outputs=[{"lot": "P-1", "part": "PIN", "qty": "10"}],
            ),
        ],
        headers=login(client, "operator"),
    )
    auth = login(client, "analyst")
    trace = client.get(
        "/api/v1/trace", params={"id": "supplier_lot:ACME/A-1", "direction": "down"}, headers=auth
    ).json()
    assert [(n["id"], n["exposure"]) for n in trace["nodes"]][-1] == ("lot:P-1", 1.0)
    assert (
        client.get("/api/v1/nodes/supplier_lot:ACME/A-1", headers=auth).json()["supplier"] == "ACME"
    )
    assert client.get("/api/v1/nodes/lot:NOPE", headers=auth).status_code == 404
    assert client.get("/api/v1/nodes/NOPE", headers=auth).status_code == 400
    window = client.get(
        "/api/v1/equipment/LATHE-1/window",
        params={"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"},
        headers=auth,
    ).json()
    assert [s["id"] for s in window["steps"]] == ["step:S-1"]
    assert window["steps"][0]["outputs"][0]["to"] == "lot:P-1"


def test_window_of_an_equipment_whose_id_holds_a_slash(client: TestClient, events: Events) -> None:
    # Equipment ids may hold "/", as other ids the routes take: its window is reached as its node.
    batch = [
        events.receive("L-1", 10),
        events(
            "process",
            step="S-1",
            operation="turn",
            equipment="LATHE/2",
            inputs=[{"lot": "L-1"}],
            outputs=[{"lot": "P-1", "part": "PIN", "qty": "10"}],
        ),
    ]
    posted = client.post("/api/v1/events", json=batch, headers=login(client, "operator"))
    assert posted.status_code == 201, posted.text
    auth = login(client, "analyst")
    window = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
    response = client.get("/api/v1/equipment/LATHE/2/window", params=window, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["equipment"] == "equipment:LATHE/2"
    assert [s["id"] for s in response.json()["steps"]] == ["step:S-1"]


def test_public_pages_need_no_login(client: TestClient) -> None:
    assert "tracegraph" in client.get("/").text
    assert client.get("/healthz").json() == {"status": "ok"}


def test_text_no_store_can_keep_is_422_on_any_route(services: Services) -> None:
    # Bodies typed as free JSON reach the stores unchecked; an encoding failure there is bad
    # input, not a server error.
    app = create_app(Settings(store=services.store.url), services)

    @app.post("/test/keep")
    def keep(body: dict[str, Any]) -> dict[str, int]:
        return {"bytes": len(json.dumps(body, ensure_ascii=False).encode())}

    with TestClient(app) as client:
        json_type = {"content-type": "application/json"}
        response = client.post("/test/keep", content='{"note": "\\ud800"}', headers=json_type)
        assert response.status_code == 422 and response.json()["error"] == "not_text"
        assert client.post("/test/keep", json={"note": "ok"}).json() == {"bytes": 14}


def test_times_utc_cannot_write_are_400(client: TestClient, events: Events) -> None:
    auth = login(client, "analyst")
    client.post("/api/v1/events", json=[events.receive("L-1", 1)], headers=login(client, "admin"))
    year_one = "0001-01-01T00:00:00+14:00"
    trace = client.get("/api/v1/trace", params={"id": "lot:L-1", "as_of": year_one}, headers=auth)
    window = client.get(
        "/api/v1/equipment/LATHE-1/window",
        params={"from": year_one, "to": "0001-01-02T00:00:00Z"},
        headers=auth,
    )
    for response in (trace, window):
        assert response.status_code == 400, response.text
        assert "years 1 to 9999 in UTC" in response.text


@pytest.mark.parametrize("offset", ["+14:30", "+15:00", "+23:59", "-14:01"])
def test_a_query_time_at_an_offset_no_event_takes_is_refused(
    client: TestClient, events: Events, offset: str
) -> None:
    # Events take offsets up to 14:00 either way, as every zone is (docs/events.md).
    client.post("/api/v1/events", json=[events.receive("L-1", 1)], headers=login(client, "admin"))
    auth = login(client, "analyst")
    far = f"2026-03-03T08:00:00{offset}"
    day = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-04T00:00:00Z"}
    answers = {
        "query.as_of": client.get(
            "/api/v1/trace", params={"id": "lot:L-1", "as_of": far}, headers=auth
        ),
        "query.from": client.get(
            "/api/v1/equipment/LATHE-1/window", params=day | {"from": far}, headers=auth
        ),
        "query.to": client.get(
            "/api/v1/equipment/LATHE-1/window", params=day | {"to": far}, headers=auth
        ),
    }
    rule = "an offset is at most 14:00 from UTC either way"
    for field, response in answers.items():
        assert response.status_code == 422, response.text
        (problem,) = response.json()["errors"]
        assert (problem["field"], problem["code"], problem["message"]) == (
            field,
            "out_of_range",
            rule,
        )
    for query in (
        '{ trace(id: "lot:L-1", direction: DOWN, asOf: $t) { root } }',
        '{ cartContents(id: "cart:C-1", at: $t) { held } }',
    ):
        body = client.post(
            "/graphql",
            json={"query": f"query($t: DateTime) {query}", "variables": {"t": far}},
            headers=auth,
        ).json()
        assert body["errors"][0]["message"] == f"Variable '$t' has invalid value: {far!r}: {rule}"
    # Positive control: the furthest offset there is answers.
    furthest = {"id": "lot:L-1", "as_of": "2026-03-03T08:00:00+14:00"}
    assert client.get("/api/v1/trace", params=furthest, headers=auth).status_code == 200


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_non_json_number_in_a_body_is_422_saying_why(client: TestClient, literal: str) -> None:
    body = f'{{"username": {literal}, "password": "long enough password", "role": "analyst"}}'
    response = client.post(
        "/api/v1/admin/users",
        content=body,
        headers=login(client, "admin") | {"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    refused = response.json()
    assert refused["error"] == "invalid_request"
    # Read as an event body is: not JSON, refused before any field is looked at.
    assert refused["errors"] == [
        {
            "field": "body",
            "code": "not_a_number",
            "message": f"{literal} is not a JSON number",
        }
    ]


def test_an_equipment_window_spans_at_most_a_year(client: TestClient) -> None:
    auth = login(client, "operator")
    window = {"from": "2025-01-01T00:00:00Z", "to": "2026-01-03T00:00:00Z"}
    response = client.get("/api/v1/equipment/LATHE-1/window", params=window, headers=auth)
    assert response.status_code == 400 and "at most 366 days" in response.text
    window["to"] = "2026-01-01T00:00:00Z"
    assert (
        client.get("/api/v1/equipment/LATHE-1/window", params=window, headers=auth).status_code
        == 200
    )


def test_an_equipment_window_that_lists_too_much_is_refused_whole(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 20 steps on LATHE-1, each turning one part of each of 10 lots into one lot: 240 listed.
    batch = [events.receive(f"L-{i}", 1000) for i in range(10)]
    for s in range(20):
        inputs = [{"lot": f"L-{i}", "qty": "1"} for i in range(10)]
        outputs = [{"lot": f"P-{s}", "part": "SCREW", "qty": "10"}]
        turn = {"step": f"S-{s}", "operation": "turn", "equipment": "LATHE-1"}
        batch.append(events("process", **turn, inputs=inputs, outputs=outputs))
    services.ingest.ingest(batch)
    auth = login(client, "analyst")
    window = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-31T00:00:00Z"}
    answer = client.get("/api/v1/equipment/LATHE-1/window", params=window, headers=auth)
    assert answer.status_code == 200, answer.text
    steps = answer.json()["steps"]
    assert len(steps) == 20 and all(len(s["inputs"]) == 10 for s in steps)
    monkeypatch.setattr(routes, "MAX_WINDOW_LISTED", 240)
    bounded = client.get("/api/v1/equipment/LATHE-1/window", params=window, headers=auth)
    assert bounded.status_code == 200 and bounded.json() == answer.json()
    monkeypatch.setattr(routes, "MAX_WINDOW_LISTED", 239)
    refused = client.get("/api/v1/equipment/LATHE-1/window", params=window, headers=auth)
    assert refused.status_code == 400, refused.text
    assert refused.json() == {
        "error": "bad_request",
        "message": "this window lists more than 239 steps, inputs and outputs: ask for a "
        "shorter window",
    }
    # A shorter window lists less, and answers.
    day = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-02T10:00:00Z"}
    shorter = client.get("/api/v1/equipment/LATHE-1/window", params=day, headers=auth)
    assert shorter.status_code == 200 and 0 < len(shorter.json()["steps"]) < 20


def test_a_trace_that_lists_too_much_is_refused_whole_naming_the_paged_one(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A-1 -> L-1, split into 9 lots: 11 nodes and 10 edges down from the supplier lot.
    into = [{"lot": f"L-1{c}", "qty": "1"} for c in "abcdefghi"]
    services.ingest.ingest([events.receive("L-1", 10), events("split", lot="L-1", into=into)])
    auth = login(client, "analyst")
    down = {"id": "supplier_lot:ACME/A-1", "direction": "down"}
    whole = client.get("/api/v1/trace", params=down, headers=auth)
    assert whole.status_code == 200
    assert (len(whole.json()["nodes"]), len(whole.json()["edges"])) == (11, 10)
    monkeypatch.setattr("api.access.MAX_TRACE_LISTED", 21)
    assert client.get("/api/v1/trace", params=down, headers=auth).content == whole.content
    monkeypatch.setattr("api.access.MAX_TRACE_LISTED", 20)
    refused = client.get("/api/v1/trace", params=down, headers=auth)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "bad_request",
        "message": "this trace lists 21 nodes and edges, more than 20: ask for fewer with "
        "max_depth, or page through them with the GraphQL trace (its nodes and links take "
        "first and after)",
    }
    # Counted as listed: within max_depth it answers.
    near = client.get("/api/v1/trace", params=down | {"max_depth": "1"}, headers=auth)
    assert near.status_code == 200 and len(near.json()["nodes"]) == 2
    # The paged trace the refusal names gives it all, a page at a time.
    query = """{ trace(id: "supplier_lot:ACME/A-1", direction: DOWN) {
      nodes(first: 5) { totalCount pageInfo { hasNextPage } } } }"""
    paged = client.post("/graphql", json={"query": query}, headers=auth).json()
    assert paged["data"]["trace"]["nodes"] == {"totalCount": 11, "pageInfo": {"hasNextPage": True}}


def test_a_refused_window_reads_one_past_the_limit_not_the_window(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 100 steps on LATHE-1, each turning one part of a lot into another: 300 listed.
    batch = [events.receive("L-0", 1000)]
    for s in range(100):
        turn = {"step": f"S-{s}", "operation": "turn", "equipment": "LATHE-1"}
        outputs = [{"lot": f"P-{s}", "part": "SCREW", "qty": "1"}]
        batch.append(
            events("process", **turn, inputs=[{"lot": "L-0", "qty": "1"}], outputs=outputs)
        )
    services.ingest.ingest(batch)
    read: list[int] = []
    window = services.store.equipment_window

    def counted(*args: Any, **kwargs: Any) -> list[StepUse]:
        uses = window(*args, **kwargs)
        read.append(listed(uses))
        return uses

    monkeypatch.setattr(services.store, "equipment_window", counted)
    monkeypatch.setattr(routes, "MAX_WINDOW_LISTED", 20)
    span = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-31T00:00:00Z"}
    for role in ("analyst", "admin"):
        read.clear()
        answer = client.get(
            "/api/v1/equipment/LATHE-1/window", params=span, headers=login(client, role)
        )
        assert read == [21]
        assert answer.status_code == 400 and "more than 20 steps" in answer.text


def test_an_operator_window_cut_short_for_the_plant_is_counted_as_they_see_it(
    client: TestClient, services: Services, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another site's 10 steps on LATHE-1 come first; the operator's site has 2 (6 listed).
    batch = [
        events.receive("L-1", 100, site="PLANT-1"),
        events.receive("L-2", 100, site="PLANT-2", supplier_lot="A-2"),
    ]
    for s, site in enumerate(["PLANT-2"] * 10 + ["PLANT-1"] * 2):
        lot = "L-1" if site == "PLANT-1" else "L-2"
        turn = {"step": f"S-{s}", "operation": "turn", "equipment": "LATHE-1", "site": site}
        outputs = [{"lot": f"P-{s}", "part": "SCREW", "qty": "1"}]
        batch.append(events("process", **turn, inputs=[{"lot": lot, "qty": "1"}], outputs=outputs))
    services.ingest.ingest(batch)
    monkeypatch.setattr(routes, "MAX_WINDOW_LISTED", 6)
    span = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-31T00:00:00Z"}
    answer = client.get(
        "/api/v1/equipment/LATHE-1/window", params=span, headers=login(client, "operator")
    )
    assert answer.status_code == 200, answer.text
    assert [s["id"] for s in answer.json()["steps"]] == ["step:S-10", "step:S-11"]
    monkeypatch.setattr(routes, "MAX_WINDOW_LISTED", 5)
    answer = client.get(
        "/api/v1/equipment/LATHE-1/window", params=span, headers=login(client, "operator")
    )
    assert answer.status_code == 400 and "more than 5 steps" in answer.text
    # What another site ran is no part of the count, nor of the refusal.
    analyst = client.get(
        "/api/v1/equipment/LATHE-1/window", params=span, headers=login(client, "analyst")
    )
    assert analyst.status_code == 400 and "more than 5 steps" in analyst.text


@pytest.mark.parametrize(
    ("start", "end", "status", "why"),
    [
        ("2026-01-05T00:00:00", "2026-01-06T00:00:00Z", 400, "need a UTC offset"),
        ("2026-01-05T00:00:00Z", "2026-01-06T00:00:00", 400, "need a UTC offset"),
        # A date alone is not a time to the event contract either: its words say what one is.
        ("2026-01-05T00:00:00Z", "2026-01-06", 422, "query.to: a time is RFC 3339 text"),
    ],
)
def test_an_equipment_window_with_one_time_without_offset_is_refused(
    client: TestClient, start: str, end: str, status: int, why: str
) -> None:
    auth = login(client, "analyst")
    window = {"from": start, "to": end}
    response = client.get("/api/v1/equipment/LATHE-1/window", params=window, headers=auth)
    assert response.status_code == status and why in response.text, response.text
    query = """query($from: DateTime!, $to: DateTime!) {
      equipmentWindow(equipment: "equipment:LATHE-1", from: $from, to: $to) { step { id } } }"""
    body = client.post("/graphql", json={"query": query, "variables": window}, headers=auth).json()
    (error,) = body["errors"]
    if status == 400:
        assert error["extensions"]["code"] == "BAD_REQUEST", body
        assert "need a UTC offset" in error["message"]
    else:  # refused as the variable's value, in the same words
        assert why.removeprefix("query.to: ") in error["message"], body


@pytest.mark.parametrize("number", ["1772417700", "-1", "0"])
def test_a_number_is_not_read_as_a_time_in_a_query(
    client: TestClient, events: Events, number: str
) -> None:
    # A Unix time would be read as one: as_of "0" is 1970, and a trace then shows nothing.
    client.post("/api/v1/events", json=[events.receive("L-1", 1)], headers=login(client, "admin"))
    auth = login(client, "analyst")
    day = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
    answers = {
        "query.as_of": client.get(
            "/api/v1/trace", params={"id": "lot:L-1", "as_of": number}, headers=auth
        ),
        "query.from": client.get(
            "/api/v1/equipment/LATHE-1/window", params=day | {"from": number}, headers=auth
        ),
        "query.to": client.get(
            "/api/v1/equipment/LATHE-1/window", params=day | {"to": number}, headers=auth
        ),
    }
    for field, response in answers.items():
        assert response.status_code == 422, response.text
        (problem,) = response.json()["errors"]
        assert (problem["field"], problem["code"]) == (field, "datetime_parsing")
        assert problem["message"].startswith("a time is RFC 3339 text with its offset")
    # Positive control: the same queries with times answer.
    at = {"id": "lot:L-1", "as_of": "2026-03-02T10:00:00+01:00"}
    assert client.get("/api/v1/trace", params=at, headers=auth).status_code == 200
    assert client.get("/api/v1/equipment/LATHE-1/window", params=day, headers=auth).is_success


def test_the_demos_landing_page_examples_answer_the_login_it_shows(plant: Services) -> None:
    app = create_app(Settings(store=plant.store.url, demo=True), plant)
    with TestClient(app, base_url="http://plant.example:8080") as client:
        page = html.unescape(client.get("/").text)
        assert 'href="/api/' not in page  # a browser would send them without a login
        username, password = "ana", "demo-analyst-pass"
        assert f"-d username={username} -d password={password} " in page
        # The lines name the address the page was reached at, not a fixed one.
        assert "'http://plant.example:8080/api/v1/auth/token'" in page
        assert client.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        ).is_success
        headers = login(client, "analyst")
        for _, path in EXAMPLES:
            assert f"'http://plant.example:8080{path}'" in page
            assert client.get(path, headers=headers).status_code == 200, path


def test_only_the_demo_shows_the_demo_login(client: TestClient) -> None:
    page = client.get("/").text
    assert "demo-analyst-pass" not in page and "On the demo plant" not in page
    assert "/api/v1/auth/token" in page and "/graphiql" in page


def test_the_landing_page_does_not_paste_an_odd_host_into_shell_lines() -> None:
    listening = "http://127.0.0.1:8123"
    page = html.unescape(landing_page("http://x';touch${IFS}p;'/", True, listening))
    assert "touch" not in page
    assert f"'{listening}/api/v1/auth/token'" in page
    page = html.unescape(landing_page("https://[::1]:9000/tg/", True, listening))
    assert "'https://[::1]:9000/tg/api/v1/auth/token'" in page
