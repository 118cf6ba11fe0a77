"""The SPARQL 1.1 Protocol (https://www.w3.org/TR/sparql11-protocol/), case by case.

Each case of the W3C protocol test manifest (w3c/rdf-tests,
``sparql/sparql11/protocol/manifest.ttl``, 34 entries) is written here as our own
test, named ``test_<manifest name>``, from the specification's text: the request
the case sends and the answer the specification requires. The cases run against
``amity serve`` under gunicorn on a small store holding three named graphs, the
way a client on the network sees the endpoint.

Amity exposes no SPARQL Update over HTTP (partners write through the Graph
Store and the merge pipeline, which validate first), so the seven positive
update cases are strict expected failures — if someone opens an update endpoint
they turn red and have to be reconsidered — and the six negative update cases
pass because every update is refused.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import rdflib
import requests
from pyoxigraph import Literal, NamedNode, Quad, QueryBoolean, QueryResultsFormat, Store, parse_query_results

from amity.store import EmbeddedStore
from amity.testing import LiveServer, start_server, stop_server

pytestmark = pytest.mark.both_stores

#: Every entry of the manifest, in its order.
MANIFEST = (
    "query_post_form", "query_dataset_default_graphs_get", "query_dataset_default_graphs_post",
    "query_dataset_named_graphs_post", "query_dataset_named_graphs_get", "query_dataset_full",
    "query_multiple_dataset", "query_get", "query_content_type_select", "query_content_type_ask",
    "query_content_type_describe", "query_content_type_construct", "update_dataset_default_graph",
    "update_dataset_default_graphs", "update_dataset_named_graphs", "update_dataset_full", "update_post_form",
    "update_post_direct", "update_base_uri", "query_post_direct", "bad_query_method", "bad_multiple_queries",
    "bad_query_wrong_media_type", "bad_query_missing_form_type", "bad_query_missing_direct_type",
    "bad_query_non_utf8", "bad_query_syntax", "bad_update_get", "bad_multiple_updates",
    "bad_update_wrong_media_type", "bad_update_missing_form_type", "bad_update_non_utf8", "bad_update_syntax",
    "bad_update_dataset_conflict",
)

NO_UPDATE = ("Amity exposes no SPARQL Update over the protocol: the public endpoint is read-only and partner "
             "data goes through the Graph Store and SHACL-validated merges (README, docs/reliability.md)")

#: Cases we deliberately do not support, keyed by their manifest name.
NOT_SUPPORTED = {
    "update_dataset_default_graph": NO_UPDATE,
    "update_dataset_default_graphs": NO_UPDATE,
    "update_dataset_named_graphs": NO_UPDATE,
    "update_dataset_full": NO_UPDATE,
    "update_post_form": NO_UPDATE,
    "update_post_direct": NO_UPDATE,
    "update_base_uri": NO_UPDATE + "; the service BASE IRI of an update cannot be observed without one",
}

DATA = "http://kasei.us/2009/09/sparql/data/"
DATA0, DATA1, DATA2, DATA3 = (f"{DATA}data{n}.rdf" for n in range(4))
FOAF_DOCUMENT = "http://xmlns.com/foaf/0.1/Document"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
DC = "http://purl.org/dc/terms/"
DC_TITLE = DC + "title"

FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"
UPDATE = "application/sparql-update"
BOOLEAN_TYPES = ("application/sparql-results+xml", "application/sparql-results+json")
TABULAR_TYPES = (*BOOLEAN_TYPES, "text/csv", "text/tab-separated-values")
RDF_TYPES = ("application/rdf+xml", "text/turtle", "application/n-triples", "application/ld+json")
RESULTS_PARSERS = {
    "application/sparql-results+xml": QueryResultsFormat.XML,
    "application/sparql-results+json": QueryResultsFormat.JSON,
    "text/csv": QueryResultsFormat.CSV,
    "text/tab-separated-values": QueryResultsFormat.TSV,
}
RDFLIB_PARSERS = {"application/rdf+xml": "xml", "text/turtle": "turtle", "application/n-triples": "nt",
                  "application/ld+json": "json-ld"}


def enc(value: str) -> str:
    """Percent-encode a parameter value as the manifest does (every reserved character)."""
    return quote(value, safe="")


def unsupported(name: str):
    return pytest.mark.xfail(reason=NOT_SUPPORTED[name], strict=True)


# -- the service under test ----------------------------------------------------------------------------


def protocol_quads() -> Iterator[Quad]:
    """The three graphs the manifest's ``ut:graphData`` declares: each names and types itself."""
    for n, graph in ((1, DATA1), (2, DATA2), (3, DATA3)):
        g = NamedNode(graph)
        yield Quad(g, NamedNode(RDF_TYPE), NamedNode(FOAF_DOCUMENT), g)
        yield Quad(g, NamedNode(DC_TITLE), Literal(f"data{n}"), g)


