"""The account commands of the CLI: init, users, keys, companies, and the audit trail.

They act on the store directly, as the operator of the server does; no login is needed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime

from api.auth.models import Role, UserInfo
from api.auth.rows import ADMIN_EXISTS
from api.auth.service import AuthService, check_trail_page
from api.cli_input import read_line, whole_number
from api.deps import Services
from graph.clock import utc_text
from graph.errors import BadRequest, Conflict

Opener = Callable[[argparse.Namespace], Services]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], opener: Opener) -> None:
    """Add `init`, `users`, `keys`, `companies` and `audit` to the command line."""

    def command(
        parser: argparse.ArgumentParser, work: Callable[[Services, argparse.Namespace], int]
    ) -> None:
        store_command(parser, opener, work)

    init = commands.add_parser("init", help="create the first admin (password from stdin)")
    init.add_argument("username")
    init.add_argument("--password-stdin", action="store_true", required=True)
    init.add_argument("--store", help="sqlite:///path.db or neo4j://host:7687 (TRACEGRAPH_STORE)")
    # A new installation's first command, so it may make the store.
    init.set_defaults(func=lambda args: _init(args, opener), makes_store=True)

    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="action", required=True
    )
    add = users.add_parser("add", help="add a user (password from stdin)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--company", help="the company a supplier or customer user acts for")
    add.add_argument(
        "--site", help="the site an operator works at (none: every site, for a one-site plant)"
    )
    add.add_argument("--password-stdin", action="store_true", required=True)
    _permanent_flag(add)
    command(add, _users_add)
    listing = users.add_parser("list", help="list users")
    listing.add_argument("--json", action="store_true")
    command(listing, _users_list)
    password = users.add_parser(
        "password", help="set a user's password (from stdin); the user's sessions end"
    )
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true", required=True)
    _permanent_flag(password)
    command(password, _users_password)
    for verb in ("disable", "enable"):
        toggle = users.add_parser(verb, help=f"{verb} a user")
        toggle.add_argument("username")
        command(toggle, _users_disable if verb == "disable" else _users_enable)

    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    create = keys.add_parser("create", help="create an API key (printed once)")
    create.add_argument("--user", required=True)
    create.add_argument("--label", default="")
    command(create, _keys_create)
    revoke = keys.add_parser("revoke", help="revoke an API key")
    revoke.add_argument("key_id")
    command(revoke, _keys_revoke)
    keys_list = keys.add_parser("list", help="list API keys (never their secrets)")
    keys_list.add_argument("--user")
    command(keys_list, _keys_list)

    companies = commands.add_parser("companies", help="manage partner companies").add_subparsers(
        dest="action", required=True
    )
    put = companies.add_parser("add", help="register a supplier or customer (or update it)")
    put.add_argument("company")
    put.add_argument("--kind", required=True, choices=["supplier", "customer"])
    put.add_argument("--name", default="")
    put.add_argument("--share-lot-ids", action="store_true", help="let a supplier see lot ids")
    put.add_argument(
        "--share-statuses",
        action="store_true",
        help="let a supplier see the statuses of what their lots became",
    )
    put.add_argument(
        "--share-upstream",
        action="store_true",
        help="let a customer's instance trace upstream from what we shipped it (federation)",
    )
    put.add_argument(
        "--share-steps", action="store_true", help="include process steps in those traces"
    )
    put.add_argument(
        "--reshare", action="store_true", help="continue those traces into our own partners"
    )
    command(put, _companies_add)
    command(companies.add_parser("list", help="list partner companies"), _companies_list)

    audit = commands.add_parser(
        "audit", help="show the account audit trail (who changed which account, logins)"
    )
    audit.add_argument("--subject", help="only the entries about this user, key id or company")
    audit.add_argument("--after", type=whole_number, default=0, help="start after this position")
    audit.add_argument("--limit", type=whole_number, default=100, help="at most this many entries")
    audit.add_argument("--json", action="store_true")
    command(audit, _audit)


def store_command(
    parser: argparse.ArgumentParser,
    opener: Opener,
    work: Callable[[Services, argparse.Namespace], int],
) -> None:
    """Make `parser` run `work` on the services of the store it names, closing them after."""
    parser.add_argument("--store", help="sqlite:///path.db or neo4j://host:7687 (TRACEGRAPH_STORE)")

    def run(args: argparse.Namespace) -> int:
        services = opener(args)
        try:
            return work(services, args)
        finally:
            services.close()

    parser.set_defaults(func=run)


def _permanent_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--permanent",
        action="store_true",
        help="the user may log in with this password (default: they must first set their own)",
    )


def _password() -> str:
    password = read_line()
    if not password:
        raise BadRequest("no password on standard input")
    return password


def _init(args: argparse.Namespace, opener: Opener) -> int:
    # Checked before the store is opened, which makes it: a refused init leaves no empty
    # store behind for later commands to take as one.
    password = _password()
    AuthService.check_new_user(args.username, password)
    services = opener(args)
    try:
        if services.auth.has_admin():  # checked again as it is added
            raise Conflict(ADMIN_EXISTS)
        services.auth.add_first_admin(args.username, password)
    finally:
        services.close()
    print(f"admin {args.username!r} created")
    return 0


def _users_add(services: Services, args: argparse.Namespace) -> int:
    user = services.auth.add_user(
        args.username,
        _password(),
        args.role,
        args.company,
        args.site,
        must_change=not args.permanent,
    )
    print(f"user {user.username!r} added as {user.role.value}{_first_login(services, user)}")
    return 0


def _users_list(services: Services, args: argparse.Namespace) -> int:
    users = services.auth.users()
    if args.json:
        print(json.dumps([asdict(u) for u in users], indent=2))
        return 0
    for u in users:
        state = "disabled" if u.disabled else "active"
        if services.auth.temporary_password_lapsed(u) is not None:
            state += ", the admin's password lapsed unused: set a new one"
        elif u.must_change_password:
            state += ", must set a password" + _by(services.auth.temporary_password_ends(u))
        scope = _shown(u.company or u.site or "")
        print(f"{u.username:<20} {u.role.value:<9} {scope:<20} {state}")
    return 0


def _users_password(services: Services, args: argparse.Namespace) -> int:
    services.auth.reset_password(args.username, _password(), must_change=not args.permanent)
    ended = f"password of {args.username!r} set; its sessions have ended"
    user = services.accounts.user(args.username)
    assert user is not None  # reset_password raised NotFound otherwise
    print(ended + _first_login(services, user.info))
    return 0


def _first_login(services: Services, user: UserInfo) -> str:
    if not user.must_change_password:
        return ""
    by = _by(services.auth.temporary_password_ends(user))
    return f"; {user.username!r} sets a password of their own{by} before logging in"


def _by(moment: datetime | None) -> str:
    return "" if moment is None else f" by {utc_text(moment)}"


def _users_disable(services: Services, args: argparse.Namespace) -> int:
    services.auth.set_disabled(args.username, True)
    print(f"user {args.username!r} disabled")
    return 0


def _users_enable(services: Services, args: argparse.Namespace) -> int:
    services.auth.set_disabled(args.username, False)
    print(f"user {args.username!r} enabled")
    return 0


def _keys_create(services: Services, args: argparse.Namespace) -> int:
    issued = services.auth.create_key(args.user, args.label)
    print(f"key id {issued.info.key_id} for {issued.info.username}; the key (shown once):")
    print(issued.key)
    return 0


def _keys_revoke(services: Services, args: argparse.Namespace) -> int:
    services.auth.revoke_key(args.key_id)
    print(f"key {args.key_id} revoked")
    return 0


def _keys_list(services: Services, args: argparse.Namespace) -> int:
    for key in services.auth.keys(args.user):
        state = f"revoked {key.revoked_at}" if key.revoked_at else "live"
        print(f"{key.key_id}  {key.username:<20} {_shown(key.label):<20} {state}")
    return 0


def _companies_add(services: Services, args: argparse.Namespace) -> int:
    company = services.auth.put_company(
        args.company,
        args.name,
        args.kind,
        args.share_lot_ids,
        share_statuses=args.share_statuses,
        share_upstream=args.share_upstream,
        share_steps=args.share_steps,
        reshare=args.reshare,
    )
    print(f"{company.kind} {company.company!r} registered")
    return 0


def _companies_list(services: Services, _: argparse.Namespace) -> int:
    for c in services.auth.companies():
        shared = [
            what
            for what, on in (
                ("lot ids", c.share_lot_ids),
                ("statuses", c.share_statuses),
                ("upstream traces", c.share_upstream),
                ("steps", c.share_steps),
            )
            if on
        ]
        note = f"  ({' and '.join(shared)} shared)" if shared else ""
        if c.reshare:
            note += "  (reshared)"
        print(f"{_shown(c.company):<20} {c.kind:<9} {_shown(c.name)}{note}")
    return 0


def _audit(services: Services, args: argparse.Namespace) -> int:
    check_trail_page(args.after, args.limit, after_name="--after", limit_name="--limit")
    events = services.auth.account_events(args.after, args.limit, args.subject)
    if args.json:
        print(json.dumps([asdict(e) for e in events], indent=2))
        return 0
    for e in events:
        detail = " ".join(
            f"{k}={_shown(str(v))}" for k, v in sorted(e.detail.items()) if v is not None
        )
        actor, subject = _shown(e.actor), _shown(e.subject)
        print(f"{e.seq:>7} {e.at} {actor:<20} {e.action:<22} {subject:<20} {detail}".rstrip())
    return 0


def _shown(text: str) -> str:
    """Text as a terminal may show it: a name typed at a failed login, a key's label or a
    company's name may hold anything, and a site or company id kept from before they were
    checked."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
