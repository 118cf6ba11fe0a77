"""Result and RDF formats: names, file extensions, media types, and content negotiation.

One table maps every way a client can ask for a format (``Accept`` with
q-values and wildcards, a ``format=`` parameter, a ``.csv`` extension) onto a
pyoxigraph format, so the endpoint, saved queries, entity pages and the
command line all agree.

>>> negotiate("text/csv;q=0.5, application/sparql-results+json", RESULTS).name
'json'
>>> negotiate("*/*", GRAPHS).name
'turtle'
>>> by_name("ttl", GRAPHS).media_type
'text/turtle'
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import mimeparse
from pyoxigraph import QueryResultsFormat, RdfFormat

from amity.problems import NotAcceptable


@dataclass(frozen=True)
class Format:
    """One serialisation: a short name, the extensions and media types that select it."""

    name: str
    media_type: str  # what we answer with
    aliases: tuple[str, ...]  # other media types we accept in Accept headers
    extensions: tuple[str, ...]
    results: QueryResultsFormat | None = None
    rdf: RdfFormat | None = None

    @property
    def content_type(self) -> str:
        text = self.media_type.startswith("text/") or self.media_type.endswith(("json", "xml"))
        return f"{self.media_type}; charset=utf-8" if text else self.media_type

    @property
    def media_types(self) -> tuple[str, ...]:
        return (self.media_type, *self.aliases)

    def __reduce__(self):  # pyoxigraph's format enums do not pickle; the name is enough
        return (_named, (self.name,))


JSON = Format("json", "application/sparql-results+json", ("application/json",), ("json", "srj"),
              results=QueryResultsFormat.JSON)
XML = Format("xml", "application/sparql-results+xml", ("application/xml",), ("xml", "srx"),
             results=QueryResultsFormat.XML)
CSV = Format("csv", "text/csv", (), ("csv",), results=QueryResultsFormat.CSV)
TSV = Format("tsv", "text/tab-separated-values", (), ("tsv",), results=QueryResultsFormat.TSV)

TURTLE = Format("turtle", "text/turtle", ("application/x-turtle",), ("ttl", "turtle"), rdf=RdfFormat.TURTLE)
NTRIPLES = Format("ntriples", "application/n-triples", ("text/plain",), ("nt", "ntriples"),
                  rdf=RdfFormat.N_TRIPLES)
JSONLD = Format("jsonld", "application/ld+json", ("application/json",), ("jsonld",), rdf=RdfFormat.JSON_LD)
RDFXML = Format("rdfxml", "application/rdf+xml", ("application/xml", "text/xml"), ("rdf", "rdfxml", "owl"),
                rdf=RdfFormat.RDF_XML)
NQUADS = Format("nquads", "application/n-quads", (), ("nq", "nquads"), rdf=RdfFormat.N_QUADS)
TRIG = Format("trig", "application/trig", (), ("trig",), rdf=RdfFormat.TRIG)

HTML = Format("html", "text/html", ("application/xhtml+xml",), ("html",))

_BY_NAME = {f.name: f for f in (JSON, XML, CSV, TSV, TURTLE, NTRIPLES, JSONLD, RDFXML, NQUADS, TRIG, HTML)}


def _named(name: str) -> Format:
    return _BY_NAME[name]


#: SELECT and ASK answers, default first.
RESULTS: tuple[Format, ...] = (JSON, XML, CSV, TSV)
#: CONSTRUCT and DESCRIBE answers and entity descriptions, default first.
GRAPHS: tuple[Format, ...] = (TURTLE, NTRIPLES, JSONLD, RDFXML)
#: Whole datasets (dumps, the Graph Store on the default graph).
DATASETS: tuple[Format, ...] = (NQUADS, TRIG)
#: What partners may upload.
UPLOADS: tuple[Format, ...] = (TURTLE, NTRIPLES, JSONLD, RDFXML, NQUADS, TRIG)


@functools.lru_cache(maxsize=256)
def negotiate(accept: str | None, offered: tuple[Format, ...]) -> Format:
    """The best of ``offered`` for an Accept header; the first one when the header is absent.

    Cached: clients send the same few Accept headers again and again (errors are not cached).

    :raises NotAcceptable: when the header excludes every offered format.
    """
    if not accept or not accept.strip():
        return offered[0]
    candidates: list[str] = []
    for fmt in reversed(offered):  # mimeparse prefers later entries on ties
        candidates.extend(reversed(fmt.media_types))
    try:
        best = mimeparse.best_match(candidates, accept)
    except (ValueError, mimeparse.MimeTypeParseException):
        best = ""
    if not best:
        raise NotAcceptable(
            f"none of the formats offered here matches Accept: {accept}",
            extra={"offered": [f.media_type for f in offered]},
        )
    for fmt in offered:
        if best in fmt.media_types:
            return fmt
    raise NotAcceptable(f"none of the formats offered here matches Accept: {accept}")


def by_name(name: str, offered: tuple[Format, ...]) -> Format:
    """A format by short name, extension or media type (the ``format=`` parameter).

    :raises NotAcceptable: for a name none of ``offered`` answers to.
    """
    wanted = name.strip().lower()
    for fmt in offered:
        if wanted == fmt.name or wanted in fmt.extensions or wanted in fmt.media_types:
            return fmt
    raise NotAcceptable(
        f"unknown or unsuitable format {name!r}",
        extra={"offered": [f.name for f in offered]},
    )


def for_upload(content_type: str | None) -> Format | None:
    """The upload format a Content-Type names, ignoring parameters such as charset."""
    if not content_type:
        return None
    media_type = content_type.split(";", 1)[0].strip().lower()
    for fmt in UPLOADS:
        if media_type in (fmt.media_type, *[a for a in fmt.aliases if a != "application/json"]):
            return fmt
    if media_type == "application/json":
        return JSONLD
    return None