@pytest.fixture(scope="module")
def server(store_kind, tmp_path_factory, request) -> Iterator[LiveServer]:
    """The three graphs on the store under test (on Virtuoso: Amity's graphs are those under ``DATA``)."""
    root = tmp_path_factory.mktemp("protocol")
    if store_kind == "virtuoso":
        from tests.remote_stores import remote_store

        store = remote_store(request.getfixturevalue("virtuoso"), protocol_quads(), root / "state",
                             graph_prefix=DATA)
    else:
        store = EmbeddedStore(root / "store")
        master_dir, version = store.next_master_dir()
        master = Store(str(master_dir))
        master.bulk_extend(protocol_quads())
        store.publish_new_master(master, master_dir, version)
        del master
    live = start_server(store, root / "server.log", timeout=10.0, workers=1, threads=2, query_workers=1)
    yield live
    stop_server(live)


def send(server: LiveServer, method: str, path: str, *, body: bytes | str | None = None,
         content_type: str | None = None, accept: str | None = None) -> requests.Response:
    """Replay a manifest request: its ``/sparql/…`` path is our ``/sparql…``, its query string is kept verbatim."""
    assert path.startswith("/sparql/")
    url = server.url + "sparql" + path[len("/sparql/"):]
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if accept is not None:
        headers["Accept"] = accept
    if isinstance(body, str):
        body = body.encode("utf-8")
    return requests.request(method, url, data=body, headers=headers, timeout=30)


def media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def assert_success(response: requests.Response) -> None:
    """The manifest's ``ht:StatusCode2xx, ht:StatusCode3xx``."""
    assert 200 <= response.status_code < 400, f"{response.status_code}: {response.text[:300]}"


def assert_client_error(response: requests.Response) -> None:
    """The manifest's ``ht:StatusCode4xx``, with an RFC 9457 problem document a client can read."""
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert media_type(response) == "application/problem+json"
    assert response.json()["detail"]


def boolean_answer(response: requests.Response) -> bool:
    """``mf:expectedFormat "boolean"``: a boolean result in a SPARQL results format."""
    assert_success(response)
    assert media_type(response) in BOOLEAN_TYPES, response.headers.get("Content-Type")
    result = parse_query_results(response.content, RESULTS_PARSERS[media_type(response)])
    assert isinstance(result, QueryBoolean)
    return bool(result)


def tabular_answer(response: requests.Response) -> list[dict[str, str | None]]:
    """``mf:expectedFormat "tabular"``: solutions in one of the four SPARQL results formats, as strings."""
    assert_success(response)
    assert media_type(response) in TABULAR_TYPES, response.headers.get("Content-Type")
    if media_type(response) == "text/csv":  # lossy (no term kinds), so no RDF parser reads it: rows of strings
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    results = parse_query_results(response.content, RESULTS_PARSERS[media_type(response)])
    names = [variable.value for variable in results.variables]
    return [{name: term.value if term is not None else None for name, term in zip(names, solution, strict=True)}
            for solution in results]


def rdf_answer(response: requests.Response) -> rdflib.Graph:
    """``mf:expectedFormat "RDF"``: an RDF graph in a format the media type names."""
    assert_success(response)
    assert media_type(response) in RDF_TYPES, response.headers.get("Content-Type")
    return rdflib.Graph().parse(data=response.content, format=RDFLIB_PARSERS[media_type(response)])


def quad_count(server: LiveServer) -> int:
    response = send(server, "GET", "/sparql/?query=" + enc("SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }"),
                    accept="application/sparql-results+json")
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


# -- every case is here --------------------------------------------------------------------------------


