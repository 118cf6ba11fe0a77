"""SHACL validation of Amity data against ``shapes/``: the one place where pySHACL is called.

The build validates each source graph before it is published and the partner upload validates a partner's
triples before they are merged; both call :func:`validate` and get a :class:`Report`. A report fails
(``conforms`` is false) on violations only: warnings, such as a gazetteer city without a Chinese name, are
reported and kept.

Choices, and why:

* ``inference="none"``: RDFS inference costs about four times the validation itself, and the shapes name the
  exact classes loaders assert (``sh:class cdo:City``, never ``schema:City``), so it is not needed.
* No ``ont_graph``: pySHACL copies the whole data graph when one is given. The shapes list the allowed
  concepts with ``sh:in``, so they need nothing from the ontology or the SKOS schemes.
* References are not validated. The build adds the ``rdf:type`` of every node a graph points to, so that
  ``sh:class`` can be checked; such a node has nothing but ``rdf:type`` triples in the data graph and is not a
  focus node here (otherwise every city a twinning names would fail the city shape for lacking a name).
  Triples passed as ``context`` are consulted the same way and never validated.
* Targets are computed here and written into the shapes graph pySHACL gets: a shape keeps its own targets when
  they pick exactly its focus nodes, and gets an ``sh:targetNode`` list when references must be left out.
  Each property shape gets the targets of the node shapes that use it, because pySHACL checks a property shape
  reached through ``sh:property`` once per focus node but a targeted one once per run (about ten times faster
  on the gazetteer). The results are the same: same shapes, same focus nodes.
* SHACL-SPARQL rules run once per graph. pySHACL parses a SPARQL constraint again for every focus node
  (tens of milliseconds each: minutes for 11k twinnings), and rdflib evaluates our ``NOT EXISTS`` checks in
  quadratic time. The shapes keep those constraints in node shapes of their own (``cdsh:*RulesShape`` and the
  label rules); this module runs each query once, on an in-memory pyoxigraph copy of the triples the query can
  match, and keeps the rows whose ``$this`` is a focus node of the shape.
* The shapes are parsed once per process: the build validates several graphs in a row.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pyshacl
from rdflib import RDF, RDFS, SH, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.graph import ReadOnlyGraphAggregate
from rdflib.term import Node

#: The shapes files; all of ``shapes/*.ttl`` is loaded.
SHAPES_DIR = Path(__file__).resolve().parent.parent / "shapes"

#: How many results :meth:`Report.as_json` gives unless told otherwise: enough to fix an upload, small enough
#: for an HTTP response.
DEFAULT_JSON_LIMIT = 1000

_SEVERITIES = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}
_TARGETS = (SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf, SH.targetNode)
#: Predicates a rules shape may have besides sh:sparql: a node shape with no others is run set at a time.
_NOT_CONSTRAINTS = {RDF.type, RDFS.comment, RDFS.label, SH.message, SH.severity, SH.sparql, *_TARGETS}


@dataclass(frozen=True)
class Result:
    """One finding: which node broke which rule, and how badly."""

    focus_node: str
    path: str | None
    value: str | None
    message: str
    severity: str  # "Violation", "Warning" or "Info"
    source_shape: str
    component: str  # the SHACL constraint component, e.g. "MinCountConstraintComponent"
    source_constraint: str | None = None  # the named SHACL-SPARQL constraint, when one produced the result

    def as_json(self) -> dict[str, str | None]:
        """The result as JSON-ready fields, named after the SHACL report vocabulary."""
        return {
            "focusNode": self.focus_node,
            "resultPath": self.path,
            "value": self.value,
            "resultMessage": self.message,
            "resultSeverity": self.severity,
            "sourceShape": self.source_shape,
            "sourceConstraintComponent": self.component,
            "sourceConstraint": self.source_constraint,
        }


@dataclass
class Report:
    """The outcome of one validation, for code (``results``) and for people (``turtle()``, ``as_json()``)."""

    results: list[Result]
    parts: list[Graph] = field(default_factory=list, repr=False)  # pySHACL's report graphs, merged on demand

    @property
    def conforms(self) -> bool:
        """True when nothing has severity Violation: warnings do not fail a build or an upload."""
        return self.violations == 0

    @property
    def violations(self) -> int:
        return sum(1 for result in self.results if result.severity == "Violation")

    @property
    def warnings(self) -> int:
        return sum(1 for result in self.results if result.severity == "Warning")

    @functools.cached_property
    def graph(self) -> Graph:
        """The SHACL validation report (one ``sh:ValidationReport``) as an rdflib graph, made on first use."""
        return _report_graph(self)

    def turtle(self) -> str:
        """The SHACL validation report as Turtle, the form other SHACL tools read."""
        return self.graph.serialize(format="turtle")

    def as_json(self, limit: int | None = DEFAULT_JSON_LIMIT) -> dict[str, Any]:
        """A JSON-serialisable summary for HTTP 422 bodies: violations first, at most ``limit`` results.

        >>> Report(results=[]).as_json()
        {'conforms': True, 'violations': 0, 'warnings': 0, 'results': [], 'truncated': False}
        """
        ordered = sorted(self.results, key=lambda r: (r.severity != "Violation", r.focus_node, r.path or ""))
        shown = ordered if limit is None else ordered[:limit]
        return {
            "conforms": self.conforms,
            "violations": self.violations,
            "warnings": self.warnings,
            "results": [result.as_json() for result in shown],
            "truncated": len(shown) < len(ordered),
        }


def validate(data: Graph, *, context: Graph | None = None, only: Iterable[str] | None = None) -> Report:
    """Validate the nodes described in ``data`` against Amity's shapes; neither graph is changed.

    :param data: the triples to check, usually with the ``rdf:type`` of the nodes they point to (those
        type-only nodes are consulted by ``sh:class`` but not validated).
    :param context: further triples the shapes may consult but that are not validated, e.g. the twinnings
        when checking the derived ``cdo:twinnedWith`` shortcuts.
    :param only: IRIs of the node shapes to run; all when omitted.
    """
    shapes = _load_shapes()
    wanted = None if only is None else {URIRef(str(iri)) for iri in only}
    references = _references(data)
    graph = data if context is None else ReadOnlyGraphAggregate([data, context])
    targets = Graph()  # this run's targets, added to the untargeted shapes for pySHACL
    rules: list[tuple[_NodeShape, set[Node]]] = []
    for shape in shapes.node_shapes:
        if wanted is not None and shape.iri not in wanted:
            continue
        every = shape.focus_nodes(graph)  # what the shape's own targets pick
        focus = (every if context is None else shape.focus_nodes(data)) - references
        if not focus:
            continue
        if shape.rules:
            rules.append((shape, focus))
            continue
        pairs = shape.targets if focus == every else tuple((SH.targetNode, node) for node in focus)
        for subject in (shape.iri, *shape.properties):
            for predicate, target in pairs:
                targets.add((subject, predicate, target))
    results: list[Result] = []
    if rules:
        predicates = frozenset().union(*(rule.predicates for shape, _ in rules for rule in shape.rules))
        store = _to_oxigraph(graph, predicates)
        rows: dict[Node, list[_Row]] = {}  # a rule shared by several shapes runs once
        for shape, focus in rules:
            results.extend(_run_rules(shape, store, focus, shapes.prefixes, rows))
    parts = [_pyshacl(graph, shapes, targets)] if len(targets) else []
    for part in parts:
        results.extend(_read_results(part))
    return Report(results=results, parts=parts)


def shapes_graph() -> Graph:
    """All shapes of ``shapes/``, as written, parsed once per process."""
    return _load_shapes().graph


# --- the shapes, read once ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    """A SHACL-SPARQL constraint, run over a whole graph."""

    iri: Node
    query: str
    message: str
    predicates: frozenset[URIRef]  # every IRI the query names: the triples it can match have one as predicate


@dataclass(frozen=True)
class _NodeShape:
    iri: URIRef
    targets: tuple[tuple[Node, Node], ...]  # the shape's own target triples, as (predicate, object)
    properties: tuple[Node, ...]  # its sh:property shapes, which get its targets
    severity: str
    message: str
    rules: tuple[_Rule, ...]  # set only for rules shapes, which hold nothing but SPARQL constraints

    def focus_nodes(self, graph: Graph) -> set[Node]:
        """The nodes the shape's targets pick in ``graph`` (explicit classes only, as with no inference)."""
        found: set[Node] = set()
        for predicate, target in self.targets:
            if predicate == SH.targetClass:
                found.update(graph.subjects(RDF.type, target))
            elif predicate == SH.targetSubjectsOf:
                found.update(graph.subjects(target, None))
            elif predicate == SH.targetObjectsOf:
                found.update(graph.objects(None, target))
            else:
                found.add(target)
        return found


