"""A place of the answer that hundreds of fields meet is refused before graphql-core's rules.

graphql-core compares every two fields answering at one place: asked a few hundred times in a
query of a few thousand tokens, that kept a core busy for a second and ended in a bare
"Validation aborted.".
"""

from __future__ import annotations

from typing import Any

import pytest
import strawberry.schema.schema
from fastapi.testclient import TestClient

from api.graphql import merging
from tests.api.conftest import login

ASKED = (
    "times (fragments and inline fragments expanded): at most 30; ask for each field once at "
    "one place"
)


def fragments(count: int, body: str) -> str:
    """`count` fragments on Me with `body` each, spread together in `me`."""
    spreads = " ".join(f"...F{i}" for i in range(count))
    defined = " ".join(f"fragment F{i} on Me {{ {body} }}" for i in range(count))
    return f"query {{ me {{ {spreads} }} }} {defined}"


def ask(client: TestClient, query: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, int]:
    """The answer to `query`, and how often graphql-core's validation ran for it."""
    validate = strawberry.schema.schema.validate
    runs: list[None] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs.append(None)
        return validate(*args, **kwargs)

    headers = login(client, "analyst")
    monkeypatch.setattr(strawberry.schema.schema, "validate", counted)
    response = client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json(), len(runs)


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("{ " + "me { username } " * 600 + "}", f"'me' is asked 600 {ASKED}"),
        # Twenty of each level multiply at the place below: 400 fields answer as one.
        (
            "{ " + ("me { " + "username " * 20 + "} ") * 20 + "}",
            f"'me.username' is asked 400 {ASKED}",
        ),
        (fragments(40, "username"), f"'me.username' is asked 40 {ASKED}"),
        ("{ me { " + "... on Me { username } " * 40 + "} }", f"'me.username' is asked 40 {ASKED}"),
        (
            "{ me { username } } fragment F on Me { " + "username " * 40 + "}",
            f"'username' in fragment F is asked 40 {ASKED}",
        ),
        (
            fragments(120, "...G") + " fragment G on Me { username }",
            "121 fragments are spread at 'me' (with the fragments they spread): at most 100; "
            "spread fewer fragments there",
        ),
    ],
)
def test_a_place_too_many_fields_meet_is_refused_before_the_rules_compare_them(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, query: str, refusal: str
) -> None:
    answer, validated = ask(client, query, monkeypatch)
    assert answer["data"] is None
    assert [e["message"] for e in answer["errors"]] == [refusal]
    assert validated == 0


def test_a_field_asked_at_the_limit_is_answered(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = "{ " + "me { username } " * 10 + "me { " + "... on Me { username } " * 20 + "} }"
    answer, validated = ask(client, query, monkeypatch)
    assert answer == {"data": {"me": {"username": "ana"}}}
    assert validated == 1


def test_the_count_of_places_is_itself_bounded(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fragments spread inside one another at different places are counted at each: the count
    # stops at MAX_READS selections.
    monkeypatch.setattr(merging, "MAX_READS", 50)
    answer, validated = ask(client, fragments(30, "username"), monkeypatch)
    assert [e["message"] for e in answer["errors"]] == [
        "this query has more than 50 selections, each fragment counted at every place it is "
        "spread: spread fewer fragments inside one another"
    ]
    assert validated == 0
