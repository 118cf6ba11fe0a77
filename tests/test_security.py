"""Security: the endpoint never reaches other hosts, never writes, never leaks files, never runs a visitor's
script, and holds up against oversized and slow requests.

The threat model (docs/reliability.md): anyone on the network can send any
request to the public routes; partner data (later) is untrusted content that
ends up in HTML pages. Each test names the attack it stands for. The "other
host" is a local HTTP server that records every request it gets, so "never
contacted" is observed, not assumed; a positive control shows the query engine
would contact it if we let it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from pyoxigraph import Literal, NamedNode, Quad, Store

from amity.store import EmbeddedStore, clone
from amity.testing import LiveServer, start_server, stop_server

try:
    from tests.recording_server import RecordingServer, never_contacted
    from tests.test_fuzz import raw_request
except ModuleNotFoundError:  # `pytest tests/test_security.py` alone: only tests/ is on sys.path
    from recording_server import RecordingServer, never_contacted
    from test_fuzz import raw_request

ID = "https://w3id.org/citydiplomacy/id/"
SKOS_PREF = NamedNode("http://www.w3.org/2004/02/skos/core#prefLabel")
RDFS_LABEL = NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
CDO = "https://w3id.org/citydiplomacy/ontology#"
WGS = "http://www.w3.org/2003/01/geo/wgs84_pos#"


# -- the other host ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_server() -> Iterator[RecordingServer]:
    """Another host, answering any GET or POST like a SPARQL endpoint with one row, and recording the request."""
    body = b'{"head":{"vars":["x"]},"results":{"bindings":[{"x":{"type":"literal","value":"from afar"}}]}}'
    with RecordingServer(body, "application/sparql-results+json") as server:
        yield server


@pytest.fixture(scope="module")
def other_host(other_server: RecordingServer) -> str:
    return other_server.url


@pytest.fixture
def hits(other_server: RecordingServer) -> list[str]:
    """The requests the other host received during the test (checked after a moment for late calls)."""
    return other_server.reset()


def tiny_store(root: Path) -> EmbeddedStore:
    store = EmbeddedStore(root)
    master_dir, version = store.next_master_dir()
    master = Store(str(master_dir))
    master.add(Quad(NamedNode(ID + "thing/a"), RDFS_LABEL, Literal("a"), NamedNode("http://example.org/g")))
    store.publish_new_master(master, master_dir, version)
    del master
    return store


def send(base: str, query: str, method: str) -> requests.Response:
    url = base + "sparql"
    if method == "GET":
        return requests.get(url, params={"query": query}, timeout=30)
    if method == "form":
        return requests.post(url, data={"query": query}, timeout=30)
    return requests.post(url, data=query.encode(), headers={"Content-Type": "application/sparql-query"}, timeout=30)


# -- SSRF through SERVICE ------------------------------------------------------------------------------

SERVICE_SPELLINGS = [
    "SELECT * WHERE {{ SERVICE <{url}sparql> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ SERVICE SILENT <{url}sparql> {{ ?s ?p ?o }} }}",
    "select * where {{ service <{url}sparql> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ SeRvIcE sIlEnT <{url}sparql> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ SERVICE#a comment\n<{url}sparql>{{?s ?p ?o}} }}",
    "SELECT * WHERE {{ SERVICE\t\n<{url}sparql>\n{{ }} }}",
    "SELECT * WHERE {{ BIND(<{url}sparql> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ VALUES ?e {{ <{url}sparql> }} SERVICE $e {{ ?s ?p ?o }} }}",
    "PREFIX evil: <{url}> SELECT * WHERE {{ SERVICE evil:sparql {{ ?s ?p ?o }} }}",
    "PREFIX : <{url}sparql> SELECT * WHERE {{ SERVICE : {{ ?s ?p ?o }} }}",
    "BASE <{url}> SELECT * WHERE {{ SERVICE <sparql> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ SERVICE <{localhost}sparql> {{ }} }}",
    "SELECT * WHERE {{ SERVICE <{short}sparql> {{ }} }}",
    "SELECT * WHERE {{ SERVICE <{hex}sparql> {{ }} }}",
    "SELECT * WHERE {{ SERVICE <{userinfo}sparql> {{ }} }}",
    "SELECT * WHERE {{ SERVICE <{url}a/%2e%2e/sparql?x=1#frag> {{ }} }}",
    "SELECT * WHERE {{ FILTER EXISTS {{ SERVICE <{url}sparql> {{ ?s ?p ?o }} }} }}",
    "SELECT * WHERE {{ {{ SELECT * WHERE {{ SERVICE <{url}sparql> {{ ?s ?p ?o }} }} }} }}",
    "SELECT * WHERE {{ OPTIONAL {{ SERVICE <{url}sparql> {{ ?s ?p ?o }} }} }}",
    "SELECT * WHERE {{ ?s ?p ?o MINUS {{ SERVICE <{url}sparql> {{ ?s ?p ?o }} }} }} LIMIT 1",
    "ASK {{ GRAPH ?g {{ SERVICE <{url}sparql> {{ ?s ?p ?o }} }} }}",
    "CONSTRUCT {{ ?s ?p ?o }} WHERE {{ SERVICE <{url}sparql> {{ ?s ?p ?o }} }}",
    "DESCRIBE ?s WHERE {{ SERVICE <{url}sparql> {{ ?s ?p ?o }} }}",
    "SELECT * {{ SERVICE <{url}sparql> {{ SERVICE <{url}other> {{ }} }} }}",
    "SELECT * WHERE {{ \\u0053ERVICE <{url}sparql> {{ }} }}",
]


def spell(template: str, url: str) -> str:
    port = url.rsplit(":", 1)[1].strip("/")
    return template.format(url=url, localhost=f"http://localhost:{port}/", short=f"http://127.1:{port}/",
                           hex=f"http://0x7f000001:{port}/", userinfo=f"http://user:pw@127.0.0.1:{port}/")


def test_the_other_host_would_be_called_if_we_let_the_engine_do_it(other_host, hits):
    """Positive control: pyoxigraph itself calls any SERVICE endpoint, so the refusals below are ours."""
    rows = list(Store().query(spell(SERVICE_SPELLINGS[0], other_host)))
    assert rows and hits and hits[0].startswith("POST /sparql")


@pytest.mark.parametrize("method", ["GET", "form", "direct"])
@pytest.mark.parametrize("template", SERVICE_SPELLINGS)
def test_service_to_another_host_is_refused_and_never_contacted(live_server, other_host, hits, template, method):
    """SSRF: whatever the spelling (case, SILENT, comments, variable, prefixed name, relative IRI, other names
    for 127.0.0.1, nested in EXISTS/OPTIONAL/MINUS/subquery), the query is refused before it runs."""
    response = send(live_server.url, spell(template, other_host), method)
    assert response.status_code in (400, 403), response.text[:300]
    never_contacted(hits)


def test_an_allowlisted_service_is_called_and_nothing_else(tmp_path, other_host, hits):
    """``AMITY_SERVICE_ALLOWLIST`` opens exactly the endpoints it names: another path on the same host stays shut."""
    from server import create_app

    app = create_app({"TESTING": True, "STORE_PATH": tiny_store(tmp_path / "store").root, "QUERY_WORKERS": 0,
                      "SERVICE_ALLOWLIST": (other_host + "sparql",)})
    try:
        client = app.test_client()
        query = f"SELECT ?x {{ SERVICE <{other_host}sparql> {{ ?x ?y ?z }} }}"
        allowed = client.get("/sparql", query_string={"query": query})
        assert allowed.status_code == 200 and "from afar" in allowed.get_data(as_text=True)
        assert hits == ["POST /sparql"]
        other = client.get("/sparql", query_string={"query": f"SELECT * {{ SERVICE <{other_host}admin> {{ }} }}"})
        assert other.status_code == 403
        assert hits == ["POST /sparql"]
    finally:
        app.extensions["amity"].close()


@pytest.mark.parametrize("template", [
    "SELECT * FROM <{url}data.ttl> WHERE {{ ?s ?p ?o }}",
    "SELECT * FROM NAMED <{url}data.ttl> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    "DESCRIBE <{url}data.ttl>",
    "SELECT * WHERE {{ BIND(IRI('{url}data.ttl') AS ?x) }}",
])
def test_dataset_iris_naming_other_hosts_are_never_fetched(live_server, other_host, hits, template):
    """FROM, FROM NAMED, DESCRIBE and IRI() name graphs and resources; they are looked up here, never fetched."""
    response = send(live_server.url, template.format(url=other_host), "GET")
    assert response.status_code == 200, response.text[:300]
    by_protocol = requests.get(live_server.sparql_url(), params={
        "query": "SELECT * WHERE { ?s ?p ?o } LIMIT 1", "default-graph-uri": other_host + "data.ttl",
        "named-graph-uri": other_host + "named.ttl"}, timeout=30)
    assert by_protocol.status_code == 200
    never_contacted(hits)


# -- LOAD and other updates ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["GET query", "form query", "direct query", "form update", "direct update"])
@pytest.mark.parametrize("load", ["LOAD <{url}data.ttl>", "LOAD SILENT <{url}data.ttl> INTO GRAPH <http://e.org/g>",
                                  "load <{url}data.ttl> ; INSERT DATA {{ <http://a.org/s> <http://a.org/p> 1 }}"])
def test_load_is_refused_however_it_is_sent_and_the_target_never_contacted(live_server, other_host, hits, kind, load):
    """LOAD would make the server fetch a URL and write what it gets: every way of sending one is refused."""
    text = load.format(url=other_host)
    url = live_server.sparql_url()
    if kind == "GET query":
        response = requests.get(url, params={"query": text}, timeout=30)
    elif kind == "form query":
        response = requests.post(url, data={"query": text}, timeout=30)
    elif kind == "direct query":
        response = requests.post(url, data=text, headers={"Content-Type": "application/sparql-query"}, timeout=30)
    elif kind == "form update":
        response = requests.post(url, data={"update": text}, timeout=30)
    else:
        response = requests.post(url, data=text, headers={"Content-Type": "application/sparql-update"}, timeout=30)
    assert response.status_code == 400, response.text[:300]
    assert "Update" in response.json()["detail"]
    never_contacted(hits)


# -- script injection into HTML pages ------------------------------------------------------------------

SCRIPT = "<script>alert('label')</script>"
IMG = '"><img src=x onerror=alert(1)>'
RAW_MARKUP = (b"<script>alert", b"<img src=x", b"</textarea><script", b"</title><script")


def assert_no_raw_markup(body: bytes) -> None:
    found = [marker for marker in RAW_MARKUP if marker in body]
    assert found == [], f"unescaped markup in the page: {found}"


@pytest.fixture(scope="module")
def hostile_server(built_store, tmp_path_factory) -> Iterator[LiveServer]:
    """A copy of the real graph with hostile labels and values written in, as a partner's upload could carry."""
    root = tmp_path_factory.mktemp("hostile")
    store = clone(built_store, root / "store")
    g = NamedNode("https://w3id.org/citydiplomacy/graph/partner/test")
    org, other = NamedNode(ID + "org/xss-test"), NamedNode(ID + "org/xss-other")
    city_a, city_b = NamedNode(ID + "city/x-xss-a"), NamedNode(ID + "city/x-xss-b")
    twinning = NamedNode(ID + "twinning/x-xss-a__x-xss-b")
    decimal = NamedNode("http://www.w3.org/2001/XMLSchema#decimal")
    with store.writing() as master:
        master.extend([
            Quad(org, SKOS_PREF, Literal(SCRIPT, language="en"), g),
            Quad(org, RDFS_LABEL, Literal(IMG), g),
            Quad(org, NamedNode("http://purl.org/dc/terms/description"),
                 Literal("</td></tr></table><script>alert(2)</script>"), g),
            Quad(org, NamedNode("http://www.w3.org/2000/01/rdf-schema#seeAlso"), other, g),
            Quad(other, SKOS_PREF, Literal("</title><script>alert(3)</script>", language="en"), g),
            Quad(other, NamedNode("http://www.w3.org/2000/01/rdf-schema#seeAlso"), org, g),
            Quad(twinning, RDF_TYPE, NamedNode(CDO + "Twinning"), g),
            Quad(twinning, NamedNode(CDO + "party"), city_a, g),
            Quad(twinning, NamedNode(CDO + "party"), city_b, g),
            Quad(city_a, RDF_TYPE, NamedNode(CDO + "City"), g),
            Quad(city_a, SKOS_PREF, Literal(SCRIPT, language="en"), g),
            Quad(city_a, NamedNode(WGS + "lat"), Literal("10.5", datatype=decimal), g),
            Quad(city_a, NamedNode(WGS + "long"), Literal("20.5", datatype=decimal), g),
            Quad(city_b, RDF_TYPE, NamedNode(CDO + "City"), g),
            Quad(city_b, SKOS_PREF, Literal("</title><script>alert(4)</script>", language="en"), g),
            Quad(city_b, NamedNode(WGS + "lat"), Literal("-30.25", datatype=decimal), g),
            Quad(city_b, NamedNode(WGS + "long"), Literal("140.75", datatype=decimal), g),
        ])
    server = start_server(store, root / "server.log", workers=1, threads=2, query_workers=1)
    yield server
    stop_server(server)