def test_every_manifest_case_is_specified_here():
    """A case added to the manifest must get its test (or its reason for not being supported)."""
    module = sys.modules[__name__]
    missing = [name for name in MANIFEST if not callable(getattr(module, f"test_{name}", None))]
    assert missing == []
    assert set(NOT_SUPPORTED) <= set(MANIFEST)


# -- query operation: the three ways to send a query (§2.1.1–2.1.3) -------------------------------------


def test_query_get(server):
    """§2.1.1: ``query`` in the query string of a GET, with a protocol dataset that does not exist (empty)."""
    response = send(server, "GET", f"/sparql/?query={enc('ASK {}')}&default-graph-uri={enc(DATA0)}")
    assert boolean_answer(response) is True


def test_query_post_form(server):
    """§2.1.2: ``query`` URL-encoded in the body of a POST; dataset parameters may stay in the query string."""
    response = send(server, "POST", f"/sparql/?default-graph-uri={enc(DATA0)}", body="query=ASK%20%7B%7D",
                    content_type=FORM)
    assert boolean_answer(response) is True


def test_query_post_direct(server):
    """§2.1.3: the unencoded query is the body of a POST with media type ``application/sparql-query``."""
    response = send(server, "POST", "/sparql/", body="ASK {}", content_type=DIRECT)
    assert boolean_answer(response) is True


def test_query_post_form_takes_dataset_parameters_from_the_body_too(server):
    """§2.1.2: with a URL-encoded POST, ``default-graph-uri`` may travel in the body next to ``query``."""
    query = f"ASK {{ <{DATA2}> a ?type }}"
    inside = send(server, "POST", "/sparql/", body=f"query={enc(query)}&default-graph-uri={enc(DATA2)}",
                  content_type=FORM)
    outside = send(server, "POST", "/sparql/", body=f"query={enc(query)}&default-graph-uri={enc(DATA1)}",
                   content_type=FORM)
    assert boolean_answer(inside) is True and boolean_answer(outside) is False


# -- the RDF dataset: default-graph-uri and named-graph-uri (§2.1.4) ------------------------------------

BOTH_TYPED = f"ASK {{ <{DATA1}> a ?type . <{DATA2}> a ?type . }}"
BOTH_NAMED = f"ASK {{ GRAPH ?g1 {{ <{DATA1}> a ?type }} GRAPH ?g2 {{ <{DATA2}> a ?type }} }}"
DEFAULT_1_2 = f"default-graph-uri={enc(DATA1)}&default-graph-uri={enc(DATA2)}"
NAMED_1_2 = f"named-graph-uri={enc(DATA1)}&named-graph-uri={enc(DATA2)}"


def test_query_dataset_default_graphs_get(server):
    """Two ``default-graph-uri`` make the default graph the merge of both graphs."""
    assert boolean_answer(send(server, "GET", f"/sparql/?query={enc(BOTH_TYPED)}&{DEFAULT_1_2}")) is True
    only_one = send(server, "GET", f"/sparql/?query={enc(BOTH_TYPED)}&default-graph-uri={enc(DATA1)}")
    assert boolean_answer(only_one) is False, "a graph left out of the protocol dataset is not queried"


def test_query_dataset_default_graphs_post(server):
    """The same by direct POST: dataset parameters in the query string, the query in the body."""
    response = send(server, "POST", f"/sparql/?{DEFAULT_1_2}", body=BOTH_TYPED, content_type=DIRECT)
    assert boolean_answer(response) is True
    only_one = send(server, "POST", f"/sparql/?default-graph-uri={enc(DATA2)}", body=BOTH_TYPED,
                    content_type=DIRECT)
    assert boolean_answer(only_one) is False


def test_query_dataset_named_graphs_post(server):
    """Two ``named-graph-uri`` are the named graphs ``GRAPH ?g`` ranges over."""
    response = send(server, "POST", f"/sparql/?{NAMED_1_2}", body=BOTH_NAMED, content_type=DIRECT)
    assert boolean_answer(response) is True
    only_one = send(server, "POST", f"/sparql/?named-graph-uri={enc(DATA1)}", body=BOTH_NAMED, content_type=DIRECT)
    assert boolean_answer(only_one) is False


