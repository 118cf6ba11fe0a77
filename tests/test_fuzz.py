"""Hostile input, generated: whatever a client sends, the running service answers in time, never with a server
error, and the data does not change.

Hypothesis generates and mutates what reaches ``amity serve`` from the network:
SPARQL text (valid queries with characters inserted and deleted, huge literals,
deep nesting, unicode, SERVICE and LOAD sprinkled in), entity paths (``..``,
``%2e%2e``, encoded slashes, NUL, very long), headers (Accept garbage, huge
headers, odd Content-Types), the parameters of ``/sparql`` and of the saved
queries (injection, IRIs with spaces, NaN, huge and broken-UTF-8 values), and
partner uploads (real payloads in the six upload formats, with bytes flipped,
cut, inserted and duplicated, sent with a valid token under any Content-Type to
``PUT``/``POST /store`` and ``POST /validate`` on a writable copy of the graph).
For every request the same three promises are checked:

* **no 5xx** — a client mistake is a 4xx problem document; the one 5xx we
  allow is the documented ``503 Query time limit exceeded`` for a query that is
  valid but too heavy;
* **no hung worker** — every request is answered within the query time limit
  plus a margin, and after each test every query worker still answers;
* **the store is unchanged** — the published state, its quad count and a
  checksum of its N-Quads are the same after the fuzzing as before, and the
  local "other host" that SERVICE/LOAD point at is never contacted; for
  uploads, a refused one leaves the store at the same version and the partner's
  graph as it was, and an accepted one publishes exactly one new version.

The CI run is bounded by the ``amity-fuzz`` Hypothesis profile
(``AMITY_FUZZ_EXAMPLES`` examples per test, 40 by default: about a minute and a half);
``AMITY_FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/test_fuzz.py`` is the long run
(docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyoxigraph import NamedNode, Quad, RdfFormat, parse, serialize

from amity import formats, iris
from amity.catalogue import load_catalogue
from amity.partners import Registry
from amity.store import EmbeddedStore, clone
from amity.testing import LiveServer, start_server, stop_server

try:
    from tests.conftest import LIVE_QUERY_TIMEOUT
    from tests.recording_server import RecordingServer
except ModuleNotFoundError:  # `pytest tests/test_fuzz.py` alone: only tests/ is on sys.path
    from conftest import LIVE_QUERY_TIMEOUT
    from recording_server import RecordingServer

EXAMPLES = int(os.environ.get("AMITY_FUZZ_EXAMPLES", "40"))
settings.register_profile(
    "amity-fuzz", max_examples=EXAMPLES, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example],
)
FUZZ = settings(settings.get_profile("amity-fuzz"))

#: Every request must be answered within the query time limit plus this margin (a loaded 2-core CI machine).
MARGIN = 12.0
ANSWER_WITHIN = LIVE_QUERY_TIMEOUT + MARGIN
TIME_LIMIT_TITLE = "Query time limit exceeded"


# -- what every answer must look like ------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def assert_answered_well(answer: Answer, what: object) -> None:
    """No server error (but the time-limit 503), in time, and a readable problem document for app errors."""
    assert answer.seconds < ANSWER_WITHIN, f"answered after {answer.seconds:.1f} s: {what!r:.300}"
    if answer.status >= 500:
        title = ""
        if answer.media_type == "application/problem+json":
            title = json.loads(answer.body).get("title", "")
        assert answer.status == 503 and title == TIME_LIMIT_TITLE, \
            f"{answer.status} {answer.body[:300]!r} for {what!r:.500}"
    if answer.media_type == "application/problem+json":
        problem = json.loads(answer.body)
        assert problem["status"] == answer.status and problem["detail"]


def call(method: str, url: str, **kwargs) -> Answer:
    started = time.monotonic()
    try:
        response = requests.request(method, url, timeout=ANSWER_WITHIN + 5, **kwargs)
    except requests.Timeout:
        pytest.fail(f"no answer within {ANSWER_WITHIN + 5:.0f} s: {method} {url[:200]} {kwargs!r:.300}")
    return Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content,
                  time.monotonic() - started)


def raw_request(base_url: str, head: bytes, body: bytes = b"", *, timeout: float = ANSWER_WITHIN + 5,
                may_close: bool = False) -> Answer:
    """Send bytes exactly as given (no client-side normalisation of ``..`` or encoding) and read the answer.

    ``head`` is the request line and headers without the blank line; HTTP/1.0 keeps the answer unchunked.
    With ``may_close``, a server that refuses an oversized request by closing the connection (the answer
    can be lost to a TCP reset while we are still sending) gives status 0 instead of a failure.
    """
    parts = urlsplit(base_url)
    started = time.monotonic()
    data = bytearray()
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # answered early and closed: read it
            sock.sendall(head + b"\r\n\r\n" + body)
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                pytest.fail(f"no complete answer within {timeout:.0f} s to {head[:200]!r}")
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    seconds = time.monotonic() - started
    if not data and may_close:
        return Answer(0, {}, b"", seconds)
    head_bytes, _, rest = bytes(data).partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    assert lines and lines[0].startswith("HTTP/"), f"no HTTP answer to {head[:200]!r}: {bytes(data[:200])!r}"
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(lines[0].split()[1]), headers, rest, seconds)


def get_path(base_url: str, path: bytes, extra_headers: bytes = b"") -> Answer:
    return raw_request(base_url, b"GET " + path + b" HTTP/1.0\r\nHost: fuzz.example" + extra_headers)


# -- the store and the outside world must not change ---------------------------------------------------


def fingerprint(store: EmbeddedStore) -> tuple:
    """What readers see: CURRENT, the published directories, the number of quads and a hash of their N-Quads.

    A snapshot's dump comes out in the same (key) order every time, so equal contents give equal hashes.
    """
    reader = EmbeddedStore(store.root).reader()
    out = io.BytesIO()
    reader.dump(out, RdfFormat.N_QUADS)
    published = sorted(p.name for p in store.root.iterdir() if p.name.startswith(("db-", "snap-", "CURRENT")))
    return store.current_file.read_text(), published, len(reader), hashlib.sha256(out.getvalue()).hexdigest()


@pytest.fixture(scope="module")
def other_server() -> Iterator[RecordingServer]:
    """A local HTTP server standing for any host a query might try to reach; it records every hit.

    It answers like a SPARQL endpoint with one empty solution, so a SERVICE call that got through would succeed.
    """
    with RecordingServer(b'{"head":{"vars":[]},"results":{"bindings":[{}]}}', "application/sparql-results+json",
                         send_length=False) as server:
        yield server


@pytest.fixture(scope="module")
def other_host(other_server: RecordingServer) -> str:
    """The other host's base URL, ``http://127.0.0.1:<port>/``."""
    return other_server.url


