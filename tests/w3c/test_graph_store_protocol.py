"""The SPARQL 1.1 Graph Store HTTP Protocol (https://www.w3.org/TR/sparql11-http-rdf-update/), case by case.

The W3C test suite for the protocol (w3c/rdf-tests, ``sparql/sparql11/graph-store-protocol``; the cases are
listed in :data:`MANIFEST`) is a sequence of requests on one graph store: create a graph by ``PUT``, read it
back, replace it, write the default graph, send a payload that does not match its media type, delete, add by
``POST`` (also as ``multipart/form-data``), let the server name a new graph, ``HEAD``. Each case is written here
as our own test, named ``test_<case>``, from what the specification requires of the request it sends, and runs
against ``amity serve`` under gunicorn on a private copy of the real default graph. Each test makes the state it
needs itself, in its own graph, so any one of them can run alone.

What is adapted, and why:

* **Graphs are a partner's.** Writes need a partner token, and a partner writes only below its own graph
  (``graph/partner/NAME/…``, docs/partners.md); every graph here is the ``w3c-gsp`` partner's.
* **Indirect identification** (§4.2, ``?graph=IRI``) throughout: our graph IRIs are ``w3id.org`` names, not
  URLs of this server, so direct identification (§4.1) is not offered (one strict expected failure shows it).
* **Real data.** The suite's payloads (a ``foaf:Person`` with a vCard) would be refused by our shapes, so the
  payloads are statements a partner would send about real cities of the graph: a twinning of Qingdao and
  Tokyo, other names of Paris and Saint Petersburg with the attribution as a blank node, like the suite's
  business card.
* **Blank nodes come back as skolem IRIs** (``…/.well-known/genid/…``, RDF 1.1 §3.5): the graph a ``GET``
  returns is compared with the one sent by isomorphism once those IRIs are read back as blank nodes.
* **Not supported, on purpose** (strict expected failures, so a change of behaviour shows up, and the table in
  docs/reliability.md): writing ``?default``, which here is the union of all graphs and answers 403; adding
  by ``multipart/form-data`` (415); a ``POST`` to the store itself asking the server to name a new graph (400).
  What the service answers instead, and that nothing changes, is tested next to them.
"""

from __future__ import annotations

import sys
import urllib.parse
from collections.abc import Iterator

import pytest
import rdflib
import requests
from rdflib.compare import isomorphic

from amity import iris
from amity.partners import Registry
from amity.reconcile import GENID
from amity.store import clone
from amity.testing import LiveServer, start_server, stop_server

#: The suite's cases, in its order, then the two percent-encoding cases of its indirect-identification manifest.
MANIFEST = (
    "put_initial_state", "get_of_put_initial_state", "put_graph_already_in_store",
    "get_of_put_graph_already_in_store", "put_default_graph", "get_of_put_default_graph",
    "put_mismatched_payload", "put_empty_graph", "get_of_put_empty_graph", "delete_existing_graph",
    "get_of_delete_existing_graph", "delete_non_existent_graph", "post_existing_graph",
    "get_of_post_existing_graph", "post_multipart_form_data", "get_of_post_multipart_form_data",
    "post_create_new_graph", "get_of_post_create_new_graph", "get_of_post_create_new_graph_with_other_accept",
    "head_on_an_existing_graph", "head_on_a_non_existing_graph",
    "put_get_uri_pct_encoded", "put_get_uri_pct_encoded_twice",
)

UNION = ("the default graph here is the union of every named graph, which every query sees; it cannot be "
         "written (403), a partner writes its own named graphs (docs/partners.md)")
MULTIPART = ("uploads are one RDF document in one of six media types; multipart/form-data is answered 415 "
             "(send one request per document)")
SERVER_NAMED = ("a partner names its graphs (below graph/partner/NAME); a POST to the store itself, asking the "
                "server to name a new graph, is answered 400")
