"""The SPARQL 1.1 Service Description of ``/sparql``: formats, features and named graphs with sizes."""

from __future__ import annotations

from flask import url_for
from pyoxigraph import Literal, NamedNode, Triple

from amity import iris
from amity.ns import RDF, RDFS, SD, VOID, XSD, Namespace
from amity.stats import graph_sizes
from amity.web import amity

FORMATS = Namespace("http://www.w3.org/ns/formats/")
RESULT_FORMATS = ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                  "Turtle", "N-Triples", "JSON-LD", "RDF_XML")


def service_description() -> list[Triple]:
    service = amity()
    endpoint = NamedNode(url_for("sparql.query", _external=True))
    me = NamedNode(url_for("sparql.query", _external=True) + "#service")
    dataset = NamedNode(url_for("sparql.query", _external=True) + "#dataset")
    default_graph = NamedNode(url_for("sparql.query", _external=True) + "#default-graph")
    void = NamedNode(url_for("meta.void", _external=True))
    out = [
        Triple(me, RDF.type, SD.Service),
        Triple(me, SD.endpoint, endpoint),
        Triple(me, SD.supportedLanguage, SD.SPARQL11Query),
        Triple(me, SD.feature, SD.UnionDefaultGraph),
        Triple(me, SD.feature, SD.DereferencesURIs),
        Triple(me, SD.defaultDataset, dataset),
        Triple(me, RDFS.comment, Literal(
            "Amity: the city-diplomacy knowledge graph. The default graph is the union of all named graphs. "
            f"Queries stop after {service.settings.query_timeout:g} s; results are capped at "
            f"{service.settings.row_cap:,} rows (signalled by the X-SPARQL-MaxRows header). "
            "SERVICE is refused unless the endpoint is on the allowlist.", language="en")),
        Triple(dataset, RDF.type, SD.Dataset),
        Triple(dataset, SD.defaultGraph, default_graph),
        Triple(dataset, RDFS.seeAlso, void),
        Triple(default_graph, RDF.type, SD.Graph),
    ]
    if service.settings.service_allowlist:
        out.append(Triple(me, SD.feature, SD.BasicFederatedQuery))
    out.extend(Triple(me, SD.resultFormat, FORMATS[name]) for name in RESULT_FORMATS)
    store = service.store
    total = 0
    for stats in graph_sizes(store.reader(), (str(store.root), store.version())):
        named = NamedNode(f"{endpoint.value}#graph-{iris.key_of(stats.graph)}")
        description = NamedNode(f"{endpoint.value}#graph-{iris.key_of(stats.graph)}-description")
        out += [
            Triple(dataset, SD.namedGraph, named),
            Triple(named, RDF.type, SD.NamedGraph),
            Triple(named, SD.name, NamedNode(stats.graph)),
            Triple(named, SD.graph, description),
            Triple(description, RDF.type, SD.Graph),
            Triple(description, VOID.triples, Literal(str(stats.triples), datatype=XSD.integer)),
        ]
        total += stats.triples
    out.append(Triple(default_graph, VOID.triples, Literal(str(total), datatype=XSD.integer)))
    return out
