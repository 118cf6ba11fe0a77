"""What the store knows about one resource: the data behind entity pages and their RDF.

Used by the dereferencing routes (HTML and RDF) and by the command line, so a
page and its Turtle always show the same statements.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from pyoxigraph import Literal, NamedNode, Quad, Store, Triple

from amity import iris
from amity.ns import PREFIXES

LABEL_PREDICATES = (
    "http://www.w3.org/2004/02/skos/core#prefLabel",
    "http://www.w3.org/2000/01/rdf-schema#label",
    "http://purl.org/dc/terms/title",
)
MAX_INCOMING = 500


@dataclass
class Statement:
    predicate: NamedNode
    value: NamedNode | Literal
    graph: str


@dataclass
class Twin:
    twinning: str
    partner: str
    partner_label: str
    type: str | None
    status: str | None
    start: str | None
    lat: float | None
    long: float | None


@dataclass
class Description:
    iri: str
    outgoing: list[Statement] = field(default_factory=list)
    incoming: list[tuple[str, NamedNode, str]] = field(default_factory=list)  # subject, predicate, graph
    parts: dict[str, list[Statement]] = field(default_factory=dict)  # {iri}#fragment resources
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # iri → {lang: label}
    twins: list[Twin] = field(default_factory=list)
    memberships: list[dict[str, str | None]] = field(default_factory=list)
    point: tuple[float, float] | None = None  # (lat, long)

    @property
    def found(self) -> bool:
        return bool(self.outgoing or self.incoming or self.parts)

    def label(self, iri: str, languages: tuple[str, ...] = ("en", "zh", "ru", "")) -> str:
        names = self.labels.get(iri, {})
        for lang in languages:
            if lang in names:
                return names[lang]
        if names:
            return next(iter(names.values()))
        return compact(iri)

    def triples(self) -> list[Triple]:
        """The RDF answer: the resource's own statements and those of its ``#`` parts, deduplicated."""
        seen: set[Triple] = set()
        out: list[Triple] = []
        subject = NamedNode(self.iri)
        for statement in self.outgoing:
            triple = Triple(subject, statement.predicate, statement.value)
            if triple not in seen:
                seen.add(triple)
                out.append(triple)
        for part, statements in self.parts.items():
            for statement in statements:
                triple = Triple(NamedNode(part), statement.predicate, statement.value)
                if triple not in seen:
                    seen.add(triple)
                    out.append(triple)
        return out


def compact(iri: str) -> str:
    """``cdo:Twinning`` for a known namespace, the IRI itself otherwise."""
    best = ""
    for prefix, base in PREFIXES.items():
        if iri.startswith(base) and len(base) > len(PREFIXES.get(best, "")):
            best = prefix
    if best:
        rest = iri[len(PREFIXES[best]):]
        if rest and "/" not in rest and "#" not in rest:
            return f"{best}:{rest}"
    return iri


def describe(store: Store, iri: str) -> Description:
    """Everything known about ``iri``; an IRI that is not valid simply describes nothing (a 404)."""
    result = Description(iri)
    try:
        node = NamedNode(iri)
    except ValueError:
        return result
    for quad in store.quads_for_pattern(node, None, None, None):
        result.outgoing.append(Statement(quad.predicate, quad.object, _graph(quad)))
    result.outgoing.sort(key=lambda s: (s.predicate.value, str(s.value)))
    for i, quad in enumerate(store.quads_for_pattern(None, None, node, None)):
        if i >= MAX_INCOMING:
            break
        if quad.subject.value.startswith(iri + "#"):
            continue
        result.incoming.append((quad.subject.value, quad.predicate, _graph(quad)))
    # Parts are the ``#geometry`` and ``#from-…`` nodes the resource points to.
    for part in sorted({s.value.value for s in result.outgoing
                        if isinstance(s.value, NamedNode) and s.value.value.startswith(iri + "#")}):
        result.parts[part] = [Statement(q.predicate, q.object, _graph(q))
                              for q in store.quads_for_pattern(NamedNode(part), None, None, None)]
    _add_labels(store, result)
    if any(s.predicate.value == "http://www.w3.org/2003/01/geo/wgs84_pos#lat" for s in result.outgoing):
        lat = next(float(s.value.value) for s in result.outgoing if s.predicate.value.endswith("#lat"))
        long = next(float(s.value.value) for s in result.outgoing if s.predicate.value.endswith("#long"))
        result.point = (lat, long)
    if iri.startswith(iris.ID + "city/") or iri.startswith(iris.ID + "port/"):
        result.twins = _twins(store, node)
        result.memberships = _memberships(store, node)
    return result