DIRECT = ("graph IRIs are w3id.org names, not URLs of this server: graphs are identified indirectly "
          "(?graph=IRI); /graph/… serves a read-only description page")

#: Cases we deliberately do not support, keyed by their manifest name.
NOT_SUPPORTED = {
    "put_default_graph": UNION,
    "get_of_put_default_graph": UNION,
    "post_multipart_form_data": MULTIPART,
    "get_of_post_multipart_form_data": MULTIPART,
    "post_create_new_graph": SERVER_NAMED,
    "get_of_post_create_new_graph": SERVER_NAMED,
    "get_of_post_create_new_graph_with_other_accept": SERVER_NAMED,
}

PARTNER = "w3c-gsp"
TURTLE = "text/turtle; charset=utf-8"
CREATED, OK, NO_CONTENT, NOT_FOUND = 201, 200, 204, 404

PREFIXES = f"""\
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix schema: <http://schema.org/> .
@prefix cdo: <{iris.ONTOLOGY}> .
@prefix city: <{iris.ID}city/> .
@prefix twinning: <{iris.ID}twinning/> .
@prefix ts: <{iris.BASE}vocab/twinning-status/> .
@prefix tt: <{iris.BASE}vocab/twinning-type/> .
"""
#: "John Doe": a twinning of Qingdao and Tokyo, as a partner would state it (it passes the twinning shape).
JOHN = PREFIXES + """
twinning:Q1490__Q170322 a cdo:Twinning ; cdo:party city:Q170322, city:Q1490 ;
    cdo:twinningType tt:friendship-city ; cdo:status ts:formal ; schema:startDate "2019"^^xsd:gYear ;
    prov:wasDerivedFrom <https://en.unesco.org/creativity/creative-cities> .
"""
#: "Jane Doe": what replaces it, with a blank node (the attribution) as the suite's business card is one.
JANE = PREFIXES + """
city:Q90 skos:altLabel "Ville Lumière"@fr ;
    prov:qualifiedAttribution [ a prov:Attribution ; prov:agent <https://www.unesco.org/> ] .
"""
#: What a POST adds to it.
MORE = PREFIXES + """
city:Q656 skos:altLabel "Piter"@ru, "北方威尼斯"@zh .
"""
#: Two more, sent as the parts of one multipart/form-data request.
FIRST_PART = PREFIXES + 'city:Q90 skos:altLabel "Lutèce"@fr .\n'
SECOND_PART = PREFIXES + 'city:Q90 skos:altLabel "巴黎"@zh .\n'


# -- the service under test ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gsp(built_store, tmp_path_factory) -> Iterator[tuple[LiveServer, str]]:
    """A live server on a private copy of the real graph, and the token of the partner whose graphs we write."""
    root = tmp_path_factory.mktemp("gsp-w3c")
    store = clone(built_store, root / "store")
    token = Registry(store).add(PARTNER)[1]
    server = start_server(store, root / "server.log", workers=1, threads=2, query_workers=1)
    yield server, token
    stop_server(server)


def graph_iri(case: str) -> str:
    """The graph a case works on: one per case, so each starts from nothing."""
    return f"{iris.partner_graph(PARTNER)}/{case.replace('_', '-')}"


def store_url(server: LiveServer, graph: str | None = None) -> str:
    """The store's URL, with ``?graph=`` percent-encoded as the suite sends it (every reserved character)."""
    url = server.url + "store"
    return url if graph is None else f"{url}?graph={urllib.parse.quote(graph, safe='')}"


