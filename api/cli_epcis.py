"""`tracegraph epcis`: export a trace as EPCIS 2.0, import or check EPCIS documents."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.cli_input import read_text
from api.cli_output import say
from api.deps import Services
from graph.epcis import FULL_VIEW, dumps
from graph.epcis_export import EpcisExporter
from graph.epcis_schema import schema_problems
from graph.errors import BadRequest
from ingest.epcis_capture import capture
from ingest.epcis_import import EpcisReader, gtin_map, gtin_parts, serial_lots
from ingest.json_text import JsonRefused, strict_loads

Opener = Callable[[argparse.Namespace], Services]
EXIT_INVALID = 2


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], opener: Opener) -> None:
    """Add `epcis export|import|check`."""
    epcis = commands.add_parser("epcis", help="EPCIS 2.0 exchange").add_subparsers(
        dest="action", required=True
    )
    store_help = "sqlite:///path.db or neo4j://host:7687 (TRACEGRAPH_STORE)"

    export = epcis.add_parser("export", help="the events behind a trace, as EPCIS 2.0 JSON-LD")
    export.add_argument("id", help="the global id to trace from, e.g. lot:L-1")
    export.add_argument("--direction", choices=["up", "down"], default="down")
    export.add_argument(
        "--closure",
        action="store_true",
        help="add the events that made every input, and those that took from a lot before a "
        "step that took all of it that remained, so the document imports on its own",
    )
    export.add_argument("--out", help="write to this file instead of standard output")
    export.add_argument("--store", help=store_help)

    def run_export(args: argparse.Namespace) -> int:
        services = opener(args)
        try:
            trace = services.traces.trace(args.id, args.direction)
            document = EpcisExporter(services.store).trace_document(
                trace, FULL_VIEW, closure=args.closure
            )
        finally:
            services.close()
        _write(document, args.out)
        return 0

    export.set_defaults(func=run_export)

    imported = epcis.add_parser("import", help="capture an EPCIS 2.0 document (one batch)")
    imported.add_argument("file", help="an EPCISDocument or a single event ('-' for stdin)")
    imported.add_argument(
        "--gtins", help='a JSON file mapping GTINs to our parts: {"09506000134352": "SCREW"}'
    )
    imported.add_argument("--store", help=store_help)

    def run_import(args: argparse.Namespace) -> int:
        document = _load(args.file)
        gtins = gtin_map(_mapping(args.gtins)) if args.gtins else {}
        services = opener(args)
        try:
            store = services.store
            reader = EpcisReader(gtin_parts(store, gtins), serial_lots=serial_lots(store))
            report = capture(document, reader, services.ingest.ingest, services.store.logged)
        finally:
            services.close()
        print(f"{report.report.created} created, {report.report.duplicates} duplicates")
        for skipped in report.ignored:
            print(f"  ignored event {skipped.index}: {skipped.reason}")
        return 0

    imported.set_defaults(func=run_import)

    check = epcis.add_parser("check", help="check a document against the EPCIS 2.0 schema")
    check.add_argument("file")

    def run_check(args: argparse.Namespace) -> int:
        problems = schema_problems(_load(args.file))
        for problem in problems:
            where = f"event {problem.event_index}: " if problem.event_index is not None else ""
            say(f"{where}{problem}")
        if not problems:
            print("valid EPCIS 2.0")
        return EXIT_INVALID if problems else 0

    check.set_defaults(func=run_check)


def _load(path: str) -> Any:
    text = read_text(path)
    try:
        return strict_loads(text, exact_numbers=True)  # quantities to the last digit
    except JsonRefused as error:
        raise BadRequest(f"{path} is not JSON we read: {error.message}") from None


def _mapping(path: str) -> dict[str, str]:
    """Load a JSON file that maps strings to strings (as the capture body's "gtins")."""
    found = _load(path)
    if not isinstance(found, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in found.items()
    ):
        raise BadRequest(f"{path} must map strings to strings (GTIN to part)")
    return found


def _write(document: dict[str, Any], out: str | None) -> None:
    text = dumps(document, indent=True).decode() + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as error:
        raise BadRequest(f"cannot write {out}: {error.strerror}") from error
    print(f"wrote {len(document['epcisBody']['eventList'])} EPCIS events to {out}")
