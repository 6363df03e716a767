"""Event contract v1: the pydantic models every change to the genealogy graph enters as."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from graph.documents import MAX_DOCUMENT_BYTES, MAX_DOCUMENTS
from graph.errors import character_name
from graph.store import plain
from ingest.gs1 import Gs1Error, normalise_gtin
from ingest.schema_rules import (
    COMPANY_PATTERN,
    COUNT_PATTERN,
    DATE_PATTERN,
    ID_PATTERN,
    ITEM_COUNTED,
    ITEM_TAKEN,
    MARK_PATTERN,
    NOT_BLANK,
    ONE_KEY,
    QTY_BELOW,
    QTY_PATTERN,
    given,
    if_given,
)
from ingest.times import SENT as SENT
from ingest.times import Instant, _sent, out_of_calendar
from marking.readings import FULL_WIDTH

# Spellings pydantic reads but the contract does not mean: a time as a date; "5_0" as 50;
# non-ASCII digits (a full-width 5) as numbers (times: ingest.times). Each is refused by field;
# what the log stores (ISO text, plain decimals) still reads.
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE_SPELLING = 'a date is written YYYY-MM-DD, such as "2026-03-02"'


def _date_text(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return handler(value)
    if not (isinstance(value, str) and _DATE_TEXT.fullmatch(value)):
        raise PydanticCustomError("date_parsing", _DATE_SPELLING)
    try:
        return handler(value)
    except ValidationError:
        # A day the calendar lacks ("2026-02-29") keeps the documented code, and says so.
        why = out_of_calendar(value)
        raise PydanticCustomError(
            "date_parsing", _DATE_SPELLING if why is None else f"{_DATE_SPELLING}; {why}"
        ) from None


def _decimal_text(value: Any) -> Any:
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        raise PydanticCustomError(
            "decimal_parsing", 'a quantity is a number, or one in ASCII digits such as "12.5"'
        )
    return value


def _rule(field: str, message: str) -> PydanticCustomError:
    """Refuse a rule over several fields of an event, naming the field it refuses: an error of
    the event's own validator has no place in it, and ingest.parse.problems_of reads this one."""
    return PydanticCustomError("value_error", message, {"field": field})


Day = Annotated[
    date,
    WrapValidator(_date_text),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
]
_DAY: TypeAdapter[date] = TypeAdapter(Day)


def read_day(text: str) -> date:
    """Read a date as the contract does (YYYY-MM-DD, not ISO 8601's other spellings Python's
    date.fromisoformat takes, such as 20260305 or 2026-W10-4); raise ValueError saying how a
    date is written."""
    try:
        return _DAY.validate_python(text)
    except ValidationError as error:
        raise ValueError(error.errors()[0]["msg"]) from None


def _printable_id(value: str, info: ValidationInfo) -> str:
    # An id is shown, typed and compared: no C1 controls, line or paragraph separators,
    # bidirectional overrides, invisible or non-breaking spaces (the ASCII space is printable).
    # One C-speed look at the whole id first: nearly every id is printable, and asking the
    # context (a Python call) for each of the ten or so ids of an event cost more than the look.
    if not value.isprintable() and _sent(info):
        char = next(c for c in value if not c.isprintable())
        raise PydanticCustomError(
            "not_printable",
            "an id is printable characters: {char} is not",
            {"char": character_name(char)},
        )
    return value


def _findable_code(value: Any, info: ValidationInfo) -> Any:
    # A reading is taken without spaces and with "?" for an unreadable character, so a code
    # holding either (or a character no one can see) could never be found. Run before the
    # code's pattern, so an ASCII space or control is refused with this reason, not the regex.
    # Printable ASCII holds no full-width character, and its only space is " ": such a code,
    # nearly every one, passes without the look at each character below.
    if (
        isinstance(value, str)
        and value.isascii()
        and value.isprintable()
        and " " not in value
        and "?" not in value
    ):
        return value
    if _sent(info) and isinstance(value, str):
        for char in value:
            if char.isspace() or not char.isprintable() or char == "?":
                raise PydanticCustomError(
                    "bad_mark",
                    "{char} is not a character of a mark: readings are taken without spaces, "
                    'with "?" for a character that cannot be read, so the code could never be '
                    "found",
                    {"char": character_name(char)},
                )
            if ord(char) in FULL_WIDTH:
                raise PydanticCustomError(
                    "bad_mark",
                    "{char} is not a character of a mark: readings take full-width characters "
                    "as the ASCII ones they stand for, so the code could never be found",
                    {"char": character_name(char)},
                )
    return value


