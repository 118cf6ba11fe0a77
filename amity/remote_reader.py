"""The part of ``pyoxigraph.Store``'s read API Amity uses, answered by a remote SPARQL store.

Amity's read paths (entity pages, saved queries, VoID, the resolvers, the merge checks, the query executor)
were written against a pyoxigraph snapshot: ``query(...)``, ``quads_for_pattern``, ``named_graphs``,
``contains_named_graph`` and ``dump``. :class:`RemoteReader` offers the same calls on a
:class:`~amity.remote.RemoteStore`, so those paths run unchanged on either store. What the protocol lacks
is made up here:

* ``prefixes=`` and ``base_iri=`` become ``PREFIX`` and ``BASE`` lines in front of the query (only the prefixes
  it uses and does not declare itself);
* ``substitutions=`` become ``VALUES`` blocks in the query (:mod:`amity.prebind`);
* Oxigraph's ``LATERAL`` is spliced into its group (:mod:`amity.lateral`);
* syntax errors are found by pyoxigraph's parser first, on an empty in-memory store, so a client gets the same
  message, line and column whichever store answers (Virtuoso's own messages name other positions);
* answers are pyoxigraph objects parsed from the store's JSON or N-Triples, so :func:`amity.sparql.serialize`
  writes the same bytes as on the embedded store.

Unlike a pyoxigraph snapshot, a reader is live: it sees writes as the store commits them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from pyoxigraph import (
    DefaultGraph,
    NamedNode,
    Quad,
    QueryBoolean,
    QuerySolutions,
    RdfFormat,
    Store,
    Triple,
    Variable,
    serialize,
)

from amity.lateral import splice_lateral
from amity.prebind import Term, with_values
from amity.remote import EMPTY_GRAPH, RemoteStore
from amity.sparql_text import scan, tokens


class RemoteTriples:
    """A CONSTRUCT or DESCRIBE answer, like pyoxigraph's ``QueryTriples``: iterate it or serialize it."""

    def __init__(self, triples: Iterable[Triple]) -> None:
        # Grouped by subject, as pyoxigraph's evaluation mostly yields them, so Turtle stays compact.
        self.triples = sorted(triples, key=lambda t: (str(t.subject), str(t.predicate)))

    def __iter__(self) -> Iterator[Triple]:
        return iter(self.triples)

    def __len__(self) -> int:
        return len(self.triples)

    def serialize(self, output: IO[bytes] | None = None, format: RdfFormat = RdfFormat.N_TRIPLES,  # noqa: A002
                  *, prefixes: Mapping[str, str] | None = None) -> bytes | None:
        return serialize(self.triples, output, format, prefixes=prefixes)


_EMPTY = Store()  # parses queries for their syntax errors; never holds data


def check_syntax(text: str, *, base_iri: str | None = None, prefixes: Mapping[str, str] | None = None,
                 substitutions: Mapping[Variable, Term] | None = None) -> None:
    """Raise pyoxigraph's ``SyntaxError`` (with its line and column) for a query it would refuse.

    The query is evaluated on an empty in-memory store, which costs microseconds. A query that calls
    ``SERVICE`` is not evaluated here, even on empty data: only the remote store runs it.
    """
    if scan(text).services:
        return
    _EMPTY.query(text, base_iri=base_iri, prefixes=dict(prefixes) if prefixes else None,
                 substitutions=dict(substitutions) if substitutions else None)


def declared_prefixes(text: str) -> set[str]:
    """The prefix names a query declares itself (``PREFIX name:``)."""
    toks = tokens(text)
    return {toks[i + 1].text[:-1] for i, tok in enumerate(toks[:-1])
            if tok.kind == "word" and tok.text.upper() == "PREFIX" and toks[i + 1].text.endswith(":")}


def used_prefixes(text: str) -> set[str]:
    return {tok.text.split(":", 1)[0] for tok in tokens(text) if tok.kind == "pname"}


def remote_text(text: str, *, base_iri: str | None = None, prefixes: Mapping[str, str] | None = None,
                substitutions: Mapping[Variable, Term] | None = None) -> str:
    """The query as a store without pyoxigraph's options must receive it.

    >>> remote_text("SELECT * { ?s a cdo:City }", prefixes={"cdo": "http://c/", "x": "http://x/"})
    'PREFIX cdo: <http://c/>\\nSELECT * { ?s a cdo:City }'
    """
    prologue: list[str] = []
    if base_iri:
        prologue.append(f"BASE <{base_iri}>")
    if prefixes:
        wanted = used_prefixes(text) - declared_prefixes(text)
        prologue += [f"PREFIX {name}: <{iri}>" for name, iri in prefixes.items() if name in wanted]
    body = splice_lateral(text)
    if substitutions:
        body = with_values(body, substitutions)
    return "\n".join([*prologue, body])


def without_from(text: str) -> str:
    """The query without its ``FROM`` / ``FROM NAMED`` clauses.

    The protocol's ``default-graph-uri``/``named-graph-uri`` replace the query's own dataset (SPARQL 1.1
    Protocol §2.1.4); Virtuoso lets ``FROM`` win instead, so the clauses are removed before sending.

    >>> without_from("ASK FROM <http://g> FROM NAMED <http://h> { ?s ?p ?o }")
    'ASK { ?s ?p ?o }'
    """
    toks = tokens(text)
    cuts: list[tuple[int, int]] = []
    for i, tok in enumerate(toks):
        if tok.depth == 0 and tok.kind == "word" and tok.text.upper() == "FROM":
            j = i + 1
            if j < len(toks) and toks[j].kind == "word" and toks[j].text.upper() == "NAMED":
                j += 1
            if j < len(toks) and toks[j].kind in ("iri", "pname"):
                cuts.append((tok.start, toks[j].end))
    for start, end in reversed(cuts):
        following = text[end:]
        text = text[:start].rstrip(" ") + (" " if following[:1] not in (" ", "\n") else "") + following.lstrip(" ")
    return text