def write(gsp: tuple[LiveServer, str], method: str, url: str, body: bytes | str = b"",
          content_type: str | None = TURTLE) -> requests.Response:
    server, token = gsp
    headers = {"Authorization": f"Bearer {token}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    data = body.encode("utf-8") if isinstance(body, str) else body
    return requests.request(method, url, data=data, headers=headers, timeout=120)


def read(url: str, accept: str = "text/turtle", method: str = "GET") -> requests.Response:
    return requests.request(method, url, headers={"Accept": accept}, timeout=60)


def deskolemised(graph: rdflib.Graph) -> rdflib.Graph:
    """Our skolem IRIs read back as the blank nodes they stand for."""
    out = rdflib.Graph()
    for triple in graph:
        out.add(tuple(rdflib.BNode(term[len(GENID):]) if isinstance(term, rdflib.URIRef) and term.startswith(GENID)
                      else term for term in triple))
    return out


RDFLIB_FORMATS = {"text/turtle": "turtle", "application/rdf+xml": "xml", "application/n-triples": "nt",
                  "application/ld+json": "json-ld"}


def graph_in(response: requests.Response, media_type: str = "text/turtle") -> rdflib.Graph:
    """The graph a successful GET returned, in the media type asked for (charset utf-8, once, for text)."""
    assert response.status_code == OK, response.text[:500]
    sent = response.headers["Content-Type"]
    assert sent.split(";")[0].strip() == media_type, sent
    assert sent.count("charset") <= 1, sent
    return deskolemised(rdflib.Graph().parse(data=response.content, format=RDFLIB_FORMATS[media_type]))


def turtle(*documents: str) -> rdflib.Graph:
    graph = rdflib.Graph()
    for document in documents:
        graph.parse(data=document, format="turtle")
    return graph


def assert_same_graph(got: rdflib.Graph, expected: rdflib.Graph) -> None:
    assert isomorphic(got, expected), (f"{len(got)} triples back, {len(expected)} sent:\n"
                                       + got.serialize(format="nt"))


def assert_problem(response: requests.Response, status: int) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["detail"]


def unsupported(name: str):
    return pytest.mark.xfail(reason=NOT_SUPPORTED[name], strict=True)


def test_every_case_of_the_suite_is_specified_here():
    """A case added to :data:`MANIFEST` must get its test (or its reason for not being supported)."""
    module = sys.modules[__name__]
    missing = [name for name in MANIFEST if not callable(getattr(module, f"test_{name}", None))]
    assert missing == []
    assert set(NOT_SUPPORTED) <= set(MANIFEST)


# -- PUT (§5.3) and GET (§5.2) -------------------------------------------------------------------------


def test_put_initial_state(gsp):
    """§5.3: a PUT naming a graph that does not exist creates it with the payload: 201 Created."""
    server, _token = gsp
    response = write(gsp, "PUT", store_url(server, graph_iri("put_initial_state")), JOHN)
    assert response.status_code == CREATED, response.text[:500]


def test_get_of_put_initial_state(gsp):
    """§5.2: a GET of the graph just created returns it, as Turtle when Turtle is asked for."""
    server, _token = gsp
    url = store_url(server, graph_iri("get_of_put_initial_state"))
    assert write(gsp, "PUT", url, JOHN).status_code == CREATED
    response = read(url)
    assert response.headers["Content-Type"] == TURTLE
    assert_same_graph(graph_in(response), turtle(JOHN))


def test_put_graph_already_in_store(gsp):
    """§5.3: a PUT on a graph that exists replaces its content: 200 OK or 204 No Content."""
    server, _token = gsp
    url = store_url(server, graph_iri("put_graph_already_in_store"))
    assert write(gsp, "PUT", url, MORE).status_code == CREATED
    assert write(gsp, "PUT", url, JANE).status_code in (OK, NO_CONTENT)


def test_get_of_put_graph_already_in_store(gsp):
    """After the second PUT the graph holds the second payload only."""
    server, _token = gsp
    url = store_url(server, graph_iri("get_of_put_graph_already_in_store"))
    assert write(gsp, "PUT", url, MORE).status_code == CREATED
    assert write(gsp, "PUT", url, JANE).status_code in (OK, NO_CONTENT)
    assert_same_graph(graph_in(read(url)), turtle(JANE))


@unsupported("put_default_graph")
def test_put_default_graph(gsp):
    """§5.3 with §4.2's ``?default``: the payload becomes the default graph."""
    server, _token = gsp
    response = write(gsp, "PUT", server.url + "store?default", JANE)
    assert response.status_code in (OK, CREATED, NO_CONTENT), response.text[:300]


@unsupported("get_of_put_default_graph")
def test_get_of_put_default_graph(gsp):
    """A GET of ``?default`` after the PUT returns exactly the payload."""
    server, _token = gsp
    assert write(gsp, "PUT", server.url + "store?default", JANE).status_code in (OK, CREATED, NO_CONTENT)
    assert_same_graph(graph_in(read(server.url + "store?default")), turtle(JANE))


def test_put_mismatched_payload(gsp):
    """§5.1: a payload that is not what its Content-Type says is 400 Bad Request; the graph is untouched."""
    server, _token = gsp
    url = store_url(server, graph_iri("put_mismatched_payload"))
    assert write(gsp, "PUT", url, JOHN).status_code == CREATED
    as_xml = turtle(MORE).serialize(format="xml").encode()
    version = server.store.version()
    assert_problem(write(gsp, "PUT", url, as_xml, content_type=TURTLE), 400)
    assert server.store.version() == version
    assert_same_graph(graph_in(read(url)), turtle(JOHN))


def test_put_empty_graph(gsp):
    """§5.3: a PUT with an empty payload creates an empty graph."""
    server, _token = gsp
    response = write(gsp, "PUT", store_url(server, graph_iri("put_empty_graph")), b"")
    assert response.status_code == CREATED, response.text[:500]


def test_get_of_put_empty_graph(gsp):
    """The empty graph exists (200, not 404) and has no triples."""
    server, _token = gsp
    url = store_url(server, graph_iri("get_of_put_empty_graph"))
    assert write(gsp, "PUT", url, b"").status_code == CREATED
    assert len(graph_in(read(url))) == 0


# -- DELETE (§5.4) -------------------------------------------------------------------------------------


def test_delete_existing_graph(gsp):
    """§5.4: a DELETE removes the graph: 200 OK or 204 No Content."""
    server, _token = gsp
    url = store_url(server, graph_iri("delete_existing_graph"))
    assert write(gsp, "PUT", url, MORE).status_code == CREATED
    assert write(gsp, "DELETE", url, content_type=None).status_code in (OK, NO_CONTENT)


def test_get_of_delete_existing_graph(gsp):
    """§5.2: a GET of a deleted graph is 404 Not Found."""
    server, _token = gsp
    url = store_url(server, graph_iri("get_of_delete_existing_graph"))
    assert write(gsp, "PUT", url, MORE).status_code == CREATED
    assert write(gsp, "DELETE", url, content_type=None).status_code in (OK, NO_CONTENT)
    assert_problem(read(url), NOT_FOUND)


def test_delete_non_existent_graph(gsp):
    """§5.4: a DELETE of a graph that does not exist is 404 Not Found, and changes nothing."""
    server, _token = gsp
    version = server.store.version()
    assert_problem(write(gsp, "DELETE", store_url(server, graph_iri("delete_non_existent_graph")),
                         content_type=None), NOT_FOUND)
    assert server.store.version() == version


# -- POST (§5.5) ---------------------------------------------------------------------------------------


def test_post_existing_graph(gsp):
    """§5.5: a POST to a graph merges the payload into it: 200 OK or 204 No Content."""
    server, _token = gsp
    url = store_url(server, graph_iri("post_existing_graph"))
    assert write(gsp, "PUT", url, JANE).status_code == CREATED
    assert write(gsp, "POST", url, MORE).status_code in (OK, NO_CONTENT)


def test_get_of_post_existing_graph(gsp):
    """After the POST the graph holds both payloads (blank nodes of the two kept apart)."""
    server, _token = gsp
    url = store_url(server, graph_iri("get_of_post_existing_graph"))
    assert write(gsp, "PUT", url, JANE).status_code == CREATED
    assert write(gsp, "POST", url, MORE).status_code in (OK, NO_CONTENT)
    assert_same_graph(graph_in(read(url)), turtle(JANE, MORE))


def test_post_to_a_graph_that_does_not_exist_creates_it(gsp):
    """§5.5: "If the graph IRI does not identify an existing graph … create it": 201 Created."""
    server, _token = gsp
    url = store_url(server, graph_iri("post_new_graph"))
    response = write(gsp, "POST", url, MORE)
    assert response.status_code == CREATED, response.text[:500]
    assert_same_graph(graph_in(read(url)), turtle(MORE))


BOUNDARY = "amity-gsp-boundary"


def multipart(*documents: str) -> bytes:
    """``multipart/form-data`` with one Turtle file per part (RFC 7578)."""
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="part{n}"; filename="part{n}.ttl"\r\n'
             f"Content-Type: {TURTLE}\r\n\r\n{document}\r\n" for n, document in enumerate(documents)]
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode("utf-8")


