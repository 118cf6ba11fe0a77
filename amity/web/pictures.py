"""Pictures of a saved query's answer, drawn by the server as SVG so pages work without internet access.

A query's header says which picture fits (``map``, ``chart`` or ``network``)
and which columns feed it; this module reads those columns from the page's
rows. Every piece of data is escaped here, and the finished SVG is returned as
:class:`~markupsafe.Markup`, so templates never need ``|safe``.
"""

from __future__ import annotations

import math
from html import escape

from markupsafe import Markup

from amity.catalogue import SavedQuery
from amity.results import Cell, Table
from amity.web import maps

WIDTH = 720
Node = tuple[Cell, str]  # a term and its label


def pictures(query: SavedQuery, table: Table, background: str) -> list[tuple[str, Markup]]:
    """``(kind, svg)`` for every hint of the query the rows can fill."""
    out: list[tuple[str, Markup]] = []
    hint = query.hint("map")
    if hint:
        markers = map_markers(table, hint)
        if markers:
            out.append(("map", Markup(maps.svg(markers, background=background, title=f"map: {query.title}"))))
    hint = query.hint("chart")
    if hint:
        bars = [(_text(row.get(hint["x"])), _number(row.get(hint["y"]))) for row in table.rows]
        bars = [(label, value) for label, value in bars if value is not None]
        if bars:
            out.append(("chart", bar_chart(bars, title=f"chart: {query.title}", x_name=hint["x"],
                                           y_name=hint["y"])))
    hint = query.hint("network")
    if hint:
        edges = network_edges(table, hint)
        if edges:
            layers = path_layers(table, hint) if isinstance(hint.get("path"), list) else None
            out.append(("network", network(edges, title=f"network: {query.title}", layers=layers)))
    return out


def network_edges(table: Table, hint: dict) -> list[tuple[Node, Node]]:
    """Pairs of nodes from ``source``/``target`` columns, or along a ``path`` of columns (a chain per row)."""
    if isinstance(hint.get("path"), list):
        columns = [str(c) for c in hint["path"]]
        labels = [str(c) for c in hint.get("labels", [])] + [""] * len(columns)
    else:
        columns = [str(hint["source"]), str(hint["target"])]
        labels = [str(hint.get("source_label", "")), str(hint.get("target_label", ""))]
    edges: list[tuple[Node, Node]] = []
    for row in table.rows:
        chain = [(row.get(c), row.get(label)) for c, label in zip(columns, labels, strict=False)]
        nodes = [(cell, _text(label_cell) or cell.short) for cell, label_cell in chain if cell is not None]
        edges.extend(zip(nodes, nodes[1:], strict=False))
    return edges


def path_layers(table: Table, hint: dict) -> dict[str, int]:
    """For chains: the position of each node along the path (0 for the start), where it first appears."""
    layers: dict[str, int] = {}
    for row in table.rows:
        for position, name in enumerate(str(c) for c in hint["path"]):
            cell = row.get(name)
            if cell is not None:
                layers.setdefault(cell.value, position)
    return layers


def _text(cell: Cell | None) -> str:
    return "" if cell is None else cell.short


def _number(cell: Cell | None) -> float | None:
    return None if cell is None else cell.number()


def map_markers(table: Table, hint: dict[str, str]) -> list[maps.Marker]:
    """A marker per row with coordinates; a ``main`` column that is true marks the centre of the map."""
    markers: list[maps.Marker] = []
    seen: set[tuple[float, float, str]] = set()
    for row in table.rows:
        lat, long = _number(row.get(hint["lat"])), _number(row.get(hint["long"]))
        if lat is None or long is None or not (-90 <= lat <= 90 and -180 <= long <= 180):
            continue
        label = _text(row.get(hint.get("label", ""))) or f"{lat:.2f}, {long:.2f}"
        link = row.get(hint.get("link", ""))
        key = (round(lat, 4), round(long, 4), label)
        if key in seen:
            continue
        seen.add(key)
        markers.append(maps.Marker(lat, long, label, link.local if link is not None else None))
    return markers


