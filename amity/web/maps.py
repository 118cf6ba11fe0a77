"""Small maps drawn by the server as SVG, so pages work without internet access.

The backdrop is the gazetteer itself: every city of over 150,000 people as a
faint dot, which outlines the inhabited world well enough to read a map by,
in an equirectangular projection with a 30° graticule.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from pyoxigraph import Store

from amity.describe import Description

WIDTH, HEIGHT = 720, 360
_backdrop_cache: dict[tuple[str, int], str] = {}
_lock = threading.Lock()

BACKDROP_QUERY = """
PREFIX cdo: <https://w3id.org/citydiplomacy/ontology#>
PREFIX wgs: <http://www.w3.org/2003/01/geo/wgs84_pos#>
SELECT ?lat ?long { GRAPH <https://w3id.org/citydiplomacy/graph/gazetteer> {
  ?c cdo:population ?p ; wgs:lat ?lat ; wgs:long ?long FILTER(?p > 150000) } }
"""


@dataclass(frozen=True)
class Marker:
    lat: float
    long: float
    label: str
    href: str | None = None
    main: bool = False


def project(lat: float, long: float) -> tuple[float, float]:
    """Equirectangular: longitude → x, latitude → y, both scaled to the canvas."""
    return (long + 180.0) / 360.0 * WIDTH, (90.0 - lat) / 180.0 * HEIGHT


def backdrop(store: Store, cache_key: tuple[str, int]) -> str:
    with _lock:
        if cache_key in _backdrop_cache:
            return _backdrop_cache[cache_key]
    dots = []
    for row in store.query(BACKDROP_QUERY):
        x, y = project(float(row["lat"].value), float(row["long"].value))
        dots.append(f"M{x:.1f} {y:.1f}h0")
    lines = [f'<path d="M{x} 0V{HEIGHT}" />' for x in range(0, WIDTH + 1, WIDTH // 12)]
    lines += [f'<path d="M0 {y}H{WIDTH}" />' for y in range(0, HEIGHT + 1, HEIGHT // 6)]
    svg = (f'<g class="graticule" stroke="#dde3ea" stroke-width="0.5">{"".join(lines)}</g>'
           f'<path class="land" d="{"".join(dots)}" stroke="#b9c3cf" stroke-width="1.6" '
           f'stroke-linecap="round" fill="none" />')
    with _lock:
        _backdrop_cache.clear()
        _backdrop_cache[cache_key] = svg
    return svg


def svg(markers: Iterable[Marker], *, links_from: Marker | None = None, background: str = "",
        title: str = "map") -> str:
    markers = list(markers)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'class="map" aria-label="{escape(title)}"><rect width="{WIDTH}" height="{HEIGHT}" fill="#f7f9fb"/>',
             background]
    if links_from is not None:
        x0, y0 = project(links_from.lat, links_from.long)
        for marker in markers:
            if marker is links_from:
                continue
            x, y = project(marker.lat, marker.long)
            parts.append(f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
                         'stroke="#2a6fdb" stroke-opacity="0.35" stroke-width="0.8"/>')
    for marker in markers:
        x, y = project(marker.lat, marker.long)
        radius, colour = (4.5, "#d9480f") if marker.main else (2.8, "#2a6fdb")
        dot = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{colour}">'
               f'<title>{escape(marker.label)}</title></circle>')
        parts.append(f'<a href="{escape(marker.href)}">{dot}</a>' if marker.href else dot)
    parts.append("</svg>")
    return "".join(parts)


def place_map(description: Description) -> str:
    """A place, its twins, and the lines between them."""
    from amity.web import amity
    from amity.web.entities import local_path

    service = amity()
    background = backdrop(service.store.reader(), (str(service.store.root), service.store.version()))
    markers: list[Marker] = []
    main = None
    if description.point:
        main = Marker(description.point[0], description.point[1], description.label(description.iri), None, True)
        markers.append(main)
    for twin in description.twins:
        if twin.lat is not None and twin.long is not None:
            markers.append(Marker(twin.lat, twin.long, twin.partner_label, local_path(twin.partner)))
    return svg(markers, links_from=main, background=background, title=f"map of {description.label(description.iri)}")
