"""Supplier requests and answers on recall cases: the analyst asks, the supplier answers.

A case reaches a supplier lot when it suspects the lot or an analyst asks the supplier about it
(`recall_supplier_request`). The supplier answers with a text, their own upstream lots and
documents (`recall_supplier_answer`); the latest answer is the one shown, all stay in the log.
Callers check roles and scope (api.access) before calling.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from api.recall import Case, RecallService
from graph.clock import now_text
from graph.documents import MAX_DOCUMENTS, checked_document
from graph.errors import BadRequest, Conflict, NotFound
from graph.ids import gid
from graph.store import DocumentRow, GraphStore, NodeView
from ingest.errors import BatchConflict, Problem
from ingest.models import ANSWER_EVENT_PREFIX
from ingest.references import supplier_request_gid
from ingest.service import IngestService

# The key becomes part of the answer's event id, which must stay within an id's 200 characters.
MAX_ANSWER_ID = 100
MAX_EVENT_ID = 200


@dataclass(frozen=True, slots=True)
class Upload:
    """A document as sent: its name, the media type its sender gave (if any), its bytes."""

    name: str
    media_type: str | None
    content: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class SupplierAnswer:
    text: str | None
    upstream: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    answered_by: str | None
    answered_at: str
    event: str


@dataclass(frozen=True, slots=True)
class SupplierRequest:
    """What a case asks of one supplier lot, and the supplier's latest answer."""

    id: str
    case: str
    supplier: str
    supplier_lot: str
    suspect: bool
    state: str
    question: str | None
    due_by: str | None
    requested_by: str | None
    requested_at: str | None
    answers: int
    answer: SupplierAnswer | None
    documents: list[str]
    # The media types the answers gave each document (a projection from before this was
    # recorded has none: its documents are served as stored).
    document_types: dict[str, list[str]]
    # A closed case takes no more answers: what it asked is no longer awaited. Not shown as a
    # field of its own: the case's state says it.
    case_closed: bool = field(default=False, repr=False)

    @property
    def named(self) -> bool:
        """Tell whether the case names the lot now: it suspects it or asked about it.

        An answer alone does not: a lot rescoped out of the case is no longer the supplier's to
        see or answer, though the plant keeps what they said.
        """
        return self.suspect or self.question is not None

    def overdue(self, now: str) -> bool:
        """Tell whether the deadline (UTC text, as `now`) passed with no answer since the
        question was asked (one given before it answered an earlier question), while the case
        still takes one: a closed case's deadline passing later would turn a question no one
        may answer any more overdue."""
        return (
            not self.case_closed
            and self.state != "answered"
            and self.due_by is not None
            and self.due_by < now
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the request's fields, as REST answers it."""
        fields = asdict(self)
        del fields["case_closed"]
        return fields

    def as_json(self, now: str) -> dict[str, Any]:
        """Return the request JSON-ready, with whether it is overdue at `now` (UTC text)."""
        return self.as_dict() | {"overdue": self.overdue(now)}

    @classmethod
    def of(cls, view: NodeView | None, case: Case, lot: str) -> SupplierRequest:
        """Read a request node; a suspect lot nobody asked about yet has none."""
        attrs = view.attrs if view is not None else {}
        raw = attrs.get("answer")
        answer = None
        if raw is not None:
            body = json.loads(str(raw))
            answer = SupplierAnswer(
                text=body.get("text"),
                upstream=body.get("upstream", []),
                documents=body.get("documents", []),
                answered_by=body.get("answered_by"),
                answered_at=body["answered_at"],
                event=body["event"],
            )
        return cls(
            id=supplier_request_gid(case.id.partition(":")[2], lot),
            case=case.id.partition(":")[2],
            supplier=_split_lot(lot)[0],
            supplier_lot=lot,
            suspect=lot in {s["id"] for s in case.suspects},
            state=str(attrs.get("state", "open")),
            question=attrs.get("question"),
            due_by=attrs.get("due_by"),
            requested_by=attrs.get("requested_by"),
            requested_at=attrs.get("requested_at"),
            answers=int(attrs.get("answers", 0)),
            answer=answer,
            documents=json.loads(str(attrs.get("documents", "[]"))),
            document_types=json.loads(str(attrs.get("document_types", "{}"))),
            case_closed=case.state == "closed",
        )


@dataclass(frozen=True, slots=True)
class SupplierCase:
    """A case as a supplier sees it: title, state, and only their own lots in it."""

    id: str
    title: str
    state: str
    opened_at: str | None
    lots: list[SupplierRequest]


@dataclass(frozen=True, slots=True)
class SupplierCasePage:
    cases: list[SupplierCase]
    more: bool  # cases follow the last of this page


class SupplierPortal:
    """Requests to suppliers and their answers, on a store."""

    def __init__(self, store: GraphStore, ingest: IngestService, recalls: RecallService) -> None:
        self._store = store
        self._ingest = ingest
        self.recalls = recalls

    # -- reads ---------------------------------------------------------------------------------

    def requests(self, case_id: str) -> list[SupplierRequest]:
        """Return every supplier lot a case suspects or asks about, with its request and answer."""
        return self._requests(self.recalls.case(case_id))

    def _requests(self, case: Case) -> list[SupplierRequest]:
        return self.requests_of([case])[case.id]

    def requests_of(self, cases: Sequence[Case]) -> dict[str, list[SupplierRequest]]:
        """Each case's requests, read for all the cases in one links and one nodes call."""
        ids = {case.id for case in cases}
        links = self._store.links(sorted(ids))
        asks = [(e.src, e.dst) for e in links if e.type == "ASKS" and e.src in ids]
        views = self._store.nodes(sorted({request for _, request in asks}))
        found: dict[str, list[SupplierRequest]] = {}
        for case in cases:
            mine = [views[r] for c, r in asks if c == case.id and r in views]
            by_lot = {str(v.attrs["supplier_lot"]): v for v in mine}
            suspects = {s["id"] for s in case.suspects if s["id"].startswith("supplier_lot:")}
            found[case.id] = [
                SupplierRequest.of(by_lot.get(lot), case, lot)
                for lot in sorted(suspects | set(by_lot))
            ]
        return found

    def case_page(
        self, lots: Sequence[str], first: int, after: str | None = None
    ) -> SupplierCasePage:
        """Return up to `first` of the cases that suspect or ask about any of `lots`, showing only
        those lots, in id order, those after the case id `after` (case:RC-1) when it is given,
        and whether more follow."""
        mine = set(lots)
        left = [case for case in self._touching(mine) if after is None or case > after]
        found: list[SupplierCase] = []
        # A case touching a lot may name none of them (rescoped out): read until one past the
        # page is found, a page's worth at a time, never every case of the supplier's.
        while left and len(found) <= first:
            wanted = first + 1 - len(found)
            found += self._naming(mine, left[:wanted])
            left = left[wanted:]
        return SupplierCasePage(found[:first], len(found) > first)

    def _touching(self, mine: set[str]) -> list[str]:
        """The ids of the cases that suspect or ever asked about any of `mine`, in order."""
        links = self._store.links(sorted(mine))
        suspecting = {e.src for e in links if e.type == "SUSPECTS" and e.dst in mine}
        requests = self._store.nodes(sorted({e.src for e in links if e.type == "ABOUT"}))
        cases = suspecting | {gid("case", str(v.attrs["case"])) for v in requests.values()}
        return sorted(cases)

    def _naming(self, mine: set[str], cases: Sequence[str]) -> list[SupplierCase]:
        """Those of `cases` that name any of `mine`, showing only those lots, in id order."""
        found = []
        listed = [Case.of(view) for view in self._store.nodes(list(cases)).values()]
        asked = self.requests_of(listed)
        for case in listed:
            named = [r for r in asked[case.id] if r.supplier_lot in mine and r.named]
            if named:  # a lot rescoped out of the case, never asked about, is cleared
                found.append(SupplierCase(case.id, case.title, case.state, case.opened_at, named))
        return sorted(found, key=lambda c: c.id)

    def request(self, case_id: str, lot: str) -> SupplierRequest | None:
        """Return what a case asks of one supplier lot, or None if it does not name the lot."""
        return next((r for r in self.requests(case_id) if r.supplier_lot == lot), None)

    def document(
        self,
        case_id: str,
        digest: str,
        lots: Sequence[str] | None = None,
        media_type: str | None = None,
    ) -> DocumentRow:
        """Return a document attached to the case (only to answers about `lots`, if given).

        The bytes are kept once; they are returned as `media_type` when an answer attached them
        as such (not found otherwise), or without one as the type they were stored as if an
        answer gave it, else the first an answer gave: never a type only another case gave.
        """
        requests = [
            r
            for r in self.requests(case_id)
            if lots is None or (r.supplier_lot in lots and r.named)
        ]
        allowed = {d for r in requests for d in r.documents}
        found = self._store.document(digest) if digest in allowed else None
        if found is not None:
            given = {t for r in requests for t in r.document_types.get(digest, [])}
            given = given or {found.media_type}
            wanted = media_type or (found.media_type if found.media_type in given else min(given))
            if wanted in given:
                return replace(found, media_type=wanted)
        raise NotFound(f"no document {digest!r} on recall case {case_id!r}")

    # -- actions -------------------------------------------------------------------------------

    def ask(
        self, case_id: str, lot: str, question: str, due_by: datetime, actor: str
    ) -> SupplierRequest:
        """Ask a supplier about one of their lots in a case, with a deadline."""
        supplier, supplier_lot = _split_lot(lot)
        self.recalls.case(case_id)
        event = {
            "event_id": f"recall_supplier_request-{uuid.uuid4().hex[:16]}",
            "type": "recall_supplier_request",
            "occurred_at": now_text(),
            "actor": actor,
            "case": case_id,
            "supplier": supplier,
            "supplier_lot": supplier_lot,
            "question": question,
            "due_by": due_by.isoformat(),
        }
        self._ingest.ingest([event])
        found = self.request(case_id, lot)
        assert found is not None  # the event made it
        return found

    def answer(
        self,
        case_id: str,
        lot: str,
        *,
        text: str | None,
        upstream: list[dict[str, Any]],
        uploads: Sequence[Upload],
        actor: str,
        answer_id: str | None = None,
    ) -> SupplierRequest:
        """Record a supplier's answer about one of their lots; the documents go with it.

        With `answer_id`, sending the same answer again is a harmless duplicate and sending a
        different one under that id is a conflict.
        """
        if answer_id is not None and not _printable(answer_id, MAX_ANSWER_ID):
            raise BadRequest(f"an answer id is 1-{MAX_ANSWER_ID} printable characters")
        case = self.recalls.case(case_id)
        if case.state == "closed":
            raise Conflict(f"recall case {case_id!r} is closed: it takes no more answers")
        if len(uploads) > MAX_DOCUMENTS:
            raise BadRequest(f"at most {MAX_DOCUMENTS} documents per answer")
        documents = [_checked(i, upload) for i, upload in enumerate(uploads)]
        supplier, supplier_lot = _split_lot(lot)
        event_id, occurred_at = self._answer_key(supplier, answer_id)
        event: dict[str, Any] = {
            "event_id": event_id,
            "type": "recall_supplier_answer",
            "occurred_at": occurred_at,
            "actor": actor,
            "case": case_id,
            "supplier": supplier,
            "supplier_lot": supplier_lot,
            "upstream": upstream,
            "documents": [
                {"name": u.name, "media_type": d.media_type, "size": d.size, "sha256": d.sha256}
                for u, d in zip(uploads, documents, strict=True)
            ],
        }
        if text is not None and text.strip():
            event["text"] = text
        try:
            self._ingest.ingest([event], documents)
        except BatchConflict:
            # A send of this answer at the same time was logged after ours looked for it, at
            # the time it arrived: ours is compared with it at that time, as a resend would be.
            first = self._answer_key(supplier, answer_id)[1] if answer_id is not None else None
            if first is None or first == occurred_at:
                raise
            self._ingest.ingest([event | {"occurred_at": first}], documents)
        found = self.request(case_id, lot)
        assert found is not None  # the event made it
        return found

    def _answer_key(self, supplier: str, answer_id: str | None) -> tuple[str, str]:
        """Return the event id and time of an answer: a resent answer keeps its first time."""
        if answer_id is None:
            return f"recall_supplier_answer-{uuid.uuid4().hex[:16]}", now_text()
        event_id = answer_event_id(supplier, answer_id)
        logged = self._store.logged([event_id]).get(event_id)
        if logged is None:
            return event_id, now_text()
        return event_id, str(json.loads(logged.payload)["occurred_at"])


def answer_event_id(supplier: str, answer_id: str) -> str:
    """Return the event id of a supplier's answer sent with `answer_id`.

    A company id holds no "/", so no two suppliers meet on one key. A company id too long to fit
    beside the answer id in an event id's 200 characters is given by its sha256 after an empty
    segment ("//"), which no company id spelled out begins with; shorter ones keep the key they
    always had, so an answer sent again is still recognised.
    """
    event_id = f"{ANSWER_EVENT_PREFIX}{supplier}/{answer_id}"
    if len(event_id) <= MAX_EVENT_ID:
        return event_id
    digest = hashlib.sha256(supplier.encode()).hexdigest()
    return f"{ANSWER_EVENT_PREFIX}/{digest}/{answer_id}"


def answer_ids_taken(raw_events: Sequence[Any]) -> list[Problem]:
    """Name the events of a batch sent with an event id kept for suppliers' answers.

    The portal alone writes events under such ids, for the supplier whose answer id it is; an
    event sent any other way under one would make that supplier's answer a conflict.
    """
    return [
        Problem(
            i,
            raw["event_id"],
            "event_id",
            "reserved_id",
            f'event ids beginning "{ANSWER_EVENT_PREFIX}" are kept for suppliers\' answers',
        )
        for i, raw in enumerate(raw_events)
        if isinstance(raw, dict)
        and isinstance(raw.get("event_id"), str)
        and raw["event_id"].startswith(ANSWER_EVENT_PREFIX)
    ]


def _checked(index: int, upload: Upload) -> DocumentRow:
    """Check one document of an answer; a refusal names it by its place in `documents`."""
    try:
        return checked_document(upload.name, upload.media_type, upload.content)
    except BadRequest as error:  # also DocumentTooLarge, kept as such for its 413
        raise type(error)(f"documents[{index}]: {error.message}") from None


def _split_lot(lot: str) -> tuple[str, str]:
    """Return (supplier, supplier lot) of a supplier lot's global id."""
    kind, _, key = lot.partition(":")
    supplier, _, supplier_lot = key.partition("/")
    if kind != "supplier_lot" or not supplier or not supplier_lot:
        raise BadRequest(f"not a supplier lot id: {lot!r} (supplier_lot:SUPPLIER/LOT)")
    return supplier, supplier_lot


def _printable(text: str, longest: int) -> bool:
    """Tell whether `text` is 1 to `longest` characters, none of them a control character."""
    return 0 < len(text) <= longest and text.isprintable()