@pytest.fixture(scope="module")
def service(live_server, other_server: RecordingServer) -> Iterator:
    """The live server; on leaving, the store must be exactly as it was and the other host never called."""
    before = fingerprint(live_server.store)
    other_server.reset()
    yield live_server
    assert other_server.hits == [], "a query reached another host"
    assert fingerprint(live_server.store) == before, "the store changed under hostile requests"


@pytest.fixture(autouse=True)
def workers_still_answer(service, other_server: RecordingServer) -> Iterator[None]:
    """After each test, every query worker answers a small query at once: none is hung or lost."""
    yield
    cheap = "SELECT (COUNT(*) AS ?n) WHERE { VALUES ?x { 1 2 3 } }"
    deadline = time.monotonic() + ANSWER_WITHIN
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: call("GET", service.sparql_url(), params={"query": cheap}), range(4)))
    assert [a.status for a in answers] == [200] * 4
    assert time.monotonic() < deadline
    assert other_server.hits == [], "a query reached another host"


# -- SPARQL text ---------------------------------------------------------------------------------------

SEEDS = (
    "SELECT ?s ?label WHERE { ?s skos:prefLabel ?label FILTER(LANG(?label) = 'en') } LIMIT 10",
    "ASK { ?s a cdo:City }",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s a cdo:Twinning ; ?p ?o } LIMIT 50",
    "DESCRIBE <https://w3id.org/citydiplomacy/id/city/Q16572>",
    "SELECT ?c (COUNT(?t) AS ?n) WHERE { ?t cdo:party ?c } GROUP BY ?c ORDER BY DESC(?n) LIMIT 5",
    "SELECT * WHERE { { SELECT ?s WHERE { ?s ?p ?o } LIMIT 3 } OPTIONAL { ?s rdfs:label ?l } }",
    "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
    'SELECT ?s WHERE { ?s skos:prefLabel "广州"@zh }',
    "SELECT ?x WHERE { VALUES ?x { 1 2 'three' <http://example.org/four> } }",
    "SELECT ?s ?o WHERE { ?s skos:broader+ ?o } LIMIT 10",
    "SELECT (STRLEN(REPLACE('aaa', 'a+', 'b')) AS ?n) (CONCAT('x', STR(NOW())) AS ?t) {}",
    "SELECT * FROM <https://w3id.org/citydiplomacy/graph/ontology> WHERE { ?s ?p ?o } LIMIT 5",
    "PREFIX ex: <http://example.org/> SELECT ?s WHERE { ?s ex:p/ex:q|^ex:r ?o FILTER NOT EXISTS { ?o a ?t } }",
)

#: Characters that matter to SPARQL's lexer and to the scanner in amity/sparql_text.py, and some that break things.
HOSTILE_CHARS = "{}()[]<>\"'#?$:;.,\\^|*+!=@_-/ \n\t\r\x00\u202e\ufeff\ud7ff\U0001F600é广"


def fragments(other_host: str) -> st.SearchStrategy[str]:
    """Pieces an attacker would splice in: outbound calls, updates, huge and deep things."""
    return st.one_of(
        st.sampled_from([
            f"SERVICE <{other_host}sparql> {{ ?s ?p ?o }}",
            f"SERVICE SILENT <{other_host}sparql> {{ }}",
            f"BIND(<{other_host}sparql> AS ?e) SERVICE ?e {{ ?s ?p ?o }}",
            "SERVICE ex:sparql { ?s ?p ?o }",
            f"SeRvIcE\t#comment\n<{other_host}> {{}}",
            f"LOAD <{other_host}data.ttl>",
            f"LOAD SILENT <{other_host}data.ttl> INTO GRAPH <http://example.org/g>",
            "; INSERT DATA { <http://a.example/s> <http://a.example/p> 1 }",
            "; DROP ALL", "CLEAR DEFAULT ;", "DELETE WHERE { ?s ?p ?o }",
            "WITH <http://example.org/g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
            f"FROM <{other_host}graph.ttl>", f"FROM NAMED <{other_host}graph.ttl>",
            "'''", '"""', "\\u0053ERVICE", "BASE <file:///etc/>", "<file:///etc/passwd>",
            "GROUP_CONCAT(?o; separator='x')", "ORDER BY RAND()", "LIMIT 999999999999999999999",
            "OFFSET -1", "\x00", "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
        ]),
        st.integers(1, 200_000).map(lambda n: '"' + "x" * n + '"'),
        st.sampled_from([1, 50, 300, 3000, 20_000]).flatmap(lambda d: st.sampled_from([
            "{" * d + "}" * d, "(" * d + "1" + ")" * d, "[ <p> " * d + "]" * d, "{" * d,
            "!" * d + "true", "1" + "+1" * d, "<p>" + "|<p>" * d, "STR(" * d + "1" + ")" * d,
        ])),
        st.text(alphabet=HOSTILE_CHARS, max_size=30),
        st.text(max_size=30),
    )


