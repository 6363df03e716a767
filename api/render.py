"""Plain-text renderings for the terminal."""

from __future__ import annotations

from api.federation.models import FederatedTrace
from graph.exposure import exposure_text
from graph.store import EdgeView
from graph.trace import Trace, TraceNode


def shown(text: str) -> str:
    """Text another party wrote, on one line as a terminal may show it: control characters
    (escape sequences, bells, line breaks, bidirectional overrides) written as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def shown_lines(text: str, indent: str) -> str:
    """Multi-line text another party wrote: each line `shown`, the next ones under `indent`."""
    return f"\n{indent}".join(shown(line) for line in text.replace("\r\n", "\n").split("\n"))


def trace_tree(trace: Trace) -> str:
    """Render a trace as an indented tree; a node reached twice is shown once, then referred to."""
    nodes = {node.id: node for node in trace.nodes}
    children: dict[str, list[tuple[str, str]]] = {}
    for edge in trace.edges:
        near, far = (edge.src, edge.dst) if trace.direction == "down" else (edge.dst, edge.src)
        children.setdefault(near, []).append((edge.type, far))
    lines = [_label(nodes[trace.root])]
    drawn = {trace.root}

    def branches(node_id: str) -> list[tuple[str, str]]:
        return sorted(set(children.get(node_id, [])), key=lambda item: (item[1], item[0]))

    # Depth first with a stack of its own: a partner's chain may be thousands of levels deep.
    # Each entry: a node's branches, the next one to draw, and the prefix of their lines.
    stack = [(branches(trace.root), 0, "")]
    while stack:
        todo, index, prefix = stack.pop()
        if index == len(todo):
            continue
        stack.append((todo, index + 1, prefix))
        kind, far = todo[index]
        last = index == len(todo) - 1
        joint = "└─ " if last else "├─ "
        arrow = f"{kind} {'→' if trace.direction == 'down' else '←'} "
        if far in drawn:
            lines.append(f"{prefix}{joint}{arrow}{shown(far)} (shown above)")
            continue
        drawn.add(far)
        lines.append(f"{prefix}{joint}{arrow}{_label(nodes[far])}")
        stack.append((branches(far), 0, prefix + ("   " if last else "│  ")))
    word = "exposed" if trace.direction == "down" else "upstream"
    lines.append(f"{len(trace.nodes)} nodes, {len(trace.edges)} edges ({word})")
    return "\n".join(lines)


def _label(node: TraceNode) -> str:
    """One node's line; its id and attributes may come from a partner, so are `shown`."""
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
    return shown("  ".join(parts))


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
                None,  # the tree shows no quantities
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
        said = f"partner {b.partner} for {b.attach}: {b.status} ({b.message}{when})"
        lines.append(shown(said))
    return "\n".join(lines)
