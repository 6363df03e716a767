"""A store URL no store can be opened at is refused by what is wrong with it, before the driver."""

from __future__ import annotations

import pytest

from graph.connect import check_store_url
from graph.errors import BadRequest, StoreUnavailable
from graph.neo4j_driver import reaching


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("bolt://127.0.0.1:abc", "Port could not be cast to integer value as 'abc'"),
        ("neo4j://127.0.0.1:99999", "Port out of range"),
        ("neo4j://127.0.0.1:0", "a port is from 1 to 65535"),
        ("bolt://[::1:1", "Invalid IPv6 URL"),
        ("neo4j://:7687", "names no host"),
        ("neo4j://", "names no host"),
        ("bolt://" + "ä" * 70 + ":7687", "names no host name"),
        ("bolt://neo4j:s3cret@127.0.0.1:7687", "carries a user name"),
        ("bolt://neo4j:s3cret@[::1:7687", "Invalid IPv6 URL"),
        ("mysql://root:s3cret@db", "unknown store URL 'mysql://...@db'"),
    ],
)
def test_a_malformed_store_url_is_refused_without_its_password(url: str, said: str) -> None:
    with pytest.raises(BadRequest) as refused:
        check_store_url(url)
    assert said in refused.value.message
    assert "s3cret" not in refused.value.message


@pytest.mark.parametrize(
    "url",
    ["sqlite:///plant.db", "neo4j://localhost:7687", "bolt+s://[::1]:7687", "neo4j://db?region=eu"],
)
def test_a_store_url_of_the_right_form_passes(url: str) -> None:
    check_store_url(url)


def test_a_server_name_that_stops_resolving_is_a_store_unavailable() -> None:
    gone = pytest.raises(StoreUnavailable, match="Neo4j, which holds the graph, does not answer")
    with gone, reaching("the graph"):
        # What the driver raises when the name's lookup fails (its container stopped, say).
        raise ValueError("Cannot resolve address neo4j:7687") from OSError(-2, "not known")
    with pytest.raises(ValueError, match="a bug"), reaching("the graph"):
        raise ValueError("a bug")
