"""GraphQL for supplier requests and answers: the supplier's cases, the analyst's requests."""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote

import strawberry
from strawberry.types import Info

from api import recall
from api import supplier_portal as portal
from api.graphql.case_ids import CaseArgument
from api.graphql.context import Context
from api.graphql.results import PageInfo, cursor_key, key_cursor, page_info, page_size
from api.graphql.run import as_graphql_error, mutate, refusal_message, run
from api.graphql.times import utc_argument
from graph.clock import now_text
from graph.errors import DomainError, Forbidden


@strawberry.type(description="One of the supplier's own upstream lots behind the lot they sent.")
class UpstreamLot:
    lot: str
    heat: str | None
    material: str | None
    qty: str | None
    unit: str | None
    certificate: str | None
    made_on: str | None
    note: str | None


@strawberry.type(description="A document attached to an answer; download it from `url`.")
class CaseDocument:
    name: str
    media_type: str
    size: int
    sha256: str
    url: str


@strawberry.type(description="A supplier's latest answer about one of their lots.")
class SupplierAnswer:
    text: str | None
    upstream: list[UpstreamLot]
    documents: list[CaseDocument]
    answered_by: str | None
    answered_at: str
    event: str


@strawberry.type(description="What a case asks of one supplier lot, and the latest answer.")
class SupplierRequest:
    id: strawberry.ID
    case: str
    supplier: str
    supplier_lot: strawberry.ID
    suspect: bool = strawberry.field(description="The case suspects this lot itself.")
    state: str = strawberry.field(description="open, requested or answered")
    question: str | None
    due_by: str | None
    overdue: bool = strawberry.field(
        description="The deadline passed with no answer, and the case still takes one."
    )
    requested_by: str | None
    requested_at: str | None
    answers: int = strawberry.field(description="How many answers were sent (the last is shown).")
    answer: SupplierAnswer | None

    @classmethod
    def of(cls, found: portal.SupplierRequest) -> SupplierRequest:
        answer = found.answer
        return cls(
            id=strawberry.ID(found.id),
            case=found.case,
            supplier=found.supplier,
            supplier_lot=strawberry.ID(found.supplier_lot),
            suspect=found.suspect,
            state=found.state,
            question=found.question,
            due_by=found.due_by,
            overdue=found.overdue(now_text()),
            requested_by=found.requested_by,
            requested_at=found.requested_at,
            answers=found.answers,
            answer=None if answer is None else _answer(found.case, answer),
        )


def _answer(case: str, answer: portal.SupplierAnswer) -> SupplierAnswer:
    return SupplierAnswer(
        text=answer.text,
        upstream=[
            UpstreamLot(
                lot=row["lot"],
                heat=row.get("heat"),
                material=row.get("material"),
                qty=row.get("qty"),
                unit=row.get("unit"),
                certificate=row.get("certificate"),
                made_on=row.get("made_on"),
                note=row.get("note"),
            )
            for row in answer.upstream
        ],
        documents=[
            CaseDocument(
                name=d["name"],
                media_type=d["media_type"],
                size=d["size"],
                sha256=d["sha256"],
                url=(
                    f"/api/v1/recalls/{quote(recall.case_address(case), safe='')}"
                    f"/documents/{d['sha256']}"
                    f"?media_type={quote(d['media_type'], safe='')}"
                ),
            )
            for d in answer.documents
        ],
        answered_by=answer.answered_by,
        answered_at=answer.answered_at,
        event=answer.event,
    )


@strawberry.type(description="A recall case as its supplier sees it: only their own lots in it.")
class SupplierCase:
    id: strawberry.ID
    title: str
    state: str
    opened_at: str | None
    lots: list[SupplierRequest]


@strawberry.input
class UpstreamLotInput:
    lot: str
    heat: str | None = None
    material: str | None = None
    qty: str | None = None
    unit: str | None = None
    certificate: str | None = None
    made_on: date | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        row = {k: v for k, v in vars(self).items() if v is not None}
        if self.made_on is not None:
            row["made_on"] = self.made_on.isoformat()
        return row


