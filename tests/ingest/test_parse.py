"""Body forms and contract errors, without a store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.errors import BatchRejected
from ingest.parse import parse_events, read_body

EVENT = {
    "event_id": "E-1",
    "type": "status",
    "occurred_at": "2026-01-01T00:00:00Z",
    "target": {"lot": "L-1"},
    "status": "recalled",
    "reason": "supplier notice",
}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps([EVENT]),
        json.dumps({"events": [EVENT]}),
        json.dumps(EVENT),
        json.dumps(EVENT) + "\n\n",
    ],
)
def test_body_forms(text: str) -> None:
    assert read_body(text) == [EVENT]


@pytest.mark.parametrize("extra", [{"dry_run": True}, {"evnets": []}])
def test_a_body_object_with_more_than_its_events_is_refused_by_name(
    extra: dict[str, object],
) -> None:
    # A flag the service does not know (a dry run, say) would pass silently and the batch be
    # written.
    with pytest.raises(BatchRejected) as refused:
        read_body(json.dumps({"events": [EVENT], **extra}))
    ((key, _),) = extra.items()
    assert [(p.field, p.code) for p in refused.value.problems] == [(key, "extra_forbidden")]


def test_ndjson_error_names_the_line() -> None:
    with pytest.raises(BatchRejected, match="line 2: not valid JSON"):
        read_body(json.dumps(EVENT) + "\n{oops\n")


@pytest.mark.parametrize("inside", ["\u2028", "\u2029", "\x85"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_ndjson_lines_end_only_at_a_line_feed(inside: str, newline: str) -> None:
    # Other line breaks Python knows (U+2028, NEL, ...) may stand raw inside a JSON string.
    noted = dict(EVENT, event_id="E-2", note=f"one{inside}two")
    text = newline.join(json.dumps(e, ensure_ascii=False) for e in (noted, EVENT, noted))
    assert read_body(text + newline) == [noted, EVENT, noted]


def test_a_document_over_several_lines_is_told_where_it_breaks() -> None:
    # Not NDJSON (its first line is no JSON value alone): the error is the whole body's.
    text = json.dumps({"events": [EVENT, EVENT]}, indent=2)
    broken = text.replace('"type"', '"type",', 1)
    line = broken[: broken.index('"type",')].count("\n") + 1
    where = rf"not valid JSON \(.*: line {line} column"
    with pytest.raises(BatchRejected, match=where) as caught:
        read_body(broken)
    assert not caught.value.problems[0].message.startswith("line 1:")


def test_contract_errors_name_index_and_nested_field() -> None:
    bad = dict(EVENT, target={"lot": "L-1", "serial": "S-1"}, status="lost")
    with pytest.raises(BatchRejected) as caught:
        parse_events([EVENT, bad])
    fields = sorted((p.index, p.field) for p in caught.value.problems)
    assert fields == [(1, "status"), (1, "target")]


AT = "2026-01-01T00:00:00Z"
ANSWER = {"case": "RC-1", "supplier": "ACME", "supplier_lot": "A-1"}
DOCUMENT = {"name": "cert.pdf", "media_type": "application/pdf", "size": 3, "sha256": "a" * 64}


@pytest.mark.parametrize(
    ("event", "field", "message"),
    [
        (
            {"type": "process", "step": "S-1", "operation": "cut"},
            "inputs",
            "a process needs inputs or outputs",
        ),
        (
            {"type": "process", "step": "S-1", "operation": "cut", "inputs": [], "outputs": []},
            "inputs",
            "a process needs inputs or outputs",
        ),
        (
            {"type": "cart_define", "cart": "C-1", "seq": 2},
            "seq",
            "a number in a group needs the group",
        ),
        (
            {"type": "cart_define", "cart": "C-1", "compartments": ["A", "A"]},
            "compartments",
            "compartments are listed once each",
        ),
        (
            {"type": "recall_supplier_answer", **ANSWER, "text": " "},
            "text",
            "an answer needs a text, upstream lots or documents",
        ),
        (
            {"type": "recall_supplier_answer", **ANSWER, "documents": [DOCUMENT, DOCUMENT]},
            "documents",
            "the same document is attached twice",
        ),
    ],
)
def test_a_rule_over_several_fields_names_the_field_it_refuses(
    event: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(BatchRejected) as caught:
        parse_events([EVENT, {"event_id": "E-2", "occurred_at": AT, **event}])
    assert [(p.index, p.field, p.code, p.message) for p in caught.value.problems] == [
        (1, field, "value_error", message)
    ]


def test_control_characters_and_long_ids_are_refused() -> None:
    with pytest.raises(BatchRejected) as caught:
        parse_events([dict(EVENT, event_id="a\nb"), dict(EVENT, event_id="x" * 201)])
    assert [p.code for p in caught.value.problems] == ["string_pattern_mismatch", "string_too_long"]


@pytest.mark.parametrize(
    ("char", "name"),
    [
        ("\x85", "U+0085 (unnamed)"),  # C1 controls have no name of their own
        ("\x9b", "U+009B (unnamed)"),
        ("\u2028", "U+2028 (LINE SEPARATOR)"),
        ("\u202e", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("\u00a0", "U+00A0 (NO-BREAK SPACE)"),
        ("\u200b", "U+200B (ZERO WIDTH SPACE)"),
    ],
)
def test_ids_of_events_sent_are_printable(char: str, name: str) -> None:
    bad = [
        dict(EVENT, event_id=f"E{char}1"),
        dict(EVENT, target={"lot": f"L{char}1"}),
        {
            "event_id": "E-3",
            "type": "ship",
            "occurred_at": "2026-01-01T00:00:00Z",
            "shipment": "SH-1",
            "customer": f"HOSP{char}N",
            "items": [{"serial": "S-1"}],
        },
    ]
    with pytest.raises(BatchRejected) as caught:
        parse_events(bad)
    problems = caught.value.problems
    assert [(p.index, p.field, p.code) for p in problems] == [
        (0, "event_id", "not_printable"),
        (1, "target.lot", "not_printable"),
        (2, "customer", "not_printable"),
    ]
    assert problems[0].message == f"an id is printable characters: {name} is not"


def test_a_company_id_holding_a_slash_is_refused_by_its_reason() -> None:
    ship = {
        "event_id": "E-4",
        "type": "ship",
        "occurred_at": "2026-01-01T00:00:00Z",
        "shipment": "SH-1",
        "customer": "HOSP/NORTH",
        "items": [{"serial": "S-1"}],
    }
    with pytest.raises(BatchRejected) as caught:
        parse_events([ship])
    (problem,) = caught.value.problems
    assert (problem.field, problem.code) == ("customer", "company_slash")
    assert '"/"' in problem.message and "supplier_lot:SUPPLIER/LOT" in problem.message
    assert "pattern" not in problem.message


def test_ids_may_hold_spaces_and_letters_of_any_script() -> None:
    fine = dict(EVENT, event_id="Überprüfung 7", target={"lot": "ЛОТ 1 (B)"})
    assert parse_events([fine])[0].event_id == "Überprüfung 7"


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a": 1}\n' + "[" * 100_000])
def test_a_body_nested_too_deeply_is_refused_by_name(text: str) -> None:
    with pytest.raises(BatchRejected) as refused:
        read_body(text)
    assert refused.value.problems[0].code == "too_deep"
    assert read_body(json.dumps([EVENT])) == [EVENT]  # positive control


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[{"event_id": "E-1", "reason": "bad \\ud800 text"}]', "[0].reason"),
        ('{"events": [{"a": {"b": ["ok", "\\udfff"]}}]}', "events[0].a.b[1]"),
        ('{"type": "status", "\\udc00": 1}', "(key)"),
        ('{"a": 1}\n{"reason": "\\uDBFF"}', "reason"),
    ],
)
def test_half_a_surrogate_pair_is_refused_by_name(text: str, field: str) -> None:
    with pytest.raises(BatchRejected) as refused:
        read_body(text)
    problem = refused.value.problems[0]
    assert (problem.code, problem.field) == ("not_text", field)
    assert problem.message.startswith("line 2: ") == text.startswith('{"a": 1}\n')


def test_whole_surrogate_pairs_and_escaped_backslashes_are_text() -> None:
    # A pair is one character (an emoji here); an escaped backslash before "ud800" is text too.
    body = read_body('[{"reason": "\\ud83d\\ude00 and \\\\ud800"}]')
    assert body == [{"reason": "\U0001f600 and \\ud800"}]


@pytest.mark.parametrize(
    "text", ['[{"qty": 1%s}]' % ("0" * 5000), '{"a": 1}\n{"b": 1%s}' % ("0" * 5000)]
)
def test_a_number_too_long_to_read_is_refused_by_name(text: str) -> None:
    with pytest.raises(BatchRejected) as refused:
        read_body(text)
    assert refused.value.problems[0].code == "too_long"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[{"event_id": "E-1", "event_id": "E-2"}]', None),
        ('{"events": [{"target": {"lot": "L-1", "lot": "L-2"}}]}', None),
        (json.dumps(EVENT) + '\n{"type": "status", "type": "void"}', 2),
    ],
)
def test_a_key_twice_in_an_event_is_refused_by_name(text: str, line: int | None) -> None:
    with pytest.raises(BatchRejected) as refused:
        read_body(text)
    problem = refused.value.problems[0]
    assert problem.code == "duplicate_key"
    assert problem.message.startswith("line 2: ") == (line == 2)


def test_a_quantity_a_float_cannot_hold_is_refused_by_name() -> None:
    with pytest.raises(BatchRejected) as refused:
        read_body('[{"type": "receive", "qty": 1.00000000000000001}]')
    problem = refused.value.problems[0]
    assert problem.code == "not_exact"
    assert problem.message == (
        "the number 1.00000000000000001 has more digits than a JSON number is read with here:"
        " send it as a string"
    )


def test_a_refusal_names_at_most_a_thousand_problems_and_says_what_it_left() -> None:
    with pytest.raises(BatchRejected) as refused:
        parse_events([1.5] * 5000)
    problems = refused.value.problems
    assert len(problems) == 1001 and problems[999].index == 999
    assert (problems[-1].code, problems[-1].message) == (
        "too_many_problems",
        "4000 more events were not checked (at most 1000 problems are named)",
    )


def test_a_refusal_of_the_graphs_rules_is_cut_the_same_way(tmp_path: Path) -> None:
    from graph.embedded_store import EmbeddedStore
    from ingest.service import IngestService
    from tests.fixtures.events import Events

    events = Events("U")
    store = EmbeddedStore(tmp_path / "many.db")
    batch = [
        events("split", lot=f"NONE-{i}", into=[{"lot": f"C-{i}", "qty": "1"}]) for i in range(1200)
    ]
    with pytest.raises(BatchRejected) as refused:
        IngestService(store).ingest(batch)
    problems = refused.value.problems
    assert len(problems) == 1001 and {p.code for p in problems[:1000]} == {"unknown_item"}
    assert (
        problems[-1].message == "200 more problems are not named (at most 1000 problems are named)"
    )
    assert store.events(0, 10) == []
    store.close()


@pytest.mark.parametrize("body", [json.dumps([EVENT]), json.dumps(EVENT) + "\r\n"])
def test_a_byte_order_mark_before_the_body_is_skipped(body: str) -> None:
    assert read_body("\ufeff" + body) == [EVENT]


def test_a_byte_order_mark_does_not_make_json_arrays_read_as_lines() -> None:
    # Two arrays one per line are no NDJSON of events, with a mark before them or not.
    for body in ("[1]\n[2]", "\ufeff[1]\n[2]"):
        with pytest.raises(BatchRejected) as refused:
            read_body(body)
        assert refused.value.problems[0].code == "not_json", body
