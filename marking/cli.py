"""The `tracegraph mark` sub-commands: issue, resolve, decide and schemes."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from api.cli_input import as_options, decimal_number, read_text, read_time_option, whole_number
from api.cli_output import EXIT_NOT_FOUND
from graph.errors import BadRequest
from ingest.json_text import JsonRefused
from ingest.models import ItemRef
from marking.models import DecisionInputs, ResolveQuery, SchemeUsage, made_backwards
from marking.service import MarkingService, scheme_specs


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `mark` command and its sub-commands."""
    mark = subparsers.add_parser("mark", help="secondary marks: issue, resolve, decide, schemes")
    commands = mark.add_subparsers(dest="mark_command", required=True, metavar="SUBCOMMAND")

    issue = commands.add_parser("issue", help="give an item the next code of its family's scheme")
    _store_option(issue)
    target = issue.add_mutually_exclusive_group(required=True)
    target.add_argument("--lot")
    target.add_argument("--serial")
    issue.add_argument("--actor", help="who strikes the mark")
    issue.add_argument("--json", action="store_true", help="print JSON")
    issue.set_defaults(func=_issue)

    resolve = commands.add_parser("resolve", help="find the item from what can still be read")
    _store_option(resolve)
    resolve.add_argument("--mark", help="the secondary mark as read, ? for an unreadable character")
    resolve.add_argument("--primary", help="the lot or serial number as read, ? for worn ones")
    resolve.add_argument("--part", help="the part, if known")
    resolve.add_argument("--cart", help="a cart the item was in")
    resolve.add_argument("--station", help="equipment that made or used the item")
    resolve.add_argument("--from", dest="made_from", help="made at or after (RFC 3339)")
    resolve.add_argument("--to", dest="made_to", help="made at or before (RFC 3339)")
    resolve.add_argument(
        "--limit", type=whole_number, default=10, help="candidates to show (default 10)"
    )
    resolve.add_argument("--json", action="store_true", help="print JSON")
    resolve.set_defaults(func=_resolve)

    decide = commands.add_parser("decide", help="does a secondary mark pay for a part family?")
    for flag, name, what in (
        ("--wear-rate", "wear_rate", "rate at which the primary mark wears unreadable (lambda)"),
        ("--failure-rate", "failure_rate", "rate of field failures (k)"),
        ("--life", "life", "design life L, in the time unit of the rates"),
        ("--claim", "claim", "claim per untraceable failure Q"),
        ("--count", "count", "parts made in the period N"),
        ("--setup-cost", "setup_cost", "set-up cost of the marking system M"),
        ("--running-cost", "running_cost", "running cost R"),
    ):
        decide.add_argument(flag, dest=name, type=decimal_number, required=True, help=what)
    decide.add_argument("--json", action="store_true", help="print JSON")
    decide.set_defaults(func=_decide)

    schemes = commands.add_parser("schemes", help="list code schemes, or define them from a file")
    _store_option(schemes)
    schemes.add_argument("--set", dest="set_file", help="JSON file: a scheme or a list of them")
    schemes.add_argument("--json", action="store_true", help="print JSON")
    schemes.set_defaults(func=_schemes)


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="sqlite:///path.db or neo4j://host:7687 (TRACEGRAPH_STORE)")


@contextmanager
def _service(args: argparse.Namespace) -> Iterator[MarkingService]:
    # Imported here: the API package's CLI imports this module to register it.
    from api.deps import Services, command_line_sender
    from api.settings import get_settings
    from graph.connect import require_store

    settings = get_settings()
    if args.store is not None:
        settings = settings.model_copy(update={"store": args.store})
    require_store(settings.store)
    services = Services.from_settings(settings, command_line_sender())
    try:
        yield MarkingService(services.store, services.ingest)
    finally:
        services.store.close()


def _print(body: dict[str, Any]) -> None:
    print(json.dumps(body, indent=2))


def _issue(args: argparse.Namespace) -> int:
    with as_options():
        target = ItemRef(lot=args.lot, serial=args.serial)
    with _service(args) as service:
        issued = service.issue_mark(target, actor=args.actor)
    if args.json:
        _print(issued.model_dump())
    else:
        again = "" if issued.created else " (already marked)"
        print(f"{issued.code}  {issued.target}  scheme {issued.scheme}{again}")
    return 0


def _time(text: str | None, option: str) -> datetime | None:
    return None if text is None else read_time_option(option, text)


def _resolve(args: argparse.Namespace) -> int:
    made_from = _time(args.made_from, "--from")
    made_to = _time(args.made_to, "--to")
    if made_backwards(made_from, made_to):  # ResolveQuery's rule, said of the options
        raise BadRequest("--from is after --to")
    # Each other option is its field with dashes; --from and --to are aware times already.
    with as_options():
        query = ResolveQuery(
            mark=args.mark,
            primary=args.primary,
            part=args.part,
            cart=args.cart,
            station=args.station,
            made_from=made_from,
            made_to=made_to,
            limit=args.limit,
        )
    with _service(args) as service:
        resolution = service.resolve(query)
    if args.json:
        _print(resolution.model_dump())
        return 0 if resolution.candidates else EXIT_NOT_FOUND  # the same answer either way
    if not resolution.candidates:
        print("no candidates")
        return EXIT_NOT_FOUND
    for c in resolution.candidates:
        mark = f" mark {c.mark}" if c.mark else ""
        print(f"{c.confidence:6.1%}  {c.id}  part {c.part}  {c.status or 'no status'}{mark}")
        print(f"        {c.location}; {c.reason}")
    if resolution.truncated:
        print("(more candidates: add context or read more characters)")
    return 0


def _decide(args: argparse.Namespace) -> int:
    with as_options():  # each option is its field with dashes
        inputs = DecisionInputs(
            wear_rate=args.wear_rate,
            failure_rate=args.failure_rate,
            life=args.life,
            claim=args.claim,
            count=args.count,
            setup_cost=args.setup_cost,
            running_cost=args.running_cost,
        )
    decision = MarkingService.decide_only(inputs)
    if args.json:
        _print(
            decision.model_dump(
                include={"phi", "expected_loss_avoided", "break_even_count", "mark"}
            )
        )
        return 0
    verdict = "mark" if decision.mark else "do not mark"
    even = "none" if decision.break_even_count is None else f"{decision.break_even_count:,.1f}"
    print(f"{verdict}: phi = {decision.phi:,.2f}")
    print(f"expected loss avoided Y = {decision.expected_loss_avoided:,.2f}")
    print(f"break-even count = {even}")
    return 0


def _schemes(args: argparse.Namespace) -> int:
    specs = []
    if args.set_file is not None:
        text = read_text(args.set_file)
        try:
            specs = scheme_specs(text)
        except JsonRefused as error:
            raise BadRequest(f"{args.set_file} is not JSON we read: {error.message}") from None
    with _service(args) as service:
        service.define_schemes(specs)
        usages = service.schemes()
    if args.json:
        _print({"schemes": [usage.model_dump() for usage in usages]})
    else:
        for usage in usages:
            print(_usage_line(usage))
    return 0


def _usage_line(usage: SchemeUsage) -> str:
    check = " + check" if usage.check else ""
    parts = ", ".join(usage.parts) or "no parts"
    share = usage.next_index / usage.capacity
    return (
        f"{usage.name}  {usage.kind}{check}  {usage.used:,} recorded, next index "
        f"{usage.next_index:,} of {usage.capacity:,} ({share:.1%} used)  [{parts}]"
    )