@dataclass(frozen=True)
class _Shapes:
    graph: Graph
    untargeted: Graph  # the shapes without targets and without the sh:property links of targeted shapes
    node_shapes: tuple[_NodeShape, ...]
    prefixes: str  # PREFIX lines from sh:declare, for the rules' queries
    lock: threading.Lock = field(default_factory=threading.Lock)


@functools.cache
def _load_shapes() -> _Shapes:
    graph = Graph()
    for path in sorted(SHAPES_DIR.glob("*.ttl")):
        graph.parse(path, format="turtle")
    declared = {str(graph.value(d, SH.prefix)): str(graph.value(d, SH.namespace))
                for d in graph.objects(None, SH.declare)}
    prefixes = "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in sorted(declared.items()))
    targeted = sorted({s for t in _TARGETS for s in graph.subjects(t, None) if isinstance(s, URIRef)})
    untargeted = Graph()
    for s, p, o in graph:
        if p not in _TARGETS and not (p == SH.property and s in targeted):
            untargeted.add((s, p, o))
    node_shapes = tuple(_node_shape(graph, iri, declared) for iri in targeted)
    return _Shapes(graph, untargeted, node_shapes, prefixes)


def _node_shape(graph: Graph, iri: URIRef, prefixes: dict[str, str]) -> _NodeShape:
    sparql = tuple(graph.objects(iri, SH.sparql))
    is_rules_shape = bool(sparql) and set(graph.predicates(iri, None)) <= _NOT_CONSTRAINTS
    return _NodeShape(
        iri=iri,
        targets=tuple((p, o) for p in _TARGETS for o in graph.objects(iri, p)),
        properties=tuple(graph.objects(iri, SH.property)),
        severity=_SEVERITIES.get(graph.value(iri, SH.severity) or SH.Violation, "Violation"),  # type: ignore[arg-type]
        message=str(graph.value(iri, SH.message) or ""),
        rules=tuple(_rule(graph, node, prefixes) for node in sparql) if is_rules_shape else (),
    )


