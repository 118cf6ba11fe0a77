"""The VoID description of the dataset: per-graph statistics, licences, vocabularies, examples, dumps.

The per-graph facts (source, licence, retrieval date) come from ``graph/meta``,
which the build writes; sizes are counted on the published snapshot.
"""

from __future__ import annotations

from pyoxigraph import Literal, NamedNode, Store, Triple

from amity import iris
from amity.ns import DCTERMS, FOAF, RDF, VOID, XSD
from amity.stats import graph_sizes

DATASET = NamedNode(iris.BASE + "dataset")
VOCABULARIES = (
    iris.ONTOLOGY, iris.VOCAB, "http://schema.org/", "http://www.w3.org/ns/org#", "http://www.w3.org/ns/prov#",
    "http://www.w3.org/2004/02/skos/core#", "http://purl.org/dc/terms/", "http://www.opengis.net/ont/geosparql#",
    "http://www.w3.org/2003/01/geo/wgs84_pos#",
)
EXAMPLES = (iris.city("Q16572"), iris.city("Q656"), iris.org("c40"))
META_PREDICATES = (DCTERMS.title, DCTERMS.source, DCTERMS.license, DCTERMS.bibliographicCitation,
                   NamedNode("http://purl.org/pav/retrievedOn"), VOID.triples)


def void_description(store: Store, cache_key: tuple[str, int], *, sparql_endpoint: str,
                     dump_url: str, graph_dump_url) -> list[Triple]:
    """``graph_dump_url(graph_iri)`` says where one graph's dump is served."""
    out = [
        Triple(DATASET, RDF.type, VOID.Dataset),
        Triple(DATASET, DCTERMS.title, Literal("Amity: the city-diplomacy knowledge graph", language="en")),
        Triple(DATASET, DCTERMS.title, Literal("Amity 城市外交知识图谱", language="zh")),
        Triple(DATASET, DCTERMS.description, Literal(
            "Twinnings (formal, friendly-cooperation and intended), city networks and roles, forums, "
            "initiatives and agreements, from Wikidata, GeoNames, c40.org and curated articles.", language="en")),
        Triple(DATASET, VOID.sparqlEndpoint, NamedNode(sparql_endpoint)),
        Triple(DATASET, VOID.dataDump, NamedNode(dump_url)),
        Triple(DATASET, VOID.uriSpace, Literal(iris.ID)),
        Triple(DATASET, FOAF.homepage, NamedNode(sparql_endpoint.rsplit("/", 1)[0] + "/")),
    ]
    out += [Triple(DATASET, VOID.vocabulary, NamedNode(v)) for v in VOCABULARIES]
    out += [Triple(DATASET, VOID.exampleResource, NamedNode(e)) for e in EXAMPLES]
    total = 0
    for stats in graph_sizes(store, cache_key):
        graph = NamedNode(stats.graph)
        total += stats.triples
        out += [
            Triple(DATASET, VOID.subset, graph),
            Triple(graph, RDF.type, VOID.Dataset),
            Triple(graph, VOID.triples, Literal(str(stats.triples), datatype=XSD.integer)),
            Triple(graph, VOID.dataDump, NamedNode(graph_dump_url(stats.graph))),
            Triple(graph, VOID.sparqlEndpoint, NamedNode(sparql_endpoint)),
        ]
        for predicate in META_PREDICATES:
            if predicate == VOID.triples:
                continue
            for quad in store.quads_for_pattern(graph, predicate, None, NamedNode(iris.graph("meta"))):
                out.append(Triple(graph, predicate, quad.object))
                if predicate == DCTERMS.license:
                    out.append(Triple(DATASET, DCTERMS.license, quad.object))
    out.append(Triple(DATASET, VOID.triples, Literal(str(total), datatype=XSD.integer)))
    return list(dict.fromkeys(out))
