"""Turn what people type into our IRIs: a city by IRI, QID, GeoNames id or name in any language.

Saved-query parameters and partner uploads both go through here, so "Qingdao",
"青岛", "Q170322", ``wd:Q170322`` and ``https://sws.geonames.org/1797929/``
all arrive at the same city. A name that fits several places is refused with
the candidates listed, each with a form that is not ambiguous.
"""

from __future__ import annotations

import re
import sys
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from pyoxigraph import Literal, NamedNode, Store

from amity import iris
from amity.ns import CDO, PREFIXES, RDF, RDFS, SKOS
from amity.problems import BadParameter

KIND_CLASSES = {
    "city": ("cdo:City", "cdo:Port"),
    "country": ("cdo:Country",),
    "network": ("cdo:CityNetwork", "cdo:InternationalOrganization", "cdo:GovernmentBody"),
}
KIND_IRIS = {curie: iris.ONTOLOGY + curie.split(":", 1)[1]
             for classes in KIND_CLASSES.values() for curie in classes}
WIKIDATA = re.compile(r"^(?:https?://www\.wikidata\.org/(?:entity|wiki)/|wd:)?(Q[1-9]\d*)$")
GEONAMES = re.compile(r"^(?:https?://(?:sws\.|www\.)?geonames\.org/|gn-|geonames:)?(\d+)/?(?:about\.rdf)?$")
COUNTRY_SUFFIX = re.compile(r"^(.*?),\s*([A-Za-z]{2})$")


@dataclass(frozen=True, slots=True)
class Candidate:
    iri: str
    label: str
    country: str | None

    def hint(self) -> str:
        return f"{self.label}, {self.country}" if self.country else self.label


@dataclass(slots=True)
class _Index:
    """Normalised names of one kind of resource; every IRI in it is one shared string (~35 000 cities' names
    took 85 MiB of a web process as sets of separate strings)."""

    store: Store  # held so the id used as cache key cannot be reused
    by_name: dict[str, tuple[str, ...]]
    info: dict[str, Candidate]


_indexes: dict[tuple[int, str], _Index] = {}
#: Indexes kept per kind: the current snapshot's, and the one before for requests that began before a write.
KEPT_PER_KIND = 2
_lock = threading.Lock()
_build_lock = threading.Lock()  # one build at a time: concurrent requests wait for the first one


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
    known: dict[str, str] = {}  # each IRI to the one copy of it that every table below shares
    for cls in KIND_CLASSES[kind]:
        for row in _rows(store, f"SELECT ?x WHERE {{ ?x a {cls} }}"):
            known.setdefault(row[0].value, row[0].value)
    by_name: dict[str, list[str]] = defaultdict(list)
    english: dict[str, str] = {}
    other: dict[str, str] = {}
    countries: dict[str, str] = {}
    # Cities are most of the graph: scanning every label beats a join. Other kinds are few: join.
    scope = "" if kind == "city" else f"VALUES ?class {{ {' '.join(KIND_CLASSES[kind])} }} ?x a ?class . "
    labels = f"SELECT ?x ?label WHERE {{ {scope}?x skos:prefLabel|skos:altLabel|rdfs:label ?label }}"
    for row in _rows(store, labels):
        iri = known.get(row[0].value)
        if iri is not None:
            label = row[1]
            same = by_name[normalise(label.value)]
            if iri not in same:
                same.append(iri)
            (english if label.language == "en" else other).setdefault(iri, label.value)
    if kind == "city":
        for row in _rows(store, "SELECT ?x ?country WHERE { ?x cdo:country/cdo:iso2 ?country }"):
            iri = known.get(row[0].value)
            if iri is not None:
                countries.setdefault(iri, sys.intern(row[1].value))
    info = {iri: Candidate(iri, english.get(iri) or other.get(iri) or iris.key_of(iri), countries.get(iri))
            for iri in known}
    index = _Index(store, {name: tuple(found) for name, found in by_name.items()}, info)
    with _lock:
        older = [k for k in _indexes if k[1] == kind and k != key]
        for stale in older[: max(len(older) - (KEPT_PER_KIND - 1), 0)]:  # oldest first: dicts keep order
            del _indexes[stale]
        _indexes[key] = index
    return index