def _rule(graph: Graph, node: Node, prefixes: dict[str, str]) -> _Rule:
    """Read a SHACL-SPARQL constraint, noting the IRIs it names so only those triples are copied for it.

    Rules shapes must name their predicates (no variable in predicate position): the copy holds only the
    triples whose predicate the query names, plus rdf:type.
    """
    query = str(graph.value(node, SH.select))
    names = {URIRef(iri) for iri in re.findall(r"<([^<>\s]+)>", query)}
    for prefix, local in re.findall(r"(?<![\w?$])([A-Za-z][\w-]*):([A-Za-z_][\w-]*)", query):
        if prefix in prefixes:
            names.add(URIRef(prefixes[prefix] + local))
    return _Rule(node, query, str(graph.value(node, SH.message) or ""), frozenset(names | {RDF.type}))


# --- running ------------------------------------------------------------------------------------------------


def _references(data: Graph) -> frozenset[Node]:
    """Nodes with nothing but rdf:type triples: pointed-to nodes whose types the caller added for sh:class."""
    typed = set(data.subjects(RDF.type, None))
    return frozenset(node for node in typed if all(p == RDF.type for p in data.predicates(node, None)))


def _pyshacl(graph: Graph, shapes: _Shapes, targets: Graph) -> Graph:
    """Run pySHACL's Core validation with this run's targets in the (otherwise untargeted) shapes graph.

    The targets are added to the shared graph and taken out again rather than copied into a new graph
    (copying the shapes made up a fifth of a small validation); the lock keeps threads from mixing targets.
    """
    runtime = shapes.untargeted
    with shapes.lock:
        runtime += targets
        try:
            _conforms, report, _text = pyshacl.validate(
                graph, shacl_graph=runtime, inference="none", advanced=False, allow_warnings=True,
                allow_infos=True,
            )
        finally:
            runtime -= targets
    return report


