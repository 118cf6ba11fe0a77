"""The one pipeline every partner write goes through: receive → parse → reconcile → validate → commit.

``PUT``/``POST``/``DELETE /store``, ``POST /store/rollback``, ``POST /validate``, ``amity validate`` and
``amity partner rollback`` all call the functions at the bottom of this module, so a rule enforced here is
enforced everywhere.

* **Receive**: the body is streamed to a file next to the store, hashed on the way and cut off past the upload
  limit, so a large upload is on disk once and in memory never whole.
* **Parse** with pyoxigraph, streaming from that file. A syntax error is a 400 carrying the parser's line and
  column. pyoxigraph's JSON-LD parser has no document loader, so a remote ``@context`` is refused, never
  fetched; its RDF/XML parser does not resolve external entities (both are tested). Two things it does do are
  refused before it sees the document (:func:`check_structure`): RDF/XML entity declarations, which it expands
  without bound (a 1 kB "billion laughs" grew to 3 GB), and JSON-LD or RDF/XML nested deeper than
  :data:`MAX_NESTING`, on which its memory grows with the square of the depth until it overflows its stack
  (JSON-LD objects 5 000 deep, 250 kB: SIGSEGV, and the web worker with it).
* **Reconcile** (:mod:`amity.reconcile`): cities given by Wikidata or GeoNames IRIs, or by keys we minted
  differently, land on our IRIs; places we do not know are warnings.
* **Validate** against ``shapes/`` (:mod:`amity.validate`) what the partner's nodes will look like once
  merged: the partner's statements about each node, the reference statements they do not replace, and the
  ``rdf:type`` of every node they point to. Everything read is bounded by the upload (one index probe per
  node), so validation time follows the upload's size, not the store's.
* **Conflicts**: a partner value for a single-valued property (``sh:maxCount 1`` in the shape of the node's
  class: a twinning's status, type or dates, a founding date, a city's country…) or for a language the shapes
  allow once (``sh:uniqueLang``) that differs from the reference data is reported, not refused and not hidden:
  both claims stay queryable, each in its graph.
* **Commit** (embedded store) inside one :meth:`EmbeddedStore.writing` session, which works on a copy of the
  published state and publishes it only on a clean exit: replacing the graph, recomputing ``graph/derived``,
  recording provenance and writing the history file are several steps, and a failure in any of them leaves
  the published store exactly as it was. Checks run before the write lock is taken, against the snapshot they read; if
  another write was published meanwhile, they run again inside the lock, so two uploads at once both land, one
  after the other, each checked against what it is merged onto. On a remote store the commit is one staged
  update request instead, with the same order of steps and the same promise (:mod:`amity.remote_merge`).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import itertools
import mmap
import os
import re
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from xml.parsers import expat

import rdflib
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, Store, parse
from pyparsing import ParseException
from rdflib.namespace import SH
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.parserutils import CompValue

from amity import derive, formats, history, iris
from amity.external import ExternalStore
from amity.graph_validation import to_rdflib
from amity.partners import Partner, check_writable, graph_key, owner_of
from amity.prefetch import prefetched
from amity.problems import (
    BadRequest,
    Conflict,
    DocumentSyntaxError,
    NotFound,
    PayloadTooLarge,
    ShapeViolation,
    UnsupportedMediaType,
)
from amity.reconcile import PARTNER_GRAPHS, Reconciled, Reconciler
from amity.store import EmbeddedStore, refused_when_disk_full
from amity.validate import Report, shapes_graph, validate

RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
_DERIVED = NamedNode(derive.DERIVED_GRAPH)
#: Graphs that are neither reference facts nor partner data: never compared with, never overlaid.
NOT_REFERENCE = frozenset((derive.DERIVED_GRAPH, history.PROVENANCE_GRAPH, iris.graph("meta")))
#: Where a dry run pretends to write when the caller names no graph.
SCRATCH_GRAPH = iris.graph("partner/validate")
UPLOADS_DIR = "uploads"
CHUNK = 1 << 20
#: How many rewritten IRIs, warnings and conflicts a response lists (the counts are always complete).
LIST_LIMIT = 1000


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Timer:
    """Seconds per step, in the order the steps ran: the response and the benchmark print them."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def step(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - since
        return now

    def as_json(self) -> dict[str, float]:
        return {name: round(value, 4) for name, value in self.seconds.items()}