@st.composite
def mutated_queries(draw, other_host: str) -> str:
    """A seed query with one to four insertions, deletions, duplications or keyword swaps."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "insert", "delete", "duplicate", "swap"]))
        at = draw(st.integers(0, len(text)))
        if kind == "insert":
            text = text[:at] + draw(fragments(other_host)) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
        elif kind == "duplicate":
            end = min(len(text), at + draw(st.integers(1, 40)))
            text = text[:end] + text[at:end] * draw(st.integers(1, 50)) + text[end:]
        else:
            old, new = draw(st.sampled_from([("SELECT", "ASK"), ("SELECT", "CONSTRUCT"), ("WHERE", "INSERT"),
                                             ("{", "}"), ("?s", "$s"), ("LIMIT", "OFFSET"), ("<", "<<")]))
            text = text.replace(old, new, 1)
    return text


def send_query(base: str, text: str, method: str) -> Answer:
    url = base + "sparql"
    if method == "GET":
        return call("GET", url, params={"query": text})
    if method == "form":
        return call("POST", url, data={"query": text})
    return call("POST", url, data=text.encode("utf-8", "surrogatepass"),
                headers={"Content-Type": "application/sparql-query"})


def test_mutated_queries_get_an_answer_or_a_4xx(service, other_host):
    """Spliced, truncated, duplicated queries: a result, a 4xx, or the time-limit 503 — and no outbound call."""

    @FUZZ
    @given(text=mutated_queries(other_host), method=st.sampled_from(["GET", "form", "direct"]))
    def check(text: str, method: str) -> None:
        assert_answered_well(send_query(service.url, text, method), text)

    check()


def test_random_text_as_a_query_is_a_4xx(service):
    """Text that is not SPARQL at all, in any of the three ways to send it."""

    @FUZZ
    @given(text=st.one_of(st.text(max_size=2000), st.text(alphabet=HOSTILE_CHARS, max_size=2000),
                          st.binary(max_size=2000).map(lambda b: b.decode("latin-1"))),
           method=st.sampled_from(["GET", "form", "direct"]))
    def check(text: str, method: str) -> None:
        answer = send_query(service.url, text, method)
        assert_answered_well(answer, text)

    check()


VARIABLES = st.sampled_from(["?s", "?p", "?o", "?x", "?y"])
IRIS = st.sampled_from(["cdo:City", "cdo:Twinning", "skos:prefLabel", "rdf:type", "cdo:party", "org:memberOf",
                        "owl:sameAs", "<https://w3id.org/citydiplomacy/id/city/Q16572>", "<http://example.org/none>",
                        "<https://w3id.org/citydiplomacy/id/country/CN>"])
TERMS = st.one_of(VARIABLES, IRIS, st.sampled_from(['"广州"@zh', '"Guangzhou"@en', "42", "3.5e2", "true",
                                                    '"2020-01-01"^^xsd:date']))
PATHS = st.one_of(VARIABLES, IRIS, st.sampled_from([
    "skos:broader*", "cdo:party/cdo:country", "^cdo:party", "cdo:party+", "rdf:type/rdfs:subClassOf*",
    "(skos:prefLabel|skos:altLabel)", "!rdf:type"]))
FILTERS = st.sampled_from([
    "FILTER(isIRI(?s))", "FILTER(LANG(?o) = 'en')", "FILTER(CONTAINS(LCASE(STR(?o)), 'burg'))", "FILTER(?x != ?y)",
    "FILTER(REGEX(STR(?o), '^(a+)+$'))", "FILTER(STRLEN(STR(?s)) > 10)", "FILTER NOT EXISTS { ?s a cdo:City }",
    "BIND(CONCAT(STR(?s), '#') AS ?z)", "VALUES ?x { 1 2 3 }", "MINUS { ?s a cdo:Twinning }", "FILTER(?o / 0 > 1)",
])


@st.composite
def generated_queries(draw) -> str:
    """Queries that parse: triple patterns, property paths, filters, OPTIONAL and UNION over the real graph."""
    triple = st.tuples(st.one_of(VARIABLES, IRIS), PATHS, TERMS).map(" ".join)
    group = st.lists(st.one_of(triple, FILTERS), min_size=1, max_size=3).map(" . ".join)
    parts = draw(st.lists(st.one_of(group, group.map(lambda g: f"OPTIONAL {{ {g} }}"),
                                    st.tuples(group, group).map(lambda gs: f"{{ {gs[0]} }} UNION {{ {gs[1]} }}")),
                          min_size=1, max_size=3))
    form = draw(st.sampled_from(["SELECT *", "SELECT DISTINCT ?s ?o", "SELECT (COUNT(*) AS ?n)", "ASK",
                                 "CONSTRUCT { ?s ?p ?o }", "DESCRIBE ?s", "SELECT ?s (SAMPLE(?o) AS ?one)"]))
    modifier = "GROUP BY ?s" if "SAMPLE" in form else draw(st.sampled_from(["", "LIMIT 10", "ORDER BY ?s LIMIT 5",
                                                                            "OFFSET 3 LIMIT 3", "ORDER BY DESC(?o)"]))
    return f"{form} WHERE {{ {' '.join(parts)} }} {modifier}"


def test_generated_queries_are_answered_or_stopped_at_the_time_limit(service):
    """Queries that parse, some of them heavy: a result (or a 400 for a form that does not fit the body), or the
    time-limit 503 — and each one answered within the limit plus the margin, heavy or not."""

    @FUZZ
    @given(text=generated_queries(), method=st.sampled_from(["GET", "form", "direct"]))
    def check(text: str, method: str) -> None:
        answer = send_query(service.url, text, method)
        assert_answered_well(answer, text)
        assert answer.status in (200, 400, 503), answer.body[:300]

    check()


@pytest.mark.parametrize("name, text", [
    ("braces", "SELECT * WHERE " + "{" * 5000 + "}" * 5000),
    ("parentheses", "ASK { FILTER(" + "(" * 8000 + "1" + ")" * 8000 + ") }"),
    ("blank node brackets", "ASK { ?s <p> " + "[ <p> " * 6000 + "]" * 6000 + " }"),
    ("negations", "ASK { FILTER(" + "!" * 20_000 + "true) }"),
    ("sum chain", "ASK { FILTER(1" + "+1" * 20_000 + " > 0) }"),
    ("path alternatives", "ASK { ?s <p>" + "|<p>" * 20_000 + " ?o }"),
])
def test_queries_nested_or_chained_thousands_deep_are_refused_and_the_service_goes_on(service, name, text):
    """pyoxigraph's parser overflows its stack on these (SIGSEGV, measured from ~2 200 braces): found by this
    fuzzer. Brackets deeper than 256 are refused before any work; chains that still crash a query worker are
    answered 400 and the worker is replaced, so the next query is answered as usual."""
    answer = send_query(service.url, text, "direct")
    assert_answered_well(answer, name)
    assert 400 <= answer.status < 500, answer.body[:300]


# -- entity paths --------------------------------------------------------------------------------------

SEGMENTS = st.one_of(
    st.sampled_from(["..", ".", "%2e%2e", "%2E%2E", "%252e%252e", ".%2e", "%2f", "%2F", "..%2f", "%5c", "..\\",
                     "%00", "%ff", "%c0%ae%c0%ae", "%e2%80%ae", "etc", "passwd", "city", "Q16572", "country", "CN",
                     "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "a%20b", "%7B%7D", "%22", "%25zz", "~root", ""]),
    st.text(min_size=1, max_size=20).map(lambda t: quote(t, safe="")),
    st.text(alphabet="abc/.%25", min_size=1, max_size=20),
)
PREFIXES = st.sampled_from(["/id/", "/id/city/", "/vocab/", "/graph/", "/ontology/", "/dumps/graph/", "/queries/",
                            "/static/", "/", "/sparql/", "/.well-known/"])
SUFFIXES = st.sampled_from(["", ".ttl", ".nt", ".jsonld", ".rdf", ".html", ".nq.gz", ".csv", "/", "?format=ttl",
                            "?format=%00", "?format=../../etc/passwd"])


@st.composite
def hostile_paths(draw) -> bytes:
    segments = draw(st.lists(SEGMENTS, min_size=1, max_size=12))
    path = draw(PREFIXES) + "/".join(segments) + draw(SUFFIXES)
    if draw(st.booleans()):
        path = path.replace("/", draw(st.sampled_from(["//", "/./", "%2f", "/"])), draw(st.integers(0, 3)))
    raw = path.encode("utf-8")
    if draw(st.integers(0, 9)) == 0:  # a raw byte no client should send: NUL, DEL, high bytes
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\x00", b"\x7f", b"\xff", b"\xc0\xae", b"\t"])) + raw[at:]
    if draw(st.integers(0, 9)) == 0:
        raw += b"a" * draw(st.sampled_from([1000, 8000, 20_000]))
    return raw


SECRETS = (b"root:x:0:0", b"root:*:", b"[boot loader]", b"import ", b"PRIVATE KEY", b"MANIFEST-")


def test_hostile_entity_paths_are_answered_without_server_errors_or_files(service):
    """Traversal, encoded slashes, NUL, overlong and unicode paths: a page we serve, a 4xx, never a file."""

    @FUZZ
    @given(path=hostile_paths(), accept=st.sampled_from([b"", b"\r\nAccept: text/html", b"\r\nAccept: text/turtle"]))
    def check(path: bytes, accept: bytes) -> None:
        answer = get_path(service.url, path, accept)
        assert_answered_well(answer, path)
        assert not any(secret in answer.body for secret in SECRETS), path

    check()


# -- headers -------------------------------------------------------------------------------------------

HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                      max_size=300)
ACCEPTS = st.one_of(
    HEADER_TEXT,
    st.sampled_from(["*/*;q=abc", "text/html;q=0.5;level=", ";;;", "*/*;q=-1", "application/*;q=1e9", "*",
                     "text/csv;q=0, */*;q=0", "image/png", "application/sparql-results+json;charset=utf-16",
                     ",".join(["text/x-" + str(i) for i in range(2000)])]),
)
CONTENT_TYPES = st.one_of(
    HEADER_TEXT,
    st.sampled_from(["application/sparql-query; charset=latin-1", "application/x-www-form-urlencoded; charset=utf-16",
                     "multipart/form-data; boundary=x", "application/sparql-update", "application/json",
                     "application/sparql-query;;;", "APPLICATION/SPARQL-QUERY", "text/plain", ""]),
)


def with_header(method: bytes, target: bytes, name: bytes, value: str, body: bytes = b"") -> bytes:
    """A request carrying one header byte for byte (latin-1, as HTTP/1.1 allows), which clients would refuse."""
    length = b"\r\nContent-Length: %d" % len(body) if method == b"POST" else b""
    return method + b" " + target + b" HTTP/1.0\r\nHost: fuzz.example\r\n" + name + b": " + value.encode("latin-1") \
        + length


def test_garbage_accept_headers_get_a_result_or_a_4xx(service):
    """Any Accept header: a result in some offered format, 406 with the formats we offer, or another 4xx."""

    @FUZZ
    @given(accept=ACCEPTS, query=st.sampled_from(["ASK%20%7B%7D", "SELECT%20(1%20AS%20%3Fx)%20%7B%7D",
                                                  "CONSTRUCT%20WHERE%20%7B%20%3Fs%20%3Fp%20%3Fo%20%7D%20LIMIT%201"]))
    def check(accept: str, query: str) -> None:
        answer = raw_request(service.url, with_header(b"GET", b"/sparql?query=" + query.encode(), b"Accept", accept))
        assert_answered_well(answer, accept)
        assert answer.status == 200 or 400 <= answer.status < 500, answer.body[:300]

    check()


def test_odd_content_types_for_a_post_get_a_result_or_a_4xx(service):
    """A POST body under any Content-Type: only the two protocol types are read, everything else is refused."""

    @FUZZ
    @given(content_type=CONTENT_TYPES, body=st.sampled_from([b"ASK {}", b"query=ASK%20%7B%7D", b"\xff\xfe\x00",
                                                             b"--x\r\nContent-Disposition: form-data; name=query"
                                                             b"\r\n\r\nASK {}\r\n--x--\r\n"]))
    def check(content_type: str, body: bytes) -> None:
        answer = raw_request(service.url, with_header(b"POST", b"/sparql", b"Content-Type", content_type, body), body)
        assert_answered_well(answer, (content_type, body))
        assert answer.status == 200 or 400 <= answer.status < 500, answer.body[:300]

    check()


def test_huge_and_numerous_headers_are_refused_by_the_server_not_crashing_it(service):
    """gunicorn's limits (8 190 bytes a header or a request line, 100 headers) answer 4xx (400, 414, 431)."""

    @FUZZ
    @given(size=st.sampled_from([100, 8000, 9000, 70_000]), count=st.sampled_from([1, 50, 101, 500]),
           line=st.sampled_from([10, 8000, 9000, 100_000]))
    def check(size: int, count: int, line: int) -> None:
        headers = b"".join(b"\r\nX-Fuzz-%d: %s" % (i, b"v" * size) for i in range(count))
        path = b"/sparql?query=ASK%7B%7D&pad=" + b"p" * line
        answer = raw_request(service.url, b"GET " + path + b" HTTP/1.0\r\nHost: fuzz.example" + headers,
                             may_close=size * count > 1_000_000)
        assert_answered_well(answer, (size, count, line))
        small = size <= 8000 and count <= 50 and line <= 8000  # one more header (Host) than 100 is too many
        assert answer.status == 200 if small else 400 <= answer.status < 500 or answer.status == 0

    check()