def test_query_dataset_named_graphs_get(server):
    """The same by GET."""
    assert boolean_answer(send(server, "GET", f"/sparql/?query={enc(BOTH_NAMED)}&{NAMED_1_2}")) is True
    graphs = send(server, "GET", "/sparql/?query=" + enc("SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }")
                  + f"&{NAMED_1_2}", accept="application/sparql-results+json")
    assert {b["g"]["value"] for b in graphs.json()["results"]["bindings"]} == {DATA1, DATA2}


def test_query_dataset_full(server):
    """Both parameters at once: data3 is the default graph, data1 and data2 the named graphs."""
    query = (f"ASK {{\n  <{DATA3}> a ?type\n  GRAPH ?g1 {{ <{DATA1}> a ?type }}\n"
             f"  GRAPH ?g2 {{ <{DATA2}> a ?type }}\n}}")
    response = send(server, "POST", f"/sparql/?default-graph-uri={enc(DATA3)}&{NAMED_1_2}", body=query,
                    content_type=DIRECT)
    assert boolean_answer(response) is True


def test_query_multiple_dataset(server):
    """A dataset in the query (FROM) and in the protocol: the protocol's wins (§2.1.4).

    The manifest's request percent-encodes the ``&`` between its two ``named-graph-uri`` parameters
    (``…data1.rdf%26named-graph-uri%3D…``), which makes it one parameter naming a graph that does not
    exist; we send what the case's author says the validator really sent (w3c/rdf-tests#78): two parameters.
    """
    query = f"ASK FROM <{DATA3}> {{ GRAPH ?g1 {{ <{DATA1}> a ?type }} GRAPH ?g2 {{ <{DATA2}> a ?type }} }}"
    response = send(server, "POST", f"/sparql/?{NAMED_1_2}", body=query, content_type=DIRECT)
    assert boolean_answer(response) is True
    from_ignored = send(server, "POST", f"/sparql/?default-graph-uri={enc(DATA1)}",
                        body=f"ASK FROM <{DATA3}> {{ <{DATA3}> a ?type }}", content_type=DIRECT)
    assert boolean_answer(from_ignored) is False, "FROM is overridden by default-graph-uri"
    from_used = send(server, "POST", "/sparql/", body=f"ASK FROM <{DATA3}> {{ <{DATA3}> a ?type }}",
                     content_type=DIRECT)
    assert boolean_answer(from_used) is True, "without protocol dataset, the query's FROM applies"


@pytest.mark.parametrize("parameter", ["default-graph-uri", "named-graph-uri"])
def test_a_dataset_parameter_that_is_not_an_iri_is_a_client_error(server, parameter):
    """Not in the manifest: the parameters take IRIs (§2.1.4); ``not an iri`` is the client's mistake, a 400."""
    response = send(server, "GET", f"/sparql/?query={enc('ASK {}')}&{parameter}={enc('not an iri')}")
    assert_client_error(response)
    assert response.status_code == 400 and parameter in response.json()["detail"]


# -- content types of the four query forms (§2.1.5 and the results specifications) --------------------


@pytest.mark.parametrize("accept", [None, *TABULAR_TYPES])
def test_query_content_type_select(server, accept):
    """SELECT answers in SPARQL XML, JSON, CSV or TSV; each offered one when asked for by Accept."""
    response = send(server, "POST", f"/sparql/?default-graph-uri={enc(DATA0)}", body="SELECT (1 AS ?value) {}",
                    content_type=DIRECT, accept=accept)
    rows = tabular_answer(response)
    assert accept is None or media_type(response) == accept
    assert rows == [{"value": "1"}]


@pytest.mark.parametrize("accept", [None, *BOOLEAN_TYPES])
def test_query_content_type_ask(server, accept):
    """ASK answers with a boolean in SPARQL XML or JSON."""
    response = send(server, "POST", f"/sparql/?default-graph-uri={enc(DATA0)}", body="ASK {}",
                    content_type=DIRECT, accept=accept)
    assert boolean_answer(response) is True
    assert accept is None or media_type(response) == accept