def candidates(store: Store, kind: str, text: str) -> list[Candidate]:
    """Every resource of ``kind`` whose identifier or name is ``text``, best known first.

    Identifiers and names spelt as stored are looked up directly in the store's
    indexes (microseconds); only a name that matches no label exactly (other
    case, full-width letters, "Name, CC") falls back to the normalised index,
    which takes seconds to build the first time.
    """
    raw = text.strip()
    direct = _direct(store, kind, raw)
    if direct is not None:
        return sorted((_describe(store, iri) for iri in direct), key=lambda c: (c.label, c.iri))
    index = _index(store, kind)
    found: tuple[str, ...] | set[str] = index.by_name.get(normalise(raw), ())
    if not found:
        suffix = COUNTRY_SUFFIX.match(raw)
        if suffix:
            country = suffix.group(2).upper()
            found = {iri for iri in index.by_name.get(normalise(suffix.group(1)), set())
                     if index.info[iri].country == country}
    return sorted((index.info[iri] for iri in found), key=lambda c: (c.label, c.iri))


#: Language tags tried for an exact-label lookup before the normalised index is needed.
LOOKUP_LANGUAGES = ("en", "zh", "ru", "fr", "es", "ar", "de", "ja", "ko", "pt", "it", "zh-hans", "zh-hant")
_LABELS = (SKOS.prefLabel, SKOS.altLabel, RDFS.label)


def _of_kind(store: Store, iri: str, kind: str) -> bool:
    classes = {KIND_IRIS[c] for c in KIND_CLASSES[kind]}
    return any(quad.object.value in classes
               for quad in store.quads_for_pattern(NamedNode(iri), RDF.type, None, None))


def _direct(store: Store, kind: str, raw: str) -> set[str] | None:
    """IRIs found by exact lookups; None when only the normalised index can tell."""
    if raw.startswith(iris.ID):
        return {raw} if _of_kind(store, raw, kind) else set()
    identifiers: list[tuple[NamedNode, str]] = []
    match = WIKIDATA.match(raw)
    if match:
        identifiers.append((CDO.wikidataId, match.group(1)))
    match = GEONAMES.match(raw)
    if match and kind == "city":
        identifiers.append((CDO.geonamesId, match.group(1)))
    if kind == "country" and re.fullmatch(r"[A-Za-z]{2,3}", raw):
        identifiers.append((CDO.iso2 if len(raw) == 2 else CDO.iso3, raw.upper()))
    if kind == "network" and re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", raw) and _of_kind(store, iris.org(raw), kind):
        return {iris.org(raw)}
    for predicate, value in identifiers:
        found = {q.subject.value for q in store.quads_for_pattern(None, predicate, Literal(value), None)
                 if _of_kind(store, q.subject.value, kind)}
        if found:
            return found
    found = _named(store, kind, raw)
    suffix = COUNTRY_SUFFIX.match(raw)
    if not found and suffix and kind == "city":  # "Springfield, US"
        country = iris.country(suffix.group(2))
        found = {iri for iri in _named(store, kind, suffix.group(1))
                 if any(q.object.value == country
                        for q in store.quads_for_pattern(NamedNode(iri), CDO.country, None, None))}
    return found or None


def _named(store: Store, kind: str, name: str) -> set[str]:
    """Resources of ``kind`` labelled ``name`` (as typed, Title Case or lower case) in a common language."""
    found: set[str] = set()
    terms = [term for spelling in {name, name.title(), name.capitalize(), name.lower()}
             for term in [Literal(spelling)] + [Literal(spelling, language=tag) for tag in LOOKUP_LANGUAGES]]
    if hasattr(store, "subjects_for"):  # a remote store: one request, not a round trip per probe
        found = store.subjects_for(_LABELS, terms)
    else:
        for predicate in _LABELS:
            for term in terms:
                found.update(q.subject.value for q in store.quads_for_pattern(None, predicate, term, None))
    return {iri for iri in found if _of_kind(store, iri, kind)}


def _describe(store: Store, iri: str) -> Candidate:
    """Label (English first) and ISO country code of one resource, for the candidate list."""
    node = NamedNode(iri)
    labels = {q.object.language or "": q.object.value
              for q in store.quads_for_pattern(node, SKOS.prefLabel, None, None)}
    label = labels.get("en") or next(iter(sorted(labels.values())), None) or iris.key_of(iri)
    country = None
    for quad in store.quads_for_pattern(node, CDO.country, None, None):
        codes = list(store.quads_for_pattern(quad.object, CDO.iso2, None, None))
        if codes:
            country = codes[0].object.value
            break
    return Candidate(iri, label, country)


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
                               "use": hint if kind == "city" and hints.count(hint) == 1
                               else _identifier(c.iri)}
                              for c, hint in zip(found[:50], hints, strict=False)]},
    )


def _identifier(iri: str) -> str:
    """The shortest form of an IRI that still resolves: its QID or ``gn-`` key, else the IRI itself."""
    key = iris.key_of(iri)
    return key if WIKIDATA.match(key) or key.startswith("gn-") else iri