# -- receive -----------------------------------------------------------------------------------------------


@dataclass
class Upload:
    """A request body on disk: where, how big, its SHA-256 and its format."""

    path: Path
    size: int
    sha256: str
    fmt: formats.Format
    owned: bool = True  # a temporary file this module made, removed by discard()

    def discard(self) -> None:
        if self.owned:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


def upload_format(content_type: str | None) -> formats.Format:
    """The upload format a Content-Type names.

    :raises UnsupportedMediaType: for a missing or unknown type.
    """
    fmt = formats.for_upload(content_type)
    if fmt is None:
        offered = ", ".join(f.media_type for f in formats.UPLOADS)
        raise UnsupportedMediaType(
            f"send the RDF with a Content-Type of {offered}, not {content_type or 'none'}",
            extra={"accepted": [f.media_type for f in formats.UPLOADS]},
        )
    return fmt


def receive(open_stream: Callable[[], IO[bytes]], fmt: formats.Format, *, limit: int, declared: int | None,
            directory: Path) -> Upload:
    """Stream a request body to a temporary file, hashing it and stopping at ``limit`` bytes.

    The stream is opened only once the declared length has passed the limit, so a body announced as too large
    is refused before a byte of it is read.

    :raises PayloadTooLarge: when the declared or the actual length passes the limit (nothing is kept).
    :raises InsufficientStorage: when the disk fills up while the body is stored (nothing is kept).
    """
    too_large = PayloadTooLarge(
        f"the upload is larger than the limit of {limit} bytes; split it into several graphs",
        extra={"limit": limit},
    )
    if declared is not None and declared > limit:
        raise too_large
    with refused_when_disk_full("the upload"):  # 507, not 500: the body is stored next to the store
        directory.mkdir(parents=True, exist_ok=True)
        _sweep(directory)
        fd, name = tempfile.mkstemp(prefix="upload-", suffix="." + fmt.extensions[0], dir=directory)
        path = Path(name)
        digest = hashlib.sha256()
        size = 0
        try:
            stream = open_stream()
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise too_large
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return Upload(path, size, digest.hexdigest(), fmt)


def _sweep(directory: Path, max_age: float = 24 * 3600) -> None:
    """Remove bodies left behind by a process that died mid-request (none is kept on purpose)."""
    cutoff = time.time() - max_age
    for leftover in directory.glob("*-*.*"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except FileNotFoundError:
            pass


def from_file(path: Path, fmt: formats.Format | None = None) -> Upload:
    """An upload read from a local file (the command line): the format from its extension unless given."""
    path = Path(path)
    if fmt is None:
        extension = path.name.removesuffix(".gz").rsplit(".", 1)[-1].lower()
        try:
            fmt = formats.by_name(extension, formats.UPLOADS)
        except Exception:
            raise UnsupportedMediaType(f"cannot tell the RDF format of {path.name}: give --format") from None
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return Upload(path, size, digest.hexdigest(), fmt, owned=False)


# -- parse -------------------------------------------------------------------------------------------------

_POSITION = re.compile(r"line (\d+) column (\d+)")


def parse_upload(upload: Upload, graph: str) -> list[Quad]:
    """The quads of an upload, blank nodes renamed apart; relative IRIs resolve against the graph IRI.

    :raises DocumentSyntaxError: with ``line`` and ``column`` of the first error.
    """
    check_structure(upload)
    try:
        return list(parse(path=upload.path, format=upload.fmt.rdf, base_iri=graph, rename_blank_nodes=True))
    except SyntaxError as error:
        line, column = error.lineno, error.offset
        if line is None:  # some parsers (JSON-LD) put the position only in the message
            match = _POSITION.search(str(error))
            line, column = (int(match.group(1)), int(match.group(2))) if match else (None, None)
        where = f" at line {line}, column {column}" if line is not None else ""
        raise DocumentSyntaxError(
            f"the {upload.fmt.media_type} document is not valid{where}: {error.msg or error}",
            extra={"line": line, "column": column, "format": upload.fmt.media_type},
        ) from None


#: The deepest nesting of JSON arrays and objects, or of XML elements, an upload may have.
MAX_NESTING = 256
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_structure(upload: Upload) -> None:
    """Refuse, before pyoxigraph parses it, what would make its parser run away (see the module docstring).

    :raises DocumentSyntaxError: for RDF/XML that declares entities or is not well-formed XML, and for JSON-LD
        or RDF/XML nested deeper than :data:`MAX_NESTING`.
    """
    if upload.fmt is formats.JSONLD:
        if upload.path.stat().st_size == 0:
            return
        with open(upload.path, "rb") as source, mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) as text:
            # Strings out (an unterminated one leaves its brackets in: counted, never skipped), brackets only.
            brackets = _JSON_STRING.sub(b"", text).translate(None, _NOT_BRACKETS)
        for depth in itertools.accumulate(map(_BRACKET_STEP.__getitem__, brackets)):
            if depth > MAX_NESTING:
                raise DocumentSyntaxError(
                    f"the JSON-LD document nests arrays and objects more than {MAX_NESTING} levels deep",
                    extra={"line": None, "column": None, "format": upload.fmt.media_type,
                           "max_nesting": MAX_NESTING})
    elif upload.fmt is formats.RDFXML:
        parser = expat.ParserCreate()
        depth = elements = 0

        def start(_name: str, _attributes: dict[str, str]) -> None:
            nonlocal depth, elements
            depth, elements = depth + 1, elements + 1
            if depth > MAX_NESTING:
                raise _Refused(f"XML elements are nested more than {MAX_NESTING} levels deep")

        def end(_name: str) -> None:
            nonlocal depth
            depth -= 1

        def entity(*_args: object) -> None:
            raise _Refused("entity declarations (<!ENTITY …>) are not accepted: write the IRIs and text out")

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.EntityDeclHandler = entity
        parser.UnparsedEntityDeclHandler = entity
        try:
            with open(upload.path, "rb") as source:
                parser.ParseFile(source)
        except _Refused as error:
            message = error.message
        except expat.ExpatError as error:
            if error.code == expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS] and not elements:
                return  # no element at all (an empty body): pyoxigraph reads that as an empty graph
            message = expat.errors.messages[error.code]
        else:
            return
        line, column = parser.CurrentLineNumber, parser.CurrentColumnNumber + 1
        raise DocumentSyntaxError(
            f"the {upload.fmt.media_type} document is not valid at line {line}, column {column}: {message}",
            extra={"line": line, "column": column, "format": upload.fmt.media_type, "max_nesting": MAX_NESTING},
        )