@pytest.mark.parametrize("accept", [None, *RDF_TYPES])
def test_query_content_type_describe(server, accept):
    """DESCRIBE answers with RDF (RDF/XML, Turtle, N-Triples or JSON-LD here), even when nothing is known."""
    response = send(server, "POST", f"/sparql/?default-graph-uri={enc(DATA0)}", body="DESCRIBE <http://example.org/>",
                    content_type=DIRECT, accept=accept)
    assert len(rdf_answer(response)) == 0
    assert accept is None or media_type(response) == accept


@pytest.mark.parametrize("accept", [None, *RDF_TYPES])
def test_query_content_type_construct(server, accept):
    """CONSTRUCT answers with RDF; relative IRIs resolve against the service base, our namespace."""
    response = send(server, "POST", f"/sparql/?default-graph-uri={enc(DATA0)}",
                    body="CONSTRUCT { <s> <p> 1 } WHERE {}", content_type=DIRECT, accept=accept)
    graph = rdf_answer(response)
    assert len(graph) == 1
    (subject, _, value), = graph
    assert str(subject) == "https://w3id.org/citydiplomacy/s" and int(value) == 1
    assert accept is None or media_type(response) == accept


def test_describe_of_a_stored_resource_returns_its_triples(server):
    """Not in the manifest: DESCRIBE must actually describe (over the union of graphs by default)."""
    graph = rdf_answer(send(server, "GET", f"/sparql/?query={enc(f'DESCRIBE <{DATA2}>')}", accept="text/turtle"))
    assert (rdflib.URIRef(DATA2), rdflib.URIRef(DC_TITLE), rdflib.Literal("data2")) in graph


# -- update operation: not offered (§2.2) ---------------------------------------------------------------


def _update_then_ask(server: LiveServer, update_path: str, update: str, ask: str) -> None:
    """The positive update cases: the update succeeds, then an ASK sees its effect."""
    assert_success(send(server, "POST", update_path, body=update, content_type=UPDATE))
    assert boolean_answer(send(server, "POST", "/sparql/", body=ask, content_type=DIRECT)) is True


UPDATE_PROLOGUE = "PREFIX dc: <http://purl.org/dc/terms/>\nPREFIX foaf: <http://xmlns.com/foaf/0.1/>\n"
INSERT_THREE = ("DROP ALL ;\nINSERT DATA {\n"
                + "".join(f" GRAPH <{g}> {{ <{g}> a foaf:Document }}\n" for g in (DATA1, DATA2, DATA3)) + "} ;\n")


@unsupported("update_dataset_default_graph")
def test_update_dataset_default_graph(server):
    """``using-graph-uri`` sets the default graph the WHERE of an update reads."""
    target = "http://example.org/protocol-update-dataset-test/"
    update = (UPDATE_PROLOGUE + f"CLEAR ALL ;\nINSERT DATA {{ GRAPH <{DATA1}> {{ <{DATA1}> a foaf:Document }} }} ;\n"
              f"INSERT {{ GRAPH <{target}> {{ ?s a dc:BibliographicResource }} }} WHERE {{ ?s a foaf:Document }}")
    _update_then_ask(server, f"/sparql/?using-graph-uri={enc(DATA1)}", update,
                     f"ASK {{ GRAPH <{target}> {{ <{DATA1}> a <http://purl.org/dc/terms/BibliographicResource> }} }}")


@unsupported("update_dataset_default_graphs")
def test_update_dataset_default_graphs(server):
    """Two ``using-graph-uri``: the WHERE reads their merge and nothing else."""
    target = "http://example.org/protocol-update-dataset-graphs-test/"
    update = (UPDATE_PROLOGUE + INSERT_THREE +
              f"INSERT {{ GRAPH <{target}> {{ ?s a dc:BibliographicResource }} }} WHERE {{ ?s a foaf:Document }}")
    ask = (f"ASK {{ GRAPH <{target}> {{ <{DATA1}> a <{DC}BibliographicResource> . "
           f"<{DATA2}> a <{DC}BibliographicResource> }} FILTER NOT EXISTS {{ GRAPH <{target}> "
           f"{{ <{DATA3}> a <{DC}BibliographicResource> }} }} }}")
    _update_then_ask(server, f"/sparql/?using-graph-uri={enc(DATA1)}&using-graph-uri={enc(DATA2)}", update, ask)


