"""Repeated queries are answered from memory, and never with an answer from before the last write.

The app runs in-process on the small reference store of ``tests/test_merge.py`` with one query process, so the
cache sits in front of the same executor as under ``amity serve``.
"""

from __future__ import annotations

import pytest

from amity import iris, merge
from amity.partners import Registry
from amity.result_cache import CachingExecutor
from server import create_app
from tests.test_merge import CITY, PARTNER, PARTNER_GRAPH, make_reference_store, twinning_turtle, upload_of

TWINS_OF_QINGDAO = f"""PREFIX cdo: <{iris.ONTOLOGY}>
SELECT ?twin WHERE {{ <{CITY['gn-1797929']}> cdo:twinnedWith ?twin }} ORDER BY ?twin"""
JSON = {"Accept": "application/sparql-results+json"}


@pytest.fixture
def service(tmp_path):
    store = make_reference_store(tmp_path / "store")
    app = create_app({"TESTING": True, "STORE_PATH": store.root, "QUERY_WORKERS": 1})
    yield app
    app.extensions["amity"].close()


def cache_of(app) -> CachingExecutor:
    executor = app.extensions["amity"].executor
    assert isinstance(executor, CachingExecutor)
    return executor


def twins(client, headers=JSON) -> list[str]:
    response = client.get("/sparql", query_string={"query": TWINS_OF_QINGDAO}, headers=headers)
    assert response.status_code == 200
    return [row["twin"]["value"] for row in response.get_json()["results"]["bindings"]]


def test_the_same_query_again_is_answered_from_memory_with_the_same_bytes(service):
    client = service.test_client()
    first = client.get("/sparql", query_string={"query": TWINS_OF_QINGDAO}, headers=JSON)
    hits = cache_of(service).cache.hits
    second = client.get("/sparql", query_string={"query": TWINS_OF_QINGDAO}, headers=JSON)
    assert cache_of(service).cache.hits == hits + 1
    assert second.data == first.data and second.headers["Content-Type"] == first.headers["Content-Type"]


def test_another_format_is_another_answer(service):
    client = service.test_client()
    twins(client)
    csv = client.get("/sparql", query_string={"query": TWINS_OF_QINGDAO}, headers={"Accept": "text/csv"})
    assert csv.headers["Content-Type"].startswith("text/csv")
    assert csv.data.decode().splitlines()[0] == "twin"


def test_a_write_is_seen_by_the_next_query_at_once(service, tmp_path):
    client = service.test_client()
    store = service.extensions["amity"].store
    assert twins(client) == [CITY["Q656"]]
    assert twins(client) == [CITY["Q656"]]  # now cached
    partner = Registry(store).add(PARTNER)[0]
    merge.merge(store, partner, PARTNER_GRAPH, upload_of(tmp_path, twinning_turtle("Q170322", "Q90")),
                operation="replace")
    assert twins(client) == [CITY["Q656"], CITY["Q90"]]


def test_an_answer_larger_than_one_message_is_streamed_and_not_kept(service):
    client = service.test_client()
    everything = "SELECT * WHERE { ?s ?p ?o . ?a ?b ?c } LIMIT 3000"  # a cross join: over 64 KiB of CSV
    for _ in range(2):
        response = client.get("/sparql", query_string={"query": everything}, headers={"Accept": "text/csv"})
        assert len(response.data) > 64 * 1024
    assert cache_of(service).cache.hits == 0


def test_the_cache_can_be_turned_off(tmp_path):
    store = make_reference_store(tmp_path / "store")
    app = create_app({"TESTING": True, "STORE_PATH": store.root, "QUERY_WORKERS": 0, "RESULT_CACHE_BYTES": 0})
    try:
        assert not isinstance(app.extensions["amity"].executor, CachingExecutor)
        assert twins(app.test_client()) == [CITY["Q656"]]
    finally:
        app.extensions["amity"].close()
