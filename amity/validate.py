"""SHACL validation of Amity data: the one place where pySHACL is called.

The build validates each source graph before it is loaded, and the partner upload validates a partner's triples
before they are merged; both call :func:`validate` and get a :class:`Report` back. A report fails (``conforms``
is false) on violations only: warnings, such as a gazetteer city without a Chinese name, are reported and kept.

Choices, and why:

* ``inference="none"``: RDFS inference multiplies validation time by about four, and the shapes are written for
  the explicit classes loaders assert (``sh:class cdo:City``, never ``schema:City``), so it is not needed.
* No ``ont_graph``: pySHACL copies the whole data graph when one is given. The shapes list the allowed concepts
  with ``sh:in``, so they need nothing from the ontology or the SKOS schemes.
* The shapes are parsed once per process and cached: the build validates several graphs in a row.
* The caller decides what is in the data graph: a source graph plus the ``rdf:type`` triples of the nodes it
  points to; for the derived ``cdo:twinnedWith`` graph, the twinning graphs too (use ``only=`` then, so the
  twinnings are not validated a second time).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyshacl
from rdflib import RDF, SH, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

#: The shapes files, all of which are loaded: ``shapes/*.ttl``.
SHAPES_DIR = Path(__file__).resolve().parent.parent / "shapes"

#: How many results :meth:`Report.as_json` includes unless told otherwise: enough to fix an upload, small enough
#: for an HTTP response.
DEFAULT_JSON_LIMIT = 1000

_SEVERITIES = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}


@dataclass(frozen=True)
class Result:
    """One finding of the validation: which node broke which rule, and how badly."""

    focus_node: str
    path: str | None
    value: str | None
    message: str
    severity: str  # "Violation", "Warning" or "Info"
    source_shape: str
    component: str  # the SHACL constraint component, e.g. "MinCountConstraintComponent"
    source_constraint: str | None = None  # the named SHACL-SPARQL constraint, when one produced the result

    def as_json(self) -> dict[str, str | None]:
        """The result as JSON-ready fields, named as in the SHACL report vocabulary."""
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
    """The outcome of one validation, readable by code (``results``) and by people (``turtle()``, ``as_json()``)."""

    conforms: bool
    results: list[Result]
    graph: Graph = field(repr=False)

    @property
    def violations(self) -> int:
        """Number of results with severity Violation: the ones that fail a build or an upload."""
        return sum(1 for result in self.results if result.severity == "Violation")

    @property
    def warnings(self) -> int:
        return sum(1 for result in self.results if result.severity == "Warning")

    def turtle(self) -> str:
        """The SHACL validation report as Turtle, the standard form other SHACL tools read."""
        return self.graph.serialize(format="turtle")

    def as_json(self, limit: int | None = DEFAULT_JSON_LIMIT) -> dict[str, Any]:
        """A JSON-serialisable summary for HTTP 422 bodies: violations first, at most ``limit`` results.

        >>> Report(conforms=True, results=[], graph=Graph()).as_json()
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


@functools.cache
def shapes_graph() -> Graph:
    """All shapes of ``shapes/``, parsed once per process (the build validates several graphs in a row)."""
    graph = Graph()
    for path in sorted(SHAPES_DIR.glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def validate(data: Graph, *, only: Iterable[str] | None = None) -> Report:
    """Validate ``data`` against Amity's shapes; the data graph is read, never changed.

    :param data: the triples to check, plus the ``rdf:type`` triples of the nodes they point to.
    :param only: IRIs of the node shapes to run (e.g. ``cdsh:TwinnedWithShape`` for the derived graph); all
        shapes when omitted.
    """
    use_shapes = [str(shape) for shape in only] if only is not None else None
    _conforms, report_graph, _text = pyshacl.validate(
        data,
        shacl_graph=shapes_graph(),
        inference="none",
        advanced=False,
        allow_warnings=True,
        allow_infos=True,
        use_shapes=use_shapes,
    )
    results = [_read_result(report_graph, node) for node in report_graph.subjects(RDF.type, SH.ValidationResult)]
    return Report(
        conforms=not any(result.severity == "Violation" for result in results),
        results=results,
        graph=report_graph,
    )


def _read_result(report: Graph, node: Node) -> Result:
    """Turn one ``sh:ValidationResult`` of the report graph into a :class:`Result`."""

    def one(predicate: URIRef) -> Node | None:
        return report.value(node, predicate)

    severity = one(SH.resultSeverity)
    component = one(SH.sourceConstraintComponent)
    constraint = one(SH.sourceConstraint)
    path = one(SH.resultPath)
    return Result(
        focus_node=_text(one(SH.focusNode)) or "",
        path=_path_text(report, path) if path is not None else None,
        value=_text(one(SH.value)),
        message=str(one(SH.resultMessage) or ""),
        severity=_SEVERITIES.get(severity, str(severity)),  # type: ignore[arg-type]
        source_shape=_text(one(SH.sourceShape)) or "",
        component=str(component).removeprefix(str(SH)) if component is not None else "",
        source_constraint=str(constraint) if isinstance(constraint, URIRef) else None,
    )


def _text(term: Node | None) -> str | None:
    """IRIs as plain strings, literals in N-Triples form (so datatype and language survive), blank nodes as _:id.

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