def _graph_iris(graphs: Any) -> list[str]:
    if graphs is None:
        return []
    if isinstance(graphs, NamedNode | DefaultGraph):
        graphs = [graphs]
    iris = []
    for graph in graphs:
        if isinstance(graph, DefaultGraph):
            raise ValueError("Amity keeps no triples in the default graph of a remote store")
        iris.append(graph.value if isinstance(graph, NamedNode) else str(graph))
    return iris


class RemoteReader:
    """A read handle on a remote store with the calls of a pyoxigraph ``Store`` Amity makes.

    ``timeout`` is the time limit of each query in seconds (``None``: the store client's default), passed
    on to the store where it has a time-limit parameter.
    """

    def __init__(self, client: RemoteStore, *, version: int = 0, timeout: float | None = None) -> None:
        self.client = client
        self.version = version
        self.timeout = timeout

    def limited(self, timeout: float) -> RemoteReader:
        """The same reader with another per-query time limit (the endpoint's)."""
        return RemoteReader(self.client, version=self.version, timeout=timeout)

    # -- queries -------------------------------------------------------------------------------------

    def query(self, query: str, *, base_iri: str | None = None, prefixes: Mapping[str, str] | None = None,
              use_default_graph_as_union: bool = False, default_graph: Any = None, named_graphs: Any = None,
              substitutions: Mapping[Variable, Term] | None = None
              ) -> QuerySolutions | QueryBoolean | RemoteTriples:
        """``Store.query`` on the remote store; raises ``SyntaxError`` exactly where pyoxigraph would."""
        check_syntax(query, base_iri=base_iri, prefixes=prefixes, substitutions=substitutions)
        text = remote_text(query, base_iri=base_iri, prefixes=prefixes, substitutions=substitutions)
        defaults, named = _graph_iris(default_graph), _graph_iris(named_graphs)
        options: dict[str, Any] = {"timeout": self.timeout}
        if use_default_graph_as_union:
            options["default_graph_as_union"] = True
        elif default_graph is not None or named_graphs is not None:
            # The protocol's dataset: named graphs alone mean an empty default graph, which a store reads as
            # "no dataset given" (Virtuoso: every graph) unless told otherwise.
            text = without_from(text)
            options["default_graphs"] = defaults or [EMPTY_GRAPH]
            options["named_graphs"] = named or [EMPTY_GRAPH]
        elif not scan(query).has_from:
            # pyoxigraph's own dataset: an empty default graph, every named graph (here: Amity's, not the
            # store's system graphs or the version graph).
            options["default_graphs"] = [EMPTY_GRAPH]
            options["named_graphs"] = self.client.dataset_graphs() or [EMPTY_GRAPH]
        result = self.client.evaluate(text, **options)
        if isinstance(result, QuerySolutions | QueryBoolean):
            return result
        return RemoteTriples(result)

    # -- quads ---------------------------------------------------------------------------------------

    def quads_for_pattern(self, subject: Any = None, predicate: Any = None, object: Any = None,  # noqa: A002
                          graph_name: Any = None) -> Iterator[Quad]:
        """Every quad matching the pattern in Amity's graphs (``graph_name=None``) or one graph."""
        if graph_name is not None and subject is None and predicate is None and object is None:
            return (Quad(t.subject, t.predicate, t.object, graph_name)
                    for t in self.client.graph_triples(graph_name.value))
        return self.client.quads_for_pattern(subject, predicate, object, graph_name)

    def subjects_for(self, predicates: Iterable[NamedNode], objects: Iterable[Any]) -> set[str]:
        """Subjects of any ``(predicate, object)`` pair, in one query: what the embedded store answers with one
        index probe per pair, a remote store would need a round trip for (the name resolver makes up to 168)."""
        text = (f"SELECT DISTINCT ?s WHERE {{ VALUES ?p {{ {' '.join(str(p) for p in predicates)} }} "
                f"VALUES ?o {{ {' '.join(str(o) for o in objects)} }} ?s ?p ?o }}")
        rows = self.client.evaluate(text, default_graph_as_union=True, timeout=self.timeout)
        return {row["s"].value for row in rows}  # type: ignore[union-attr]

    def named_graphs(self) -> Iterator[NamedNode]:
        return iter(self.client.named_graphs())

    def contains_named_graph(self, graph: NamedNode | str) -> bool:
        return self.client.contains_named_graph(graph.value if isinstance(graph, NamedNode) else graph)

    def __iter__(self) -> Iterator[Quad]:
        """Every quad of every graph of Amity's, graph by graph."""
        for graph in self.client.named_graphs():
            yield from self.quads_for_pattern(None, None, None, graph)

    def __len__(self) -> int:
        return self.client.count()

    def dump(self, output: IO[bytes] | None = None, format: RdfFormat = RdfFormat.N_QUADS,  # noqa: A002
             *, from_graph: NamedNode | None = None, prefixes: Mapping[str, str] | None = None) -> bytes | None:
        """``Store.dump``: one graph's triples, or every quad, serialized by pyoxigraph (same bytes)."""
        if from_graph is None:
            return serialize(iter(self), output, format, prefixes=prefixes)
        return serialize(self.client.graph_triples(from_graph.value), output, format, prefixes=prefixes)
