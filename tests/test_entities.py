"""Dereferenceable IRIs, the VoID description and the dumps."""

from __future__ import annotations

import gzip

import pytest
import rdflib
import requests

from tests.conftest import assert_problem

pytestmark = pytest.mark.both_stores

GUANGZHOU = "https://w3id.org/citydiplomacy/id/city/Q16572"
SKOS_PREF = rdflib.URIRef("http://www.w3.org/2004/02/skos/core#prefLabel")


def test_city_page_for_people_shows_labels_twins_memberships_and_a_map(client):
    response = client.get("/id/city/Q16572", headers={"Accept": "text/html"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "广州" in html and "Guangzhou" in html
    assert "Twinnings" in html and "Memberships" in html
    assert "<svg" in html and 'class="map"' in html
    assert response.headers["Vary"] == "Accept"


@pytest.mark.parametrize("accept, rdflib_format", [
    ("text/turtle", "turtle"), ("application/ld+json", "json-ld"), ("application/n-triples", "nt"),
    ("application/rdf+xml", "xml"),
])
def test_city_in_rdf_by_content_negotiation(client, accept, rdflib_format):
    response = client.get("/id/city/Q16572", headers={"Accept": accept})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(accept)
    graph = rdflib.Graph().parse(data=response.get_data(), format=rdflib_format)
    labels = {str(label) for label in graph.objects(rdflib.URIRef(GUANGZHOU), SKOS_PREF)}
    assert {"广州", "Guangzhou"} <= labels


def test_extension_and_format_parameter_select_the_format(client):
    assert client.get("/id/city/Q16572.ttl").headers["Content-Type"].startswith("text/turtle")
    assert client.get("/id/city/Q16572?format=jsonld").headers["Content-Type"].startswith("application/ld+json")


def test_unknown_iri_is_404_problem(client):
    assert_problem(client.get("/id/city/Q0", headers={"Accept": "application/json"}), 404)


def test_ontology_and_vocabulary_terms_resolve(client):
    ontology = client.get("/ontology", headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=ontology.get_data(), format="turtle")
    assert (rdflib.URIRef("https://w3id.org/citydiplomacy/ontology#Twinning"), None, None) in graph
    page = client.get("/ontology", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'id="Twinning"' in page
    concept = client.get("/vocab/twinning-status/formal", headers={"Accept": "text/turtle"})
    assert concept.status_code == 200 and "skos:prefLabel" in concept.get_data(as_text=True)


def test_labels_are_escaped_in_html(client, app):
    from pyoxigraph import Literal, NamedNode

    from amity.describe import Description, Statement
    from amity.web.entities import _page

    with app.test_request_context("/id/city/x"):
        description = Description("https://w3id.org/citydiplomacy/id/city/x-evil")
        description.outgoing.append(Statement(NamedNode(str(SKOS_PREF)), Literal("<script>alert(1)</script>",
                                                                                  language="en"), "g"))
        description.labels = {description.iri: {"en": "<script>alert(1)</script>"}}
        html = _page(description)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_void_describes_graphs_with_licences_and_dumps(client):
    response = client.get("/.well-known/void", headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=response.get_data(), format="turtle")
    void = rdflib.Namespace("http://rdfs.org/ns/void#")
    dataset = rdflib.URIRef("https://w3id.org/citydiplomacy/dataset")
    assert (dataset, void.sparqlEndpoint, None) in graph
    subsets = set(graph.objects(dataset, void.subset))
    assert rdflib.URIRef("https://w3id.org/citydiplomacy/graph/wikidata-twinnings") in subsets
    licences = {str(o) for o in graph.objects(None, rdflib.URIRef("http://purl.org/dc/terms/license"))}
    assert any("creativecommons.org/licenses/by/4.0" in licence for licence in licences)
    assert any("publicdomain/zero" in licence for licence in licences)
    assert set(graph.objects(dataset, void.exampleResource))


def test_dumps_are_gzipped_nquads_of_everything_and_of_each_graph(live_server):
    whole = requests.get(live_server.url + "dumps/amity.nq.gz")
    assert whole.status_code == 200
    lines = gzip.decompress(whole.content).splitlines()
    count = int(requests.get(live_server.sparql_url(), params={"query": "SELECT (COUNT(*) AS ?n) "
                             "{ GRAPH ?g { ?s ?p ?o } }"}).json()["results"]["bindings"][0]["n"]["value"])
    assert len(lines) == count
    one = requests.get(live_server.url + "dumps/graph/countries.nq.gz")
    countries = gzip.decompress(one.content).splitlines()
    assert countries and all(line.endswith(b"<https://w3id.org/citydiplomacy/graph/countries> .")
                             for line in countries)
    assert requests.get(live_server.url + "dumps/graph/nope.nq.gz").status_code == 404
