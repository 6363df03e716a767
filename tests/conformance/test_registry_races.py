"""Two clashing schemes registered at once: one is saved, the other refused, on each store.

Each registration is held for a moment just after it has read the registry. Were the check and
the save not one transaction under the store's write lock, both would read the registry before
either saved, both checks would pass, and both schemes would be saved.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from graph.errors import Conflict
from graph.lot_codes import LotCodeService, LotSchemeSpec
from graph.store import GraphStore, WriteTx
from marking.models import SchemeSpec
from marking.service import MarkingService

T = TypeVar("T")
# Long enough for a second registration to reach the registry, were it free to read it.
HOLD_S = 1.0


class _Paused:
    """Delegate to an object, holding after each read of a registry until both callers read."""

    def __init__(self, inner: Any, meeting: threading.Barrier) -> None:
        self._inner = inner
        self._meeting = meeting

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name not in ("mark_schemes", "lot_schemes"):
            return found

        def read() -> Any:
            rows = found()
            # Broken when the other caller waits on the write lock: this one goes on alone.
            with contextlib.suppress(threading.BrokenBarrierError):
                self._meeting.wait(HOLD_S)
            return rows

        return read


class _PausedStore(_Paused):
    """A store whose registry reads, in or out of a write transaction, pause as above."""

    def write(self, work: Callable[[WriteTx], T]) -> T:
        store: GraphStore = self._inner
        return store.write(lambda tx: work(_Paused(tx, self._meeting)))  # type: ignore[arg-type]


def _race(register: Callable[[int], object]) -> list[str]:
    def attempt(n: int) -> str:
        try:
            register(n)
        except Conflict as error:
            return error.code
        return "saved"

    with ThreadPoolExecutor(max_workers=2) as pool:
        return sorted(pool.map(attempt, range(2)))


# Two schemes for one part family; one scheme name with two code lengths (both saved would mean
# the later silently replaced the codes of the first).
CLASHING_MARK_SCHEMES = [
    [SchemeSpec(name=f"S{n}", kind="sequential", length=3, parts=["SCREW-*"]) for n in range(2)],
    [SchemeSpec(name="S", kind="sequential", length=3 + n, parts=["SCREW-*"]) for n in range(2)],
]


@pytest.mark.parametrize("specs", CLASHING_MARK_SCHEMES, ids=["one family", "one name"])
def test_clashing_mark_schemes(store: GraphStore, specs: list[SchemeSpec]) -> None:
    paused: Any = _PausedStore(store, threading.Barrier(2))
    marking = MarkingService(paused)

    outcomes = _race(lambda n: marking.define_scheme(specs[n]))

    assert outcomes == ["saved", "scheme_conflict"]
    assert len(store.mark_schemes()) == 1


def test_two_lot_schemes_with_one_link_code(store: GraphStore) -> None:
    paused: Any = _PausedStore(store, threading.Barrier(2))
    codes = LotCodeService(paused)

    outcomes = _race(
        lambda n: codes.define(
            LotSchemeSpec(
                name=f"LOTS-{n}",
                company=f"COMPANY-{n}",
                pattern="{link:X3}-{seq:N4}" if n else "{seq:N4}/{link:X3}",
                link_field="link",
                link_code="AC7",
            )
        )
    )

    assert outcomes == ["lot_scheme_conflict", "saved"]
    assert len(store.lot_schemes()) == 1
