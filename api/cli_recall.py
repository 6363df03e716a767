"""`tracegraph recall`: run a recall case from the command line, as the server's operator."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from api.cli_accounts import Opener, store_command
from api.cli_input import as_options, read_time_option
from api.deps import Services
from api.recall import RecallService
from api.render import shown, shown_lines
from api.supplier_portal import SupplierPortal
from graph import epcis
from graph.clock import now_text, utc_text
from graph.errors import BadRequest
from graph.recall import scope_csv

FORMATS = ("csv", "json", "epcis", "html")
# The fields of a case's events the commands are given as options, spelt as typed: a refusal
# of one names the option (a supplier lot's supplier and key are both of --supplier-lot).
OPTIONS = {field: f"--{field}" for field in ("title", "reason", "actor", "message", "question")}
OPTIONS |= {"supplier": "--supplier-lot", "supplier_lot": "--supplier-lot"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], opener: Opener) -> None:
    """Add `recall open|show|hold|notify|close|export|request-supplier|answers`."""
    recall = commands.add_parser("recall", help="run recall cases").add_subparsers(
        dest="action", required=True
    )

    def command(
        parser: argparse.ArgumentParser,
        work: Callable[[RecallService, argparse.Namespace], int],
        *,
        records: bool = True,
        opens: bool = False,
    ) -> None:
        def run(services: Services, args: argparse.Namespace) -> int:
            recalls = _recalls(services)
            if not opens:  # the id `open` and `show` print (case:RC-1), or the key: the key
                args.case = recalls.case_key(args.case)
            return work(recalls, args)

        _command(parser, opener, run, records=records)

    def portal_command(
        parser: argparse.ArgumentParser,
        work: Callable[[SupplierPortal, argparse.Namespace], int],
        *,
        records: bool = True,
    ) -> None:
        def build(services: Services, args: argparse.Namespace) -> int:
            recalls = _recalls(services)
            args.case = recalls.case_key(args.case)
            return work(SupplierPortal(services.store, services.ingest, recalls), args)

        _command(parser, opener, build, records=records)

    opened = recall.add_parser("open", help="open a case from suspects")
    opened.add_argument("case")
    opened.add_argument("--title", required=True)
    opened.add_argument("--reason", required=True)
    opened.add_argument(
        "--suspect", action="append", default=[], help="a node id, e.g. supplier_lot:ACME/A-77"
    )
    opened.add_argument(
        "--window",
        nargs=3,
        action="append",
        default=[],
        metavar=("EQUIPMENT", "FROM", "TO"),
        help="an equipment and a time window (RFC 3339 with offset)",
    )
    command(opened, _open, opens=True)
    for verb, helptext in (("hold", "quarantine the in-plant scope"), ("close", "close the case")):
        sub = recall.add_parser(verb, help=helptext)
        sub.add_argument("case")
        sub.add_argument("--reason", required=True)
        command(sub, _hold if verb == "hold" else _close)
    notify = recall.add_parser("notify", help="send a notice to each customer in scope")
    notify.add_argument("case")
    notify.add_argument("--message", required=True)
    command(notify, _notify)
    show = recall.add_parser("show", help="the case, its scope counts, notices and reconciliation")
    show.add_argument("case")
    command(show, _show, records=False)
    export = recall.add_parser("export", help="export the scope")
    export.add_argument("case")
    export.add_argument("--format", choices=FORMATS, default="csv")
    export.add_argument("--out", type=Path, help="write here instead of standard output")
    portal_command(export, _export, records=False)
    ask = recall.add_parser(
        "request-supplier", help="ask a supplier about one of their lots in a case"
    )
    ask.add_argument("case")
    ask.add_argument("--supplier-lot", required=True, help="e.g. supplier_lot:ACME/A-77")
    ask.add_argument("--question", required=True)
    ask.add_argument("--due-by", required=True, help="a time with offset (RFC 3339)")
    portal_command(ask, _request_supplier)
    answers = recall.add_parser("answers", help="what suppliers were asked and answered")
    answers.add_argument("case")
    answers.add_argument("--json", action="store_true", help="print JSON")
    portal_command(answers, _answers, records=False)


def _command(
    parser: argparse.ArgumentParser,
    opener: Opener,
    work: Callable[[Services, argparse.Namespace], int],
    *,
    records: bool,
) -> None:
    """Give a recall command its store and actor options and run it on opened services."""
    # Taken by the commands that only read too, so that one script passes it to all, but said.
    said = "recorded in the case history" if records else "not recorded: this command only reads"
    parser.add_argument("--actor", default="cli", help=f"who is acting ({said})")

    def acting(services: Services, args: argparse.Namespace) -> int:
        with as_options(OPTIONS):  # the events the command made, not a batch sent
            return work(services, args)

    store_command(parser, opener, acting)


def _recalls(services: Services) -> RecallService:
    return RecallService(services.store, services.ingest)


def _suspects(args: argparse.Namespace) -> list[dict[str, str]]:
    rows = [{"id": s} for s in args.suspect]
    for equipment, start, end in args.window:
        option = f"--window {equipment}"  # and which of its two times, FROM or TO
        window = (read_time_option(f"{option} FROM", start), read_time_option(f"{option} TO", end))
        rows.append(
            {"id": f"equipment:{equipment}", "from": utc_text(window[0]), "to": utc_text(window[1])}
        )
    if not rows:
        raise BadRequest("give at least one --suspect or --window")
    return rows


def _open(recalls: RecallService, args: argparse.Namespace) -> int:
    case = recalls.open(args.case, args.title, args.reason, _suspects(args), args.actor)
    scope = recalls.scope(args.case)
    print(f"opened {case.id}: {len(scope.items)} items in scope, {len(scope.customers)} customers")
    return 0


def _hold(recalls: RecallService, args: argparse.Namespace) -> int:
    print(f"quarantined {recalls.hold(args.case, args.reason, args.actor)} in-plant items")
    return 0


def _notify(recalls: RecallService, args: argparse.Namespace) -> int:
    for notice in recalls.notify(args.case, args.message, args.actor):
        print(f"{shown(notice.id)}  {shown(notice.customer)}  {notice.state}")
    return 0


def _close(recalls: RecallService, args: argparse.Namespace) -> int:
    recalls.close(args.case, args.reason, args.actor)
    print(f"closed case:{args.case}")
    return 0


def _show(recalls: RecallService, args: argparse.Namespace) -> int:
    case = recalls.case(args.case)
    scope = recalls.scope(args.case)
    rec = recalls.reconciliation(args.case)
    # The title is anyone's text, and ids logged before ids had to be printable stay as they
    # were: all reach the terminal `shown`, never raw.
    print(f"{shown(case.id)}  {shown(case.title)}  [{case.state}]")
    print(f"  suspects: {shown(', '.join(s['id'] for s in case.suspects))}")
    certain = sum(1 for i in scope.items if i.certain)
    customers = shown(", ".join(scope.customers)) or "none"
    print(
        f"  scope: {len(scope.items)} items ({certain} certain, "
        f"{len(scope.items) - certain} may contain), "
        f"{len(scope.shipments)} shipments, customers: {customers}"
    )
    for notice in recalls.notices(args.case):
        answer = (
            f"found {notice.found_qty}, returned {notice.returned_qty}"
            if notice.found_qty is not None
            else "no answer yet"
        )
        print(f"  notice {shown(notice.customer)}: {notice.state}, {answer}")
    if not rec.units:
        print(f"  reconciliation: nothing expected ({rec.percent:.1f} %)")
    for unit in rec.units:  # per unit: kilograms and pieces are never added up
        if unit.unit is None:
            print(
                f"  answers in no one unit (customers shipped several): found "
                f"{unit.found_by_customers}, returned {unit.returned_by_customers}"
            )
            continue
        print(
            f"  reconciliation: {unit.accounted} of {unit.expected} {unit.unit} accounted for "
            f"({unit.percent:.1f} %)"
        )
    return 0


def _export(portal: SupplierPortal, args: argparse.Namespace) -> int:
    text = render_export(portal, args.case, args.format)
    if args.out is None:
        sys.stdout.write(text)
    else:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as error:
            raise BadRequest(f"cannot write {args.out}: {error.strerror}") from error
        print(f"wrote {args.out}")
    return 0


def render_export(portal: SupplierPortal, case_id: str, kind: str) -> str:
    """Render a case in one of the export formats."""
    recalls = portal.recalls
    if kind == "csv":
        return scope_csv(recalls.scope(case_id))
    if kind == "epcis":
        return epcis.dumps(recalls.epcis(case_id), indent=True).decode() + "\n"
    if kind == "html":
        return recalls.report_html(case_id, portal.requests(case_id))
    body = recalls.export_json(case_id, portal.requests(case_id))
    return json.dumps(body, indent=2, default=str) + "\n"


def _request_supplier(portal: SupplierPortal, args: argparse.Namespace) -> int:
    due_by = read_time_option("--due-by", args.due_by)
    found = portal.ask(args.case, args.supplier_lot, args.question, due_by, args.actor)
    asked = shown(f"{found.supplier} about {found.supplier_lot}")
    print(f"asked {asked}, due by {found.due_by}")
    return 0


def _answers(portal: SupplierPortal, args: argparse.Namespace) -> int:
    requests, now = portal.requests(args.case), now_text()
    if args.json:
        print(json.dumps([r.as_json(now) for r in requests], indent=2))
        return 0
    # What a supplier wrote reaches the analyst's terminal: `shown`, never raw.
    for r in requests:
        why = "suspect" if r.suspect else "asked"
        print(f"{shown(r.supplier_lot)}  [{r.state}]  ({why})")
        if r.question:
            overdue = ", overdue" if r.overdue(now) else ""
            print(f"  question: {shown_lines(r.question, '  ')} (due by {r.due_by}{overdue})")
        answer = r.answer
        if answer is None:
            print("  no answer yet")
            continue
        by = shown(str(answer.answered_by))
        print(f"  answered {answer.answered_at} by {by} ({r.answers} in all)")
        if answer.text:
            print(f"  {shown_lines(answer.text, '  ')}")
        for row in answer.upstream:
            print("  upstream: " + shown(", ".join(f"{k}={v}" for k, v in row.items())))
        for d in answer.documents:
            named = shown(f"{d['name']}  {d['media_type']}")
            print(f"  document: {named}  {d['size']} bytes  {d['sha256']}")
    if not requests:
        print("no supplier lot in this case, and no supplier was asked")
    return 0
