from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scheduler.errors import InstanceFormatError, InvalidProblem
from scheduler.models import Problem
from scheduler.readers import (
    guess_format,
    load_problem,
    parse_problem,
    read_fjsp,
    read_json,
    read_jsp,
)
from tests.scheduler.conftest import FT06


def test_jsp_reads_jobs_machines_and_times() -> None:
    p = read_jsp(FT06, "ft06")
    assert len(p.orders) == 6 and len(p.machines) == 6
    first = p.orders[0].operations[0].alternatives[0]
    assert (first.machine, first.unit_time) == ("m2", 1)


def test_jsp_allows_reentrant_jobs_of_varying_length() -> None:
    p = read_jsp("2 2\n0 3 1 2 0 4\n1 5\n")
    assert [len(o.operations) for o in p.orders] == [3, 1]


def test_jsp_names_the_bad_line() -> None:
    with pytest.raises(InstanceFormatError, match="line 3"):
        read_jsp("2 2\n0 3 1 2\n0 x\n")


def test_jsp_rejects_machine_out_of_range() -> None:
    with pytest.raises(InstanceFormatError, match=r"outside 0\.\.1"):
        read_jsp("1 2\n2 3\n")


def test_fjsp_is_one_based_with_alternatives() -> None:
    p = read_fjsp("2 3 1.5\n2 2 1 5 3 4 1 2 6\n1 1 3 1\n")
    alts = p.orders[0].operations[0].alternatives
    assert [(a.machine, a.unit_time) for a in alts] == [("m1", 5), ("m3", 4)]
    assert [m.id for m in p.machines] == ["m1", "m2", "m3"]


def test_fjsp_rejects_leftover_numbers() -> None:
    with pytest.raises(InstanceFormatError, match="left over"):
        read_fjsp("1 2\n1 1 1 5 7\n")


def test_json_names_the_wrong_field() -> None:
    with pytest.raises(InvalidProblem, match="machines"):
        read_json('{"machines": [], "orders": []}')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"machines": [{"id": "a"}], "machines": []}', "'machines' appears twice"),
        ('{"machines": [], "orders": [], "due": 0.1000000000000000000001}', "more digits"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"machines": [}', "not valid JSON"),
    ],
)
def test_json_is_read_as_strictly_as_a_body(text: str, message: str) -> None:
    with pytest.raises(InvalidProblem, match=message):
        read_json(text)


def test_json_rejects_unknown_machine() -> None:
    text = '{"machines": [{"id": "a"}], "orders": [{"id": "o", "operations": [{"alternatives": [{"machine": "b", "unit_time": 1}]}]}]}'  # noqa: E501
    with pytest.raises(InvalidProblem, match="unknown machine 'b'"):
        read_json(text)


def test_format_is_guessed_from_suffix_and_header(tmp_path: Path) -> None:
    assert guess_format(Path("x.fjs"), "") == "fjsp"
    assert guess_format(Path("x.txt"), "10 6 2\n") == "fjsp"
    assert guess_format(Path("x.txt"), "6 6\n") == "jsp"
    f = tmp_path / "ft06.txt"
    f.write_text(FT06)
    assert load_problem(f).name == "ft06"


def test_missing_file_is_invalid_problem(tmp_path: Path) -> None:
    with pytest.raises(InvalidProblem, match="cannot read"):
        load_problem(tmp_path / "nope.txt")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 1000000\n0 3\n", "line 1: 1000000 machines, expected 1 to 1,000"),
        ("0 2\n", "line 1: 0 jobs, expected 1 to 10,000"),
        ("10001 2\n0 3\n", "line 1: 10001 jobs, expected 1 to 10,000"),
        ("1 0\n0 3\n", "line 1: 0 machines"),
        ("1 2\n0 10000000000000\n", r"line 2 \(job 0\): processing time 10000000000000 over"),
    ],
)
def test_jsp_counts_and_times_are_bounded_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(InstanceFormatError, match=message):
        read_jsp(text)


def test_jsp_operations_in_all_are_bounded_naming_the_line() -> None:
    job = " ".join(["0 1"] * 10_001)
    with pytest.raises(InstanceFormatError, match=r"line 3 \(job 1\): more than 20,000 operations"):
        read_jsp(f"2 1\n{job}\n{job}\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 1000000 1\n1 1 1 3\n", "line 1: 1000000 machines, expected 1 to 1,000"),
        ("0 2 1\n", "line 1: 0 jobs"),
        ("1 2 1\n1 1 1 10000000000000\n", r"line 2 \(job 0\): processing time"),
    ],
)
def test_fjsp_counts_and_times_are_bounded_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(InstanceFormatError, match=message):
        read_fjsp(text)


