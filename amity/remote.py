"""A store client for any SPARQL 1.1 store, over the standard protocols only.

Amity's embedded pyoxigraph store lives on one machine. To serve from several
machines, the graph moves to an external store that all app processes share
(Virtuoso, Fuseki, GraphDB, Oxigraph server, QLever). :class:`RemoteStore`
talks to it with nothing but the W3C protocols — SPARQL 1.1 Query and Update
over HTTP and the Graph Store HTTP Protocol — so changing the store is a change
of URLs, not of code. What differs between stores is configuration:

* the three URLs and the credentials (Virtuoso: read on ``/sparql``, write on the
  digest-authenticated ``/sparql-auth`` and ``/sparql-graph-crud-auth``);
* the name and unit of a per-request time-limit parameter, if the store has one
  (Virtuoso: ``timeout`` in milliseconds — see :data:`VIRTUOSO`);
* an optional :class:`BulkLoader` for builds (Virtuoso's ``ld_add`` +
  ``rdf_loader_run`` through isql, :class:`VirtuosoBulkLoader`); without one,
  builds upload N-Triples chunks with Graph Store ``POST``.

Four things every store needs, measured on Virtuoso 7.2.5 (``docs/remote-store.md``):

* **The union default graph is explicit.** "Default graph = union of all named
  graphs" is not portable (Virtuoso's implicit default includes its own system
  graphs; Fuseki and Oxigraph need a server option), so a union query sends the
  list of Amity's graphs as ``default-graph-uri`` *and* ``named-graph-uri``
  (Virtuoso lets ``GRAPH ?g`` range over every graph unless named graphs are
  given), in a POST body so the list never meets a URL length limit. That list
  also keeps staging graphs out of sight.
* **Partial answers are refused.** Virtuoso's ``timeout`` answers ``200 OK`` with
  whatever it has and ``X-SQL-State: S1TAT`` — e.g. a COUNT that is simply
  wrong. :meth:`RemoteStore.query` turns that (and ``206``) into
  :class:`~amity.problems.QueryTimeout` before any byte reaches a client.
* **Atomic writes go through a staging graph.** A Graph Store ``PUT`` is not
  atomic on Virtuoso (readers saw the graph empty, then growing, for seconds),
  and one update request is one transaction only when it is aborted (time
  limit, crash); a runtime error in one operation keeps the operations before
  it. :class:`StagedWrite` loads into ``graph/staging/…``, checks the count,
  then commits with one request made only of operations that cannot fail at
  run time (``MOVE``/``ADD``/``DROP SILENT``/``INSERT DATA``), ending with the
  drop of a marker graph that tells, after any failure, whether it all landed.
* **Answers are parsed and re-serialised** by :meth:`RemoteStore.evaluate`, so
  clients get pyoxigraph's bytes whatever the store (Virtuoso's JSON is
  SPARQL 1.0-flavoured, its TSV is not W3C TSV, and it retypes WKT).
"""

from __future__ import annotations

import calendar
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, Protocol

import requests
from pyoxigraph import (
    DefaultGraph,
    NamedNode,
    Quad,
    QueryBoolean,
    QueryResultsFormat,
    QuerySolutions,
    RdfFormat,
    Triple,
    parse,
    parse_query_results,
    serialize,
)
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

from amity import iris
from amity.problems import AmityError, NotFound, QuerySyntaxError, QueryTimeout, ServiceUnavailable
from amity.sparql_text import scan, tokens

log = logging.getLogger(__name__)

NTRIPLES = "application/n-triples"
#: How parsed answers travel. Not XML: pyoxigraph's XML results parser trims spaces around literals ("  a  " comes
#: back "a"), and not TSV: Virtuoso's TSV is not the W3C one (quoted header, raw newlines and tabs).
RESULTS_JSON = "application/sparql-results+json"
#: Graphs a write stages its data in; never part of the dataset queries see.
STAGING_PREFIX = iris.GRAPH + "staging/"
#: Named in the dataset when Amity has no graph yet, so the store's own default graph (on Virtuoso: every
#: graph, system graphs included) is never used by accident.
EMPTY_GRAPH = iris.GRAPH + "empty"
#: The one triple of a staged write's marker graph (outside cdo:, which only holds the ontology's own terms).
MARKER_PREDICATE = STAGING_PREFIX + "pendingWrite"
CHUNK_BYTES = 64 * 1024
#: Triples per Graph Store POST during bulk loads: big enough that HTTP overhead vanishes, small enough that a
#: failed chunk is cheap to retry and no store hits a request-size limit (Virtuoso refuses strings over 10 MB).
CHUNK_TRIPLES = 50_000
#: Triples per ``INSERT DATA`` where a store has no Graph Store Protocol: Virtuoso's SPARQL parser runs out of
#: stack ("SP030 memory exhausted") between 1 000 and 5 000 triples in one request.
INSERT_DATA_TRIPLES = 1_000
#: Time to first byte allowed on top of the query time limit before the client gives up on the store.
CLIENT_GRACE_SECONDS = 5.0

#: What a write accepts: N-Triples bytes, an N-Triples file, a binary file object, or pyoxigraph triples.
Data = bytes | os.PathLike[str] | IO[bytes] | Iterable[Triple]


class StoreError(AmityError):
    """The store refused a request Amity built correctly (credentials, rights, a store bug): the operator's problem."""

    status = 502
    title = "Store error"


class PartialCommit(StoreError):
    """A staged commit failed after the store applied part of it: staging is kept for the operator."""


@dataclass(frozen=True)
class TimeLimitParameter:
    """A store's own per-request time-limit parameter: its name and how many units make a second."""

    name: str
    per_second: float = 1.0

    def value(self, seconds: float) -> str:
        return str(max(1, round(seconds * self.per_second)))


