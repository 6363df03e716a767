"""How GraphQL arguments name a recall case: the id answers give, or the case's key."""

from __future__ import annotations

from typing import Annotated

import strawberry

# Read by RecallService.case_key at each entry, so an id taken from one answer names the case in
# the next request, and the events written carry the key.
CaseArgument = Annotated[
    str,
    strawberry.argument(
        description="The case: its id as answers give it (case:RC-1), or its key (RC-1); "
        "where one names two cases you may act on, the id reading wins."
    ),
]
NewCaseArgument = Annotated[
    str,
    strawberry.argument(
        description='The new case\'s key (RC-1; its id is then case:RC-1): not beginning "case:".'
    ),
]
