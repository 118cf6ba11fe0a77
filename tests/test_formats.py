"""Content negotiation: q-values, wildcards, aliases, 406 when nothing fits."""

import pytest

from amity import formats
from amity.problems import NotAcceptable


@pytest.mark.parametrize("accept, expected", [
    (None, "json"),
    ("", "json"),
    ("*/*", "json"),
    ("application/sparql-results+xml", "xml"),
    ("text/csv;q=0.5, application/sparql-results+json", "json"),
    ("text/csv, application/sparql-results+json;q=0.5", "csv"),
    ("text/tab-separated-values", "tsv"),
    ("application/json", "json"),
    ("application/xml", "xml"),
    ("image/png, */*;q=0.1", "json"),
])
def test_results_negotiation(accept, expected):
    assert formats.negotiate(accept, formats.RESULTS).name == expected


@pytest.mark.parametrize("accept, expected", [
    ("text/turtle", "turtle"),
    ("application/ld+json", "jsonld"),
    ("application/n-triples", "ntriples"),
    ("text/plain", "ntriples"),
    ("application/rdf+xml;q=1, text/turtle;q=0.8", "rdfxml"),
    ("*/*", "turtle"),
])
def test_graph_negotiation(accept, expected):
    assert formats.negotiate(accept, formats.GRAPHS).name == expected


@pytest.mark.parametrize("accept", ["image/png", "text/turtle;q=0, application/pdf", "text/html"])
def test_nothing_acceptable_is_406(accept):
    with pytest.raises(NotAcceptable) as info:
        formats.negotiate(accept, formats.RESULTS)
    assert info.value.status == 406
    assert "application/sparql-results+json" in info.value.extra["offered"]


def test_format_names_extensions_and_media_types_all_select():
    assert formats.by_name("ttl", formats.GRAPHS) is formats.TURTLE
    assert formats.by_name("text/csv", formats.RESULTS) is formats.CSV
    with pytest.raises(NotAcceptable):
        formats.by_name("turtle", formats.RESULTS)


def test_upload_formats_ignore_charset():
    assert formats.for_upload("text/turtle; charset=utf-8") is formats.TURTLE
    assert formats.for_upload("application/json") is formats.JSONLD
    assert formats.for_upload("application/pdf") is None