# -- shapes: which properties take one value ---------------------------------------------------------------


@dataclass(frozen=True)
class Cardinality:
    """Per class, the properties a node may have once (``sh:maxCount 1``) or once per language."""

    single: dict[str, frozenset[str]]
    per_language: dict[str, frozenset[str]]

    def for_types(self, types: Iterable[str]) -> tuple[set[str], set[str]]:
        single: set[str] = set()
        per_language: set[str] = set()
        for cls in types:
            single |= self.single.get(cls, frozenset())
            per_language |= self.per_language.get(cls, frozenset())
        return single, per_language


_cardinality: Cardinality | None = None


def cardinality() -> Cardinality:
    """Read from the shapes once per process, so conflicts follow the shapes when they change."""
    global _cardinality
    if _cardinality is None:
        shapes = shapes_graph()
        single: dict[str, set[str]] = defaultdict(set)
        per_language: dict[str, set[str]] = defaultdict(set)
        for shape, cls in shapes.subject_objects(SH.targetClass):
            for prop in shapes.objects(shape, SH.property):
                path = shapes.value(prop, SH.path)
                if not isinstance(path, rdflib.URIRef):
                    continue
                if shapes.value(prop, SH.maxCount) == rdflib.Literal(1):
                    single[str(cls)].add(str(path))
                if shapes.value(prop, SH.uniqueLang) == rdflib.Literal(True):
                    per_language[str(cls)].add(str(path))
        _cardinality = Cardinality({k: frozenset(v) for k, v in single.items()},
                                   {k: frozenset(v) for k, v in per_language.items()})
    return _cardinality


# -- check: reconcile, overlay, conflicts, validate --------------------------------------------------------


def _text(term: Any) -> str:
    """IRIs bare, literals in N-Triples form (datatype and language kept)."""
    return term.value if isinstance(term, NamedNode) else str(term)


