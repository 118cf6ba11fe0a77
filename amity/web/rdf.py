"""Answer with RDF in the format the client negotiated (``Accept``, ``?format=`` or an extension)."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response, request
from pyoxigraph import Triple, serialize

from amity import formats
from amity.ns import PREFIXES


def choose(format_name: str | None, offered: tuple[formats.Format, ...] = formats.GRAPHS) -> formats.Format:
    if format_name:
        return formats.by_name(format_name, offered)
    return formats.negotiate(request.headers.get("Accept"), offered)


def rdf_response(triples: Iterable[Triple], format_name: str | None = None, *,
                 fmt: formats.Format | None = None) -> Response:
    fmt = fmt or choose(format_name)
    body = serialize(list(triples), format=fmt.rdf, prefixes=PREFIXES if fmt is formats.TURTLE else None)
    response = Response(body, content_type=fmt.content_type)
    response.headers["Vary"] = "Accept"
    return response
