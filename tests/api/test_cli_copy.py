"""`tracegraph copy-store`, run in-process on real embedded store files."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Final

import pytest

from api import cli, cli_copy, cli_input
from api.auth.embedded import EmbeddedAccountStore
from api.auth.service import AuthService
from api.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_UNAVAILABLE, main
from api.cli_serve import EXIT_INTERRUPTED
from api.deps import Services
from graph import neo4j_driver
from graph.embedded_store import EmbeddedStore, store_files
from graph.errors import StoreBusy, StoreUnavailable
from graph.store import StoredEvent
from ingest.service import IngestService
from ingest.store_copy import CopyMismatch, copy_plant
from tests.api.conftest import laptop_plant
from tests.fixtures.events import Events
from tests.fixtures.neo4j_server import Neo4jTarget, open_driver
from tests.fixtures.stores import emptied_neo4j


@pytest.fixture
def source(tmp_path: Path, events: Events) -> str:
    return laptop_plant(tmp_path, events)


def _trace(store: str, capsys: pytest.CaptureFixture[str]) -> object:
    argv = ["trace", "--supplier", "ACME", "--supplier-lot", "A-77", "--down", "--json"]
    assert main([*argv, "--store", store]) == 0
    return json.loads(capsys.readouterr().out)


def test_copy_then_trace_the_copy(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = f"sqlite:///{tmp_path / 'server.db'}"
    assert main(["copy-store", "--store", source, "--to", copy]) == 0
    out = capsys.readouterr().out
    assert "event log: 3 events (3 live, rebuilt into the graph)" in out
    assert "accounts: 0 companies, 1 users, 0 API keys, 0 partners" in out
    assert out.rstrip().endswith("and accounts equal the source's")
    assert _trace(copy, capsys) == _trace(source, capsys)


def test_copy_store_checks_each_store_once_by_the_option_given(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The source is proven there, the target's folder is checked by --to: opening them checks
    # neither again, the target by a --store the command line did not give.
    checked: list[tuple[str, str]] = []
    real = cli_input.check_store_folder

    def check_store_folder(url: str, option: str) -> None:
        checked.append((url, option))
        real(url, option)

    for module in (cli, cli_copy):
        monkeypatch.setattr(module, "check_store_folder", check_store_folder)
    copy = f"sqlite:///{tmp_path / 'server.db'}"
    assert main(["copy-store", "--store", source, "--to", copy]) == 0
    assert checked == [(copy, "--to")]


def test_a_target_with_accounts_only_is_refused_before_anything_is_written(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "server.db"
    accounts = EmbeddedAccountStore(path)
    AuthService(accounts).add_user("root", "another long password", "admin")
    accounts.close()
    argv = ["copy-store", "--store", source, "--to", f"sqlite:///{path}"]
    assert main(argv) == EXIT_BAD_INPUT
    assert "the target store is not empty: it holds users" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == EXIT_BAD_INPUT  # not a copy of this plant's either
    err = capsys.readouterr().err
    assert "not a stopped copy of this store, or this store changed since" in err
    assert "its users differ from this store's ('root')" in err
    assert "--resume to finish" not in err  # refused: nothing was carried
    store = EmbeddedStore(path)
    assert store.events(0, 10) == [] and store.lot_schemes() == []
    assert store.counts() == {"edges": 0, "events": 0}
    store.close()


def test_what_cannot_be_copied_is_named(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["copy-store", "--store", source, "--to", source]) == EXIT_BAD_INPUT
    assert "--to names the store being copied" in capsys.readouterr().err
    missing = tmp_path / "typo.db"
    to = f"sqlite:///{tmp_path / 'new.db'}"
    assert main(["copy-store", "--store", f"sqlite:///{missing}", "--to", to]) == EXIT_BAD_INPUT
    assert f"there is no store file at {missing}" in capsys.readouterr().err
    assert not missing.exists() and not (tmp_path / "new.db").exists()


@pytest.mark.parametrize("side", ["-wal", "-shm", "-journal"])
def test_a_target_named_as_a_file_sqlite_keeps_beside_a_store_is_refused(
    source: str, tmp_path: Path, side: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # SQLite takes such a file for the store's own journal and removes or resets it: the copy
    # said it was whole and checked, and was gone once the source's connections closed.
    path = Path(source.removeprefix("sqlite:///"))
    to = f"sqlite:///{path}{side}"
    assert main(["copy-store", "--store", source, "--to", to]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"--to: {path}{side} is a file SQLite keeps beside the store {path}" in err
    assert not Path(f"{path}{side}").exists()


def test_a_new_store_and_a_store_named_as_its_side_file_are_not_made_together(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A store of an older release named plant-wal: a copy to plant beside it was made, and
    # SQLite removed plant-wal as plant's log once the copy closed.
    named = tmp_path / "plant-wal"
    os.replace(source.removeprefix("sqlite:///"), named)
    to = f"sqlite:///{tmp_path / 'plant'}"
    assert main(["copy-store", "--store", f"sqlite:///{named}", "--to", to]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"--to: {named} is there, which SQLite would take for the new store's own" in err
    assert not (tmp_path / "plant").exists()
    kept = EmbeddedStore(named)
    assert kept.counts()["events"] == 3
    kept.close()
    # Nor is a new store named so, with no store beside it yet.
    fresh = f"sqlite:///{tmp_path / 'fresh-journal'}"
    assert main(["copy-store", "--store", f"sqlite:///{named}", "--to", fresh]) == EXIT_BAD_INPUT
    assert "is named as a file SQLite keeps beside a store" in capsys.readouterr().err
    assert not (tmp_path / "fresh-journal").exists()


@pytest.mark.parametrize("side", ["-wal", "-shm", "-journal"])
def test_a_store_is_not_opened_beside_a_store_named_as_its_side_file(
    source: str, tmp_path: Path, side: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Both made by an older release: opening the first, SQLite removed the second as its log.
    path = Path(source.removeprefix("sqlite:///"))
    named = Path(f"{path}{side}")
    shutil.copyfile(path, named)
    refused = f"{named} is a store, named as a file SQLite keeps beside {path}"
    argv = ["trace", "--supplier", "ACME", "--supplier-lot", "A-77", "--down"]
    for command in (
        [*argv, "--store", source],
        ["copy-store", "--store", source, "--to", f"sqlite:///{tmp_path / 'new.db'}"],
        ["demo", "--no-serve", "--file", str(path)],
    ):
        assert main(command) == EXIT_BAD_INPUT, command
        assert refused in capsys.readouterr().err
    assert named.read_bytes() == path.read_bytes()


def test_a_store_whose_side_files_names_would_be_too_long_opens(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "-wal" fits in a file name of 255 bytes beside it, "-journal" does not: there is none.
    long = tmp_path / ("p" * 249)
    shutil.copyfile(source.removeprefix("sqlite:///"), long)
    assert _trace(f"sqlite:///{long}", capsys) == _trace(source, capsys)


def test_a_store_file_named_as_a_side_file_alone_is_of_no_store() -> None:
    # "-wal" is beside no file (a name cannot be empty): taken, not a traceback.
    for name in ("-wal", "-journal"):
        cli_input.check_file_folder(Path(name), "--file")


def test_a_store_named_as_a_side_file_of_a_file_that_is_no_store_is_taken(
    tmp_path: Path,
) -> None:
    (tmp_path / "notes").write_text("not a store")
    kept = tmp_path / "notes-journal"
    EmbeddedStore(kept).close()
    cli_input.check_file_folder(kept, "--store")  # no refusal


def test_a_target_that_is_the_source_by_another_name_is_refused(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A hard link: resumed, the copy marked the source unfinished and rebuilt it in place.
    linked = tmp_path / "linked.db"
    os.link(source.removeprefix("sqlite:///"), linked)
    for resume in ([], ["--resume"]):
        argv = ["copy-store", "--store", source, "--to", f"sqlite:///{linked}", *resume]
        assert main(argv) == EXIT_BAD_INPUT
        assert "--to names the store being copied" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["laptop.db", "linked.db"]
    store = EmbeddedStore(linked)
    assert store.counts()["events"] == 3
    store.close()


@pytest.mark.parametrize(
    ("store", "to"),
    [
        ("neo4j://127.0.0.1:1", "bolt://127.0.0.1:1/"),
        ("neo4j+s://DB.example:7687", "bolt+s://db.example"),
    ],
)
def test_a_neo4j_target_on_the_sources_server_is_refused_as_the_source(
    store: str, to: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Both are opened with the one database setting: the same server is the same database, and
    # resumed there, the copy marked it unfinished and rebuilt its graph in place.
    assert main(["copy-store", "--store", store, "--to", to, "--resume"]) == EXIT_BAD_INPUT
    assert f"--to names the store being copied: {to}" in capsys.readouterr().err


def test_a_copy_that_fails_leaves_no_new_file_behind(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fails(*_: object, **__: object) -> None:
        raise CopyMismatch("the copy's accounts differ from the source's after the copy")

    monkeypatch.setattr("api.cli_copy.copy_accounts", fails)  # after the graph is copied
    path = tmp_path / "server.db"
    assert main(["copy-store", "--store", source, "--to", f"sqlite:///{path}"]) == EXIT_FAILED
    assert "accounts differ" in capsys.readouterr().err
    assert not any(file.exists() for file in store_files(path))


def _failing_source(monkeypatch: pytest.MonkeyPatch, source: str, error: BaseException) -> None:
    """The source fails as the copy reads its log past its first entry: its first is carried."""
    path = Path(source.removeprefix("sqlite:///"))
    events = EmbeddedStore.events

    def read(store: EmbeddedStore, after_seq: int, limit: int) -> list[StoredEvent]:
        if store.path == path and after_seq > 0:
            raise error
        return events(store, after_seq, limit)

    monkeypatch.setattr(EmbeddedStore, "events", read)
    monkeypatch.setattr("api.cli_copy.copy_plant", partial(copy_plant, chunk=1))


def _disk_error() -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("disk I/O error")
    error.sqlite_errorcode = sqlite3.SQLITE_IOERR  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize("made", ["file of no bytes", "empty store"])
@pytest.mark.parametrize(
    ("error", "exit_code"),
    [(_disk_error(), EXIT_UNAVAILABLE), (KeyboardInterrupt(), EXIT_INTERRUPTED)],
    ids=["disk-error", "ctrl-c"],
)
def test_a_copy_that_fails_into_an_empty_file_leaves_it_empty_for_a_whole_copy(
    source: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    made: str,
    error: BaseException,
    exit_code: int,
) -> None:
    path = tmp_path / "server.db"
    if made == "empty store":
        EmbeddedStore(path).close()
    else:
        path.touch()
    copy = f"sqlite:///{path}"
    with monkeypatch.context() as patched:
        _failing_source(patched, source, error)
        assert main(["copy-store", "--store", source, "--to", copy]) == exit_code
    assert "--resume" not in capsys.readouterr().err  # nothing is left to resume

    assert path.stat().st_size == 0
    assert [file.name for file in store_files(path) if file.exists()] == ["server.db"]
    assert main(["copy-store", "--store", source, "--to", copy]) == 0
    assert "event log: 3 events (3 live, rebuilt into the graph)\n" in capsys.readouterr().out
    assert _trace(copy, capsys) == _trace(source, capsys)


def test_a_copy_that_fails_into_an_empty_file_another_process_has_open_leaves_it_as_it_is(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "server.db"
    server = EmbeddedStore(path)  # a server on the empty store: emptying it under it would harm it
    copy = f"sqlite:///{path}"
    try:
        with monkeypatch.context() as patched:
            _failing_source(patched, source, _disk_error())
            assert main(["copy-store", "--store", source, "--to", copy]) == EXIT_UNAVAILABLE
        err = capsys.readouterr().err
        assert f"copy-store: {path} is open in another process (a server on it?)" in err
        assert "Run the same command with --resume to finish it" in err
        assert server.counts()["events"] == 1
    finally:
        server.close()


def _stopped_copy(source: str, path: Path, *, rebuilt: bool) -> None:
    """What a copy into `path` whose process died leaves: the plant's log (and, `rebuilt`,
    its graph), no accounts."""
    copied = Services.for_stores(
        EmbeddedStore(source.removeprefix("sqlite:///")),
        EmbeddedAccountStore(source.removeprefix("sqlite:///")),
    )
    target = Services.for_stores(EmbeddedStore(path), EmbeddedAccountStore(path))
    try:
        if rebuilt:
            copy_plant(copied.store, target.store)
        else:
            with pytest.MonkeyPatch.context() as patched:
                patched.setattr(IngestService, "rebuild", _stop)
                with pytest.raises(KeyboardInterrupt):
                    copy_plant(copied.store, target.store)
    finally:
        copied.close()
        target.close()


def _stop(*_: object, **__: object) -> None:
    raise KeyboardInterrupt


def test_a_copy_that_stopped_is_finished_with_resume(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "server.db"
    _stopped_copy(source, path, rebuilt=True)
    copy = f"sqlite:///{path}"

    assert main(["copy-store", "--store", source, "--to", copy]) == EXIT_BAD_INPUT
    assert "--resume finishes a copy into it that stopped" in capsys.readouterr().err
    assert main(["copy-store", "--store", source, "--to", copy, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "event log: 3 events (3 live, rebuilt into the graph); 3 of them already there" in out
    assert "accounts: 0 companies, 1 users" in out
    assert _trace(copy, capsys) == _trace(source, capsys)


def test_a_resumed_copy_that_fails_keeps_what_it_carried_and_says_so(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "server.db"
    _stopped_copy(source, path, rebuilt=True)
    copy = f"sqlite:///{path}"
    with monkeypatch.context() as patched:

        def fails(*_: object, **__: object) -> None:
            raise StoreUnavailable("the connection to the store was lost")

        patched.setattr("api.cli_copy.copy_accounts", fails)  # after the plant is copied
        argv = ["copy-store", "--store", source, "--to", copy, "--resume"]
        assert main(argv) == EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert "connection to the store was lost" in err
    assert "Run the same command with --resume to finish it" in err
    assert main(["copy-store", "--store", source, "--to", copy, "--resume"]) == 0
    assert "3 of them already there" in capsys.readouterr().out


def test_a_target_holding_only_the_log_of_a_copy_that_stopped_is_said_to_hold_just_that(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "server.db"
    _stopped_copy(source, path, rebuilt=False)  # the log is carried, no graph yet
    copy = f"sqlite:///{path}"

    assert main(["copy-store", "--store", source, "--to", copy]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "the target store is not empty: it holds an event log. Copy into a new file" in err


@pytest.mark.neo4j
def test_a_resume_refused_by_a_rebuild_under_way_is_not_told_to_resume(
    source: str,
    neo4j_login: Neo4jTarget,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It waited for the rebuild's lease and wrote nothing: its message says to try again once
    that rebuild is done, and no hint says that this copy stopped and is to be resumed."""
    from graph.neo4j_store import Neo4jStore

    login = {"user": neo4j_login.user, "password": neo4j_login.password}
    monkeypatch.setattr(neo4j_driver, "LOCK_WAIT", 1.0)
    emptied_neo4j(neo4j_login)
    elsewhere = Neo4jStore(neo4j_login.uri, **login)
    try:
        copy = neo4j_login.uri
        with monkeypatch.context() as patched:
            _failing_source(patched, source, _disk_error())
            assert main(["copy-store", "--store", source, "--to", copy]) == EXIT_UNAVAILABLE
        assert "Run the same command with --resume to finish it" in capsys.readouterr().err
        carried = elsewhere.events(0, 10)

        with elsewhere.one_rebuild():  # a rebuild under way in another process
            argv = ["copy-store", "--store", source, "--to", copy, "--resume"]
            assert main(argv) == EXIT_UNAVAILABLE
        err = capsys.readouterr().err
        assert "being rebuilt from its log by another client" in err
        assert "try again once it is done" in err
        assert "--resume" not in err and "the copy stopped" not in err
        assert elsewhere.events(0, 10) == carried
    finally:
        elsewhere.close()