@dataclass
class Checked:
    """An upload ready to commit: its quads on our IRIs and everything found on the way."""

    graph: str
    operation: str
    quads: list[Quad]
    reconciled: Reconciled
    conflicts: list[dict[str, Any]]
    report: Report
    checked_version: int
    validated_triples: int

    def summary(self) -> dict[str, Any]:
        warnings = self.reconciled.warnings
        rewritten = self.reconciled.rewritten
        return {
            "reconciled": {
                "rewritten": len(rewritten),
                "rewrites": dict(list(sorted(rewritten.items()))[:LIST_LIMIT]),
                "blank_nodes_skolemised": self.reconciled.blank_nodes,
            },
            "warnings": warnings[:LIST_LIMIT],
            "warning_count": len(warnings),
            "conflicts": self.conflicts[:LIST_LIMIT],
            "conflict_count": len(self.conflicts),
            "validation": {**self.report.as_json(limit=LIST_LIMIT),
                           "triples_validated": self.validated_triples},
        }


def check(store: Store, graph: str, quads: list[Quad], *, operation: str, own_prefix: str | None,
          version: int, timer: Timer) -> Checked:
    """Reconcile, find conflicts and validate; nothing is written.

    :raises ShapeViolation: with the SHACL report (JSON in the body, Turtle on request) when the merged nodes
        would break the shapes.
    """
    t = time.perf_counter()
    store = prefetched(store, quads)  # a remote store: the probes below in a few batched queries
    reconciled = Reconciler(store, own_prefix).reconcile(quads, graph)
    store = prefetched(store, reconciled.quads)  # the IRIs reconciling rewrote
    t = timer.step("reconcile", t)
    data, conflicts = _validation_data(store, graph, reconciled.quads, add=operation == "add",
                                       own_prefix=own_prefix)
    report = validate(data)
    timer.step("validate", t)
    checked = Checked(graph, operation, reconciled.quads, reconciled, conflicts, report, version, len(data))
    if not report.conforms:
        error = ShapeViolation(
            f"{report.violations} SHACL violation(s) in the upload for <{graph}>; nothing was written",
            extra={"graph": graph, "report": report.as_json(), **{k: v for k, v in checked.summary().items()
                                                                   if k != "validation"}},
        )
        error.report = report  # type: ignore[attr-defined]  # for a Turtle answer
        raise error
    return checked


def _validation_data(store: Store, graph: str, quads: list[Quad], *, add: bool, own_prefix: str | None
                     ) -> tuple[rdflib.Graph, list[dict[str, Any]]]:
    """The partner's nodes as they will be once merged, for SHACL, and the conflicts with the reference data.

    For each subject of the upload: its triples in the upload; with ``add``, its triples already in the graph;
    then the reference triples about it (and about its hash-IRI nodes), except where the partner gives its own
    value for a property that takes one value (those are the conflicts). Every IRI the result points to gets
    its ``rdf:type`` from the store, so ``sh:class`` can be checked without validating the nodes pointed to.
    """
    data = rdflib.Graph()
    converted: dict[Any, rdflib.term.Node] = {}

    def rdf(term: Any) -> rdflib.term.Node:  # most terms recur (predicates, classes, cities): convert once
        node = converted.get(term)
        if node is None:
            node = converted[term] = to_rdflib(term)
        return node

    def add_triple(quad: Quad) -> None:
        data.add((rdf(quad.subject), rdf(quad.predicate), rdf(quad.object)))

    target = NamedNode(graph)
    by_subject: dict[Any, list[Quad]] = defaultdict(list)
    for quad in quads:
        by_subject[quad.subject].append(quad)
    if add:
        for subject in list(by_subject):
            by_subject[subject].extend(store.quads_for_pattern(subject, None, None, target))
    limits = cardinality()
    conflicts: list[dict[str, Any]] = []
    queue = list(by_subject.items())
    while queue:
        subject, own = queue.pop()
        reference = [q for q in store.quads_for_pattern(subject, None, None, None)
                     if isinstance(q.graph_name, NamedNode) and _is_reference(q.graph_name.value)]
        # A reference node's dependent nodes ({place}#geometry, {node}#from-{source}) come with it: the shapes
        # that target them (sh:targetObjectsOf) would otherwise find them empty.
        for quad in reference:
            value = quad.object
            if isinstance(value, NamedNode) and value.value.startswith(subject.value + "#") \
                    and value not in by_subject:
                by_subject[value] = []
                queue.append((value, []))
        for quad in own:
            add_triple(quad)
        if not reference:
            continue
        types = {q.object.value for q in own + reference if q.predicate == RDF_TYPE}
        single, per_language = limits.for_types(types)
        stated: dict[str, set] = defaultdict(set)
        languages: dict[tuple[str, str], set] = defaultdict(set)
        for quad in own:
            stated[quad.predicate.value].add(quad.object)
            if isinstance(quad.object, Literal) and quad.object.language:
                languages[(quad.predicate.value, quad.object.language)].add(quad.object)
        for quad in reference:
            predicate, value = quad.predicate.value, quad.object
            if predicate in single and predicate in stated:
                mine = stated[predicate]
            elif (predicate in per_language and isinstance(value, Literal) and value.language
                  and (predicate, value.language) in languages):
                mine = languages[(predicate, value.language)]
            else:
                add_triple(quad)
                continue
            if value not in mine:
                conflicts.append({
                    "subject": subject.value, "predicate": predicate,
                    "partner_value": sorted(_text(v) for v in mine), "reference_value": _text(value),
                    "reference_graph": quad.graph_name.value,
                })
    _add_referenced_types(store, data, own_prefix, rdf)
    return data, conflicts


