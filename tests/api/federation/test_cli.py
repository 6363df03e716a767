"""`tracegraph partners` and `tracegraph trace --federated` on a real embedded store."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from api.cli import main
from api.federation.models import FedEdge, FederatedTrace, FedNode
from api.render import federated_tree
from tests.api.federation.plants import plant_events
from tests.api.federation.test_routes import dead_url
from tests.fixtures.stores import new_store

SECRET = "tgk_00aa11bb22cc33dd_never-print-me"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = new_store(tmp_path / "plant.db")
    events = tmp_path / "events.json"
    events.write_text(json.dumps(plant_events()))
    assert run(["ingest", str(events), "--store", url], monkeypatch) == 0
    for company in ("ACME", "CASECO"):
        assert (
            run(["companies", "add", company, "--kind", "supplier", "--store", url], monkeypatch)
            == 0
        )
    return url


def run(args: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(args)


def test_partners_add_list_remove(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add = ["partners", "add", "ACME", "--url", "http://127.0.0.1:9/", "--key-stdin"]
    assert run([*add, "--timeout", "2", "--ttl", "0", "--store", store], monkeypatch, SECRET) == 0
    assert run(["partners", "list", "--store", store], monkeypatch) == 0
    assert run(["partners", "list", "--json", "--store", store], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "never-print-me" not in out
    assert "tgk_00aa11bb22cc33dd_****" in out
    listed = json.loads(out[out.index("[") :])
    assert [(p["company"], p["base_url"], p["cache_ttl_s"]) for p in listed] == [
        ("ACME", "http://127.0.0.1:9", 0)
    ]
    assert run(["partners", "remove", "ACME", "--store", store], monkeypatch) == 0
    assert run(["partners", "remove", "ACME", "--store", store], monkeypatch) == 1
    assert "no partner 'ACME'" in capsys.readouterr().err


def test_partners_add_refuses_what_it_cannot_use(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add = ["partners", "add", "ACME", "--url", "http://127.0.0.1:9", "--key-stdin"]
    assert run([*add, "--store", store], monkeypatch, "") == 2
    assert "no API key on standard input" in capsys.readouterr().err
    unknown = ["partners", "add", "NOBODY", "--url", "http://x", "--key-stdin", "--store", store]
    assert run(unknown, monkeypatch, SECRET) == 2
    assert "register it first" in capsys.readouterr().err
    assert run([*add, "--store", store], monkeypatch, "tgk_00aa11bb22cc33dd_s\u00e9cret") == 2
    assert "api_key" in capsys.readouterr().err
    empty_query = ["partners", "add", "ACME", "--url", "http://127.0.0.1:9/?", "--key-stdin"]
    assert run([*empty_query, "--store", store], monkeypatch, SECRET) == 2
    assert "--url: an http:// or https:// address" in capsys.readouterr().err
    assert run(["partners", "list", "--json", "--store", store], monkeypatch) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_trace_federated_shows_a_stub_for_a_partner_that_is_down(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add = ["partners", "add", "ACME", "--url", dead_url(), "--key-stdin", "--store", store]
    assert run(add, monkeypatch, SECRET) == 0
    capsys.readouterr()
    trace = ["trace", "--serial", "KIT0001", "--up", "--federated", "--store", store]
    assert run([*trace, "--json"], monkeypatch) == 0
    found = json.loads(capsys.readouterr().out)
    assert [(b["partner"], b["status"]) for b in found["branches"]] == [("ACME", "unreachable")]
    assert "lot:P-BAR-1" in {n["id"] for n in found["nodes"]}
    assert run(trace, monkeypatch) == 0
    tree = capsys.readouterr().out
    assert "SUPPLIED_AS ← stub:ACME/H70001" in tree
    assert "partner ACME for supplier_lot:ACME/H70001: unreachable" in tree


def test_trace_federated_does_not_ask_beyond_its_max_depth(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add = ["partners", "add", "ACME", "--url", dead_url(), "--key-stdin", "--store", store]
    assert run(add, monkeypatch, SECRET) == 0
    capsys.readouterr()
    # ACME's bar is received at depth 3: whatever ACME holds would lie deeper.
    trace = ["trace", "--serial", "KIT0001", "--up", "--federated", "--max-depth", "3"]
    assert run([*trace, "--json", "--store", store], monkeypatch) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["branches"] == []
    assert max(n["depth"] for n in found["nodes"]) == 3


def test_a_federated_tree_leaves_out_a_quantity_that_is_no_number() -> None:
    # The wire refuses such a link; a trace built otherwise must still be shown.
    found = FederatedTrace(
        "lot:H",
        "up",
        [FedNode("lot:H", "lot", 0, None, {}), FedNode("lot:RAW", "lot", 1, "ACME", {})],
        [FedEdge("lot:RAW", "lot:H", "CONSUMED", qty="lots")],
    )
    assert "└─ CONSUMED ← lot:RAW  source=ACME" in federated_tree(found)
