"""The UDI of a lot or serial, as GraphQL shows it on items."""

from __future__ import annotations

import strawberry

from graph import udi


@strawberry.type(
    description="Unique Device Identification: the GTIN (DI) and the lot, serial and dates (PI)."
)
class Udi:
    di: str = strawberry.field(description="The UDI-DI: the part's GTIN-14.")
    pi: str | None = strawberry.field(
        description="The UDI-PI in bracketed form, e.g. (17)301231(10)L7(21)S9; null where it "
        "would read as another identifier (a lot holding '(21)', say)."
    )
    element_string: str = strawberry.field(
        description="As a GS1 DataMatrix encodes it, FNC1 as the ASCII group separator."
    )
    human_readable: str | None = strawberry.field(
        description="As printed under the barcode; null where it would read as another identifier."
    )
    digital_link: str = strawberry.field(description="As a GS1 Digital Link URI.")

    @classmethod
    def of(cls, found: udi.Udi) -> Udi:
        return cls(
            di=found.di,
            pi=found.pi,
            element_string=found.element_string,
            human_readable=found.human_readable,
            digital_link=found.digital_link,
        )