# The id of a logged event as another event names it: one logged before ids had to be
# printable can still be voided.
LoggedEventId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"),
]
# Printable text without control characters; ids are data, never syntax.
_ID_SCHEMA: Final = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": ID_PATTERN}
Id = Annotated[LoggedEventId, AfterValidator(_printable_id), WithJsonSchema(_ID_SCHEMA)]
# Event ids the service gives the answers suppliers send through their portal, known in advance
# (api.supplier_portal.answer_event_id): no one else may send one, so none is taken first
# (api.supplier_portal.answer_ids_taken), and the published schema refuses them too.
ANSWER_EVENT_PREFIX: Final = "recall_supplier_answer/"
SentEventId = Annotated[
    Id, WithJsonSchema(_ID_SCHEMA | {"not": {"pattern": f"^{re.escape(ANSWER_EVENT_PREFIX)}"}})
]


def _new_case_key(value: str, info: ValidationInfo) -> str:
    # For events sent only: a case logged before these rules still rebuilds.
    if not _sent(info):
        return value
    # "case:RC-1" is the id answers give case RC-1, and an argument naming a case is read as an
    # id first (api.recall.RecallService.case_keys): a new case keyed so would be named by it
    # only through its own id, "case:case:RC-1".
    if value.startswith("case:"):
        raise PydanticCustomError(
            "case_key_as_id",
            'a new case\'s key does not begin "case:": "{value}" is the id of case "{key}"',
            {"value": value, "key": value.removeprefix("case:")},
        )
    # The key is one segment of the case's web addresses (/api/v1/recalls/{key}/...): a "/"
    # splits it, and clients drop "." and ".." as dot segments.
    if "/" in value or value in (".", ".."):
        raise PydanticCustomError(
            "case_key_path",
            "a case's key is part of the case's web addresses, so it holds no \"/\" and is "
            'not "." or "..": "{value}"',
            {"value": value},
        )
    return value


def _no_slash(value: str) -> str:
    # A company id is the first half of a supplier lot's node id, split at its first "/" (and
    # of a supplier's answer event id): "ACME/EU"'s lot "X" would read as "ACME"'s lot "EU/X".
    if "/" in value:
        raise PydanticCustomError(
            "company_slash",
            'a company id holds no "/": it is the first part of a supplier lot\'s id '
            '(supplier_lot:SUPPLIER/LOT), which is split at its first "/"',
        )
    return value


# The key of a case a recall_open creates.
NewCaseId = Annotated[
    Id,
    AfterValidator(_new_case_key),
    WithJsonSchema(_ID_SCHEMA | {"not": {"pattern": r"^case:|/|^\.\.?$"}}),
]
# A company id: also used as the first half of a supplier-lot key, so no "/".
CompanyId = Annotated[
    Id, AfterValidator(_no_slash), WithJsonSchema(_ID_SCHEMA | {"pattern": COMPANY_PATTERN})
]

Text = Annotated[str, StringConstraints(max_length=2000)]
Qty = Annotated[
    Decimal,
    Field(gt=0, allow_inf_nan=False, max_digits=28),
    BeforeValidator(_decimal_text),
    # In JSON, one spelling per value: "10.0" and 10 are both stored as "10".
    PlainSerializer(
        lambda value: format(value.normalize(), "f"), return_type=str, when_used="json"
    ),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": QTY_BELOW},
                {"type": "string", "pattern": QTY_PATTERN},
            ]
        },
        mode="validation",  # written, a quantity is a string
    ),
]
Unit = Annotated[
    str, StringConstraints(min_length=1, max_length=20, pattern=r"^[^\x00-\x1f\x7f]+$")
]
ParamValue = str | int | float | bool | None


