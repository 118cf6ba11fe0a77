"""Validate named graphs of a store against ``shapes/``, one group of graphs at a time.

pySHACL works on rdflib graphs and needs about a minute for half a million
triples in one process. Splitting by source graph keeps each data graph small,
lets two processes share the work on two cores, and matches how partners'
uploads are validated: the graph itself plus the ``rdf:type`` of every
resource it points to, so ``sh:class`` constraints can be checked without
loading the whole store.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import rdflib
from pyoxigraph import BlankNode, Literal, NamedNode, Store

from amity.processes import die_with_parent
from amity.validate import Report, validate


@dataclass(frozen=True)
class Group:
    """Graphs validated together, plus triples of given patterns copied in from every graph as context."""

    name: str
    graphs: tuple[str, ...]
    context: tuple[tuple[str, str | None], ...] = ()  # (predicate, object or None) copied from every graph
    only: tuple[str, ...] | None = None  # node shapes to run; all when None
    shard: int = 0  # validate only resources whose IRI (before '#') falls in this shard …
    shards: int = 1  # … of this many: large graphs are split so both cores share them

    def holds(self, subject: str) -> bool:
        if self.shards == 1:
            return True
        return zlib.crc32(subject.split("#", 1)[0].encode()) % self.shards == self.shard


class _Converter:
    """pyoxigraph terms → rdflib terms, with IRIs cached: most IRIs recur (types, predicates, countries)."""

    def __init__(self) -> None:
        self.iris: dict[str, rdflib.URIRef] = {}

    def __call__(self, term: NamedNode | BlankNode | Literal) -> rdflib.term.Node:
        if isinstance(term, NamedNode):
            iri = self.iris.get(term.value)
            if iri is None:
                iri = self.iris[term.value] = rdflib.URIRef(term.value)
            return iri
        if isinstance(term, BlankNode):
            return rdflib.BNode(term.value)
        if term.language:
            return rdflib.Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == "http://www.w3.org/2001/XMLSchema#string":
            return rdflib.Literal(term.value)
        return rdflib.Literal(term.value, datatype=self(term.datatype))


def to_rdflib(term: NamedNode | BlankNode | Literal) -> rdflib.term.Node:
    """Convert one pyoxigraph term without going through a serialisation round trip."""
    return _Converter()(term)


RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


def data_graph(store: Store, group: Group) -> tuple[rdflib.Graph, rdflib.Graph | None]:
    """The group's triples with the types of every IRI they point to, and its context triples apart."""
    graph = rdflib.Graph()
    add = graph.add
    convert = _Converter()
    referenced: set[str] = set()
    typed: set[str] = set()
    for name in group.graphs:
        for quad in store.quads_for_pattern(None, None, None, NamedNode(name)):
            if group.shards > 1 and not group.holds(quad.subject.value):
                continue
            obj = quad.object
            if isinstance(obj, NamedNode):
                if quad.predicate == RDF_TYPE:
                    typed.add(quad.subject.value)
                else:
                    referenced.add(obj.value)
            add((convert(quad.subject), convert(quad.predicate), convert(obj)))
    context = rdflib.Graph() if group.context else None
    for predicate, obj in group.context:
        pattern_object = NamedNode(obj) if obj else None
        for quad in store.quads_for_pattern(None, NamedNode(predicate), pattern_object, None):
            context.add((convert(quad.subject), convert(quad.predicate), convert(quad.object)))
    rdf_type = rdflib.RDF.type
    for iri in referenced - typed:
        for quad in store.quads_for_pattern(NamedNode(iri), RDF_TYPE, None, None):
            add((convert(quad.subject), rdf_type, convert(quad.object)))
    return graph, context


def _validate_group(store_path: str, group: Group) -> tuple[str, Report, int]:
    store = Store.read_only(store_path)
    graph, context = data_graph(store, group)
    return group.name, validate(graph, context=context, only=group.only), len(graph)


def validate_groups(store_path: str | os.PathLike[str], groups: Sequence[Group], *,
                    workers: int = 2) -> Iterable[tuple[str, Report, int]]:
    """Validate each group in its own process, yielding ``(name, report, triples)`` as they finish.

    ``store_path`` must be a directory nobody writes to (a snapshot), since
    each worker opens it read-only.
    """
    if workers <= 1:
        for group in groups:
            yield _validate_group(str(store_path), group)
        return
    # Largest groups first, so the two workers finish close together.
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                             initializer=die_with_parent) as pool:
        futures = [pool.submit(_validate_group, str(store_path), group) for group in groups]
        for future in futures:
            yield future.result()
