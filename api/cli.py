"""The `tracegraph` command line."""

from __future__ import annotations

import argparse
import codecs
import io
import json
import logging
import os
import re
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from pydantic import TypeAdapter, ValidationError

import api.access
from api.access import within_limit
from api.cli_accounts import register as register_accounts
from api.cli_carts import register as register_carts
from api.cli_copy import register as register_copy
from api.cli_entry import EXIT_INTERRUPTED, STOPPED
from api.cli_epcis import register as register_epcis
from api.cli_gs1 import register as register_gs1
from api.cli_input import (
    as_options,
    check_file_folder,
    check_store_folder,
    read_text,
    read_time_option,
    whole_number,
)
from api.cli_lots import register as register_lots
from api.cli_output import EXIT_NOT_FOUND, Parser, command_output, output_failed, say
from api.cli_partners import register as register_partners
from api.cli_recall import register as register_recall
from api.cli_serve import CannotListen, listen, run_server
from api.demo_accounts import seed_demo_accounts
from api.demo_setup import demo_examples, seed_demo_lot_schemes
from api.deps import Services, command_line_sender
from api.federation.service import ListLimit
from api.render import federated_tree, trace_tree
from api.settings import Settings, get_settings
from api.validation_text import problem_text
from graph.connect import check_store_url, require_store
from graph.embedded_store import check_removable, remove_store, replace_store
from graph.errors import BadRequest, DomainError, NotFound, StoreBusy, StoreUnavailable
from graph.ids import gid, supplier_lot_gid
from graph.sqlite_files import store_files
from graph.sqlite_schema import store_fault
from ingest.demo_plant import KIT_MARKS, DemoPlant
from ingest.errors import BatchRejected
from ingest.models import Event
from ingest.parse import read_body
from marking.cli import register as register_mark
from marking.models import SchemeSpec
from scheduler.cli import register as register_schedule

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3
EXIT_FAILED = 4  # the command ran, and its own check of the result failed (copy-store)
# Where `tracegraph demo` makes its plant, in the folder it runs in.
DEMO_FILE = "tracegraph-demo.db"
# The trace's option for fewer levels, as a refusal names it.
DEPTH_OPTION = "--max-depth"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    _utf8_output()
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "serves", False):
        # The server's audit log is its standard output, whose failures logging reports itself:
        # guarded, every line after the first that failed would be dropped unsaid.
        return _run(args)
    # A command says in one line that Neo4j went away (exit code 3): the driver's notes on the
    # way, its retries and its own errors ("Unable to retrieve routing information"), are for
    # a server's log. Above CRITICAL: it logs nothing a command would show.
    logging.getLogger("neo4j").setLevel(logging.CRITICAL + 1)
    with command_output() as output:
        code = _run(args)
    return output_failed(output, code)


def _run(args: argparse.Namespace) -> int:
    """Run the command `args` name; say what stopped it, if anything, and return the exit code."""
    try:
        # A bad setting stops every command at start, as it stops the service, whether or not
        # the command reads that setting.
        get_settings()
        code: int = args.func(args)
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            say(f"error: {problem_text(detail)}")
        return EXIT_BAD_INPUT
    except BatchRejected as error:
        if error.action:  # an action's events, which the user did not send
            say(f"error: {error.message}")
            return EXIT_BAD_INPUT
        say(f"error: {error.message.split(':', 1)[0]}")
        for problem in error.problems:
            say(f"  {problem}")
        return EXIT_BAD_INPUT
    except NotFound as error:
        say(f"error: {error.message}")
        return EXIT_NOT_FOUND
    except BadRequest as error:
        say(f"error: {error.message}")
        return EXIT_BAD_INPUT
    except (StoreUnavailable, StoreBusy, CannotListen) as error:
        say(f"error: {error.message}")
        return EXIT_UNAVAILABLE
    except sqlite3.Error as error:  # the embedded store's file: a full disk, say
        fault = store_fault(error)
        if fault is None:
            raise
        say(f"error: {fault.message}")
        return EXIT_UNAVAILABLE
    except DomainError as error:
        say(f"error: {error.message}")
        return EXIT_FAILED if error.status_code >= 500 else EXIT_BAD_INPUT
    except UnicodeEncodeError as error:
        if not _surrogate(error.object[error.start]):
            raise
        # Bytes of an argument (or setting) that are not UTF-8 come as lone surrogates, which
        # no store takes: the write that met them rolled back.
        say(f"error: {_as_bytes(error.object)!r} is not UTF-8 text")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        # Ctrl-C before a server ran (a demo making its plant, a server starting): what was
        # begun is undone by now. Said as a shell reports an interrupted command, with no trace.
        say(STOPPED)
        return EXIT_INTERRUPTED
    except OSError as error:  # a file or folder the command was pointed at
        where = f"{error.filename}: " if error.filename else ""
        say(f"error: {where}{error.strerror or error}")
        return EXIT_BAD_INPUT
    return code


