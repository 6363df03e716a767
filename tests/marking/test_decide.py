"""The mark/no-mark decision matches values worked by hand."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from marking.decide import decide
from marking.models import DecisionInputs

EXAMPLE = {
    "wear_rate": 0.1,
    "failure_rate": 0.02,
    "life": 10,
    "claim": 2000,
    "count": 1000,
    "setup_cost": 150_000,
    "running_cost": 50_000,
}


def test_worked_example_says_mark() -> None:
    # 1 - e^-1 = 0.6321206, 1 - e^-0.2 = 0.1812692; their product 0.1145843 per part;
    # Y = 2000 * 1000 * 0.1145843 = 229,168.04; phi = 200,000 - 229,168.04 = -29,168.04.
    decision = decide(DecisionInputs.model_validate(EXAMPLE))
    assert decision.p_unreadable == pytest.approx(0.6321206, abs=1e-7)
    assert decision.p_failure == pytest.approx(0.1812692, abs=1e-7)
    assert decision.expected_loss_avoided == pytest.approx(229_168.04, abs=0.01)
    assert decision.phi == pytest.approx(-29_168.04, abs=0.01)
    assert decision.break_even_count == pytest.approx(872.72, abs=0.01)
    assert decision.mark is True


def test_below_break_even_says_do_not_mark() -> None:
    decision = decide(DecisionInputs.model_validate(EXAMPLE | {"count": 800}))
    # Y = 2000 * 800 * 0.1145843 = 183,334.43
    assert decision.expected_loss_avoided == pytest.approx(183_334.43, abs=0.01)
    assert decision.phi == pytest.approx(16_665.57, abs=0.01)
    assert decision.mark is False


def test_break_even_count_makes_phi_zero() -> None:
    decision = decide(DecisionInputs.model_validate(EXAMPLE))
    assert decision.break_even_count is not None
    at_break_even = decide(
        DecisionInputs.model_validate(EXAMPLE | {"count": decision.break_even_count})
    )
    assert at_break_even.phi == pytest.approx(0, abs=1e-6)
    assert at_break_even.mark is False  # mark only when phi < 0


def test_tiny_rates_keep_their_precision() -> None:
    decision = decide(
        DecisionInputs.model_validate(EXAMPLE | {"wear_rate": 1e-12, "failure_rate": 1e-12})
    )
    assert decision.p_unreadable == pytest.approx(1e-11, rel=1e-9)
    assert decision.expected_loss_avoided == pytest.approx(2000 * 1000 * 1e-22, rel=1e-6)


def test_no_claim_means_no_break_even() -> None:
    decision = decide(DecisionInputs.model_validate(EXAMPLE | {"claim": 0}))
    assert decision.break_even_count is None
    assert decision.phi == 200_000
    assert decision.mark is False


def test_a_loss_too_small_for_any_count_to_pay_back_means_no_break_even() -> None:
    # 1e15 over a loss of 1e-310 per part: beyond any float, so no count pays it back.
    tiny = {"wear_rate": 1e-300, "failure_rate": 1e-10, "life": 1, "claim": 1, "count": 1}
    decision = decide(DecisionInputs.model_validate(EXAMPLE | tiny | {"setup_cost": 1e15}))
    assert decision.break_even_count is None
    assert decision.mark is False and math.isfinite(decision.phi)


@pytest.mark.parametrize(
    "bad",
    [
        {"wear_rate": 0},
        {"failure_rate": -1},
        {"life": 0},
        {"claim": -5},
        {"count": -1},
        {"wear_rate": math.inf},
    ],
)
def test_bad_inputs_are_refused(bad: dict[str, float]) -> None:
    field = next(iter(bad))
    with pytest.raises(ValidationError, match=field):
        DecisionInputs.model_validate(EXAMPLE | bad)


@pytest.mark.parametrize("name", sorted(EXAMPLE))
def test_values_beyond_any_plant_are_refused_by_name(name: str) -> None:
    # Finite, but their products in the model would not be.
    with pytest.raises(ValidationError) as refused:
        DecisionInputs.model_validate(EXAMPLE | {name: 1e300})
    assert refused.value.errors()[0]["loc"] == (name,)
