"""Plain-text renderings for the terminal."""

from __future__ import annotations

from decimal import Decimal

from api.federation.models import FederatedTrace
from graph.exposure import exposure_text
from graph.store import EdgeView
from graph.trace import Trace, TraceNode


def trace_tree(trace: Trace) -> str:
    """Render a trace as an indented tree; a node reached twice is shown once, then referred to."""
    nodes = {node.id: node for node in trace.nodes}
    children: dict[str, list[tuple[str, str]]] = {}
    for edge in trace.edges:
        near, far = (edge.src, edge.dst) if trace.direction == "down" else (edge.dst, edge.src)
        children.setdefault(near, []).append((edge.type, far))
    lines = [_label(nodes[trace.root])]
    shown = {trace.root}

    def walk(node_id: str, prefix: str) -> None:
        branches = sorted(set(children.get(node_id, [])), key=lambda item: (item[1], item[0]))
        for index, (kind, far) in enumerate(branches):
            last = index == len(branches) - 1
            joint = "└─ " if last else "├─ "
            arrow = f"{kind} {'→' if trace.direction == 'down' else '←'} "
            if far in shown:
                lines.append(f"{prefix}{joint}{arrow}{far} (shown above)")
                continue
            shown.add(far)
            lines.append(f"{prefix}{joint}{arrow}{_label(nodes[far])}")
            walk(far, prefix + ("   " if last else "│  "))

    walk(trace.root, "")
    word = "exposed" if trace.direction == "down" else "upstream"
    lines.append(f"{len(trace.nodes)} nodes, {len(trace.edges)} edges ({word})")
    return "\n".join(lines)


def _label(node: TraceNode) -> str:
    attrs = node.attrs
    parts = [node.id]
    if "part" in attrs:
        parts.append(str(attrs["part"]))
    if "qty" in attrs:
        parts.append(f"{attrs['qty']} {attrs.get('unit', '')}".rstrip())
    for key in ("operation", "equipment", "customer", "source"):
        if key in attrs:
            parts.append(f"{key}={attrs[key]}")
    if node.exposure is not None:
        parts.append(f"exposure={exposure_text(node.exposure)}")
    if node.share is not None:
        parts.append(f"share={exposure_text(node.share)}")
    if "status" in attrs:
        parts.append(f"[{attrs['status']}]")
    if attrs.get("stale"):
        parts.append(f"(stale, fetched {attrs.get('fetched_at')})")
    return "  ".join(parts)


def federated_tree(found: FederatedTrace) -> str:
    """Render a federated trace as a tree, each node with its source, then its partner branches."""
    trace = Trace(
        found.root,
        found.direction,
        [
            TraceNode(
                n.id,
                n.kind,
                n.depth,
                n.attrs
                | {"source": n.source or "here", "stale": n.stale, "fetched_at": n.fetched_at},
                n.exposure,
                n.share,
            )
            for n in found.nodes
        ],
        [
            EdgeView(
                e.src,
                e.dst,
                e.type,
                None if e.qty is None else Decimal(e.qty),
                None,
                None,
                e.at or "",
                e.event or "",
            )
            for e in found.edges
        ],
    )
    lines = [trace_tree(trace)]
    for b in found.branches:
        when = f", fetched {b.fetched_at}" if b.fetched_at else ""
        lines.append(f"partner {b.partner} for {b.attach}: {b.status} ({b.message}{when})")
    return "\n".join(lines)
