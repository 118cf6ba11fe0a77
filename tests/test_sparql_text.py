"""The lexical checks that run before any query: form, SERVICE calls, the row cap."""

import pytest

from amity.sparql_text import scan, with_row_cap, with_total_order


@pytest.mark.parametrize("text, form", [
    ("SELECT * { ?s ?p ?o }", "SELECT"),
    ("prefix x: <http://x/> construct { ?s ?p ?o } where { ?s ?p ?o }", "CONSTRUCT"),
    ("DESCRIBE <http://x/a>", "DESCRIBE"),
    ("ASK { ?s ?p ?o }", "ASK"),
    ("INSERT DATA { <a:b> <a:c> <a:d> }", "UPDATE"),
    ("# SELECT in a comment\nLOAD <http://example.org/x>", "UPDATE"),
])
def test_form_is_read_from_keywords_outside_comments(text, form):
    assert scan(text).form == form


@pytest.mark.parametrize("text, services", [
    ("SELECT * { SERVICE <http://other.example/sparql> { ?s ?p ?o } }", ["http://other.example/sparql"]),
    ("SELECT * { SERVICE SILENT <http://127.0.0.1:9/> { ?s ?p ?o } }", ["http://127.0.0.1:9/"]),
    ("select * { service ?endpoint { ?s ?p ?o } }", ["?endpoint"]),
    ("PREFIX e: <http://e/> SELECT * { SERVICE e:sparql { ?s ?p ?o } }", ["e:sparql"]),
])
def test_service_calls_are_found(text, services):
    assert scan(text).services == services


@pytest.mark.parametrize("text", [
    "SELECT * { ?s ?p 'SERVICE <http://x/>' }",
    'SELECT * { ?s ?p """SERVICE\n<http://x/>""" }',
    "# SERVICE <http://x/>\nSELECT * { ?s ?p ?o }",
    "PREFIX s: <http://x/> SELECT ?service { ?service s:SERVICE ?o }",
])
def test_the_word_service_in_strings_comments_and_names_is_not_a_call(text):
    assert scan(text).services == []


def test_missing_limit_is_added():
    capped = with_row_cap("SELECT * { ?s ?p ?o } ORDER BY ?s", 1000)
    assert capped.text.endswith("ORDER BY ?s LIMIT 1000") and capped.cap_applied


def test_smaller_limit_is_kept_and_larger_is_lowered():
    assert not with_row_cap("SELECT * { ?s ?p ?o } LIMIT 10", 1000).cap_applied
    assert with_row_cap("SELECT * { ?s ?p ?o } LIMIT 5000 OFFSET 3", 1000).text.endswith("LIMIT 1000 OFFSET 3")


def test_subquery_limit_is_not_mistaken_for_the_outer_one():
    capped = with_row_cap("SELECT * { { SELECT ?s { ?s ?p ?o } LIMIT 5 } ?s ?q ?r }", 1000)
    assert capped.text.endswith("} LIMIT 1000")


def test_limit_goes_before_a_trailing_values_block():
    capped = with_row_cap("SELECT * { ?s ?p ?o } VALUES ?s { <http://a> }", 7)
    assert capped.text == "SELECT * { ?s ?p ?o } LIMIT 7 VALUES ?s { <http://a> }"


def test_ask_is_never_capped():
    assert with_row_cap("ASK { ?s ?p ?o }", 1).text == "ASK { ?s ?p ?o }"


def _keys(condition: str, direction: str = "ASC") -> str:
    kind = f"COALESCE(IF(isBLANK({condition}), 1, IF(isIRI({condition}), 2, IF(isNUMERIC({condition}), 3, 4))), 0)"
    datatype = f'COALESCE(IF(isNUMERIC({condition}), "", STR(DATATYPE({condition}))), "")'
    return f"{direction}({kind}) {direction}({datatype}) {direction}({condition})"


@pytest.mark.parametrize("order_by, rewritten", [
    ("?o", _keys("?o")),
    ("DESC(?o) ?s", _keys("?o", "DESC") + " " + _keys("?s")),
    ("(?a + 1)", _keys("(?a + 1)")),
    ("STR(?a)", _keys("STR(?a)")),
    ("xsd:integer(?a)", _keys("xsd:integer(?a)")),
    ("<http://x/f>(?a, 'b)')", _keys("<http://x/f>(?a, 'b)')")),
    ("desc(COUNT(?a))", _keys("COUNT(?a)", "DESC")),
])
def test_a_total_order_sorts_by_kind_and_datatype_before_each_condition(order_by, rewritten):
    assert with_total_order(f"SELECT * {{ ?s ?p ?o }} ORDER BY {order_by} LIMIT 5") == \
        f"SELECT * {{ ?s ?p ?o }} ORDER BY {rewritten} LIMIT 5"


def test_a_total_order_reaches_subqueries_and_leaves_strings_alone():
    text = "SELECT * { { SELECT ?s { ?s ?p 'ORDER BY ?x' } ORDER BY ?s } } ORDER BY ?s OFFSET 1"
    keys = _keys("?s")
    assert with_total_order(text) == \
        f"SELECT * {{ {{ SELECT ?s {{ ?s ?p 'ORDER BY ?x' }} ORDER BY {keys} }} }} ORDER BY {keys} OFFSET 1"
    assert with_total_order("SELECT * { ?s ?p 'ORDER BY ?o' }") is None