def _nice_ceiling(value: float) -> float:
    """The next 1, 2 or 5 times a power of ten at or above ``value``: a readable top of the axis."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def bar_chart(bars: list[tuple[str, float]], *, title: str, x_name: str = "", y_name: str = "") -> Markup:
    """Vertical bars with a labelled y axis; x labels thinned out so they never overlap."""
    height, left, right, top, bottom = 320, 90, 12, 16, 70
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    top_value = _nice_ceiling(max(v for _, v in bars))
    step = plot_w / len(bars)
    every = max(1, math.ceil(len(bars) / 24))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'class="chart" aria-label="{escape(title)}">'
             f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>']
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="#e3e8ee"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#5b6b7c">'
                     f'{value:g}</text>')
    for i, (label, value) in enumerate(bars):
        bar_h = plot_h * value / top_value
        x = left + i * step
        parts.append(f'<rect class="bar" x="{x + step * 0.1:.1f}" y="{top + plot_h - bar_h:.1f}" '
                     f'width="{max(step * 0.8, 1):.1f}" height="{bar_h:.1f}" fill="#2a6fdb">'
                     f'<title>{escape(label)}: {value:g}</title></rect>')
        if i % every == 0:
            cx, cy = x + step / 2, top + plot_h + 12
            parts.append(f'<text x="{cx:.1f}" y="{cy:.1f}" font-size="11" fill="#1d2733" text-anchor="end" '
                         f'transform="rotate(-45 {cx:.1f} {cy:.1f})">{escape(_clip(label, 18))}</text>')
    parts.append(f'<text x="{WIDTH - right}" y="{height - 4}" text-anchor="end" font-size="11" '
                 f'fill="#5b6b7c">{escape(x_name)} → {escape(y_name)}</text></svg>')
    return Markup("".join(parts))


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def network(edges: list[tuple[Node, Node]], *, title: str, layers: dict[str, int] | None = None) -> Markup:
    """Pairs of places as a graph: a hub in the centre when one node holds most edges, the rest on a circle.

    Nodes keep the order they first appear in, sources before targets, so the two
    sides of a bipartite answer (cities of country A, cities of country B) fill
    the two halves of the circle. Chains (``layers`` given) are drawn left to right
    instead, one column per step.
    """
    height = 460
    order: dict[str, str] = {}
    links: dict[str, str | None] = {}
    for (source, source_label), _ in edges:
        order.setdefault(source.value, source_label)
        links.setdefault(source.value, source.local)
    for _, (target, target_label) in edges:
        order.setdefault(target.value, target_label)
        links.setdefault(target.value, target.local)
    degree = {key: 0 for key in order}
    pairs = {(s.value, t.value) for (s, _), (t, _) in edges if s.value != t.value}
    for a, b in pairs:
        degree[a] += 1
        degree[b] += 1
    hub = max(degree, key=lambda k: degree[k])
    centred = len(order) > 3 and degree[hub] * 2 > len(pairs)
    ring = [key for key in order if not (centred and key == hub)]
    cx, cy, radius = WIDTH / 2, height / 2, height / 2 - 60
    position: dict[str, tuple[float, float]] = {}
    if layers:
        centred = False
        columns = max(layers.values()) + 1
        for layer in range(columns):
            members = [key for key in order if layers.get(key, 0) == layer]
            for i, key in enumerate(members):
                position[key] = (70 + (WIDTH - 140) * layer / max(columns - 1, 1),
                                 30 + (height - 60) * (i + 0.5) / len(members))
    else:
        if centred:
            position[hub] = (cx, cy)
        for i, key in enumerate(ring):
            angle = -math.pi / 2 + 2 * math.pi * i / max(len(ring), 1)
            position[key] = (cx + radius * 1.35 * math.cos(angle), cy + radius * math.sin(angle))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'class="network" aria-label="{escape(title)}">'
             f'<rect width="{WIDTH}" height="{height}" fill="#f7f9fb"/>']
    for a, b in sorted(pairs):
        (x1, y1), (x2, y2) = position[a], position[b]
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#2a6fdb" '
                     'stroke-opacity="0.45" stroke-width="1"/>')
    show_labels = len(order) <= 60
    for key, label in order.items():
        x, y = position[key]
        main = centred and key == hub
        node = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{6 if main else 4}" '
                f'fill="{"#d9480f" if main else "#2a6fdb"}"><title>{escape(label)}</title></circle>')
        if show_labels or main:
            anchor = "middle" if main or layers else ("start" if x >= cx else "end")
            dx = 0 if main or layers else (7 if x >= cx else -7)
            dy = -10 if main or layers else 4
            node += (f'<text x="{x + dx:.1f}" y="{y + dy:.1f}" font-size="11" text-anchor="{anchor}" '
                     f'fill="#1d2733">{escape(_clip(label, 24))}</text>')
        href = links.get(key)
        parts.append(f'<a href="{escape(href)}">{node}</a>' if href else node)
    parts.append("</svg>")
    return Markup("".join(parts))