#: Settings that make the generic client fit a given store; pass as ``RemoteStore(..., **VIRTUOSO)``.
VIRTUOSO: dict[str, Any] = {
    "time_limit_parameter": TimeLimitParameter("timeout", 1000.0),
    # Virtuoso stores WKT as its own geometry type (single-precision coordinates: openlink/virtuoso-opensource
    # #456, #803, #808); the type at least can be given back.
    "datatype_aliases": {"http://www.openlinksw.com/schemas/virtrdf#Geometry":
                         "http://www.opengis.net/ont/geosparql#wktLiteral"},
}
FUSEKI: dict[str, Any] = {"time_limit_parameter": TimeLimitParameter("timeout", 1.0)}
QLEVER: dict[str, Any] = {"time_limit_parameter": None}
OXIGRAPH: dict[str, Any] = {"time_limit_parameter": None}


class BulkLoader(Protocol):
    """A store-specific fast path for loading N-Triples files (only ever into staging or brand-new graphs)."""

    directory: Path

    def load(self, files: Sequence[tuple[Path, str]]) -> None:
        """Load each ``(file in self.directory, graph IRI)``; raise if any file failed."""


class RemoteResponse:
    """A store's answer, streamed: iterate for byte chunks, or :meth:`read` it whole. Close when done."""

    def __init__(self, response: requests.Response, chunk_size: int = CHUNK_BYTES) -> None:
        self._response = response
        self.chunk_size = chunk_size
        self.status = response.status_code
        self.headers = response.headers
        self.content_type = response.headers.get("Content-Type", "application/octet-stream")
        milliseconds = response.headers.get("X-Exec-Milliseconds")
        self.exec_ms: int | None = int(milliseconds) if milliseconds and milliseconds.isdigit() else None

    @property
    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response.iter_content(self.chunk_size)
        except requests.exceptions.RequestException as error:  # a read timeout or a cut connection mid-body
            raise ServiceUnavailable(f"the store stopped sending its answer: {error}") from None
        finally:
            self.close()

    def read(self) -> bytes:
        return b"".join(self)

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> RemoteResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_partial(response: requests.Response) -> bool:
    """An answer cut short by the store's time limit (Virtuoso "anytime" results): never a correct answer."""
    return response.status_code == 206 or response.headers.get("X-SQL-State", "").upper() == "S1TAT"


def _message(response: requests.Response, limit: int = 2000) -> str:
    try:
        text = response.text[:limit]
    except Exception:  # noqa: BLE001 - the body is only for the message
        text = ""
    return re.sub(r"\s+", " ", text).strip() or response.reason or str(response.status_code)


def _check(response: requests.Response, what: str) -> None:
    """Map a store's error answer onto Amity's errors, with the store's message."""
    status = response.status_code
    if status < 400:
        return
    message = _message(response)
    response.close()
    if status == 400:
        raise QuerySyntaxError(f"the store refused the {what}: {message}")
    # Virtuoso: S1T00/SR171 "Transaction timed out" past MaxQueryExecutionTime; S1TAT "incomplete results" when a
    # CONSTRUCT hits the timeout parameter (500, no header). Other stores: their own wording of a time limit.
    if re.search(r"\b(S1T00|SR171|S1TAT)\b|timed out|timeout", message, re.IGNORECASE):
        raise QueryTimeout(f"the {what} ran longer than the store's time limit: {message}")
    # Virtuoso: 40001/SR172 "Transaction deadlocked" when it picks this request as a deadlock's victim.
    if re.search(r"\b(40001|SR172)\b|deadlock", message, re.IGNORECASE):
        raise ServiceUnavailable(f"the store gave up the {what} in a deadlock with another transaction; "
                                 f"try again: {message}", headers={"Retry-After": "1"})
    if status == 404:
        raise NotFound(f"the store has no such resource for the {what}: {message}")
    if status in (401, 403):
        raise StoreError(f"the store refused Amity's credentials or rights for the {what} ({status}): {message}")
    if status in (502, 503, 504):
        raise ServiceUnavailable(f"the store is unavailable ({status}): {message}")
    raise StoreError(f"the store failed the {what} ({status}): {message}")


def _term(value: str | NamedNode) -> str:
    iri = value.value if isinstance(value, NamedNode) else value
    if any(c in iri for c in '<>"{}|^`\\ \n'):
        raise ValueError(f"not an IRI: {iri!r}")
    return f"<{iri}>"