# -- the parameters of /sparql -------------------------------------------------------------------------

PARAM_TEXT = st.one_of(st.text(max_size=200), st.sampled_from([
    "", "json", "JSON", "csv", "ttl", "html", "../../etc/passwd", "text/turtle", "application/sparql-results+json",
    "not an iri", "http://a b", "<http://example.org/>", "http://example.org/%zz", "urn:x", "x:", "file:///etc/passwd",
    "https://w3id.org/citydiplomacy/graph/ontology", "\x00", "javascript:alert(1)",
]))


def test_protocol_parameters_take_any_value(service):
    """format, default-graph-uri, named-graph-uri, download and unknown parameters, repeated or garbage."""

    @FUZZ
    @given(params=st.lists(st.tuples(st.sampled_from(["format", "default-graph-uri", "named-graph-uri", "download",
                                                       "query", "update", "timeout", "limit", "callback", "x"]),
                                     PARAM_TEXT), max_size=6),
           query=st.sampled_from(["ASK { ?s ?p ?o }", "DESCRIBE <https://w3id.org/citydiplomacy/graph/ontology>",
                                  "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g", None]),
           method=st.sampled_from(["GET", "form"]))
    def check(params: list[tuple[str, str]], query: str | None, method: str) -> None:
        fields = ([("query", query)] if query else []) + params
        if method == "GET":
            answer = call("GET", service.sparql_url(), params=fields)
        else:
            answer = call("POST", service.sparql_url(), data=fields)
        assert_answered_well(answer, fields)

    check()