class Strict(BaseModel):
    """Base for contract models: unknown fields are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ItemRef(Strict):
    """A reference to a lot or a serial: exactly one of the two keys."""

    # Each model's `json_schema_extra` says its validators in the published schema, as far as
    # JSON Schema can (ingest.schema_rules).
    model_config = ConfigDict(json_schema_extra={"oneOf": ONE_KEY})

    lot: Id | None = None
    serial: Id | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.lot is None) == (self.serial is None):
            raise ValueError('give exactly one of "lot" or "serial"')
        return self

    @property
    def gid(self) -> str:
        return f"lot:{self.lot}" if self.lot is not None else f"serial:{self.serial}"


class Status(StrEnum):
    RELEASED = "released"
    QUARANTINED = "quarantined"
    RECALLED = "recalled"
    SCRAPPED = "scrapped"


class Envelope(Strict):
    event_id: SentEventId
    occurred_at: Instant
    actor: Id | None = None
    site: Id | None = None
    note: Text | None = None


class Dated(Strict):
    """UDI production identifiers beyond lot and serial: expiry (AI 17) and made on (AI 11)."""

    expiry: Day | None = None
    manufactured: Day | None = None


class Receive(Envelope, Dated):
    type: Literal["receive"]
    supplier: CompanyId
    supplier_lot: Id
    part: Id
    lot: Id
    qty: Qty
    unit: Unit = "ea"


# A quantity may say the unit it is counted in: then it must be the lot's (a partner's
# grams are not taken as our kilograms). Left out, the quantity is in the lot's unit.
StatedUnit = Annotated[Unit | None, Field(description="the lot's unit, as a check (optional)")]


class LotQty(Strict):
    lot: Id
    qty: Qty
    unit: StatedUnit = None


# -- carts: a new lot may name the cart it lands in (docs/carts.md)
class InCart(Strict):
    model_config = ConfigDict(json_schema_extra=if_given("compartment", given("cart")))

    cart: Id | None = None
    compartment: Id | None = None

    @model_validator(mode="after")
    def _compartment_of_a_cart(self) -> Self:
        if self.compartment is not None and self.cart is None:
            raise ValueError("a compartment needs its cart")
        return self


class SplitChild(InCart):
    lot: Id
    qty: Qty
    unit: StatedUnit = None


class Split(Envelope):
    type: Literal["split"]
    lot: Id
    into: Annotated[list[SplitChild], Field(min_length=1)]


class NewLot(InCart):
    lot: Id


class NewLotOfPart(InCart):
    lot: Id
    part: Id


class Merge(Envelope):
    type: Literal["merge"]
    from_: Annotated[list[LotQty], Field(alias="from", min_length=2)]
    into: NewLot


class Mix(Envelope):
    type: Literal["mix"]
    from_: Annotated[list[LotQty], Field(alias="from", min_length=2)]
    into: NewLotOfPart


class ProcessInput(ItemRef):
    """A consumed lot (qty omitted: all that remains of it) or serial (one unit)."""

    model_config = ConfigDict(json_schema_extra=ITEM_TAKEN)

    qty: Qty | None = None
    unit: StatedUnit = None

    @model_validator(mode="after")
    def _serial_is_one_unit(self) -> Self:
        if self.serial is not None and self.qty not in (None, Decimal(1)):
            raise ValueError("a serial is one unit: omit qty or give 1")
        if self.serial is not None and self.unit is not None:
            raise ValueError("a serial is one unit: omit unit")
        return self


class ProcessOutput(ItemRef, Dated):
    model_config = ConfigDict(json_schema_extra=ITEM_COUNTED)

    part: Id
    qty: Qty | None = None
    unit: Unit | None = None

    @model_validator(mode="after")
    def _lot_needs_qty(self) -> Self:
        if self.lot is not None and self.qty is None:
            raise ValueError("an output lot needs qty")
        if self.serial is not None and (self.qty not in (None, Decimal(1)) or self.unit):
            raise ValueError("an output serial is one unit: omit qty and unit")
        return self


class Process(Envelope):
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"minItems": 1}}}
                for name in ("inputs", "outputs")
            ]
        }
    )

    type: Literal["process"]
    step: Id
    operation: Id
    equipment: Id | None = None
    operator: Id | None = None
    work_order: Id | None = None
    started_at: Instant | None = None
    finished_at: Instant | None = None
    inputs: list[ProcessInput] = []
    outputs: list[ProcessOutput] = []
    params: dict[Annotated[str, StringConstraints(max_length=100)], ParamValue] | None = None

    @field_validator("params")
    @classmethod
    def _json_numbers(cls, params: dict[str, ParamValue] | None) -> dict[str, ParamValue] | None:
        # JSON readers turn NaN, Infinity and 1e400 into these; stored, the payload would not be
        # JSON any more, and no export of it could be read.
        for name, value in (params or {}).items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f'"{name}" is {value}: parameters take finite numbers')
        return params

    @field_validator("finished_at")
    @classmethod
    def _finishes_after_start(cls, finished: datetime | None, info: ValidationInfo) -> Any:
        # On the field, so the refusal names it; a time left out is checked by the planner
        # (against occurred_at, which logs of earlier versions did not do).
        started = info.data.get("started_at")
        if finished is not None and started is not None and finished < started:
            raise PydanticCustomError(
                "time_order",
                "the step finishes at {finished}, before it starts (started_at {started})",
                {"finished": finished.isoformat(), "started": started.isoformat()},
            )
        return finished

    @model_validator(mode="after")
    def _has_material(self) -> Self:
        if not self.inputs and not self.outputs:
            raise _rule("inputs", "a process needs inputs or outputs")
        return self


class Serialize(Envelope, Dated):
    type: Literal["serialize"]
    lot: Id
    serials: Annotated[list[Id], Field(min_length=1)]


class ShipItem(ItemRef):
    model_config = ConfigDict(json_schema_extra=ITEM_COUNTED)

    qty: Qty | None = None
    unit: StatedUnit = None

    @model_validator(mode="after")
    def _qty_rules(self) -> Self:
        if self.lot is not None and self.qty is None:
            raise ValueError("a shipped lot needs qty")
        if self.serial is not None and self.qty not in (None, Decimal(1)):
            raise ValueError("a serial is one unit: omit qty or give 1")
        if self.serial is not None and self.unit is not None:
            raise ValueError("a serial is one unit: omit unit")
        return self


class Ship(Envelope):
    type: Literal["ship"]
    shipment: Id
    customer: CompanyId
    items: Annotated[list[ShipItem], Field(min_length=1)]


# The most characters of a reason (a recall hold cuts what it derives for a status to fit).
MAX_REASON: Final = 2000
Reason = Annotated[str, StringConstraints(min_length=1, max_length=MAX_REASON)]


class SetStatus(Envelope):
    type: Literal["status"]
    target: ItemRef
    status: Status
    reason: Reason


# -- carts
class CartDefine(Envelope):
    """A cart comes into use: its group, its number in the group, compartments and capacity."""

    model_config = ConfigDict(
        json_schema_extra=if_given("seq", given("group"))
        | {"allOf": [{"properties": {"compartments": {"uniqueItems": True}}}]}
    )

    type: Literal["cart_define"]
    cart: Id
    group: Id | None = None
    seq: Annotated[int, Field(ge=1, le=10_000)] | None = None
    compartments: Annotated[list[Id], Field(min_length=1, max_length=100)] | None = None
    capacity: Qty | None = None

    @model_validator(mode="after")
    def _distinct_compartments(self) -> Self:
        if self.compartments is not None and len(set(self.compartments)) != len(self.compartments):
            raise _rule("compartments", "compartments are listed once each")
        if self.seq is not None and self.group is None:
            raise _rule("seq", "a number in a group needs the group")
        return self


class CartLoad(Envelope):
    type: Literal["cart_load"]
    cart: Id
    lot: Id
    compartment: Id | None = None
    qty: Qty | None = None
    unit: StatedUnit = None


class CartUnload(Envelope):
    type: Literal["cart_unload"]
    cart: Id
    lot: Id
    compartment: Id | None = None


class Mark(Envelope):
    type: Literal["mark"]
    target: ItemRef
    code: Annotated[
        str,
        StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x20\x7f]+$"),
        BeforeValidator(_findable_code),
        WithJsonSchema(
            {"type": "string", "minLength": 1, "maxLength": 64, "pattern": MARK_PATTERN}
        ),
    ]
    scheme: Id | None = None


# -- GS1 identifiers: the part registry
# GTIN-8, -12, -13 or -14 digits; the check digit is the validator's (no pattern computes it).
GtinText = Annotated[
    str, WithJsonSchema({"type": "string", "pattern": r"^(?:[0-9]{8}|[0-9]{12,14})$"})
]


class PartDefine(Envelope):
    """A part enters the registry, with its GTIN (the UDI-DI of a device) when it has one."""

    type: Literal["part_define"]
    part: Id
    gtin: GtinText | None = None
    description: Text | None = None
    supplier: CompanyId | None = None  # the brand owner, for a part bought in

    @field_validator("gtin")
    @classmethod
    def _checked_gtin(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalise_gtin(value, ai="01")
        except Gs1Error as error:
            raise ValueError(error.message) from None


class Void(Envelope):
    type: Literal["void"]
    voids: LoggedEventId
    reason: Reason


# The kinds of node a recall case may suspect; an equipment is suspected over a time window.
SUSPECT_KINDS: Final = ("lot", "serial", "supplier_lot", "step", "equipment")
# A node id (`kind:key`) as a suspect of a recall case.
NodeId = Annotated[
    str, StringConstraints(min_length=3, max_length=420, pattern=r"^[a-z_]+:[^\x00-\x1f\x7f]+$")
]


class Suspect(Strict):
    """What a recall case suspects: a node, or an equipment over a time window."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [{"properties": {"id": {"pattern": f"^(?:{'|'.join(SUSPECT_KINDS)}):"}}}],
            "if": {"properties": {"id": {"pattern": "^equipment:"}}},
            "then": {"allOf": [given("from"), given("to")]},
            "else": {"not": {"anyOf": [given("from"), given("to")]}},
        }
    )

    id: NodeId
    from_: Instant | None = Field(default=None, alias="from")
    to: Instant | None = None

    @model_validator(mode="after")
    def _window_for_equipment(self, info: ValidationInfo) -> Self:
        kind = self.id.partition(":")[0]
        if kind not in SUSPECT_KINDS:
            *others, last = SUSPECT_KINDS
            raise ValueError(f"a suspect is a {', '.join(others)} or {last}")
        window = self.from_ is not None and self.to is not None
        # Half a window on another suspect is never read: refused in events sent (one logged
        # before this rule still rebuilds).
        half = kind != "equipment" and _sent(info) and (self.from_, self.to) != (None, None)
        if (kind == "equipment") != window or half:
            raise ValueError(
                'an equipment suspect needs "from" and "to"; other suspects take neither'
            )
        if self.from_ and self.to and self.to < self.from_:
            raise ValueError('"to" is before "from"')
        return self


