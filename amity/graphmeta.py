"""Descriptions of named graphs (VoID + PROV + Dublin Core), written to ``graph/meta``.

Only facts that do not change between two builds of the same data go here
(source, licence, retrieval date, loader, triple count), so rebuilding gives
identical quads; build timings go to the command line's report instead.
"""

from __future__ import annotations

from collections.abc import Iterator

from pyoxigraph import Literal, NamedNode

from amity import iris
from amity.ns import DCTERMS, PROV, RDF, VOID, XSD, Namespace
from loaders.base import Source, Triple

META_GRAPH = iris.graph("meta")
PAV = Namespace("http://purl.org/pav/")


def loader_iri(module: str) -> NamedNode:
    """The software agent that produced a graph: one IRI per loader module."""
    return NamedNode(f"{iris.ID}loader/{module.rsplit('.', 1)[-1].replace('_', '-')}")


def describe(graph: str, source: Source, triple_count: int, module: str) -> Iterator[Triple]:
    g = NamedNode(graph)
    loader = loader_iri(module)
    yield g, RDF.type, VOID.Dataset
    yield g, RDF.type, PROV.Entity
    yield g, DCTERMS.title, Literal(source.title, language="en")
    yield g, DCTERMS.source, NamedNode(source.url)
    yield g, DCTERMS.license, NamedNode(source.licence)
    yield g, DCTERMS.bibliographicCitation, Literal(source.attribution)
    yield g, PAV.retrievedOn, Literal(source.retrieved, datatype=XSD.date)
    yield g, VOID.triples, Literal(str(triple_count), datatype=XSD.integer)
    yield g, PROV.wasGeneratedBy, loader
    yield g, PROV.wasDerivedFrom, NamedNode(source.url)
    yield loader, RDF.type, PROV.SoftwareAgent
    yield loader, DCTERMS.identifier, Literal(module)