@pytest.mark.parametrize("path", ["/id/org/xss-test", "/id/org/xss-other", "/id/city/x-xss-a", "/id/city/x-xss-b"])
def test_labels_and_values_with_markup_are_shown_as_text_on_entity_pages(hostile_server, path):
    """Stored XSS: labels, literal values and the labels of linked things (tables, titles, the map's SVG)
    are escaped; the page shows the text the data holds."""
    response = requests.get(hostile_server.url + path.lstrip("/"), headers={"Accept": "text/html"}, timeout=30)
    assert response.status_code == 200, response.text[:300]
    assert_no_raw_markup(response.content)
    assert "&lt;script&gt;" in response.text or "&lt;/title&gt;" in response.text


def test_an_iri_with_a_script_scheme_is_never_a_link(hostile_server, tmp_path):
    """Stored XSS through links: ``<javascript:alert(1)>`` is a valid IRI; it must not end up in an href."""
    store = clone(hostile_server.store, tmp_path / "store")
    with store.writing() as master:
        master.add(Quad(NamedNode(ID + "org/xss-test"), NamedNode("http://www.w3.org/2000/01/rdf-schema#seeAlso"),
                        NamedNode("javascript:alert(document.domain)"),
                        NamedNode("https://w3id.org/citydiplomacy/graph/partner/test")))
    server = start_server(store, tmp_path / "server.log", workers=1, threads=1, query_workers=1)
    try:
        page = requests.get(server.url + "id/org/xss-test", headers={"Accept": "text/html"}, timeout=30).text
    finally:
        stop_server(server)
    assert 'href="javascript:' not in page.replace("&#34;", '"').lower()
    assert "javascript:alert(document.domain)" in page, "the IRI is still shown, as text"


