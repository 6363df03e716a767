"""The lots of the serials an EPCIS document names with a lot are read from the store in one
call for all of them, and only those the caller may see are told (api.access)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.access import Access
from api.auth.embedded import EmbeddedAccountStore
from api.auth.models import Principal, Role
from api.auth.service import AuthService
from api.deps import Services
from graph.store import GraphStore
from ingest.service import IngestService
from tests.api.conftest import FAST_HASHER
from tests.fixtures.events import Events


class Counted:
    """A store whose every call is counted, by name."""

    def __init__(self, store: GraphStore) -> None:
        self._store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if not callable(found):
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return found(*args, **kwargs)

        return counted


def _serial_lots(store: GraphStore, tmp_path: Path, who: Principal) -> tuple[Any, list[str]]:
    accounts = EmbeddedAccountStore(tmp_path / "accounts.db")
    services = Services.for_stores(store, accounts, AuthService(accounts, hasher=FAST_HASHER))
    counted = Counted(store)
    access = Access(
        who,
        counted,  # type: ignore[arg-type]
        services.ingest,
        services.auth,
        services.marking,
        services.identifiers,
    )
    serials = [f"SN-{n}" for n in range(1, 9)] + ["SN-NONE", "L-1"]
    try:
        return access._serial_lots(serials), counted.calls
    finally:
        accounts.close()


def test_the_lots_of_many_serials_are_read_in_one_call(
    store: GraphStore, events: Events, tmp_path: Path
) -> None:
    IngestService(store).ingest(
        [
            events.receive("L-1", 10, site="PLANT-1"),
            events.receive("L-2", 10, supplier_lot="A-2", site="PLANT-2"),
            events("serialize", lot="L-1", serials=[f"SN-{n}" for n in range(1, 5)]),
            events("serialize", lot="L-2", serials=["SN-5", "SN-6"], site="PLANT-2"),
            events("serialize", lot="L-1", serials=["SN-7"], site="PLANT-2"),
            events("serialize", lot="L-2", serials=["SN-8"], site="PLANT-1"),
        ]
    )
    analyst = Principal("ana", Role.ANALYST)
    lots, calls = _serial_lots(store, tmp_path, analyst)
    assert lots == {f"SN-{n}": "L-1" for n in (1, 2, 3, 4, 7)} | {
        f"SN-{n}": "L-2" for n in (5, 6, 8)
    }
    assert len(calls) == 1, calls
    # A site's operator is told the lots of the serials and lots of their site alone: SN-5,
    # SN-6 and SN-7, of the other site, are not there for them; SN-8 is of theirs, but L-2,
    # which it was made from, is the other site's: it reads as a serial of no lot.
    operator = Principal("otto", Role.OPERATOR, site="PLANT-1")
    lots, calls = _serial_lots(store, tmp_path, operator)
    assert lots == {f"SN-{n}": "L-1" for n in range(1, 5)}
    assert len(calls) == 1, calls