@unsupported("update_dataset_named_graphs")
def test_update_dataset_named_graphs(server):
    """Two ``using-named-graph-uri``: ``GRAPH ?g`` in the WHERE ranges over them only."""
    target = "http://example.org/protocol-update-dataset-named-graphs-test/"
    update = (UPDATE_PROLOGUE + INSERT_THREE + f"INSERT {{ GRAPH <{target}> {{ ?s a dc:BibliographicResource }} }} "
              "WHERE { GRAPH ?g { ?s a foaf:Document } }")
    ask = (f"ASK {{ GRAPH <{target}> {{ <{DATA1}> a ?t . <{DATA2}> a ?t }} "
           f"FILTER NOT EXISTS {{ GRAPH <{target}> {{ <{DATA3}> a ?u }} }} }}")
    _update_then_ask(server, f"/sparql/?using-named-graph-uri={enc(DATA1)}&using-named-graph-uri={enc(DATA2)}",
                     update, ask)


@unsupported("update_dataset_full")
def test_update_dataset_full(server):
    """``using-graph-uri`` and ``using-named-graph-uri`` together."""
    target = "http://example.org/protocol-update-dataset-full-test/"
    update = (UPDATE_PROLOGUE + INSERT_THREE + f"INSERT {{ GRAPH <{target}> {{ ?s <http://example.org/in> ?in }} }} "
              "WHERE { { GRAPH ?g { ?s a foaf:Document } BIND(?g AS ?in) } "
              "UNION { ?s a foaf:Document . BIND(\"default\" AS ?in) } }")
    ask = (f"ASK {{ GRAPH <{target}> {{ <{DATA1}> <http://example.org/in> \"default\" . "
           f"<{DATA2}> <http://example.org/in> <{DATA2}> }} "
           f"FILTER NOT EXISTS {{ GRAPH <{target}> {{ <{DATA3}> ?p ?o }} }} }}")
    _update_then_ask(server, f"/sparql/?using-graph-uri={enc(DATA1)}&using-named-graph-uri={enc(DATA2)}",
                     update, ask)


@unsupported("update_post_form")
def test_update_post_form(server):
    """§2.2.1: ``update`` URL-encoded in a POST body."""
    assert_success(send(server, "POST", "/sparql/", body="update=CLEAR+ALL", content_type=FORM))


@unsupported("update_post_direct")
def test_update_post_direct(server):
    """§2.2.2: the update as the body of a POST with media type ``application/sparql-update``."""
    assert_success(send(server, "POST", "/sparql/", body="CLEAR ALL", content_type=UPDATE))


@unsupported("update_base_uri")
def test_update_base_uri(server):
    """A relative IRI in an update resolves against a service-defined base, never stays ``<test>``."""
    graph = "http://example.org/protocol-base-test/"
    update = (f"CLEAR GRAPH <{graph}> ;\n"
              f"INSERT DATA {{ GRAPH <{graph}> {{ <http://example.org/s> <http://example.org/p> <test> }} }}")
    assert_success(send(server, "POST", "/sparql/", body=update, content_type=UPDATE))
    rows = tabular_answer(send(server, "POST", "/sparql/", content_type=DIRECT,
                               body=f"SELECT ?o {{ GRAPH <{graph}> {{ <http://example.org/s> ?p ?o }} }}"))
    assert len(rows) == 1 and rows[0]["o"] not in ("test", None)


# -- negative cases: the client made a mistake (4xx), and nothing changed -------------------------------


def test_bad_query_method(server):
    """Only GET and POST invoke the query operation; PUT is refused (405 with ``Allow``)."""
    response = send(server, "PUT", f"/sparql/?query={enc('ASK {}')}&default-graph-uri={enc(DATA0)}",
                    body=b"", content_type=FORM)
    assert_client_error(response)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_bad_multiple_queries(server):
    """Exactly one ``query`` parameter (§2.1.1): two are a client error."""
    assert_client_error(send(server, "GET", "/sparql/?query=ASK%20%7B%7D&query=SELECT%20%2A%20%7B%7D"))


def test_bad_multiple_queries_in_a_form(server):
    """Not in the manifest: the same rule for a URL-encoded POST."""
    assert_client_error(send(server, "POST", "/sparql/", body="query=ASK%20%7B%7D&query=ASK%20%7B%7D",
                             content_type=FORM))


