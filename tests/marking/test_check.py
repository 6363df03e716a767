"""The check character catches every single misread and every swap of neighbours."""

from __future__ import annotations

import itertools
import random
import string

import pytest

from graph.errors import BadRequest
from marking.check import CheckCharacter, supports
from marking.schemes import LETTERS, LOOKALIKE_FREE


def _every_single_misread(code: str, alphabet: str) -> list[str]:
    return [
        code[:i] + other + code[i + 1 :]
        for i in range(len(code))
        for other in alphabet
        if other != code[i]
    ]


def _every_neighbour_swap(code: str) -> list[str]:
    return [
        code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        for i in range(len(code) - 1)
        if code[i] != code[i + 1]
    ]


@pytest.mark.parametrize("alphabet", [LETTERS, LOOKALIKE_FREE, string.digits], ids=len)
def test_every_misread_and_swap_of_every_three_character_code_is_caught(alphabet: str) -> None:
    check = CheckCharacter(alphabet)
    for body in map("".join, itertools.product(alphabet, repeat=3)):
        code = body + check.compute(body)
        assert check.is_valid(code)
        for wrong in _every_single_misread(code, alphabet):
            assert not check.is_valid(wrong), (code, wrong)
        for wrong in _every_neighbour_swap(code):
            assert not check.is_valid(wrong), (code, wrong)


@pytest.mark.parametrize("size", [n for n in range(3, 65) if supports(n)])
def test_every_supported_alphabet_size_catches_misreads_and_swaps(size: int) -> None:
    alphabet = (string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/")[:size]
    check = CheckCharacter(alphabet)
    rng = random.Random(size)
    for _ in range(40):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
        code = body + check.compute(body)
        assert check.is_valid(code)
        assert not any(check.is_valid(w) for w in _every_single_misread(code, alphabet))
        assert not any(check.is_valid(w) for w in _every_neighbour_swap(code))


def test_sizes_without_an_antisymmetric_permutation_are_refused() -> None:
    assert not supports(2)
    assert not supports(128)
    with pytest.raises(BadRequest, match="check character"):
        CheckCharacter("AB")


def test_characters_outside_the_alphabet_never_check_out() -> None:
    check = CheckCharacter(LETTERS)
    assert not check.is_valid("AA1")
    assert not check.is_valid("A")