def _utf8_output() -> None:
    """Write standard output as UTF-8 whatever the locale (LC_ALL=C says ASCII): what the
    commands write, a CSV of a customer named 病院 say, is then the bytes `--out` writes to a
    file (standard input is read as UTF-8 by api.cli_input). Standard error keeps the locale's
    encoding, with escapes for what it cannot say, as Python writes it."""
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper) and codecs.lookup(out.encoding).name != "utf-8":
        out.reconfigure(encoding="utf-8", errors=out.errors)


def _surrogate(char: str) -> bool:
    return "\ud800" <= char <= "\udfff"


def _as_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")  # the bytes an argument came as
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")  # a surrogate spelt otherwise


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="tracegraph", description="Lot and serial genealogy for manufacturing.")
    # Made of the parser's class, Parser; the modules that add commands take any parser.
    commands = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True, metavar="COMMAND"),
    )

    serve = commands.add_parser("serve", help="run the HTTP service")
    _store_option(serve)
    _listen_options(serve)
    serve.set_defaults(func=_serve, serves=True)

    demo = commands.add_parser(
        "demo", help="serve a generated demo plant on a fresh embedded store file"
    )
    _listen_options(demo)
    demo.add_argument(
        "--size",
        type=whole_number,
        default=3000,
        # The plant is made a whole campaign at a time (kits need all their parts).
        help="make at least this many items (lots + serials), in whole campaigns of about 400 "
        "to 700 items each (so 1 makes one campaign)",
    )
    demo.add_argument("--seed", type=whole_number, default=7)
    demo.add_argument(
        "--file",
        default=DEMO_FILE,
        help=f"the demo's store file, made afresh (default {DEMO_FILE}, here)",
    )
    demo.add_argument(
        "--no-serve", action="store_false", dest="serves", help="make the plant and stop"
    )
    demo.set_defaults(func=_demo, makes_store=True, serves=True)

    ingest = commands.add_parser("ingest", help="ingest events from a file ('-' for stdin)")
    _store_option(ingest)
    ingest.add_argument("file", help='JSON array, {"events": [...]} or NDJSON')
    ingest.set_defaults(func=_ingest)

    trace = commands.add_parser("trace", help="trace an item up (where from) or down (where used)")
    _store_option(trace)
    start = trace.add_mutually_exclusive_group(required=True)
    start.add_argument("--lot")
    start.add_argument("--serial")
    start.add_argument("--supplier", help="with --supplier-lot")
    start.add_argument("--id", help="any global id, e.g. step:S-1")
    trace.add_argument("--supplier-lot")
    way = trace.add_mutually_exclusive_group(required=True)
    way.add_argument("--up", action="store_const", const="up", dest="direction")
    way.add_argument("--down", action="store_const", const="down", dest="direction")
    trace.add_argument(
        "--max-depth",
        type=whole_number,
        help="list items this many steps away at most (exposure counts all)",
    )
    trace.add_argument("--as-of", help="RFC 3339 time with offset")
    trace.add_argument("--json", action="store_true", help="print JSON instead of a tree")
    trace.add_argument(
        "--federated",
        action="store_true",
        help="continue upstream into partner instances (docs/federation.md)",
    )
    trace.set_defaults(func=_trace)

    schema = commands.add_parser(
        "schema", help="print the event contract's JSON Schema, or the GraphQL schema (SDL)"
    )
    schema.add_argument("which", choices=["events", "graphql"])
    schema.set_defaults(func=_schema)

    rebuild = commands.add_parser("rebuild", help="rebuild the graph from the event log")
    _store_option(rebuild)
    # Opened as it is: the command rebuilds it anyway, whatever release made its graph.
    rebuild.set_defaults(func=_rebuild, rebuilds=True)

    register_accounts(commands, _services)
    register_recall(commands, _services)
    register_carts(commands, _services)
    register_gs1(commands, _services)
    register_partners(commands, _services)
    register_epcis(commands, _services)
    register_lots(commands, _services)
    register_copy(commands, _services)
    register_schedule(commands)
    register_mark(commands)
    return parser


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="sqlite:///path.db or neo4j://host:7687 (TRACEGRAPH_STORE)")