class RecallState(StrEnum):
    OPEN = "open"
    SCOPED = "scoped"
    HOLDING = "holding"
    NOTIFYING = "notifying"
    CLOSED = "closed"


class RecallOpen(Envelope):
    type: Literal["recall_open"]
    case: NewCaseId
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    reason: Reason
    suspects: Annotated[list[Suspect], Field(min_length=1, max_length=100)]


class RecallScope(Envelope):
    """Replace a case's suspects (narrow or widen it); the diff in scope is reported."""

    type: Literal["recall_scope"]
    case: Id
    reason: Reason
    suspects: Annotated[list[Suspect], Field(min_length=1, max_length=100)]


class RecallStateChange(Envelope):
    type: Literal["recall_state"]
    case: Id
    state: RecallState
    reason: Reason


class RecallHold(Envelope):
    """A case's hold: the items it quarantined, for the case's history (status events before
    it in its batch hold them, and name no case)."""

    type: Literal["recall_hold"]
    case: Id
    reason: Reason
    items: Annotated[list[ItemRef], Field(min_length=1)]


class RecallNotice(Envelope):
    type: Literal["recall_notice"]
    case: Id
    notice: Id
    customer: CompanyId
    message: Annotated[str, StringConstraints(min_length=1, max_length=5000)]


