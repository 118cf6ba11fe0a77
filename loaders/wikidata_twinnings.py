"""Wikidata's twinned cities (property P190) as ``cdo:Twinning`` nodes between gazetteer cities.

P190 ("twinned administrative body") states that a partnership exists; it is how Wikidata records established
twinnings, so each pair gets status ``formal`` and the unspecified type ``sister-city`` (Wikidata does not say
whether Chinese reporting would call it 友好城市 or 友好合作关系城市). The bundled extract has no start dates,
so none are given. Each twinning is derived from the P190 statements (``prov:wasDerivedFrom wdt:P190``).

Rows that cannot become a twinning are reported with their line: a city paired with itself, a QID that is not
a node of the twin-city file, and a pair listed twice (in either direction).
"""

from __future__ import annotations

from collections.abc import Iterator

from pyoxigraph import NamedNode

from amity import iris
from amity.ns import CDO, PROV, RDF, WDT
from loaders.base import BuildContext, Source, Triple
from loaders.place_sources import TWIN_LINKS, read_twin_links
from loaders.places import places_of

GRAPH = iris.graph("wikidata-twinnings")
SOURCE = Source(
    title="Twinned cities from Wikidata (P190, twinned administrative body), city-level extract",
    url="https://github.com/bothness/twin-cities",
    licence="https://creativecommons.org/publicdomain/zero/1.0/",
    retrieved="2026-11-23",
    attribution="Wikidata (CC0), property P190; city-level extract by Ahmad Barclay (bothness/twin-cities).",
    files=(str(TWIN_LINKS), "wikidata-twin-cities-bothness/nodes.tsv"),
)

SISTER_CITY = NamedNode(iris.concept("twinning-type", "sister-city"))
FORMAL = NamedNode(iris.concept("twinning-status", "formal"))
P190 = WDT.P190


def triples(ctx: BuildContext) -> Iterator[Triple]:
    places = places_of(ctx)
    path = ctx.data_dir / TWIN_LINKS
    seen: dict[frozenset[str], int] = {}
    for line, qid_a, qid_b in read_twin_links(ctx.data_dir, ctx.problem):
        a, b = places.by_qid(qid_a), places.by_qid(qid_b)
        unknown = [q for q, place in ((qid_a, a), (qid_b, b)) if place is None]
        pair = frozenset((qid_a, qid_b))
        if qid_a == qid_b:
            ctx.problem(path, line, f"{qid_a} is twinned with itself")
        elif unknown:
            ctx.problem(path, line, f"{', '.join(unknown)} not in nodes.tsv; pair {qid_a}–{qid_b} skipped")
        elif pair in seen:
            ctx.problem(path, line, f"{qid_a}–{qid_b} repeats line {seen[pair]}")
        elif a is b:
            ctx.problem(path, line, f"{qid_a} and {qid_b} were reconciled onto one place, {a.key}")
        else:
            seen[pair] = line
            yield from _twinning(a.key, a.iri, b.key, b.iri)


def _twinning(key_a: str, iri_a: str, key_b: str, iri_b: str) -> Iterator[Triple]:
    node = NamedNode(iris.twinning(key_a, key_b))
    yield node, RDF.type, CDO.Twinning
    for iri in sorted((iri_a, iri_b)):
        yield node, CDO.party, NamedNode(iri)
    yield node, CDO.twinningType, SISTER_CITY
    yield node, CDO.status, FORMAL
    yield node, PROV.wasDerivedFrom, P190