class RemoteStore:
    """One SPARQL 1.1 store shared by every Amity process; cheap to create, safe to share between threads.

    :param query_url: the SPARQL query endpoint (reads).
    :param update_url: the SPARQL update endpoint; default ``query_url``.
    :param gsp_url: the Graph Store Protocol endpoint (indirect identification, ``?graph=``); without it
        graph reads and writes fall back to CONSTRUCT and chunked ``INSERT DATA``.
    :param credentials: ``(user, password)`` for updates and Graph Store requests; ``auth`` says how
        (Virtuoso: digest).
    :param query_timeout: the default time limit of a query in seconds, passed on to the store through
        ``time_limit_parameter`` where it has one, and enforced on the client as the wait for the first byte
        (plus :data:`CLIENT_GRACE_SECONDS`).
    :param update_timeout: the client's wait for an update or upload; the store applies its own limit too
        (Virtuoso: ``MaxQueryExecutionTime`` covers updates, and rolls an update past it back whole). The
        time-limit parameter is never sent with an update: Virtuoso then *commits* whatever part it had done
        (measured: 4 346 of 120 000 triples, 200 OK).
    :param graph_prefix: the graphs that are Amity's: :meth:`named_graphs` lists only these, and the union
        default graph is made of them. A store can then hold other data (and Virtuoso its system graphs).
    :param union_default_graph: ``"explicit"`` (default) sends the graph list with every union query;
        ``"native"`` sends no dataset and relies on the store's own union default graph (Oxigraph
        ``--union-default-graph``, Fuseki ``tdb2:unionDefaultGraph``) — faster, but staging graphs and, on
        Virtuoso, system graphs become visible.
    :param graph_list_ttl: seconds a fetched graph list is reused for union queries. Other processes' new
        graphs appear within this delay; this process's own writes clear it at once.
    :param auth_reads: send the credentials with queries too (stores that protect reads); by default queries go
        unauthenticated, so on Virtuoso they run as the read-only ``SPARQL`` user.
    :param datatype_aliases: datatypes the store substitutes for standard ones, mapped back in every parsed
        answer (Virtuoso turns ``geo:wktLiteral`` into ``virtrdf:Geometry`` on load; see :data:`VIRTUOSO`).
    """

    def __init__(self, query_url: str, *, update_url: str | None = None, gsp_url: str | None = None,
                 credentials: tuple[str, str] | None = None, auth: Literal["digest", "basic"] = "digest",
                 query_timeout: float = 30.0, update_timeout: float = 600.0, connect_timeout: float = 5.0,
                 time_limit_parameter: TimeLimitParameter | None = None, graph_prefix: str = iris.GRAPH,
                 union_default_graph: Literal["explicit", "native"] = "explicit", graph_list_ttl: float = 2.0,
                 chunk_triples: int = CHUNK_TRIPLES, bulk_loader: BulkLoader | None = None,
                 upload_threads: int = 1, datatype_aliases: Mapping[str, str] | None = None,
                 auth_reads: bool = False) -> None:
        self.query_url = query_url
        self.update_url = update_url or query_url
        self.gsp_url = gsp_url
        self.credentials = credentials
        self.auth_kind = auth
        self.query_timeout = query_timeout
        self.update_timeout = update_timeout
        self.connect_timeout = connect_timeout
        self.time_limit_parameter = time_limit_parameter
        self.graph_prefix = graph_prefix
        self.union_default_graph = union_default_graph
        self.graph_list_ttl = graph_list_ttl
        self.chunk_triples = chunk_triples
        self.bulk_loader = bulk_loader
        self.upload_threads = upload_threads
        self.datatype_aliases = dict(datatype_aliases or {})
        self.auth_reads = auth_reads
        self._local = threading.local()
        self._graphs: tuple[float, list[str]] | None = None
        self._graphs_lock = threading.Lock()

    # -- configuration -------------------------------------------------------------------------------

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str] | None = None, **options: Any) -> RemoteStore:
        """``sparql+http://host:8890/sparql`` (what ``--store``/``AMITY_STORE`` would hold) plus ``AMITY_STORE_*``.

        ``AMITY_STORE_UPDATE_URL``, ``AMITY_STORE_GSP_URL``, ``AMITY_STORE_USER``, ``AMITY_STORE_PASSWORD``,
        ``AMITY_STORE_AUTH`` (digest|basic), ``AMITY_STORE_AUTH_READS`` (1: send the credentials with queries
        too), ``AMITY_STORE_KIND`` (virtuoso|fuseki|oxigraph|qlever|generic: picks the settings of
        :data:`VIRTUOSO` etc.) and ``AMITY_STORE_TIMEOUT`` (seconds).

        >>> RemoteStore.from_url("sparql+http://db:8890/sparql", {"AMITY_STORE_KIND": "virtuoso"}).query_url
        'http://db:8890/sparql'
        """
        env = os.environ if env is None else env
        if not url.startswith(("sparql+http://", "sparql+https://")):
            raise ValueError(f"a remote store URL starts with sparql+http:// or sparql+https://, not {url!r}")
        kind = env.get("AMITY_STORE_KIND", "generic").lower()
        presets = {"virtuoso": VIRTUOSO, "fuseki": FUSEKI, "qlever": QLEVER, "oxigraph": OXIGRAPH}
        settings: dict[str, Any] = dict(presets.get(kind, {}))
        user, password = env.get("AMITY_STORE_USER"), env.get("AMITY_STORE_PASSWORD")
        if user:
            settings["credentials"] = (user, password or "")
        if env.get("AMITY_STORE_AUTH"):
            settings["auth"] = env["AMITY_STORE_AUTH"]
        if env.get("AMITY_STORE_AUTH_READS", "").lower() in ("1", "true", "yes"):
            settings["auth_reads"] = True
        if env.get("AMITY_STORE_TIMEOUT"):
            settings["query_timeout"] = float(env["AMITY_STORE_TIMEOUT"])
        settings.update(options)
        return cls(url.removeprefix("sparql+"), update_url=env.get("AMITY_STORE_UPDATE_URL") or None,
                   gsp_url=env.get("AMITY_STORE_GSP_URL") or None, **settings)

    def _session(self) -> requests.Session:
        """One HTTP session per thread: keep-alive connections, and digest auth state, are not thread-safe."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["User-Agent"] = "Amity remote store client"
        return session

    def _auth(self) -> AuthBase | None:
        auth = getattr(self._local, "auth", None)
        if auth is None and self.credentials:
            cls = HTTPDigestAuth if self.auth_kind == "digest" else HTTPBasicAuth
            auth = self._local.auth = cls(*self.credentials)
        return auth

    def _request(self, method: str, url: str, *, what: str, timeout: float, stream: bool = False,
                 authenticated: bool = False, **kwargs: Any) -> requests.Response:
        try:
            if authenticated and self.auth_kind == "digest" and kwargs.get("data") is not None \
                    and not getattr(self._local, "primed", False):
                # Digest auth answers a thread's first request with a challenge and the client sends the body
                # again: get the nonce with an empty request first, so a 100 MB upload is not sent twice.
                self._session().head(url, auth=self._auth(), timeout=(self.connect_timeout, timeout))
                self._local.primed = True
            response = self._session().request(
                method, url, timeout=(self.connect_timeout, timeout), stream=stream,
                auth=self._auth() if authenticated else None, **kwargs)
        except requests.exceptions.ReadTimeout:
            raise QueryTimeout(f"the store did not answer the {what} within {timeout:g} s",
                               extra={"timeout_seconds": timeout}) from None
        except requests.exceptions.ConnectionError as error:
            raise ServiceUnavailable(f"the store at {url} cannot be reached: {error}",
                                     headers={"Retry-After": "5"}) from None
        _check(response, what)
        return response

    # -- reading -------------------------------------------------------------------------------------

    def named_graphs(self, *, include_staging: bool = False) -> list[NamedNode]:
        """Amity's named graphs (those under ``graph_prefix``), sorted; every staging graph too if asked.

        ``GRAPH ?g {}`` would be the cheap form, but Virtuoso answers it with nothing, so this asks for graphs
        that have a triple — which is also what a graph is on stores without empty graphs. The prefix is
        checked here, not in a FILTER: Virtuoso lists graphs from an index in 0.3 s for 3 M triples, but scans
        every quad (18 s) once a FILTER is added. ``GROUP BY ?g``, not ``DISTINCT``: the same list, but
        Virtuoso 7.2 answers ``SELECT DISTINCT ?g`` by a scan too (15 s for 476 000 quads, 0.02 s grouped).
        """
        text = "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
        response = self._request("POST", self.query_url, what="graph listing", timeout=self.query_timeout,
                                 data={"query": text}, headers={"Accept": RESULTS_JSON},
                                 authenticated=self.auth_reads)
        solutions = parse_query_results(response.content, QueryResultsFormat.JSON)
        names = {s["g"].value for s in solutions if isinstance(s["g"], NamedNode)}
        staging = {g for g in names if g.startswith(STAGING_PREFIX)}
        graphs = {g for g in names - staging if g.startswith(self.graph_prefix)}
        if include_staging:
            graphs |= staging
        return [NamedNode(g) for g in sorted(graphs)]

    def dataset_graphs(self) -> list[str]:
        """The graphs a union query reads, reused for ``graph_list_ttl`` seconds."""
        with self._graphs_lock:
            if self._graphs and time.monotonic() - self._graphs[0] < self.graph_list_ttl:
                return self._graphs[1]
        graphs = [g.value for g in self.named_graphs()]
        with self._graphs_lock:
            self._graphs = (time.monotonic(), graphs)
        return graphs

    def forget_graph_list(self) -> None:
        with self._graphs_lock:
            self._graphs = None

    def _dataset(self, default_graph_as_union: bool, default_graphs: Sequence[str],
                 named_graphs: Sequence[str]) -> list[tuple[str, str]]:
        if default_graph_as_union and (default_graphs or named_graphs):
            raise ValueError("give either default_graph_as_union or an explicit dataset, not both")
        if default_graph_as_union:
            if self.union_default_graph == "native":
                return []
            graphs = self.dataset_graphs() or [EMPTY_GRAPH]
            return [("default-graph-uri", g) for g in graphs] + [("named-graph-uri", g) for g in graphs]
        return [("default-graph-uri", g) for g in default_graphs] + [("named-graph-uri", g) for g in named_graphs]

    def query(self, text: str, *, default_graph_as_union: bool = False, default_graphs: Sequence[str] = (),
              named_graphs: Sequence[str] = (), accept: str = "application/sparql-results+json",
              timeout: float | None = None, allow_partial: bool = False) -> RemoteResponse:
        """Send a query; returns once the store has answered with headers, the body still to stream.

        The dataset works like ``pyoxigraph.Store.query``: ``default_graph_as_union`` (the graphs under
        ``graph_prefix``), or explicit ``default_graphs``/``named_graphs``, or neither (the query's own
        ``FROM``, else the store's default graph). Always a form POST: the graph list can be long.

        :raises QueryTimeout: when the store stopped the query at the time limit — also when it would have sent
            partial results (Virtuoso ``X-SQL-State: S1TAT``), unless ``allow_partial``.
        :raises QuerySyntaxError: when the store refused the query (HTTP 400).
        """
        limit = self.query_timeout if timeout is None else timeout
        data: list[tuple[str, str]] = [("query", text)]
        data += self._dataset(default_graph_as_union, default_graphs, named_graphs)
        if self.time_limit_parameter is not None:
            data.append((self.time_limit_parameter.name, self.time_limit_parameter.value(limit)))
        response = self._request("POST", self.query_url, what="query", timeout=limit + CLIENT_GRACE_SECONDS,
                                 stream=True, data=data, headers={"Accept": accept}, authenticated=self.auth_reads)
        if _is_partial(response) and not allow_partial:
            state = response.headers.get("X-SQL-Message", "")
            response.close()
            raise QueryTimeout(f"the query ran longer than the {limit:g} s limit and was stopped",
                               extra={"timeout_seconds": limit, "store": state[:200]})
        return RemoteResponse(response)

    def evaluate(self, text: str, **options: Any) -> QuerySolutions | QueryBoolean | Iterator[Triple]:
        """Run a query and parse the answer into pyoxigraph objects, like ``Store.query`` returns them.

        Amity then serialises with pyoxigraph whatever the store, so clients get the same bytes from either
        store (Virtuoso's own JSON, for one, still writes the SPARQL 1.0 ``typed-literal``). SELECT and ASK
        travel as SPARQL JSON (see :data:`RESULTS_JSON`), CONSTRUCT and DESCRIBE as N-Triples.
        """
        form = scan(text).form or "SELECT"
        if form in ("SELECT", "ASK"):
            with self.query(text, accept=RESULTS_JSON, **options) as response:
                return parse_query_results(self._restore_datatypes(response.read(), json=True),
                                           QueryResultsFormat.JSON)
        with self.query(text, accept=NTRIPLES, **options) as response:
            body = self._restore_datatypes(response.read())
        return (quad.triple for quad in parse(body, RdfFormat.N_TRIPLES))

    def _restore_datatypes(self, body: bytes, *, json: bool = False) -> bytes:
        """Put back the standard datatypes a store replaced (only in datatype position: N-Triples ``^^<…>``,
        JSON ``"datatype": "…"``)."""
        for alias, standard in self.datatype_aliases.items():
            if json:
                body = re.sub(rb'("datatype"\s*:\s*)"' + re.escape(alias.encode()) + rb'"',
                              rb'\1"' + standard.encode() + rb'"', body)
            else:
                body = body.replace(b"^^<" + alias.encode() + b">", b"^^<" + standard.encode() + b">")
        return body

    def get_graph(self, graph: str, *, accept: str = NTRIPLES) -> RemoteResponse | None:
        """One graph's triples as the store serialises them (Graph Store GET); ``None`` if it has none.

        Without a Graph Store endpoint: a CONSTRUCT, whose answer is empty rather than ``None`` for a missing graph.
        """
        if self.gsp_url is None:
            text = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {_term(graph)} {{ ?s ?p ?o }} }}"
            return self.query(text, accept=accept, timeout=self.update_timeout)
        try:
            response = self._request("GET", self.gsp_url, what="graph read", timeout=self.update_timeout,
                                     stream=True, params={"graph": graph}, headers={"Accept": accept},
                                     authenticated=True)
        except NotFound:
            return None
        return RemoteResponse(response)

    def graph_triples(self, graph: str) -> Iterator[Triple]:
        """Every triple of one graph — ``quads_for_pattern(None, None, None, graph)`` for a whole graph."""
        response = self.get_graph(graph)
        if response is None:
            return
        with response:
            body = self._restore_datatypes(response.read())
        for quad in parse(body, RdfFormat.N_TRIPLES):
            yield quad.triple

    def quads_for_pattern(self, subject: NamedNode | None = None, predicate: NamedNode | None = None,
                          object: Any = None, graph_name: NamedNode | None = None) -> Iterator[Quad]:  # noqa: A002
        """``Store.quads_for_pattern`` over Amity's graphs (``graph_name=None``) or one graph."""
        if isinstance(graph_name, DefaultGraph):
            raise ValueError("Amity keeps no triples in the default graph; name a graph or pass None")
        terms = {"s": subject, "p": predicate, "o": object, "g": graph_name}
        values = " ".join(f"VALUES ?{name} {{ {term} }}" for name, term in terms.items() if term is not None)
        text = f"SELECT ?s ?p ?o ?g WHERE {{ {values} GRAPH ?g {{ ?s ?p ?o }} }}"
        dataset: dict[str, Any] = {"default_graph_as_union": True} if graph_name is None else {
            "named_graphs": [graph_name.value]}
        for solution in self.evaluate(text, **dataset):  # type: ignore[union-attr]
            yield Quad(solution["s"], solution["p"], solution["o"], solution["g"])

    def contains_named_graph(self, graph: str) -> bool:
        with self.query(f"ASK {{ GRAPH {_term(graph)} {{ ?s ?p ?o }} }}", accept=RESULTS_JSON) as response:
            return bool(parse_query_results(response.read(), QueryResultsFormat.JSON))

    def count(self, graph: str | None = None) -> int:
        """Triples in one graph, or in all of Amity's graphs (staging excluded)."""
        if graph is None:
            text, options = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", {"default_graph_as_union": True}
        else:
            text, options = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {_term(graph)} {{ ?s ?p ?o }} }}", {}
        solutions = self.evaluate(text, timeout=self.update_timeout, **options)
        return int(next(iter(solutions))["n"].value)  # type: ignore[arg-type]

    # -- writing -------------------------------------------------------------------------------------

    def update(self, text: str, *, timeout: float | None = None) -> None:
        """One SPARQL Update request.

        On Virtuoso it is rolled back whole only when aborted (time limit, crash); a runtime error in one operation
        keeps the operations before it (``docs/remote-store.md`` §3) — hence :class:`StagedWrite`.
        """
        self.forget_graph_list()
        self._request("POST", self.update_url, what="update", timeout=timeout or self.update_timeout,
                      data={"update": text}, authenticated=True)

    def put_graph(self, graph: str, data: Data, *, content_type: str = NTRIPLES) -> None:
        """Replace a graph (Graph Store PUT). Not atomic on Virtuoso: use :meth:`atomic_write` for live graphs."""
        self._write_graph("PUT", graph, data, content_type)

    def post_graph(self, graph: str, data: Data, *, content_type: str = NTRIPLES) -> None:
        """Add triples to a graph (Graph Store POST)."""
        self._write_graph("POST", graph, data, content_type)

    def delete_graph(self, graph: str, *, missing_ok: bool = True) -> None:
        """Remove a graph (Graph Store DELETE, else ``DROP GRAPH``)."""
        if self.gsp_url is None:
            self.update(f"DROP {'SILENT ' if missing_ok else ''}GRAPH {_term(graph)}")
            return
        self.forget_graph_list()
        try:
            self._request("DELETE", self.gsp_url, what="graph delete", timeout=self.update_timeout,
                          params={"graph": graph}, authenticated=True)
        except NotFound:
            if not missing_ok:
                raise

    def _write_graph(self, method: str, graph: str, data: Data, content_type: str) -> None:
        self.forget_graph_list()
        if self.gsp_url is None:
            if content_type != NTRIPLES:
                raise ValueError("without a Graph Store endpoint only N-Triples can be written")
            if method == "PUT":
                self.update(f"DROP SILENT GRAPH {_term(graph)}")
            for chunk in _ntriples_chunks(data, INSERT_DATA_TRIPLES):
                self.update(f"INSERT DATA {{ GRAPH {_term(graph)} {{\n{chunk.decode()}\n}} }}")
            return
        body: Any = data
        if isinstance(data, os.PathLike):
            with open(data, "rb") as file:
                self._gsp(method, graph, file, content_type)
            return
        if not isinstance(data, bytes) and not hasattr(data, "read"):
            body = serialize(data, format=RdfFormat.N_TRIPLES)  # type: ignore[arg-type]
            content_type = NTRIPLES
        self._gsp(method, graph, body, content_type)

    def _gsp(self, method: str, graph: str, body: Any, content_type: str) -> None:
        self._request(method, self.gsp_url, what=f"graph {method}", timeout=self.update_timeout,  # type: ignore[arg-type]
                      params={"graph": graph}, data=body, headers={"Content-Type": content_type},
                      authenticated=True)

    # -- bulk loading --------------------------------------------------------------------------------

    def bulk_load(self, quads: Iterable[Quad] | os.PathLike[str], *, rename: Callable[[str], str] | None = None,
                  replace: bool = False) -> dict[str, int]:
        """Load many quads fast: N-Triples chunks per graph, by the bulk loader if there is one, else GSP POST.

        Not atomic and not for live graphs (the build and :meth:`atomic_write` load into staging graphs, then
        publish with one update). ``rename`` maps a quad's graph to the graph to load into; ``replace`` empties
        each target graph first. A path is read as N-Quads. Returns the triples sent per target graph.
        """
        if isinstance(quads, os.PathLike):
            quads = parse(path=quads, format=RdfFormat.N_QUADS)
        self.forget_graph_list()
        directory = Path(tempfile.mkdtemp(prefix="amity-load-", dir=self.bulk_loader.directory
                                          if self.bulk_loader else None))
        try:
            files, counts = _write_chunks(quads, directory, self.chunk_triples, rename)
            if replace:
                for graph in counts:
                    self.delete_graph(graph)
            if self.bulk_loader is not None:
                self.bulk_loader.load(files)
            else:
                self._post_files(files)
            return counts
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def _post_files(self, files: Sequence[tuple[Path, str]]) -> None:
        if self.upload_threads <= 1 or len(files) <= 1:
            for path, graph in files:
                self.post_graph(graph, path)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.upload_threads) as pool:
            for future in [pool.submit(self.post_graph, graph, path) for path, graph in files]:
                future.result()

    # -- atomic writes -------------------------------------------------------------------------------

    def begin_write(self) -> StagedWrite:
        """Start a staged write: load into :meth:`StagedWrite.graph` names, then :meth:`StagedWrite.commit`."""
        return StagedWrite(self)

    def atomic_write(self, graphs: Mapping[str, Data], *, mode: Literal["replace", "add"] = "replace",
                     also: str = "", expected: Mapping[str, int] | None = None) -> dict[str, int]:
        """Write several graphs so that readers see all of it or none of it, and a failure leaves no trace.

        The partner-merge pattern (see :class:`StagedWrite`): each graph is uploaded into its own staging
        graph, counted, then committed with one update request together with ``also`` (e.g. the merge's
        provenance ``INSERT DATA``). Returns the staged triple count per target graph.
        """
        with self.begin_write() as write:
            for target, data in graphs.items():
                if not _is_empty(data):
                    self.put_graph(write.graph(target), data)
                else:
                    write.graph(target)
            return write.commit(mode=mode, also=also, expected=expected)

    def drop_stale_staging(self, older_than: float = 3600.0) -> list[str]:
        """Drop staging graphs left by writers that died mid-write, once they are ``older_than`` seconds old."""
        cutoff = time.time() - older_than
        dropped = []
        for graph in self.named_graphs(include_staging=True):
            match = re.match(re.escape(STAGING_PREFIX) + r"(\d{8}T\d{6})-", graph.value)
            if match and calendar.timegm(time.strptime(match.group(1), "%Y%m%dT%H%M%S")) < cutoff:
                self.delete_graph(graph.value)
                dropped.append(graph.value)
        return dropped