@strawberry.input(description="A document sent inline: its bytes as base64.")
class DocumentInput:
    name: str
    content_base64: str
    media_type: str | None = None

    def upload(self, index: int) -> portal.Upload:
        try:
            content = base64.b64decode(self.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise _Refused(
                "bad_request", f"documents[{index}].contentBase64 is not base64"
            ) from None
        return portal.Upload(self.name, self.media_type, content)


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@strawberry.type(description="The answer was refused and nothing was written; `message` says why.")
class AnswerRefused:
    code: str
    message: str


AnswerResult = Annotated[
    SupplierRequest | AnswerRefused, strawberry.union("AnswerSupplierRequestResult")
]


@strawberry.type
class SupplierCaseEdge:
    cursor: str
    node: SupplierCase


@strawberry.type(description="A supplier's cases in id order, a page at a time.")
class SupplierCaseConnection:
    edges: list[SupplierCaseEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, found: portal.SupplierCasePage) -> SupplierCaseConnection:
        edges = [
            SupplierCaseEdge(
                cursor=key_cursor("c", c.id),
                node=SupplierCase(
                    id=strawberry.ID(c.id),
                    title=c.title,
                    state=c.state,
                    opened_at=c.opened_at,
                    lots=[SupplierRequest.of(r) for r in c.lots],
                ),
            )
            for c in found.cases
        ]
        return cls(edges=edges, page_info=page_info(edges, found.more))


@strawberry.type
class SupplierPortalQuery:
    @strawberry.field(
        description="For suppliers: the cases that suspect or ask about one of your lots, in id "
        f"order, a page at a time (at most {recall.MAX_CASES}): page on with `after` set to "
        "`pageInfo.endCursor` while `hasNextPage`."
    )
    async def my_supplier_cases(
        self, info: Info[Context, None], first: int = 100, after: str | None = None
    ) -> SupplierCaseConnection:
        def work() -> portal.SupplierCasePage:
            access = info.context.access
            access.may_read_my_supplier_cases()  # the role before the arguments
            return access.my_supplier_cases(
                page_size(first, recall.MAX_CASES), cursor_key(after, "c")
            )

        found = await run(work)
        return SupplierCaseConnection.of(found or portal.SupplierCasePage([], False))


@strawberry.type
class SupplierPortalMutation:
    @strawberry.mutation(
        description="Ask a supplier about one of their lots in a case, with a deadline (analysts)."
    )
    async def request_supplier_response(
        self,
        info: Info[Context, None],
        case_id: CaseArgument,
        supplier_lot: strawberry.ID,
        question: str,
        due_by: datetime,
    ) -> SupplierRequest | None:
        who = info.context.access.principal.username

        def work() -> portal.SupplierRequest:
            cases = info.context.access.supplier_portal()  # the role before the arguments
            # A deadline read in the server's zone would fall hours off: refused by its name.
            utc_argument("dueBy", due_by)
            key = cases.recalls.case_key(case_id)
            return cases.ask(key, str(supplier_lot), question, due_by, who)

        return SupplierRequest.of(await mutate(work))

    @strawberry.mutation(
        description="Answer a case about one of your lots: a text, upstream lots, documents "
        "(suppliers). With `answerId`, sending the same answer again changes nothing."
    )
    async def answer_supplier_request(
        self,
        info: Info[Context, None],
        case_id: CaseArgument,
        supplier_lot: strawberry.ID,
        text: str | None = None,
        upstream: list[UpstreamLotInput] | None = None,
        documents: list[DocumentInput] | None = None,
        answer_id: str | None = None,
    ) -> AnswerResult:
        access = info.context.access
        try:
            uploads = [d.upload(i) for i, d in enumerate(documents or [])]
            found = await asyncio.to_thread(
                lambda: access.answer_supplier_request(
                    case_id,
                    str(supplier_lot),
                    text=text,
                    upstream=[u.as_dict() for u in upstream or []],
                    uploads=uploads,
                    answer_id=answer_id,
                )
            )
        except _Refused as refused:
            return AnswerRefused(code=refused.code, message=refused.message)
        except Forbidden as error:
            raise as_graphql_error(error) from error
        except DomainError as error:
            return AnswerRefused(code=error.code, message=refusal_message(error))
        return SupplierRequest.of(found)
