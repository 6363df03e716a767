"""Mark or not: the expected loss a secondary mark avoids against what marking costs.

The primary mark wears unreadable after a time ~ Exp(wear_rate); a part fails in the field after
a time ~ Exp(failure_rate). Over the design life L a failure is untraceable when both happen, so a
part made in the period costs Q * (1 - e^(-wear_rate L)) * (1 - e^(-failure_rate L)) in expected
claims, which a secondary mark avoids. With N parts, set-up cost M and running cost R:
    Y = Q N (1 - e^(-lambda L)) (1 - e^(-k L)),   phi = M + R - Y,   mark when phi < 0.
Where no count pays back what marking costs, there is no break-even count (None).
"""

from __future__ import annotations

import math

from marking.models import Decision, DecisionInputs


def _probability_by(rate: float, life: float) -> float:
    # 1 - e^(-x), without the cancellation of the naive form for small x.
    return -math.expm1(-rate * life)


def decide(inputs: DecisionInputs) -> Decision:
    """Return phi, the expected loss avoided, the break-even count and whether to mark."""
    p_unreadable = _probability_by(inputs.wear_rate, inputs.life)
    p_failure = _probability_by(inputs.failure_rate, inputs.life)
    loss_per_part = inputs.claim * p_unreadable * p_failure
    avoided = loss_per_part * inputs.count
    cost = inputs.setup_cost + inputs.running_cost
    phi = cost - avoided
    # No loss avoided, or one so small that the count would be beyond any float: no count pays
    # back the cost (and infinity is no JSON or GraphQL number).
    even = cost / loss_per_part if loss_per_part > 0 else math.inf
    return Decision(
        phi=phi,
        expected_loss_avoided=avoided,
        break_even_count=even if math.isfinite(even) else None,
        mark=phi < 0,
        p_unreadable=p_unreadable,
        p_failure=p_failure,
    )