def _is_reference(graph: str) -> bool:
    return not graph.startswith(PARTNER_GRAPHS) and graph not in NOT_REFERENCE


def _add_referenced_types(store: Store, data: rdflib.Graph, own: str | None,
                          rdf: Callable[[Any], rdflib.term.Node]) -> None:
    """The ``rdf:type`` of every IRI the data points to and does not type itself (reference + own graphs)."""
    rdf_type = rdflib.RDF.type
    typed = set(data.subjects(rdf_type, None))
    pointed = {o for p, o in data.predicate_objects() if p != rdf_type and isinstance(o, rdflib.URIRef)}
    for node in pointed - typed:
        for quad in store.quads_for_pattern(NamedNode(str(node)), RDF_TYPE, None, None):
            name = quad.graph_name.value if isinstance(quad.graph_name, NamedNode) else ""
            if _is_reference(name) or (own and (name == own or name.startswith(own + "/"))):
                data.add((node, rdf_type, rdf(quad.object)))


# -- commit ------------------------------------------------------------------------------------------------


def _walk_terms(node: Any, found: list) -> None:
    """Every triple pattern (as flat term lists) in an rdflib SPARQL algebra tree."""
    if isinstance(node, CompValue):
        if node.name in ("BGP", "TriplesBlock"):
            found.extend(list(t) for t in node.triples)
        for value in node.values():
            _walk_terms(value, found)
    elif isinstance(node, list | tuple):
        for value in node:
            _walk_terms(value, found)
    elif isinstance(node, dict):
        for value in node.values():
            _walk_terms(value, found)


@functools.cache
def _derivation_inputs() -> tuple[tuple[str, str | None], ...] | None:
    """The quad patterns every derivation reads: ``(predicate, class)`` with a class for ``rdf:type`` only.

    None when a derivation is not a CONSTRUCT or reads a variable predicate or class: only a full
    recomputation on the store is safe then.
    """
    patterns: set[tuple[str, str | None]] = set()
    for text in derive.DERIVATIONS.values():
        found: list = []
        try:
            query = translateQuery(parseQuery(text))
        except ParseException:
            return None  # not a CONSTRUCT
        if query.algebra.name != "ConstructQuery":
            return None
        _walk_terms(query.algebra, found)
        for terms in found:
            for i in range(1, len(terms) - 1, 2):
                predicate, value = terms[i], terms[i + 1]
                if not isinstance(predicate, rdflib.URIRef):
                    return None
                if predicate == rdflib.RDF.type:
                    if not isinstance(value, rdflib.URIRef):
                        return None
                    patterns.add((str(predicate), str(value)))
                else:
                    patterns.add((str(predicate), None))
    return tuple(sorted(patterns, key=lambda p: (p[0], p[1] or "")))