# -- partner uploads -----------------------------------------------------------------------------------

UPLOAD_LIMIT = 256 * 1024
FUZZ_PARTNER = "fuzz"
UPLOAD_GRAPH = iris.partner_graph(FUZZ_PARTNER) + "/uploads"
#: What a well-formed upload is answered, and every refusal the pipeline documents (docs/partners.md).
UPLOAD_STATUSES = (200, 201, 204, 400, 413, 415, 422)

_SEED_PREFIXES = f"""\
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix schema: <http://schema.org/> .
@prefix wd: <http://www.wikidata.org/entity/> .
@prefix cdo: <{iris.ONTOLOGY}> .
@prefix city: <{iris.ID}city/> .
@prefix twinning: <{iris.ID}twinning/> .
@prefix ts: <{iris.BASE}vocab/twinning-status/> .
@prefix tt: <{iris.BASE}vocab/twinning-type/> .
"""
#: Real payloads a partner sends, on real cities of the default graph: names, with a blank-node attribution
#: (no derivation to redo, so cheap to accept), and a twinning given by Wikidata IRIs (reconciled, derived).
SEED_DOCUMENTS = (
    _SEED_PREFIXES + """
city:Q90 skos:altLabel "Ville Lumière"@fr, "巴黎"@zh ;
    prov:qualifiedAttribution [ a prov:Attribution ; prov:agent <https://www.unesco.org/> ] .
wd:Q656 skos:altLabel "Piter"@ru .
""",
    _SEED_PREFIXES + """
twinning:Q1490__Q170322 a cdo:Twinning ; cdo:party wd:Q170322, wd:Q1490 ;
    cdo:twinningType tt:friendship-city ; cdo:status ts:formal ; schema:startDate "2019"^^xsd:gYear ;
    prov:wasDerivedFrom <https://en.unesco.org/creativity/creative-cities> .
""",
)


