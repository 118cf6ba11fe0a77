"""The Graph Store Protocol at /store, driven with ``requests`` against a running ``amity serve``.

One server for the module, on the small reference store of ``tests/test_merge.py``, with an upload limit of
64 KiB so the 413 is cheap to provoke. Every refusal is checked twice: the status and problem document the
client gets, and the store's quads, which must be byte-for-byte what they were.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import urllib.parse

import pytest
import rdflib
import requests
from pyoxigraph import RdfFormat, parse

from amity import history, iris
from amity.partners import Registry
from tests.conftest import start_server, stop_server
from tests.test_merge import (
    CITY,
    PARTNER,
    PARTNER_GRAPH,
    PREFIXES,
    dump,
    expand,
    make_reference_store,
    twinning_turtle,
)

pytestmark = pytest.mark.both_stores

UPLOAD_LIMIT = 64 * 1024
TURTLE = {"Content-Type": "text/turtle"}
OTHER = "unctad"


@pytest.fixture(scope="module")
def gsp(store_kind, tmp_path_factory):
    """A live server on a fresh reference store, with two partners and their tokens.

    On Virtuoso the module gets a server of its own: the session's scratch server is reset by other tests.
    """
    root = tmp_path_factory.mktemp("gsp")
    remote = None
    if store_kind == "virtuoso":
        import virtuoso

        remote = virtuoso.start()
    try:
        store = make_reference_store(root / "store", remote)
        registry = Registry(store)
        tokens = {name: registry.add(name)[1] for name in (PARTNER, OTHER)}
        server = start_server(store, root / "server.log",
                              extra_env={"AMITY_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)})
        yield server, tokens
        stop_server(server)
    finally:
        if remote is not None:
            remote.stop()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def problem(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text[:800]
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["detail"]
    return body


def put(server, graph: str, text: str, token: str | None, **kwargs) -> requests.Response:
    headers = {**TURTLE, **(auth(token) if token else {}), **kwargs.pop("headers", {})}
    return requests.put(server.url + "store", params={"graph": graph}, data=expand(text).encode(),
                        headers=headers, timeout=120, **kwargs)


def sparql(server, text: str) -> list[dict[str, str]]:
    response = requests.get(server.sparql_url(), params={"query": text},
                            headers={"Accept": "application/sparql-results+json"}, timeout=60)
    response.raise_for_status()
    return [{k: v["value"] for k, v in b.items()} for b in response.json()["results"]["bindings"]]


# -- reading -----------------------------------------------------------------------------------------------


def test_get_head_and_missing_graphs(gsp):
    server, _tokens = gsp
    url = server.url + "store"
    response = requests.get(url, params={"graph": iris.graph("gazetteer")}, timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    assert (rdflib.URIRef(CITY["Q90"]), None, None) in graph
    nt = requests.get(url, params={"graph": iris.graph("gazetteer")}, headers={"Accept": "application/n-triples"},
                      timeout=30)
    assert nt.headers["Content-Type"].startswith("application/n-triples") and len(nt.text.splitlines()) == len(graph)
    head = requests.head(url, params={"graph": iris.graph("gazetteer")}, timeout=30)
    assert head.status_code == 200 and head.content == b""
    problem(requests.get(url, params={"graph": iris.graph("nothing-here")}, timeout=30), 404)
    assert requests.head(url, params={"graph": iris.graph("nothing-here")}, timeout=30).status_code == 404
    problem(requests.get(url, timeout=30), 400)
    problem(requests.get(url, params={"graph": "not an iri"}, timeout=30), 400)


def test_default_is_the_union_of_all_graphs(gsp):
    server, _tokens = gsp
    response = requests.get(server.url + "store?default", headers={"Accept": "application/n-triples"}, timeout=60)
    assert response.status_code == 200
    triples = set(response.text.splitlines())
    assert any(CITY["Q90"] in line and "prefLabel" in line for line in triples)  # from graph/gazetteer
    assert any("twinnedWith" in line for line in triples)  # from graph/derived


# -- refusals ----------------------------------------------------------------------------------------------


MALFORMED = PREFIXES + "\ncdi:city/Q90 cdo:country .\n"  # the object is missing


def refusals(tokens):
    good = twinning_turtle("Q170322", "Q90")
    bad_shape = good.replace("cdo:twinningType tt:friendship-city ;", "")
    return {
        "no token": (dict(graph=PARTNER_GRAPH, text=good, token=None), 401),
        "wrong token": (dict(graph=PARTNER_GRAPH, text=good, token="not-a-token"), 401),
        "revoked-looking token": (dict(graph=PARTNER_GRAPH, text=good, token=tokens[PARTNER][:-2]), 401),
        "another partner's graph": (dict(graph=iris.partner_graph(OTHER), text=good, token=tokens[PARTNER]), 403),
        "a reference graph": (dict(graph=iris.graph("gazetteer"), text=good, token=tokens[PARTNER]), 403),
        "the provenance graph": (dict(graph=history.PROVENANCE_GRAPH, text=good, token=tokens[PARTNER]), 403),
        "malformed turtle": (dict(graph=PARTNER_GRAPH, text=MALFORMED, token=tokens[PARTNER]), 400),
        "a shape violation": (dict(graph=PARTNER_GRAPH, text=bad_shape, token=tokens[PARTNER]), 422),
        "too large": (dict(graph=PARTNER_GRAPH, text=good + "#" * UPLOAD_LIMIT, token=tokens[PARTNER]), 413),
    }


@pytest.mark.parametrize("case", ["no token", "wrong token", "revoked-looking token", "another partner's graph",
                                  "a reference graph", "the provenance graph", "malformed turtle",
                                  "a shape violation", "too large"])
@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_refusals_leave_the_store_byte_for_byte_as_it_was(gsp, case, method):
    server, tokens = gsp
    (request, status) = refusals(tokens)[case]
    before, version = dump(server.store), server.store.version()
    headers = {**TURTLE, **(auth(request["token"]) if request["token"] else {})}
    response = requests.request(method, server.url + "store", params={"graph": request["graph"]},
                                data=expand(request["text"]).encode(), headers=headers, timeout=120)
    body = problem(response, status)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if case == "malformed turtle":
        line = PREFIXES.count("\n") + 2
        assert body["line"] == line and body["column"] == expand(MALFORMED).splitlines()[line - 1].rindex(".") + 1
    if case == "a shape violation":
        assert body["report"]["violations"] >= 1 and body["report"]["results"]
    assert dump(server.store) == before and server.store.version() == version


def test_writes_to_the_default_graph_and_without_a_type_are_refused(gsp):
    server, tokens = gsp
    before = dump(server.store)
    for method in ("PUT", "POST", "DELETE"):
        response = requests.request(method, server.url + "store?default", data=b"", timeout=30,
                                    headers={**TURTLE, **auth(tokens[PARTNER])})
        problem(response, 403)
        problem(requests.request(method, server.url + "store?default", timeout=30), 401)
    response = requests.put(server.url + "store", params={"graph": PARTNER_GRAPH + "/typeless"}, data=b"<a> <b> <c> .",
                            headers={**auth(tokens[PARTNER]), "Content-Type": "application/pdf"}, timeout=30)
    problem(response, 415)
    assert dump(server.store) == before


def test_delete_and_rollback_refusals(gsp):
    server, tokens = gsp
    before = dump(server.store)
    for method, path in (("DELETE", "store"), ("POST", "store/rollback")):
        params = {"graph": iris.partner_graph(OTHER), "to": "1"}
        problem(requests.request(method, server.url + path, params=params, timeout=30), 401)
        problem(requests.request(method, server.url + path, params=params, headers=auth("bad"), timeout=30), 401)
        problem(requests.request(method, server.url + path, params=params, headers=auth(tokens[PARTNER]),
                                 timeout=30), 403)
        params["graph"] = iris.graph("gazetteer")
        problem(requests.request(method, server.url + path, params=params, headers=auth(tokens[PARTNER]),
                                 timeout=30), 403)
    assert dump(server.store) == before


def test_a_chunked_upload_is_cut_off_at_the_limit(gsp):
    """Without Content-Length the limit is enforced while the body streams in."""
    server, tokens = gsp
    before = dump(server.store)
    good = expand(twinning_turtle("Q956", "Q90")).encode()

    def chunks(total: int):
        yield good
        sent = len(good)
        while sent < total:
            yield b"# padding " * 100 + b"\n"
            sent += 1001

    headers = {**TURTLE, **auth(tokens[PARTNER])}
    response = requests.put(server.url + "store", params={"graph": PARTNER_GRAPH + "/chunked"},
                            data=chunks(2 * UPLOAD_LIMIT), headers=headers, timeout=60)
    problem(response, 413)
    assert dump(server.store) == before
    response = requests.put(server.url + "store", params={"graph": PARTNER_GRAPH + "/chunked"},
                            data=chunks(UPLOAD_LIMIT // 2), headers=headers, timeout=60)
    assert response.status_code == 201, response.text[:500]
    assert response.json()["upload"]["bytes"] < UPLOAD_LIMIT


def test_the_shacl_report_comes_as_turtle_on_request(gsp):
    server, tokens = gsp
    text = twinning_turtle("Q170322", "Q90").replace("cdo:status ts:formal ;", "")
    response = put(server, PARTNER_GRAPH + "/bad", text, tokens[PARTNER], headers={"Accept": "text/turtle"})
    assert response.status_code == 422 and response.headers["Content-Type"].startswith("text/turtle")
    report = rdflib.Graph().parse(data=response.text, format="turtle")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    assert (None, rdflib.RDF.type, sh.ValidationReport) in report
    assert (None, sh.conforms, rdflib.Literal(False)) in report


# -- writing -----------------------------------------------------------------------------------------------


def test_put_post_delete_and_the_new_twinning_is_queryable(gsp):
    server, tokens = gsp
    graph = PARTNER_GRAPH + "/twinnings"
    created = put(server, graph, twinning_turtle("Q170322", "Q90"), tokens[PARTNER])
    assert created.status_code == 201, created.text
    location = urllib.parse.urlsplit(created.headers["Location"])
    assert location.path == "/store" and urllib.parse.parse_qs(location.query) == {"graph": [graph]}
    body = created.json()
    assert body["created"] and body["version"] == 1 and body["triples"]["after"] == 7
    assert set(body["timings"]) >= {"parse", "reconcile", "validate", "commit", "derive", "publish"}
    twins = sparql(server, f"""PREFIX cdo: <{iris.ONTOLOGY}>
        SELECT ?twin WHERE {{ <{CITY['gn-1797929']}> cdo:twinnedWith ?twin }}""")
    assert {row["twin"] for row in twins} >= {CITY["Q90"]}

    replaced = put(server, graph, twinning_turtle("Q170322", "Q90", start="2020"), tokens[PARTNER])
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    added = requests.post(server.url + "store", params={"graph": graph}, timeout=60,
                          data=expand(twinning_turtle("Q956", "Q649")).encode(),
                          headers={**TURTLE, **auth(tokens[PARTNER])})
    assert added.status_code == 200 and added.json()["triples"]["after"] == 14

    got = requests.get(server.url + "store", params={"graph": graph}, headers={"Accept": "application/n-triples"},
                       timeout=30)
    assert '"2020"^^<http://www.w3.org/2001/XMLSchema#gYear>' in got.text and len(got.text.splitlines()) == 14

    deleted = requests.delete(server.url + "store", params={"graph": graph}, headers=auth(tokens[PARTNER]),
                              timeout=60)
    assert deleted.status_code == 200 and deleted.json()["operation"] == "delete"
    problem(requests.get(server.url + "store", params={"graph": graph}, timeout=30), 404)
    problem(requests.delete(server.url + "store", params={"graph": graph}, headers=auth(tokens[PARTNER]),
                            timeout=30), 404)


def test_a_graph_emptied_by_its_partner_is_there_and_empty_until_deleted(gsp):
    """A PUT of a document without triples leaves the graph empty, on either store (a remote store keeps no
    empty graphs: the history says it is there)."""
    server, tokens = gsp
    graph = PARTNER_GRAPH + "/emptied"
    assert put(server, graph, twinning_turtle("Q956", "Q90"), tokens[PARTNER]).status_code == 201
    emptied = put(server, graph, PREFIXES, tokens[PARTNER])
    assert emptied.status_code == 200 and emptied.json()["triples"]["after"] == 0
    got = requests.get(server.url + "store", params={"graph": graph}, headers={"Accept": "application/n-triples"},
                       timeout=30)
    assert got.status_code == 200 and got.text.strip() == ""
    assert requests.head(server.url + "store", params={"graph": graph}, timeout=30).status_code == 200
    deleted = requests.delete(server.url + "store", params={"graph": graph}, headers=auth(tokens[PARTNER]),
                              timeout=60)
    assert deleted.status_code == 200
    problem(requests.get(server.url + "store", params={"graph": graph}, timeout=30), 404)


def test_a_conflict_is_reported_and_both_claims_are_queryable(gsp):
    server, tokens = gsp
    graph = PARTNER_GRAPH + "/conflict"
    text = twinning_turtle("Q656", "Q170322", status="terminated", start="1993",
                           extra='; schema:endDate "2022"^^xsd:gYear ')
    response = put(server, graph, text, tokens[PARTNER])
    assert response.status_code == 201, response.text
    conflicts = response.json()["conflicts"]
    twinning = iris.twinning("Q656", "gn-1797929")
    assert {"subject": twinning, "predicate": iris.ONTOLOGY + "status",
            "partner_value": [iris.concept("twinning-status", "terminated")],
            "reference_value": iris.concept("twinning-status", "formal"),
            "reference_graph": iris.graph("wikidata-twinnings")} in conflicts
    rows = sparql(server, f"""PREFIX cdo: <{iris.ONTOLOGY}>
        SELECT ?g ?status WHERE {{ GRAPH ?g {{ <{twinning}> cdo:status ?status }} }}""")
    assert {(r["g"], r["status"].rsplit("/", 1)[1]) for r in rows} == {
        (graph, "terminated"), (iris.graph("wikidata-twinnings"), "formal")}
    requests.delete(server.url + "store", params={"graph": graph}, headers=auth(tokens[PARTNER]), timeout=60)


def test_history_and_rollback_over_http(gsp):
    server, tokens = gsp
    graph = PARTNER_GRAPH + "/rollback"
    assert put(server, graph, twinning_turtle("Q170322", "Q90"), tokens[PARTNER]).status_code == 201
    first = requests.get(server.url + "store", params={"graph": graph}, headers={"Accept": "application/n-triples"},
                         timeout=30).text
    assert put(server, graph, twinning_turtle("Q956", "Q649"), tokens[PARTNER]).status_code == 200
    before = dump(server.store)
    refused = requests.post(server.url + "store/rollback", params={"graph": graph, "to": 1},
                            headers=auth(tokens[OTHER]), timeout=60)
    problem(refused, 403)
    problem(requests.post(server.url + "store/rollback", params={"graph": graph, "to": 7},
                          headers=auth(tokens[PARTNER]), timeout=60), 404)
    assert dump(server.store) == before
    restored = requests.post(server.url + "store/rollback", params={"graph": graph, "to": 1},
                             headers=auth(tokens[PARTNER]), timeout=60)
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 3 and restored.json()["restored_version"] == 1
    now = requests.get(server.url + "store", params={"graph": graph}, headers={"Accept": "application/n-triples"},
                       timeout=30).text
    assert sorted(now.splitlines()) == sorted(first.splitlines())

    listing = requests.get(server.url + "store/history", params={"graph": graph}, timeout=30).json()
    assert [(v["version"], v["operation"], v["partner"]) for v in listing["versions"]] == [
        (1, "replace", PARTNER), (2, "replace", PARTNER), (3, "rollback", PARTNER)]
    assert listing["versions"][0]["upload_sha256"] and listing["versions"][2]["restored"] == 1
    content = requests.get(listing["versions"][0]["content"], timeout=30)
    quads = list(parse(gzip.decompress(content.content), RdfFormat.N_QUADS))
    assert len(quads) == len(first.splitlines())
    problem(requests.get(server.url + "store/history", params={"graph": iris.graph("gazetteer")}, timeout=30), 404)


def test_two_partners_uploading_at_once_both_land(gsp):
    server, tokens = gsp
    version = server.store.version()
    results: dict[str, requests.Response] = {}
    uploads = {PARTNER: (PARTNER_GRAPH + "/concurrent", twinning_turtle("Q170322", "Q649")),
               OTHER: (iris.partner_graph(OTHER), twinning_turtle("Q956", "Q90"))}
    barrier = threading.Barrier(len(uploads))

    def send(name: str) -> None:
        graph, text = uploads[name]
        barrier.wait()
        results[name] = put(server, graph, text, tokens[name])

    threads = [threading.Thread(target=send, args=(name,)) for name in uploads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {name: r.status_code for name, r in results.items()} == {PARTNER: 201, OTHER: 201}
    assert server.store.version() == version + 2
    assert sorted(r.json()["store_version"] for r in results.values()) == [version + 1, version + 2]
    for graph, _text in uploads.values():
        assert requests.head(server.url + "store", params={"graph": graph}, timeout=30).status_code == 200


def test_validate_is_a_dry_run(gsp):
    server, tokens = gsp
    before = dump(server.store)
    body = expand(twinning_turtle("Q170322", "Q90")).encode()
    answer = requests.post(server.url + "validate", data=body, headers=TURTLE, timeout=60)
    assert answer.status_code == 200 and answer.json()["dry_run"] and answer.json()["conforms"]
    problem(requests.post(server.url + "validate", data=body, headers={**TURTLE, **auth("nope")}, timeout=60), 401)
    problem(requests.post(server.url + "validate", params={"graph": iris.partner_graph(OTHER)}, data=body,
                          headers={**TURTLE, **auth(tokens[PARTNER])}, timeout=60), 403)
    bad = expand(twinning_turtle("Q170322", "Q90").replace("cdo:status ts:formal ;", "")).encode()
    problem(requests.post(server.url + "validate", data=bad, headers=TURTLE, timeout=60), 422)
    mine = requests.post(server.url + "validate", params={"graph": PARTNER_GRAPH, "operation": "add"}, data=body,
                         headers={**TURTLE, **auth(tokens[PARTNER])}, timeout=60)
    assert mine.status_code == 200, mine.text
    assert dump(server.store) == before


def test_json_ld_and_rdf_xml_uploads(gsp):
    server, tokens = gsp
    graph = PARTNER_GRAPH + "/formats"
    document = {
        "@context": {"cdo": iris.ONTOLOGY, "skos": "http://www.w3.org/2004/02/skos/core#"},
        "@id": CITY["Q90"], "skos:altLabel": {"@value": "Ville Lumière", "@language": "fr"},
    }
    response = requests.put(server.url + "store", params={"graph": graph}, data=json.dumps(document),
                            headers={"Content-Type": "application/ld+json", **auth(tokens[PARTNER])}, timeout=60)
    assert response.status_code == 201, response.text
    xml = f"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:skos="http://www.w3.org/2004/02/skos/core#">
  <rdf:Description rdf:about="{CITY['Q656']}"><skos:altLabel xml:lang="fr">Saint-Pétersbourg</skos:altLabel>
  </rdf:Description>
</rdf:RDF>"""
    response = requests.post(server.url + "store", params={"graph": graph}, data=xml.encode(),
                             headers={"Content-Type": "application/rdf+xml", **auth(tokens[PARTNER])}, timeout=60)
    assert response.status_code == 200 and response.json()["triples"]["after"] == 2
    started = time.monotonic()
    remote = {"@context": "http://127.0.0.1:9/context.jsonld", "@id": CITY["Q90"], "name": "x"}
    response = requests.put(server.url + "store", params={"graph": graph}, data=json.dumps(remote),
                            headers={"Content-Type": "application/ld+json", **auth(tokens[PARTNER])}, timeout=60)
    problem(response, 400)
    assert time.monotonic() - started < 30


