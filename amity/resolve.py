"""Turn what people type into our IRIs: a city by IRI, QID, GeoNames id or name in any language.

Saved-query parameters and partner uploads both go through here, so "Qingdao",
"青岛", "Q170322", ``wd:Q170322`` and ``https://sws.geonames.org/1797929/``
all arrive at the same city. A name that fits several places is refused with
the candidates listed, each with a form that is not ambiguous.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from pyoxigraph import NamedNode, Store

from amity import iris
from amity.ns import PREFIXES
from amity.problems import BadParameter

KIND_CLASSES = {
    "city": ("cdo:City", "cdo:Port"),
    "country": ("cdo:Country",),
    "network": ("cdo:CityNetwork", "cdo:InternationalOrganization", "cdo:GovernmentBody"),
}
WIKIDATA = re.compile(r"^(?:https?://www\.wikidata\.org/(?:entity|wiki)/|wd:)?(Q[1-9]\d*)$")
GEONAMES = re.compile(r"^(?:https?://(?:sws\.|www\.)?geonames\.org/|gn-|geonames:)?(\d+)/?(?:about\.rdf)?$")
COUNTRY_SUFFIX = re.compile(r"^(.*?),\s*([A-Za-z]{2})$")


@dataclass(frozen=True)
class Candidate:
    iri: str
    label: str
    country: str | None

    def hint(self) -> str:
        return f"{self.label}, {self.country}" if self.country else self.label


@dataclass
class _Index:
    store: Store  # held so the id used as cache key cannot be reused
    by_name: dict[str, set[str]]
    by_identifier: dict[str, str]
    info: dict[str, Candidate]
    known: set[str]


_indexes: dict[tuple[int, str], _Index] = {}
_lock = threading.Lock()
_build_lock = threading.Lock()  # one build at a time: a request waits for the warming thread's build


def normalise(name: str) -> str:
    """Case- and width-insensitive form of a name (full-width letters, accents kept)."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


def _rows(store: Store, query: str):
    return store.query(query, prefixes=PREFIXES, use_default_graph_as_union=True)


def _index(store: Store, kind: str) -> _Index:
    """Every name and identifier of the resources of one kind, built once per store handle.

    Four plain queries (members, names, identifiers, countries) instead of one
    UNION: pyoxigraph answers them several times faster, which matters because
    the first request after a new snapshot waits for this.
    """
    key = (id(store), kind)
    with _lock:
        index = _indexes.get(key)
        if index is not None and index.store is store:
            return index
    with _build_lock:
        with _lock:
            index = _indexes.get(key)
        if index is not None and index.store is store:
            return index
        return _build(store, kind, key)


def _build(store: Store, kind: str, key: tuple[int, str]) -> _Index:
    known: set[str] = set()
    for cls in KIND_CLASSES[kind]:
        known.update(row[0].value for row in _rows(store, f"SELECT ?x WHERE {{ ?x a {cls} }}"))
    by_name: dict[str, set[str]] = defaultdict(set)
    by_identifier: dict[str, str] = {}
    english: dict[str, str] = {}
    other: dict[str, str] = {}
    countries: dict[str, str] = {}
    # Cities are most of the graph: scanning every label beats a join. Other kinds are few: join.
    scope = "" if kind == "city" else f"VALUES ?class {{ {' '.join(KIND_CLASSES[kind])} }} ?x a ?class . "
    for row in _rows(store, f"SELECT ?x ?label WHERE {{ {scope}?x skos:prefLabel|skos:altLabel|rdfs:label ?label }}"):
        iri = row[0].value
        if iri in known:
            label = row[1]
            by_name[normalise(label.value)].add(iri)
            (english if label.language == "en" else other).setdefault(iri, label.value)
    for row in _rows(store, f"SELECT ?x ?id WHERE {{ {scope}?x cdo:wikidataId|cdo:geonamesId|cdo:iso2|cdo:iso3 ?id }}"):
        if row[0].value in known:
            by_identifier.setdefault(row[1].value.upper(), row[0].value)
    if kind == "city":
        for row in _rows(store, "SELECT ?x ?country WHERE { ?x cdo:country/cdo:iso2 ?country }"):
            countries.setdefault(row[0].value, row[1].value)
    info = {iri: Candidate(iri, english.get(iri) or other.get(iri) or iris.key_of(iri), countries.get(iri))
            for iri in known}
    index = _Index(store, dict(by_name), by_identifier, info, known)
    with _lock:
        if len(_indexes) > 12:
            _indexes.clear()
        _indexes[key] = index
    return index


def candidates(store: Store, kind: str, text: str) -> list[Candidate]:
    """Every resource of ``kind`` whose identifier or name is ``text``, best known first."""
    index = _index(store, kind)
    raw = text.strip()
    if raw.startswith(iris.ID):
        return [index.info[raw]] if raw in index.known else []
    match = WIKIDATA.match(raw)
    if match and match.group(1) in index.by_identifier:
        return [index.info[index.by_identifier[match.group(1)]]]
    match = GEONAMES.match(raw)
    if match and kind == "city" and match.group(1) in index.by_identifier:
        return [index.info[index.by_identifier[match.group(1)]]]
    if kind == "country" and raw.upper() in index.by_identifier:
        return [index.info[index.by_identifier[raw.upper()]]]
    if kind == "network" and iris.org(raw) in index.known:
        return [index.info[iris.org(raw)]]
    found = index.by_name.get(normalise(raw), set())
    country = None
    if not found:
        suffix = COUNTRY_SUFFIX.match(raw)
        if suffix:
            country = suffix.group(2).upper()
            found = {iri for iri in index.by_name.get(normalise(suffix.group(1)), set())
                     if index.info[iri].country == country}
    return sorted((index.info[iri] for iri in found), key=lambda c: (c.label, c.iri))


def resolve(store: Store, kind: str, text: str, *, parameter: str = "value") -> NamedNode:
    """The one resource ``text`` names.

    :raises BadParameter: when nothing fits, or several things do (with the candidates listed).
    """
    found = candidates(store, kind, text)
    if len(found) == 1:
        return NamedNode(found[0].iri)
    if not found:
        raise BadParameter(
            f"parameter {parameter!r}: no {kind} is known as {text!r} "
            f"(give our IRI, a Wikidata QID{', a GeoNames id' if kind == 'city' else ''} or a name)",
            extra={"parameter": parameter},
        )
    hints = [c.hint() for c in found]
    raise BadParameter(
        f"parameter {parameter!r}: {text!r} names {len(found)} places; say which one",
        extra={"parameter": parameter,
               "candidates": [{"iri": c.iri, "label": c.label, "country": c.country,
                               "use": hint if kind == "city" and hints.count(hint) == 1 else _identifier(c.iri)}
                              for c, hint in zip(found[:50], hints, strict=False)]},
    )


def _identifier(iri: str) -> str:
    """The shortest form of an IRI that still resolves: its QID or ``gn-`` key, else the IRI itself."""
    key = iris.key_of(iri)
    return key if WIKIDATA.match(key) or key.startswith("gn-") else iri


def warm(store: Store) -> None:
    """Build the indexes ahead of the first request that needs them (the city one takes seconds)."""
    for kind in KIND_CLASSES:
        _index(store, kind)