def test_html_pages_forbid_inline_scripts(client):
    policy = client.get("/", headers={"Accept": "text/html"}).headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


@pytest.mark.parametrize("path", [
    "/id/" + quote("<script>alert(1)</script>", safe=""),
    "/sparql?query=" + quote("SELECT * WHERE { <script>alert(1)</script> }", safe=""),
    "/queries/" + quote("<script>alert(1)</script>", safe=""),
    "/queries/twins-of-city?city=" + quote("<script>alert(1)</script>", safe=""),
    "/?query=" + quote("</textarea><script>alert(1)</script>", safe=""),
    "/ontology?format=" + quote("<script>alert(1)</script>", safe=""),
])
def test_request_text_echoed_in_html_pages_is_escaped(hostile_server, path):
    """Reflected XSS: error pages and forms that echo the request show it as text."""
    response = requests.get(hostile_server.url + path.lstrip("/"), headers={"Accept": "text/html"}, timeout=30)
    assert_no_raw_markup(response.content)


# -- path traversal ------------------------------------------------------------------------------------

TRAVERSALS = [
    b"/queries/../../etc/passwd", b"/queries/..%2f..%2f..%2f..%2fetc%2fpasswd", b"/queries/%2e%2e/%2e%2e/etc/passwd",
    b"/queries/%2e%2e%2f%2e%2e%2fpyproject.toml", b"/queries/..%252f..%252fetc%252fpasswd",
    b"/queries/....//....//etc/passwd", b"/queries/..\\..\\server.py", b"/queries/twins-of-city%00.rq",
    b"/queries/..%2fserver.py", b"/queries/..%2fpyproject.toml", b"/queries/.%2e/.%2e/etc/passwd",
    b"/static/../server.py", b"/static/..%2f..%2fserver.py", b"/static/%2e%2e/%2e%2e/etc/passwd",
    b"/static/..%5c..%5cserver.py", b"/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    b"/id/../../../../etc/passwd", b"/id/..%2f..%2f..%2f..%2fetc%2fpasswd", b"/id/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    b"/vocab/..%2f..%2f..%2fetc%2fpasswd", b"/graph/..%2f..%2fCURRENT",
    b"/dumps/graph/..%2f..%2f..%2f..%2fetc%2fpasswd.nq.gz", b"/dumps/graph/..%2f..%2fCURRENT%00.nq.gz",
    b"/dumps/../CURRENT", b"/dumps/graph/../../write.lock.nq.gz", b"//etc/passwd", b"/%2e%2e/%2e%2e/etc/passwd",
]
SECRETS = (b"root:x:0:0", b"def create_app", b"[build-system]", b'"snapshot"', b"import ")