def rederive(store: Store) -> dict[str, int]:
    """Recompute ``graph/derived`` as :func:`amity.derive.materialise` would, writing only what changed.

    ``materialise`` on the on-disk store costs several seconds once partner twinnings are in (joins over
    the union read RocksDB). Here the quads the derivations read (their predicates, and the ``rdf:type``
    triples of the classes they name) are copied to an in-memory store, the derivations'
    CONSTRUCTs run there, and only the difference with the current derived graph is written. The result is
    the same (the tests compare it with ``materialise`` after every kind of merge). A derivation whose
    template is an INSERT, not a CONSTRUCT, gets the full ``materialise``.

    :returns: derived triples added and removed.
    """
    query = inputs_query()
    if query is None:
        derive.materialise(store)
        return {"added": -1, "removed": -1}
    # Copied as N-Quads bytes, not Python objects: the derivations read a few hundred thousand quads.
    fresh = derived_from(store.query(query).serialize(format=RdfFormat.N_TRIPLES))
    current = set(_lines(store.dump(format=RdfFormat.N_TRIPLES, from_graph=_DERIVED))) \
        if store.contains_named_graph(_DERIVED) else set()
    stale, added = current - fresh, fresh - current
    if stale:
        store.update(f"DELETE DATA {{ GRAPH {_DERIVED} {{ {' '.join(sorted(stale))} }} }}")
    if added:
        store.load("\n".join(sorted(added)).encode(), RdfFormat.N_TRIPLES, to_graph=_DERIVED)
    return {"added": len(added), "removed": len(stale)}


def inputs_query(excluded: Iterable[str] = ()) -> str | None:
    """A CONSTRUCT of every triple the derivations read, outside ``graph/derived`` and ``excluded`` graphs.

    None when a derivation is not a CONSTRUCT over fixed predicates (see :func:`_derivation_inputs`).
    """
    inputs = _derivation_inputs()
    if inputs is None:
        return None
    patterns = " UNION ".join(
        f"{{ GRAPH ?g {{ ?s <{predicate}> {f'<{cls}>' if cls else '?o'} }} BIND(<{predicate}> AS ?p)"
        + (f" BIND(<{cls}> AS ?o) }}" if cls else " }")
        for predicate, cls in inputs)
    conditions = " && ".join(f"?g != {NamedNode(graph)}" for graph in [derive.DERIVED_GRAPH, *excluded])
    return f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {patterns} FILTER({conditions}) }}"


def derived_from(ntriples: bytes | None) -> set[str]:
    """The derived triples (N-Triples lines) the derivations make from these input triples, in memory."""
    scratch = Store()
    scratch.bulk_load(ntriples or b"", RdfFormat.N_TRIPLES, to_graph=NamedNode(iris.graph("scratch")))
    fresh: set[str] = set()
    for construct in derive.DERIVATIONS.values():  # what materialise() evaluates, here in memory
        triples = scratch.query(construct, use_default_graph_as_union=True)
        fresh.update(_lines(triples.serialize(format=RdfFormat.N_TRIPLES)))
    return fresh


def _lines(ntriples: bytes | None) -> list[str]:
    return [line for line in (ntriples or b"").decode().splitlines() if line.strip()]


def touches_derivations(quads: Iterable[Quad]) -> bool:
    """Whether any quad is one the derivations read: if none is added or removed, ``graph/derived`` stands."""
    inputs = _derivation_inputs()
    if inputs is None:
        return True
    predicates = {p for p, cls in inputs if cls is None}
    classes = {cls for p, cls in inputs if cls is not None}
    for quad in quads:
        if quad.predicate.value in predicates:
            return True
        if quad.predicate == RDF_TYPE and quad.object.value in classes:
            return True
    return False


def _snapshot(store: EmbeddedStore | ExternalStore) -> tuple[int, Store]:
    """The published version and a reader on it (the version is read first, so the reader is never older)."""
    version = store.version()
    return version, store.reader()


def _graph_size(store: Store, graph: NamedNode) -> int:
    rows = store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {graph} {{ ?s ?p ?o }} }}")
    return int(next(iter(rows))["n"].value)


@dataclass
class _Write:
    """One change to one partner graph, as the commit applies and records it."""

    partner: Partner
    graph: str
    key: str
    operation: str  # one of history.OPERATIONS
    upload: Upload | None = None
    checked: Checked | None = None
    recheck: Callable[[Store, int], Checked] | None = None  # runs the checks again on a newer state
    restored: int | None = None