def test_bad_query_wrong_media_type(server):
    """A POST body that is neither URL-encoded nor ``application/sparql-query`` is refused (415)."""
    response = send(server, "POST", "/sparql/", body="ASK {}", content_type="text/plain")
    assert_client_error(response)
    assert response.status_code == 415


def test_bad_query_missing_form_type(server):
    """A URL-encoded body without its media type is not guessed at (415)."""
    response = send(server, "POST", "/sparql/", body="query=ASK%20%7B%7D")
    assert_client_error(response)
    assert response.status_code == 415


def test_bad_query_missing_direct_type(server):
    """A query body without ``application/sparql-query`` is not guessed at (415)."""
    response = send(server, "POST", "/sparql/", body="ASK {}")
    assert_client_error(response)
    assert response.status_code == 415


def test_bad_query_non_utf8(server):
    """A direct POST must be UTF-8 (§2.1.3); a UTF-16 body with its BOM is refused."""
    response = send(server, "POST", "/sparql/", body="ASK {}".encode("utf-16"),
                    content_type=DIRECT + "; charset=UTF-16")
    assert_client_error(response)


def test_bad_query_syntax(server):
    """A query that does not parse is a 400 that says where."""
    response = send(server, "GET", "/sparql/?query=ASK%20%7B")
    assert_client_error(response)
    assert response.status_code == 400 and "line" in response.json()


@pytest.fixture
def unchanged(server) -> Iterator[None]:
    """The negative update cases must leave the data as it was."""
    before = quad_count(server)
    yield
    assert quad_count(server) == before == len(list(protocol_quads()))


def test_bad_update_get(server, unchanged):
    """The update operation is POST only (§2.2): ``update`` in a GET is refused."""
    assert_client_error(send(server, "GET", "/sparql/?update=CLEAR%20ALL"))


def test_bad_multiple_updates(server, unchanged):
    """Two ``update`` parameters are a client error (and here every update is)."""
    assert_client_error(send(server, "POST", "/sparql/", body="update=CLEAR%20NAMED&update=CLEAR%20DEFAULT",
                             content_type=FORM))


def test_bad_update_wrong_media_type(server, unchanged):
    """An update body as ``text/plain`` is refused (415)."""
    response = send(server, "POST", "/sparql/", body="CLEAR NAMED", content_type="text/plain")
    assert_client_error(response)
    assert response.status_code == 415


def test_bad_update_missing_form_type(server, unchanged):
    """A URL-encoded update without its media type is refused."""
    assert_client_error(send(server, "POST", "/sparql/", body="update=CLEAR%20NAMED"))


def test_bad_update_non_utf8(server, unchanged):
    """A UTF-16 update body is refused."""
    assert_client_error(send(server, "POST", "/sparql/", body="CLEAR NAMED".encode("utf-16"),
                             content_type=UPDATE + "; charset=UTF-16"))


def test_bad_update_syntax(server, unchanged):
    """An update that does not parse is refused."""
    assert_client_error(send(server, "POST", "/sparql/", body="update=CLEAR%20XYZ", content_type=FORM))


def test_bad_update_dataset_conflict(server, unchanged):
    """``using-named-graph-uri`` together with ``WITH`` in the update is a client error."""
    update = ("PREFIX foaf:  <http://xmlns.com/foaf/0.1/>\nWITH <http://example/addresses>\n"
              "DELETE { ?person foaf:givenName 'Bill' }\nINSERT { ?person foaf:givenName 'William' }\n"
              "WHERE {\n    ?person foaf:givenName 'Bill'\n}")
    assert_client_error(send(server, "POST", f"/sparql/?using-named-graph-uri={enc('http://example/people')}",
                             body=update, content_type=UPDATE))


def test_an_update_sent_as_a_query_is_refused_and_changes_nothing(server, unchanged):
    """Not in the manifest: an update in the ``query`` parameter is not run either."""
    for text in ("CLEAR ALL", f"DROP GRAPH <{DATA1}>", f"INSERT DATA {{ <{DATA1}> <{DC_TITLE}> 'x' }}"):
        assert_client_error(send(server, "POST", "/sparql/", body=text, content_type=DIRECT))
        assert_client_error(send(server, "GET", f"/sparql/?query={enc(text)}"))
