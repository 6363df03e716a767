"""What the Neo4j driver writes to its debug log when ingest sends a batch.

The driver formats every statement it sends for its debug log, parameters included, before the
logger checks its level. List parameters (a batch's rows, the gids it reads) therefore say only
how long they are: formatting the rows cost CPU on every batch, and at debug level it would
copy item data into the log.
"""

from __future__ import annotations

import logging

import pytest

from ingest.service import IngestService
from tests.conftest import neo4j_or_skip
from tests.fixtures.events import Events


@pytest.mark.neo4j
def test_a_batch_sends_its_rows_without_writing_them_to_the_debug_log(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    from graph.neo4j_store import Neo4jStore

    target = neo4j_or_skip(request)
    store = Neo4jStore(target.uri, user=target.user, password=target.password)
    events = Events()
    try:
        store.wipe()
        with caplog.at_level(logging.DEBUG, logger="neo4j"):
            IngestService(store).ingest(
                [events.receive(f"LOG-{n}", 5, supplier_lot=f"SL-{n}") for n in range(40)]
            )
        assert store.nodes(["lot:LOG-39"]), "the rows reached the server"
    finally:
        store.close()
    sent = [r.getMessage() for r in caplog.records if " C: RUN " in r.getMessage()]
    assert sent, "the driver logged the statements it sent"
    assert any("[40 items]" in line for line in sent)
    assert not any("LOG-39" in line for line in sent)
