"""A synthetic graph shaped like Amity's, of any size, written as N-Quads for the store benchmark.

What the default graph holds, in the same proportions and vocabulary, under synthetic IRIs
(``id/city/syn-N``, ``id/twinning/syn-A__syn-B``, ``id/membership/syn-org-K__syn-N``) and graphs
(``graph/synthetic-*``):

* cities (about 40 % of the triples): ``cdo:City`` with English and Chinese names (and a Russian one for
  one in five), a country among the real ones, latitude, longitude, population, a GeoNames id and a WKT
  point on ``{city}#geometry``;
* twinnings (45 %): ``cdo:Twinning`` with two parties, a status (formal, or an intent for one in eight), a
  type and a start year, plus the two ``cdo:twinnedWith`` shortcuts the build derives; one in fifty
  twinnings has a real city as its second party, so the real cities' answers grow too;
* memberships (15 %): ``org:Membership`` of a city in one of 200 synthetic networks, with a role, plus the
  derived ``org:memberOf``.

Generated as text, not pyoxigraph objects (10 million quads in about a minute), deterministically from a seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

from amity import iris

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
SKOS_LABEL = "<http://www.w3.org/2004/02/skos/core#prefLabel>"
ORG = "http://www.w3.org/ns/org#"
CDO = iris.ONTOLOGY
GRAPHS = {name: f"<{iris.graph('synthetic-' + name)}>" for name in ("gazetteer", "twinnings", "networks",
                                                                     "derived")}
STATUSES = [f"<{iris.concept('twinning-status', s)}>" for s in ("formal", "intent")]
TYPES = [f"<{iris.concept('twinning-type', t)}>" for t in ("sister-city", "friendship-city",
                                                            "friendly-cooperation-city")]
ROLES = [f"<{iris.VOCAB}role/{r}>" for r in ("member", "founder", "observer")]
CITY_TRIPLES, TWINNING_TRIPLES, MEMBERSHIP_TRIPLES = 12.2, 8.0, 5.0


def _city(n: int) -> str:
    return f"<{iris.ID}city/syn-{n}>"


def write(path: Path, triples: int, *, countries: Sequence[str], real_cities: Sequence[str], seed: int = 7,
          progress: Callable[[int], None] | None = None) -> int:
    """Write at least ``triples`` quads (a few more at most) to ``path``; returns how many were written."""
    rng = random.Random(seed)
    cities = max(10, int(triples * 0.40 / CITY_TRIPLES))
    twinnings = int(triples * 0.45 / TWINNING_TRIPLES)
    memberships = int(triples * 0.15 / MEMBERSHIP_TRIPLES)
    country_iris = [f"<{iris.country(code)}>" for code in countries]
    real = [f"<{city}>" for city in real_cities]
    g_city, g_twin, g_net, g_derived = (GRAPHS[k] for k in ("gazetteer", "twinnings", "networks", "derived"))
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        def emit(lines: list[str]) -> None:
            nonlocal written
            out.write("".join(lines))
            before, written = written, written + len(lines)
            if progress and before // 500_000 != written // 500_000:
                progress(written)

        for n in range(cities):
            city = _city(n)
            lat, long = rng.uniform(-55, 70), rng.uniform(-180, 180)
            geometry = f"<{iris.ID}city/syn-{n}#geometry>"
            lines = [
                f"{city} {RDF_TYPE} <{CDO}City> {g_city} .\n",
                f'{city} {SKOS_LABEL} "Synthetic City {n}"@en {g_city} .\n',
                f'{city} {SKOS_LABEL} "合成城市{n}号"@zh {g_city} .\n',
                f"{city} <{CDO}country> {rng.choice(country_iris)} {g_city} .\n",
                f'{city} <http://www.w3.org/2003/01/geo/wgs84_pos#lat> "{lat:.5f}"^^<{XSD}decimal> {g_city} .\n',
                f'{city} <http://www.w3.org/2003/01/geo/wgs84_pos#long> "{long:.5f}"^^<{XSD}decimal> {g_city} .\n',
                f'{city} <{CDO}population> "{rng.randint(2_000, 3_000_000)}"^^<{XSD}integer> {g_city} .\n',
                f'{city} <{CDO}geonamesId> "{90_000_000 + n}" {g_city} .\n',
                f"{city} <http://www.opengis.net/ont/geosparql#hasGeometry> {geometry} {g_city} .\n",
                f'{geometry} <http://www.opengis.net/ont/geosparql#asWKT> "POINT({long:.5f} {lat:.5f})"'
                f"^^<http://www.opengis.net/ont/geosparql#wktLiteral> {g_city} .\n",
                f"{city} <http://www.w3.org/2002/07/owl#sameAs> <https://sws.geonames.org/{90_000_000 + n}/> "
                f"{g_city} .\n",
            ]
            if n % 5 == 0:
                lines.append(f'{city} {SKOS_LABEL} "Синтетический город {n}"@ru {g_city} .\n')
            emit(lines)
        k = 0
        # the planned twinnings, then more until the memberships (5 quads each) bring the total to ``triples``
        while k < twinnings or written + memberships * 5 < triples:
            a = rng.randrange(cities)
            second = rng.choice(real) if real and k % 50 == 0 else _city((a + 1 + rng.randrange(cities - 1)) % cities)
            first = _city(a)
            node = f"<{iris.ID}twinning/syn-{k}>"
            status = STATUSES[1] if k % 8 == 0 else STATUSES[0]
            lines = [
                f"{node} {RDF_TYPE} <{CDO}Twinning> {g_twin} .\n",
                f"{node} <{CDO}party> {first} {g_twin} .\n",
                f"{node} <{CDO}party> {second} {g_twin} .\n",
                f"{node} <{CDO}status> {status} {g_twin} .\n",
                f"{node} <{CDO}twinningType> {rng.choice(TYPES)} {g_twin} .\n",
                f'{node} <http://schema.org/startDate> "{rng.randint(1950, 2024)}"^^<{XSD}gYear> {g_twin} .\n',
            ]
            if status == STATUSES[0]:
                lines += [f"{first} <{CDO}twinnedWith> {second} {g_derived} .\n",
                          f"{second} <{CDO}twinnedWith> {first} {g_derived} .\n"]
            emit(lines)
            k += 1
        for k in range(memberships):
            member = _city(rng.randrange(cities))
            network = f"<{iris.ID}org/syn-network-{k % 200}>"
            node = f"<{iris.ID}membership/syn-{k}>"
            emit([
                f"{node} {RDF_TYPE} <{ORG}Membership> {g_net} .\n",
                f"{node} <{ORG}member> {member} {g_net} .\n",
                f"{node} <{ORG}organization> {network} {g_net} .\n",
                f"{node} <{ORG}role> {rng.choice(ROLES)} {g_net} .\n",
                f"{member} <{ORG}memberOf> {network} {g_derived} .\n",
            ])
    return written