def _commit(store: EmbeddedStore | ExternalStore, write: _Write, timer: Timer) -> dict[str, Any]:
    """Apply, derive, record and publish as one step: a failure anywhere publishes nothing.

    On a remote store the same steps end in one staged update request (:mod:`amity.remote_merge`).
    """
    if isinstance(store, ExternalStore):
        from amity import remote_merge

        return remote_merge.commit(store, write, timer)
    g = NamedNode(write.graph)
    started = _now()
    t = time.perf_counter()
    written: Path | None = None
    try:
        with store.writing() as master:
            t = timer.step("wait for the write lock", t)
            version = store.version()
            checked = write.checked
            if checked is not None and checked.checked_version != version and write.recheck is not None:
                checked = write.recheck(master, version)  # another merge was published since the checks ran
                t = time.perf_counter()
            existed = master.contains_named_graph(g)
            if write.operation == "delete" and not existed:
                raise NotFound(f"there is no graph <{write.graph}>")
            before = _graph_size(master, g) if existed else 0
            previous = history.latest(master, write.graph)
            number = previous + 1
            new_quads = checked.quads if checked is not None and write.operation != "delete" else []
            removed_inputs = write.operation != "add" and existed and touches_derivations(
                master.quads_for_pattern(None, None, None, g))
            if write.operation != "add" and existed:
                master.remove_graph(g)
            if write.operation != "delete":
                if new_quads:
                    master.bulk_extend(new_quads)
                master.add_graph(g)
            t = timer.step("commit", t)
            derived = rederive(master) if touches_derivations(new_quads) or removed_inputs \
                else {"added": 0, "removed": 0}
            t = timer.step("derive", t)
            after = _graph_size(master, g) if write.operation != "delete" else 0
            written = history.write_version(store.root, write.key, number,
                                            master.quads_for_pattern(None, None, None, g) if after else [])
            t = timer.step("history", t)
            upload = write.upload
            master.extend(history.record(history.Merge(
                graph=write.graph, key=write.key, version=number, operation=write.operation,
                partner_iri=write.partner.iri, partner_name=write.partner.name, started=started, ended=_now(),
                triples=after,
                upload_bytes=upload.size if upload else None, upload_sha256=upload.sha256 if upload else None,
                upload_format=upload.fmt.media_type if upload else None,
                upload_triples=len(checked.quads) if upload and checked else None,
                restored=write.restored,
            )))
            t = time.perf_counter()
        timer.step("publish", t)
    except BaseException:
        if written is not None:
            written.unlink(missing_ok=True)
        raise
    return write_answer(write, graph=write.graph, existed=existed, number=number, previous=previous,
                        before=before, after=after, checked=checked, derived=derived, version=version,
                        upload=upload, timer=timer)


def write_answer(write: _Write, *, graph: str, existed: bool, number: int, previous: int, before: int, after: int,
                 checked: Any, derived: Any, version: int, upload: Upload | None, timer: Timer) -> dict[str, Any]:
    """What a client is told of a write, the same from either store's commit."""
    answer: dict[str, Any] = {
        "graph": graph,
        "partner": write.partner.name,
        "operation": write.operation,
        "created": not existed and write.operation != "delete",
        "version": number,
        "previous_version": previous or None,
        "activity": history.activity_iri(write.key, number),
        "triples": {"before": before, "after": after,
                    "uploaded": len(checked.quads) if checked is not None else 0},
        "derived": derived,
        "store_version": version + 1,  # the version this write published
    }
    if upload is not None:
        answer["upload"] = {"bytes": upload.size, "sha256": upload.sha256, "format": upload.fmt.media_type}
    if write.restored is not None:
        answer["restored_version"] = write.restored
    if checked is not None:
        answer.update(checked.summary())
    answer["timings"] = timer.as_json()
    return answer


# -- entry points ------------------------------------------------------------------------------------------


def merge(store: EmbeddedStore | ExternalStore, partner: Partner, graph: str, upload: Upload, *,
          operation: str) -> dict[str, Any]:
    """Replace (``PUT``) or add to (``POST``) a partner graph with an upload."""
    if operation not in ("replace", "add"):
        raise ValueError(operation)
    return _write_upload(store, partner, graph, check_writable(partner, graph), upload, operation=operation)


def _write_upload(store: EmbeddedStore | ExternalStore, partner: Partner, graph: str, key: str,
                  upload: Upload, *, operation: str, restored: int | None = None) -> dict[str, Any]:
    """Parse outside the lock, check against the published snapshot, commit (checking again if it moved)."""
    timer = Timer()
    t = time.perf_counter()
    quads = parse_upload(upload, graph)
    timer.step("parse", t)
    version, reader = _snapshot(store)

    def run_checks(handle: Store, at_version: int) -> Checked:
        return check(handle, graph, quads, operation="add" if operation == "add" else "replace",
                     own_prefix=partner.graph, version=at_version, timer=timer)

    checked = run_checks(reader, version)
    return _commit(store, _Write(partner, graph, key, operation, upload=upload, checked=checked,
                                 recheck=run_checks, restored=restored), timer)


