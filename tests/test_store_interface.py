"""The store interface without a server: choosing a store, and the rewrites a remote store's queries go through.

A remote store takes no pyoxigraph options and no Oxigraph extensions, so ``amity/remote_reader.py`` rewrites
queries (``VALUES`` for substitutions, ``LATERAL`` spliced, ``FROM`` dropped under a protocol dataset). Each
rewrite is checked here against pyoxigraph itself on an in-memory store: the rewritten text must give what the
original gives with pyoxigraph's own options. The Virtuoso behaviour is tested in the suites marked
``both_stores``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode, Quad, Store, Variable

from amity.external import ExternalStore
from amity.lateral import splice_lateral
from amity.prebind import with_values
from amity.remote_reader import remote_text, without_from
from amity.store import EmbeddedStore
from amity.stores import AmityStore, is_remote_spec, open_store

EX = "http://example.org/"


def node(name: str) -> NamedNode:
    return NamedNode(EX + name)


@pytest.fixture(scope="module")
def data() -> Store:
    """Three cities, one twinning, labels; in two graphs."""
    store = Store()
    g1, g2 = node("g1"), node("g2")
    for city, label, country in (("a", "Alpha", "X"), ("b", "Beta", "Y"), ("c", "Gamma", "X")):
        store.add(Quad(node(city), node("label"), Literal(label, language="en"), g1))
        store.add(Quad(node(city), node("country"), node(country), g1))
    for x, y in (("a", "b"),):  # Gamma has no twin
        store.add(Quad(node(x), node("twin"), node(y), g2))
        store.add(Quad(node(y), node("twin"), node(x), g2))
    return store


def rows(result) -> list[tuple]:
    return sorted(tuple(str(row[v]) for v in result.variables) for row in result)


#: pyoxigraph substitutes projected variables only, so every parameter is selected (as in saved queries).
QUERIES = [
    # the parameter in a subquery, which a trailing VALUES would not reach
    ("SELECT ?t ?city WHERE { { SELECT ?t ?city WHERE { ?city <http://example.org/twin> ?t } } }",
     {"city": node("b")}),
    # in a FILTER of an OPTIONAL and in an EXISTS
    ("SELECT ?city ?t ?skip WHERE { ?city <http://example.org/country> ?k "
     "OPTIONAL { ?city <http://example.org/twin> ?t FILTER(?t != ?skip) } "
     "FILTER EXISTS { ?city <http://example.org/country> ?k2 FILTER(?k2 = ?k) } }",
     {"skip": node("c")}),
    # in a NOT EXISTS with a variable of the enclosing group
    ("SELECT ?city ?country WHERE { ?city <http://example.org/country> ?k "
     "FILTER NOT EXISTS { ?city <http://example.org/twin> ?other }  FILTER(?k = ?country) }",
     {"country": node("X")}),
    # an unused parameter is still bound in the answer
    ("SELECT ?city ?note WHERE { ?city <http://example.org/country> <http://example.org/Y> }",
     {"note": Literal("hello")}),
    # aggregate with GROUP BY on the parameter
    ("SELECT ?k (COUNT(?c) AS ?n) WHERE { ?c <http://example.org/country> ?k } GROUP BY ?k", {"k": node("X")}),
]


@pytest.mark.parametrize("text,bindings", QUERIES, ids=range(len(QUERIES)))
def test_values_blocks_give_what_pyoxigraph_substitutions_give(data, text, bindings):
    substitutions = {Variable(name): value for name, value in bindings.items()}
    expected = rows(data.query(text, substitutions=substitutions, use_default_graph_as_union=True))
    rewritten = rows(data.query(with_values(text, substitutions), use_default_graph_as_union=True))
    assert rewritten == expected and expected


def test_construct_where_is_expanded_before_values_are_added(data):
    text = "CONSTRUCT WHERE { ?city <http://example.org/twin> ?t }"
    substitutions = {Variable("city"): node("a")}
    rewritten = with_values(text, substitutions)
    assert sorted(map(str, data.query(rewritten, use_default_graph_as_union=True))) == \
        sorted(map(str, data.query(text, substitutions=substitutions, use_default_graph_as_union=True)))


def test_a_spliced_lateral_gives_the_lateral_answer_for_filters_on_outer_variables(data):
    text = ("SELECT ?city ?t ?label WHERE { ?city <http://example.org/country> <http://example.org/X> "
            "LATERAL { ?city <http://example.org/twin> ?t FILTER(?t != ?city) "
            "OPTIONAL { ?t <http://example.org/label> ?label } } }")
    spliced = splice_lateral(text)
    assert "LATERAL" not in spliced
    assert rows(data.query(spliced, use_default_graph_as_union=True)) == \
        rows(data.query(text, use_default_graph_as_union=True))


def test_a_protocol_dataset_replaces_from_clauses(data):
    text = "SELECT ?s FROM <http://example.org/g1> FROM NAMED <http://example.org/g1> WHERE { ?s ?p ?o }"
    stripped = without_from(text)
    assert "FROM" not in stripped
    assert rows(data.query(stripped, default_graph=[node("g2")])) == \
        rows(data.query(text, default_graph=[node("g2")]))


def test_remote_text_declares_only_the_prefixes_used_and_not_redeclared():
    text = remote_text("PREFIX a: <http://other/> SELECT * { ?s a:p ?o ; b:q ?x }",
                       prefixes={"a": "http://a/", "b": "http://b/", "c": "http://c/"}, base_iri="http://base/")
    assert text.splitlines()[:2] == ["BASE <http://base/>", "PREFIX b: <http://b/>"]


def test_the_store_spec_chooses_the_implementation(tmp_path: Path):
    assert is_remote_spec("sparql+https://db.example/sparql") and not is_remote_spec(tmp_path)
    embedded = open_store(tmp_path / "store")
    assert isinstance(embedded, EmbeddedStore) and isinstance(embedded, AmityStore)
    remote = open_store("sparql+http://127.0.0.1:1/sparql", state_dir=tmp_path / "state",
                        env={"AMITY_STORE_KIND": "virtuoso", "AMITY_STORE_USER": "amity",
                             "AMITY_STORE_PASSWORD": "secret", "AMITY_STORE_GRAPH_PREFIX": EX})
    assert isinstance(remote, ExternalStore) and isinstance(remote, AmityStore)
    assert remote.client.query_url == "http://127.0.0.1:1/sparql" and remote.client.graph_prefix == EX
    assert remote.client.time_limit_parameter is not None  # Virtuoso's `timeout`
    assert remote.root == tmp_path / "state" and remote.spec == "sparql+http://127.0.0.1:1/sparql"
    env = remote.environment()
    assert env["AMITY_STORE"] == remote.spec and env["AMITY_STORE_PASSWORD"] == "secret"
    assert open_store(env=env).client.graph_prefix == EX  # what a served process reopens
