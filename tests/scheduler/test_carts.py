"""Cart load sizing on a hand-checked case, and infeasible cases with the binding constraint."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from scheduler import carts
from scheduler.carts import CartSizingInput, size_carts


def _two_by_two(**changes: object) -> CartSizingInput:
    # Machine 0 turns batch 0 only; machine 1 works both.
    # A = [10, 5 + 4]; Y0 = 10 + 0.5 n0, Y1 = 9 + 0.25 n0 + n1, n0 = ceil(100/b0), n1 = ceil(40/b1).
    # With Z = 40: n0 >= 3, n1 >= 1. Y1 in [11, 12] and Y0 <= 13 leave (n0, n1) in
    # {(3, 2), (4, 1), (5, 1), (6, 1)}; set-ups 0.75 n0 + n1 are least at (4, 1): 4 h.
    # n0 = 4 for b0 in 25..33 (the smallest, 25, is chosen); n1 = 1 needs b1 = 40.
    values: dict[str, object] = {
        "rates": [[10, 0], [20, 10]],
        "setups": [[0.5, 0], [0.25, 1]],
        "quantities": [[100, 0], [100, 40]],
        "due": [13, 12],
        "day": [11, 11],
        "capacity": 40,
        "machines": ["LATHE", "MILL"],
        "batches": ["B-1", "B-2"],
    }
    values.update(changes)
    return CartSizingInput.model_validate(values)


def test_sizing_matches_the_hand_checked_case() -> None:
    found = size_carts(_two_by_two())
    assert found.status == "optimal"
    assert [(b.batch, b.load, b.carts) for b in found.batches] == [("B-1", 25, 4), ("B-2", 40, 1)]
    assert [(m.machine, m.work_hours, m.setup_hours, m.load_hours) for m in found.machines] == [
        ("LATHE", 10, 2, 12),
        ("MILL", 9, 2, 11),
    ]
    assert found.setup_hours == 4
    assert [round(m.utilisation or 0, 4) for m in found.machines] == [round(12 / 11, 4), 1]
    assert [m.slack_hours for m in found.machines] == [1, 1]


def test_an_overloaded_machine_is_named() -> None:
    found = size_carts(_two_by_two(due=[10.25, 12]))  # LATHE: 10 h of work and a set-up
    assert found.status == "infeasible"
    assert [(b.constraint, b.machine) for b in found.binding] == [("due", "LATHE")]
    assert "must finish by 10.25 h" in found.binding[0].message


def test_a_small_cart_binds_with_the_completion_time() -> None:
    problem = CartSizingInput(
        rates=[[10]], setups=[[0.5]], quantities=[[100]], due=[13], day=[10], capacity=10
    )
    found = size_carts(problem)  # ten carts of 10: 10 + 5 h > 13 h; one cart of 100 would do
    assert found.status == "infeasible"
    assert sorted(b.constraint for b in found.binding) == ["capacity", "due"]
    assert (
        "even full carts take 15 h"
        in next(b for b in found.binding if b.constraint == "due").message
    )


def test_a_starved_machine_is_named() -> None:
    found = size_carts(_two_by_two(day=[70, 11]))  # one part per cart still gives only 60 h
    assert found.status == "infeasible"
    assert [(b.constraint, b.machine) for b in found.binding] == [("day", "LATHE")]
    assert "even one part per cart gives 60 h" in found.binding[0].message


def test_machines_sharing_a_batch_conflict_together() -> None:
    # LATHE needs 20 carts of B-1 to fill its day; MILL cannot then finish by 12 h.
    found = size_carts(_two_by_two(day=[20, 11]))
    assert found.status == "infeasible"
    assert [(b.constraint, b.machine) for b in found.binding] == [("day", "LATHE"), ("due", "MILL")]


def test_quantities_need_a_route() -> None:
    with pytest.raises(ValidationError, match="not routed"):
        _two_by_two(quantities=[[100, 5], [100, 40]])


def test_shapes_are_checked() -> None:
    with pytest.raises(ValidationError, match="one value per machine"):
        _two_by_two(due=[13])


def test_hours_beyond_any_plan_are_refused_by_name() -> None:
    with pytest.raises(ValidationError) as refused:
        CartSizingInput(
            rates=[[1e300]], setups=[[0.5]], quantities=[[100]], due=[13], day=[10], capacity=10
        )
    assert refused.value.errors()[0]["loc"][0] == "rates"


def test_a_batch_of_ten_million_parts_is_sized() -> None:
    # The model once held a table as long as the batch per machine and batch (gigabytes here).
    problem = CartSizingInput(
        rates=[[1000]],
        setups=[[0.5]],
        quantities=[[10_000_000]],
        due=[20_000],
        day=[0],
        capacity=1_000_000,
        time_limit=10,
    )
    found = size_carts(problem)
    assert found.status in ("optimal", "feasible")
    assert found.batches[0].carts == 10  # full carts of a million: the fewest set-ups


def test_a_problem_beyond_a_shop_is_refused() -> None:
    with pytest.raises(ValidationError, match="at most 2,500 pairs"):
        CartSizingInput(
            rates=[[1] * 51] * 50,
            setups=[[0] * 51] * 50,
            quantities=[[1] * 51] * 50,
            due=[10] * 50,
            day=[0] * 50,
            capacity=10,
        )
    with pytest.raises(ValidationError):
        CartSizingInput(
            rates=[[1]],
            setups=[[0]],
            quantities=[[1]],
            due=[1],
            day=[0],
            capacity=1,
            time_limit=600,
        )


def test_a_plan_meets_its_due_time_with_set_ups_of_a_fraction_of_a_second() -> None:
    # 10,000 parts at 100 an hour take 100 h; the due time leaves half an hour for set-ups of
    # 0.36 s each: no more than 5,000 carts, so at least 2 parts a cart.
    found = size_carts(
        CartSizingInput.model_validate(
            {
                "rates": [[100]],
                "setups": [[0.0001]],
                "quantities": [[10_000]],
                "due": [100.5],
                "day": [1],
                "capacity": 10_000,
            }
        )
    )
    assert found.status == "optimal"
    assert found.machines[0].slack_hours >= 0


def _one(**values: object) -> CartSizingInput:
    return CartSizingInput.model_validate({"quantities": [[1000]], "capacity": 1000, **values})


def test_a_day_filled_by_set_ups_of_a_fraction_of_a_second_is_filled_exactly() -> None:
    # 3.6 s of work and 0.36 s a cart: the day of 0.051 h (183.6 s) needs 500 carts, 2 parts
    # each. Set-ups rounded up to whole seconds had 200 carts fill it; they fill 0.021 h.
    found = size_carts(_one(rates=[[1e6]], setups=[[0.0001]], due=[1], day=[0.051]))
    assert found.status == "optimal"
    assert [(b.load, b.carts) for b in found.batches] == [(2, 500)]
    assert (found.machines[0].load_hours, found.machines[0].utilisation) == (0.051, 1)


def test_a_machine_starved_by_set_ups_of_a_fraction_of_a_second_is_named() -> None:
    # Even 1,000 carts of 0.36 s set-ups and 3.6 s of work load it for 0.101 h of 0.2 h.
    found = size_carts(_one(rates=[[1e6]], setups=[[0.0001]], due=[1], day=[0.2]))
    assert found.status == "infeasible"
    assert [(b.constraint, b.machine) for b in found.binding] == [("day", "machine 0")]
    assert "even one part per cart gives 0.101 h" in found.binding[0].message


@pytest.mark.parametrize(
    ("work", "due", "day", "binding"),
    [
        (10 + 0.4 / 3600, 10 + 0.3 / 3600, 0, "due"),  # 0.1 s late
        (10 - 0.4 / 3600, 20, 10 - 0.1 / 3600, "day"),  # 0.3 s short
    ],
)
def test_work_is_not_rounded_past_a_bound(
    work: float, due: float, day: float, binding: str
) -> None:
    # Work rounded to whole seconds met the bound; the plan then reported a negative slack or a
    # utilisation under 1 as optimal.
    found = size_carts(
        _one(rates=[[1000 / work]], setups=[[0]], due=[due], day=[day], quantities=[[1000]])
    )
    assert found.status == "infeasible"
    assert [b.constraint for b in found.binding] == [binding]


def test_reported_loads_agree_with_the_bounds_they_meet() -> None:
    for day in (0.051, 0.0515, 0.06):
        found = size_carts(_one(rates=[[3e5]], setups=[[0.0001]], due=[1], day=[day]))
        assert found.status == "optimal"
        machine = found.machines[0]
        assert machine.load_hours >= day and (machine.utilisation or 0) >= 1
        assert machine.slack_hours >= 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rates": [[1e-300, 0], [20, 10]]}, "rates[0][0]"),
        ({"rates": [[10, 0], [1e-5, 10]]}, "rates[1][0]"),
    ],
)
def test_numbers_the_model_cannot_count_are_refused_by_name(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError, match=field.replace("[", r"\[").replace("]", r"\]")):
        _two_by_two(**changes)


def test_a_machine_without_a_working_day_has_no_utilisation() -> None:
    found = size_carts(_two_by_two(day=[0, 11]))
    assert found.machines[0].utilisation is None


def _huge_set_ups(batches: int) -> CartSizingInput:
    return CartSizingInput(
        rates=[[1e6] * batches],
        setups=[[1e6] * batches],
        quantities=[[10_000_000] * batches],
        due=[1e6],
        day=[0],
        capacity=1_000_000,
        time_limit=5,
    )


def test_set_ups_the_model_cannot_count_are_refused_by_name() -> None:
    # 250 batches of ten million parts and a million hours a cart: one part per cart passes
    # 64 bits, and CP-SAT refused the model, which read as "unknown" without a word.
    with pytest.raises(ValidationError, match=r"setups: .* 2\.5e\+15 hours .* at most 1e\+12"):
        _huge_set_ups(250)


def test_unknown_always_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    found = size_carts(_two_by_two(time_limit=1e-9))  # no time even to presolve
    assert (found.status, found.reason) == (
        "unknown",
        "no load found, nor ruled out, in the time limit of 1e-09 s",
    )
    monkeypatch.setattr(carts, "MAX_SETUP_HOURS", float("inf"))
    found = size_carts(_huge_set_ups(1))
    assert found.status == "unknown"
    assert found.reason is not None and "integer overflow" in found.reason


def test_set_ups_too_long_to_weigh_against_cart_sizes_are_still_sized() -> None:
    # Set-ups first, cart sizes second, as one weighted sum, would pass 64 bits here.
    problem = CartSizingInput(
        rates=[[1000]],
        setups=[[10_000]],
        quantities=[[10_000_000]],
        due=[1e6],
        day=[0],
        capacity=1_000_000,
    )
    found = size_carts(problem)
    assert found.status in ("optimal", "feasible")
    assert found.batches[0].carts == 10


@pytest.mark.parametrize(
    ("changes", "where", "kind"),
    [
        ({"quantities": [["100", 0], [100, 40]]}, ("quantities", 0, 0), "int_type"),
        ({"quantities": [[100.0, 0], [100, 40]]}, ("quantities", 0, 0), "int_type"),
        ({"capacity": True}, ("capacity",), "int_type"),
        ({"rates": [[10, 0], [20, "10"]]}, ("rates", 1, 1), "float_type"),
        ({"setups": [[True, 0], [0.25, 1]]}, ("setups", 0, 0), "float_type"),
        ({"due": [13, "12"]}, ("due", 1), "float_type"),
        ({"day": [False, 11]}, ("day", 0), "float_type"),
        ({"time_limit": "1"}, ("time_limit",), "float_type"),
    ],
)
def test_numbers_are_read_strictly(
    changes: dict[str, object], where: tuple[str | int, ...], kind: str
) -> None:
    # Read laxly, "100" was 100 parts and true an hour: a typo was sized as a number.
    with pytest.raises(ValidationError) as refused:
        _two_by_two(**changes)
    assert [(e["loc"], e["type"]) for e in refused.value.errors()] == [(where, kind)]
