"""The command line, run in-process on a real embedded store."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from api.cli import main
from api.render import trace_tree
from graph.embedded_store import EmbeddedStore
from graph.store import EdgeView
from graph.trace import Trace, TraceNode
from tests.fixtures.events import Events
from tests.fixtures.stores import new_store


@pytest.fixture
def plant_file(tmp_path: Path, events: Events) -> Path:
    path = tmp_path / "plant.json"
    batch = [
        events.receive("L-1", 10, supplier_lot="A-77"),
        events("split", lot="L-1", into=[{"lot": "L-2", "qty": "4"}]),
        events("serialize", lot="L-2", serials=["SN-1"]),
    ]
    path.write_text(json.dumps({"events": batch}))
    return path


def test_the_log_names_the_system_account_that_ran_an_ingest(
    tmp_path: Path, plant_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGNAME", "qa-lead")  # the first place getpass looks
    store = tmp_path / "cli.db"
    assert main(["ingest", str(plant_file), "--store", new_store(store)]) == 0

    opened = EmbeddedStore(store)
    logged = opened.events(0, 10)
    opened.close()

    assert {e.recorded_by for e in logged} == {"cli:qa-lead"}


def test_ingest_then_trace_json(
    tmp_path: Path, plant_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = new_store(tmp_path / "cli.db")
    assert main(["ingest", str(plant_file), "--store", store]) == 0
    assert "3 created, 0 duplicates" in capsys.readouterr().out
    assert (
        main(
            [
                "trace",
                "--supplier",
                "ACME",
                "--supplier-lot",
                "A-77",
                "--down",
                "--json",
                "--store",
                store,
            ]
        )
        == 0
    )
    body = json.loads(capsys.readouterr().out)
    assert body["root"] == "supplier_lot:ACME/A-77" and body["direction"] == "down"
    assert [n["id"] for n in body["nodes"]] == [
        "supplier_lot:ACME/A-77",
        "lot:L-1",
        "lot:L-2",
        "serial:SN-1",
    ]
    assert set(body["edges"][0]) == {"from", "to", "type", "qty", "event", "at"}
    assert main(["trace", "--serial", "SN-1", "--up", "--store", store]) == 0
    tree = capsys.readouterr().out
    assert "SERIALIZED_AS ← lot:L-2" in tree and "share=1" in tree


def test_bad_input_exits_2_with_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], events: Events
) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text(json.dumps(events("split", lot="NOPE", into=[{"lot": "X", "qty": "1"}])) + "\n")
    new_store(tmp_path / "x.db")
    assert main(["ingest", str(bad), "--store", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    assert 'event 0 ("E-1"), lot: lot "NOPE" does not exist' in capsys.readouterr().err
    assert main(["ingest", str(tmp_path / "missing.json")]) == 2
    latin = tmp_path / "latin.ndjson"
    latin.write_bytes(b'{"note": "caf\xe9"}\n')
    assert main(["ingest", str(latin), "--store", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    assert "is not UTF-8 text" in capsys.readouterr().err
    assert main(["trace", "--lot", "X", "--up", "--store", f"sqlite:///{tmp_path / 'x.db'}"]) == 1
    assert main(["trace", "--supplier", "S", "--down"]) == 2


def test_schema_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "events"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["discriminator"]["propertyName"] == "type"
    assert "Receive" in schema["$defs"] and "from" in schema["$defs"]["Merge"]["properties"]


def test_rebuild(tmp_path: Path, plant_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = new_store(tmp_path / "cli.db")
    main(["ingest", str(plant_file), "--store", store])
    assert main(["rebuild", "--store", store]) == 0
    said = capsys.readouterr().out.splitlines()[-1]
    assert said.startswith("rebuilt the graph from 3 live events: ") and "events 3" in said
    assert "{" not in said  # counts said in words, not as a Python dict


def test_starting_the_cli_loads_neither_a_schema_validator_nor_the_solver() -> None:
    # jsonschema builds its format checkers on import (about a second) and OR-Tools brings
    # pandas (a third of a second): only an EPCIS check or a schedule should pay for them.
    heavy = "sorted({'jsonschema', 'ortools'} & set(sys.modules))"
    probe = f"import sys, api.cli; print({heavy})"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
    used = "import sys, api.cli, graph.epcis_schema as s, scheduler; s.schema_problems({}); "
    used += f"scheduler.solve; print({heavy})"
    done = subprocess.run(
        [sys.executable, "-c", used], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "['jsonschema', 'ortools']"


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["users", "list", "--store", "sqlite:///{tmp}/notadb.db"], 3, "not a database"),
        (["users", "list", "--store", "sqlite:///"], 2, "names no file"),
        (["schedule", "{tmp}/binary.jsp"], 2, "is not UTF-8 text (byte 1)"),
        (["schedule", "{tmp}/utf16.jsp"], 2, "is UTF-16 text, not UTF-8"),
        (["schedule", "{tmp}/one.jsp", "--gantt", "{tmp}/nowhere/g.svg"], 2, "cannot write"),
        (
            ["mark", "schemes", "--set", "{tmp}/binary.jsp", "--store", "sqlite:///{tmp}/m.db"],
            2,
            "is not UTF-8 text",
        ),
        (["cart", "history", "--lot", "NOPE", "--store", "sqlite:///{tmp}/c.db"], 1, "no lot"),
        (["demo", "--no-serve", "--file", "{tmp}"], 2, "is a folder"),
        (["demo", "--no-serve", "--file", ""], 2, "name the demo's store file"),
        (["demo", "--port", "-1", "--file", "{tmp}/d.db"], 2, "port: "),
        (["serve", "--port", "99999", "--store", "sqlite:///{tmp}/s.db"], 2, "port: "),
        (["serve", "--store", "mysql://x"], 2, "unknown store URL 'mysql://x'"),
        (["serve", "--store", "neo4j://127.0.0.1:1"], 3, "cannot reach Neo4j"),
        (["users", "list", "--store", "bolt://127.0.0.1:1"], 3, "cannot reach Neo4j at bolt:"),
        (["trace", "--lot", "L", "--up", "--store", "bolt://127.0.0.1:abc"], 2, "not neo4j://"),
        (["serve", "--store", "bolt://[::1:1"], 2, "Invalid IPv6 URL"),
        (["users", "list", "--store", "bolt://neo4j:pw@127.0.0.1:7687"], 2, "carries a user"),
        # .invalid never resolves (RFC 6761)
        (["trace", "--lot", "L", "--up", "--store", "neo4j://x.invalid:7687"], 3, "cannot reach"),
        (
            ["copy-store", "--store", "sqlite:///{tmp}/c.db", "--to", "bolt://x.invalid:7687"],
            3,
            "cannot reach Neo4j at bolt://x.invalid:7687: Cannot resolve address",
        ),
        (["trace", "--lot", "L", "--up", "--store", "sqlite:///{tmp}/typo/p.db"], 2, "no store"),
        (["rebuild", "--store", "sqlite:///{tmp}/s.db"], 2, "there is no store file at"),
        (["mark", "resolve", "--mark", "AAC?", "--store", "sqlite:///{tmp}/s.db"], 2, "no store"),
        (["users", "list", "--store", "sqlite:///{tmp}/typo/p.db"], 2, "no store file"),
        (["demo", "--no-serve", "--file", "{tmp}/typo/d.db"], 2, "there is no folder"),
        # A new store is made in a folder that is there, as demo makes its own: no folders
        # where a typo points.
        (
            ["copy-store", "--store", "sqlite:///{tmp}/c.db", "--to", "sqlite:///{tmp}/typo/p.db"],
            2,
            "--to: there is no folder",
        ),
        # Nor in a file SQLite keeps beside a store, which it would take for that store's own.
        (["demo", "--no-serve", "--file", "{tmp}/c.db-journal"], 2, "beside the store"),
        (["demo", "--no-serve", "--file", "{tmp}/d.db", "--size", "0"], 2, "--size: "),
        (["demo", "--no-serve", "--file", "{tmp}/d.db", "--size", "-5"], 2, "--size: "),
        (["mark", "resolve", "--store", "sqlite:///{tmp}/c.db"], 2, "error: give a secondary"),
        (["cart", "size", "{tmp}/one.jsp"], 2, "one.jsp is not JSON we read: not valid JSON"),
        (["cart", "size", "{tmp}/carts.json"], 2, "carts.json: due needs one value per machine"),
        (["trace", "--lot", "L", "--up", "--max-depth", "-1"], 2, "--max-depth must be 0 or"),
        (["schedule", "{tmp}/one.jsp", "--time-limit", "99999"], 2, "--time-limit: Input should"),
        (["serve", "--port", "0", "--store", "sqlite:///{tmp}/s.db"], 2, "--port: Input should"),
    ],
)
def test_what_cannot_be_done_is_one_line_and_an_exit_code(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    (tmp_path / "notadb.db").write_text("not a database")
    (tmp_path / "binary.jsp").write_bytes(b"1\xfe")
    (tmp_path / "utf16.jsp").write_bytes("1 1\n0 5\n".encode("utf-16"))
    (tmp_path / "one.jsp").write_text("1 1\n0 5\n")
    new_store(tmp_path / "c.db")
    sizing = {"rates": [[10]], "setups": [[1]], "quantities": [[9]], "due": [1, 2], "day": [8]}
    (tmp_path / "carts.json").write_text(json.dumps({**sizing, "capacity": 5}))
    assert main([arg.replace("{tmp}", str(tmp_path)) for arg in argv]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "d.db").exists() and not (tmp_path / "s.db").exists()
    assert not (tmp_path / "typo").exists()


# Each with the number in the place of {n}.
WHOLE_NUMBER_OPTIONS = [
    ["trace", "--lot", "L-1", "--down", "--max-depth", "{n}"],
    ["audit", "--limit", "{n}"],
    ["audit", "--after", "{n}"],
    ["mark", "resolve", "--mark", "AAC?", "--limit", "{n}"],
    ["partners", "add", "ACME", "--url", "https://a.example", "--key-stdin", "--ttl", "{n}"],
    ["schedule", "one.jsp", "--workers", "{n}"],
    ["demo", "--no-serve", "--size", "{n}"],
    ["demo", "--no-serve", "--seed", "{n}"],
    ["serve", "--port", "{n}"],
]
DECIMAL_OPTIONS = [
    ["partners", "add", "ACME", "--url", "https://a.example", "--key-stdin", "--timeout", "{n}"],
    ["schedule", "one.jsp", "--time-limit", "{n}"],
    [
        "mark",
        "decide",
        "--wear-rate",
        "1",
        "--failure-rate",
        "1",
        "--life",
        "1",
        "--claim",
        "1",
        "--count",
        "1",
        "--setup-cost",
        "1",
        "--running-cost",
        "{n}",
    ],
]
LAX = ["5_0", "+5", " 5", "5 ", "\u0665", "0x5", "nan", "5.", ".5", "1_0e1"]


@pytest.mark.parametrize(
    ("argv", "text"),
    [(argv, text) for argv in WHOLE_NUMBER_OPTIONS for text in [*LAX, "5.0", "1e1"]]
    + [
        (argv, text)
        for argv in DECIMAL_OPTIONS
        for text in [*LAX, "inf", "Infinity", "1e400", "1e-400"]
        if text not in ("5.", ".5")  # read as people type them, 5.0 and 0.5
    ],
)
def test_a_number_option_is_written_in_digits_as_the_api_reads_numbers(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    text: str,
) -> None:
    # Python reads 5_0 as 50, and +5, ' 5' and an Arabic-Indic five as 5: the API refuses them
    # (422 int_parsing), and the command line reads no number the API would not. Refused as
    # the arguments are read, before any command runs (a port of 5_0 would be served as 50).
    monkeypatch.setattr("api.cli._run", lambda args: pytest.fail(f"ran {args}"))
    with pytest.raises(SystemExit) as stopped:
        main([arg.replace("{n}", text) for arg in argv])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    if text in ("1e400", "1e-400"):  # a float would make it inf or a silent 0
        assert (
            f"argument {argv[-2]}: {text!r} is more than a float holds (too large or too small)"
            in err
        ), err
    else:
        assert f"argument {argv[-2]}: {text!r} is not a" in err and "the digits 0-9" in err, err


def test_a_number_option_in_digits_is_read(tmp_path: Path, plant_file: Path) -> None:
    store = new_store(tmp_path / "plant.db")
    assert main(["ingest", str(plant_file), "--store", store]) == 0
    for depth in ("0", "12", "-1"):
        code = main(["trace", "--lot", "L-1", "--down", "--max-depth", depth, "--store", store])
        assert code == (0 if depth != "-1" else 2)
    decide = ["mark", "decide", "--wear-rate", "0.01", "--failure-rate", "0.001", "--life", "10"]
    decide += [
        "--claim",
        "1000",
        "--count",
        "1000",
        "--setup-cost",
        "100",
        "--running-cost",
        "1.5e1",
    ]
    assert main(decide) == 0
    assert main([*decide[:-1], ".5"]) == 0 and main([*decide[:-1], "15."]) == 0


def test_a_neo4j_that_cannot_be_reached_is_said_in_the_commands_line_alone(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    driver_log = logging.getLogger("neo4j")
    level = driver_log.level
    try:  # nothing listens on port 1: the routing table cannot be fetched
        assert main(["trace", "--lot", "L", "--down", "--store", "neo4j://127.0.0.1:1"]) == 3
    finally:
        driver_log.setLevel(level)
    assert capsys.readouterr().err.startswith("error: cannot reach Neo4j at neo4j://127.0.0.1:1: ")
    # The driver's own ERROR of it went to standard error too, before the command's line.
    assert not [r for r in caplog.records if r.name.startswith("neo4j")]


def test_a_trace_tree_shows_a_partners_text_without_control_characters() -> None:
    partner = {"part": "\x1b[2JBAR", "customer": "HOSP\x07", "status": "released\x1b[8m"}
    trace = Trace(
        "lot:L-1",
        "down",
        [TraceNode("lot:L-1", "lot", 0, {}, 1.0), TraceNode("lot:X\x1b", "lot", 1, partner, 1.0)],
        [EdgeView("lot:L-1", "lot:X\x1b", "SPLIT_INTO", None, None, None, "", "")],
    )
    tree = trace_tree(trace)
    assert "\x1b" not in tree and "\x07" not in tree, repr(tree)
    assert "lot:X\\x1b  \\x1b[2JBAR  customer=HOSP\\x07  exposure=1  [released\\x1b[8m]" in tree


def test_a_trace_tree_draws_a_chain_deeper_than_pythons_recursion_limit() -> None:
    depth = 3000  # a partner's answer may be a chain this long
    ids = [f"lot:C{i}" for i in range(depth + 1)]
    trace = Trace(
        ids[0],
        "up",
        [TraceNode(gid, "lot", i, {}) for i, gid in enumerate(ids)],
        [EdgeView(b, a, "CONSUMED", None, None, None, "", "") for a, b in pairwise(ids)],
    )
    lines = trace_tree(trace).splitlines()
    assert len(lines) == depth + 2
    assert lines[1] == "└─ CONSUMED ← lot:C1"
    assert lines[depth] == " " * 3 * (depth - 1) + f"└─ CONSUMED ← lot:C{depth}"


def test_a_trace_that_lists_too_much_is_refused_whole_as_rest_refuses_it(
    tmp_path: Path,
    plant_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A-77 -> L-1 -> L-2 -> SN-1: 4 nodes and 3 edges, down from the supplier lot.
    store = new_store(tmp_path / "cli.db")
    assert main(["ingest", str(plant_file), "--store", store]) == 0
    down = ["trace", "--supplier", "ACME", "--supplier-lot", "A-77", "--down", "--store", store]
    capsys.readouterr()
    monkeypatch.setattr("api.access.MAX_TRACE_LISTED", 7)
    for shown in ([], ["--json"], ["--federated"], ["--federated", "--json"]):
        assert main([*down, *shown]) == 0, shown
        assert capsys.readouterr().out
    monkeypatch.setattr("api.access.MAX_TRACE_LISTED", 6)
    for shown in ([], ["--json"], ["--federated"], ["--federated", "--json"]):
        assert main([*down, *shown]) == 2, shown
        said = capsys.readouterr()
        assert said.out == "", shown  # refused whole: nothing of it printed
        assert said.err == (
            "error: this trace lists 7 nodes and edges, more than 6: ask for fewer with "
            "--max-depth, or page through them with the GraphQL trace (its nodes and links "
            "take first and after)\n"
        ), shown
    # Counted as listed: within --max-depth it prints.
    assert main([*down, "--max-depth", "1", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["nodes"]) == 2


DECIDE = ["--failure-rate", "1", "--life", "1", "--claim", "1", "--count", "1"]
DECIDE += ["--setup-cost", "1", "--running-cost", "1"]
PARTNER = ["partners", "add", "ACME", "--url", "https://a.example", "--key-stdin"]
BACKWARDS = ["--from", "2026-02-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"]
SCHEME = ["--name", "N", "--company", "ACME", "--pattern", "{seq:N4}{link:X3}"]
SCHEME += ["--link-field", "link", "--link-code", "ABC"]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["mark", "resolve", "--mark", "AAC?", "--limit", "0"], "--limit: Input should be"),
        (["mark", "resolve", "--mark", "AAC?", "--limit", "101"], "--limit: Input should be"),
        (
            ["mark", "resolve", "--mark", "AAC?", *BACKWARDS],
            "--from is after --to",
        ),
        (["mark", "resolve", "--primary", "P" * 201], "--primary: String should have at most"),
        (["mark", "issue", "--lot", "L" * 201], "--lot: String should have at most 200"),
        (["mark", "decide", "--wear-rate", "-1", *DECIDE], "--wear-rate: Input should be greater"),
        (["audit", "--limit", "0"], "--limit must be between 1 and 1000"),
        (["audit", "--limit", "1001"], "--limit must be between 1 and 1000"),
        (["audit", "--after", "-1"], "--after must be a position in the trail"),
        ([*PARTNER, "--ttl", "999999999"], "--ttl: 0 to 604800 seconds"),
        ([*PARTNER, "--timeout", "0"], "--timeout: more than 0 and at most 120 seconds"),
        ([*PARTNER, "--url", "ftp://x"], "--url: an http:// or https:// address"),
        ([*PARTNER, "--url", "http://a b"], "--url: no spaces or control characters"),
        (
            [*PARTNER, "--url", "https://a.example/" + "p" * 3000],
            "--url: String should have at most 2000 characters",
        ),
        (
            ["lot", "scheme", *SCHEME, "--sequence-field", "S" * 201],
            "--sequence-field: String should have at most",
        ),
    ],
)
def test_a_value_out_of_range_is_said_by_the_option_as_typed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    said: str,
) -> None:
    store = new_store(tmp_path / "c.db")
    assert main(["companies", "add", "ACME", "--kind", "supplier", "--store", store]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a-partner-key\n"))
    capsys.readouterr()
    assert main([*argv, "--store", store] if argv[1:2] != ["decide"] else argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {said}"), err
    assert len(err.strip().splitlines()) == 1, err