class StagedWrite:
    """A write that readers see whole or not at all, on a store whose only atomic unit is one update request.

    1. :meth:`graph` names a staging graph ``graph/staging/{UTC stamp}-{id}/{n}`` per target graph. Staging
       graphs are outside every dataset Amity queries, so loading them need not be atomic (Graph Store PUT,
       bulk loader, anything). A marker graph ``…/marker`` is written first;
    2. :meth:`commit` counts each staging graph, compares with ``expected`` (distinct triples per target),
       then sends **one** update request: per graph ``MOVE`` (replace; ``DROP`` when the replacement is
       empty) or ``ADD`` + ``DROP`` (add), then ``also``, then ``DROP SILENT`` of the marker, last;
    3. on failure the staging graphs are dropped (compensation) and the error is raised.

    Why it holds on Virtuoso 7.2.5 (measured, ``docs/remote-store.md``): a request that is aborted — time
    limit, server killed mid-commit — is rolled back whole; but a *runtime* error in one operation (a failed
    ``LOAD``, ``DROP`` of a missing graph, an error raised in a ``WHERE``) keeps the operations before it. So the
    commit request holds only operations that cannot fail at run time once the staging graphs exist: ``MOVE``,
    ``ADD``, ``DROP SILENT``, and ``INSERT DATA``/``DELETE DATA`` in ``also`` (their terms are checked when the
    request is compiled: a bad literal refuses the whole request). The marker, dropped last, tells after any
    failure whether every operation ran: gone means committed (a lost connection after the commit returns
    normally); still there with every staging graph intact means nothing ran; anything else is reported as a
    partial commit, staging left in place for the operator. A writer that dies leaves staging graphs behind;
    :meth:`RemoteStore.drop_stale_staging` sweeps them.

    Used as a context manager, leaving the block without a commit aborts.
    """

    def __init__(self, store: RemoteStore) -> None:
        self.store = store
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self.run = f"{STAGING_PREFIX}{stamp}-{uuid.uuid4().hex[:12]}"
        self.marker = self.run + "/marker"
        self.staged: dict[str, str] = {}
        self.done = False
        store.update(f"INSERT DATA {{ GRAPH {_term(self.marker)} {{ {_term(self.run)} {_term(MARKER_PREDICATE)} "
                     f'"{int(time.time())}" }} }}')

    def graph(self, target: str) -> str:
        """The staging graph for ``target`` (usable as ``bulk_load(rename=write.graph)``)."""
        if target not in self.staged:
            _term(target)
            self.staged[target] = f"{self.run}/{len(self.staged)}"
        return self.staged[target]

    def operations(self, counts: Mapping[str, int], mode: Literal["replace", "add"], also: str) -> list[str]:
        """The operations of the commit request, in order."""
        _check_data_only(also)
        operations: list[str] = []
        for target, staging in self.staged.items():
            if mode == "add":
                if counts[target]:
                    operations += [f"ADD {_term(staging)} TO {_term(target)}", f"DROP SILENT GRAPH {_term(staging)}"]
            elif counts[target]:
                operations.append(f"MOVE {_term(staging)} TO {_term(target)}")
            else:
                operations.append(f"DROP SILENT GRAPH {_term(target)}")
        if also.strip():
            operations.append(also.strip().rstrip(";"))
        operations.append(f"DROP SILENT GRAPH {_term(self.marker)}")
        return operations

    def commit(self, *, mode: Literal["replace", "add"] = "replace", also: str = "",
               expected: Mapping[str, int] | None = None, timeout: float | None = None) -> dict[str, int]:
        """Publish every staged graph in one update request; returns the triples staged per target.

        ``also`` may hold ``INSERT DATA`` / ``DELETE DATA`` operations only (see the class notes).

        :raises StoreError: if a staged count differs from ``expected`` (nothing is committed then), or if the
            store reports a partial commit.
        """
        store = self.store
        try:
            counts = {target: store.count(staging) for target, staging in self.staged.items()}
            for target, number in (expected or {}).items():
                if counts.get(target, 0) != number:
                    raise StoreError(f"staging for {target} holds {counts.get(target, 0)} triples, {number} "
                                     "expected; nothing was committed")
            operations = self.operations(counts, mode, also)
        except BaseException:
            self.abort()
            raise
        try:
            store.update(" ;\n".join(operations), timeout=timeout)
        except BaseException as error:
            outcome = self._outcome(counts)
            if outcome == "committed":
                log.warning("the commit of %s answered with an error but did land: %s", self.run, error)
                self.done = True
                return counts
            if outcome == "partial":
                self.done = True
                raise PartialCommit(f"the store applied part of the commit of {self.run} before failing ({error}); "
                                 "its staging graphs are kept for inspection") from error
            self.abort()
            raise
        self.done = True
        return counts

    def _outcome(self, counts: Mapping[str, int]) -> Literal["committed", "nothing", "partial", "unknown"]:
        """After a failed commit request: did all, none or part of it land? (The store may be briefly away.)"""
        for attempt in range(5):
            try:
                if not self.store.contains_named_graph(self.marker):
                    return "committed"
                intact = all(self.store.count(staging) == counts[target]
                             for target, staging in self.staged.items() if counts[target])
                return "nothing" if intact else "partial"
            except (ServiceUnavailable, QueryTimeout):
                time.sleep(2**attempt)
        return "unknown"

    def abort(self) -> None:
        """Compensation: drop what this write staged (best effort; a sweep catches what this misses)."""
        self.done = True
        for graph in [*self.staged.values(), self.marker]:
            try:
                self.store.delete_graph(graph)
            except AmityError as error:
                log.warning("could not drop staging graph %s: %s", graph, error)

    def __enter__(self) -> StagedWrite:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if not self.done:
            self.abort()