@pytest.mark.parametrize("path", TRAVERSALS, ids=[p.decode() for p in TRAVERSALS])
def test_paths_that_climb_out_of_a_route_are_not_found_and_never_serve_files(live_server, path):
    """Traversal through entity paths, saved-query names, static files and dumps: a 4xx, never file contents."""
    answer = raw_request(live_server.url, b"GET " + path + b" HTTP/1.0\r\nHost: traversal.example")
    assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
    assert not any(secret in answer.body for secret in SECRETS)


# -- oversized and slow requests -----------------------------------------------------------------------

LIMIT = 65_536


@pytest.fixture(scope="module")
def small_server(tmp_path_factory) -> Iterator[LiveServer]:
    """One web worker with two threads and a 64 KiB request limit: small numbers make the limits observable."""
    root = tmp_path_factory.mktemp("small")
    server = start_server(tiny_store(root / "store"), root / "server.log", workers=1, threads=2, query_workers=1,
                          extra_env={"AMITY_MAX_REQUEST_BYTES": str(LIMIT)})
    yield server
    stop_server(server)


def padded(size: int) -> str:
    """``ASK {}`` and a comment: a valid query of exactly ``size`` bytes."""
    return "ASK {} #" + "x" * (size - 8)


@pytest.mark.parametrize("how", ["direct", "form"])
def test_a_query_body_over_the_request_limit_is_413_and_one_under_it_is_answered(small_server, how):
    """``AMITY_MAX_REQUEST_BYTES`` bounds what /sparql reads (the larger upload limit is for partners only)."""
    assert send(small_server.url, padded(LIMIT + 1000), how).status_code == 413
    assert send(small_server.url, padded(LIMIT - 1000), how).status_code == 200