MULTIPART_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


@unsupported("post_multipart_form_data")
def test_post_multipart_form_data(gsp):
    """§5.5: the parts of a ``multipart/form-data`` POST are RDF documents, all merged into the graph."""
    server, _token = gsp
    url = store_url(server, graph_iri("post_multipart_form_data"))
    assert write(gsp, "PUT", url, JANE).status_code == CREATED
    response = write(gsp, "POST", url, multipart(FIRST_PART, SECOND_PART), content_type=MULTIPART_TYPE)
    assert response.status_code in (OK, NO_CONTENT), response.text[:300]


@unsupported("get_of_post_multipart_form_data")
def test_get_of_post_multipart_form_data(gsp):
    server, _token = gsp
    url = store_url(server, graph_iri("get_of_post_multipart_form_data"))
    assert write(gsp, "PUT", url, JANE).status_code == CREATED
    write(gsp, "POST", url, multipart(FIRST_PART, SECOND_PART), content_type=MULTIPART_TYPE)
    assert_same_graph(graph_in(read(url)), turtle(JANE, FIRST_PART, SECOND_PART))


def create_by_post(gsp) -> str:
    """§5.5: a POST to the store itself makes the server name a new graph, given back in Location (201)."""
    server, _token = gsp
    response = write(gsp, "POST", store_url(server), JANE)
    assert response.status_code == CREATED, response.text[:300]
    return urllib.parse.urljoin(server.url, response.headers["Location"])


