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
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import rdflib
from pyoxigraph import BlankNode, Literal, NamedNode, Store

from amity.validate import Report, validate


@dataclass(frozen=True)
class Group:
    """Graphs validated together, plus predicates copied in from every other graph as context."""

    name: str
    graphs: tuple[str, ...]
    context_predicates: tuple[str, ...] = ()


_LITERAL_CACHE: dict[tuple[str, str, str | None], rdflib.Literal] = {}


def to_rdflib(term: NamedNode | BlankNode | Literal) -> rdflib.term.Node:
    """Convert a pyoxigraph term without going through a serialisation round trip."""
    if isinstance(term, NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, BlankNode):
        return rdflib.BNode(term.value)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    datatype = term.datatype.value
    if datatype == "http://www.w3.org/2001/XMLSchema#string":
        return rdflib.Literal(term.value)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(datatype))


def data_graph(store: Store, group: Group) -> rdflib.Graph:
    """The group's triples, context triples, and the types of every IRI they point to."""
    graph = rdflib.Graph()
    add = graph.add
    for name in group.graphs:
        for quad in store.quads_for_pattern(None, None, None, NamedNode(name)):
            add((to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object)))
    for predicate in group.context_predicates:
        for quad in store.quads_for_pattern(None, NamedNode(predicate), None, None):
            add((to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object)))
    values = " ".join(f"<{g}>" for g in group.graphs)
    referenced_types = store.query(
        f"""SELECT DISTINCT ?o ?type WHERE {{
              VALUES ?g {{ {values} }}
              GRAPH ?g {{ ?s ?p ?o FILTER(isIRI(?o) && ?p != <http://www.w3.org/1999/02/22-rdf-syntax-ns#type>) }}
              GRAPH ?tg {{ ?o a ?type }}
            }}"""
    )
    rdf_type = rdflib.RDF.type
    for row in referenced_types:
        add((rdflib.URIRef(row["o"].value), rdf_type, rdflib.URIRef(row["type"].value)))
    return graph


def _validate_group(store_path: str, group: Group) -> tuple[str, Report, int]:
    store = Store.read_only(store_path)
    graph = data_graph(store, group)
    return group.name, validate(graph), len(graph)


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
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_validate_group, str(store_path), group) for group in groups]
        for future in futures:
            yield future.result()