def _graph(quad: Quad) -> str:
    return getattr(quad.graph_name, "value", "")


def _add_labels(store: Store, result: Description) -> None:
    wanted = {result.iri} | {s.predicate.value for s in result.outgoing}
    wanted |= {s.value.value for s in result.outgoing if isinstance(s.value, NamedNode)}
    wanted |= {subject for subject, _, _ in result.incoming} | {p.value for _, p, _ in result.incoming}
    labels: dict[str, dict[str, str]] = defaultdict(dict)
    for iri in wanted:
        for predicate in LABEL_PREDICATES:
            for quad in store.quads_for_pattern(NamedNode(iri), NamedNode(predicate), None, None):
                value = quad.object
                if isinstance(value, Literal):
                    labels[iri].setdefault(value.language or "", value.value)
    result.labels = dict(labels)


TWINS = """
PREFIX cdo: <https://w3id.org/citydiplomacy/ontology#>
PREFIX schema: <http://schema.org/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX wgs: <http://www.w3.org/2003/01/geo/wgs84_pos#>
SELECT ?place ?t ?partner (SAMPLE(?name) AS ?label) (SAMPLE(?type) AS ?ttype) (SAMPLE(?status) AS ?tstatus)
       (SAMPLE(?start) AS ?tstart) (SAMPLE(?lat) AS ?plat) (SAMPLE(?long) AS ?plong)
WHERE {
  VALUES ?place { __PLACE__ }
  ?t a cdo:Twinning ; cdo:party ?place, ?partner . FILTER(?partner != ?place)
  OPTIONAL { ?t cdo:twinningType ?type } OPTIONAL { ?t cdo:status ?status }
  OPTIONAL { ?t schema:startDate ?start }
  OPTIONAL { ?partner skos:prefLabel ?name FILTER(LANG(?name) = "en") }
  OPTIONAL { ?partner wgs:lat ?lat } OPTIONAL { ?partner wgs:long ?long }
} GROUP BY ?place ?t ?partner ORDER BY ?label
"""

MEMBERSHIPS = """
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX schema: <http://schema.org/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?place ?m ?organisation (SAMPLE(?name) AS ?label) ?role (SAMPLE(?start) AS ?mstart)
WHERE {
  VALUES ?place { __PLACE__ }
  ?m org:member ?place ; org:organization ?organisation ; org:role ?role .
  OPTIONAL { ?m schema:startDate ?start }
  OPTIONAL { ?organisation skos:prefLabel ?name FILTER(LANG(?name) = "en") }
} GROUP BY ?place ?m ?organisation ?role ORDER BY ?label
"""


def _for(query: str, place: NamedNode) -> str:
    """The query with the place written into it, planned from that place on. (With the coordinates in one
    two-pattern OPTIONAL, pyoxigraph joined every coordinate in the store: 0.5 s a page; one OPTIONAL each
    is looked up per partner.)"""
    return query.replace("__PLACE__", str(place))


def _value(row, name: str) -> str | None:
    term = row[name]
    return term.value if term is not None else None


def _twins(store: Store, place: NamedNode) -> list[Twin]:
    out = []
    for row in store.query(_for(TWINS, place), use_default_graph_as_union=True):
        lat, long = _value(row, "plat"), _value(row, "plong")
        out.append(Twin(row["t"].value, row["partner"].value, _value(row, "label") or compact(row["partner"].value),
                        _value(row, "ttype"), _value(row, "tstatus"), _value(row, "tstart"),
                        float(lat) if lat else None, float(long) if long else None))
    return out


def _memberships(store: Store, place: NamedNode) -> list[dict[str, str | None]]:
    return [
        {"membership": row["m"].value, "organisation": row["organisation"].value,
         "label": _value(row, "label"), "role": row["role"].value, "start": _value(row, "mstart")}
        for row in store.query(_for(MEMBERSHIPS, place), use_default_graph_as_union=True)
    ]
