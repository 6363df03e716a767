"""The printable recall report: the case, the numbers, who was told, and a picture of the scope."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING

from graph.carts import SharedCart
from graph.exposure import exposure_text
from graph.picture import genealogy_svg
from graph.recall import Reconciliation, Scope
from graph.store import decimal_text, plain

if TYPE_CHECKING:
    from api.recall import Case, Notice
    from api.supplier_portal import SupplierRequest

MAX_ROWS = 500
STYLE = """body{font:13px/1.45 system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccd;padding:2px 8px;
text-align:left}th{background:#f1f3f7}.fig{overflow:auto;border:1px solid #ccd;padding:4px}
@media print{.fig{overflow:visible}}"""


def _rows(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_report(
    case: Case,
    scope: Scope,
    notices: Sequence[Notice],
    rec: Reconciliation,
    shared: Sequence[SharedCart],
    made_at: str,
    suppliers: Sequence[SupplierRequest] = (),
) -> str:
    """Render the report as a self-contained HTML page (print it to PDF from any browser)."""
    exposure = {i.id: i.exposure for i in scope.items}
    sure = {i.id for i in scope.items if i.certain}
    certain = len(sure)
    picture = genealogy_svg(scope.depths, scope.kinds, scope.edges, exposure, sure)
    items = _rows(
        ("item", "part", "exposure", "certain", "basis", "qty", "in plant", "status", "shipped"),
        [
            (
                i.id,
                i.part or "",
                "unknown" if i.exposure is None else exposure_text(i.exposure),
                "yes" if i.certain else "may contain",
                i.basis,
                # As the CSV and the reconciliation write them: str() of a Decimal may say 1E-7.
                plain(i.qty),
                plain(i.available),
                i.status or "",
                plain(sum(i.shipped.values(), Decimal(0))),
            )
            for i in scope.items[:MAX_ROWS]
        ],
    )
    more = (
        f"<p>… and {len(scope.items) - MAX_ROWS} more items (see the CSV export).</p>"
        if len(scope.items) > MAX_ROWS
        else ""
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Recall {escape(case.id)}</title><style>{STYLE}</style></head><body>
<h1>Recall case {escape(case.id.partition(":")[2])}: {escape(case.title)}</h1>
<p>State <b>{escape(case.state)}</b>; opened {escape(case.opened_at or "")} by {
        escape(case.opened_by or "")
    }.
Reason: {escape(case.reason)}. Report made {escape(made_at)}.</p>
<p>Suspects: {
        escape(
            ", ".join(
                s["id"] + (f" {s['from']}..{s['to']}" if "from" in s else "") for s in case.suspects
            )
        )
    }</p>
<h2>Scope</h2>
{
        _rows(
            (
                "affected items",
                "certainly contain",
                "may contain",
                "still in plant",
                "shipments",
                "customers",
            ),
            [
                (
                    len(scope.items),
                    certain,
                    len(scope.items) - certain,
                    sum(1 for i in scope.items if i.in_plant),
                    len(scope.shipments),
                    ", ".join(scope.customers),
                )
            ],
        )
    }
<h2>Reconciliation</h2>
{_reconciliation(rec)}
<h2>Customers notified</h2>
{
        _rows(
            ("customer", "notice", "state", "found", "returned", "note"),
            [
                (
                    n.customer,
                    n.id,
                    n.state,
                    decimal_text(n.found_qty) or "",
                    decimal_text(n.returned_qty) or "",
                    n.note or "",
                )
                for n in notices
            ],
        )
    }
<h2>Supplier answers</h2>
{_supplier_rows(suppliers, made_at)}
<h2>Shared carts (a risk of mix-up, not material flow)</h2>
{
        _rows(
            ("lot", "cart", "shared with suspect lot", "from", "to", "same compartment"),
            [
                (
                    c.lot,
                    c.cart,
                    c.suspect,
                    c.from_,
                    c.to or "still there",
                    "yes" if c.same_compartment else "no",
                )
                for c in shared
            ],
        )
        if shared
        else "<p>No other lot shared a cart with the scope's lots.</p>"
    }
<h2>Genealogy of the scope</h2>
<p>Red: certainly contains suspect material; amber: may contain; blue: plant context.</p>
<div class="fig">{picture}</div>
<h2>Affected items</h2>{items}{more}
</body></html>
"""


def _reconciliation(rec: Reconciliation) -> str:
    """Tabulate what is accounted for, one row per unit: kilograms and pieces are never added."""
    if not rec.units:
        return f"<p>Nothing expected ({rec.percent:.1f} % accounted for).</p>"
    rows: list[tuple[str, ...]] = []
    for u in rec.units:
        if u.unit is None:  # answers of customers shipped several units say none of them
            said = (plain(u.found_by_customers), plain(u.returned_by_customers))
            rows.append(("no one unit (customers shipped several)", "", "", *said, "", "", ""))
            continue
        rows.append(
            (
                u.unit,
                plain(u.expected),
                plain(u.held_in_plant),
                plain(u.found_by_customers),
                plain(u.returned_by_customers),
                plain(u.scrapped),
                plain(u.accounted),
                f"{u.percent:.1f}",
            )
        )
    header = ("unit", "expected", "held in plant", "found by customers", "returned", "scrapped")
    table = _rows((*header, "accounted", "%"), rows)
    counted = sum(1 for u in rec.units if u.unit is not None)
    if counted < 2:
        return table
    return f"{table}<p>Accounted for: {rec.percent:.1f} %, the lowest of the units'.</p>"


def _supplier_rows(requests: Sequence[SupplierRequest], now: str) -> str:
    """Tabulate what was asked of each supplier lot and the latest answer, as of `now`."""
    if not requests:
        return "<p>No supplier lot in this case, and no supplier was asked.</p>"
    rows = []
    for r in requests:
        answer = r.answer
        upstream = (
            "; ".join(
                " ".join(
                    str(row[k]) for k in ("lot", "heat", "qty", "unit", "certificate") if k in row
                )
                for row in answer.upstream
            )
            if answer
            else ""
        )
        rows.append(
            (
                r.supplier_lot,
                "suspect" if r.suspect else "asked",
                r.question or "",
                f"{r.due_by} (overdue)" if r.overdue(now) else r.due_by or "",
                r.state,
                f"{answer.answered_at} ({r.answers})" if answer else "",
                (answer.text or "") if answer else "",
                upstream,
                ", ".join(f"{d['name']} ({d['sha256'][:12]})" for d in answer.documents)
                if answer
                else "",
            )
        )
    return _rows(
        (
            "supplier lot",
            "why",
            "question",
            "due by",
            "state",
            "answered (answers)",
            "answer",
            "upstream lots",
            "documents",
        ),
        rows,
    )
