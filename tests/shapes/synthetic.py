"""A synthetic graph shaped like Amity's big graphs: to time the shapes and check they accept loader output.

Three graphs, as the build validates them: the gazetteer (cities and their geometries, plus the ``rdf:type``
of the countries they point to), the Wikidata twinnings (plus the ``rdf:type`` of their parties) and the
derived ``cdo:twinnedWith`` shortcuts (validated with the twinnings as context). Seeded, so timings compare.

Run ``python -m tests.shapes.synthetic [cities] [twinnings]`` from the repository root to time pySHACL on it.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass

from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import SKOS, XSD

from amity import iris

CDO = Namespace(iris.ONTOLOGY)
PROV = Namespace("http://www.w3.org/ns/prov#")
WGS = Namespace("http://www.w3.org/2003/01/geo/wgs84_pos#")
GEO = Namespace("http://www.opengis.net/ont/geosparql#")
SOURCE = URIRef("https://www.wikidata.org/")
COUNTRY_CODES = [a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in "ABCDEFGHIJ"][:250]


@dataclass
class SyntheticGraphs:
    gazetteer: Graph
    twinnings: Graph
    derived: Graph


def _city_keys(count: int, rng: random.Random) -> list[str]:
    """Half QIDs, half GeoNames keys, like a gazetteer partly reconciled to Wikidata."""
    return [f"Q{1000 + i}" if rng.random() < 0.5 else f"gn-{100000 + i}" for i in range(count)]


def gazetteer(keys: list[str], rng: random.Random, zh_share: float = 0.3) -> Graph:
    """Cities as the gazetteer loader writes them: ~11 triples per city, a third with a Chinese name."""
    g = Graph()
    for code in COUNTRY_CODES:
        g.add((URIRef(iris.country(code)), RDF.type, CDO.Country))  # referenced nodes' types only
    for i, key in enumerate(keys):
        city = URIRef(iris.city(key))
        lat, long = round(rng.uniform(-60, 70), 5), round(rng.uniform(-179, 179), 5)
        g.add((city, RDF.type, CDO.City))
        g.add((city, SKOS.prefLabel, Literal(f"City {i}", lang="en")))
        if rng.random() < zh_share:
            g.add((city, SKOS.prefLabel, Literal(f"城市{i}", lang="zh")))
        g.add((city, CDO.country, URIRef(iris.country(rng.choice(COUNTRY_CODES)))))
        g.add((city, CDO.geonamesId, Literal(str(100000 + i))))
        if key.startswith("Q"):
            g.add((city, CDO.wikidataId, Literal(key)))
        g.add((city, WGS.lat, Literal(str(lat), datatype=XSD.decimal)))
        g.add((city, WGS.long, Literal(str(long), datatype=XSD.decimal)))
        g.add((city, CDO.population, Literal(rng.randint(15000, 9000000))))
        geometry = URIRef(iris.geometry(str(city)))
        g.add((city, GEO.hasGeometry, geometry))
        g.add((geometry, GEO.asWKT, Literal(f"POINT({long} {lat})", datatype=GEO.wktLiteral)))
    return g


def twinnings(keys: list[str], count: int, rng: random.Random) -> tuple[Graph, list[tuple[str, str]]]:
    """Twinnings as the Wikidata loader writes them (sister-city, formal, a start year on a fifth of them)."""
    g = Graph()
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < count:
        a, b = rng.sample(keys, 2)
        pairs.add((min(a, b), max(a, b)))
    ordered = sorted(pairs)
    for key in {k for pair in ordered for k in pair}:
        g.add((URIRef(iris.city(key)), RDF.type, CDO.City))  # referenced nodes' types only
    sister_city = URIRef(iris.concept("twinning-type", "sister-city"))
    formal = URIRef(iris.concept("twinning-status", "formal"))
    for a, b in ordered:
        node = URIRef(iris.twinning(a, b))
        g.add((node, RDF.type, CDO.Twinning))
        g.add((node, CDO.party, URIRef(iris.city(a))))
        g.add((node, CDO.party, URIRef(iris.city(b))))
        g.add((node, CDO.twinningType, sister_city))
        g.add((node, CDO.status, formal))
        g.add((node, PROV.wasDerivedFrom, SOURCE))
        if rng.random() < 0.2:
            g.add((node, Namespace("http://schema.org/").startDate, Literal(str(rng.randint(1950, 2024)),
                                                                            datatype=XSD.gYear)))
    return g, ordered


def derived(pairs: list[tuple[str, str]]) -> Graph:
    """The cdo:twinnedWith shortcuts of formal twinnings, both directions."""
    g = Graph()
    for a, b in pairs:
        g.add((URIRef(iris.city(a)), CDO.twinnedWith, URIRef(iris.city(b))))
        g.add((URIRef(iris.city(b)), CDO.twinnedWith, URIRef(iris.city(a))))
    return g


def build(cities: int = 40_000, twinning_count: int = 11_000, seed: int = 7) -> SyntheticGraphs:
    rng = random.Random(seed)
    keys = _city_keys(cities, rng)
    twinning_graph, pairs = twinnings(keys, twinning_count, rng)
    return SyntheticGraphs(gazetteer(keys, rng), twinning_graph, derived(pairs))


def main(argv: list[str]) -> None:
    from amity.validate import validate

    cities = int(argv[0]) if argv else 40_000
    twinning_count = int(argv[1]) if len(argv) > 1 else 11_000
    graphs = build(cities, twinning_count)
    validate(Graph())  # load and cache the shapes outside the timings
    runs = [("gazetteer", graphs.gazetteer, None), ("twinnings", graphs.twinnings, None),
            ("derived", graphs.derived, graphs.twinnings)]
    for name, graph, context in runs:
        wall, cpu = time.perf_counter(), time.process_time()
        report = validate(graph, context=context)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{name:10} {len(graph):>7} triples  wall {wall:6.2f} s  cpu {cpu:6.2f} s  "
              f"violations={report.violations} warnings={report.warnings}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
