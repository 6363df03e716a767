"""GraphQL for lot code schemes: decode a lot code, mint our lots, register schemes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Annotated, TypeVar

import strawberry
from pydantic import ValidationError
from strawberry.types import Info

from api.graphql.context import Context
from api.graphql.nodes import SupplierLot
from api.graphql.run import as_graphql_error, run
from api.validation_text import problem_text
from graph import lot_codes
from graph.errors import BadRequest, Conflict, DomainError, NotFound
from ingest.lot_pattern import PatternError

T = TypeVar("T")


@strawberry.type(description="A named part of a lot code; dates also as ISO dates.")
class LotField:
    name: str
    value: str
    as_date: str | None = strawberry.field(name="date", description="ISO date of a date field.")

    @classmethod
    def all(cls, values: dict[str, str | date]) -> list[LotField]:
        return [
            cls(
                name=name,
                value=value.isoformat() if isinstance(value, date) else value,
                as_date=value.isoformat() if isinstance(value, date) else None,
            )
            for name, value in values.items()
        ]


@strawberry.type(description="A partner lot in our graph that a decoded code may come from.")
class LotCandidate:
    supplier_lot: SupplierLot
    received_at: str | None
    lots: list[strawberry.ID] = strawberry.field(description="Our lots received from it.")
    confirmed: bool = strawberry.field(
        description="True when the code is a lot of ours and this lot is upstream of it."
    )
    fields: list[LotField] = strawberry.field(description="Its own code, read by its scheme.")


@strawberry.type(description="A lot code read by one registered scheme.")
class LotMatch:
    scheme: str
    company: str
    fields: list[LotField]
    link_code: str
    link_position: str
    partner: str | None = strawberry.field(description="The company the link code points to.")
    candidates: list[LotCandidate]
    truncated: bool = strawberry.field(
        description=f"True when the list was cut: lots past the {lot_codes.MAX_CANDIDATES} "
        "surest listed may be it too."
    )

    @classmethod
    def of(cls, match: lot_codes.Match) -> LotMatch:
        return cls(
            scheme=match.scheme.name,
            company=match.scheme.spec.company,
            fields=LotField.all(match.fields),
            link_code=match.link_code,
            link_position=match.scheme.link_position,
            partner=match.partner,
            candidates=[
                LotCandidate(
                    supplier_lot=SupplierLot(view=c.supplier_lot),
                    received_at=c.received_at,
                    lots=[strawberry.ID(lot) for lot in c.lots],
                    confirmed=c.confirmed,
                    fields=LotField.all(c.fields),
                )
                for c in match.candidates
            ],
            truncated=match.truncated,
        )


@strawberry.type(description="Why one scheme does not read a code.")
class LotMiss:
    scheme: str
    reason: str


@strawberry.type
class LotDecoding:
    code: str
    matches: list[LotMatch]
    misses: list[LotMiss]


@strawberry.type(description="A company's lot code scheme and its link code.")
class LotScheme:
    name: str
    company: str
    pattern: str
    length: int
    link_field: str
    link_code: str
    link_position: str
    sequence_field: str | None
    description: str | None

    @classmethod
    def of(cls, scheme: lot_codes.LotScheme) -> LotScheme:
        return cls(
            name=scheme.name,
            company=scheme.spec.company,
            pattern=scheme.spec.pattern,
            length=scheme.pattern.length,
            link_field=scheme.spec.link_field,
            link_code=scheme.spec.link_code,
            link_position=scheme.link_position,
            sequence_field=scheme.sequence,
            description=scheme.spec.description,
        )


@strawberry.type(description="Our next lot code, with the partner's link code in it.")
class MintedLot:
    code: str
    scheme: str
    sequence: int
    link_code: str
    partner: str


@strawberry.type(description="A refused scheme or mint; `field` names the value at fault.")
class LotCodeRefused:
    code: str
    message: str
    field: str | None


@strawberry.input
class LotFieldInput:
    name: str
    value: str


@strawberry.input
class LotSchemeInput:
    name: str
    company: str
    pattern: str
    link_field: str
    link_code: str
    sequence_field: str | None = None
    description: str | None = None


MintLotResult = Annotated[MintedLot | LotCodeRefused, strawberry.union("MintLotResult")]
DefineLotSchemeResult = Annotated[
    LotScheme | LotCodeRefused, strawberry.union("DefineLotSchemeResult")
]


async def _refusable(work: Callable[[], T]) -> T | LotCodeRefused:
    """Run service work; refusals of the input come back typed, others as GraphQL errors."""
    try:
        return await asyncio.to_thread(work)
    except PatternError as error:
        return LotCodeRefused(code=error.code, message=error.message, field=error.field)
    except ValidationError as error:
        # A scheme's settings are read by its model (a link code over 64 characters, a name
        # with a control character): refused by name, as REST and the command line refuse them.
        first = error.errors(include_url=False, include_input=False)[0]
        where = str(first["loc"][0]) if first["loc"] else None
        return LotCodeRefused(code=BadRequest.code, message=problem_text(first), field=where)
    except (Conflict, NotFound, BadRequest) as error:
        return LotCodeRefused(code=error.code, message=error.message, field=None)
    except DomainError as error:
        raise as_graphql_error(error) from error


@strawberry.type
class LotCodeQuery:
    @strawberry.field(
        description="Decode a lot code with every registered scheme: its parts, the partner "
        "its link code points to, and that partner's lots in our graph it may come from."
    )
    async def decode_lot(self, info: Info[Context, None], code: str) -> LotDecoding | None:
        found = await run(lambda: info.context.access.decode_lot(code))
        if found is None:
            return None
        return LotDecoding(
            code=found.code,
            matches=[LotMatch.of(m) for m in found.matches],
            misses=[LotMiss(scheme=k, reason=v) for k, v in found.misses.items()],
        )

    @strawberry.field(description="The registered lot code schemes.")
    async def lot_schemes(self, info: Info[Context, None]) -> list[LotScheme]:
        found = await run(info.context.access.lot_schemes)
        return [LotScheme.of(s) for s in found or []]


@strawberry.type
class LotCodeMutation:
    @strawberry.mutation(description="Mint our next lot code with a partner's link code in it.")
    async def mint_lot(
        self,
        info: Info[Context, None],
        scheme: str,
        partner: str,
        values: list[LotFieldInput] | None = None,
    ) -> MintLotResult:
        given: dict[str, str | date] = {}
        for value in values or []:
            # Which of two values the caller meant is not ours to guess.
            if value.name in given:
                message = f'values: field "{value.name}" is given twice'
                return LotCodeRefused(code=BadRequest.code, message=message, field=value.name)
            given[value.name] = value.value
        found = await _refusable(lambda: info.context.access.mint_lot(scheme, partner, given))
        if isinstance(found, LotCodeRefused):
            return found
        return MintedLot(
            code=found.code,
            scheme=found.scheme,
            sequence=found.sequence,
            link_code=found.link_code,
            partner=found.partner,
        )

    @strawberry.mutation(description="Register a company's lot code scheme (admins).")
    async def define_lot_scheme(
        self, info: Info[Context, None], scheme: LotSchemeInput
    ) -> DefineLotSchemeResult:
        def work() -> lot_codes.LotScheme:
            spec = lot_codes.LotSchemeSpec(**strawberry.asdict(scheme))
            return info.context.access.define_lot_scheme(spec)

        found = await _refusable(work)
        return found if isinstance(found, LotCodeRefused) else LotScheme.of(found)