def data_operations(kind: Literal["INSERT", "DELETE"], graph: str, triples: Iterable[Triple],
                    chunk: int = INSERT_DATA_TRIPLES) -> str:
    """``INSERT DATA`` / ``DELETE DATA`` operations for one graph, ``chunk`` triples each, joined by ``;``.

    For :meth:`StagedWrite.commit`'s ``also`` (a merge's provenance record and derived-triple delta): Virtuoso's
    parser limit is per operation (5 000 triples fail), not per request (20 operations of 1 000 in one request
    took 3.3 s); the request as a whole must stay under its 10 MB limit.

    >>> t = Triple(NamedNode("http://a"), NamedNode("http://p"), NamedNode("http://b"))
    >>> data_operations("INSERT", "http://g", [t, t, t], chunk=2).count("INSERT DATA")
    2
    """
    operations = [f"{kind} DATA {{ GRAPH {_term(graph)} {{\n{body.decode()}}} }}"
                  for body in _ntriples_chunks(list(triples), chunk)]
    return " ;\n".join(operations)


def _check_data_only(update: str) -> None:
    """Refuse anything but ``INSERT DATA`` / ``DELETE DATA`` (and prologue) in a commit's ``also``.

    >>> _check_data_only('PREFIX x: <http://x/> INSERT DATA { GRAPH <http://g> { x:a x:b "LOAD" } }')
    >>> _check_data_only("LOAD <http://x/y>")
    Traceback (most recent call last):
    ValueError: a commit may only add INSERT DATA / DELETE DATA operations, not LOAD
    """
    words = [t.text.upper() for t in tokens(update) if t.depth == 0 and t.kind == "word"]
    for i, word in enumerate(words):
        if word in ("PREFIX", "BASE", "DATA"):
            continue
        if word in ("INSERT", "DELETE") and i + 1 < len(words) and words[i + 1] == "DATA":
            continue
        raise ValueError(f"a commit may only add INSERT DATA / DELETE DATA operations, not {word}")