def _seed_payloads() -> list[tuple[formats.Format, bytes]]:
    """Each seed in every upload format: Turtle as written, the others serialised by pyoxigraph (N-Quads and
    TriG with the triples in the graph the request names, as a graph's own dump is)."""
    payloads = []
    for document in SEED_DOCUMENTS:
        payloads.append((formats.TURTLE, document.encode()))
        quads = list(parse(document.encode(), RdfFormat.TURTLE))
        triples = [quad.triple for quad in quads]
        for fmt in (formats.NTRIPLES, formats.JSONLD, formats.RDFXML):
            payloads.append((fmt, serialize(triples, format=fmt.rdf)))
        named = [Quad(t.subject, t.predicate, t.object, NamedNode(UPLOAD_GRAPH)) for t in triples]
        for fmt in (formats.NQUADS, formats.TRIG):
            payloads.append((fmt, serialize(named, format=fmt.rdf)))
    return payloads


SEED_PAYLOADS = _seed_payloads()


def junk(other_host: str) -> st.SearchStrategy[bytes]:
    """What a mutation splices in: syntax of the six formats, things that make parsers run away or fetch, a
    quad for another graph, control bytes and broken UTF-8."""
    return st.one_of(
        st.sampled_from([
            b"<", b">", b"{", b"}", b"[", b"]", b'"', b"'", b'"""', b".", b";", b",", b"@", b"^^", b"_:b0", b"#",
            b"\\", b"\\u00", b"\x00", b"\xff\xfe", b"\xc3", b"\xe2\x80\xae", b"\r\n", b"@prefix : <x> .",
            b"@base <file:///etc/> .", b"<file:///etc/passwd>", b"<javascript:alert(1)>",
            b"<http://www.w3.org/2002/07/owl#imports> ", f"<{other_host}ontology.ttl>".encode(),
            f'"@context": "{other_host}context.jsonld", '.encode(), b'"@id": "_:x", ', b'"@graph": [',
            b'"@type": "@json", ', b'"@version": 1.1, ',
            f'<!DOCTYPE rdf:RDF [ <!ENTITY x SYSTEM "{other_host}entity"> ]>'.encode(),
            b'<!DOCTYPE rdf:RDF [ <!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;"> ]>', b"&b;", b"&x;",
            f'<!DOCTYPE rdf:RDF SYSTEM "{other_host}rdf.dtd">'.encode(), b"<![CDATA[", b"]]>", b"<!--", b"-->",
            f"GRAPH <{iris.graph('gazetteer')}> {{ <http://a.example/s> <http://a.example/p> 1 }}".encode(),
            f'<http://a.example/s> <http://a.example/p> "o" <{iris.partner_graph("victim")}> .'.encode(),
            b'"x"^^<http://www.w3.org/2001/XMLSchema#gYear>', b'"NaN"^^<http://www.w3.org/2001/XMLSchema#double>',
            b'"99999999999999999999999"^^<http://www.w3.org/2001/XMLSchema#integer>', b'"x"@not-a-language-',
            "«Ωμέγα» 北京 \U0001F600".encode(),
        ]),
        st.sampled_from([10, 300, 3000]).flatmap(lambda d: st.sampled_from([b"[" * d, b"{" * d, b"(" * d,
                                                                            b"<rdf:Description>" * d])),
        st.binary(min_size=1, max_size=40),
    )


