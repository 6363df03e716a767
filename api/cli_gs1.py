"""`tracegraph gs1`: parse a scanned GS1 code and resolve it; print the UDI of a lot or serial."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from api.cli_output import EXIT_NOT_FOUND, say
from api.deps import Services
from api.render import shown
from graph.errors import NotFound
from graph.ids import gid
from graph.udi import IdentifierService, resolved_dict, udi_answer
from ingest.gs1 import AIS, GS

Opener = Callable[[argparse.Namespace], Services]
# In place of a bracketed form that would read as another identifier (see gs1.Gs1Data.readable).
UNREADABLE = "- (would read as another code: use the element string or the Digital Link)"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], opener: Opener) -> None:
    """Add `gs1 parse|udi`."""
    gs1 = commands.add_parser("gs1", help="GS1 identifiers: barcodes, Digital Link, UDI")
    actions = gs1.add_subparsers(dest="action", required=True)

    parse = actions.add_parser("parse", help="parse a scanned code and find what it names")
    parse.add_argument("code", help="a Digital Link URI, an element string or a GTIN")
    udi = actions.add_parser("udi", help="print the UDI of a lot or serial")
    which = udi.add_mutually_exclusive_group(required=True)
    which.add_argument("--lot")
    which.add_argument("--serial")
    for parser, work in ((parse, _parse), (udi, _udi)):
        parser.add_argument(
            "--store", help="sqlite:///path.db or neo4j://host:7687 (TRACEGRAPH_STORE)"
        )
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.set_defaults(func=_opened(opener, work))


def _opened(
    opener: Opener, work: Callable[[IdentifierService, argparse.Namespace], int]
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        services = opener(args)
        try:
            return work(services.identifiers, args)
        finally:
            services.close()

    return run


def _parse(service: IdentifierService, args: argparse.Namespace) -> int:
    found = resolved_dict(service.resolve(args.code))
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for ai, value in found["elements"].items():
        print(f"({ai}) {AIS[ai].title:<17} {value}")
    print(f"element string    {found['element_string'].replace(GS, '<GS>')}")
    print(f"human readable    {found['human_readable'] or UNREADABLE}")
    if found["digital_link"] is not None:
        print(f"digital link      {found['digital_link']}")
    for name, node in found["nodes"].items():
        print(f"{name:<17} {_describe(node)}")
    for note in found["notes"]:
        print(f"note: {shown(note)}")
    return 0


def _describe(node: dict[str, Any] | None) -> str:
    if node is None:
        return "-"
    extra = [f"{k}={node[k]}" for k in ("gtin", "description", "status", "expiry") if k in node]
    # A part's description is anyone's text who defined it: `shown`, never raw.
    return shown(" ".join([node["id"], *extra]))


def _udi(service: IdentifierService, args: argparse.Namespace) -> int:
    item = gid("lot", args.lot) if args.lot is not None else gid("serial", args.serial)
    view = service.store.node(item)
    if view is None:
        raise NotFound(f"{item} does not exist")
    found = service.udis_or_reasons([view])[view.gid]
    if isinstance(found, str):
        if args.json:  # REST's answer, whose null says no more: why is said beside it
            print(json.dumps(udi_answer(item, None), indent=2))
            say(f"error: {item} has no UDI: {found}")
            return EXIT_NOT_FOUND
        raise NotFound(f"{item} has no UDI: {found}")
    if args.json:
        print(json.dumps(udi_answer(item, found), indent=2))
        return 0
    print(f"UDI-DI            {found.di}")
    print(f"UDI-PI            {found.pi or UNREADABLE}")
    print(f"element string    {found.element_string.replace(GS, '<GS>')}")
    print(f"human readable    {found.human_readable or UNREADABLE}")
    print(f"digital link      {found.digital_link}")
    return 0