def _is_empty(data: Data) -> bool:
    if isinstance(data, bytes):
        return not data.strip()
    if isinstance(data, list | tuple | set | frozenset):
        return not data
    if isinstance(data, os.PathLike):
        return os.path.getsize(data) == 0
    return False


def _ntriples_chunks(data: Data, size: int) -> Iterator[bytes]:
    """N-Triples in pieces of at most ``size`` lines (N-Triples is line-based, so any line boundary is safe)."""
    if isinstance(data, os.PathLike):
        with open(data, "rb") as file:
            yield from _line_chunks(file, size)
    elif isinstance(data, bytes):
        yield from _line_chunks(iter(data.splitlines(keepends=True)), size)
    elif hasattr(data, "read"):
        yield from _line_chunks(data, size)  # type: ignore[arg-type]
    else:
        batch: list[Triple] = []
        for triple in data:  # type: ignore[union-attr]
            batch.append(triple)
            if len(batch) >= size:
                yield serialize(batch, format=RdfFormat.N_TRIPLES)  # type: ignore[misc]
                batch = []
        if batch:
            yield serialize(batch, format=RdfFormat.N_TRIPLES)  # type: ignore[misc]


def _line_chunks(lines: Iterable[bytes], size: int) -> Iterator[bytes]:
    batch: list[bytes] = []
    for line in lines:
        if line.strip() and not line.lstrip().startswith(b"#"):
            batch.append(line if line.endswith(b"\n") else line + b"\n")
            if len(batch) >= size:
                yield b"".join(batch)
                batch = []
    if batch:
        yield b"".join(batch)