@st.composite
def mutated_uploads(draw, other_host: str) -> tuple[bytes, str]:
    """A seed payload with one to three byte flips, truncations, insertions or duplications, and the
    Content-Type it is sent with (its own most of the time; another format's, an alias or garbage otherwise)."""
    fmt, body = draw(st.sampled_from(SEED_PAYLOADS))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(body)))
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "insert", "duplicate"]))
        if kind == "flip" and at < len(body):
            body = body[:at] + bytes([draw(st.integers(0, 255))]) + body[at + 1:]
        elif kind == "truncate":
            body = body[:at]
        elif kind == "insert":
            body = body[:at] + draw(junk(other_host)) + body[at:]
        elif kind == "duplicate":
            end = min(len(body), at + draw(st.integers(1, 200)))
            body = body[:end] + body[at:end] * draw(st.sampled_from([1, 10, 2000])) + body[end:]
    content_type = draw(st.one_of(
        st.just(fmt.media_type), st.just(fmt.media_type),
        st.sampled_from([f.media_type for f in formats.UPLOADS]),
        st.sampled_from(["text/plain", "application/json", "application/xml", "text/turtle; charset=latin-1",
                         "application/x-turtle", "multipart/form-data; boundary=x", "application/octet-stream",
                         "text/html", "", "*/*", "text/turtle;;;", "APPLICATION/LD+JSON"]),
        HEADER_TEXT,
    ))
    return body, content_type