def test_a_saved_query_sees_the_partner_twinning(gsp):
    server, tokens = gsp
    graph = PARTNER_GRAPH + "/saved-query"
    assert put(server, graph, twinning_turtle("Q170322", "Q649"), tokens[PARTNER]).status_code == 201
    response = requests.get(server.url + "queries/twins-of-city.json", params={"city": CITY["gn-1797929"]},
                            timeout=60)
    assert response.status_code == 200, response.text[:500]
    rows = [{k: v["value"] for k, v in b.items()} for b in response.json()["results"]["bindings"]]
    assert {(row["partner"], row["graph"]) for row in rows} >= {
        (CITY["Q649"], graph), (CITY["Q656"], iris.graph("wikidata-twinnings"))}


# -- on the real default graph -----------------------------------------------------------------------------


def test_on_the_real_graph_a_twinning_given_by_qids_is_among_the_city_twins(writable_store):
    """Qingdao (Q170322) and a city it is not twinned with, both given as Wikidata IRIs, over HTTP."""
    from server import create_app

    qingdao = writable_store.reader().query(
        "SELECT ?c WHERE { ?c <https://w3id.org/citydiplomacy/ontology#wikidataId> \"Q170322\" }",
        use_default_graph_as_union=True)
    qingdao_iri = next(iter(qingdao))["c"].value
    candidates = writable_store.reader().query(f"""PREFIX cdo: <{iris.ONTOLOGY}>
        SELECT ?c ?q WHERE {{ ?c a cdo:City ; cdo:wikidataId ?q ; cdo:country/cdo:iso2 "FR" .
          FILTER NOT EXISTS {{ ?t cdo:party ?c, <{qingdao_iri}> }} }} ORDER BY ?q LIMIT 1""",
        use_default_graph_as_union=True)
    row = next(iter(candidates))
    partner_city, qid = row["c"].value, row["q"].value
    token = Registry(writable_store).add(PARTNER)[1]
    app = create_app({"TESTING": True, "STORE_PATH": writable_store.root, "QUERY_WORKERS": 0})
    client = app.test_client()
    response = client.put("/store", query_string={"graph": PARTNER_GRAPH},
                          data=expand(twinning_turtle("Q170322", qid)).encode(),
                          headers={**TURTLE, **auth(token)})
    assert response.status_code == 201, response.get_data(as_text=True)[:1000]
    assert response.get_json()["reconciled"]["rewrites"][iris.wikidata("Q170322")] == qingdao_iri
    twins = client.get("/queries/twins-of-city.json", query_string={"city": "Q170322"})
    rows = [{k: v["value"] for k, v in b.items()} for b in twins.get_json()["results"]["bindings"]]
    assert (partner_city, PARTNER_GRAPH) in {(r["partner"], r["graph"]) for r in rows}
    app.extensions["amity"].close()


