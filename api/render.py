"""Plain-text renderings for the terminal."""

from __future__ import annotations

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
    for key in ("operation", "equipment", "customer"):
        if key in attrs:
            parts.append(f"{key}={attrs[key]}")
    if node.exposure is not None:
        parts.append(f"exposure={node.exposure:.4g}")
    if node.share is not None:
        parts.append(f"share={node.share:.4g}")
    if "status" in attrs:
        parts.append(f"[{attrs['status']}]")
    return "  ".join(parts)
