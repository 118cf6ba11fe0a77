"""Queries as the endpoint runs them: checked, capped, given a dataset and a format, then run.

:func:`prepare` does everything that must happen before any work starts
(refuse updates and SERVICE calls to hosts not on the allowlist, lower the
LIMIT to the row cap, pick the format); :func:`run` evaluates in this process
and is what the query worker processes call too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pyoxigraph import Literal, NamedNode, QueryBoolean, QuerySolutions, Store, Variable

from amity import formats, iris
from amity.ns import PREFIXES
from amity.problems import BadParameter, BadRequest, Forbidden, NotAcceptable, QuerySyntaxError
from amity.sparql_text import scan, shape, with_row_cap

_POSITION = re.compile(r"error at (\d+):(\d+)")
DEFAULT_ROW_CAP = 100_000
#: pyoxigraph's parser recurses once per level and overflows its stack (SIGSEGV) near 2 000 nested braces;
#: real queries stay under 30 (docs/reliability.md).
MAX_NESTING = 256

#: One pre-bound variable as plain strings: (name, "iri" | "literal", value, datatype, language).
#: Prepared queries travel to the worker processes by pickle, so they carry no pyoxigraph objects.
Binding = tuple[str, str, str, str | None, str | None]


def encode_substitutions(values: dict[Variable, NamedNode | Literal]) -> tuple[Binding, ...]:
    """Terms to picklable tuples, sorted by variable name so equal bindings compare equal.

    >>> encode_substitutions({Variable("n"): Literal("3", datatype=NamedNode("http://x/int"))})
    (('n', 'literal', '3', 'http://x/int', None),)
    """
    out: list[Binding] = []
    for variable, term in values.items():
        if isinstance(term, NamedNode):
            out.append((variable.value, "iri", term.value, None, None))
        else:
            out.append((variable.value, "literal", term.value,
                        None if term.language else term.datatype.value, term.language))
    return tuple(sorted(out))


def decode_substitutions(bindings: tuple[Binding, ...]) -> dict[Variable, NamedNode | Literal]:
    """The inverse of :func:`encode_substitutions`, run where the query is evaluated."""
    terms: dict[Variable, NamedNode | Literal] = {}
    for name, kind, value, datatype, language in bindings:
        if kind == "iri":
            terms[Variable(name)] = NamedNode(value)
        elif language:
            terms[Variable(name)] = Literal(value, language=language)
        else:
            terms[Variable(name)] = Literal(value, datatype=NamedNode(datatype) if datatype else None)
    return terms


@dataclass(frozen=True)
class Prepared:
    """A query ready to run: everything is decided, nothing has been evaluated yet."""

    text: str
    form: str
    format: formats.Format
    capped: bool = False
    row_cap: int = DEFAULT_ROW_CAP
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    substitutions: tuple[Binding, ...] = ()  # pre-bound variables (saved-query parameters)
    original: str = ""  # the text as the client sent it, for error messages
    has_from: bool = False  # the query names its own dataset (FROM / FROM NAMED)
    shape: str = ""  # the text with its constants blanked (:func:`amity.sparql_text.shape`): its cost class

    def query_options(self) -> dict[str, Any]:
        """Keyword arguments for ``Store.query``: the dataset the protocol asked for, else the union."""
        # Relative IRIs resolve against our namespace (the protocol leaves the base IRI to the service).
        options: dict[str, Any] = {"prefixes": PREFIXES, "base_iri": iris.BASE}
        if self.default_graphs or self.named_graphs:
            options["default_graph"] = [NamedNode(g) for g in self.default_graphs]
            options["named_graphs"] = [NamedNode(g) for g in self.named_graphs]
        elif not self.has_from:
            options["use_default_graph_as_union"] = True
        return options


def prepare(text: str, *, accept: str | None = None, format_name: str | None = None,
            default_graphs: Sequence[str] = (), named_graphs: Sequence[str] = (),
            service_allowlist: Sequence[str] = (), row_cap: int = DEFAULT_ROW_CAP,
            substitutions: tuple[Binding, ...] = ()) -> Prepared:
    """Check a query and decide how to run and answer it.

    :raises BadRequest: for an empty request or an update sent as a query.
    :raises Forbidden: for a SERVICE call to an endpoint not on the allowlist.
    :raises NotAcceptable: when no format the query can produce fits ``accept``.
    """
    if not text or not text.strip():
        raise BadRequest("the query is empty")
    for parameter, graphs in (("default-graph-uri", default_graphs), ("named-graph-uri", named_graphs)):
        for graph in graphs:
            try:
                NamedNode(graph)
            except ValueError as error:
                raise BadParameter(f"{parameter} {graph!r} is not an absolute IRI: {error}") from None
    checked = _checked(text, tuple(service_allowlist), row_cap)
    offered = formats.RESULTS if checked.form in ("SELECT", "ASK") else formats.GRAPHS
    fmt = formats.by_name(format_name, offered) if format_name else formats.negotiate(accept, offered)
    return Prepared(checked.text, checked.form, fmt, checked.capped, row_cap, tuple(default_graphs),
                    tuple(named_graphs), substitutions=tuple(substitutions), original=text,
                    has_from=checked.has_from, shape=checked.shape)


@dataclass(frozen=True)
class _Checked:
    """What the text of a query alone decides: its form, the text to run, and whether it names its dataset."""

    form: str
    text: str
    capped: bool
    has_from: bool
    shape: str


#: Query texts up to this length are remembered with their checks: clients and saved queries send the same
#: texts again and again, and scanning one costs more than running a small query. 512 texts of at most
#: 8 Ki characters bound the cache to a few tens of MiB per web process.
CACHED_TEXT_CHARS = 8 * 1024


def _checked(text: str, service_allowlist: tuple[str, ...], row_cap: int) -> _Checked:
    if len(text) <= CACHED_TEXT_CHARS:
        return _checked_cached(text, service_allowlist, row_cap)
    return _check(text, service_allowlist, row_cap)


def _check(text: str, service_allowlist: tuple[str, ...], row_cap: int) -> _Checked:
    scanned = scan(text)
    if scanned.form == "UPDATE" or scanned.form is None and scanned.update_operations:
        raise BadRequest("this endpoint answers queries; SPARQL Update is not accepted here")
    if scanned.nesting > MAX_NESTING:
        raise BadRequest(f"the query nests {scanned.nesting} levels of brackets deep; at most {MAX_NESTING} are "
                         "accepted")
    for endpoint in scanned.services:
        if endpoint not in service_allowlist:
            raise Forbidden(
                f"federated SERVICE to {endpoint} is not allowed: this endpoint does not call other hosts"
                + (" (allowed: " + ", ".join(service_allowlist) + ")" if service_allowlist else ""),
            )
    capped = with_row_cap(text, row_cap, tokenized=scanned.tokens)
    return _Checked(scanned.form or "SELECT", capped.text, capped.cap_applied, scanned.has_from,
                    shape(scanned.tokens))


_checked_cached = functools.lru_cache(maxsize=512)(_check)


def syntax_error(error: SyntaxError, text: str) -> QuerySyntaxError:
    """pyoxigraph's message with the line and column it names, for a 400 the client can act on."""
    message = str(error)
    extra: dict[str, Any] = {}
    match = _POSITION.search(message)
    if match:
        line, column = int(match.group(1)), int(match.group(2))
        extra = {"line": line, "column": column}
        lines = text.splitlines()
        if 1 <= line <= len(lines):
            extra["context"] = lines[line - 1]
    return QuerySyntaxError(message, extra=extra)