def test_a_declared_huge_body_is_refused_before_it_is_sent(small_server):
    """A Content-Length of a terabyte is answered 413 at once, without waiting for (or reading) the body."""
    answer = raw_request(small_server.url, b"POST /sparql HTTP/1.0\r\nHost: big.example\r\n"
                                           b"Content-Type: application/sparql-query\r\nContent-Length: 1000000000000",
                         timeout=15)
    assert answer.status == 413 and answer.seconds < 5


def test_a_chunked_body_without_length_is_cut_off_at_the_limit(small_server):
    """Without Content-Length the limit still holds: the body is read up to the limit, then 413."""
    chunk = b"x" * 8192
    body = b"9\r\nASK {} #x\r\n" + (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 16 + b"0\r\n\r\n"
    answer = raw_request(small_server.url, b"POST /sparql HTTP/1.1\r\nHost: big.example\r\nConnection: close\r\n"
                                           b"Content-Type: application/sparql-query\r\nTransfer-Encoding: chunked",
                         body, timeout=15)
    assert answer.status == 413


def _port(server: LiveServer) -> int:
    return int(server.url.rsplit(":", 1)[1].strip("/"))


def _probe(server: LiveServer, timeout: float) -> float | None:
    """Seconds a small query takes, or None if it was not answered within ``timeout``."""
    started = time.monotonic()
    try:
        response = requests.get(server.sparql_url(), params={"query": "ASK {}"}, timeout=timeout)
    except requests.Timeout:
        return None
    assert response.status_code == 200
    return time.monotonic() - started


class Trickler(threading.Thread):
    """A slow-loris client: sends a complete request one byte at a time over ``seconds``, then reads the answer."""

    REQUEST = b"GET /sparql?query=ASK%7B%7D HTTP/1.0\r\nHost: slow.example\r\nX-Slow: yes\r\n\r\n"

    def __init__(self, server: LiveServer, seconds: float) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", _port(server)))
        self.pause = seconds / len(self.REQUEST)
        self.status: int | None = None
        self.error: str | None = None

    def run(self) -> None:
        try:
            for i in range(len(self.REQUEST)):
                self.sock.sendall(self.REQUEST[i:i + 1])
                time.sleep(self.pause)
            self.sock.settimeout(30)
            head = self.sock.recv(64)
            self.status = int(head.split()[1]) if head else None
        except OSError as error:
            self.error = str(error)
        finally:
            self.sock.close()


def test_a_trickling_client_is_served_and_other_clients_are_not_held_up_while_threads_remain(small_server):
    """One slow-loris client (fewer than the threads) ties up one thread: others are answered meanwhile, the slow
    client gets its answer, and nothing restarts."""
    pid_before = small_server.process.pid
    slow = Trickler(small_server, seconds=6)
    slow.start()
    time.sleep(1)
    assert (_probe(small_server, timeout=5) or 99) < 2
    slow.join(timeout=40)
    assert slow.status == 200, slow.error
    assert small_server.process.poll() is None and small_server.process.pid == pid_before


def test_idle_connections_are_closed_by_the_server(small_server):
    """Connections that never send a byte are dropped (gunicorn: 5 s data wait, then the 5 s keep-alive)."""
    socks = [socket.create_connection(("127.0.0.1", _port(small_server))) for _ in range(2)]
    deadline = time.monotonic() + 25
    closed = 0
    for sock in socks:
        sock.settimeout(max(deadline - time.monotonic(), 0.1))
        try:
            closed += sock.recv(1) == b""
        except (TimeoutError, ConnectionResetError) as error:
            closed += isinstance(error, ConnectionResetError)
        finally:
            sock.close()
    assert closed == 2
    assert (_probe(small_server, timeout=5) or 99) < 2


@pytest.mark.xfail(strict=True, reason="gunicorn gthread has no deadline for reading a request once its first byte "
                                       "arrived: as many slow-loris clients as threads stall a worker. Deploy behind "
                                       "nginx (client_header_timeout, limit_conn): docs/reliability.md")
def test_as_many_trickling_clients_as_threads_do_not_stall_the_service(small_server):
    slow = [Trickler(small_server, seconds=10) for _ in range(2)]
    for client in slow:
        client.start()
    time.sleep(1)
    try:
        assert (_probe(small_server, timeout=5) or 99) < 2
    finally:
        for client in slow:
            client.join(timeout=60)


@pytest.mark.xfail(strict=True, reason="gunicorn gthread gives each new connection a thread for up to 5 s while it "
                                       "waits for a first byte: a burst of idle connections delays everyone. Deploy "
                                       "behind nginx (limit_conn, buffering): docs/reliability.md")
def test_a_burst_of_idle_connections_does_not_delay_other_clients(small_server):
    socks = [socket.create_connection(("127.0.0.1", _port(small_server))) for _ in range(8)]
    try:
        time.sleep(0.2)
        assert (_probe(small_server, timeout=5) or 99) < 2
    finally:
        for sock in socks:
            sock.close()
        time.sleep(6)  # let the deferred connections be dropped before the next test
