"""A picture of a genealogy: layered SVG, sources on the left, what was made of them rightwards."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from html import escape

from graph.exposure import exposure_text
from graph.store import EdgeView

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 190, 26, 60, 10, 20
COLOURS = {"certain": "#f4b4b4", "may": "#fde2b3", "context": "#e8eef6"}


def genealogy_svg(
    depths: Mapping[str, int],
    kinds: Mapping[str, str],
    edges: Sequence[EdgeView],
    exposure: Mapping[str, float | None],
    certain: Collection[str],
    limit: int = 240,
) -> str:
    """Draw up to `limit` nodes (the nearest first) in columns by depth, with their edges.

    A node in `exposure` is reached (None: share unknown), red when in `certain` and amber
    otherwise: certainty is decided by how material flowed, never read off the number.
    """
    chosen = sorted(depths, key=lambda n: (depths[n], n))[:limit]
    columns: dict[int, list[str]] = {}
    for node in chosen:
        columns.setdefault(depths[node], []).append(node)
    place: dict[str, tuple[int, int]] = {}
    for depth, nodes in sorted(columns.items()):
        for row, node in enumerate(nodes):
            place[node] = (PAD + depth * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y))
    width = PAD * 2 + (max(columns, default=0) + 1) * (BOX_W + GAP_X)
    height = PAD * 2 + max((len(n) for n in columns.values()), default=1) * (BOX_H + GAP_Y)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">'
    ]
    for edge in edges:
        if edge.src in place and edge.dst in place:
            (x1, y1), (x2, y2) = place[edge.src], place[edge.dst]
            parts.append(
                f'<line x1="{x1 + BOX_W}" y1="{y1 + BOX_H // 2}" x2="{x2}" y2="{y2 + BOX_H // 2}" '
                f'stroke="#8a94a6" stroke-width="1"><title>{escape(edge.type)}</title></line>'
            )
    for node, (x, y) in place.items():
        fill = COLOURS[
            "context" if node not in exposure else "certain" if node in certain else "may"
        ]
        label = node if len(node) <= 30 else node[:29] + "…"
        tip = f"{node} ({kinds.get(node, '')})" + _reach(node, exposure)
        parts.append(
            f"<g><title>{escape(tip)}</title>"
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" '
            f'rx="4" fill="{fill}" stroke="#5b6475"/>'
            f'<text x="{x + 6}" y="{y + 17}">{escape(label)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _reach(node: str, exposure: Mapping[str, float | None]) -> str:
    if node not in exposure:
        return ""
    level = exposure[node]
    return ", share unknown" if level is None else f", exposure {exposure_text(level, 3)}"