def _listen_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=whole_number, help="port (default 8000)")
    parser.add_argument(
        "--trusted-proxies",
        help="addresses or networks (comma-separated) of the proxies in front of the service, "
        "whose X-Forwarded-For names the client (default: none, the header is ignored)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    updates = {
        key: value
        for key, value in (
            ("store", getattr(args, "store", None)),
            ("host", getattr(args, "host", None)),
            ("port", getattr(args, "port", None)),
            ("trusted_proxies", getattr(args, "trusted_proxies", None)),
            ("demo", getattr(args, "demo", None)),
        )
        if value is not None
    }
    # Checked as the environment's values are (model_copy would take a port of 99999 as it is).
    # The environment's values were checked at start: what is refused here was given as an
    # option, and is named so.
    with as_options():
        return Settings.model_validate({**get_settings().model_dump(), **updates})


def _services(args: argparse.Namespace) -> Services:
    settings = _settings(args)
    # Only the commands that make a store on purpose may open one that is not there yet. One
    # that checks the stores it opens itself (copy-store: its source, and its --to) is not
    # checked again, nor its target's folder named by a --store it was not given.
    if getattr(args, "checks_stores", False):
        pass
    elif getattr(args, "makes_store", False):
        check_store_folder(settings.store, _store_named_by(args))
    else:
        require_store(settings.store)
    return Services.from_settings(
        settings,
        command_line_sender(),
        bring_up_to_date=not getattr(args, "rebuilds", False),
        finishing_copy=getattr(args, "finishing_copy", False),
    )


def _store_named_by(args: argparse.Namespace) -> str:
    """Where the store a command opens was named: its option, or the setting."""
    return "--store" if getattr(args, "store", None) is not None else "TRACEGRAPH_STORE"


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    # A malformed or misplaced one is said before the port is taken.
    check_store_url(settings.store)
    check_store_folder(settings.store, _store_named_by(args))
    return EXIT_OK if run_server(settings, listen(settings)) else EXIT_UNAVAILABLE


def _demo(args: argparse.Namespace) -> int:
    # One known file, made afresh each run: the CLI can be pointed at it (the README's
    # examples run on it), and runs leave nothing else behind.
    if args.size < 1:  # 1 already makes a whole campaign, with every id the examples name
        raise BadRequest(f"--size: make at least 1 item, not {args.size}")
    path = _demo_file(args.file)
    args.store = f"sqlite:///{path}"
    args.demo = True
    settings = _settings(args)  # the options are checked before anything is removed or made
    # The port is taken before the file is remade: a demo that cannot serve changes nothing.
    listener = listen(settings) if args.serves else None
    # The plant is made beside the file and takes its place only when whole: a run that fails
    # (a full disk, Ctrl-C) leaves the earlier demo's file as it was.
    making = _making(path, os.getpid())
    try:
        check_removable(path)  # said now rather than after the plant is made
        _remove_killed_plants(path)
        remove_store(making)  # left by a run of the same process id that was killed
        lines = _make_demo_plant(args, settings, making)
        replace_store(making, path)
    except BaseException:
        if listener is not None:
            listener.close()
        _discard_demo(making, path)
        raise
    if listener is None:
        print("\n".join(lines))
        return EXIT_OK
    # A demo that serves writes its standard output unguarded (see main), but for these lines:
    # one that cannot say its accounts and examples is said, and does not serve.
    with command_output() as output:
        print("\n".join(lines))
    code = output_failed(output, EXIT_OK)
    if code != EXIT_OK:
        listener.close()
        return code
    return EXIT_OK if run_server(settings, listener) else EXIT_UNAVAILABLE


def _remove_killed_plants(path: Path) -> None:
    """Remove the plants that demo runs on `path` were making when they were killed outright
    (SIGKILL, a power cut), which left them behind: their process is gone. The plant of a
    demo still running is its own; one that is no store of ours stays, as `remove_store` says.
    A process is looked for on this host: a folder shared with others may hold theirs, which
    their open connection keeps from removal while they make it."""
    # Main files only: a store's -wal and -shm go with it, never without its check.
    name = re.compile(re.escape(path.name) + r"\.([0-9]+)\.making")
    found = (name.fullmatch(file.name) for file in path.parent.iterdir())
    pids = {int(match[1]) for match in found if match is not None}
    for pid in sorted(pids - {os.getpid()}):  # this process's own is `making`
        if not _gone(pid):
            continue
        try:
            remove_store(_making(path, pid))
        except (DomainError, OSError) as error:
            say(f"a killed demo's unfinished plant stays: {error}")


def _making(path: Path, pid: int) -> Path:
    """Where the demo run of process `pid` makes its plant, beside `path`."""
    return path.with_name(f"{path.name}.{pid}.making")


def _gone(pid: int) -> bool:
    """Whether no process has the id `pid`; False when unsure (another user's, no such id)."""
    try:
        os.kill(pid, 0)  # no signal: only asks whether the process is there
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        pass  # another user's, or no id a process could have: not known to be gone
    return False


