"""The partner commands of the CLI: register, list and remove partner tracegraph instances.

The key this instance holds at a partner is read from standard input, so it stays out of shell
history and process listings; listings show it masked.
"""

from __future__ import annotations

import argparse
import json

from api.cli_accounts import Opener, store_command
from api.cli_input import decimal_number, read_line, whole_number
from api.deps import Services
from api.federation.routes import partner_dict
from api.federation.service import check_partner_times
from graph.errors import BadRequest


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], opener: Opener) -> None:
    """Add `partners add|list|remove` to the command line."""

    partners = commands.add_parser(
        "partners", help="manage partner tracegraph instances (federation)"
    ).add_subparsers(dest="action", required=True)
    add = partners.add_parser(
        "add", help="register a partner instance (or update it); its key is read from stdin"
    )
    add.add_argument("company", help="the partner's company id, registered with `companies add`")
    add.add_argument("--url", required=True, help="the partner's base URL, e.g. https://host:8000")
    add.add_argument(
        "--key-stdin",
        action="store_true",
        required=True,
        help="read the API key this instance was given there from standard input",
    )
    add.add_argument(
        "--timeout", type=decimal_number, default=5.0, help="seconds to wait for an answer"
    )
    add.add_argument(
        "--ttl", type=whole_number, default=300, help="seconds a cached answer is used"
    )
    store_command(add, opener, _add)
    listing = partners.add_parser("list", help="list partner instances (keys masked)")
    listing.add_argument("--json", action="store_true")
    store_command(listing, opener, _list)
    remove = partners.add_parser("remove", help="forget a partner and its cached answers")
    remove.add_argument("company")
    store_command(remove, opener, _remove)


def _add(services: Services, args: argparse.Namespace) -> int:
    check_partner_times(args.timeout, args.ttl, timeout_name="--timeout", ttl_name="--ttl")
    key = read_line()
    if not key:
        raise BadRequest("no API key on standard input")
    partner = services.federation.put_partner(
        args.company, args.url, key, timeout_s=args.timeout, cache_ttl_s=args.ttl, url_name="--url"
    )
    print(f"partner {partner.company!r} at {partner.base_url} registered")
    return 0


def _list(services: Services, args: argparse.Namespace) -> int:
    partners = services.federation.partners()
    if args.json:
        print(json.dumps([partner_dict(p) for p in partners], indent=2))
        return 0
    for p in partners:
        print(
            f"{p.company:<20} {p.base_url:<40} key {p.masked_key}  "
            f"timeout {p.timeout_s:g}s  ttl {p.cache_ttl_s}s"
        )
    return 0


def _remove(services: Services, args: argparse.Namespace) -> int:
    services.federation.remove_partner(args.company)
    print(f"partner {args.company!r} removed")
    return 0