def delete(store: EmbeddedStore | ExternalStore, partner: Partner, graph: str) -> dict[str, Any]:
    """Drop a partner graph (``DELETE``); its history stays, and a rollback can bring it back."""
    key = check_writable(partner, graph)
    return _commit(store, _Write(partner, graph, key, "delete"), Timer())


def rollback(store: EmbeddedStore | ExternalStore, partner: Partner, graph: str, to: int) -> dict[str, Any]:
    """Restore version ``to`` of a graph, itself recorded as a new version.

    The old content is checked again like an upload: the reference data may have moved on since.
    """
    key = check_writable(partner, graph)
    _version, reader = _snapshot(store)
    recorded = {v.version: v for v in history.versions(reader, graph)}
    if to not in recorded:
        known = ", ".join(str(n) for n in sorted(recorded)) or "none"
        raise NotFound(f"<{graph}> has no version {to} (recorded versions: {known})")
    if recorded[to].operation == "delete":
        return {**delete(store, partner, graph), "restored_version": to}
    if not history.version_path(store.root, key, to).is_file():
        raise Conflict(f"the content of version {to} of <{graph}> is missing from the history directory")
    with _restored_upload(store, key, to) as restored:
        return _write_upload(store, partner, graph, key, restored, operation="rollback", restored=to)


def _restored_upload(store: EmbeddedStore | ExternalStore, key: str, version: int) -> Upload:
    """A stored version as an upload (N-Quads in a temporary file): it goes through the same checks."""
    directory = store.root / UPLOADS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="rollback-", suffix=".nq", dir=directory)
    stored_path = history.version_path(store.root, key, version)
    with os.fdopen(fd, "wb") as out, gzip.open(stored_path, "rb") as stored:
        shutil.copyfileobj(stored, out, CHUNK)
    restored = from_file(Path(name), formats.NQUADS)
    restored.owned = True
    return restored


def revalidate(store: Store, graph: str) -> tuple[Report, list[dict[str, Any]]]:
    """Check a partner graph already in ``store`` the way its merge checked it, and list its conflicts.

    For a rebuild, which carries partner graphs over onto new reference data: validated alone, a graph that
    says one thing about a reference city (a Chinese name) would fail the city shape for lacking the rest.
    """
    owner = owner_of(graph)
    quads = list(store.quads_for_pattern(None, None, None, NamedNode(graph)))
    data, conflicts = _validation_data(store, graph, quads, add=False,
                                       own_prefix=iris.partner_graph(owner) if owner else None)
    return validate(data), conflicts


def dry_run(store: EmbeddedStore | ExternalStore, upload: Upload, *, graph: str | None,
            operation: str = "replace", partner: Partner | None = None) -> dict[str, Any]:
    """Everything a merge checks, and nothing it writes (``POST /validate``, ``amity validate``).

    Without a partner the upload is checked as a new graph against the reference data only, which is public:
    no partner graph is read, so a dry run tells nothing that ``GET /store`` would not. With a partner
    (token), ``graph`` must be theirs (their own graph when none is named) and an ``add`` is checked together
    with what the graph holds.
    """
    graph = graph or (partner.graph if partner is not None else SCRATCH_GRAPH)
    if partner is not None:
        check_writable(partner, graph)
    elif operation != "replace":
        raise BadRequest("checking an addition to a graph reads that graph: send the partner's token")
    elif graph.startswith(PARTNER_GRAPHS):
        graph_key(graph)
    timer = Timer()
    t = time.perf_counter()
    quads = parse_upload(upload, graph)
    timer.step("parse", t)
    version, reader = _snapshot(store)
    checked = check(reader, graph, quads, operation=operation,
                    own_prefix=partner.graph if partner else None, version=version, timer=timer)
    return {
        "graph": graph,
        "operation": operation,
        "dry_run": True,
        "conforms": True,
        "triples": {"uploaded": len(checked.quads)},
        "upload": {"bytes": upload.size, "sha256": upload.sha256, "format": upload.fmt.media_type},
        "store_version": version,
        **checked.summary(),
        "timings": timer.as_json(),
    }
