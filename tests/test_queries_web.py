"""Saved queries over HTTP: catalogue, pages, every format, paging, OpenAPI, and the CLI's same bytes."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import urlencode

import pytest
import rdflib
from click.testing import CliRunner
from openapi_spec_validator import validate

from amity import catalogue, formats, iris
from amity.cli import cli
from tests.conftest import assert_problem
from tests.remote_stores import cli as store_cli

pytestmark = pytest.mark.both_stores

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}


def test_catalogue_page_lists_every_query(client):
    response = client.get("/queries", headers=HTML)
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for query in catalogue.load_catalogue():
        assert f'href="/queries/{query.name}"' in page


def test_catalogue_as_json_by_extension_and_by_accept(client):
    by_extension = client.get("/queries.json").get_json()
    by_accept = client.get("/queries", headers=JSON).get_json()
    assert by_extension == by_accept
    twins = next(q for q in by_extension if q["name"] == "twins-of-city")
    assert twins["url"].endswith("/queries/twins-of-city")
    assert [p["name"] for p in twins["params"]] == ["city", "status"] and "SELECT" in twins["query"]


def test_query_page_has_form_table_map_and_network(client):
    response = client.get("/queries/twins-of-city?city=Qingdao", headers=HTML)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.search(r'<select id="param-status" name="status">', page)
    assert 'value="https://w3id.org/citydiplomacy/vocab/twinning-status/intent"' in page
    assert '<table class="results" id="results">' in page and "Saint Petersburg" in page
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page
    assert 'class="map"' in page and 'class="network"' in page
    for extension in ("json", "xml", "csv", "tsv"):
        assert f"/queries/twins-of-city.{extension}?city=Qingdao&amp;download=1" in page


def test_counts_per_country_draw_a_bar_chart(client):
    page = client.get("/queries/network-members-by-country?network=c40", headers=HTML).get_data(as_text=True)
    assert 'class="chart"' in page and page.count('class="bar"') >= 10


def test_construct_query_page_shows_turtle(client):
    page = client.get("/queries/city-profile-graph?city=Qingdao", headers=HTML).get_data(as_text=True)
    assert '<pre class="turtle" id="graph">' in page and "Q170322" in page
    assert "/queries/city-profile-graph.ttl?city=Qingdao&amp;download=1" in page


def test_page_escapes_what_users_type(client):
    page = client.get("/queries/label-search?text=%3Cscript%3Ealert(1)%3C/script%3E", headers=HTML)
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.get_data(as_text=True)


def test_bad_parameter_on_a_page_shows_the_form_with_candidates(client):
    response = client.get("/queries/twins-of-city?city=Springfield", headers=HTML)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="problem"' in page and 'class="candidates"' in page and "<form" in page


@pytest.mark.parametrize("fmt", formats.RESULTS, ids=lambda f: f.name)
def test_every_result_format_by_extension_accept_and_parameter(client, fmt):
    base = "/queries/twins-of-city"
    bodies = []
    for url, headers in ((f"{base}.{fmt.extensions[0]}?city=Qingdao", {}),
                         (f"{base}?city=Qingdao", {"Accept": fmt.media_type}),
                         (f"{base}?city=Qingdao&format={fmt.name}", {})):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        assert response.mimetype == fmt.media_type
        assert "rel=\"alternate\"" in response.headers["Link"]
        bodies.append(response.data)
    assert bodies[0] == bodies[1] == bodies[2]
    assert b"Saint Petersburg" in bodies[0]


def test_csv_answer_has_the_parameter_columns(client):
    text = client.get("/queries/twins-of-city.csv?city=Qingdao").get_data(as_text=True)
    table = list(csv.DictReader(io.StringIO(text)))
    assert table and {row["city"] for row in table} == {iris.ID + "city/Q170322"}


@pytest.mark.parametrize("extension,media_type", [("ttl", "text/turtle"), ("nt", "application/n-triples"),
                                                  ("jsonld", "application/ld+json"),
                                                  ("rdf", "application/rdf+xml")])
def test_construct_query_in_every_rdf_format(client, extension, media_type):
    response = client.get(f"/queries/city-profile-graph.{extension}?city=Qingdao")
    assert response.status_code == 200 and response.mimetype == media_type
    graph = rdflib.Graph().parse(data=response.data, format={"ttl": "turtle", "nt": "nt", "jsonld": "json-ld",
                                                             "rdf": "xml"}[extension])
    assert len(graph) > 50


def test_a_format_the_query_cannot_give_is_406(client):
    assert_problem(client.get("/queries/twins-of-city.ttl"), 406)
    assert_problem(client.get("/queries/city-profile-graph.csv"), 406)


def test_paging_with_link_next_until_the_end(client):
    url = "/queries/twins-of-city.json?" + urlencode({"city": "Q656", "limit": 40})
    whole = client.get("/queries/twins-of-city.json?city=Q656").get_json()["results"]["bindings"]
    seen, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen += response.get_json()["results"]["bindings"]
        pages += 1
        match = re.search(r'<([^>]+)>; rel="next"', response.headers.get("Link", ""))
        url = match.group(1) if match else None
        if url:
            assert "offset=" in url and "limit=40" in url and "city=Q656" in url
    assert pages == 3 and seen == whole


def test_query_page_pages_long_answers(client):
    response = client.get("/queries/most-twinned-cities?min_twins=1&limit=25", headers=HTML)
    page = response.get_data(as_text=True)
    assert page.count("<tr>") == 26 and 'id="next-page"' in page and 'rel="next"' in response.headers["Link"]
    second = client.get("/queries/most-twinned-cities?min_twins=1&limit=25&offset=25", headers=HTML)
    assert 'rel="prev"' in second.get_data(as_text=True)


def test_download_is_an_attachment(client):
    response = client.get("/queries/twins-of-city.csv?city=Qingdao&download=1")
    assert response.headers["Content-Disposition"] == 'attachment; filename="twins-of-city.csv"'


@pytest.mark.parametrize("path", ["/queries/nope", "/queries/nope.json", "/queries/..%2F..%2Fetc%2Fpasswd",
                                  "/queries/%2E%2E", "/queries/twins-of-city/../../server.py"])
def test_unknown_or_crafted_query_names_are_404(client, path):
    assert_problem(client.get(path, headers=JSON), 404)


def test_parameter_errors_are_400_naming_the_parameter(client):
    body = assert_problem(client.get("/queries/most-twinned-cities.json?min_twins=many"), 400)
    assert body["parameter"] == "min_twins" and "integer" in body["detail"]
    body = assert_problem(client.get("/queries/twins-of-city.json?town=Qingdao"), 400)
    assert body["parameters"] == ["city", "status"]
    body = assert_problem(client.get("/queries/twins-of-city.json?city=Springfield"), 400)
    assert body["parameter"] == "city" and len(body["candidates"]) > 1
    body = assert_problem(client.get("/queries/twins-of-city.json?city=Qingdao&city=Perm"), 400)
    assert body["parameter"] == "city"
    body = assert_problem(client.get("/queries/twins-of-city.json?limit=zero"), 400)
    assert body["parameter"] == "limit"


def test_openapi_document_is_valid_and_describes_every_query(client):
    document = client.get("/openapi.json").get_json()
    validate(document)
    paths = document["paths"]
    for query in catalogue.load_catalogue():
        operation = paths[f"/queries/{query.name}"]["get"]
        assert operation["summary"] == query.title
        assert {p["name"] for p in operation["parameters"]} >= {p.name for p in query.params}
    status = next(p for p in paths["/queries/twins-of-city"]["get"]["parameters"] if p["name"] == "status")
    assert iris.VOCAB + "twinning-status/intent" in status["schema"]["enum"]
    language = next(p for p in paths["/queries/label-search"]["get"]["parameters"] if p["name"] == "language")
    assert language["schema"]["enum"] == ["zh", "en", "ru"]


def _call(client, path: str, operation: dict, media_type: str):
    params = {p["name"]: str(p["example"]) for p in operation.get("parameters", []) if "example" in p}
    return client.get(path + ("?" + urlencode(params) if params else ""), headers={"Accept": media_type})


def test_every_openapi_operation_answers_as_described(client):
    document = client.get("/openapi.json").get_json()
    for path, item in document["paths"].items():
        operation = item["get"]
        declared = list(operation["responses"]["200"]["content"])
        media_type = next((m for m in declared if m != "text/html"), declared[0])
        response = _call(client, path, operation, media_type)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
        assert response.mimetype in declared and response.mimetype == media_type, path


SAME_BYTES = [
    ("twins-of-city", {"city": "Qingdao"}, "csv"),
    ("twins-of-city", {"city": "Q656", "status": "formal"}, "json"),
    ("most-twinned-cities", {"country": "CN"}, "tsv"),
    ("countries-without-formal-partner", {"city": "青岛", "network": "sco"}, "xml"),
    ("twinning-chain", {"from": "Qingdao", "to": "Berlin, DE"}, "json"),
    ("cities-near-point", {"lat": "31.23", "long": "121.47", "km": "80"}, "csv"),
    ("city-profile-graph", {"city": "Guangzhou"}, "ntriples"),
]


@pytest.mark.parametrize("name,params,fmt", SAME_BYTES, ids=[f"{n}-{f}" for n, _, f in SAME_BYTES])
def test_cli_and_http_give_the_same_bytes(client, served_store, name, params, fmt):
    store_args, env = store_cli(served_store)
    args = ["query", name, *store_args, "--format", fmt]
    for key, value in params.items():
        args += ["--param", f"{key}={value}"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False, env=env)
    assert result.exit_code == 0, result.output
    extension = formats.by_name(fmt, formats.RESULTS + formats.GRAPHS).extensions[0]
    response = client.get(f"/queries/{name}.{extension}?{urlencode(params)}")
    assert response.status_code == 200
    assert result.stdout_bytes == response.data and len(response.data) > 100


def test_cli_lists_the_catalogue_and_prints_a_table(served_store):
    listing = CliRunner().invoke(cli, ["query", "--list"], catch_exceptions=False)
    assert "twins-of-city" in listing.output and "--param city=<city>" in listing.output
    store_args, env = store_cli(served_store)
    table = CliRunner().invoke(cli, ["query", "intents-to-twin", *store_args, "--param", "city=Qingdao"],
                               catch_exceptions=False, env=env)
    assert "Bandar Abbas" in table.output and "(2 rows)" in table.output


def test_cli_reports_a_bad_parameter_as_one_line(served_store):
    store_args, env = store_cli(served_store)
    result = CliRunner().invoke(cli, ["query", "most-twinned-cities", *store_args, "--param", "min_twins=many"],
                                env=env)
    assert result.exit_code != 0 and "min_twins" in str(result.exception)


def test_json_results_are_valid_sparql_json(client):
    body = json.loads(client.get("/queries/role-holders.json?role=president").data)
    assert "holder" in body["head"]["vars"] and body["results"]["bindings"]
