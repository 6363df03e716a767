"""KPIs of a plan: on-time rate, tardiness, utilisation per machine, WIP."""

from __future__ import annotations

from scheduler.flat import Flat
from scheduler.models import Kpis
from scheduler.plan import Plan, completion, entered


def kpis(flat: Flat, plan: Plan) -> Kpis:
    """Compute the KPIs reported with every solution."""
    done = completion(flat, plan)
    makespan = max(done) if done else 0
    with_due = [j for j, d in enumerate(flat.due) if d is not None]
    late = [max(0, done[j] - (flat.due[j] or 0)) for j in with_due]
    on_time = sum(1 for t in late if t == 0)
    weighted = sum(flat.weight[j] * t for j, t in zip(with_due, late, strict=True))
    releases = [o.release for o in flat.problem.orders]
    # Flow runs from when an order entered the shop, which started work may put before release.
    flow = sum(done) - sum(entered(flat))
    # The plan's span runs from the earliest release or start to the latest end: started work
    # may have begun before any release, and all of it counts as busy time and WIP.
    origin = min([*releases, *plan.start], default=0)
    last = max([makespan, *plan.end])
    span = max(last - origin, 1)
    busy = [0] * len(flat.machines)
    for op in flat.ops:
        busy[plan.machine[op.key]] += plan.end[op.key] - plan.start[op.key]
    return Kpis(
        makespan=makespan,
        on_time_rate=on_time / len(with_due) if with_due else 1.0,
        total_tardiness=sum(late),
        weighted_tardiness=weighted,
        max_tardiness=max(late, default=0),
        total_flow_time=flow,
        # Little's law: mean number of open orders over the plan's span.
        average_wip=round(flow / span, 4),
        utilisation={m: round(busy[i] / span, 4) for i, m in enumerate(flat.machines)},
    )