@unsupported("post_create_new_graph")
def test_post_create_new_graph(gsp):
    create_by_post(gsp)


@unsupported("get_of_post_create_new_graph")
def test_get_of_post_create_new_graph(gsp):
    location = create_by_post(gsp)
    assert_same_graph(graph_in(read(location)), turtle(JANE))


@unsupported("get_of_post_create_new_graph_with_other_accept")
def test_get_of_post_create_new_graph_with_other_accept(gsp):
    location = create_by_post(gsp)
    assert_same_graph(graph_in(read(location, "application/rdf+xml"), "application/rdf+xml"), turtle(JANE))


@pytest.mark.parametrize("media_type", ["application/rdf+xml", "application/n-triples", "application/ld+json"])
def test_a_graph_is_the_same_graph_in_every_format_offered(gsp, media_type):
    """§5.2: content negotiation: the graph a PUT created, asked for in the other formats we serve."""
    server, _token = gsp
    url = store_url(server, graph_iri("other-accept-" + media_type.split("/")[1].replace("+", "-")))
    assert write(gsp, "PUT", url, JANE + MORE.removeprefix(PREFIXES)).status_code == CREATED
    assert_same_graph(graph_in(read(url, media_type), media_type), turtle(JANE, MORE))


# -- HEAD (§5.6) ---------------------------------------------------------------------------------------


