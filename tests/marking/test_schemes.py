"""Code schemes: codes by index and back, capacity, families, and settings that are refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from marking.errors import SchemeExhausted
from marking.models import LOOKALIKE_FREE, SchemeSpec
from marking.schemes import Scheme, family_scheme


def _scheme(**fields: object) -> Scheme:
    return Scheme(SchemeSpec.model_validate({"name": "S", **fields}))


def test_sequential_letters_count_as_plants_stamp() -> None:
    scheme = _scheme(kind="sequential", length=3)
    assert [scheme.code_for(i) for i in (0, 1, 25, 26)] == ["AAA", "AAB", "AAZ", "ABA"]
    assert scheme.capacity == 17_576
    assert scheme.code_for(17_575) == "ZZZ"
    assert _scheme(kind="sequential", length=4).capacity == 456_976


def test_running_out_is_an_error_not_a_wrap() -> None:
    scheme = _scheme(kind="sequential", length=2, capacity=3)
    assert scheme.code_for(2) == "AC"
    with pytest.raises(SchemeExhausted, match="all of its 3 codes"):
        scheme.code_for(3)
    assert scheme.problem("AD") is not None


def test_codes_read_back_to_their_index() -> None:
    for scheme in (
        _scheme(kind="sequential", length=3, check=True),
        _scheme(kind="hashids", salt="plant 7", capacity=100_000, check=True),
        _scheme(kind="hashids", salt="plant 7", capacity=100_000, min_length=5),
    ):
        for index in (0, 1, 977, 99_999 % scheme.capacity):
            assert scheme.index_of(scheme.code_for(index)) == index


def test_hashids_codes_avoid_lookalikes() -> None:
    scheme = _scheme(kind="hashids", salt="plant 7", capacity=50_000, min_length=4)
    codes = {scheme.code_for(i) for i in range(0, 50_000, 97)}
    assert all(set(code) <= set(LOOKALIKE_FREE) for code in codes)
    assert all(len(code) >= 4 for code in codes)
    assert not set("0O1IL2Z5S8B") & set(LOOKALIKE_FREE)


def test_another_salt_gives_other_codes() -> None:
    first = _scheme(kind="hashids", salt="plant 7", capacity=10)
    second = _scheme(kind="hashids", salt="plant 8", capacity=10)
    assert first.code_for(3) != second.code_for(3)
    assert second.index_of(first.code_for(3)) != 3


def test_problem_names_what_is_wrong() -> None:
    scheme = _scheme(kind="sequential", length=3, check=True)
    good = scheme.code_for(42)
    assert scheme.problem(good) is None
    assert "outside the alphabet" in (scheme.problem("AA1A") or "")
    assert "4 characters long" in (scheme.problem("AAAAA") or "")
    wrong = good[:-1] + ("A" if good[-1] != "A" else "B")
    assert "check character" in (scheme.problem(wrong) or "")


def test_family_takes_the_exact_part_over_the_longest_prefix() -> None:
    wide = _scheme(kind="sequential", length=3, parts=["SCREW-*"])
    narrow = Scheme(
        SchemeSpec(name="N", kind="sequential", length=4, parts=["SCREW-M4*", "PLATE-9"])
    )
    exact = Scheme(SchemeSpec(name="E", kind="sequential", length=2, parts=["SCREW-M4-12"]))
    schemes = [wide, narrow, exact]
    assert family_scheme("SCREW-M3", schemes) is wide
    assert family_scheme("SCREW-M4-10", schemes) is narrow
    assert family_scheme("SCREW-M4-12", schemes) is exact
    assert family_scheme("PLATE-9", schemes) is narrow
    assert family_scheme("PLATE-90", schemes) is None
    assert family_scheme(None, schemes) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "sequential"}, "length"),
        ({"kind": "sequential", "length": 3, "alphabet": "AAB"}, "once"),
        ({"kind": "sequential", "length": 3, "alphabet": "AB?"}, "no spaces"),
        ({"kind": "sequential", "length": 2, "capacity": 1000}, "676 codes at most"),
        ({"kind": "hashids", "capacity": 10}, "salt"),
        ({"kind": "hashids", "salt": "x"}, "capacity"),
        ({"kind": "hashids", "salt": "x", "capacity": 9, "alphabet": "ACDEFGH"}, "16"),
        ({"kind": "sequential", "length": 3, "alphabet": "AB", "check": True}, "check"),
        ({"kind": "sequential", "length": 3, "parts": ["A*B"]}, "parts"),
        ({"kind": "octal", "length": 3}, "kind"),
    ],
)
def test_bad_settings_are_refused_by_name(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SchemeSpec.model_validate({"name": "S", **fields})
