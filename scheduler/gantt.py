"""Gantt charts of a solution, one row per machine, as SVG text or PNG bytes."""

from __future__ import annotations

import colorsys
import io
import re
from dataclasses import dataclass
from html import escape

from PIL import Image, ImageDraw

from scheduler.models import Problem, Solution

ROW = 18
LABEL = 90
TOP = 28
WIDTH = 1600
# Characters to a drawn label: more would not fit the chart, and Pillow refuses a text whose
# image would pass its size limit.
MOST = 100
# What XML 1.0 does not allow in a document: the C0 controls but tab and line ends, and the
# two non-characters. html.escape leaves them, and the SVG would not parse.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class _Box:
    x: float
    y: float
    w: float
    h: float
    fill: str
    label: str
    title: str


def _visible(text: str) -> str:
    """Write the characters XML refuses as Python escapes (\\x01), seen rather than lost."""
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _label(text: str) -> str:
    """Return text to draw: visible, and cut to MOST characters."""
    text = _visible(text)
    return text if len(text) <= MOST else text[: MOST - 1] + "…"


def _svg(text: str, cut: bool = True) -> str:
    """Return text for the SVG: visible, escaped, and cut unless it is a tooltip."""
    return escape(_label(text) if cut else _visible(text))


def _colour(index: int) -> str:
    # Golden-ratio hue steps keep neighbouring orders apart.
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hls_to_rgb(hue, 0.62, 0.55)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def _layout(
    problem: Problem, solution: Solution
) -> tuple[list[_Box], list[tuple[float, str]], int]:
    machines = [m.id for m in problem.machines]
    row = {m: i for i, m in enumerate(machines)}
    order_index = {o.id: i for i, o in enumerate(problem.orders)}
    # The chart runs from the plan's `now`, or from work started before it (reported so, and
    # maybe before 0), to the last end: from 0, a plan made late was a sliver at the right.
    origin = min([op.start - op.setup for op in solution.operations] + [problem.now])
    span = max([op.end for op in solution.operations] + [origin + 1])
    scale = (WIDTH - LABEL - 10) / (span - origin)
    boxes: list[_Box] = []

    def x(t: int) -> float:
        return LABEL + (t - origin) * scale

    for machine in problem.machines:
        y = TOP + row[machine.id] * ROW
        for w in machine.unavailable:
            if w.start < span and w.end > origin:  # wholly outside the chart: not drawn
                boxes.append(
                    _Box(
                        x(max(w.start, origin)),
                        y + 1,
                        (min(w.end, span) - max(w.start, origin)) * scale,
                        ROW - 2,
                        "#9e9e9e",
                        "",
                        f"{machine.id} unavailable {w.start}-{w.end} {w.reason}".strip(),
                    )
                )
    for op in solution.operations:
        y = TOP + row[op.machine] * ROW
        if op.setup:
            boxes.append(
                _Box(
                    x(op.start - op.setup),
                    y + 4,
                    op.setup * scale,
                    ROW - 8,
                    "#424242",
                    "",
                    f"set-up {op.setup} before {op.operation}",
                )
            )
        boxes.append(
            _Box(
                x(op.start),
                y + 1,
                max((op.end - op.start) * scale, 0.5),
                ROW - 2,
                _colour(order_index.get(op.job, 0)),
                op.job,
                f"{op.operation} on {op.machine}: {op.start}-{op.end}",
            )
        )
    step = _tick(span - origin)
    first = -(-origin // step) * step  # the first multiple of the step on the chart
    ticks = [(x(t), str(t)) for t in range(first, span + 1, step)]
    height = TOP + len(machines) * ROW + 10
    return boxes, ticks, height


def _tick(span: int) -> int:
    raw = span / 12
    base = 1
    while base * 10 <= raw:
        base *= 10
    for f in (1, 2, 5, 10):
        if base * f >= raw:
            return max(base * f, 1)
    return max(base * 10, 1)


def gantt_svg(problem: Problem, solution: Solution) -> str:
    """Render the schedule as an SVG document."""
    boxes, ticks, height = _layout(problem, solution)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="sans-serif" font-size="10">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="4" y="14" font-size="12">{_svg(problem.name or "schedule")} '
        f"makespan {solution.makespan}</text>",
    ]
    for tx, label in ticks:
        out.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 4}" x2="{tx:.1f}" y2="{height - 10}" '
            'stroke="#e0e0e0"/>'
            f'<text x="{tx:.1f}" y="{TOP - 6}" text-anchor="middle">{label}</text>'
        )
    for i, m in enumerate(problem.machines):
        out.append(f'<text x="4" y="{TOP + i * ROW + ROW - 5}">{_svg(m.id)}</text>')
    for b in boxes:
        out.append(
            f'<g><title>{_svg(b.title, cut=False)}</title><rect x="{b.x:.2f}" y="{b.y:.1f}" '
            f'width="{b.w:.2f}" height="{b.h:.1f}" fill="{b.fill}" stroke="#333" '
            f'stroke-width="0.3"/>'
        )
        if b.label and b.w > 6 * len(b.label) + 4:
            out.append(f'<text x="{b.x + 2:.2f}" y="{b.y + b.h - 4:.1f}">{_svg(b.label)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def gantt_png(problem: Problem, solution: Solution) -> bytes:
    """Render the schedule as PNG bytes."""
    boxes, ticks, height = _layout(problem, solution)
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    title = _label(problem.name or "schedule")
    draw.text((4, 4), f"{title} makespan {solution.makespan}", fill="black")
    for tx, label in ticks:
        draw.line([(tx, TOP - 4), (tx, height - 10)], fill="#e0e0e0")
        draw.text((tx - 3 * len(label), TOP - 16), label, fill="black")
    for i, m in enumerate(problem.machines):
        draw.text((4, TOP + i * ROW + 3), _label(m.id), fill="black")
    for b in boxes:
        draw.rectangle(
            [(b.x, b.y), (b.x + max(b.w, 1.0), b.y + b.h)], fill=b.fill, outline="#333333"
        )
        if b.label and b.w > 6 * len(b.label) + 4:
            draw.text((b.x + 2, b.y + 3), _label(b.label), fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