def test_head_on_an_existing_graph(gsp):
    """§5.6: HEAD answers as GET would (200, the Content-Type), without a body."""
    server, _token = gsp
    url = store_url(server, graph_iri("head_on_an_existing_graph"))
    assert write(gsp, "PUT", url, MORE).status_code == CREATED
    response = read(url, method="HEAD")
    assert response.status_code == OK and response.headers["Content-Type"] == TURTLE
    assert response.content == b""


def test_head_on_a_non_existing_graph(gsp):
    server, _token = gsp
    assert read(store_url(server, graph_iri("head_on_a_non_existing_graph")), method="HEAD").status_code == NOT_FOUND


# -- the graph IRI in the query string (§4.2, RFC 3986) ------------------------------------------------


def test_put_get_uri_pct_encoded(gsp):
    """The graph IRI percent-encoded or not in ``?graph=`` (and ``%31`` for ``1``) names the same graph."""
    server, _token = gsp
    graph = graph_iri("pct-encoded-1")
    assert write(gsp, "PUT", store_url(server, graph), MORE).status_code == CREATED
    plain = f"{server.url}store?graph={graph}"
    assert_same_graph(graph_in(read(plain)), turtle(MORE))
    assert_same_graph(graph_in(read(plain[:-1] + "%31")), turtle(MORE))


def test_put_get_uri_pct_encoded_twice(gsp):
    """The query string is decoded once: ``%2531`` is the IRI ``…%31``, another graph, which does not exist."""
    server, _token = gsp
    graph = graph_iri("pct-twice-1")
    assert write(gsp, "PUT", f"{server.url}store?graph={graph}", MORE).status_code == CREATED
    assert_same_graph(graph_in(read(f"{server.url}store?graph={graph[:-1]}%31")), turtle(MORE))
    assert_problem(read(f"{server.url}store?graph={graph[:-1]}%2531"), NOT_FOUND)


# -- what we answer instead of the unsupported cases ---------------------------------------------------


@pytest.mark.xfail(reason=DIRECT, strict=True)
def test_direct_identification_writes_the_graph_named_by_the_request_url(gsp):
    """§4.1: the request URL is the graph: a PUT to it creates the graph."""
    server, _token = gsp
    path = graph_iri("direct")[len(iris.BASE):]
    response = write(gsp, "PUT", server.url + path, MORE)
    assert response.status_code == CREATED, response.text[:300]


@pytest.mark.parametrize("case", ["PUT ?default", "POST ?default", "DELETE ?default", "multipart",
                                  "POST to the store", "PUT by direct identification"])
def test_the_unsupported_requests_are_refused_with_a_problem_and_change_nothing(gsp, case):
    server, _token = gsp
    graph = store_url(server, graph_iri("unsupported"))
    requests_ = {
        "PUT ?default": (("PUT", server.url + "store?default", JANE, TURTLE), 403),
        "POST ?default": (("POST", server.url + "store?default", JANE, TURTLE), 403),
        "DELETE ?default": (("DELETE", server.url + "store?default", b"", None), 403),
        "multipart": (("POST", graph, multipart(FIRST_PART, SECOND_PART), MULTIPART_TYPE), 415),
        "POST to the store": (("POST", store_url(server), JANE, TURTLE), 400),
        "PUT by direct identification": (("PUT", server.url + graph_iri("direct")[len(iris.BASE):], JANE, TURTLE),
                                         405),
    }
    (method, url, body, content_type), status = requests_[case]
    version = server.store.version()
    response = write(gsp, method, url, body, content_type=content_type)
    assert response.status_code == status, response.text[:300]
    if status != 405:  # the method is refused by the router, before our error pages
        assert_problem(response, status)
    assert server.store.version() == version
    assert read(graph, method="HEAD").status_code == NOT_FOUND