# A count that may be zero (what a customer found of a notice).
Count = Annotated[
    Decimal,
    Field(ge=0, allow_inf_nan=False, max_digits=28),
    BeforeValidator(_decimal_text),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "exclusiveMaximum": QTY_BELOW},
                {"type": "string", "pattern": COUNT_PATTERN},
            ]
        },
        mode="validation",  # written, a quantity is a string
    ),
]


class RecallAck(Envelope):
    """A customer's answer to a notice: how much of it they found and sent back."""

    type: Literal["recall_ack"]
    notice: Id
    found_qty: Count
    returned_qty: Count
    note: Text | None = None

    @field_validator("returned_qty")
    @classmethod
    def _returned_of_found(cls, returned: Decimal, info: ValidationInfo) -> Decimal:
        # On the field, so the refusal names it; for events sent only: an answer logged before
        # this rule still rebuilds.
        found = info.data.get("found_qty")
        if _sent(info) and found is not None and returned > found:
            raise PydanticCustomError(
                "returned_over_found",
                "{returned} returned is more than the {found} found (found_qty)",
                {"returned": plain(returned), "found": plain(found)},
            )
        return returned


# -- supplier requests and answers

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
DocumentName = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
]
# The allow-list of graph.documents.MEDIA_TYPES (a test keeps the two equal).
MediaType = Literal[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "text/csv",
    "application/json",
    "text/plain",
    "application/xml",
]


