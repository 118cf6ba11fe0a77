"""The ontology as documentation: its terms with labels, definitions, domains and ranges."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from pyoxigraph import Literal, NamedNode, Store, Triple

from amity import iris

ONTOLOGY_GRAPH = NamedNode(iris.graph("ontology"))
OWL = "http://www.w3.org/2002/07/owl#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"


@dataclass
class Term:
    iri: str
    kinds: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    definitions: dict[str, str] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def name(self) -> str:
        return self.iri.split("#", 1)[-1]

    @property
    def is_class(self) -> bool:
        return OWL + "Class" in self.kinds


def ontology_terms(store: Store) -> list[Term]:
    """Every ``cdo:`` term, classes first, each sorted by name."""
    terms: dict[str, Term] = {}
    for quad in store.quads_for_pattern(None, None, None, ONTOLOGY_GRAPH):
        subject = quad.subject.value
        if not subject.startswith(iris.ONTOLOGY):
            continue
        term = terms.setdefault(subject, Term(subject))
        predicate, value = quad.predicate.value, quad.object
        if predicate == "http://www.w3.org/1999/02/22-rdf-syntax-ns#type":
            term.kinds.append(value.value)
        elif predicate in (SKOS + "prefLabel", RDFS + "label") and isinstance(value, Literal):
            term.labels.setdefault(value.language or "", value.value)
        elif predicate in (SKOS + "definition", RDFS + "comment") and isinstance(value, Literal):
            term.definitions.setdefault(value.language or "", value.value)
        elif isinstance(value, NamedNode):
            term.links[predicate.rsplit("#", 1)[-1].rsplit("/", 1)[-1]].append(value.value)
    return sorted(terms.values(), key=lambda t: (not t.is_class, t.name.lower()))


def ontology_triples(store: Store) -> list[Triple]:
    """The ontology graph as triples (the RDF answer for ``/ontology``)."""
    return [Triple(q.subject, q.predicate, q.object)
            for q in store.quads_for_pattern(None, None, None, ONTOLOGY_GRAPH)
            if q.subject.value.startswith(iris.BASE + "ontology")]