@pytest.fixture(scope="module")
def partner_server(built_store, tmp_path_factory) -> Iterator[tuple[LiveServer, str]]:
    """A live server on a private copy of the real graph, with a partner's token and a 256 KiB upload limit."""
    root = tmp_path_factory.mktemp("fuzz-partner")
    store = clone(built_store, root / "store")
    token = Registry(store).add(FUZZ_PARTNER)[1]
    server = start_server(store, root / "server.log", workers=1, threads=2, query_workers=1,
                          extra_env={"AMITY_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)})
    yield server, token
    stop_server(server)


def graph_triples(server: LiveServer) -> list[str] | None:
    """The partner graph as sorted N-Triples lines (None while it does not exist): what a refusal must keep."""
    answer = call("GET", server.url + "store", params={"graph": UPLOAD_GRAPH},
                  headers={"Accept": "application/n-triples"})
    if answer.status == 404:
        return None
    assert answer.status == 200, answer.body[:300]
    return sorted(answer.body.decode("utf-8").splitlines())


def still_answers(server: LiveServer) -> None:
    """The web worker that took the upload, and the query worker, answer a small query at once."""
    answers = [call("GET", server.sparql_url(), params={"query": "ASK { ?s ?p ?o }"}) for _ in range(2)]
    assert [a.status for a in answers] == [200, 200] and all(a.seconds < ANSWER_WITHIN for a in answers)


def send_upload(server: LiveServer, token: str | None, method: str, path: str, body: bytes, content_type: str
                ) -> Answer:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if content_type:
        headers["Content-Type"] = content_type
    lines = [f"{method} /{path}?graph={quote(UPLOAD_GRAPH, safe='')} HTTP/1.0", "Host: fuzz.example",
             f"Content-Length: {len(body)}", *(f"{name}: {value}" for name, value in headers.items())]
    return raw_request(server.url, "\r\n".join(lines).encode("latin-1"), body)


def test_mutated_partner_uploads_are_merged_or_refused_and_a_refusal_changes_nothing(service, partner_server,
                                                                                     other_host):
    """Real payloads in all six upload formats, mutated, sent by PUT and POST with a valid token: a documented
    answer (never a 5xx); a refusal leaves the published store at the same version and the partner's graph as
    it was; an accepted write publishes exactly one new version; the server answers queries afterwards."""
    server, token = partner_server

    @FUZZ
    @given(upload=mutated_uploads(other_host), method=st.sampled_from(["PUT", "POST"]))
    def check(upload: tuple[bytes, str], method: str) -> None:
        body, content_type = upload
        version, triples = server.store.version(), graph_triples(server)
        answer = send_upload(server, token, method, "store", body, content_type)
        assert_answered_well(answer, (method, content_type, body[:300]))
        assert answer.status in UPLOAD_STATUSES, (answer.status, answer.body[:300])
        if answer.status >= 400:
            assert server.store.version() == version and graph_triples(server) == triples, answer.body[:300]
        else:
            assert server.store.version() == version + 1
        still_answers(server)

    check()


def test_mutated_uploads_to_the_dry_run_never_write(service, partner_server, other_host):
    """The same uploads to ``POST /validate``, with the token and without: a documented answer, and never a
    new version of the store, whatever the answer."""
    server, token = partner_server

    @FUZZ
    @given(upload=mutated_uploads(other_host), with_token=st.booleans())
    def check(upload: tuple[bytes, str], with_token: bool) -> None:
        body, content_type = upload
        version = server.store.version()
        answer = send_upload(server, token if with_token else None, "POST", "validate", body, content_type)
        assert_answered_well(answer, (content_type, body[:300]))
        assert answer.status in (200, 400, 401, 413, 415, 422), (answer.status, answer.body[:300])
        assert answer.status != 401 or not with_token
        assert server.store.version() == version
        still_answers(server)

    check()


# -- saved-query parameters ----------------------------------------------------------------------------

SAVED_QUERIES = load_catalogue()

#: Values aimed at the parameters of saved queries: injection into the query text, IRIs that are not IRIs,
#: numbers that are not numbers, control characters and scripts. The generated test draws from all of them;
#: every parameter of every saved query gets the first :data:`EVERY_PARAMETER_GETS` of them.
HOSTILE_VALUES = (
    '"} ; DROP ALL #', "<http://a.example/x> } UNION { ?s ?p ?o", "http://exa mple.org/a b", "javascript:alert(1)",
    "NaN", "-1", "1e309", "99999999999999999999", "", "\x00", "\u202egnirts", "Q90", "北" * 600, "a" * 501,
    "'} ; DROP ALL #", '" . } DELETE WHERE { ?s ?p ?o } #', "> } ; CLEAR DEFAULT ; #", "?city", "$city",
    '""" ; LOAD <http://127.0.0.1:9/x> #', "<https://w3id.org/citydiplomacy/id/city/Q90>",
    "https://w3id.org/citydiplomacy/id/", "file:///etc/passwd", "urn:", ":", "Q", "gn-", "-", "..",
    "../../etc/passwd", "nan", "Infinity", "-Infinity", "-0", "+0", "0x10", "1_000", "١٢٣",
    "-99999999999999999999", "9" * 18, "3.", ".5", "1.2.3", "2024-02-30", "0000", "-2024", "2024-13",
    "zh-Hans-CN-x-private", "EN", "e n", " ", "\t", "\x7f", "\ufeff", "青岛\x00", "<script>alert(1)</script>",
    "%00", "%", "a" * 500,
)
EVERY_PARAMETER_GETS = 14

def saved_query_url(server: LiveServer, query, params: list[tuple[str, bytes]]) -> str:
    """The answer's URL, its query string percent-encoded byte for byte (so broken UTF-8 gets through)."""
    extension = query.offered[0].extensions[0]
    string = "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in params)
    return f"{server.url}queries/{query.name}.{extension}" + (f"?{string}" if string else "")


def assert_saved_query_answer(answer: Answer, what: object) -> None:
    """200 with a parseable answer, or a 400 problem naming the parameter; the documented time-limit 503 (a
    valid value that makes the query too heavy) is the only 5xx."""
    assert_answered_well(answer, what)
    assert answer.status in (200, 400, 503), (answer.status, answer.body[:300], what)
    if answer.status == 200 and answer.media_type.endswith("json"):
        json.loads(answer.body)


@pytest.mark.parametrize("name", [query.name for query in SAVED_QUERIES])
def test_every_parameter_of_every_saved_query_takes_hostile_values(service, name):
    """Each value of :data:`HOSTILE_VALUES` in each parameter, alone: bound as an RDF term or refused (400)."""
    query = next(q for q in SAVED_QUERIES if q.name == name)
    for parameter in query.params:
        for value in HOSTILE_VALUES[:EVERY_PARAMETER_GETS]:
            url = saved_query_url(service, query, [(parameter.name, value.encode("utf-8"))])
            assert_saved_query_answer(call("GET", url), (name, parameter.name, value))


@pytest.mark.parametrize("value", ["上海合作组织", "Шанхайская организация сотрудничества", "-", ":"])
def test_a_network_parameter_without_latin_letters_is_looked_up_or_refused(service, value):
    """The Shanghai Cooperation Organisation by its Chinese or Russian name: found, or a 400; never a 500.
    (It was a 500: the network key was made with iris.slug, which refuses text without ASCII letters.)"""
    query = next(q for q in SAVED_QUERIES if q.name == "founders-of-network")
    answer = call("GET", saved_query_url(service, query, [("network", value.encode("utf-8"))]))
    assert answer.status in (200, 400), answer.body[:300]


PARAMETER_VALUES = st.one_of(
    st.sampled_from(HOSTILE_VALUES).map(lambda v: v.encode("utf-8")),
    st.text(max_size=200).map(lambda v: v.encode("utf-8", "surrogatepass")),
    st.binary(max_size=100),
    st.tuples(st.sampled_from(HOSTILE_VALUES), st.text(alphabet=HOSTILE_CHARS, max_size=20)).map(
        lambda pair: (pair[0] + pair[1]).encode("utf-8", "surrogatepass")),
)


@st.composite
def saved_query_requests(draw) -> tuple[object, list[tuple[str, bytes]]]:
    """A saved query with some of its parameters (and the page parameters, an unknown one, or one twice)
    given generated values."""
    query = draw(st.sampled_from(SAVED_QUERIES))
    names = [p.name for p in query.params] + ["limit", "offset", "format", "download", "unknown", "graph"]
    params = draw(st.lists(st.tuples(st.sampled_from(names), PARAMETER_VALUES), max_size=4))
    kept, length = [], 0
    for name, value in params:  # the whole request line must stay under gunicorn's 8 190 bytes (else 414)
        length += len(quote(value)) + len(name) + 2
        if length < 6000:
            kept.append((name, value))
    return query, kept


def test_generated_saved_query_parameters_are_bound_or_refused(service):
    """Random saved queries with random parameters, values and repetitions: 200 or 400, never a 5xx."""

    @FUZZ
    @given(request=saved_query_requests())
    def check(request: tuple[object, list[tuple[str, bytes]]]) -> None:
        query, params = request
        answer = call("GET", saved_query_url(service, query, params))
        assert_saved_query_answer(answer, (query.name, params))

    check()
