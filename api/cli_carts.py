"""`tracegraph cart`: what a cart holds, the carts a lot rode in, and cart load sizing."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from pydantic import ValidationError

from api.cli_input import read_text, read_time_option
from api.deps import Services
from api.validation_text import problem_text
from graph.carts import CartService
from graph.clock import utc_text
from graph.errors import BadRequest
from graph.ids import gid
from graph.store import CartStay, plain
from ingest.json_text import JsonRefused, strict_loads
from scheduler.carts import CartSizingInput, size_carts
from scheduler.models import said

Opener = Callable[[argparse.Namespace], Services]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], opener: Opener) -> None:
    """Add `cart contents|history|size`."""
    cart = commands.add_parser("cart", help="carts that travel with material").add_subparsers(
        dest="action", required=True
    )

    def reading(parser: argparse.ArgumentParser, work: Callable[..., int]) -> None:
        parser.add_argument(
            "--store", help="sqlite:///path.db or neo4j://host:7687 (TRACEGRAPH_STORE)"
        )
        parser.add_argument("--json", action="store_true", help="print JSON")

        def run(args: argparse.Namespace) -> int:
            services = opener(args)
            try:
                return work(CartService(services.store), args)
            finally:
                services.close()

        parser.set_defaults(func=run)

    contents = cart.add_parser("contents", help="what a cart holds now, or at a time")
    contents.add_argument("cart", help="the cart's id, e.g. CART-1-2")
    contents.add_argument("--at", help="a time, RFC 3339 with offset (default: now)")
    reading(contents, _contents)
    history = cart.add_parser("history", help="every cart a lot rode in")
    history.add_argument("--lot", required=True, help="the lot's id")
    reading(history, _history)
    size = cart.add_parser("size", help="choose parts per cart (JSON problem, '-' for stdin)")
    size.add_argument("file", help="the sizing problem as JSON (see docs/carts.md)")
    size.add_argument("--json", action="store_true", help="print JSON")
    size.set_defaults(func=_size)


def _stay_dict(stay: CartStay) -> dict[str, str | None]:
    return {
        "lot": stay.lot,
        "cart": stay.cart,
        "compartment": stay.compartment,
        "qty": None if stay.qty is None else plain(stay.qty),
        "loaded_at": stay.at,
        "unloaded_at": stay.until,
        "loaded_by": stay.event,
        "unloaded_by": stay.closed_by,
    }


def _contents(carts: CartService, args: argparse.Namespace) -> int:
    at = None
    if args.at is not None:
        at = utc_text(read_time_option("--at", args.at))
    found = carts.contents(gid("cart", args.cart), at)
    if args.json:
        body = {
            "cart": found.cart.id,
            "label": found.cart.label,
            "group": found.cart.group,
            "seq": found.cart.seq,
            "compartments": found.cart.compartments,
            "capacity": None if found.cart.capacity is None else plain(found.cart.capacity),
            "at": at,
            "held": None if found.held is None else plain(found.held),
            "held_by_unit": [{"qty": plain(a.qty), "unit": a.unit} for a in found.held_by_unit],
            "stays": [_stay_dict(s) for s in found.stays],
        }
        print(json.dumps(body, indent=2))
        return 0
    when = f"at {at}" if at is not None else "now"
    held = " and ".join(f"{plain(a.qty)} {a.unit}" for a in found.held_by_unit) or "nothing"
    print(f"cart {found.cart.label} {when}: {len(found.stays)} lot(s), {held}")
    for stay in found.stays:
        where = f" [{stay.compartment}]" if stay.compartment is not None else ""
        print(f"  {stay.lot.partition(':')[2]}{where}  since {stay.at}")
    return 0


def _history(carts: CartService, args: argparse.Namespace) -> int:
    stays = carts.history(gid("lot", args.lot))
    if args.json:
        print(json.dumps([_stay_dict(s) for s in stays], indent=2))
        return 0
    if not stays:
        print(f"lot {args.lot} rode in no cart")
    for stay in stays:
        where = f" [{stay.compartment}]" if stay.compartment is not None else ""
        until = stay.until or "now"
        print(f"  {stay.cart.partition(':')[2]}{where}  {stay.at} .. {until}")
    return 0


def _size(args: argparse.Namespace) -> int:
    source = "standard input" if args.file == "-" else args.file
    try:  # read as GraphQL's sizeCarts reads its request, so both answer alike
        data = strict_loads(read_text(args.file))
    except JsonRefused as error:
        raise BadRequest(f"{source} is not JSON we read: {error.message}") from None
    try:
        problem = CartSizingInput.model_validate(data)
    except ValidationError as error:
        first = said(error.errors(include_url=False)[0])  # "expected an integer, got true"
        raise BadRequest(f"{source}: {problem_text(first)}") from error
    found = size_carts(problem)
    if args.json:
        print(found.model_dump_json(indent=2))
    else:
        print(f"cart sizing: {found.status}")
        for batch in found.batches:
            print(f"  {batch.batch}: {batch.load} per cart, {batch.carts} cart(s)")
        for machine in found.machines:
            print(
                f"  {machine.machine}: work {machine.work_hours:g} h + set-ups "
                f"{machine.setup_hours:g} h = {machine.load_hours:g} h "
                f"({_share(machine.utilisation)} of the day, {machine.slack_hours:g} h to spare)"
            )
        for binding in found.binding:
            print(f"  binding: {binding.message}")
        if found.reason is not None:
            print(f"  {found.reason}")
    return 0 if found.status in ("optimal", "feasible") else 1


def _share(value: float | None) -> str:
    return "no day to fill" if value is None else f"{value:.0%}"