def test_fjsp_machine_alternatives_in_all_are_bounded_naming_the_line() -> None:
    # 101 operations on all 1,000 machines: 101,000 alternatives.
    operation = "1000 " + " ".join(f"{m} 1" for m in range(1, 1001))
    job = f"101 {' '.join([operation] * 101)}"
    with pytest.raises(InstanceFormatError, match=r"line 2 \(job 0\): more than 100,000"):
        read_fjsp(f"1 1000\n{job}\n")


@pytest.mark.parametrize(
    ("read", "text"),
    [(read_jsp, "1 2\n0 3\n\n1 4\n0 0 0\n"), (read_fjsp, "1 2 1\n1 1 1 3\n\n1 1 2 4\n")],
)
def test_lines_after_the_declared_jobs_are_refused_naming_the_first(
    read: Callable[[str], Problem], text: str
) -> None:
    with pytest.raises(InstanceFormatError, match=r"line 4: after the 1 jobs the header declares"):
        read(text)


def test_blank_lines_are_skipped_and_lines_keep_their_numbers_in_the_file() -> None:
    assert len(read_jsp("\n1 2\n\n0 3 1 4\n\n  \n").orders) == 1
    assert len(read_fjsp("1 2 1\n1 1 1 3\n\n\n").orders) == 1
    with pytest.raises(InstanceFormatError, match=r"line 4 \(job 1\)"):
        read_jsp("2 2\n0 3\n\n0 x\n")


def _plant(machines: list[str], orders: list[str], alternatives: list[str]) -> dict[str, object]:
    step = {"alternatives": [{"machine": m, "unit_time": 1} for m in alternatives]}
    return {
        "machines": [{"id": m} for m in machines],
        "orders": [{"id": o, "operations": [step]} for o in orders],
    }


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        (_plant(["a", "b", "a"], ["o"], ["a"]), "^machines: ids must be unique: 'a' at 0 and 2$"),
        (_plant(["a"], ["o", "o"], ["a"]), "^orders: ids must be unique: 'o' at 0 and 1$"),
        (
            _plant(["a"], ["o"], ["a", "a"]),
            r"^orders\.0\.operations\.0\.alternatives: machines must be unique: 'a' at 0 and 1$",
        ),
    ],
)
def test_repeated_ids_are_named_with_their_field(problem: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidProblem, match=message):
        parse_problem(problem)


def test_a_file_beginning_with_a_byte_order_mark_reads_as_without(tmp_path: Path) -> None:
    f = tmp_path / "ft06.txt"
    f.write_text(FT06, encoding="utf-8-sig")
    assert load_problem(f) == load_problem(_plain(tmp_path))
    # A byte that is not UTF-8 is named where it is in the file, the mark counted.
    f.write_bytes(b"\xef\xbb\xbf6 6\n\xff")
    with pytest.raises(InvalidProblem, match=r"is not UTF-8 text \(byte 7\)"):
        load_problem(f)


def _plain(tmp_path: Path) -> Path:
    f = tmp_path / "plain" / "ft06.txt"
    f.parent.mkdir()
    f.write_text(FT06, encoding="utf-8")
    return f


def _numbers_problem() -> dict[str, object]:
    """A problem with a value in each numeric field a problem holds."""
    return {
        "now": 0,
        "machines": [
            {
                "id": "m",
                "shifts": [{"start": 0, "end": 100}],
                "unavailable": [{"start": 5, "end": 6}],
            }
        ],
        "orders": [
            {
                "id": "a",
                "quantity": 2,
                "release": 0,
                "due": 50,
                "weight": 1,
                "operations": [
                    {
                        "alternatives": [{"machine": "m", "unit_time": 3, "fixed_time": 1}],
                        "setup": {"x": 2},
                        "setup_default": 1,
                        "min_wait": 0,
                        "max_wait": 10,
                        "transfer_qty": 1,
                    },
                    {"alternatives": [{"machine": "m", "unit_time": 1}]},
                ],
            }
        ],
        "objective": {"terms": [{"kind": "makespan", "weight": 1}]},
    }


NUMERIC_FIELDS: list[tuple[str | int, ...]] = [
    ("now",),
    ("machines", 0, "shifts", 0, "start"),
    ("machines", 0, "unavailable", 0, "end"),
    ("orders", 0, "quantity"),
    ("orders", 0, "release"),
    ("orders", 0, "due"),
    ("orders", 0, "weight"),
    ("orders", 0, "operations", 0, "alternatives", 0, "unit_time"),
    ("orders", 0, "operations", 0, "alternatives", 0, "fixed_time"),
    ("orders", 0, "operations", 0, "setup", "x"),
    ("orders", 0, "operations", 0, "setup_default"),
    ("orders", 0, "operations", 0, "min_wait"),
    ("orders", 0, "operations", 0, "max_wait"),
    ("orders", 0, "operations", 0, "transfer_qty"),
    ("objective", "terms", 0, "weight"),
]