def _discard_demo(making: Path, path: Path) -> None:
    """Remove the unfinished store a failed demo run made beside `path`, and say so."""
    if not any(file.exists() for file in store_files(making)):
        return  # never made (a folder it may not write in, say, or `path` busy): nothing changed
    try:
        remove_store(making)
    except DomainError as error:
        say(f"the demo plant was not finished, and stays: {error.message}")
    else:
        say(f"the demo plant was not finished: {path} is as it was")


def _make_demo_plant(args: argparse.Namespace, settings: Settings, making: Path) -> list[str]:
    """Make the demo plant in the store file `making`; return what to say about it."""
    services = Services.from_settings(
        settings.model_copy(update={"store": f"sqlite:///{making}"}), command_line_sender()
    )
    try:  # closed on failure too, so that the unfinished store can be removed
        services.marking.define_scheme(SchemeSpec(**KIT_MARKS))
        plant = DemoPlant(size=args.size, seed=args.seed)
        events = 0
        for batch in plant.batches(1000):
            events += services.ingest.ingest(batch).created
        counts = services.store.counts()
        schemes = seed_demo_lot_schemes(services.store)
        accounts = seed_demo_accounts(services.auth)
    finally:
        services.close()
    lines = [
        f"demo plant: {events} events, {plant.items} items, {counts['edges']} edges",
        f"store: {args.store}",
        f"the command line on this plant: export TRACEGRAPH_STORE={args.store}",
        "demo accounts (username / password: role):",
    ]
    for account in accounts:
        scope = account.company or account.site or ""
        lines.append(
            f"  {account.username} / {account.password}: {account.role.value} {scope}".rstrip()
        )
    lines.append(f"lot code schemes: {', '.join(schemes)}")
    lines.append("try (logged in as ana):")
    lines.extend(f"  {example}" for example in demo_examples(settings.host, settings.port))
    return lines


def _demo_file(name: str) -> Path:
    if not name:
        raise BadRequest("--file: name the demo's store file")
    path = Path(name).resolve()
    if path.is_dir():
        raise BadRequest(f"--file {path} is a folder: name the demo's store file")
    check_file_folder(path, "--file")
    return path


def _ingest(args: argparse.Namespace) -> int:
    text = read_text(args.file)
    services = _services(args)
    try:
        report = services.ingest.ingest(read_body(text))
    finally:
        services.close()
    print(f"{report.created} created, {report.duplicates} duplicates")
    return 0


def _trace(args: argparse.Namespace) -> int:
    if args.supplier is not None and args.supplier_lot is None:
        raise BadRequest("--supplier needs --supplier-lot")
    if args.supplier_lot is not None and args.supplier is None:
        raise BadRequest("--supplier-lot needs --supplier")
    if args.max_depth is not None and args.max_depth < 0:
        raise BadRequest(f"{DEPTH_OPTION} must be 0 or more")
    as_of = None if args.as_of is None else read_time_option("--as-of", args.as_of)
    if args.lot is not None:
        root = gid("lot", args.lot)
    elif args.serial is not None:
        root = gid("serial", args.serial)
    elif args.supplier is not None:
        root = supplier_lot_gid(args.supplier, args.supplier_lot)
    else:
        root = args.id
    # As much as REST lists of one trace: a longer one is refused whole, before any is printed.
    limit = api.access.MAX_TRACE_LISTED
    services = _services(args)
    try:
        trace = services.traces.trace(root, args.direction, max_depth=args.max_depth, as_of=as_of)
        if args.federated:
            federated = services.federation.federate_here(
                trace,
                max_depth=args.max_depth,
                max_listed=ListLimit(limit, depth=DEPTH_OPTION),
            )
            print(
                json.dumps(federated.to_dict(), indent=2)
                if args.json
                else federated_tree(federated)
            )
            return 0
    finally:
        services.close()
    trace = within_limit(trace, limit, depth=DEPTH_OPTION)
    print(json.dumps(trace.to_dict(), indent=2) if args.json else trace_tree(trace))
    return 0


def _schema(args: argparse.Namespace) -> int:
    if args.which == "graphql":
        from api.graphql.schema import schema as graphql_schema

        print(graphql_schema.as_str())
        return 0
    schema = TypeAdapter(Event).json_schema(by_alias=True)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://tracegraph.dev/schemas/events-v1.json",
        "title": "tracegraph event (contract v1)",
        **schema,
    }
    print(json.dumps(schema, indent=2, sort_keys=True))
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    services = _services(args)
    try:
        replayed = services.ingest.rebuild()
        counts = ", ".join(f"{kind} {n:,}" for kind, n in services.store.counts().items())
        print(f"rebuilt the graph from {replayed:,} live events: {counts}")
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
