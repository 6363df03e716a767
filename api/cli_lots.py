"""`tracegraph lot`: lot code schemes with linkage codes: register, list, decode, mint."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import date

from api.cli_input import as_options
from api.deps import Services
from graph.errors import BadRequest
from graph.lot_codes import (
    LotCodeService,
    LotSchemeSpec,
    decoding_dict,
    minted_dict,
    scheme_dict,
)
from ingest.models import read_day

Opener = Callable[[argparse.Namespace], Services]
Work = Callable[[LotCodeService, argparse.Namespace], int]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], opener: Opener) -> None:
    """Add `lot scheme|schemes|decode|mint`."""
    lot = commands.add_parser("lot", help="lot code schemes with linkage codes")
    actions = lot.add_subparsers(dest="action", required=True)

    scheme = actions.add_parser("scheme", help="register a company's lot code scheme")
    scheme.add_argument("--name", required=True)
    scheme.add_argument("--company", required=True, help="the company whose codes these are")
    scheme.add_argument(
        "--pattern", required=True, help="e.g. '{date:YYMMDD}{line:A2}{seq:N4}{link:X3}'"
    )
    scheme.add_argument("--link-field", required=True, help="the field at head or tail")
    scheme.add_argument("--link-code", required=True, help="the company's own link code")
    scheme.add_argument("--sequence-field", help="the digits field minting numbers (default seq)")
    scheme.add_argument("--description")
    schemes = actions.add_parser("schemes", help="list the registered schemes")
    decode = actions.add_parser("decode", help="read a lot code: parts, partner, candidate lots")
    decode.add_argument("code")
    mint = actions.add_parser("mint", help="mint our next lot code with a partner's link code")
    mint.add_argument("--scheme", required=True)
    mint.add_argument("--link", required=True, help="the partner company whose link code to embed")
    mint.add_argument("--date", type=_date, help="for the date field (default today in UTC)")
    mint.add_argument("--line", help="for a field named line")
    mint.add_argument(
        "--field", action="append", default=[], metavar="NAME=VALUE", help="any other field"
    )
    for parser, work in ((scheme, _scheme), (schemes, _schemes), (decode, _decode), (mint, _mint)):
        parser.add_argument(
            "--store", help="sqlite:///path.db or neo4j://host:7687 (TRACEGRAPH_STORE)"
        )
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.set_defaults(func=_opened(opener, work))


def _date(text: str) -> date:
    try:
        return read_day(text)
    except ValueError as error:
        why = str(error).partition("; ")[2]  # a day the calendar lacks says which number
        raise argparse.ArgumentTypeError(
            f"not a date YYYY-MM-DD: {text!r}" + (f": {why}" if why else "")
        ) from None


def _opened(opener: Opener, work: Work) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        services = opener(args)
        try:
            return work(LotCodeService(services.store), args)
        finally:
            services.close()

    return run


def _scheme(service: LotCodeService, args: argparse.Namespace) -> int:
    with as_options():  # each option is its field with dashes
        spec = LotSchemeSpec(
            name=args.name,
            company=args.company,
            pattern=args.pattern,
            link_field=args.link_field,
            link_code=args.link_code,
            sequence_field=args.sequence_field,
            description=args.description,
        )
    found = scheme_dict(service.define(spec))
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        print(
            f'scheme "{found["name"]}" of {found["company"]}: {found["length"]} characters, '
            f"link code {found['link_code']} at the {found['link_position']}"
        )
    return 0


def _schemes(service: LotCodeService, args: argparse.Namespace) -> int:
    found = [scheme_dict(s) for s in service.schemes()]
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for s in found:
        print(f"{s['name']:<16} {s['company']:<16} {s['link_code']:<6} {s['pattern']}")
    return 0


def _decode(service: LotCodeService, args: argparse.Namespace) -> int:
    found = decoding_dict(service.decode(args.code))
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found["matches"]:
        print(f"no registered scheme reads {args.code!r}")
    for match in found["matches"]:
        print(f'{args.code}: scheme "{match["scheme"]}" of {match["company"]}')
        for name, value in match["fields"].items():
            print(f"  {name:<12} {value}")
        partner = match["partner"] or "no registered company"
        print(f"  link code {match['link_code']} ({match['link_position']}) -> {partner}")
        for c in match["candidates"]:
            sure = "confirmed" if c["confirmed"] else "candidate"
            print(f"    {sure:<9} {c['supplier_lot']} received {c['received_at'] or '?'}")
        if match["truncated"]:
            print(f"    (the {len(match['candidates'])} surest; more lots may be it)")
    for scheme, why in found["misses"].items():
        print(f'  not scheme "{scheme}": {why}')
    return 0


def _mint(service: LotCodeService, args: argparse.Namespace) -> int:
    values: dict[str, str | date] = {}

    def put(name: str, value: str | date) -> None:
        # Which of two values the caller meant is not ours to guess.
        if name in values:
            raise BadRequest(f'field "{name}" is given twice (--field, --line or --date)')
        values[name] = value

    for entry in args.field:
        name, sep, value = entry.partition("=")
        if not sep or not name:
            raise BadRequest(f"--field takes NAME=VALUE, got {entry!r}")
        put(name, value)
    if args.line is not None:
        put("line", args.line)
    if args.date is not None:
        scheme = service.scheme(args.scheme)
        dates = [n for n, s in scheme.pattern.fields.items() if s.kind == "date"]
        if not dates:
            raise BadRequest(f'scheme "{args.scheme}" has no date field for --date')
        put(dates[0], args.date)
    found = minted_dict(service.mint(args.scheme, args.link, values))
    print(json.dumps(found, indent=2) if args.json else found["code"])
    return 0