def test_a_write_hands_the_memory_its_validation_freed_back_to_the_system(tmp_path, monkeypatch):
    """rdflib and pySHACL free what they built, but glibc keeps it: a web worker grew from 45 to 120 MiB over five
    uploads. Every write and dry run ends with a trim."""
    from amity.web import graphs
    from server import create_app

    trims = []
    monkeypatch.setattr(graphs, "release_free_memory", lambda: trims.append(request_method()))
    store = make_reference_store(tmp_path / "store")
    token = Registry(store).add(PARTNER)[1]
    app = create_app({"TESTING": True, "STORE_PATH": store.root, "QUERY_WORKERS": 0})

    def request_method() -> str:
        from flask import request

        return request.method

    client = app.test_client()
    headers = {**TURTLE, **auth(token)}
    body = expand(twinning_turtle("Q170322", "Q90")).encode()
    assert client.put("/store", query_string={"graph": PARTNER_GRAPH}, data=body, headers=headers).status_code == 201
    assert client.post("/validate", query_string={"graph": PARTNER_GRAPH}, data=body, headers=headers).status_code \
        == 200
    assert client.get("/store", query_string={"graph": PARTNER_GRAPH}).status_code == 200
    assert trims == ["PUT", "POST"]
    app.extensions["amity"].close()