@pytest.mark.neo4j
def test_a_trace_in_json_is_the_same_text_on_either_store(
    source: str, neo4j_login: Neo4jTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    """A node's fields come in one order whichever store holds the plant: Neo4j returns a node's
    properties in an order of its own."""
    emptied_neo4j(neo4j_login)
    assert main(["copy-store", "--store", source, "--to", neo4j_login.uri]) == 0
    capsys.readouterr()
    argv = ["trace", "--supplier", "ACME", "--supplier-lot", "A-77", "--down", "--json"]
    assert main([*argv, "--store", source]) == 0
    embedded = capsys.readouterr().out
    assert main([*argv, "--store", neo4j_login.uri]) == 0
    assert capsys.readouterr().out == embedded


@pytest.mark.neo4j
def test_a_second_copy_into_one_neo4j_database_is_refused_while_the_first_runs(
    source: str,
    neo4j_login: Neo4jTarget,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Both found the database empty before either wrote, and so might write into it at once.
    The second is refused within seconds, naming the first, and writes nothing; the first
    finishes whole."""
    from api import cli_copy

    emptied_neo4j(neo4j_login)
    inside, go = threading.Event(), threading.Event()
    copy = cli_copy.copy_plant

    def first_held(*args: Any, **kwargs: Any) -> Any:  # the first copy waits once inside
        if not inside.is_set():
            inside.set()
            assert go.wait(60), "the second copy never ended"
        return copy(*args, **kwargs)

    monkeypatch.setattr(cli_copy, "copy_plant", first_held)
    argv = ["copy-store", "--store", source, "--to", neo4j_login.uri]
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(main, argv)
        try:
            assert inside.wait(60), "the first copy never began"
            started = time.monotonic()
            assert main(argv) == EXIT_UNAVAILABLE
            assert time.monotonic() - started < 15
        finally:
            go.set()
        assert first.result(timeout=120) == 0
    err = capsys.readouterr().err
    assert "another copy-store is filling this database" in err
    assert f"{socket.gethostname()} process {os.getpid()}, since " in err
    # The refused copy's own hold, ended but not yet closed as it is refused, is not named.
    refusal = next(line for line in err.splitlines() if "another copy-store" in line)
    assert refusal.count(f"process {os.getpid()}, since ") == 1
    assert "--resume" not in err.partition("another copy-store")[0]
    assert _trace(neo4j_login.uri, capsys) == _trace(source, capsys)


@pytest.mark.neo4j
def test_a_copy_refused_as_it_took_the_hold_does_not_name_itself(
    neo4j_login: Neo4jTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server may end a waiting copy's hold just as it gets it: the statement returns, and
    the hold, ended but not yet closed, is still listed among the copies' as the refusal names
    them."""
    from graph import neo4j_store

    @contextmanager
    def ended_as_it_took(*args: Any, **kwargs: Any) -> Iterator[None]:
        yield
        raise StoreBusy("")

    monkeypatch.setattr(neo4j_store, "waiting_at_most", ended_as_it_took)
    login = {"user": neo4j_login.user, "password": neo4j_login.password}
    store = neo4j_store.Neo4jStore(neo4j_login.uri, **login, finishing_copy=True)
    try:
        with pytest.raises(StoreBusy) as refused, store.held_for_copy():
            pass
    finally:
        store.close()
    assert refused.value.message.startswith("another copy-store is filling this database")
    assert f"process {os.getpid()}" not in refused.value.message


# What an operator runs to end a copy's hold (README): here, as a dropped connection would.
END_COPY_HOLD: Final = (
    "SHOW TRANSACTIONS YIELD transactionId AS id, metaData "
    "WHERE metaData.tracegraph_copy IS NOT NULL "
    "TERMINATE TRANSACTIONS id YIELD transactionId RETURN transactionId"
)


@pytest.mark.neo4j
def test_a_copy_into_neo4j_that_lost_its_hold_is_not_marked_finished(
    source: str,
    neo4j_login: Neo4jTarget,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Once its hold is gone, another copy may have written beside it: it stops unfinished, to
    be resumed, rather than say the database holds one whole copy."""
    from api import cli_copy
    from graph.neo4j_store import Neo4jStore

    emptied_neo4j(neo4j_login)
    accounts = cli_copy.copy_accounts

    def hold_lost(*args: Any, **kwargs: Any) -> Any:  # once the plant is carried
        with open_driver(neo4j_login) as driver:
            assert len(driver.execute_query(END_COPY_HOLD).records) == 1
        return accounts(*args, **kwargs)

    argv = ["copy-store", "--store", source, "--to", neo4j_login.uri]
    with monkeypatch.context() as patched:
        patched.setattr(cli_copy, "copy_accounts", hold_lost)
        assert main(argv) == EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert "this copy-store lost its hold on the database" in err
    assert "Run the same command with --resume to finish it" in err
    login = {"user": neo4j_login.user, "password": neo4j_login.password}
    with pytest.raises(StoreUnavailable, match="an unfinished copy of"):
        Neo4jStore(neo4j_login.uri, **login)

    assert main([*argv, "--resume"]) == 0
    capsys.readouterr()
    assert _trace(neo4j_login.uri, capsys) == _trace(source, capsys)