class RecallSupplierRequest(Envelope):
    """An analyst asks a supplier about one of their lots in a case: a question and a deadline."""

    type: Literal["recall_supplier_request"]
    case: Id
    supplier: CompanyId
    supplier_lot: Id
    question: Annotated[str, StringConstraints(min_length=1, max_length=5000)]
    due_by: Instant


class DocumentRef(Strict):
    """A document attached to an answer: its bytes are kept apart, by their sha256."""

    name: DocumentName
    media_type: MediaType
    size: Annotated[int, Field(gt=0, le=MAX_DOCUMENT_BYTES)]
    sha256: Sha256


class UpstreamLot(Strict):
    """One of the supplier's own upstream lots (raw material, heat) behind the lot they sent."""

    lot: Id
    heat: Id | None = None
    material: Annotated[str, StringConstraints(max_length=200)] | None = None
    qty: Qty | None = None
    unit: Unit | None = None
    certificate: Id | None = None
    made_on: Day | None = None
    note: Text | None = None


class RecallSupplierAnswer(Envelope):
    """A supplier's answer about one of their lots in a case; a later answer supersedes it."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["text"], "properties": {"text": {"pattern": NOT_BLANK}}},
                {"required": ["upstream"], "properties": {"upstream": {"minItems": 1}}},
                {"required": ["documents"], "properties": {"documents": {"minItems": 1}}},
            ]
        }
    )

    type: Literal["recall_supplier_answer"]
    case: Id
    supplier: CompanyId
    supplier_lot: Id
    text: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    upstream: Annotated[list[UpstreamLot], Field(max_length=200)] = []
    documents: Annotated[list[DocumentRef], Field(max_length=MAX_DOCUMENTS)] = []

    @model_validator(mode="after")
    def _says_something(self) -> Self:
        if not (self.text and self.text.strip()) and not self.upstream and not self.documents:
            raise _rule("text", "an answer needs a text, upstream lots or documents")
        digests = [d.sha256 for d in self.documents]
        if len(set(digests)) != len(digests):
            raise _rule("documents", "the same document is attached twice")
        return self


Event = Annotated[
    Receive
    | Split
    | Merge
    | Mix
    | Process
    | Serialize
    | Ship
    | SetStatus
    | CartDefine
    | CartLoad
    | CartUnload
    | Mark
    | Void
    | RecallOpen
    | RecallScope
    | RecallStateChange
    | RecallHold
    | RecallNotice
    | RecallAck
    | PartDefine
    | RecallSupplierRequest
    | RecallSupplierAnswer,
    Field(discriminator="type"),
]

EVENT_TYPES: tuple[str, ...] = (
    "receive",
    "split",
    "merge",
    "mix",
    "process",
    "serialize",
    "ship",
    "status",
    "cart_define",
    "cart_load",
    "cart_unload",
    "mark",
    "void",
    "recall_open",
    "recall_scope",
    "recall_state",
    "recall_hold",
    "recall_notice",
    "recall_ack",
    "part_define",
    "recall_supplier_request",
    "recall_supplier_answer",
)


class EventBatch(BaseModel):
    """The `{"events": [...]}` body form."""

    events: list[dict[str, Any]]