def _write_chunks(quads: Iterable[Quad], directory: Path, size: int,
                  rename: Callable[[str], str] | None) -> tuple[list[tuple[Path, str]], dict[str, int]]:
    """Split quads into N-Triples files of at most ``size`` triples per target graph."""
    pending: dict[str, list[Triple]] = {}
    files: list[tuple[Path, str]] = []
    counts: dict[str, int] = {}

    def flush(graph: str) -> None:
        path = directory / f"{len(files):05d}.nt"
        with open(path, "wb") as out:
            serialize(pending.pop(graph), out, RdfFormat.N_TRIPLES)
        os.chmod(path, 0o644)  # the store's server process may run as another user
        files.append((path, graph))

    for quad in quads:
        if not isinstance(quad.graph_name, NamedNode):
            raise ValueError(f"only quads in named graphs can be loaded, not {quad}")
        graph = rename(quad.graph_name.value) if rename else quad.graph_name.value
        batch = pending.setdefault(graph, [])
        batch.append(quad.triple)
        counts[graph] = counts.get(graph, 0) + 1
        if len(batch) >= size:
            flush(graph)
    for graph in list(pending):
        flush(graph)
    os.chmod(directory, 0o755)
    return files, counts


# -- Virtuoso's bulk loader: an optional fast path, reached through isql ------------------------------------