def _to_oxigraph(graph: Graph, predicates: frozenset[URIRef]) -> ox.Store:
    """An in-memory pyoxigraph copy of the triples of ``graph`` with these predicates, for the rules.

    A triple with a term pyoxigraph refuses (an IRI with a space, say) is left out: the rules cannot see it,
    but the Core shapes still do, and every node's IRI is checked against its pattern there.
    """
    iris: dict[URIRef, ox.NamedNode] = {}

    def iri(term: URIRef) -> ox.NamedNode:
        node = iris.get(term)
        if node is None:
            node = iris[term] = ox.NamedNode(str(term))
        return node

    def convert(term: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
        if isinstance(term, URIRef):
            return iri(term)
        if isinstance(term, BNode):
            return ox.BlankNode(str(term))
        assert isinstance(term, Literal)
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype:
            return ox.Literal(str(term), datatype=iri(term.datatype))
        return ox.Literal(str(term))

    def quads() -> Iterator[ox.Quad]:
        for predicate in predicates:
            for s, p, o in graph.triples((None, predicate, None)):
                try:
                    yield ox.Quad(convert(s), iri(p), convert(o), ox.DefaultGraph())  # type: ignore[arg-type]
                except ValueError:
                    continue

    store = ox.Store()
    store.bulk_extend(quads())
    return store


def _from_oxigraph(term: ox.NamedNode | ox.BlankNode | ox.Literal | None) -> Node | None:
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    return Literal(term.value, datatype=URIRef(term.datatype.value))


_Row = tuple[Node | None, Node | None, Node | None]  # ($this, ?path, ?value) of one SPARQL solution


def _solutions(rule: _Rule, store: ox.Store, prefixes: str) -> list[_Row]:
    solutions = store.query(prefixes + rule.query)
    assert isinstance(solutions, ox.QuerySolutions)
    names = {variable.value for variable in solutions.variables}
    return [
        (
            _from_oxigraph(row["this"]),
            _from_oxigraph(row["path"]) if "path" in names else None,
            _from_oxigraph(row["value"]) if "value" in names else None,
        )
        for row in solutions
    ]


def _run_rules(shape: _NodeShape, store: ox.Store, focus: set[Node], prefixes: str,
               rows: dict[Node, list[_Row]]) -> Iterator[Result]:
    """Run a rules shape's SPARQL constraints once each, keeping the rows about the shape's focus nodes."""
    for rule in shape.rules:
        if rule.iri not in rows:
            rows[rule.iri] = _solutions(rule, store, prefixes)
        seen: set[_Row] = set()
        for this, path, value in rows[rule.iri]:
            if this not in focus:
                continue
            value = this if value is None else value  # a node shape reports its focus node as the value
            if (this, path, value) in seen:
                continue
            seen.add((this, path, value))
            yield Result(
                focus_node=_text(this) or "",
                path=str(path) if path is not None else None,
                value=_text(value),
                message=rule.message or shape.message,
                severity=shape.severity,
                source_shape=str(shape.iri),
                component="SPARQLConstraintComponent",
                source_constraint=str(rule.iri),
            )


# --- reading and writing reports ----------------------------------------------------------------------------


def _read_results(report: Graph) -> Iterator[Result]:
    """The results of a pySHACL report (``sh:result``), read in one pass over its triples."""
    fields: dict[Node, dict[Node, Node]] = defaultdict(dict)
    results = set()  # only the report's own results, not the sh:detail results nested under them
    for s, p, o in report:
        fields[s][p] = o
        if p == SH.result:
            results.add(o)
    for node in results:
        f = fields[node]
        path = f.get(SH.resultPath)
        constraint = f.get(SH.sourceConstraint)
        component = f.get(SH.sourceConstraintComponent)
        yield Result(
            focus_node=_text(f.get(SH.focusNode)) or "",
            path=_path_text(report, path) if path is not None else None,
            value=_text(f.get(SH.value)),
            message=str(f.get(SH.resultMessage) or ""),
            severity=_SEVERITIES.get(f.get(SH.resultSeverity), "Violation"),  # type: ignore[arg-type]
            source_shape=_text(f.get(SH.sourceShape)) or "",
            component=str(component).removeprefix(str(SH)) if component is not None else "",
            source_constraint=str(constraint) if isinstance(constraint, URIRef) else None,
        )


def _report_graph(report: Report) -> Graph:
    """One sh:ValidationReport holding pySHACL's results and the set-at-a-time ones."""
    graph = Graph()
    graph.bind("sh", SH)
    root = BNode()
    graph.add((root, RDF.type, SH.ValidationReport))
    graph.add((root, SH.conforms, Literal(report.conforms)))
    for part in report.parts:
        for s, p, o in part:
            if p == SH.result:
                graph.add((root, p, o))
            elif p != SH.conforms and not (p == RDF.type and o == SH.ValidationReport):
                graph.add((s, p, o))
    for result in report.results:
        if result.component != "SPARQLConstraintComponent":
            continue
        node = BNode()
        graph.add((root, SH.result, node))
        graph.add((node, RDF.type, SH.ValidationResult))
        graph.add((node, SH.focusNode, _term(result.focus_node)))
        if result.path is not None:
            graph.add((node, SH.resultPath, URIRef(result.path)))
        if result.value is not None:
            graph.add((node, SH.value, _term(result.value)))
        graph.add((node, SH.resultMessage, Literal(result.message)))
        graph.add((node, SH.resultSeverity, SH[result.severity]))
        graph.add((node, SH.sourceShape, URIRef(result.source_shape)))
        graph.add((node, SH.sourceConstraintComponent, SH.SPARQLConstraintComponent))
        if result.source_constraint:
            graph.add((node, SH.sourceConstraint, URIRef(result.source_constraint)))
    return graph


def _text(term: Node | None) -> str | None:
    """IRIs as plain strings, literals in N-Triples form (datatype and language kept), blank nodes as _:id.

    >>> _text(Literal("2018", datatype=URIRef("http://www.w3.org/2001/XMLSchema#gYear")))
    '"2018"^^<http://www.w3.org/2001/XMLSchema#gYear>'
    """
    if term is None:
        return None
    if isinstance(term, Literal):
        return term.n3()
    if isinstance(term, BNode):
        return f"_:{term}"
    return str(term)


def _term(text: str) -> Node:
    """The inverse of :func:`_text`, for writing results back into a report graph."""
    if text.startswith("_:"):
        return BNode(text[2:])
    if text.startswith('"'):
        triple = Graph().parse(data=f"<urn:s> <urn:p> {text} .", format="nt")
        return next(iter(triple.objects()))
    return URIRef(text)


def _path_text(report: Graph, path: Node) -> str:
    """A SHACL path as a SPARQL property path: an IRI, ``^<iri>`` for an inverse path, and so on."""
    if isinstance(path, URIRef):
        return str(path)
    inverse = report.value(path, SH.inversePath)
    if inverse is not None:
        return "^" + _bracketed(report, inverse)
    alternatives = report.value(path, SH.alternativePath)
    if alternatives is not None:
        return "|".join(_bracketed(report, p) for p in Collection(report, alternatives))
    for predicate, suffix in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"), (SH.zeroOrOnePath, "?")):
        inner = report.value(path, predicate)
        if inner is not None:
            return _bracketed(report, inner) + suffix
    if report.value(path, RDF.first) is not None:
        return "/".join(_bracketed(report, p) for p in Collection(report, path))
    return str(path)


def _bracketed(report: Graph, path: Node) -> str:
    text = _path_text(report, path)
    return f"<{text}>" if isinstance(path, URIRef) else f"({text})"