@pytest.mark.parametrize("path", NUMERIC_FIELDS, ids=lambda p: ".".join(map(str, p)))
@pytest.mark.parametrize(
    ("value", "got"),
    [("1", "a string"), (True, "true"), (1.0, "a decimal number"), ([1], "a list")],
)
def test_a_number_given_as_anything_else_is_refused_naming_its_field(
    path: tuple[str | int, ...], value: object, got: str
) -> None:
    # Lax reading took "1" or true for 1: a typo, or a spreadsheet's text, planned as a time.
    problem = _numbers_problem()
    parse_problem(problem)  # as given, it reads
    node: Any = problem
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    where = ".".join(str(p) for p in path)
    with pytest.raises(InvalidProblem) as refused:
        read_json(json.dumps(problem))
    assert refused.value.message == f"{where}: expected an integer, got {got}"


def test_work_reported_on_one_machine_at_once_is_refused_naming_both() -> None:
    # Solved, the two reports ended the solve as infeasible; they are a wrong report.
    ops = [{"alternatives": [{"machine": "m", "unit_time": 5}]}]
    problem: dict[str, Any] = {
        "now": 10,
        "machines": [{"id": "m"}, {"id": "n"}],
        "orders": [
            {"id": "a", "operations": [ops[0] | {"actual_start": 0, "actual_end": 6}]},
            {"id": "b", "operations": [{"alternatives": [{"machine": "n", "unit_time": 1}]}]},
            {"id": "c", "operations": [ops[0] | {"actual_start": 4}]},
        ],
    }
    with pytest.raises(InvalidProblem) as refused:
        parse_problem(problem)
    assert refused.value.message == (
        "orders.2.operations.0: reported running on machine 'm' from 4 to 9, "
        "overlapping orders.0.operations.0 there from 0 to 6"
    )
    problem["orders"][2]["operations"][0]["actual_start"] = 6  # one after the other: read
    assert parse_problem(problem).orders[2].operations[0].actual_start == 6


@pytest.mark.parametrize(
    ("first", "then", "said"),
    [
        ({}, 2, "has not started"),
        ({"actual_start": 0, "actual_end": 8}, 5, r"ended at 8 \(its actual_end\)"),
        (
            {"actual_start": 5},
            5,
            r"started at 5 \(its actual_start\): operation 1 can start only after operation 0 "
            "started",
        ),
        (
            {"actual_start": 0},
            5,
            "started at 0 with no actual_end, so it runs until 10: give its actual_end",
        ),
    ],
)
def test_work_started_before_its_predecessor_ended_is_refused_naming_both(
    first: dict[str, int], then: int, said: str
) -> None:
    # Solved, each ended the solve as infeasible (a 'frozen' conflict): the reports are wrong.
    ops = [
        {"alternatives": [{"machine": "m", "unit_time": 10}]} | first,
        {"alternatives": [{"machine": "n", "unit_time": 1}], "actual_start": then},
    ]
    problem = {"now": 10, "machines": [{"id": "m"}, {"id": "n"}]}
    with pytest.raises(
        InvalidProblem,
        match=rf"^orders\.0\.operations\.1: order 'a' operation 1 started at {then}, but "
        rf"operation 0 before it {said}$",
    ):
        parse_problem(problem | {"orders": [{"id": "a", "operations": ops}]})


@pytest.mark.parametrize(
    "first",
    [
        {"actual_start": 0, "actual_end": 5},  # ended as the next started
        {"actual_start": 0},  # its run ends at 10, as the next starts
        {"actual_start": 0, "transfer_qty": 1},  # a transfer lot lets the next start early
    ],
)
def test_work_started_after_its_predecessor_let_it_reads(first: dict[str, int]) -> None:
    then = 5 if first != {"actual_start": 0} else 10
    ops = [
        {"alternatives": [{"machine": "m", "unit_time": 10}]} | first,
        {"alternatives": [{"machine": "n", "unit_time": 1}], "actual_start": then},
    ]
    problem = {"now": 10, "machines": [{"id": "m"}, {"id": "n"}]}
    read = parse_problem(problem | {"orders": [{"id": "a", "operations": ops}]})
    assert read.orders[0].operations[1].actual_start == then