def evaluate(store: Store, prepared: Prepared):
    """Start evaluation (lazy for SELECT); syntax errors become :class:`QuerySyntaxError`."""
    try:
        extra = {"substitutions": decode_substitutions(prepared.substitutions)} \
            if prepared.substitutions else {}
        return store.query(prepared.text, **prepared.query_options(), **extra)
    except SyntaxError as error:
        raise syntax_error(error, prepared.original or prepared.text) from None


def serialize(result, fmt: formats.Format, output) -> None:
    """Write a result in ``fmt`` to a binary writer, as pyoxigraph streams it."""
    if isinstance(result, QuerySolutions | QueryBoolean):
        if fmt.results is None:
            raise NotAcceptable(f"{fmt.media_type} cannot carry SELECT or ASK results")
        result.serialize(output, fmt.results)
    else:
        if fmt.rdf is None:
            raise NotAcceptable(f"{fmt.media_type} cannot carry CONSTRUCT or DESCRIBE results")
        result.serialize(output, fmt.rdf)


class _Collect:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def run(store: Store, prepared: Prepared) -> Iterator[bytes]:
    """Evaluate in this process (the command line, the query workers, tests)."""
    result = evaluate(store, prepared)
    sink = _Collect()
    serialize(result, prepared.format, sink)
    yield from sink.chunks