class IsqlRunner:
    """Runs SQL through Virtuoso's ``isql`` client (``isql-vt`` on Debian) — for :class:`VirtuosoBulkLoader`."""

    def __init__(self, host_port: str, user: str, password: str, *, binary: str = "isql-vt",
                 timeout: float = 3600.0) -> None:
        self.host_port, self.user, self.password = host_port, user, password
        self.binary, self.timeout = binary, timeout

    def __call__(self, sql: str) -> str:
        result = subprocess.run(
            [self.binary, self.host_port, self.user, self.password, "VERBOSE=OFF", "BANNER=OFF", "PROMPT=OFF",
             "ECHO=OFF", "ERRORS=STDOUT"],
            input=sql, capture_output=True, text=True, timeout=self.timeout)
        output = result.stdout + result.stderr
        if result.returncode != 0 or "*** Error" in output:
            raise StoreError(f"isql failed: {output.strip()[-1000:]}")
        return output


class VirtuosoBulkLoader:
    """Virtuoso's own loader: ``ld_add`` each file, ``rdf_loader_run()``, check ``LOAD_LIST``, ``checkpoint``.

    The server reads the files itself, so ``directory`` must be one it can read and that ``DirsAllowed`` lists;
    ``server_directory`` is the same folder as the server sees it (a container's bind mount), if different.
    The loader commits row by row without a transaction log (``log_enable(2)``), hence the checkpoint, and
    hence staging graphs only.
    """

    def __init__(self, isql: Callable[[str], str], directory: str | os.PathLike[str],
                 server_directory: str | None = None) -> None:
        self.isql = isql
        self.directory = Path(directory)
        self.server_directory = server_directory

    def _server_path(self, path: Path) -> str:
        if self.server_directory is None:
            return str(path)
        return str(Path(self.server_directory) / path.relative_to(self.directory))

    def load(self, files: Sequence[tuple[Path, str]]) -> None:
        if not files:
            return
        paths = [self._server_path(path) for path, _ in files]
        for (_, graph), path in zip(files, paths, strict=True):
            for value in (path, graph):
                if "'" in value:
                    raise ValueError(f"cannot pass {value!r} to isql")
        adds = "".join(f"ld_add ('{path}', '{graph}');\n" for (_, graph), path in zip(files, paths, strict=True))
        in_list = ", ".join(f"'{path}'" for path in paths)
        output = self.isql(
            f"DELETE FROM DB.DBA.LOAD_LIST WHERE ll_file IN ({in_list});\n{adds}rdf_loader_run ();\n"
            f"SELECT 'FAILED', ll_file, ll_error FROM DB.DBA.LOAD_LIST "
            f"WHERE ll_file IN ({in_list}) AND (ll_state <> 2 OR ll_error IS NOT NULL);\n"
            f"DELETE FROM DB.DBA.LOAD_LIST WHERE ll_file IN ({in_list});\ncheckpoint;\n")
        failed = [line for line in output.splitlines() if line.strip().startswith("FAILED")]
        if failed:
            raise StoreError("Virtuoso's bulk loader failed: " + " | ".join(failed)[:2000])


def virtuoso_bulk_loader(isql: Callable[[str], str], directory: str | os.PathLike[str],
                         server_directory: str | None = None) -> VirtuosoBulkLoader:
    return VirtuosoBulkLoader(isql, directory, server_directory)
