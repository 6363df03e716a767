"""A problem of a batch as a whole names the batch, not an event it does not have."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.cli import main
from ingest.errors import BatchRejected
from ingest.parse import parse_events, read_body
from tests.api.conftest import login
from tests.fixtures.stores import new_store

EVENT = {"event_id": "E-1", "type": "status", "occurred_at": "2026-01-01T00:00:00Z"}
# Bodies wrong as a whole, and the code each keeps.
WHOLE = [
    ("", "empty"),
    ("[]", "empty"),
    ('{"events": []}', "empty"),
    ('{"events": 3}', "type"),
    (json.dumps({"events": [EVENT], "dry_run": True}), "extra_forbidden"),
    ("3", "shape"),
    ("[{oops", "not_json"),
    ('["\\ud800"]', "not_text"),
]


@pytest.mark.parametrize(("text", "code"), WHOLE)
def test_a_body_wrong_as_a_whole_names_no_event(text: str, code: str) -> None:
    with pytest.raises(BatchRejected) as refused:
        parse_events(read_body(text))
    (problem,) = refused.value.problems
    assert (problem.index, problem.event_id, problem.code) == (None, None, code)
    assert str(problem).startswith("the batch") and "event 0" not in refused.value.message


def _says_the_batch(problem: dict[str, Any], message: str) -> None:
    assert problem["index"] is None and problem["code"] == "empty", problem
    assert "event 0" not in message and "the batch" in message, message


def test_an_empty_batch_names_the_batch_over_rest_and_graphql(client: TestClient) -> None:
    headers = login(client, "operator")
    rest = client.post("/api/v1/events", json=[], headers=headers)
    assert rest.status_code == 422 and rest.json()["error"] == "invalid_events"
    _says_the_batch(rest.json()["errors"][0], rest.json()["message"])
    mutation = """mutation($events: JSON!) { ingest(events: $events) {
        ... on IngestRejected { code message problems { index eventId field code message } } } }"""
    answer = client.post(
        "/graphql", json={"query": mutation, "variables": {"events": []}}, headers=headers
    )
    rejected = answer.json()["data"]["ingest"]
    assert rejected["code"] == "invalid_events"
    _says_the_batch(rejected["problems"][0], rejected["message"])


def test_an_empty_batch_names_the_batch_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert main(["ingest", str(empty), "--store", new_store(tmp_path / "x.db")]) == 2
    said = capsys.readouterr().err
    assert "the batch" in said and "event 0" not in said, said
