"""GraphQL for GS1 identifiers: resolve a scanned code, and the part registry."""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.nodes import Lot, Part, Serial, SupplierLot
from api.graphql.run import as_graphql_error, run
from graph.errors import DomainError
from graph.udi import Resolved
from ingest.gs1 import Gs1Error


@strawberry.type(description="One application identifier of a code and its value.")
class GsElement:
    ai: str
    value: str


@strawberry.type(description="A scanned GS1 code and the part, lot and serial it names.")
class IdentifierResolution:
    code: str
    gtin: str | None
    lot_code: str | None = strawberry.field(description="The lot (AI 10) as the code gives it.")
    serial_code: str | None = strawberry.field(description="The serial (AI 21).")
    expiry: str | None = strawberry.field(description="AI 17, as an ISO date.")
    manufactured: str | None = strawberry.field(
        description="AI 11, as an ISO date; YYYY-MM where the code gives no day (DD 00)."
    )
    elements: list[GsElement]
    element_string: str
    human_readable: str | None  # None where the bracketed form would read otherwise
    digital_link: str | None
    part: Part | None
    lot: Lot | None
    serial: Serial | None
    supplier_lot: SupplierLot | None
    notes: list[str]

    @classmethod
    def of(cls, found: Resolved) -> IdentifierResolution:
        data = found.data
        return cls(
            code=found.code,
            gtin=data.gtin,
            lot_code=data.lot,
            serial_code=data.serial,
            expiry=None if data.expiry is None else data.expiry.isoformat(),
            manufactured=None if data.production is None else data.production.isoformat(),
            elements=[GsElement(ai=ai, value=value) for ai, value in data.values.items()],
            element_string=data.element_string(),
            human_readable=data.readable(),
            digital_link=found.digital_link,
            part=None if found.part is None else Part(view=found.part),
            lot=None if found.lot is None else Lot(view=found.lot),
            serial=None if found.serial is None else Serial(view=found.serial),
            supplier_lot=None
            if found.supplier_lot is None
            else SupplierLot(view=found.supplier_lot),
            notes=[note.text for note in found.notes],
        )


@strawberry.type(description="A code that is not a valid GS1 identifier; the message says why.")
class BadIdentifier:
    code: str
    message: str


ResolveIdentifierResult = Annotated[
    IdentifierResolution | BadIdentifier, strawberry.union("ResolveIdentifierResult")
]


@strawberry.type
class IdentifierQuery:
    @strawberry.field(
        description="Resolve a scanned GS1 code (Digital Link, element string or GTIN) to our "
        "part, lot and serial, as far as the caller may see them."
    )
    async def resolve_identifier(
        self, info: Info[Context, None], code: str
    ) -> ResolveIdentifierResult:
        try:
            found = await asyncio.to_thread(info.context.access.resolve_identifier, code)
        except Gs1Error as error:
            return BadIdentifier(code=error.code, message=error.message)
        except DomainError as error:
            raise as_graphql_error(error) from error
        return IdentifierResolution.of(found)

    @strawberry.field(description="The part registry, with GTINs.")
    async def parts(self, info: Info[Context, None]) -> list[Part]:
        found = await run(info.context.access.parts)
        return [Part(view=view) for view in found or []]
